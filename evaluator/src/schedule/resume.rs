//! What `evaluator run` calls per task: prefix-shared answering that resumes from, and appends to, the task's journal.
//!
//! A run's journals are keyed by its configuration's journal key
//! ([`crate::config::RunConfig::journal_key`]: weights, kernel path, dtype, device, batch
//! budget, plan, task options, data, evaluator sources), so a resumed run never mixes
//! answers computed another way. Journals live under [`crate::schedule::journal::default_dir`] and are removed by
//! [`forget_journals`] once the results file is written; a run that stops before that
//! (error, Ctrl-C, `kill -9`, power loss) leaves them for the next identical run.
//! `evaluator run` writes its results file only at the very end (atomically), so a
//! finished results file is never replaced by a partial one.

use crate::tasks::spec::TaskSpec;
use anyhow::{Context, Result};
use leaderboard_format::shard::Shard;

use super::answer::{answer_task, AnswerOptions, Backend};
use crate::model::CausalLm;
use crate::requests::Response;
use crate::schedule::journal::{self, Journal};
use crate::suite::Suite;
use crate::tasks::TaskRequests;
use crate::tokenizer::harness::Options;
use crate::tokenizer::Tokenizer;

/// Version of the batching plan ([`super::plan::plan`]); part of the run
/// configuration and so of the journal key ([`crate::config::RunConfig::journal_key`]):
/// a journal written under another plan is never resumed. 2: live KV caches within
/// [`super::plan::kv_budget_tokens`]. 3: logits rows no longer bound a batch (the output
/// layer runs on blocks of them).
pub const PLAN_VERSION: u32 = 3;

/// A task's answers as `evaluator run` scores them.
pub struct TaskAnswers {
    /// The documents answered (indices into `tr.docs`, ascending): all, or a shard's.
    pub docs: Vec<usize>,
    /// Per answered document, its responses.
    pub responses: Vec<Vec<Response>>,
    /// Per answered document, the greedy flags of its log-likelihood requests.
    pub greedy: Vec<Vec<bool>>,
}

/// Answers every request of `tr` (prefix-shared, resumable, with progress), or only
/// those of `shard`'s documents ([`crate::schedule::answer::AnswerOptions::shard`]).
#[allow(clippy::too_many_arguments)]
pub fn run_task(
    model: &dyn CausalLm,
    tok: &Tokenizer,
    opts: &Options,
    suite: Suite,
    tr: &TaskRequests,
    batch_tokens: usize,
    journal_key: &str,
    shard: Option<Shard>,
) -> Result<TaskAnswers> {
    let task = tr.task.id;
    let mut j = Journal::open(&journal::default_dir(), journal_key, suite.name(), task)
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
        shard,
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
    Ok(TaskAnswers {
        docs: answered.docs,
        responses: answered.responses,
        greedy,
    })
}

/// Removes the journals of `tasks` under `journal_key` (call after the results
/// file is written).
pub fn forget_journals(journal_key: &str, suite: Suite, tasks: &[&TaskSpec]) -> Result<()> {
    let dir = journal::default_dir();
    for t in tasks {
        let p = journal::path_for(&dir, journal_key, suite.name(), t.id);
        if p.exists() {
            Journal::open(&dir, journal_key, suite.name(), t.id)?.remove()?;
        }
    }
    Ok(())
}
