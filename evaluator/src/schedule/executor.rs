//! Runs a finished [`Trie`] on a model: depth first, nodes batched into packed forwards, KV caches kept only while a child still needs them.
//!
//! Each node's edge is forwarded once after a clone of its parent's cache (a clone is
//! cheap: cached tensors are shared, never written in place), asking the model only for
//! the logits of the edge's last rows that hold targets. Nodes are grouped into batches
//! by [`plan`]: a depth-first walk that, at each step, takes the next nodes off its stack
//! while their tokens fit the batch budget, so the four endings of a HellaSwag question,
//! the next questions' contexts, or many short MMLU questions go through the model in one
//! packed call ([`CausalLm::forward_batch`]: no padding, each sequence under its own
//! causal mask). Memory is bounded by the KV caches kept for children still to run,
//! which the plan holds within [`kv_budget_tokens`] (plus one cache per trie level), and
//! one batch's activations; [`cache_peak`] computes the caches' peak from the plan alone.
//! Children run deepest first ([`Trie::finish`]), so the largest forward comes first.
//!
//! The plan depends only on the trie and the budget. When some requests are already
//! answered (a resumed run), only the nodes whose subtree holds a needed request run
//! (those requests' own edges and the shared prefixes above them), each in its planned
//! batch, when the model computes a sequence's rows independently of the other
//! sequences of a batch ([`CausalLm::batch_invariant`]): the scores are then
//! bit-identical to an uninterrupted run's. Otherwise a batch is run whole if any of its
//! nodes is needed, and so are the batches of those nodes' parents, so that every
//! forward has exactly its uninterrupted shapes (on interleaved plans that reaches back
//! to the task's first batch). See [`steps`].
//!
//! Scoring is [`crate::engine`]'s: log-sum-exp in f64 over the f32 logits row, per-token
//! values summed in f64 in continuation order, greedy = first argmax equals the token.

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::trie::Trie;
use crate::engine::{log_sum_exp_argmax, Scored};
use crate::model::kv_cache::GROWTH;
use crate::model::{CausalLm, KvCache, Seq};

/// Default token budget of one batched forward: large enough that the matrix products
/// run at full speed on a CPU, small enough that activations stay in the low hundreds
/// of MB for a small model (see [`batch_tokens_for`]).
pub const DEFAULT_BATCH_TOKENS: usize = 2048;

/// Most sequences in one batched forward.
pub const MAX_BATCH_SEQS: usize = 256;

/// Most logits rows one batched forward returns (each is a vocabulary-wide f32 row:
/// 512 rows of a 49,152-token vocabulary are 100 MB).
pub const MAX_BATCH_LOGIT_ROWS: usize = 512;

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
    /// including those a forward is building (see [`cache_peak`], which computes the
    /// same from the plan alone).
    pub peak_cached_tokens: usize,
}

struct Partial {
    token_logprobs: Vec<f64>,
    is_greedy: bool,
    remaining: usize,
}

/// The batch budget: `requested` when given, else [`DEFAULT_BATCH_TOKENS`] lowered so
/// that one batch's activations (`per_token` bytes each, see
/// [`CausalLm::activation_bytes_per_token`]) take at most an eighth of `available_bytes`,
/// rounded down to a power of two (at least 64): the budget keys a resumable run, so small
/// changes in free memory between a run and its restart must not change it.
pub fn batch_tokens_for(
    requested: Option<usize>,
    per_token: u64,
    available_bytes: Option<u64>,
) -> usize {
    if let Some(n) = requested {
        return n.max(1);
    }
    match available_bytes {
        Some(a) if per_token > 0 => {
            let fit = ((a / 8 / per_token) as usize).max(64);
            let pow2 = 1usize << (usize::BITS - 1 - fit.leading_zeros());
            DEFAULT_BATCH_TOKENS.min(pow2)
        }
        _ => DEFAULT_BATCH_TOKENS,
    }
}

/// Cache tokens the plan lets stay alive at once, for a batch budget of `batch_tokens`:
/// four batches' worth (8,192 positions at the default budget: 360 MB for SmolLM2-135M
/// in f32). Without it a batch of short sibling edges under a long shared prefix (817
/// TruthfulQA questions under one preamble) keeps a copy of the prefix per sibling.
pub fn kv_budget_tokens(batch_tokens: usize) -> usize {
    batch_tokens.saturating_mul(4)
}

