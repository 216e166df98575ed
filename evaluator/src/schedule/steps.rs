//! The resume-step choice: which nodes of each planned batch an execution forwards when some requests are already answered.
//!
//! The plan ([`plan`]) depends only on the trie and the budget. When some requests are
//! already answered (a resumed run), only the nodes whose subtree holds a needed request
//! run (those requests' own edges and the shared prefixes above them), each in its
//! planned batch, when the model computes a sequence's rows independently of the other
//! sequences of a batch ([`crate::model::CausalLm::batch_invariant`]): the scores are then
//! bit-identical to an uninterrupted run's. Otherwise a batch is run whole if any of its
//! nodes is needed, and so are the batches of those nodes' parents, so that every
//! forward has exactly its uninterrupted shapes (on interleaved plans that reaches back
//! to the task's first batch). See [`steps`].

use super::plan::{logit_rows, plan};
use super::trie::Trie;

/// One forward of an execution: the nodes of a planned batch that run (in plan order)
/// and maybe a [`Pad`].
pub(super) struct Step {
    pub(super) nodes: Vec<u32>,
    pub(super) pad: Option<Pad>,
}

/// A one-token sequence forwarded after a step's nodes from an empty cache, its outputs
/// dropped: it keeps a step that is a subset of its batch at two or more rows in a
/// matrix product where the whole batch had two or more but the subset has one (see
/// [`crate::model::CausalLm::batch_invariant`]). Its token is the first of the step's first edge.
#[derive(Clone, Copy)]
pub(super) struct Pad {
    /// 1 when it adds a logits row (the subset has one, the batch more), else 0.
    pub(super) n_last: usize,
}

/// Tokens and logits rows of a set of nodes forwarded together.
fn rows_of(trie: &Trie, nodes: &[u32]) -> (usize, usize) {
    nodes.iter().fold((0, 0), |(t, r), &n| {
        (t + trie.edge(n).len(), r + logit_rows(trie, n))
    })
}

/// The forwards [`super::execute`] runs for the `needed` requests, from the `batches` of
/// [`plan`]. When every request is needed: the plan as it is.
///
/// Otherwise, with `batch_invariant` ([`crate::model::CausalLm::batch_invariant`]), each batch's nodes
/// whose subtree holds a target of a needed request (the needed requests' edges and
/// every shared prefix above them, nothing else), when there are any; a subset whose
/// tokens or logits rows come to one, where the batch's come to more, gets a [`Pad`]
/// (one token).
/// Each node then gets the same rows, bit for bit, as in the whole batch.
///
/// Without it, whole batches: those holding such a node, closed under "the batch of a
/// parent of a node in a running batch", so that every forward has the shapes and
/// inputs it has in an uninterrupted run. On an interleaved plan (batch k + 1 holds the
/// answers of the questions whose contexts ran in batch k, and the next contexts) that
/// closure reaches back to the task's first batch.
pub(super) fn steps(
    trie: &Trie,
    batches: Vec<Vec<u32>>,
    is_needed: &dyn Fn(u32) -> bool,
    batch_invariant: bool,
) -> Vec<Step> {
    let visit = subtrees_needed(trie, is_needed);
    if batch_invariant {
        return batches
            .into_iter()
            .filter_map(|batch| {
                let nodes: Vec<u32> = batch
                    .iter()
                    .copied()
                    .filter(|&n| visit[n as usize])
                    .collect();
                if nodes.is_empty() {
                    return None;
                }
                let (all_tokens, all_rows) = rows_of(trie, &batch);
                let (tokens, rows) = rows_of(trie, &nodes);
                let one_logits_row = rows == 1 && all_rows > 1;
                let pad = ((tokens == 1 && all_tokens > 1) || one_logits_row).then_some(Pad {
                    n_last: usize::from(one_logits_row),
                });
                Some(Step { nodes, pad })
            })
            .collect();
    }
    let mut batch_of = vec![usize::MAX; trie.num_nodes()];
    for (b, nodes) in batches.iter().enumerate() {
        for &n in nodes {
            batch_of[n as usize] = b;
        }
    }
    let mut run: Vec<bool> = batches
        .iter()
        .map(|nodes| nodes.iter().any(|&n| visit[n as usize]))
        .collect();
    for b in (0..batches.len()).rev() {
        if run[b] {
            for &n in &batches[b] {
                let p = trie.node(n).parent;
                if p != Trie::ROOT {
                    run[batch_of[p as usize]] = true;
                }
            }
        }
    }
    batches
        .into_iter()
        .zip(run)
        .filter(|(_, r)| *r)
        .map(|(nodes, _)| Step { nodes, pad: None })
        .collect()
}

