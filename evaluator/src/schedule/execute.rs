//! Runs a finished [`Trie`] on a model: its planned steps in order, each one packed forward, KV caches kept only while a child still needs them.
//!
//! Each node's edge is forwarded once after a clone of its parent's cache (a clone is
//! cheap: cached tensors are shared, never written in place), asking the model only for
//! the logits of the edge's last rows that hold targets. The batches are [`plan`]'s, and
//! the forwards of a resumed run [`steps`]'s. One step: take the parents' caches
//! ([`Execution::gather`]), forward the nodes together ([`Execution::forward`]), score the
//! targets on their logits rows ([`Execution::score`]), keep the caches a child still
//! needs ([`Execution::keep`]). [`execute_unshared`] is the reference path.
//!
//! Scoring is [`crate::engine`]'s: log-sum-exp over the f32 logits row (f64 sums),
//! per-token values summed in f64 in continuation order, greedy = first argmax equals the
//! token. The output layer runs on blocks of at most [`LOGIT_BLOCK_BYTES`] of logits, so
//! a batch's logits never exist whole.

use std::collections::HashMap;

use anyhow::{Context, Result};
use candle_core::Tensor;

use super::plan::{cache_room, logit_rows, plan};
use super::steps::{step_tokens, steps, Pad, Step};
use super::trie::{Target, Trie};
use crate::engine::{log_sum_exp_argmax, Scored};
use crate::model::{CausalLm, KvCache, Seq};

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
    /// Forward calls (batches).
    pub forwards: usize,
    /// Sequences (trie edges) forwarded, over all batches.
    pub sequences: usize,
    /// Most KV-cache tokens alive at one time: the caches kept for children still to run,
    /// including those a forward is building (see [`super::cache_peak`], which computes the
    /// same from the plan alone).
    pub peak_cached_tokens: usize,
}

struct Partial {
    token_logprobs: Vec<f64>,
    is_greedy: bool,
    remaining: usize,
}

/// Runs the nodes of `trie` (which must be [`Trie::finish`]ed) in the batches of
/// [`plan`]`(trie, batch_tokens)` and calls `on_done` for each request when its score is
/// complete, in execution order.
///
/// `needed[r]` false skips request `r` (already answered, e.g. read back from a journal):
/// only what the needed requests depend on is run ([`steps`]), and every needed request
/// gets bit-identical scores to an uninterrupted run's.
pub fn execute(
    model: &dyn CausalLm,
    trie: &Trie,
    needed: Option<&[bool]>,
    batch_tokens: usize,
    on_done: &mut dyn FnMut(Done) -> Result<()>,
) -> Result<ExecStats> {
    let is_needed = |r: u32| needed.is_none_or(|n| n[r as usize]);
    let steps = steps(
        trie,
        plan(trie, batch_tokens),
        &is_needed,
        model.batch_invariant(),
    );
    let mut run = Execution::new(model, trie, &steps);
    for step in &steps {
        run.step(step, &is_needed, on_done)?;
    }
    run.finish()
}

/// An execution between its steps.
struct Execution<'a> {
    model: &'a dyn CausalLm,
    trie: &'a Trie,
    /// Children still to run, per node: a node's cache is dropped when this reaches 0.
    pending: Vec<u32>,
    /// The caches kept for children still to run, by node.
    caches: HashMap<u32, KvCache>,
    /// Requests with some targets scored, not all.
    partial: Vec<Option<Partial>>,
    stats: ExecStats,
    /// The cache a child of the root (or a [`Pad`]) starts from.
    empty: KvCache,
}

impl<'a> Execution<'a> {
    fn new(model: &'a dyn CausalLm, trie: &'a Trie, steps: &[Step]) -> Self {
        let mut pending = vec![0u32; trie.num_nodes()];
        for step in steps {
            for &n in &step.nodes {
                pending[trie.node(n).parent as usize] += 1;
            }
        }
        Execution {
            model,
            trie,
            pending,
            caches: HashMap::new(),
            partial: (0..trie.num_requests()).map(|_| None).collect(),
            stats: ExecStats::default(),
            empty: model.new_cache(),
        }
    }