/// Groups the nodes of `trie` (finished) into forward batches, in execution order.
///
/// A depth-first walk over an explicit stack (children pushed so that the first child in
/// [`Trie::finish`] order is on top): each batch pops the top node, then keeps popping
/// while the next node's edge still fits `batch_tokens` in total, its logits rows fit
/// [`MAX_BATCH_LOGIT_ROWS`], the batch holds fewer than [`MAX_BATCH_SEQS`] sequences
/// and, if the node has children (its cache is kept), the caches alive at once stay
/// within [`kv_budget_tokens`] (each counted at its full depth); then the batch's
/// children are pushed, the first batch node's children on top. A node always runs
/// after its parent's batch. The first node of a batch is always taken (so the plan
/// always moves on): the caches alive stay within the budget plus, at most, one cache
/// per level of the trie.
pub fn plan(trie: &Trie, batch_tokens: usize) -> Vec<Vec<u32>> {
    plan_with_peak(trie, batch_tokens).0
}

/// [`plan`] and the [`CachePeak`] of executing it whole.
fn plan_with_peak(trie: &Trie, batch_tokens: usize) -> (Vec<Vec<u32>>, CachePeak) {
    let kv_budget = kv_budget_tokens(batch_tokens);
    let depth = |n: u32| trie.node(n).depth as usize;
    let kept = |n: u32| !trie.node(n).children.is_empty();
    // Children not yet placed, per node: its cache is dropped once this reaches 0.
    let mut open: Vec<u32> = (0..trie.num_nodes() as u32)
        .map(|n| trie.node(n).children.len() as u32)
        .collect();
    // Live caches kept for children still to run: positions, count and room.
    let (mut held, mut held_caches, mut held_room) = (0usize, 0usize, 0usize);
    let mut peak = CachePeak::default();
    let mut place = |n: u32, held: &mut usize, held_caches: &mut usize, held_room: &mut usize| {
        let p = trie.node(n).parent;
        if p != Trie::ROOT {
            open[p as usize] -= 1;
            if open[p as usize] == 0 {
                *held -= depth(p);
                *held_caches -= 1;
                *held_room -= cache_room(trie, p);
            }
        }
    };
    let mut stack: Vec<u32> = trie
        .node(Trie::ROOT)
        .children
        .iter()
        .rev()
        .copied()
        .collect();
    let mut batches = Vec::new();
    while let Some(first) = stack.pop() {
        place(first, &mut held, &mut held_caches, &mut held_room);
        let mut batch = vec![first];
        let mut tokens = trie.edge(first).len();
        let mut rows = logit_rows(trie, first);
        let mut new_held = if kept(first) { depth(first) } else { 0 };
        while let Some(&next) = stack.last() {
            let n = trie.edge(next).len();
            let r = logit_rows(trie, next);
            let k = if kept(next) { depth(next) } else { 0 };
            if tokens + n > batch_tokens
                || rows + r > MAX_BATCH_LOGIT_ROWS
                || batch.len() >= MAX_BATCH_SEQS
                || (k > 0 && held + new_held + k > kv_budget)
            {
                break;
            }
            stack.pop();
            place(next, &mut held, &mut held_caches, &mut held_room);
            batch.push(next);
            tokens += n;
            rows += r;
            new_held += k;
        }
        held += new_held;
        held_caches += batch.iter().filter(|&&n| kept(n)).count();
        held_room += batch.iter().map(|&n| cache_room(trie, n)).sum::<usize>();
        if held > peak.tokens {
            peak.tokens = held;
            peak.at_batch = batches.len();
        }
        peak.caches = peak.caches.max(held_caches);
        peak.room = peak.room.max(held_room);
        for &n in batch.iter().rev() {
            stack.extend(trie.node(n).children.iter().rev().copied());
        }
        batches.push(batch);
    }
    peak.batches = batches.len();
    (batches, peak)
}

/// Positions of room a kept node's cache is allocated with after its own (0 for a
/// leaf): its longest child edge of at most [`GROWTH`] tokens, so such children write in
/// place at the cache's mark instead of copying the whole prefix (longer child edges
/// copy anyway, so they get no room: a short shared prefix above long contexts costs
/// nothing extra).
pub fn cache_room(trie: &Trie, n: u32) -> usize {
    trie.node(n)
        .children
        .iter()
        .map(|&c| trie.edge(c).len())
        .filter(|&l| l <= GROWTH)
        .max()
        .unwrap_or(0)
}

/// Logits rows a node's forward returns: from its first target to the end of its edge.
fn logit_rows(trie: &Trie, n: u32) -> usize {
    match trie.node(n).targets.first() {
        Some(t) => trie.edge(n).len() - t.offset as usize,
        None => 0,
    }
}

