//! What `evaluator run` calls per task: prefix-shared answering that resumes from, and appends to, the task's journal.
//!
//! A run is keyed by [`run_key`]: the weights sha256 plus how they are computed (precision,
//! storage detail, device), so a resumed run never mixes answers of another precision
//! or device. Journals live under [`crate::schedule::journal::default_dir`] and are removed by
//! [`forget_journals`] once the results file is written; a run that stops before that
//! (error, Ctrl-C, `kill -9`, power loss) leaves them for the next identical run.
//! `evaluator run` writes its results file only at the very end (atomically), so a
//! finished results file is never replaced by a partial one.

use anyhow::{Context, Result};
use leaderboard_format::schema::Benchmark;
use sha2::{Digest, Sha256};

use super::answer::{answer_task, AnswerOptions, Backend};
use crate::model::CausalLm;
use crate::requests::Response;
use crate::schedule::journal::{self, Journal};
use crate::suite::Suite;
use crate::tasks::TaskRequests;
use crate::tokenizer::harness::Options;
use crate::tokenizer::Tokenizer;

/// Version of the batching plan ([`super::plan::plan`]); part of [`run_key`], so a
/// journal written under another plan is never resumed. 2: live KV caches within
/// [`super::plan::kv_budget_tokens`].
pub const PLAN_VERSION: u32 = 2;

/// The journal key of a loaded model: sha256 of its weights hash, precision, storage
/// detail, device, batch budget and [`PLAN_VERSION`] (the batches decide the exact float
/// rounding, so a resumed run continues only a run that batched the same way).
pub fn run_key(model: &dyn CausalLm, batch_tokens: usize) -> String {
    let info = model.info();
    let mut h = Sha256::new();
    h.update(info.weights_sha256.as_bytes());
    h.update(b"\n");
    h.update(info.precision.as_str().as_bytes());
    h.update(b"\n");
    h.update(info.precision_detail.as_deref().unwrap_or("").as_bytes());
    h.update(b"\n");
    h.update(format!("{:?}", model.device().location()).as_bytes());
    h.update(format!("\nbatch_tokens={batch_tokens}").as_bytes());
    h.update(format!("\nplan={PLAN_VERSION}").as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers every request of `tr` (prefix-shared, resumable, with progress). Returns the
/// responses per document and, per document, the greedy flags of its log-likelihood
/// requests (the shape `evaluate_task` in `cmd::run` returns).
#[allow(clippy::type_complexity)]
pub fn run_task(
    model: &dyn CausalLm,
    tok: &Tokenizer,
    opts: &Options,
    suite: Suite,
    tr: &TaskRequests,
    batch_tokens: usize,
) -> Result<(Vec<Vec<Response>>, Vec<Vec<bool>>)> {
    let task = tr.benchmark.task();
    let mut j = Journal::open(
        &journal::default_dir(),
        &run_key(model, batch_tokens),
        suite.name(),
        task,
    )
    .with_context(|| format!("{task}: opening the run journal"))?;
    if !j.skipped().is_empty() {
        eprintln!(
            "warning: {}: skipped damaged lines {:?} (their requests are computed again)",
            j.path().display(),
            j.skipped()
        );
    }
    let be = Backend {
        model,
        tok,
        suite,
        opts: *opts,
    };
    let answer_opts = AnswerOptions {
        batch_tokens,
        ..AnswerOptions::default()
    };
    let answered = answer_task(&be, task, &tr.docs, Some(&mut j), &answer_opts)?;
    let greedy = answered
        .responses
        .iter()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| match r {
                    Response::LogLikelihood { is_greedy, .. } => Some(*is_greedy),
                    Response::Generate { .. } => None,
                })
                .collect()
        })
        .collect();
    Ok((answered.responses, greedy))
}

/// Removes the journals of `benchmarks` for this model and suite (call after the
/// results file is written).
pub fn forget_journals(
    model: &dyn CausalLm,
    suite: Suite,
    benchmarks: &[Benchmark],
    batch_tokens: usize,
) -> Result<()> {
    let dir = journal::default_dir();
    let key = run_key(model, batch_tokens);
    for b in benchmarks {
        let p = journal::path_for(&dir, &key, suite.name(), b.task());
        if p.exists() {
            Journal::open(&dir, &key, suite.name(), b.task())?.remove()?;
        }
    }
    Ok(())
}
