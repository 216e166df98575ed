//! The harness's tokenization of requests (spec §3): trailing whitespace, split encoding, BOS, truncation.
//!
//! For a log-likelihood request `(context, continuation)`:
//! 1. trailing whitespace of the context (Python `str.isspace`) moves to the
//!    front of the continuation;
//! 2. `whole = encode(context + continuation)`, `ctx = encode(context)`;
//! 3. `cont = whole[len(ctx):]`, and the model sees `ctx ++ cont` — *not*
//!    `whole` — even when a BPE merge crosses the boundary;
//! 4. `cont` must not be empty;
//! 5. left truncation: of `ctx ++ cont` keep the last `max_length + 1` tokens
//!    (the final token is only a target, never an input);
//! 7. an empty context becomes `[EOS]` (OLD) or `[BOS or else EOS]` (NEW).
//!
//! BOS is added to contexts only when the suite follows the tokenizer's own
//! default ([`BosPolicy::TokenizerDefault`]) and that default adds one; it is
//! skipped when the text already starts with the BOS text.
//! A generation context is encoded the same way and keeps its last
//! `max_length - max_gen_toks` tokens.

use crate::suite::{BosPolicy, Suite};
use crate::tokenizer::{Tokenizer, TokenizerError};

/// What to do with an empty context (spec §3 rule 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyContext {
    /// OLD: `[eos_token_id]`.
    Eos,
    /// NEW: `[prefix_token_id]`, BOS if the tokenizer has one, else EOS.
    PrefixToken,
}

/// How one suite tokenizes, for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Prepend BOS to every context.
    pub add_bos: bool,
    pub empty_context: EmptyContext,
    /// The model's maximum length (spec §3 rule 5).
    pub max_length: usize,
}

impl Options {
    /// The options of `suite` for a model with `tok` and `max_length`.
    pub fn for_suite(suite: Suite, tok: &Tokenizer, max_length: usize) -> Options {
        let add_bos = match suite.bos() {
            BosPolicy::Never => false,
            BosPolicy::TokenizerDefault => tok.add_bos_default && tok.bos_token_id.is_some(),
        };
        let empty_context = match suite {
            Suite::OpenLlmV1 => EmptyContext::Eos,
            Suite::LmEval04 => EmptyContext::PrefixToken,
        };
        Options {
            add_bos,
            empty_context,
            max_length,
        }
    }
}

/// Why a request cannot be tokenized.
#[derive(Debug, thiserror::Error)]
pub enum HarnessTokError {
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("the continuation {continuation:?} encodes to no tokens after the context")]
    EmptyContinuation { continuation: String },
    #[error("an empty context needs an EOS (or BOS) token id, and the tokenizer has none")]
    NoPrefixToken,
    #[error("the context is only whitespace: after moving it to the continuation nothing is left to condition on")]
    BlankContext,
    #[error(
        "the continuation has {cont} tokens, more than the model's maximum length {max_length}"
    )]
    ContinuationTooLong { cont: usize, max_length: usize },
    #[error("max_length {max_length} leaves no room for a prompt before {max_gen_toks} generated tokens")]
    NoRoomToGenerate {
        max_length: usize,
        max_gen_toks: usize,
    },
}

/// A log-likelihood request as token ids: the model input is `ctx ++ cont[..-1]`
/// and the `cont` tokens are scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlTokens {
    pub ctx: Vec<u32>,
    pub cont: Vec<u32>,
}

/// Rule 1: `(context without trailing whitespace, moved whitespace + continuation)`.
pub fn move_trailing_whitespace<'a>(context: &'a str, continuation: &str) -> (&'a str, String) {
    let kept = crate::pystr::rstrip(context);
    let moved = &context[kept.len()..];
    (kept, format!("{moved}{continuation}"))
}

