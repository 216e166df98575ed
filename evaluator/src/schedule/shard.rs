//! Which documents of a task one shard answers (`evaluator run --shard I/N`).
//!
//! A task's documents are cut into **units** that go to one shard whole
//! ([`units`]): in evaluation order, each run of documents sharing a few-shot prefix
//! (same task, same few-shot examples: an MMLU subject's questions, or one ARC
//! question with its own draws), so a shared prefix is forwarded by one shard only;
//! then each generation group ([`super::generation`]), because a group is computed
//! whole whenever one of its requests is needed. A unit costs the tokens it adds to
//! the forward plan (log-likelihood: the trie tokens its requests added after the
//! earlier documents'; generation: prompts plus token budgets). Unit `u` goes to the
//! shard whose equal share of the total tokens holds `u`'s midpoint ([`select`]), so
//! each shard's units are contiguous, in order, and the shards' token counts differ
//! by at most about one unit.
//!
//! The plan is the whole task's whatever the shard: a shard forwards exactly the
//! nodes the uninterrupted run forwards for its requests ([`super::steps`]), so its
//! scores are bit for bit the single run's (on a batch-invariant model; otherwise
//! whole batches, as on a resume). The log-likelihood units are contiguous in
//! evaluation order, which `evaluator merge` relies on to add float metric values in
//! the single run's order; generation units are not, and their metric values are
//! integers, whose sums do not depend on order (`merge` checks it).

use leaderboard_format::shard::Shard;

use super::generation::GenSlot;
use crate::requests::DocRequests;

/// Documents that go to one shard together, and what they cost in tokens.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Unit {
    pub(super) docs: Vec<usize>,
    pub(super) tokens: u64,
}

/// The units of a task: `docs` in evaluation order, `ll_tokens[d]` the trie tokens
/// document `d`'s log-likelihood requests added, `gen_slots` the generation requests in
/// execution order, in groups of `group`.
pub(super) fn units(
    docs: &[DocRequests],
    ll_tokens: &[u64],
    gen_slots: &[GenSlot],
    group: usize,
) -> Vec<Unit> {
    let mut generates = vec![false; docs.len()];
    for s in gen_slots {
        generates[s.di] = true;
    }
    let mut out: Vec<Unit> = Vec::new();
    let mut last_key: Option<(&str, &[usize])> = None;
    for (d, doc) in docs.iter().enumerate() {
        if generates[d] {
            continue;
        }
        let key = (doc.task.as_str(), doc.fewshot.as_slice());
        match out.last_mut() {
            Some(u) if last_key == Some(key) && !doc.fewshot.is_empty() => {
                u.docs.push(d);
                u.tokens += ll_tokens[d];
            }
            _ => out.push(Unit {
                docs: vec![d],
                tokens: ll_tokens[d],
            }),
        }
        last_key = Some(key);
    }
    for g in gen_slots.chunks(group.max(1)) {
        let mut ds: Vec<usize> = g.iter().map(|s| s.di).collect();
        ds.sort_unstable();
        ds.dedup();
        out.push(Unit {
            docs: ds,
            tokens: g
                .iter()
                .map(|s| (s.req.ctx.len() + s.req.max_gen_toks) as u64)
                .sum(),
        });
    }
    out
}

/// Per document (`n_docs` of them): whether `shard` answers it. Each unit counts at
/// least one token, so documents spread even when nothing is left to forward.
pub(super) fn select(units: &[Unit], n_docs: usize, shard: Shard) -> Vec<bool> {
    let cost = |u: &Unit| u.tokens.max(1) as u128;
    let total: u128 = units.iter().map(cost).sum();
    let n = shard.count as u128;
    let mut out = vec![false; n_docs];
    let mut before = 0u128;
    for u in units {
        // The shard whose share [k T / n, (k + 1) T / n) holds the midpoint.
        let twice_mid = 2 * before + cost(u);
        let k = (twice_mid * n / (2 * total)).min(n - 1) as usize;
        if k == shard.position() {
            for &d in &u.docs {
                out[d] = true;
            }
        }
        before += cost(u);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(docs: &[usize], tokens: u64) -> Unit {
        Unit {
            docs: docs.to_vec(),
            tokens,
        }
    }

    #[test]
    fn shards_partition_contiguously_and_balance() {
        let units: Vec<Unit> = (0..10).map(|i| unit(&[i], 100 + i as u64)).collect();
        for n in 1..=12u32 {
            let mut owner = vec![None; 10];
            for i in 1..=n {
                let s = Shard { index: i, count: n };
                for (d, on) in select(&units, 10, s).into_iter().enumerate() {
                    if on {
                        assert!(owner[d].is_none(), "doc {d} in two shards");
                        owner[d] = Some(i);
                    }
                }
            }
            let owner: Vec<u32> = owner.into_iter().map(|o| o.expect("every doc")).collect();
            assert!(owner.windows(2).all(|w| w[0] <= w[1]), "{owner:?}");
            if n <= 10 {
                // Balanced: every shard gets 10/n documents, give or take one.
                for i in 1..=n {
                    let c = owner.iter().filter(|&&o| o == i).count();
                    assert!(c.abs_diff(10 / n as usize) <= 1, "n={n} shard {i}: {c}");
                }
            }
        }
        // A big unit stays whole.
        let units = vec![unit(&[0, 1, 2, 3], 1000), unit(&[4], 10), unit(&[5], 10)];
        let a = select(&units, 6, Shard { index: 1, count: 2 });
        assert_eq!(a, [true, true, true, true, false, false]);
    }
}
