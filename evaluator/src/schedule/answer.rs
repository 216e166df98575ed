//! Answers one task's requests: tokenize (spec §3), reuse journaled answers, run the rest prefix-shared, journal each, show progress.
//!
//! This is the model backend `evaluator run` calls per task:
//! ```ignore
//! let mut journal = Journal::open(&journal::default_dir(), &info.weights_sha256, suite.name(), task)?;
//! let answered = schedule::answer_task(&backend, task, &tr.docs, Some(&mut journal), &AnswerOptions::default())?;
//! let results = tasks::score(&tr, &answered.responses)?;
//! // … after the results file is written:
//! journal.remove()?;
//! ```
//! Log-likelihood requests go through one [`Trie`] per task (all documents together, so
//! an MMLU subject's 5-shot prefix is forwarded once), generation requests in fixed groups
//! of [`gen_group_size`] decoded together, longest prompts first. Documents are tokenized
//! [`TOKENIZE_CHUNK`] at a time straight into the trie, so a task's token ids are never all
//! held twice (HellaSwag's 40,168 inputs are 36 M tokens; its trie stores 9.5 M).

use std::time::Instant;

use anyhow::{Context, Result};

use super::executor::{cache_peak, execute, execute_unshared, tokens_to_forward, Done, ExecStats};
use super::trie::{Counts, Trie};
use crate::generate::{generate_until_batch, GenRequest};
use crate::model::CausalLm;
use crate::progress::Progress;
use crate::requests::{DocRequests, Request, Response};
use crate::schedule::journal::{request_hash, Journal};
use crate::suite::Suite;
use crate::tokenizer::harness::{self, LlTokens, Options};
use crate::tokenizer::Tokenizer;

/// A model with its tokenizer, as one suite uses them.
pub struct Backend<'a> {
    pub model: &'a dyn CausalLm,
    pub tok: &'a Tokenizer,
    pub suite: Suite,
    /// Spec §3 tokenization options ([`Options::for_suite`]).
    pub opts: Options,
}

impl<'a> Backend<'a> {
    /// The backend of `suite` for `model` (max_length from the model's info).
    pub fn new(model: &'a dyn CausalLm, tok: &'a Tokenizer, suite: Suite) -> Self {
        let opts = Options::for_suite(suite, tok, model.info().max_length);
        Backend {
            model,
            tok,
            suite,
            opts,
        }
    }
}

/// How to answer.
#[derive(Debug, Clone)]
pub struct AnswerOptions {
    /// Share prefixes (the default). `false` runs every request on its own, the
    /// reference path (for benchmarks and checks).
    pub shared: bool,
    /// Show progress on stderr: a bar on a terminal, plain lines otherwise ([`crate::progress`]).
    pub progress: bool,
    /// Token budget of one batched forward (see [`super::executor::plan`]).
    pub batch_tokens: usize,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            shared: true,
            progress: true,
            batch_tokens: super::executor::DEFAULT_BATCH_TOKENS,
        }
    }
}

/// A task's answers and what it took.
#[derive(Debug, Clone)]
pub struct Answered {
    /// One response per request, per document, in the order of the input.
    pub responses: Vec<Vec<Response>>,
    pub stats: AnswerStats,
}

/// Work counts of one task.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerStats {
    pub requests: usize,
    /// Answers taken from the journal.
    pub resumed: usize,
    /// Log-likelihood token counts of what was computed (not resumed).
    pub counts: Counts,
    pub exec: ExecStats,
    /// Prompt tokens of the generation requests computed.
    pub generation_prompt_tokens: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
    pub seconds: f64,
}

/// Documents tokenized at a time: their log-likelihood tokens go into the trie (which
/// keeps a shared context once) before the next chunk is tokenized.
const TOKENIZE_CHUNK: usize = 256;

/// One request after tokenization.
enum Tokenized {
    Ll(LlTokens),
    Gen(GenTokens),
}