/// One forward of an execution: the nodes of a planned batch that run (in plan order)
/// and maybe a [`Pad`].
struct Step {
    nodes: Vec<u32>,
    pad: Option<Pad>,
}

/// A one-token sequence forwarded after a step's nodes from an empty cache, its outputs
/// dropped: it keeps a step that is a subset of its batch at two or more rows in a
/// matrix product where the whole batch had two or more but the subset has one (see
/// [`CausalLm::batch_invariant`]). Its token is the first of the step's first edge.
#[derive(Clone, Copy)]
struct Pad {
    /// 1 when it adds a logits row (the subset has one, the batch more), else 0.
    n_last: usize,
}

/// Tokens and logits rows of a set of nodes forwarded together.
fn rows_of(trie: &Trie, nodes: &[u32]) -> (usize, usize) {
    nodes.iter().fold((0, 0), |(t, r), &n| {
        (t + trie.edge(n).len(), r + logit_rows(trie, n))
    })
}

/// The forwards [`execute`] runs for the `needed` requests, from the `batches` of
/// [`plan`]. When every request is needed: the plan as it is.
///
/// Otherwise, with `batch_invariant` ([`CausalLm::batch_invariant`]), each batch's nodes
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
fn steps(
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
fn step_tokens(trie: &Trie, nodes: &[u32], pad: Option<Pad>) -> usize {
    rows_of(trie, nodes).0 + usize::from(pad.is_some())
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
    // Children still to run, per node: a node's cache is dropped when this reaches 0.
    let mut pending = vec![0u32; trie.num_nodes()];
    for step in &steps {
        for &n in &step.nodes {
            pending[trie.node(n).parent as usize] += 1;
        }
    }
    let mut partial: Vec<Option<Partial>> = (0..trie.num_requests()).map(|_| None).collect();
    let mut stats = ExecStats::default();
    let empty = model.new_cache();
    let mut caches: HashMap<u32, KvCache> = HashMap::new();
    for Step { nodes, pad } in &steps {
        let mut work: Vec<KvCache> = Vec::with_capacity(nodes.len());
        let mut n_lasts: Vec<usize> = Vec::with_capacity(nodes.len());
        for &n in nodes {
            let p = trie.node(n).parent;
            let mut c = if p == Trie::ROOT {
                empty.clone()
            } else {
                let c = caches
                    .get(&p)
                    .context("internal error: a parent's cache is missing")?
                    .clone();
                pending[p as usize] -= 1;
                if pending[p as usize] == 0 {
                    caches.remove(&p);
                }
                c
            };
            if pending[n as usize] > 0 {
                c.reserve(trie.node(n).depth as usize + cache_room(trie, n));
            }
            work.push(c);
            n_lasts.push(logit_rows(trie, n));
        }
        let tokens = step_tokens(trie, nodes, *pad);
        let held: usize = caches.values().map(|c| c.len()).sum();
        let batch_cached: usize = nodes
            .iter()
            .filter(|&&n| pending[n as usize] > 0)
            .map(|&n| trie.node(n).depth as usize)
            .sum();
        stats.peak_cached_tokens = stats.peak_cached_tokens.max(held + batch_cached);
        let logits = {
            let mut seqs: Vec<Seq> = nodes
                .iter()
                .zip(work.iter_mut())
                .zip(&n_lasts)
                .map(|((&n, cache), &n_last)| Seq {
                    tokens: trie.edge(n),
                    n_last,
                    cache,
                    keep_cache: pending[n as usize] > 0,
                })
                .collect();
            let mut pad_cache = pad.map(|_| empty.clone());
            if let (Some(p), Some(cache)) = (pad, pad_cache.as_mut()) {
                seqs.push(Seq {
                    tokens: &trie.edge(nodes[0])[..1],
                    n_last: p.n_last,
                    cache,
                    keep_cache: false,
                });
            }
            model.forward_batch(&mut seqs).map_err(|e| {
                anyhow::anyhow!(
                    "model forward of a batch of {} sequences, {tokens} tokens (deepest node at depth {}): {}",
                    nodes.len(),
                    nodes.iter().map(|&n| trie.node(n).depth).max().unwrap_or(0),
                    crate::model::candle_msg(&e)
                )
            })?
        };
        stats.forwards += 1;
        stats.sequences += nodes.len() + usize::from(pad.is_some());
        stats.tokens_forwarded += tokens as u64;
        let vocab = match &logits {
            Some(l) => l.dim(1)?,
            None => 0,
        };
        let tokens_forwarded = stats.tokens_forwarded;
        // The logits block is read in place (it can be 100 MB: no copy of it).
        let mut score_rows = |flat: &[f32]| -> Result<()> {
            let mut base = 0usize;
            for (&n, &n_last) in nodes.iter().zip(&n_lasts) {
                let node = trie.node(n);
                let first_row = trie.edge(n).len() - n_last;
                let mut row_stats: Vec<Option<(f64, usize)>> = vec![None; n_last];
                for t in node.targets.iter().filter(|t| is_needed(t.request)) {
                    let r = t.offset as usize - first_row;
                    let row = &flat[(base + r) * vocab..(base + r + 1) * vocab];
                    let (lse, argmax) =
                        *row_stats[r].get_or_insert_with(|| log_sum_exp_argmax(row));
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
                            tokens_forwarded,
                        })?;
                    }
                }
                base += n_last;
            }
            Ok(())
        };
        match &logits {
            Some(l) => {
                crate::model::with_f32_values(l, &mut score_rows).context("reading logits")??
            }
            None => score_rows(&[])?,
        }
        drop(logits);
        for (&n, cache) in nodes.iter().zip(work) {
            if pending[n as usize] > 0 {
                caches.insert(n, cache);
            }
        }
        crate::alloc::release_free_pages_if_due();
    }
    if let Some(r) = partial.iter().position(Option::is_some) {
        anyhow::bail!("internal error: request {r} was not fully scored");
    }
    Ok(stats)
}