/// `encode(text)`, with BOS in front when `opts.add_bos` and the text does not
/// already start with the BOS text.
pub fn encode_context(
    tok: &Tokenizer,
    opts: &Options,
    text: &str,
) -> Result<Vec<u32>, TokenizerError> {
    let mut ids = Vec::new();
    if opts.add_bos {
        if let Some(bos) = tok.bos_token_id {
            let bos_text = tok.inner().id_to_token(bos).unwrap_or_default();
            if bos_text.is_empty() || !text.starts_with(&bos_text) {
                ids.push(bos);
            }
        }
    }
    ids.extend(tok.encode(text)?);
    Ok(ids)
}

/// Rules 1–4 and 7: the context and continuation tokens of a request, before truncation.
pub fn loglikelihood_tokens(
    tok: &Tokenizer,
    opts: &Options,
    context: &str,
    continuation: &str,
) -> Result<LlTokens, HarnessTokError> {
    if context.is_empty() {
        let prefix = match opts.empty_context {
            EmptyContext::Eos => tok.eos_token_id,
            EmptyContext::PrefixToken => tok.bos_token_id.or(tok.eos_token_id),
        }
        .ok_or(HarnessTokError::NoPrefixToken)?;
        let cont = tok.encode(continuation)?;
        if cont.is_empty() {
            return Err(HarnessTokError::EmptyContinuation {
                continuation: continuation.to_string(),
            });
        }
        return Ok(LlTokens {
            ctx: vec![prefix],
            cont,
        });
    }
    let (context, continuation) = move_trailing_whitespace(context, continuation);
    let whole = encode_context(tok, opts, &format!("{context}{continuation}"))?;
    let ctx = encode_context(tok, opts, context)?;
    if ctx.is_empty() {
        return Err(HarnessTokError::BlankContext);
    }
    let cont = whole.get(ctx.len()..).unwrap_or(&[]).to_vec();
    if cont.is_empty() {
        return Err(HarnessTokError::EmptyContinuation { continuation });
    }
    Ok(LlTokens { ctx, cont })
}

/// Rule 5: keep the last `max_length + 1` tokens of `ctx ++ cont`, dropping
/// from the front of the context. The result feeds the model at most
/// `max_length` tokens and scores the same `cont`.
pub fn truncate_left(ll: LlTokens, max_length: usize) -> Result<LlTokens, HarnessTokError> {
    let total = ll.ctx.len() + ll.cont.len();
    if total <= max_length + 1 {
        return Ok(ll);
    }
    if ll.cont.len() > max_length {
        return Err(HarnessTokError::ContinuationTooLong {
            cont: ll.cont.len(),
            max_length,
        });
    }
    let drop = total - (max_length + 1);
    Ok(LlTokens {
        ctx: ll.ctx[drop..].to_vec(),
        cont: ll.cont,
    })
}

/// The full log-likelihood tokenization: rules 1–5 and 7.
pub fn loglikelihood_request(
    tok: &Tokenizer,
    opts: &Options,
    context: &str,
    continuation: &str,
) -> Result<LlTokens, HarnessTokError> {
    truncate_left(
        loglikelihood_tokens(tok, opts, context, continuation)?,
        opts.max_length,
    )
}

/// A generation context: encoded like a log-likelihood context (BOS per
/// suite, no whitespace move), keeping its last `max_length - max_gen_toks` tokens.
pub fn generation_context(
    tok: &Tokenizer,
    opts: &Options,
    context: &str,
    max_gen_toks: usize,
) -> Result<Vec<u32>, HarnessTokError> {
    let keep = opts
        .max_length
        .checked_sub(max_gen_toks)
        .filter(|&k| k > 0)
        .ok_or(HarnessTokError::NoRoomToGenerate {
            max_length: opts.max_length,
            max_gen_toks,
        })?;
    let mut ids = encode_context(tok, opts, context)?;
    if ids.len() > keep {
        ids.drain(..ids.len() - keep);
    }
    Ok(ids)
}
