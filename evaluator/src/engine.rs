//! The evaluation interface over a [`CausalLm`]: log-likelihood of a continuation and greedy generation.
//!
//! Scoring follows spec §3 rules 5-6: `seq = ctx ++ cont`, keep its last `max_length + 1`
//! tokens, run all but the final one, and the last `len(cont)` positions score `cont`.
//!
//! Numerics: the log-softmax is taken over the model's f32 logits with the log-sum-exp
//! accumulated in f64, and per-token values are summed in f64. The harness computes
//! `log_softmax` in the logits dtype (f32 for Llama-family HF models) and sums the
//! gathered values in f32; the two differ by float32 rounding only, about 1e-6 relative
//! (≤ 1e-4 nats on a 100-token continuation), far below the differences between engines.

use anyhow::{bail, Result};
use candle_core::Tensor;

use crate::model::{CausalLm, KvCache, Seq};

fn forward_err(e: candle_core::Error) -> anyhow::Error {
    anyhow::anyhow!("model forward pass: {}", crate::model::candle_msg(&e))
}

/// The score of one continuation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Sum of the continuation tokens' log-probabilities.
    pub logprob: f64,
    /// Every continuation token was the argmax (first maximum on ties, like torch).
    pub is_greedy: bool,
    /// Per continuation token log-probabilities.
    pub token_logprobs: Vec<f64>,
}

/// Scores `cont` after `ctx` (spec §3 rules 5-6, left truncation at the model's
/// `max_length`). `ctx` must be non-empty (the caller applies rule 7), `cont` too.
pub fn score(model: &dyn CausalLm, ctx: &[u32], cont: &[u32]) -> Result<Scored> {
    score_max_length(model, ctx, cont, model.info().max_length)
}

/// [`score`] with an explicit `max_length` (the harness's `max_length=` model argument).
pub fn score_max_length(
    model: &dyn CausalLm,
    ctx: &[u32],
    cont: &[u32],
    max_length: usize,
) -> Result<Scored> {
    if ctx.is_empty() {
        bail!("score: empty context (use [eos] or [bos] as the context, spec §3 rule 7)");
    }
    if cont.is_empty() {
        bail!("score: empty continuation (spec §3 rule 4)");
    }
    let mut seq: Vec<u32> = Vec::with_capacity(ctx.len() + cont.len());
    seq.extend_from_slice(ctx);
    seq.extend_from_slice(cont);
    let keep = (max_length + 1).min(seq.len());
    let seq = &seq[seq.len() - keep..];
    let input = &seq[..seq.len() - 1];
    if cont.len() > input.len() {
        bail!(
            "score: continuation of {} tokens does not fit the model's max_length {max_length}",
            cont.len()
        );
    }
    let mut cache = model.new_cache();
    let logits = model
        .forward_last(input, cont.len(), &mut cache)
        .map_err(forward_err)?;
    score_logits(&logits, cont)
}

/// Scores `cont` after a context already run into `cache_after_ctx` (which is cloned, not
/// changed), given the logits of the context's last position (`[vocab]` or `[1, vocab]`).
/// No truncation: the caller keeps `cache.len() + len(cont) - 1 <= max_length`. This is
/// how a shared prompt prefix is computed once for several continuations.
pub fn score_with_cache(
    model: &dyn CausalLm,
    cache_after_ctx: &KvCache,
    last_ctx_logits: &Tensor,
    cont: &[u32],
) -> Result<Scored> {
    if cont.is_empty() {
        bail!("score: empty continuation (spec §3 rule 4)");
    }
    let total = cache_after_ctx.len() + cont.len() - 1;
    if total > model.info().max_length {
        bail!(
            "score_with_cache: {total} input tokens exceed the model's max_length {}",
            model.info().max_length
        );
    }
    let first = last_ctx_logits
        .flatten_all()?
        .unsqueeze(0)?
        .to_dtype(candle_core::DType::F32)?;
    let logits = if cont.len() > 1 {
        let mut cache = cache_after_ctx.clone();
        let rest = model
            .forward(&cont[..cont.len() - 1], &mut cache)
            .map_err(forward_err)?;
        Tensor::cat(&[&first.to_device(rest.device())?, &rest], 0)?
    } else {
        first
    };
    score_logits(&logits, cont)
}

/// Log-probabilities of `tokens[i]` under row `i` of `logits` (`[n, vocab]`, f32).
pub fn score_logits(logits: &Tensor, tokens: &[u32]) -> Result<Scored> {
    let rows: Vec<Vec<f32>> = logits.to_dtype(candle_core::DType::F32)?.to_vec2()?;
    if rows.len() != tokens.len() {
        bail!(
            "score: {} logit rows for {} tokens",
            rows.len(),
            tokens.len()
        );
    }
    let mut token_logprobs = Vec::with_capacity(tokens.len());
    let mut is_greedy = true;
    for (row, &tok) in rows.iter().zip(tokens) {
        let t = tok as usize;
        if t >= row.len() {
            bail!(
                "score: token id {tok} outside the vocabulary ({})",
                row.len()
            );
        }
        let (lse, argmax) = log_sum_exp_argmax(row);
        token_logprobs.push(row[t] as f64 - lse);
        is_greedy &= argmax == t;
    }
    Ok(Scored {
        logprob: token_logprobs.iter().sum(),
        is_greedy,
        token_logprobs,
    })
}

/// log(sum(exp(row))) and the index of the first maximum: see
/// [`crate::model::softmax::log_sum_exp_argmax`].
pub fn log_sum_exp_argmax(row: &[f32]) -> (f64, usize) {
    crate::model::softmax::log_sum_exp_argmax(row)
}

