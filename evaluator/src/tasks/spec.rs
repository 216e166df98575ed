//! [`TaskSpec`]: everything the evaluator knows about one benchmark, declared once
//! in the benchmark's own file (`tasks/<x>.rs`) and listed in [`super::TASKS`].
//!
//! A spec is a plain `const` struct of data (splits, counts, Hub sources, few-shot
//! rule, metric names) and function pointers (Hub row checks, request builder,
//! metric lists per suite, aggregate), not a trait: the data layer walks every
//! task's splits (`data::hub::hub_splits`, `data::expected_count`) from one
//! `const` table without objects or generics, a spec reads top to bottom as a
//! table, and the few per-task functions stay ordinary `fn`s next to it.

use super::{BuildOptions, TaskError, TaskRequests};
use crate::data::DataSource;
use crate::suite::Suite;
use leaderboard_format::schema::{Benchmark, Score};
use serde_json::{Map, Value};

/// One benchmark.
pub struct TaskSpec {
    /// Task id: the local data folder, `scores.task`, `--task`, the run
    /// journal's name. Lowercase letters, digits and `_` (the results format's
    /// rule for task ids).
    pub id: &'static str,
    /// The leaderboard column it reports, if it is one of the v1 six; `None`
    /// for any other task (its scores are recorded under `id` and shown on the
    /// model page, outside the table's columns).
    pub benchmark: Option<Benchmark>,
    /// Every split the task may read. The local file of split `S` is
    /// `<id>/S.jsonl` or `<id>/S.jsonl.gz`.
    pub splits: &'static [Split],
    /// The split whose documents are evaluated.
    pub eval_split: &'static str,
    /// Where few-shot examples come from and how many by default.
    pub fewshot: Fewshot,
    /// Check a Hub row's fields and turn the Hub's encodings into the local
    /// records' (`data::hub::normalize`).
    pub hub_row: fn(&mut Map<String, Value>) -> anyhow::Result<()>,
    /// Documents → requests, in evaluation order (most tasks: a call of the
    /// shared builder, [`super::builder`]).
    pub build: fn(&dyn DataSource, &BuildOptions) -> Result<TaskRequests, TaskError>,
    /// The metrics each document gets under a suite, in output order.
    pub metrics: fn(Suite) -> &'static [&'static str],
    /// The metric the leaderboard column shows; for multiple-choice scoring, also
    /// the one whose prediction and correctness the details record.
    pub headline: fn(Suite) -> &'static str,
    /// A score computed from the per-document scores (MMLU's macro mean of its
    /// subjects), appended after them.
    pub aggregate: Option<fn(&[Score], usize) -> Score>,
}

/// One split of a task.
pub struct Split {
    /// The split's name (`train`, `test`, …), also its local file stem.
    pub name: &'static str,
    /// The record count the split must have.
    pub count: usize,
    /// Where the split lives on the Hub.
    pub hub: HubFile,
}

/// A Parquet file in a Hub dataset repo, at a pinned commit.
pub struct HubFile {
    pub repo: &'static str,
    pub revision: &'static str,
    pub file: &'static str,
}

/// How a task's few-shot examples are chosen.
pub enum Fewshot {
    /// Always 0-shot: `openllm-v1` refuses another count (the harness asserts
    /// it), `lm-eval-0.4` ignores `--num-fewshot`.
    ZeroShot,
    /// The first k documents of `pool` (per group), in file order.
    FirstN { pool: &'static str, shots: usize },
    /// k documents of `pool` drawn at random per evaluated document (spec §2.2).
    Random {
        pool: &'static str,
        shots: usize,
        /// `lm-eval-0.4` run standalone draws k+1 and drops a pool document equal
        /// to the evaluated one (spec §2.1).
        plus_one_standalone: bool,
        /// When the pool split may be missing: the hint printed then, and the task
        /// accepts a [`super::FewshotFallback`] (the evaluation split as the pool).
        fallback_hint: Option<&'static str>,
    },
}

impl std::fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskSpec({})", self.id)
    }
}

impl TaskSpec {
    /// What reports print for the task: its column's label, else its id.
    pub fn label(&self) -> &'static str {
        self.benchmark.map_or(self.id, Benchmark::label)
    }

    /// Whether a document task id (a details row's `task`) is this task's: its id, or
    /// for a task with an aggregate its subtasks (`mmlu_anatomy` of `mmlu`).
    pub fn owns(&self, doc_task: &str) -> bool {
        doc_task == self.id
            || (self.aggregate.is_some()
                && doc_task
                    .strip_prefix(self.id)
                    .is_some_and(|rest| rest.starts_with('_')))
    }

    /// The split named `name`, if the task has it.
    pub fn split(&self, name: &str) -> Option<&'static Split> {
        self.splits.iter().find(|s| s.name == name)
    }

    /// The few-shot count of a build: `--num-fewshot`, else the task's default.
    pub fn shots(&self, opts: &BuildOptions) -> Result<usize, TaskError> {
        match self.fewshot {
            Fewshot::ZeroShot => {
                if opts.suite == Suite::OpenLlmV1 && opts.num_fewshot.is_some_and(|k| k != 0) {
                    return Err(TaskError::Config {
                        task: self.id.to_string(),
                        message: "is 0-shot only (the harness asserts num_fewshot == 0)"
                            .to_string(),
                    });
                }
                Ok(0)
            }
            Fewshot::FirstN { shots, .. } | Fewshot::Random { shots, .. } => {
                Ok(opts.num_fewshot.unwrap_or(shots))
            }
        }
    }

    /// The built requests of this task.
    pub fn requests(
        &'static self,
        suite: Suite,
        num_fewshot: usize,
        docs: Vec<crate::requests::DocRequests>,
        deviations: Vec<String>,
    ) -> TaskRequests {
        TaskRequests {
            task: self,
            suite,
            num_fewshot,
            docs,
            deviations,
        }
    }
}
