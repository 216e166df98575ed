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
//! of [`gen_group_size`] decoded together, longest prompts first ([`super::generation`]).
//! Documents are tokenized [`TOKENIZE_CHUNK`] at a time straight into the trie, so a
//! task's token ids are never all held twice (HellaSwag's 40,168 inputs are 36 M tokens;
//! its trie stores 9.5 M).
//!
//! [`answer_task`]'s steps: tokenize and look up journaled answers ([`inventory`]), plan
//! (and print the plan line, [`print_plan`]), run the log-likelihood requests
//! ([`run_loglikelihood`]), run the generation groups ([`generation::run`]), and assemble
//! the responses ([`Responses`]).

use std::time::Instant;

use anyhow::{Context, Result};

use super::execute::{execute, execute_unshared, Done, ExecStats};
use super::generation::{self, gen_group_size, GenSlot, GenTokens};
use super::plan::{cache_peak, DEFAULT_BATCH_TOKENS};
use super::steps::tokens_to_forward;
use super::trie::{Counts, Trie};
use crate::model::CausalLm;
use crate::progress::Progress;
use crate::requests::{DocRequests, Request, Response};
use crate::schedule::journal::{request_hash, Journal};
use crate::suite::Suite;
use crate::tokenizer::harness::{self, LlTokens, Options};
use crate::tokenizer::Tokenizer;
use leaderboard_format::shard::Shard;

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
    /// Token budget of one batched forward (see [`super::plan::plan`]).
    pub batch_tokens: usize,
    /// Answer only this shard's documents ([`super::shard`]); the plan stays the whole
    /// task's, so the answers are the whole run's.
    pub shard: Option<Shard>,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            shared: true,
            progress: true,
            batch_tokens: DEFAULT_BATCH_TOKENS,
            shard: None,
        }
    }
}

/// A task's answers and what it took.
#[derive(Debug, Clone)]
pub struct Answered {
    /// The documents answered (indices into the input, ascending): all of them, or
    /// the shard's.
    pub docs: Vec<usize>,
    /// One response per request, per answered document, in `docs` order.
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
    journal: Option<&mut Journal>,
    opts: &AnswerOptions,
) -> Result<Answered> {
    let start = Instant::now();
    let mut stats = AnswerStats::default();
    let mut inv = inventory(be, docs, journal.as_deref(), &mut stats)?;
    let selected = match opts.shard {
        Some(shard) => {
            let group = gen_group_size(opts.batch_tokens);
            let units = super::shard::units(docs, &inv.ll_doc_tokens, &inv.gen_slots, group);
            let on = super::shard::select(&units, docs.len(), shard);
            inv.keep_only(&on);
            on
        }
        None => vec![true; docs.len()],
    };
    let gen_groups = generation::groups(&inv.gen_slots, opts.batch_tokens);
    let planned_tokens = generation::planned_tokens(&gen_groups)
        + loglikelihood_tokens(be, &inv.trie, &inv.needed, opts);
    if opts.progress {
        print_plan(
            be,
            task,
            &inv,
            planned_tokens,
            &stats,
            journal.as_deref(),
            opts,
        );
    }
    let progress = Progress::new(task, planned_tokens, stats.requests, opts.progress);
    let mut out = Responses::new(inv.responses, journal, progress, stats.resumed);
    stats.exec = run_loglikelihood(be, inv.trie, &inv.ll_slots, &inv.needed, opts, &mut out)?;
    generation::run(
        be,
        docs,
        &gen_groups,
        stats.exec.tokens_forwarded,
        opts.batch_tokens,
        &mut out,
        &mut stats,
    )?;
    let responses = out.finish()?;
    stats.seconds = start.elapsed().as_secs_f64();
    let (docs, responses) = complete(responses, &selected);
    Ok(Answered {
        docs,
        responses,
        stats,
    })
}

/// A task's requests after tokenization and the journal lookup.
struct Inventory {
    /// Every log-likelihood request, answered or not, so that the prefixes still to run
    /// are cut exactly as in an uninterrupted run (bit-identical scores).
    trie: Trie,
    /// Per trie request: its document, its index there and its journal hash.
    ll_slots: Vec<(usize, usize, String)>,
    /// Per trie request: still to compute.
    needed: Vec<bool>,
    /// Every generation request, in [`generation::longest_first`] order.
    gen_slots: Vec<GenSlot>,
    /// Per document and request: the answer found in the journal.
    responses: Vec<Vec<Option<Response>>>,
    /// Per document: the trie tokens its log-likelihood requests added.
    ll_doc_tokens: Vec<u64>,
}