/// Greedy decoding after `ctx`: at most `max_new_tokens` tokens, stopping after an EOS id
/// of the model (the EOS token is included in the result, as Hugging Face `generate`
/// returns it) or as soon as `stop(generated so far)` returns true. The context is left
/// truncated to its last `max_length - max_new_tokens` tokens, like the harness.
pub fn generate_greedy(
    model: &dyn CausalLm,
    ctx: &[u32],
    max_new_tokens: usize,
    stop: &mut dyn FnMut(&[u32]) -> bool,
) -> Result<Vec<u32>> {
    let mut out =
        generate_greedy_batch(model, &[(ctx, max_new_tokens)], usize::MAX, &mut |_, g| {
            stop(g)
        })?;
    Ok(out.pop().expect("one prompt, one generation"))
}

/// Index and value of the first maximum of `row` (torch's argmax tie rule; index 0 and
/// -inf for a row with no number above -inf).
fn first_max(row: &[f32]) -> (usize, f32) {
    let mut best = 0;
    let mut max = f32::NEG_INFINITY;
    for (i, &v) in row.iter().enumerate() {
        if v > max {
            max = v;
            best = i;
        }
    }
    (best, max)
}

/// Index of the first maximum of `row`.
fn argmax(row: &[f32]) -> usize {
    first_max(row).0
}

/// [`generate_greedy`] for several prompts at once: `prompts[i]` is `(ctx, max_new_tokens)`
/// and `stop(i, generated)` the stop rule of prompt `i`. Contexts are prefilled in packed
/// batches of at most `batch_tokens` tokens (in order, at least one prompt each), then
/// every unfinished sequence advances by one token per packed forward. A prompt alone
/// (`prompts.len() == 1`) is [`generate_greedy`]; in a group,
/// results equal the one-by-one path up to float rounding (the matrix shapes differ),
/// and depend only on the group, so a group computed again gives the same tokens.
pub fn generate_greedy_batch(
    model: &dyn CausalLm,
    prompts: &[(&[u32], usize)],
    batch_tokens: usize,
    stop: &mut dyn FnMut(usize, &[u32]) -> bool,
) -> Result<Vec<Vec<u32>>> {
    let max_length = model.info().max_length;
    let eos = model.info().eos_token_ids.clone();
    let n = prompts.len();
    let mut ctxs: Vec<&[u32]> = Vec::with_capacity(n);
    for &(ctx, max_new) in prompts {
        if ctx.is_empty() {
            bail!("generate: empty context");
        }
        if max_new >= max_length {
            bail!("generate: max_new_tokens {max_new} must be below the model's max_length {max_length}");
        }
        let keep = (max_length - max_new).min(ctx.len());
        ctxs.push(&ctx[ctx.len() - keep..]);
    }
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); n];
    // Each cache is allocated once, for its prompt and whole token budget.
    let mut caches: Vec<KvCache> = (0..n)
        .map(|k| {
            let mut c = model.new_cache();
            c.reserve(ctxs[k].len() + prompts[k].1);
            c
        })
        .collect();
    // The token each unfinished sequence feeds next.
    let mut next: Vec<Option<u32>> = vec![None; n];
    let mut accept = |k: usize, tok: u32, out: &mut Vec<Vec<u32>>, next: &mut Vec<Option<u32>>| {
        out[k].push(tok);
        let done = eos.contains(&tok) || out[k].len() >= prompts[k].1 || stop(k, &out[k]);
        next[k] = if done { None } else { Some(tok) };
    };
    // One packed forward of `members` (ascending), each with `tokens(k)`, one logits row each.
    let run = |members: &[usize],
               tokens: &dyn Fn(usize) -> Vec<u32>,
               caches: &mut Vec<KvCache>|
     -> Result<Vec<u32>> {
        let toks: Vec<Vec<u32>> = members.iter().map(|&k| tokens(k)).collect();
        let mut in_group = vec![false; n];
        for &k in members {
            in_group[k] = true;
        }
        let mut seqs: Vec<Seq> = caches
            .iter_mut()
            .enumerate()
            .filter(|(k, _)| in_group[*k])
            .zip(&toks)
            .map(|((_, cache), t)| Seq {
                tokens: t,
                n_last: 1,
                cache,
                keep_cache: true,
            })
            .collect();
        let logits = model
            .forward_batch(&mut seqs)
            .map_err(forward_err)?
            .ok_or_else(|| anyhow::anyhow!("generate: the model returned no logits"))?;
        let rows: Vec<Vec<f32>> = logits.to_vec2()?;
        Ok(rows.iter().map(|r| argmax(r) as u32).collect())
    };
    let active: Vec<usize> = (0..n).filter(|&k| prompts[k].1 > 0).collect();
    let mut i = 0;
    while i < active.len() {
        let (mut j, mut tokens) = (i, 0usize);
        while j < active.len() && (j == i || tokens + ctxs[active[j]].len() <= batch_tokens) {
            tokens += ctxs[active[j]].len();
            j += 1;
        }
        let group = &active[i..j];
        let picked = run(group, &|k| ctxs[k].to_vec(), &mut caches)?;
        for (&k, tok) in group.iter().zip(picked) {
            accept(k, tok, &mut out, &mut next);
        }
        i = j;
    }
    loop {
        // Finished sequences free their caches at once.
        for (k, c) in caches.iter_mut().enumerate() {
            if next[k].is_none() && !c.is_empty() {
                *c = model.new_cache();
            }
        }
        let live: Vec<usize> = (0..n).filter(|&k| next[k].is_some()).collect();
        if live.is_empty() {
            break;
        }
        let feed: Vec<Option<u32>> = next.clone();
        let picked = run(&live, &|k| vec![feed[k].expect("live")], &mut caches)?;
        for (&k, tok) in live.iter().zip(picked) {
            accept(k, tok, &mut out, &mut next);
        }
    }
    Ok(out)
}