/// Tokens a step forwards, its [`Pad`] included.
pub(super) fn step_tokens(trie: &Trie, nodes: &[u32], pad: Option<Pad>) -> usize {
    rows_of(trie, nodes).0 + usize::from(pad.is_some())
}

/// Tokens [`super::execute`] will forward for the `needed` requests (all when `None`) with the
/// same `batch_tokens`, on a model whose [`crate::model::CausalLm::batch_invariant`] is
/// `batch_invariant`.
pub fn tokens_to_forward(
    trie: &Trie,
    needed: Option<&[bool]>,
    batch_tokens: usize,
    batch_invariant: bool,
) -> u64 {
    let is_needed = |r: u32| needed.is_none_or(|n| n[r as usize]);
    steps(trie, plan(trie, batch_tokens), &is_needed, batch_invariant)
        .iter()
        .map(|s| step_tokens(trie, &s.nodes, s.pad) as u64)
        .sum()
}

/// `visit[n]`: the subtree of node `n` holds a target of a needed request.
fn subtrees_needed(trie: &Trie, is_needed: &dyn Fn(u32) -> bool) -> Vec<bool> {
    let order = trie.preorder();
    let mut visit = vec![false; trie.num_nodes()];
    for &n in order.iter().rev() {
        let node = trie.node(n);
        visit[n as usize] = node.targets.iter().any(|t| is_needed(t.request))
            || node.children.iter().any(|&c| visit[c as usize]);
    }
    visit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Scored;
    use crate::schedule::execute::{execute, Done, ExecStats};
    use crate::schedule::testing::{run_batched, task_trie, PrefixHashLm, VOCAB};

    /// Tokens of the nodes whose subtree holds a needed request: the least a resumed
    /// run can forward.
    fn least_tokens(trie: &Trie, needed: &[bool]) -> u64 {
        let visit = subtrees_needed(trie, &|r| needed[r as usize]);
        (1..trie.num_nodes() as u32)
            .filter(|&n| visit[n as usize])
            .map(|n| trie.edge(n).len() as u64)
            .sum()
    }

    /// Runs `trie` resumed with `needed`, checks every needed request against `all`
    /// (an uninterrupted run's scores) and returns the stats.
    fn resume_and_compare(
        m: &PrefixHashLm,
        trie: &Trie,
        needed: &[bool],
        budget: usize,
        all: &[Option<Scored>],
    ) -> ExecStats {
        let (some, st) = run_batched(m, trie, true, Some(needed), budget);
        assert_eq!(
            st.tokens_forwarded,
            tokens_to_forward(trie, Some(needed), budget, m.invariant)
        );
        for i in 0..trie.num_requests() {
            if needed[i] {
                assert_eq!(some[i], all[i], "request {i}");
            } else {
                assert!(some[i].is_none(), "request {i} was not needed");
            }
        }
        st
    }

    #[test]
    fn a_resumed_batched_run_matches_and_skips_what_is_answered() {
        let trie = task_trie(120, 13);
        let budget = 64;
        let m = PrefixHashLm::new();
        let (all, full) = run_batched(&m, &trie, true, None, budget);
        // A run stopped late: the requests of the last documents are left.
        let n = trie.num_requests();
        let needed: Vec<bool> = (0..n).map(|i| i >= n - n / 6 && i % 2 == 0).collect();
        let least = least_tokens(&trie, &needed);
        let part = resume_and_compare(&PrefixHashLm::new(), &trie, &needed, budget, &all);
        let whole =
            resume_and_compare(&PrefixHashLm::whole_batches(), &trie, &needed, budget, &all);
        eprintln!(
            "resumed: {} tokens (least {least}), whole batches {}, full {}",
            part.tokens_forwarded, whole.tokens_forwarded, full.tokens_forwarded
        );
        // Nodes the needed requests depend on, plus at most one padding token per step.
        assert!(part.tokens_forwarded >= least);
        assert!(part.tokens_forwarded <= least + part.forwards as u64);
        assert!(part.tokens_forwarded <= whole.tokens_forwarded);
        assert!(whole.tokens_forwarded < full.tokens_forwarded);
    }

    /// ARC's shape, interleaved by the plan: long contexts under a short shared prefix,
    /// four short answers each, so that a batch holds the answers of the questions
    /// whose contexts ran in the batch before and the next questions' contexts.
    fn interleaved_trie(questions: usize) -> Trie {
        let mut next = crate::schedule::trie::tests::below(42);
        let mut trie = Trie::new();
        for _ in 0..questions {
            let mut ctx = vec![1u32, 2];
            ctx.extend((0..20 + next(20)).map(|_| next(VOCAB as u64) as u32));
            for _ in 0..4 {
                let cont: Vec<u32> = (0..1 + next(3))
                    .map(|_| next(VOCAB as u64) as u32)
                    .collect();
                trie.insert(&ctx, &cont);
            }
        }
        trie.finish();
        trie
    }

    #[test]
    fn a_resumed_interleaved_run_forwards_only_what_is_left() {
        let trie = interleaved_trie(300);
        let budget = 128;
        let m = PrefixHashLm::new();
        let mut order = Vec::new();
        let mut all = vec![None; trie.num_requests()];
        let full = execute(&m, &trie, None, budget, &mut |d: Done| {
            order.push(d.request);
            all[d.request as usize] = Some(d.scored);
            Ok(())
        })
        .unwrap();
        // Interleaved: most batches hold answers and new contexts.
        let plan = plan(&trie, budget);
        let mixed = plan
            .iter()
            .filter(|b| {
                b.iter().any(|&n| trie.node(n).children.is_empty())
                    && b.iter().any(|&n| !trie.node(n).children.is_empty())
            })
            .count();
        assert!(
            mixed * 2 > plan.len(),
            "{mixed} of {} batches mixed",
            plan.len()
        );
        for done_pct in [10, 36, 70, 99] {
            // Stopped after done_pct % of the requests, in the order they completed.
            let mut needed = vec![true; trie.num_requests()];
            for &r in &order[..order.len() * done_pct / 100] {
                needed[r as usize] = false;
            }
            let least = least_tokens(&trie, &needed);
            let part = resume_and_compare(&PrefixHashLm::new(), &trie, &needed, budget, &all);
            let whole =
                resume_and_compare(&PrefixHashLm::whole_batches(), &trie, &needed, budget, &all);
            eprintln!(
                "{done_pct}% done: resumed run forwards {} tokens (least {least}); \
                 with whole batches {}; uninterrupted {}",
                part.tokens_forwarded, whole.tokens_forwarded, full.tokens_forwarded
            );
            assert!(part.tokens_forwarded >= least);
            assert!(
                part.tokens_forwarded <= least + part.forwards as u64,
                "{done_pct}%: {} tokens, least {least}",
                part.tokens_forwarded
            );
            // What batch invariance saves: here whole batches chain back to the start.
            assert!(
                part.tokens_forwarded < whole.tokens_forwarded,
                "{done_pct}%"
            );
        }
    }
}