    /// Runs one step: its nodes' caches, one forward, their scores, the caches kept.
    fn step(
        &mut self,
        Step { nodes, pad }: &Step,
        is_needed: &dyn Fn(u32) -> bool,
        on_done: &mut dyn FnMut(Done) -> Result<()>,
    ) -> Result<()> {
        let mut work = self.gather(nodes)?;
        self.note_peak(nodes);
        let n_lasts: Vec<usize> = nodes.iter().map(|&n| logit_rows(self.trie, n)).collect();
        let hidden = self.forward(nodes, &n_lasts, &mut work, *pad)?;
        self.score(nodes, &n_lasts, hidden, is_needed, on_done)?;
        self.keep(nodes, work);
        crate::alloc::release_free_pages_if_due();
        Ok(())
    }

    /// Whether node `n`'s cache is kept after its forward: a child of it is still to run.
    fn kept(&self, n: u32) -> bool {
        self.pending[n as usize] > 0
    }

    /// The caches the step's nodes extend: a clone of each parent's (the parent's own is
    /// dropped once its last child took it), an empty one under the root; a node whose
    /// cache is kept gets its own length and [`cache_room`] reserved.
    fn gather(&mut self, nodes: &[u32]) -> Result<Vec<KvCache>> {
        let trie = self.trie;
        let mut work: Vec<KvCache> = Vec::with_capacity(nodes.len());
        for &n in nodes {
            let p = trie.node(n).parent;
            let mut c = if p == Trie::ROOT {
                self.empty.clone()
            } else {
                let c = self
                    .caches
                    .get(&p)
                    .context("internal error: a parent's cache is missing")?
                    .clone();
                self.pending[p as usize] -= 1;
                if self.pending[p as usize] == 0 {
                    self.caches.remove(&p);
                }
                c
            };
            if self.kept(n) {
                c.reserve(trie.node(n).depth as usize + cache_room(trie, n));
            }
            work.push(c);
        }
        Ok(work)
    }

    /// Counts the caches alive during the step's forward into the peak: those kept from
    /// earlier steps and those of its nodes that will be kept.
    fn note_peak(&mut self, nodes: &[u32]) {
        let held: usize = self.caches.values().map(|c| c.len()).sum();
        let batch_cached: usize = nodes
            .iter()
            .filter(|&&n| self.kept(n))
            .map(|&n| self.trie.node(n).depth as usize)
            .sum();
        self.stats.peak_cached_tokens = self.stats.peak_cached_tokens.max(held + batch_cached);
    }

    /// One packed forward of the step's nodes over their caches `work` (and of its
    /// [`Pad`], from an empty cache) up to the output layer: the final hidden states of
    /// each node's last `n_lasts` rows.
    fn forward(
        &mut self,
        nodes: &[u32],
        n_lasts: &[usize],
        work: &mut [KvCache],
        pad: Option<Pad>,
    ) -> Result<Option<Tensor>> {
        let trie = self.trie;
        let tokens = step_tokens(trie, nodes, pad);
        let mut seqs: Vec<Seq> = nodes
            .iter()
            .zip(work.iter_mut())
            .zip(n_lasts)
            .map(|((&n, cache), &n_last)| Seq {
                tokens: trie.edge(n),
                n_last,
                cache,
                keep_cache: self.kept(n),
            })
            .collect();
        let mut pad_cache = pad.map(|_| self.empty.clone());
        if let (Some(p), Some(cache)) = (pad, pad_cache.as_mut()) {
            seqs.push(Seq {
                tokens: &trie.edge(nodes[0])[..1],
                n_last: p.n_last,
                cache,
                keep_cache: false,
            });
        }
        let hidden = crate::profile::time(FORWARD, 0.0, || {
            self.model.forward_batch_hidden(&mut seqs)
        })
        .map_err(|e| {
            anyhow::anyhow!(
                "model forward of a batch of {} sequences, {tokens} tokens (deepest node at depth {}): {}",
                nodes.len(),
                nodes.iter().map(|&n| trie.node(n).depth).max().unwrap_or(0),
                crate::model::candle_msg(&e)
            )
        })?;
        self.stats.forwards += 1;
        self.stats.sequences += nodes.len() + usize::from(pad.is_some());
        self.stats.tokens_forwarded += tokens as u64;
        Ok(hidden)
    }

