//! Greedy generation until a stop string, as the harness's `greedy_until` / `generate_until` does (spec §8.2).
//!
//! Stop strings are the request's `until` plus the tokenizer's EOS text when
//! it is not already there. Generation stops at a model EOS id, after
//! `max_gen_toks` tokens, or once a stop string shows up in the decoded last
//! `lookback` generated tokens — `len(encode(stop))` tokens for OLD, two more
//! for NEW ([`Suite::stop_lookback`]). The result is the decoded generation
//! (special tokens skipped) cut at the first occurrence of each stop string in
//! list order, i.e. at the earliest one; so the lookback only decides how
//! much is computed, never the text.

use anyhow::{Context, Result};

use crate::engine;
use crate::model::CausalLm;
use crate::suite::Suite;
use crate::tokenizer::Tokenizer;

/// One finished generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The text, cut at the earliest stop string.
    pub text: String,
    /// Every generated token id (EOS included when the model produced it).
    pub tokens: Vec<u32>,
}

/// The stop strings of a request: `until` plus the EOS text if missing.
pub fn stop_strings(tok: &Tokenizer, until: &[String]) -> Vec<String> {
    let mut all: Vec<String> = until.to_vec();
    if let Some(eos) = &tok.eos_token {
        if !all.contains(eos) {
            all.push(eos.clone());
        }
    }
    all
}

/// Cuts `text` at the first occurrence of each stop string in turn (Python
/// `text.split(term)[0]` for every term; empty terms are ignored).
pub fn cut_at_stops(text: &str, stops: &[String]) -> String {
    let mut out = text;
    for s in stops.iter().filter(|s| !s.is_empty()) {
        if let Some(p) = out.find(s.as_str()) {
            out = &out[..p];
        }
    }
    out.to_string()
}

/// One generation request, tokenized: context, stop strings, token budget.
#[derive(Debug, Clone)]
pub struct GenRequest<'a> {
    pub ctx: &'a [u32],
    pub until: &'a [String],
    pub max_gen_toks: usize,
}

/// A request's stop rule: EOS ids, and each stop string with its lookback in tokens.
struct StopRule<'a> {
    stops: Vec<String>,
    windows: Vec<(String, usize)>,
    eos_ids: &'a [u32],
}

impl<'a> StopRule<'a> {
    fn new(tok: &Tokenizer, suite: Suite, until: &[String], eos_ids: &'a [u32]) -> Result<Self> {
        let stops = stop_strings(tok, until);
        let mut windows = Vec::with_capacity(stops.len());
        for s in &stops {
            let n = tok.encode(s)?.len();
            windows.push((s.clone(), suite.stop_lookback(n).max(1)));
        }
        Ok(StopRule {
            stops,
            windows,
            eos_ids,
        })
    }

    /// Whether to stop after `generated`; a decoding error stops and is kept in `err`.
    fn done(&self, tok: &Tokenizer, generated: &[u32], err: &mut Option<anyhow::Error>) -> bool {
        if generated.last().is_some_and(|t| self.eos_ids.contains(t)) {
            return true;
        }
        for (s, k) in &self.windows {
            let tail = &generated[generated.len().saturating_sub(*k)..];
            match tok.decode(tail, false) {
                Ok(text) if text.contains(s.as_str()) => return true,
                Ok(_) => {}
                Err(e) => {
                    *err = Some(e.into());
                    return true;
                }
            }
        }
        false
    }
}

fn eos_ids(model: &dyn CausalLm, tok: &Tokenizer) -> Vec<u32> {
    let mut ids = model.info().eos_token_ids.clone();
    if let Some(e) = tok.eos_token_id {
        if !ids.contains(&e) {
            ids.push(e);
        }
    }
    ids
}

/// [`generate_until`] for a group of requests computed together
/// ([`engine::generate_greedy_batch`]: packed prefill within `batch_tokens`, then one
/// packed forward per step for the unfinished ones). Results in request order.
pub fn generate_until_batch(
    model: &dyn CausalLm,
    tok: &Tokenizer,
    suite: Suite,
    reqs: &[GenRequest],
    batch_tokens: usize,
) -> Result<Vec<Generated>> {
    let eos = eos_ids(model, tok);
    let rules: Vec<StopRule> = reqs
        .iter()
        .map(|r| StopRule::new(tok, suite, r.until, &eos))
        .collect::<Result<_>>()?;
    let mut decode_error = None;
    let prompts: Vec<(&[u32], usize)> = reqs.iter().map(|r| (r.ctx, r.max_gen_toks)).collect();
    let tokens = engine::generate_greedy_batch(model, &prompts, batch_tokens, &mut |k, g| {
        rules[k].done(tok, g, &mut decode_error)
    })
    .context("greedy generation")?;
    if let Some(e) = decode_error {
        return Err(e);
    }
    tokens
        .into_iter()
        .zip(&rules)
        .map(|(tokens, rule)| {
            let text = tok.decode_text(&tokens)?;
            Ok(Generated {
                text: cut_at_stops(&text, &rule.stops),
                tokens,
            })
        })
        .collect()
}

/// Greedy generation from the already tokenized (and truncated) `ctx`.
pub fn generate_until(
    model: &dyn CausalLm,
    tok: &Tokenizer,
    suite: Suite,
    ctx: &[u32],
    until: &[String],
    max_gen_toks: usize,
) -> Result<Generated> {
    let req = GenRequest {
        ctx,
        until,
        max_gen_toks,
    };
    let mut out = generate_until_batch(model, tok, suite, &[req], usize::MAX)?;
    Ok(out.pop().expect("one request, one generation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_the_earliest_stop_in_list_order() {
        let stops: Vec<String> = [":", "Question:", "Question"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            cut_at_stops("18 eggs\n\nQuestion: x", &stops),
            "18 eggs\n\n"
        );
        assert_eq!(cut_at_stops("at 3:30 #### 5", &stops), "at 3");
        assert_eq!(cut_at_stops("no stop here", &stops), "no stop here");
        assert_eq!(cut_at_stops("Question", &stops), "");
        let with_empty = vec![String::new(), "b".to_string()];
        assert_eq!(cut_at_stops("aab", &with_empty), "aa");
    }
}
