//! The batch plan: a finished [`Trie`]'s nodes grouped into packed forwards, depth first, with the live KV caches held within a budget.
//!
//! Nodes are grouped into batches by [`plan`]: a depth-first walk that, at each step,
//! takes the next nodes off its stack while their tokens fit the batch budget
//! ([`batch_tokens_for`]), so the four endings of a HellaSwag question, the next
//! questions' contexts, or many short MMLU questions go through the model in one packed
//! call ([`crate::model::CausalLm::forward_batch`]: no padding, each sequence under its
//! own causal mask). Memory is bounded by the KV caches kept for children still to run,
//! which the plan holds within [`kv_budget_tokens`] (plus one cache per trie level), and
//! one batch's activations; [`cache_peak`] computes the caches' peak from the plan alone.
//! Children run deepest first ([`Trie::finish`]), so the largest forward comes first.
//! The plan depends only on the trie and the budget.

use super::trie::Trie;
use crate::model::kv_cache::GROWTH;

/// Default token budget of one batched forward: large enough that the matrix products
/// run at full speed on a CPU, small enough that activations stay in the low hundreds
/// of MB for a small model (see [`batch_tokens_for`]).
pub const DEFAULT_BATCH_TOKENS: usize = 2048;

/// Most sequences in one batched forward.
pub const MAX_BATCH_SEQS: usize = 256;

/// The batch budget: `requested` when given, else [`DEFAULT_BATCH_TOKENS`] lowered so
/// that one batch's activations (`per_token` bytes each, see
/// [`crate::model::CausalLm::activation_bytes_per_token`]) take at most an eighth of `available_bytes`,
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
/// while the next node's edge still fits `batch_tokens` in total (logits rows are not
/// counted: the output layer runs on blocks of them, see
/// [`super::execute::LOGIT_BLOCK_BYTES`]), the batch holds fewer than [`MAX_BATCH_SEQS`] sequences
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
        let mut new_held = if kept(first) { depth(first) } else { 0 };
        while let Some(&next) = stack.last() {
            let n = trie.edge(next).len();
            let k = if kept(next) { depth(next) } else { 0 };
            if tokens + n > batch_tokens
                || batch.len() >= MAX_BATCH_SEQS
                || (k > 0 && held + new_held + k > kv_budget)
            {
                break;
            }
            stack.pop();
            place(next, &mut held, &mut held_caches, &mut held_room);
            batch.push(next);
            tokens += n;
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
pub(super) fn logit_rows(trie: &Trie, n: u32) -> usize {
    match trie.node(n).targets.first() {
        Some(t) => trie.edge(n).len() - t.offset as usize,
        None => 0,
    }
}

/// The most KV cache held at once by [`super::execute`] of the whole `trie` with `batch_tokens`,
/// computed from the plan alone (no model): what bounds a task's memory besides the
/// weights and one batch's activations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CachePeak {
    /// Most cache tokens (positions) alive at once: the caches kept for children still
    /// to run, counted each at its full length although clones may share a buffer
    /// ([`super::ExecStats::peak_cached_tokens`] of a full execution). A batch's leaves keep
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::{run, run_batched, task_trie, PrefixHashLm};

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
}
