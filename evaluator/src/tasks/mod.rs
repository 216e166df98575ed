//! The leaderboard tasks: from dataset records to [`DocRequests`] (exact
//! harness prompts, few-shot draws and evaluation order per [`Suite`]), and from
//! a backend's [`Response`]s back to metric values, [`Score`]s and
//! [`SampleDetail`]s. Nothing here depends on a model.
//!
//! Each benchmark is one file (`arc.rs`, …) declaring its [`spec::TaskSpec`]
//! (splits, counts, Hub sources, few-shot rule, request builder, metrics),
//! listed in [`TASKS`] (the registry, one line per task; [`registry`] looks
//! them up); [`builder`] is the shared request builder,
//! [`scoring`] the shared scoring. Entry points: [`build`] and [`score`].
//!
//! [`Response`]: crate::requests::Response

pub mod builder;
pub mod registry;
pub mod scoring;
pub mod spec;

/// Declares each task's module (its file) and lists its spec in [`TASKS`].
macro_rules! tasks {
    ($($task:ident),* $(,)?) => {
        $(pub mod $task;)*
        /// Every task, in the leaderboard's column order.
        pub static TASKS: &[&spec::TaskSpec] = &[$(&$task::SPEC),*];
    };
}

// The registry: one line per task.
tasks! {
    arc,
    hellaswag,
    mmlu,
    truthfulqa,
    winogrande,
    gsm8k,
}

pub use scoring::score;

use crate::data::{DataError, DataSource};
use crate::requests::{DocRequests, SampleDetail};
use crate::suite::{DrawMode, Suite};
use leaderboard_format::schema::Score;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;

/// A replacement few-shot pool for HellaSwag when its train split is absent:
/// the two harness configurations people use in that case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FewshotFallback {
    /// Draw k+1 from the validation split, then drop the evaluated doc:
    /// lm-eval's behaviour when `training_split` is null and no
    /// `fewshot_split` is set (the few-shot docs fall back to the validation
    /// docs and `fewshot_split == test_split`).
    Validation,
    /// Draw k from the validation split, keeping the evaluated doc if drawn:
    /// a harness config with `fewshot_split: validation` (and `test_split`
    /// null), where `fewshot_split != test_split`.
    ValidationSplit,
}

impl FewshotFallback {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FewshotFallback::Validation => "validation",
            FewshotFallback::ValidationSplit => "validation-split",
        }
    }

    /// The `Provenance.deviations` entry recording the fallback.
    pub fn deviation(self) -> String {
        format!("hellaswag-fewshot-fallback:{}", self.name())
    }
}

impl FromStr for FewshotFallback {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "validation" => Ok(FewshotFallback::Validation),
            "validation-split" => Ok(FewshotFallback::ValidationSplit),
            _ => Err(format!(
                "expected `validation` or `validation-split`, got {s:?}"
            )),
        }
    }
}

impl fmt::Display for FewshotFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to build a task's requests.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub suite: Suite,
    /// None: the leaderboard's count ([`leaderboard_format::schema::Benchmark::num_fewshot`]).
    pub num_fewshot: Option<usize>,
    /// Evaluate only the first N docs (OLD: of the shuffled order).
    pub limit: Option<usize>,
    /// NEW only: standalone task (k+1 draws for hellaswag/winogrande) or `openllm` group.
    pub draw_mode: DrawMode,
    /// Opt-in replacement pool when HellaSwag's train split is missing.
    pub hellaswag_fallback: Option<FewshotFallback>,
}

impl BuildOptions {
    pub fn new(suite: Suite) -> BuildOptions {
        BuildOptions {
            suite,
            num_fewshot: None,
            limit: None,
            draw_mode: DrawMode::default(),
            hellaswag_fallback: None,
        }
    }
}

/// Why a task could not be built or scored.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{task}: {message}")]
    Config { task: String, message: String },
    #[error("{task} doc {doc_id}: {message}")]
    Responses {
        task: String,
        doc_id: usize,
        message: String,
    },
}

/// A task's requests, in evaluation order.
#[derive(Debug, Clone)]
pub struct TaskRequests {
    /// The task they were built from.
    pub task: &'static spec::TaskSpec,
    pub suite: Suite,
    pub num_fewshot: usize,
    /// In evaluation order (OLD: shuffled; NEW: dataset order). MMLU: subject
    /// after subject, each in its own evaluation order.
    pub docs: Vec<DocRequests>,
    /// Departures from the suite (e.g. the HellaSwag fallback pool).
    pub deviations: Vec<String>,
}

/// Aggregated scores and per-document details of one task.
#[derive(Debug, Clone)]
pub struct TaskResults {
    pub scores: Vec<Score>,
    pub details: Vec<SampleDetail>,
}

/// Build `task`'s requests from `src` (a spec, or the [`Benchmark`] column
/// whose task it is).
///
/// [`Benchmark`]: leaderboard_format::schema::Benchmark
pub fn build(
    task: impl Into<&'static spec::TaskSpec>,
    src: &dyn DataSource,
    opts: &BuildOptions,
) -> Result<TaskRequests, TaskError> {
    (task.into().build)(src, opts)
}

/// Parse a task id (`arc_challenge`, …) into its spec.
pub fn parse_task(s: &str) -> Result<&'static spec::TaskSpec, String> {
    registry::find(s).ok_or_else(|| {
        let all: Vec<&str> = TASKS.iter().map(|t| t.id).collect();
        format!("expected a task, one of {}; got {s:?}", all.join(", "))
    })
}

/// Accept an integer or a string holding one (HF stores some labels as strings).
pub fn de_int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(i64),
        Str(String),
    }
    match IntOrString::deserialize(d)? {
        IntOrString::Int(i) => Ok(i),
        IntOrString::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, got {s:?}"))),
    }
}
