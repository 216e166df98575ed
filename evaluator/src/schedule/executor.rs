//! Runs a finished [`Trie`] on a model: depth first, one forward per edge, KV caches kept only on the current path.
//!
//! Each node's edge is forwarded once after a clone of its parent's cache (a clone is
//! cheap: cached tensors are shared, never written in place), asking the model only for
//! the logits of the edge's last rows that hold targets. A node's cache lives while a
//! child of it is still to run, so memory is bounded by the caches on one root-to-leaf
//! path (at most `max_length` tokens in all) plus one forward's activations. Children run
//! deepest first ([`Trie::finish`]), so the largest forward comes first.
//!
//! Scoring is [`crate::engine`]'s: log-sum-exp in f64 over the f32 logits row, per-token
//! values summed in f64 in continuation order, greedy = first argmax equals the token.

use std::rc::Rc;

use anyhow::{Context, Result};

use super::trie::Trie;
use crate::engine::{log_sum_exp_argmax, Scored};
use crate::model::{CausalLm, KvCache};

/// One finished request, reported as soon as its last target is scored.
#[derive(Debug, Clone)]
pub struct Done {
    pub request: u32,
    pub scored: Scored,
    /// Tokens forwarded so far in this execution (for a rate display).
    pub tokens_forwarded: u64,
}

/// What an execution did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecStats {
    pub tokens_forwarded: u64,
    pub forwards: usize,
    /// Most tokens held by the KV caches alive at one time (sum over live caches).
    pub peak_cached_tokens: usize,
}

struct Partial {
    token_logprobs: Vec<f64>,
    is_greedy: bool,
    remaining: usize,
}

/// Runs the nodes of `trie` (which must be [`Trie::finish`]ed) and calls `on_done` for
/// each request when its score is complete, in execution order.
///
/// `needed[r]` false skips request `r` (already answered, e.g. read back from a journal):
/// subtrees holding no needed request are not run. A node that is run is run exactly as
/// in a full execution (same tokens, same cache, same logits rows), so a resumed run
/// gives bit-identical scores to an uninterrupted one.
pub fn execute(
    model: &dyn CausalLm,
    trie: &Trie,
    needed: Option<&[bool]>,
    on_done: &mut dyn FnMut(Done) -> Result<()>,
) -> Result<ExecStats> {
    let is_needed = |r: u32| needed.is_none_or(|n| n[r as usize]);
    let visit = subtrees_needed(trie, &is_needed);
    let mut partial: Vec<Option<Partial>> = (0..trie.num_requests()).map(|_| None).collect();
    let mut stats = ExecStats::default();
    let root = trie.node(Trie::ROOT);
    let mut stack: Vec<(u32, Rc<KvCache>)> = Vec::new();
    let empty = Rc::new(model.new_cache());
    for &c in root.children.iter().rev() {
        if visit[c as usize] {
            stack.push((c, empty.clone()));
        }
    }
    drop(empty);
    let mut live: Vec<(Rc<KvCache>, usize)> = Vec::new();
    while let Some((id, parent)) = stack.pop() {
        let node = trie.node(id);
        let edge = trie.edge(id);
        let first_row = node
            .targets
            .first()
            .map(|t| t.offset as usize)
            .unwrap_or(edge.len() - 1);
        let n_last = edge.len() - first_row;
        let mut cache = (*parent).clone();
        drop(parent);
        let logits = model
            .forward_last(edge, n_last, &mut cache)
            .with_context(|| {
                format!(
                    "model forward of {} tokens after {} cached (prefix node at depth {})",
                    edge.len(),
                    cache.len(),
                    node.depth
                )
            })?;
        stats.forwards += 1;
        stats.tokens_forwarded += edge.len() as u64;
        if !node.targets.is_empty() {
            let rows: Vec<Vec<f32>> = logits.to_vec2().context("reading logits")?;
            let mut row_stats: Vec<Option<(f64, usize)>> = vec![None; rows.len()];
            for t in node.targets.iter().filter(|t| is_needed(t.request)) {
                let r = t.offset as usize - first_row;
                let row = &rows[r];
                let (lse, argmax) = *row_stats[r].get_or_insert_with(|| log_sum_exp_argmax(row));
                let tok = t.token as usize;
                if tok >= row.len() {
                    anyhow::bail!("token id {tok} outside the vocabulary ({})", row.len());
                }
                let p = partial[t.request as usize].get_or_insert_with(|| {
                    let c = trie.cont_len(t.request);
                    Partial {
                        token_logprobs: vec![0.0; c],
                        is_greedy: true,
                        remaining: c,
                    }
                });
                p.token_logprobs[t.k as usize] = row[tok] as f64 - lse;
                p.is_greedy &= argmax == tok;
                p.remaining -= 1;
                if p.remaining == 0 {
                    let p = partial[t.request as usize].take().unwrap();
                    on_done(Done {
                        request: t.request,
                        scored: Scored {
                            logprob: p.token_logprobs.iter().sum(),
                            is_greedy: p.is_greedy,
                            token_logprobs: p.token_logprobs,
                        },
                        tokens_forwarded: stats.tokens_forwarded,
                    })?;
                }
            }
        }
        drop(logits);
        if node.children.iter().any(|&c| visit[c as usize]) {
            let len = cache.len();
            let rc = Rc::new(cache);
            for &c in node.children.iter().rev() {
                if visit[c as usize] {
                    stack.push((c, rc.clone()));
                }
            }
            live.push((rc, len));
        }
        // Caches no longer referenced by a pending child are gone; count the rest.
        live.retain(|(rc, _)| Rc::strong_count(rc) > 1);
        let held: usize = live.iter().map(|(_, l)| l).sum();
        stats.peak_cached_tokens = stats.peak_cached_tokens.max(held);
    }
    if let Some(r) = partial.iter().position(Option::is_some) {
        anyhow::bail!("internal error: request {r} was not fully scored");
    }
    Ok(stats)
}