impl Inventory {
    /// Leaves only the requests of the documents `on` marks to compute.
    fn keep_only(&mut self, on: &[bool]) {
        for (n, (di, _, _)) in self.needed.iter_mut().zip(&self.ll_slots) {
            *n &= on[*di];
        }
        for s in &mut self.gen_slots {
            s.needed &= on[s.di];
        }
    }
}

/// Tokenizes the requests of `docs` a chunk of documents at a time, looks each up in
/// `journal`, and files it (counted in `stats`). A chunk's log-likelihood tokens are
/// dropped once in the trie, which keeps each shared context once.
fn inventory(
    be: &Backend,
    docs: &[DocRequests],
    journal: Option<&Journal>,
    stats: &mut AnswerStats,
) -> Result<Inventory> {
    let mut inv = Inventory {
        trie: Trie::new(),
        ll_slots: Vec::new(),
        needed: Vec::new(),
        gen_slots: Vec::new(),
        responses: docs.iter().map(|d| vec![None; d.requests.len()]).collect(),
        ll_doc_tokens: vec![0; docs.len()],
    };
    for (ci, chunk) in docs.chunks(TOKENIZE_CHUNK).enumerate() {
        let toks = crate::profile::time("tokenization", 0.0, || tokenize_all(be, chunk))?;
        for (dj, (d, ts)) in chunk.iter().zip(toks).enumerate() {
            let di = ci * TOKENIZE_CHUNK + dj;
            for (ri, t) in ts.into_iter().enumerate() {
                stats.requests += 1;
                let h = hash_of(be, d, &t);
                if let Some(r) = journaled(journal, &h, &t) {
                    inv.responses[di][ri] = Some(r.clone());
                    stats.resumed += 1;
                }
                let left = inv.responses[di][ri].is_none();
                match t {
                    Tokenized::Ll(ll) => {
                        let r = inv.trie.insert(&ll.ctx, &ll.cont);
                        inv.ll_doc_tokens[di] += inv.trie.new_tokens(r) as u64;
                        inv.ll_slots.push((di, ri, h));
                        inv.needed.push(left);
                    }
                    Tokenized::Gen(req) => inv.gen_slots.push(GenSlot {
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
    inv.trie.finish();
    stats.counts = inv.trie.counts();
    generation::longest_first(&mut inv.gen_slots);
    Ok(inv)
}

/// The answer `journal` holds for the request `t` of hash `h`, when of `t`'s kind.
fn journaled<'j>(journal: Option<&'j Journal>, h: &str, t: &Tokenized) -> Option<&'j Response> {
    journal.and_then(|j| j.get(h)).filter(|r| {
        matches!(
            (t, r),
            (Tokenized::Ll(_), Response::LogLikelihood { .. })
                | (Tokenized::Gen(_), Response::Generate { .. })
        )
    })
}

/// Tokens the log-likelihood requests still to compute (`needed`) take to forward.
fn loglikelihood_tokens(be: &Backend, trie: &Trie, needed: &[bool], opts: &AnswerOptions) -> u64 {
    if opts.shared {
        tokens_to_forward(
            trie,
            Some(needed),
            opts.batch_tokens,
            be.model.batch_invariant(),
        )
    } else {
        (0..trie.num_requests() as u32)
            .filter(|&r| needed[r as usize])
            .map(|r| trie.input_len(r) as u64)
            .sum()
    }
}

/// Prints the task's plan line (requests, tokens to forward, the KV cache bound) and,
/// when answers were resumed, how many and from where.
fn print_plan(
    be: &Backend,
    task: &str,
    inv: &Inventory,
    planned_tokens: u64,
    stats: &AnswerStats,
    journal: Option<&Journal>,
    opts: &AnswerOptions,
) {
    let gen: Vec<(usize, usize)> = inv
        .gen_slots
        .iter()
        .map(|s| (s.req.ctx.len(), s.req.max_gen_toks))
        .collect();
    let kv = kv_peak(&inv.trie, opts.batch_tokens, &gen);
    eprintln!(
        "{task}: {} requests, {planned_tokens} tokens to forward, KV cache at most {:.0} MB",
        stats.requests,
        kv.bytes(be.model.kv_bytes_per_token()) as f64 / 1048576.0
    );
    if stats.resumed > 0 {
        eprintln!(
            "{task}: resumed {} of {} requests ({} journal records) from {}",
            stats.resumed,
            stats.requests,
            journal.map(|j| j.resumed()).unwrap_or(0),
            journal
                .map(|j| j.path().display().to_string())
                .unwrap_or_default()
        );
    }
}

/// Runs the log-likelihood requests still to compute (`needed`), prefix-shared or one at
/// a time, recording each answer in `out` as it completes; the trie is freed after.
fn run_loglikelihood(
    be: &Backend,
    trie: Trie,
    ll_slots: &[(usize, usize, String)],
    needed: &[bool],
    opts: &AnswerOptions,
    out: &mut Responses,
) -> Result<ExecStats> {
    let mut on_done = |d: Done| -> Result<()> {
        let (di, ri, h) = &ll_slots[d.request as usize];
        let resp = Response::LogLikelihood {
            logprob: d.scored.logprob,
            is_greedy: d.scored.is_greedy,
        };
        out.record(*di, *ri, h, resp)?;
        out.show(d.tokens_forwarded, d.tokens_forwarded);
        Ok(())
    };
    let mut exec = ExecStats::default();
    if needed.iter().any(|&n| n) {
        exec = if opts.shared {
            execute(
                be.model,
                &trie,
                Some(needed),
                opts.batch_tokens,
                &mut on_done,
            )?
        } else {
            execute_unshared(be.model, &trie, Some(needed), &mut on_done)?
        };
    }
    drop(trie);
    crate::alloc::release_free_pages();
    Ok(exec)
}

/// A task's responses as they come: kept, journaled, and counted on the progress display.
pub(super) struct Responses<'j> {
    /// Per document and request.
    responses: Vec<Vec<Option<Response>>>,
    journal: Option<&'j mut Journal>,
    progress: Progress,
    /// Requests answered, resumed ones included.
    done: usize,
}

impl<'j> Responses<'j> {
    /// Starts from the `resumed` answers already in `responses` (shown at once).
    fn new(
        responses: Vec<Vec<Option<Response>>>,
        journal: Option<&'j mut Journal>,
        mut progress: Progress,
        resumed: usize,
    ) -> Self {
        progress.update(resumed, 0, 0);
        Responses {
            responses,
            journal,
            progress,
            done: resumed,
        }
    }

    /// Journals and keeps the answer of request `ri` of document `di` (journal hash `hash`).
    pub(super) fn record(
        &mut self,
        di: usize,
        ri: usize,
        hash: &str,
        resp: Response,
    ) -> Result<()> {
        if let Some(j) = self.journal.as_deref_mut() {
            j.record(hash, &resp)?;
        }
        self.responses[di][ri] = Some(resp);
        self.done += 1;
        Ok(())
    }

    /// Shows the progress at `position` tokens of the plan, `real_tokens` of them run.
    pub(super) fn show(&mut self, position: u64, real_tokens: u64) {
        self.progress.update(self.done, position, real_tokens);
    }

    /// Syncs the journal and closes the progress display: the responses.
    fn finish(self) -> Result<Vec<Vec<Option<Response>>>> {
        if let Some(j) = self.journal {
            j.sync()?;
        }
        crate::alloc::release_free_pages();
        self.progress.finish();
        Ok(self.responses)
    }
}

/// The `selected` documents and their responses, one per request: every request of
/// theirs is answered by now.
fn complete(
    responses: Vec<Vec<Option<Response>>>,
    selected: &[bool],
) -> (Vec<usize>, Vec<Vec<Response>>) {
    responses
        .into_iter()
        .enumerate()
        .filter(|(d, _)| selected[*d])
        .map(|(d, v)| {
            let v = v
                .into_iter()
                .map(|r| r.expect("every request of a selected document answered"))
                .collect();
            (d, v)
        })
        .unzip()
}

/// The most KV cache a task holds at once: positions, caches and room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvPeak {
    pub tokens: u64,
    pub caches: u64,
    /// Positions of room allocated after the caches' own ([`super::CachePeak::room`]; 0 for a
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