    /// Scores the needed requests' targets on the step's final `hidden` rows and reports
    /// each request whose last target this was. The rows become logits in blocks of at
    /// most [`logit_block_rows`] (split evenly, so no block has one row unless the step
    /// has one: see [`CausalLm::logits_of_hidden`]); each block's needed rows get their
    /// log-sum-exp in parallel, then the targets are scored in order.
    fn score(
        &mut self,
        nodes: &[u32],
        n_lasts: &[usize],
        hidden: Option<Tensor>,
        is_needed: &dyn Fn(u32) -> bool,
        on_done: &mut dyn FnMut(Done) -> Result<()>,
    ) -> Result<()> {
        let trie = self.trie;
        // The needed targets, in node order, each with its row in `hidden`.
        let mut targets: Vec<(usize, &Target)> = Vec::new();
        let mut base = 0usize;
        for (&n, &n_last) in nodes.iter().zip(n_lasts) {
            let first_row = trie.edge(n).len() - n_last;
            for t in trie.node(n).targets.iter().filter(|t| is_needed(t.request)) {
                targets.push((base + t.offset as usize - first_row, t));
            }
            base += n_last;
        }
        // Per target: its logit and its row's (log-sum-exp, argmax).
        let mut scored: Vec<(f32, (f64, usize))> = vec![(0.0, (0.0, 0)); targets.len()];
        if !targets.is_empty() {
            let h = hidden.context("internal error: targets to score but no logits rows")?;
            let total = h.dim(0)?;
            let blocks = total.div_ceil(logit_block_rows(self.model.info().vocab_size));
            let mut start = 0usize;
            for b in 0..blocks {
                let len = total / blocks + usize::from(b < total % blocks);
                let logits = crate::profile::time(FORWARD, 0.0, || {
                    self.model.logits_of_hidden(&h.narrow(0, start, len)?)
                })
                .map_err(|e| {
                    anyhow::anyhow!(
                        "output layer of rows {start}..{} of a batch of {} sequences: {}",
                        start + len,
                        nodes.len(),
                        crate::model::candle_msg(&e)
                    )
                })?;
                crate::profile::time(SCORING, 0.0, || {
                    crate::model::with_f32_values(&logits, |flat| {
                        score_block(flat, start..start + len, &targets, &mut scored)
                    })
                    .context("reading logits")?
                })?;
                start += len;
            }
        }
        for ((_, t), (value, (lse, argmax))) in targets.iter().zip(scored) {
            let tok = t.token as usize;
            let p = self.partial[t.request as usize].get_or_insert_with(|| {
                let c = trie.cont_len(t.request);
                Partial {
                    token_logprobs: vec![0.0; c],
                    is_greedy: true,
                    remaining: c,
                }
            });
            p.token_logprobs[t.k as usize] = value as f64 - lse;
            p.is_greedy &= argmax == tok;
            p.remaining -= 1;
            if p.remaining == 0 {
                let p = self.partial[t.request as usize].take().unwrap();
                on_done(Done {
                    request: t.request,
                    scored: Scored {
                        logprob: p.token_logprobs.iter().sum(),
                        is_greedy: p.is_greedy,
                        token_logprobs: p.token_logprobs,
                    },
                    tokens_forwarded: self.stats.tokens_forwarded,
                })?;
            }
        }
        Ok(())
    }

    /// Keeps the caches of the step's nodes that a child still needs.
    fn keep(&mut self, nodes: &[u32], work: Vec<KvCache>) {
        for (&n, cache) in nodes.iter().zip(work) {
            if self.kept(n) {
                self.caches.insert(n, cache);
            }
        }
    }

    /// The stats, once every step ran (every request begun is then complete).
    fn finish(self) -> Result<ExecStats> {
        if let Some(r) = self.partial.iter().position(Option::is_some) {
            anyhow::bail!("internal error: request {r} was not fully scored");
        }
        Ok(self.stats)
    }
}