/// A tokenized generation request.
struct GenTokens {
    ctx: Vec<u32>,
    until: Vec<String>,
    max_gen_toks: usize,
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
struct GenSlot {
    di: usize,
    ri: usize,
    hash: String,
    needed: bool,
    req: GenTokens,
}

/// Tokenizes every request of `docs` (in parallel over the available cores).
fn tokenize_all(be: &Backend, docs: &[DocRequests]) -> Result<Vec<Vec<Tokenized>>> {
    let (tok, opts) = (be.tok, &be.opts);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let chunk = docs.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<Vec<Tokenized>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = docs
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|d| tokenize_doc(tok, opts, d)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("tokenizer thread panicked"))
            .collect()
    });
    let mut out = Vec::with_capacity(docs.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

fn tokenize_doc(tok: &Tokenizer, opts: &Options, d: &DocRequests) -> Result<Vec<Tokenized>> {
    let mut out = Vec::with_capacity(d.requests.len());
    for (i, r) in d.requests.iter().enumerate() {
        let t = match r {
            Request::LogLikelihood {
                context,
                continuation,
            } => {
                harness::loglikelihood_request(tok, opts, context, continuation).map(Tokenized::Ll)
            }
            Request::Generate {
                context,
                until,
                max_gen_toks,
            } => harness::generation_context(tok, opts, context, *max_gen_toks).map(|ctx| {
                Tokenized::Gen(GenTokens {
                    ctx,
                    until: until.clone(),
                    max_gen_toks: *max_gen_toks,
                })
            }),
        }
        .with_context(|| {
            format!(
                "{} doc {} request {i}: tokenizing (spec §3)",
                d.task, d.doc_id
            )
        })?;
        out.push(t);
    }
    Ok(out)
}

fn hash_of(be: &Backend, d: &DocRequests, t: &Tokenized) -> String {
    let suite = be.suite.name();
    match t {
        Tokenized::Ll(ll) => {
            request_hash(suite, &d.task, "loglikelihood", &[&ll.ctx, &ll.cont], &[])
        }
        Tokenized::Gen(GenTokens {
            ctx,
            until,
            max_gen_toks,
        }) => {
            let budget = max_gen_toks.to_string();
            let mut extra: Vec<&str> = vec![&budget];
            extra.extend(until.iter().map(String::as_str));
            request_hash(suite, &d.task, "generate", &[ctx], &extra)
        }
    }
}

/// Answers every request of `docs` (one task). Answers found in `journal` are reused;
/// new ones are appended to it as they finish.
pub fn answer_task(
    be: &Backend,
    task: &str,
    docs: &[DocRequests],
    mut journal: Option<&mut Journal>,
    opts: &AnswerOptions,
) -> Result<Answered> {
    let start = Instant::now();
    let mut responses: Vec<Vec<Option<Response>>> =
        docs.iter().map(|d| vec![None; d.requests.len()]).collect();
    let mut stats = AnswerStats::default();
    // Every log-likelihood request goes into the trie, answered or not, so that the
    // prefixes still to run are cut exactly as in an uninterrupted run (bit-identical
    // scores); `needed` marks what is left. Generation requests left: `gen_slots`.
    // Documents are tokenized a chunk at a time and their log-likelihood tokens dropped
    // once in the trie, which keeps each shared context once.
    let mut trie = Trie::new();
    let mut ll_slots: Vec<(usize, usize, String)> = Vec::new();
    let mut needed: Vec<bool> = Vec::new();
    // Every generation request, in order, with whether it is still to compute.
    let mut gen_slots: Vec<GenSlot> = Vec::new();
    let mut planned_tokens: u64 = 0;
    for (ci, chunk) in docs.chunks(TOKENIZE_CHUNK).enumerate() {
        let toks = tokenize_all(be, chunk)?;
        for (dj, (d, ts)) in chunk.iter().zip(toks).enumerate() {
            let di = ci * TOKENIZE_CHUNK + dj;
            for (ri, t) in ts.into_iter().enumerate() {
                stats.requests += 1;
                let h = hash_of(be, d, &t);
                let known = journal.as_ref().and_then(|j| j.get(&h)).filter(|r| {
                    matches!(
                        (&t, r),
                        (Tokenized::Ll(_), Response::LogLikelihood { .. })
                            | (Tokenized::Gen(_), Response::Generate { .. })
                    )
                });
                if let Some(r) = known {
                    responses[di][ri] = Some(r.clone());
                    stats.resumed += 1;
                }
                let left = responses[di][ri].is_none();
                match t {
                    Tokenized::Ll(ll) => {
                        trie.insert(&ll.ctx, &ll.cont);
                        ll_slots.push((di, ri, h));
                        needed.push(left);
                    }
                    Tokenized::Gen(req) => gen_slots.push(GenSlot {
                        di,
                        ri,
                        hash: h,
                        needed: left,
                        req,
                    }),
                }
            }
        }
    }
    trie.finish();
    stats.counts = trie.counts();
    // Generation runs in fixed groups (a group is computed whole, as in an uninterrupted
    // run, when any of its requests is left), longest prompts first: the group holding
    // the largest KV caches runs first, so running out of memory happens at once.
    gen_slots.sort_by_key(|s| std::cmp::Reverse(s.req.ctx.len()));
    let group = gen_group_size(opts.batch_tokens);
    let gen_groups: Vec<&[GenSlot]> = gen_slots
        .chunks(group)
        .filter(|g| g.iter().any(|s| s.needed))
        .collect();
    for g in &gen_groups {
        for s in g.iter() {
            planned_tokens += (s.req.ctx.len() + s.req.max_gen_toks) as u64;
        }
    }
    planned_tokens += if opts.shared {
        tokens_to_forward(
            &trie,
            Some(&needed),
            opts.batch_tokens,
            be.model.batch_invariant(),
        )
    } else {
        (0..trie.num_requests() as u32)
            .filter(|&r| needed[r as usize])
            .map(|r| trie.input_len(r) as u64)
            .sum()
    };
    if opts.progress {
        let gen: Vec<(usize, usize)> = gen_slots
            .iter()
            .map(|s| (s.req.ctx.len(), s.req.max_gen_toks))
            .collect();
        let kv = kv_peak(&trie, opts.batch_tokens, &gen);
        eprintln!(
            "{task}: {} requests, {planned_tokens} tokens to forward, KV cache at most {:.0} MB",
            stats.requests,
            kv.bytes(be.model.kv_bytes_per_token()) as f64 / 1048576.0
        );
    }
    if stats.resumed > 0 && opts.progress {
        eprintln!(
            "{task}: resumed {} of {} requests ({} journal records) from {}",
            stats.resumed,
            stats.requests,
            journal.as_ref().map(|j| j.resumed()).unwrap_or(0),
            journal
                .as_ref()
                .map(|j| j.path().display().to_string())
                .unwrap_or_default()
        );
    }

    let mut progress = Progress::new(task, planned_tokens, stats.requests, opts.progress);
    let mut done_requests = stats.resumed;
    let mut tokens_before_gen: u64 = 0;
    progress.update(done_requests, 0, 0);

    let mut on_done = |d: Done| -> Result<()> {
        let (di, ri, h) = &ll_slots[d.request as usize];
        let resp = Response::LogLikelihood {
            logprob: d.scored.logprob,
            is_greedy: d.scored.is_greedy,
        };
        if let Some(j) = journal.as_deref_mut() {
            j.record(h, &resp)?;
        }
        responses[*di][*ri] = Some(resp);
        done_requests += 1;
        progress.update(done_requests, d.tokens_forwarded, d.tokens_forwarded);
        Ok(())
    };
    if needed.iter().any(|&n| n) {
        stats.exec = if opts.shared {
            execute(
                be.model,
                &trie,
                Some(&needed),
                opts.batch_tokens,
                &mut on_done,
            )?
        } else {
            execute_unshared(be.model, &trie, Some(&needed), &mut on_done)?
        };
        tokens_before_gen = stats.exec.tokens_forwarded;
    }
    drop(trie);
    crate::alloc::release_free_pages();

    let mut position = tokens_before_gen;
    let mut real_tokens = tokens_before_gen;
    for g in &gen_groups {
        let reqs: Vec<GenRequest> = g.iter().map(|s| s.req.as_request()).collect();
        let gens = generate_until_batch(be.model, be.tok, be.suite, &reqs, opts.batch_tokens)
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
            let resp = Response::Generate { text: gen.text };
            if let Some(j) = journal.as_deref_mut() {
                j.record(&slot.hash, &resp)?;
            }
            responses[slot.di][slot.ri] = Some(resp);
            done_requests += 1;
        }
        progress.update(done_requests, position, real_tokens);
        crate::alloc::release_free_pages_if_due();
    }
    if let Some(j) = journal {
        j.sync()?;
    }
    crate::alloc::release_free_pages();
    progress.finish();
    stats.seconds = start.elapsed().as_secs_f64();
    let responses = responses
        .into_iter()
        .map(|v| {
            v.into_iter()
                .map(|r| r.expect("every request answered"))
                .collect()
        })
        .collect();
    Ok(Answered { responses, stats })
}