/// Tokens [`execute`] will forward for the `needed` requests (all when `None`) with the
/// same `batch_tokens`, on a model whose [`CausalLm::batch_invariant`] is
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

/// The most KV cache held at once by [`execute`] of the whole `trie` with `batch_tokens`,
/// computed from the plan alone (no model): what bounds a task's memory besides the
/// weights and one batch's activations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CachePeak {
    /// Most cache tokens (positions) alive at once: the caches kept for children still
    /// to run, counted each at its full length although clones may share a buffer
    /// ([`ExecStats::peak_cached_tokens`] of a full execution). A batch's leaves keep
    /// nothing: they write at their parent's mark or into one layer's temporaries.
    pub tokens: usize,
    /// Most caches alive at once.
    pub caches: usize,
    /// Most positions of room alive at once: [`cache_room`] of every live cache (a
    /// buffer shared by clones is counted per clone, like `tokens`).
    pub room: usize,
    /// The batch (index in [`plan`] order) where `tokens` is first reached, and how many
    /// batches there are: how far into a task its largest cache comes.
    pub at_batch: usize,
    pub batches: usize,
}

/// [`CachePeak`] of executing every request of `trie` (finished) with `batch_tokens`.
pub fn cache_peak(trie: &Trie, batch_tokens: usize) -> CachePeak {
    plan_with_peak(trie, batch_tokens).1
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
        /// What [`CausalLm::batch_invariant`] says (its rows are a function of the prefix
        /// alone, so it is true; false makes resumed runs rerun whole batches).
        invariant: bool,
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
                    precision: leaderboard_format::schema::Precision::Float32,
                    precision_detail: None,
                    params: 0,
                    weights_sha256: "0".repeat(64),
                    source_path: "prefix-hash".into(),
                },
                device: Device::Cpu,
                forwarded: AtomicU64::new(0),
                invariant: true,
            }
        }

        /// A model that does not claim [`CausalLm::batch_invariant`].
        fn whole_batches() -> Self {
            PrefixHashLm {
                invariant: false,
                ..Self::new()
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
        fn batch_invariant(&self) -> bool {
            self.invariant
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
        run_batched(m, trie, shared, needed, 1)
    }

    fn run_batched(
        m: &PrefixHashLm,
        trie: &Trie,
        shared: bool,
        needed: Option<&[bool]>,
        batch_tokens: usize,
    ) -> (Vec<Option<Scored>>, ExecStats) {
        let mut out = vec![None; trie.num_requests()];
        let mut cb = |d: Done| -> Result<()> {
            assert!(out[d.request as usize].is_none(), "request reported twice");
            out[d.request as usize] = Some(d.scored);
            Ok(())
        };
        let stats = if shared {
            execute(m, trie, needed, batch_tokens, &mut cb).unwrap()
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

    #[test]
    fn the_automatic_budget_is_a_power_of_two_that_fits() {
        let per_token = 224_256; // SmolLM2-135M
        assert_eq!(batch_tokens_for(Some(300), per_token, Some(1 << 30)), 300);
        assert_eq!(
            batch_tokens_for(None, per_token, None),
            DEFAULT_BATCH_TOKENS
        );
        assert_eq!(batch_tokens_for(None, per_token, Some(22 << 30)), 2048);
        // 3 GB available: 1,673 tokens fit an eighth of it; 1,024 is used.
        assert_eq!(batch_tokens_for(None, per_token, Some(3_000_000_000)), 1024);
        assert_eq!(batch_tokens_for(None, per_token, Some(3_100_000_000)), 1024);
        assert_eq!(batch_tokens_for(None, per_token, Some(1 << 20)), 64);
    }

    fn task_trie(n: usize, seed: u64) -> Trie {
        let reqs = crate::schedule::trie::tests::task_like_requests(n, seed, VOCAB as u64);
        let mut trie = Trie::new();
        for (c, k) in &reqs {
            trie.insert(c, k);
        }
        trie.finish();
        trie
    }

    /// TruthfulQA's shape: one long shared prefix, many short question edges under it,
    /// each with several continuations.
    fn one_prefix_many_questions(questions: usize) -> Trie {
        // (The stand-in model's max_length is 64: prefix 40 + question 5 + answer 4.)
        let prefix: Vec<u32> = (0..40).map(|i| (i * 3 % 7) as u32).collect();
        let mut trie = Trie::new();
        for q in 0..questions {
            let mut ctx = prefix.clone();
            ctx.extend((0..5).map(|d| (q / 7usize.pow(d) % 7) as u32));
            for c in 0..3u32 {
                trie.insert(&ctx, &[c, (c + 1) % 7, (c + 2) % 7, 6]);
            }
        }
        trie.finish();
        trie
    }

    #[test]
    fn live_caches_stay_within_the_kv_budget() {
        let trie = one_prefix_many_questions(120);
        let m0 = PrefixHashLm::new();
        let (reference, _) = run(&m0, &trie, false, None);
        for budget in [64, 512, 2048] {
            let peak = cache_peak(&trie, budget);
            // Within the budget plus one cache per level (prefix 40, the question's first
            // and second digits 41 and 42, question 45); without the budget one batch
            // would keep up to MAX_BATCH_SEQS question caches of 45 positions.
            assert!(
                peak.tokens <= kv_budget_tokens(budget) + 40 + 41 + 42 + 45,
                "budget {budget}: {peak:?}"
            );
            let m = PrefixHashLm::new();
            let (got, st) = run_batched(&m, &trie, true, None, budget);
            assert_eq!(st.peak_cached_tokens, peak.tokens, "budget {budget}");
            assert_eq!(st.tokens_forwarded, trie.counts().shared_tokens);
            let differ = got.iter().zip(&reference).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "budget {budget}: requests differ from unshared");
        }
        // A budget of 16 (64 live positions): never more than one chain of the four
        // levels, so the questions run one at a time.
        let peak = cache_peak(&trie, 16);
        assert_eq!(
            (peak.tokens, peak.caches),
            (40 + 41 + 42 + 45, 4),
            "{peak:?}"
        );
    }

    #[test]
    fn plans_cover_every_node_once_parents_first_within_budget() {
        let trie = task_trie(80, 5);
        for budget in [1, 7, 40, 300, 1_000_000] {
            let batches = plan(&trie, budget);
            let mut batch_of = vec![usize::MAX; trie.num_nodes()];
            for (b, nodes) in batches.iter().enumerate() {
                assert!(!nodes.is_empty() && nodes.len() <= MAX_BATCH_SEQS);
                let tokens: usize = nodes.iter().map(|&n| trie.edge(n).len()).sum();
                assert!(
                    nodes.len() == 1 || tokens <= budget,
                    "budget {budget}: {tokens}"
                );
                let rows: usize = nodes.iter().map(|&n| logit_rows(&trie, n)).sum();
                assert!(nodes.len() == 1 || rows <= MAX_BATCH_LOGIT_ROWS);
                for &n in nodes {
                    assert_eq!(batch_of[n as usize], usize::MAX, "node {n} planned twice");
                    batch_of[n as usize] = b;
                }
            }
            for n in 1..trie.num_nodes() {
                assert_ne!(batch_of[n], usize::MAX, "node {n} never planned");
                let p = trie.node(n as u32).parent as usize;
                if p != Trie::ROOT as usize {
                    assert!(batch_of[p] < batch_of[n], "node {n} runs before its parent");
                }
            }
            if budget == 1 {
                assert_eq!(batches.len(), trie.num_nodes() - 1);
            }
            if budget == 1_000_000 {
                assert!(
                    batches.len() < trie.num_nodes() / 3,
                    "{} batches",
                    batches.len()
                );
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