/// Profile labels ([`crate::profile`]): the forward includes the output layer's blocks.
const FORWARD: &str = "model forward (all of it)";
const SCORING: &str = "scoring (log-softmax of scored rows)";

/// Most bytes of logits materialized at once: [`logit_block_rows`] rows, each a
/// vocabulary-wide f32 row (1,024 rows of a 49,152-token vocabulary, 1,536 of a
/// 32,000-token one, 384 of a 128k one). Wider blocks run the output layer's product
/// nearer the GEMM's peak (`examples/cpu_profile.rs`: 512 rows 192 GFLOP/s, 1,024 rows
/// 199, on the test machine).
pub const LOGIT_BLOCK_BYTES: usize = 192 << 20;

/// Most logits rows materialized at once for a vocabulary of `vocab` tokens (at least 1).
pub fn logit_block_rows(vocab: usize) -> usize {
    (LOGIT_BLOCK_BYTES / (4 * vocab.max(1))).max(1)
}

/// Fills `scored[i]` for each target whose row is in `rows` from the logits block `flat`
/// (those rows, one after the other): each row's log-sum-exp and argmax computed once,
/// rows in parallel.
fn score_block(
    flat: &[f32],
    rows: std::ops::Range<usize>,
    targets: &[(usize, &Target)],
    scored: &mut [(f32, (f64, usize))],
) -> Result<()> {
    use rayon::prelude::*;
    let vocab = flat.len() / rows.len();
    let mut needed: Vec<usize> = targets
        .iter()
        .map(|&(r, _)| r)
        .filter(|r| rows.contains(r))
        .collect();
    needed.sort_unstable();
    needed.dedup();
    let stats: Vec<(f64, usize)> = needed
        .par_iter()
        .map(|&r| {
            let at = (r - rows.start) * vocab;
            log_sum_exp_argmax(&flat[at..at + vocab])
        })
        .collect();
    for (&(r, t), slot) in targets.iter().zip(scored.iter_mut()) {
        let Ok(k) = needed.binary_search(&r) else {
            continue;
        };
        let tok = t.token as usize;
        if tok >= vocab {
            anyhow::bail!("token id {tok} outside the vocabulary ({vocab})");
        }
        *slot = (flat[(r - rows.start) * vocab + tok], stats[k]);
    }
    Ok(())
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
        stats.sequences += 1;
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
    use super::*;
    use crate::schedule::plan::cache_peak;
    use crate::schedule::steps::tokens_to_forward;
    use crate::schedule::testing::{run, run_batched, task_trie, PrefixHashLm, VOCAB};
    use std::sync::atomic::Ordering;

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

    #[test]
    fn batched_execution_equals_unshared_for_every_budget() {
        let trie = task_trie(60, 9);
        let m0 = PrefixHashLm::new();
        let (reference, _) = run(&m0, &trie, false, None);
        for budget in [1, 16, 100, 5000] {
            let m = PrefixHashLm::new();
            let (got, st) = run_batched(&m, &trie, true, None, budget);
            assert_eq!(st.tokens_forwarded, trie.counts().shared_tokens);
            assert_eq!(st.sequences, trie.num_nodes() - 1);
            for invariant in [true, false] {
                assert_eq!(
                    st.tokens_forwarded,
                    tokens_to_forward(&trie, None, budget, invariant),
                    "budget {budget}"
                );
            }
            // The plan-only bound is what the execution held (real cache lengths).
            let peak = cache_peak(&trie, budget);
            assert_eq!(st.peak_cached_tokens, peak.tokens, "budget {budget}");
            assert!(peak.caches >= 1 && peak.tokens >= trie.node(1).depth as usize);
            if budget >= 100 {
                assert!(st.forwards * 2 < st.sequences, "budget {budget}: {st:?}");
            }
            for (i, (a, b)) in got.iter().zip(&reference).enumerate() {
                assert_eq!(a, b, "budget {budget}, request {i}");
            }
        }
    }
}