/// The most KV cache a task holds at once: positions, caches and room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvPeak {
    pub tokens: u64,
    pub caches: u64,
    /// Positions of room allocated after the caches' own ([`super::executor::CachePeak::room`]; 0 for a
    /// generation group, whose caches are allocated for their whole budget).
    pub room: u64,
}

impl KvPeak {
    /// Bytes at `per_token` bytes a position.
    pub fn bytes(&self, per_token: u64) -> u64 {
        (self.tokens + self.room) * per_token
    }
}

/// The KV cache a task holds at most, from its plan alone: the log-likelihood plan's
/// [`cache_peak`] with `batch_tokens`, or a generation group (`gen`: prompt length and
/// token budget of each generation request in execution order, longest prompts first;
/// groups of [`gen_group_size`]) holding every prompt with its whole budget.
pub fn kv_peak(trie: &Trie, batch_tokens: usize, gen: &[(usize, usize)]) -> KvPeak {
    let p = cache_peak(trie, batch_tokens);
    let group = gen_group_size(batch_tokens);
    let g = gen
        .chunks(group)
        .map(|g| KvPeak {
            tokens: g.iter().map(|(l, b)| (l + b) as u64).sum(),
            caches: g.len() as u64,
            room: 0,
        })
        .max_by_key(|k| k.tokens)
        .unwrap_or_default();
    let p = KvPeak {
        tokens: p.tokens as u64,
        caches: p.caches as u64,
        room: p.room as u64,
    };
    if g.tokens > p.tokens + p.room {
        g
    } else {
        p
    }
}

/// Generation requests computed together: `batch_tokens / 256` (at least 1), so the
/// group is part of the batch budget that keys a resumable run.
pub fn gen_group_size(batch_tokens: usize) -> usize {
    (batch_tokens / 256).max(1)
}