/// Tokens [`execute`] will forward for the `needed` requests (all when `None`).
pub fn tokens_to_forward(trie: &Trie, needed: Option<&[bool]>) -> u64 {
    let is_needed = |r: u32| needed.is_none_or(|n| n[r as usize]);
    let visit = subtrees_needed(trie, &is_needed);
    (0..trie.num_nodes() as u32)
        .filter(|&n| visit[n as usize])
        .map(|n| trie.edge(n).len() as u64)
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

/// The unshared reference path: every request of `trie` forwarded on its own from an
/// empty cache with [`crate::engine::score`] (what the harness computes with batch size 1).
/// Same callback contract as [`execute`], in request order.
pub fn execute_unshared(
    model: &dyn CausalLm,
    trie: &Trie,
    needed: Option<&[bool]>,
    on_done: &mut dyn FnMut(Done) -> Result<()>,
) -> Result<ExecStats> {
    let mut stats = ExecStats::default();
    for r in 0..trie.num_requests() as u32 {
        if needed.is_some_and(|n| !n[r as usize]) {
            continue;
        }
        let input = trie.input(r);
        let c = trie.cont_len(r);
        let (ctx, cont_head) = input.split_at(input.len() + 1 - c);
        let mut cont = cont_head.to_vec();
        cont.push(trie.last_target(r));
        let scored = crate::engine::score(model, ctx, &cont)
            .with_context(|| format!("scoring request {r} ({} input tokens)", input.len()))?;
        stats.forwards += 1;
        stats.tokens_forwarded += input.len() as u64;
        stats.peak_cached_tokens = stats.peak_cached_tokens.max(input.len());
        on_done(Done {
            request: r,
            scored,
            tokens_forwarded: stats.tokens_forwarded,
        })?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    //! Structural tests on a deterministic stand-in model whose logits at a position are
    //! a fixed function of the whole prefix up to it (held in the KV cache). Shared and
    //! unshared execution must then agree bit for bit; numerics on the real model are
    //! `tests/schedule_equivalence.rs`'s job.
    use super::*;
    use crate::model::ModelInfo;
    use candle_core::{Device, Tensor};
    use std::sync::atomic::{AtomicU64, Ordering};

    const VOCAB: usize = 7;

    struct PrefixHashLm {
        info: ModelInfo,
        device: Device,
        forwarded: AtomicU64,
    }

    impl PrefixHashLm {
        fn new() -> Self {
            PrefixHashLm {
                info: ModelInfo {
                    architecture: "prefix-hash".into(),
                    vocab_size: VOCAB,
                    max_length: 64,
                    bos_token_id: None,
                    eos_token_ids: vec![],
                    precision: leaderboard::schema::Precision::Float32,
                    precision_detail: None,
                    params: 0,
                    weights_sha256: "0".repeat(64),
                    source_path: "prefix-hash".into(),
                },
                device: Device::Cpu,
                forwarded: AtomicU64::new(0),
            }
        }
    }

    fn row(prefix: &[u32]) -> Vec<f32> {
        let mut h: u64 = 0xcbf29ce484222325;
        for &t in prefix {
            h = (h ^ t as u64).wrapping_mul(0x100000001b3);
        }
        (0..VOCAB as u64)
            .map(|v| {
                let x = (h ^ v.wrapping_mul(0x9e3779b97f4a7c15)).wrapping_mul(0xff51afd7ed558ccd);
                ((x >> 40) % 1000) as f32 / 97.0
            })
            .collect()
    }

    impl CausalLm for PrefixHashLm {
        fn info(&self) -> &ModelInfo {
            &self.info
        }
        fn device(&self) -> &Device {
            &self.device
        }
        fn new_cache(&self) -> KvCache {
            KvCache::new(1)
        }
        fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> candle_core::Result<Tensor> {
            let mut prefix: Vec<u32> = match cache.get(0) {
                Some((k, _)) => k
                    .flatten_all()?
                    .to_vec1::<f32>()?
                    .iter()
                    .map(|&x| x as u32)
                    .collect(),
                None => Vec::new(),
            };
            let mut rows = Vec::new();
            for &t in tokens {
                prefix.push(t);
                rows.extend(row(&prefix));
            }
            let n = tokens.len();
            let new: Vec<f32> = tokens.iter().map(|&t| t as f32).collect();
            let k = Tensor::from_vec(new, (1, n, 1), &self.device)?;
            cache.append(0, k.clone(), k)?;
            cache.advance(n);
            self.forwarded.fetch_add(n as u64, Ordering::Relaxed);
            Tensor::from_vec(rows, (n, VOCAB), &self.device)
        }
    }

    fn run(
        m: &PrefixHashLm,
        trie: &Trie,
        shared: bool,
        needed: Option<&[bool]>,
    ) -> (Vec<Option<Scored>>, ExecStats) {
        let mut out = vec![None; trie.num_requests()];
        let mut cb = |d: Done| -> Result<()> {
            assert!(out[d.request as usize].is_none(), "request reported twice");
            out[d.request as usize] = Some(d.scored);
            Ok(())
        };
        let stats = if shared {
            execute(m, trie, needed, &mut cb).unwrap()
        } else {
            execute_unshared(m, trie, needed, &mut cb).unwrap()
        };
        (out, stats)
    }

    #[test]
    fn shared_equals_unshared_and_forwards_each_prefix_once() {
        let reqs = crate::schedule::trie::tests::task_like_requests(80, 7, VOCAB as u64);
        let mut trie = Trie::new();
        for (c, k) in &reqs {
            trie.insert(c, k);
        }
        trie.finish();
        let m = PrefixHashLm::new();
        let (shared, st) = run(&m, &trie, true, None);
        assert_eq!(
            m.forwarded.load(Ordering::Relaxed),
            trie.counts().shared_tokens
        );
        assert_eq!(st.tokens_forwarded, trie.counts().shared_tokens);
        let m2 = PrefixHashLm::new();
        let (unshared, su) = run(&m2, &trie, false, None);
        assert_eq!(su.tokens_forwarded, trie.counts().unshared_tokens);
        assert!(
            st.tokens_forwarded * 3 < su.tokens_forwarded,
            "{st:?} vs {su:?}"
        );
        for (i, (a, b)) in shared.iter().zip(&unshared).enumerate() {
            assert_eq!(a.as_ref().unwrap(), b.as_ref().unwrap(), "request {i}");
        }
        // Caches alive at once: never more than one root-to-leaf path.
        assert!(st.peak_cached_tokens <= 30 * 31 / 2, "{st:?}");
    }

    #[test]
    fn skipping_answered_requests_keeps_the_others_identical() {
        let reqs = crate::schedule::trie::tests::task_like_requests(40, 11, VOCAB as u64);
        let mut trie = Trie::new();
        for (c, k) in &reqs {
            trie.insert(c, k);
        }
        trie.finish();
        let m = PrefixHashLm::new();
        let (all, full) = run(&m, &trie, true, None);
        let needed: Vec<bool> = (0..reqs.len()).map(|i| i % 3 == 0).collect();
        let m2 = PrefixHashLm::new();
        let (some, part) = run(&m2, &trie, true, Some(&needed));
        assert!(part.tokens_forwarded < full.tokens_forwarded);
        for i in 0..reqs.len() {
            if needed[i] {
                assert_eq!(some[i], all[i], "request {i}");
            } else {
                assert!(some[i].is_none(), "request {i} was not needed");
            }
        }
    }
}
