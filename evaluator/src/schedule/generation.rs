//! A task's generation requests: fixed groups of [`gen_group_size`] decoded together, longest prompts first.
//!
//! A group is computed whole (as in an uninterrupted run) when any of its requests is
//! left, and only its left requests' answers are recorded. Longest prompts first: the
//! group holding the largest KV caches runs first, so running out of memory happens at
//! once.

use anyhow::{Context, Result};

use super::answer::{AnswerStats, Backend, Responses};
use crate::generate::{generate_until_batch, GenRequest};
use crate::requests::{DocRequests, Response};

/// A tokenized generation request.
pub(super) struct GenTokens {
    pub(super) ctx: Vec<u32>,
    pub(super) until: Vec<String>,
    pub(super) max_gen_toks: usize,
}

impl GenTokens {
    fn as_request(&self) -> GenRequest<'_> {
        GenRequest {
            ctx: &self.ctx,
            until: &self.until,
            max_gen_toks: self.max_gen_toks,
        }
    }
}

/// A generation request of the task: where its answer goes, its journal hash, whether it
/// is still to compute, and its tokens.
pub(super) struct GenSlot {
    pub(super) di: usize,
    pub(super) ri: usize,
    pub(super) hash: String,
    pub(super) needed: bool,
    pub(super) req: GenTokens,
}

/// Generation requests computed together: `batch_tokens / 256` (at least 1), so the
/// group is part of the batch budget that keys a resumable run.
pub fn gen_group_size(batch_tokens: usize) -> usize {
    (batch_tokens / 256).max(1)
}

/// Puts `slots` in execution order: longest prompts first.
pub(super) fn longest_first(slots: &mut [GenSlot]) {
    slots.sort_by_key(|s| std::cmp::Reverse(s.req.ctx.len()));
}

/// The groups of `slots` (in [`longest_first`] order) that run: those holding a request
/// still to compute.
pub(super) fn groups(slots: &[GenSlot], batch_tokens: usize) -> Vec<&[GenSlot]> {
    slots
        .chunks(gen_group_size(batch_tokens))
        .filter(|g| g.iter().any(|s| s.needed))
        .collect()
}

/// Tokens the `groups` take in the plan: each request's prompt and whole budget.
pub(super) fn planned_tokens(groups: &[&[GenSlot]]) -> u64 {
    groups
        .iter()
        .flat_map(|g| g.iter())
        .map(|s| (s.req.ctx.len() + s.req.max_gen_toks) as u64)
        .sum()
}

/// Runs the `groups` of the task of `docs`, after `tokens_before` tokens of its plan,
/// records the answers still to compute in `out` and counts their tokens in `stats`;
/// the progress moves on after each group.
pub(super) fn run(
    be: &Backend,
    docs: &[DocRequests],
    groups: &[&[GenSlot]],
    tokens_before: u64,
    batch_tokens: usize,
    out: &mut Responses,
    stats: &mut AnswerStats,
) -> Result<()> {
    let mut position = tokens_before;
    let mut real_tokens = tokens_before;
    for g in groups {
        let reqs: Vec<GenRequest> = g.iter().map(|s| s.req.as_request()).collect();
        let gens = generate_until_batch(be.model, be.tok, be.suite, &reqs, batch_tokens)
            .with_context(|| {
                let ids: Vec<String> = g.iter().map(|s| docs[s.di].doc_id.to_string()).collect();
                format!(
                    "{} docs {}: generating ({} requests together)",
                    docs[g[0].di].task,
                    ids.join(", "),
                    reqs.len()
                )
            })?;
        for (slot, (req, gen)) in g.iter().zip(reqs.iter().zip(gens)) {
            position += (req.ctx.len() + req.max_gen_toks) as u64;
            real_tokens += (req.ctx.len() + gen.tokens.len()) as u64;
            if !slot.needed {
                continue;
            }
            stats.generation_prompt_tokens += req.ctx.len() as u64;
            stats.generated_tokens += gen.tokens.len() as u64;
            out.record(
                slot.di,
                slot.ri,
                &slot.hash,
                Response::Generate { text: gen.text },
            )?;
        }
        out.show(position, real_tokens);
        crate::alloc::release_free_pages_if_due();
    }
    Ok(())
}
