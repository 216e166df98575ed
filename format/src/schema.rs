//! The results format: the one contract between the evaluator and the site.
//!
//! # Results format, version 1
//!
//! A results folder (`results/` in the repository) holds Apache Parquet files
//! (`*.parquet`), each with **one or more evaluation runs, one run per row**.
//! The file-level key-value metadata carries [`FORMAT_VERSION_KEY`] =
//! [`FORMAT_VERSION`], written as plain decimal digits (`1`; not ` 1`, `+1`
//! or `01`); a reader refuses a file without it or with another version.
//! Other key-value entries (pyarrow's `ARROW:schema`, pandas' `pandas`) are
//! ignored, except [`CONTENT_SHA256_KEY`] (see [`crate::read`]).
//!
//! A *run* is one model (at one revision, in one precision) evaluated by one
//! tool on one task suite. Its identity is `(model_id, revision, precision)`
//! with the model id compared case-insensitively, as the Hub does
//! ([`crate::ids::fold`]): two runs with the same identity anywhere in
//! `results/` are an error, and so are two spellings of one Hub repo.
//!
//! How files are read (accepted encodings, size limits, integrity check) is
//! documented in [`crate::read`]; the rules `check` adds on top of the types
//! below (consistency of averages, shots and sample counts; look-alike ids)
//! in [`crate::check`]; a guide to writing a file with pandas / pyarrow in
//! [`crate::guide`].
//!
//! ## Columns
//!
//! | column | Arrow type | null | meaning |
//! |---|---|---|---|
//! | `model_id` | Utf8 | no | Hugging Face repo id, `org/name` (or `name` for a few legacy ids); must pass [`crate::ids::check_model_id`] |
//! | `revision` | Utf8 | yes | commit sha of the evaluated weights (40 lowercase hex digits, [`crate::ids::is_valid_revision`]); null = unknown |
//! | `precision` | Utf8 | no | one of [`Precision`]'s names: `float32`, `float16`, `bfloat16`, `8bit`, `4bit`, `GPTQ` |
//! | `precision_detail` | Utf8 | yes | exact storage, e.g. GGUF tensor types `Q4_1,Q8_0,F32` |
//! | `weight_type` | Utf8 | no | [`WeightType`]: `Original`, `Adapter`, `Delta` |
//! | `base_model` | Utf8 | yes | repo id of the base model (adapters, deltas, fine-tunes) |
//! | `model_type` | Utf8 | no | [`ModelType`]: `pretrained`, `continuously pretrained`, `fine-tuned`, `chat`, `merge`, `unknown` |
//! | `architecture` | Utf8 | yes | HF `config.json` `architectures`, `;`-joined, e.g. `LlamaForCausalLM` |
//! | `params_billions` | Float64 | yes | parameter count in **billions**; null = unknown |
//! | `params_truncated` | Boolean | no | true when `params_billions` was truncated to a whole number (the v1 archive did this: 6.74 B was stored as 6, < 1 B as 0; v1's 0 also meant unknown, so `0` + truncated = "under 1 B or unknown") |
//! | `license` | Utf8 | yes | Hub licence tag, e.g. `apache-2.0` |
//! | `is_merge` | Boolean | no | the model is a merge of other models (plain sense, not v1's inverted column) |
//! | `is_moe` | Boolean | no | mixture of experts (plain sense) |
//! | `available_on_hub` | Boolean | yes | the repo was public on the Hub at the last metadata refresh |
//! | `hub_likes` | Int64 | yes | Hub likes (hearts) at the last metadata refresh |
//! | `submitted_at` | Timestamp(s, UTC) | yes | when the evaluation was requested (readers also accept ms, µs and ns, truncated to the second) |
//! | `evaluated_at` | Timestamp(s, UTC) | yes | when the evaluation finished |
//! | `weights_sha256` | Utf8 | yes | sha256 over the weight files, as [`weights hash`](Run::weights_sha256) describes |
//! | `tool` | Utf8 | no | what produced the numbers, e.g. `leaderboard-evaluator` or `open-llm-leaderboard-v1` |
//! | `tool_version` | Utf8 | yes | version of that tool (crate version, harness commit, …) |
//! | `suite` | Utf8 | no | task suite: `openllm-v1` (harness b281b09 semantics) or `lm-eval-0.4` |
//! | `source_dataset` | Utf8 | yes | for imported runs: the file or dataset the row was taken from |
//! | `run_config` | Utf8 | yes | the tool's resolved run configuration, a JSON object: for `leaderboard-evaluator`, everything that decided the numbers (evaluator build, model files and hashes, device, dtype, kernel path, batch budget, task options, data), as `evaluator run` prints it; null for imported runs. **Optional column**: a file without it reads as all null (files written before it was added) |
//! | `deviations` | `List<Utf8>` | no | departures from the suite that make the run **not comparable** (e.g. `hellaswag-fewshot-fallback:validation`); empty = faithful |
//! | `reported_average` | Float64 | yes | Average as published by the source, in **percent** (v1 computed it on unrounded scores, so it can differ from the mean of the rounded six by up to 0.0083); null for our own runs, whose Average is [`Run::average`] |
//! | `scores` | `List<Struct>` | no | one entry per (task, metric); see below |
//!
//! Each `scores` entry is a struct:
//!
//! | field | Arrow type | null | meaning |
//! |---|---|---|---|
//! | `task` | Utf8 | no | a [`Benchmark`] task id, `mmlu_<subject>` for one of the 57 [`MMLU_SUBJECTS`], or an **extra task**'s id (lowercase letters, digits and `_`, at most 64: a task outside the six columns, shown on the model page only; [`check_task_id`]) |
//! | `metric` | Utf8 | no | one of [`METRICS`]; an extra task's: any name of the same form ([`check_metric`]) |
//! | `value` | Float64 | no | a **fraction** in `[0, 1]` (the site shows percent) |
//! | `stderr` | Float64 | yes | standard error of `value`, as a fraction |
//! | `n_samples` | Int64 | yes | number of documents the value is the mean of |
//! | `num_fewshot` | Int32 | yes | few-shot examples per prompt |
//!
//! Runs are written sorted by identity, scores by (task, metric), so equal
//! inputs give byte-identical files.

use chrono::{DateTime, Utc};
use std::fmt;

/// Key of the Parquet key-value metadata entry holding the format version.
pub const FORMAT_VERSION_KEY: &str = "leaderboard.format_version";
/// The version this code writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// `tool` of the runs imported from the v1 archive.
pub const V1_ARCHIVE_TOOL: &str = "open-llm-leaderboard-v1";
/// The results file holding the v1 archive, at the top of the results folder.
pub const V1_ARCHIVE_FILE: &str = "open-llm-leaderboard-v1.parquet";

/// Key of the optional key-value metadata entry holding the sha256 of the
/// file's decoded content ([`crate::read`]): written by this crate's writers,
/// verified by its readers where present.
pub const CONTENT_SHA256_KEY: &str = "leaderboard.content_sha256";

/// File-name suffix of a per-sample details file. `evaluator run` writes
/// `<name>.details.parquet` beside each results file `<name>.parquet`; its
/// columns are documented in [`crate::details`]. The results
/// reader skips details files; `check` requires the sibling results file and
/// the [`DETAILS_FORMAT_VERSION_KEY`] metadata entry.
pub const DETAILS_SUFFIX: &str = ".details.parquet";
/// Key of the Parquet key-value metadata entry holding the details format version.
pub const DETAILS_FORMAT_VERSION_KEY: &str = "leaderboard.details_format_version";

/// Whether a file name is that of a per-sample details file.
pub fn is_details_file(name: &str) -> bool {
    name.len() > DETAILS_SUFFIX.len() && name.ends_with(DETAILS_SUFFIX)
}

/// One evaluation run: a model at a revision and precision, scored by one tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub model_id: String,
    pub revision: Option<String>,
    pub precision: Precision,
    pub precision_detail: Option<String>,
    pub weight_type: WeightType,
    pub base_model: Option<String>,
    pub model_type: ModelType,
    pub architecture: Option<String>,
    pub params_billions: Option<f64>,
    pub params_truncated: bool,
    pub license: Option<String>,
    pub is_merge: bool,
    pub is_moe: bool,
    pub available_on_hub: Option<bool>,
    pub hub_likes: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub evaluated_at: Option<DateTime<Utc>>,
    /// sha256 (hex) of the weights: of the one file for GGUF, else of the
    /// concatenated `sha256  name\n` lines of every weight file, sorted by name.
    pub weights_sha256: Option<String>,
    pub provenance: Provenance,
    /// Average in percent as published by the source; see the module docs.
    pub reported_average: Option<f64>,
    pub scores: Vec<Score>,
}

/// Where a run's numbers come from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provenance {
    pub tool: String,
    pub tool_version: Option<String>,
    pub suite: String,
    pub source_dataset: Option<String>,
    /// The tool's resolved run configuration (JSON object), see the module docs.
    pub run_config: Option<String>,
    /// Non-empty: the run departs from its suite and is not comparable.
    pub deviations: Vec<String>,
}

/// One value of one metric on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub task: String,
    pub metric: String,
    /// A fraction in `[0, 1]`.
    pub value: f64,
    pub stderr: Option<f64>,
    pub n_samples: Option<i64>,
    pub num_fewshot: Option<i32>,
}

/// The identity of a run: no two runs in `results/` may share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    pub model_id: String,
    pub revision: Option<String>,
    pub precision: Precision,
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} @ {} ({})",
            self.model_id,
            self.revision.as_deref().unwrap_or("unknown revision"),
            self.precision
        )
    }
}

/// Suites the evaluator implements (see `evaluator/tests/fixtures/lm-eval-tasks.md`).
pub const SUITES: [&str; 2] = ["openllm-v1", "lm-eval-0.4"];

/// Every metric name a score may carry.
pub const METRICS: [&str; 6] = [
    "acc",
    "acc_norm",
    "mc1",
    "mc2",
    "exact_match_strict",
    "exact_match_flexible",
];

/// The 57 MMLU subjects, in the harness's (alphabetical) order.
pub const MMLU_SUBJECTS: [&str; 57] = [
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
];

/// The six leaderboard benchmarks, in column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Benchmark {
    Arc,
    HellaSwag,
    Mmlu,
    TruthfulQa,
    Winogrande,
    Gsm8k,
}

impl Benchmark {
    pub const ALL: [Benchmark; 6] = [
        Benchmark::Arc,
        Benchmark::HellaSwag,
        Benchmark::Mmlu,
        Benchmark::TruthfulQa,
        Benchmark::Winogrande,
        Benchmark::Gsm8k,
    ];

    /// Task id used in `scores.task`.
    pub fn task(self) -> &'static str {
        match self {
            Benchmark::Arc => "arc_challenge",
            Benchmark::HellaSwag => "hellaswag",
            Benchmark::Mmlu => "mmlu",
            Benchmark::TruthfulQa => "truthfulqa_mc",
            Benchmark::Winogrande => "winogrande",
            Benchmark::Gsm8k => "gsm8k",
        }
    }

    /// Column header, as v1 showed it.
    pub fn label(self) -> &'static str {
        match self {
            Benchmark::Arc => "ARC",
            Benchmark::HellaSwag => "HellaSwag",
            Benchmark::Mmlu => "MMLU",
            Benchmark::TruthfulQa => "TruthfulQA",
            Benchmark::Winogrande => "Winogrande",
            Benchmark::Gsm8k => "GSM8K",
        }
    }

    /// Few-shot count the leaderboard uses.
    pub fn num_fewshot(self) -> i32 {
        match self {
            Benchmark::Arc => 25,
            Benchmark::HellaSwag => 10,
            Benchmark::Mmlu => 5,
            Benchmark::TruthfulQa => 0,
            Benchmark::Winogrande => 5,
            Benchmark::Gsm8k => 5,
        }
    }

    /// Documents the benchmark evaluates (its evaluation split): the
    /// `n_samples` of its scores in a run without deviations.
    pub fn n_docs(self) -> i64 {
        match self {
            Benchmark::Arc => 1172,
            Benchmark::HellaSwag => 10042,
            Benchmark::Mmlu => 14042,
            Benchmark::TruthfulQa => 817,
            Benchmark::Winogrande => 1267,
            Benchmark::Gsm8k => 1319,
        }
    }

    /// Metrics that give the leaderboard column, in order of preference: the
    /// first one a run has is shown. (`mmlu`'s `acc` is the unweighted mean of
    /// the 57 subjects; GSM8K is `acc` under `openllm-v1` and
    /// `exact_match_strict` under `lm-eval-0.4`.)
    pub fn headline_metrics(self) -> &'static [&'static str] {
        match self {
            Benchmark::Arc | Benchmark::HellaSwag => &["acc_norm"],
            Benchmark::Mmlu | Benchmark::Winogrande => &["acc"],
            Benchmark::TruthfulQa => &["mc2"],
            Benchmark::Gsm8k => &["acc", "exact_match_strict"],
        }
    }

    pub fn from_task(task: &str) -> Option<Benchmark> {
        Benchmark::ALL.into_iter().find(|b| b.task() == task)
    }
}

/// Test documents of each of the 57 [`MMLU_SUBJECTS`], in the same order
/// (they sum to [`Benchmark::Mmlu`]'s 14,042).
pub const MMLU_SUBJECT_DOCS: [i64; 57] = [
    100, 135, 152, 100, 265, 144, 100, 100, 100, 173, 102, 100, 235, 114, 145, 378, 126, 100, 310,
    203, 100, 165, 198, 193, 390, 270, 238, 151, 545, 216, 204, 237, 223, 131, 121, 108, 163, 112,
    103, 234, 100, 783, 346, 895, 306, 311, 324, 282, 1534, 272, 612, 110, 245, 201, 100, 166, 171,
];

/// Whether `task` is one of the leaderboard's task ids: a benchmark or an MMLU subject.
pub fn is_known_task(task: &str) -> bool {
    task_facts(task).is_some()
}

/// Longest task id or metric name of an extra task.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `s` is a well-formed name: an ASCII lowercase letter, then lowercase
/// letters, digits and `_`, at most [`MAX_NAME_LEN`] bytes.
fn is_name(s: &str) -> bool {
    s.len() <= MAX_NAME_LEN
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Checks a score's or a detail's task id: one of the leaderboard's (a
/// [`Benchmark`] task or `mmlu_<subject>`), or an **extra task**: any other
/// well-formed name (lowercase letters, digits, `_`; at most [`MAX_NAME_LEN`]),
/// recorded and shown on the model page but in no column, its counts unchecked.
/// An `mmlu_` name that is not a subject is refused (a misspelt subject would
/// otherwise pass as an extra task).
pub fn check_task_id(task: &str) -> Result<(), String> {
    if is_known_task(task) {
        return Ok(());
    }
    if task.starts_with("mmlu_") {
        return Err(format!(
            "unknown MMLU subject {:?}; expected mmlu_<one of the 57 subjects>",
            crate::ids::shorten(task)
        ));
    }
    if !is_name(task) {
        return Err(format!(
            "task id {:?}; expected a benchmark task id, mmlu_<subject>, or an extra task's id (lowercase letters, digits and _, at most {MAX_NAME_LEN})",
            crate::ids::shorten(task)
        ));
    }
    Ok(())
}

/// Checks a metric name for `task` (whose id passed [`check_task_id`]): the
/// leaderboard's tasks use [`METRICS`]; an extra task any well-formed name.
pub fn check_metric(task: &str, metric: &str) -> Result<(), String> {
    if is_known_task(task) {
        if METRICS.contains(&metric) {
            return Ok(());
        }
        return Err(format!(
            "unknown metric {:?}; expected one of {}",
            crate::ids::shorten(metric),
            METRICS.join(", ")
        ));
    }
    if !is_name(metric) {
        return Err(format!(
            "metric {:?}; expected lowercase letters, digits and _, at most {MAX_NAME_LEN}",
            crate::ids::shorten(metric)
        ));
    }
    Ok(())
}

/// The benchmark a task id belongs to and its document count: a benchmark
/// task, or `mmlu_<subject>` (benchmark MMLU, the subject's count).
pub fn task_facts(task: &str) -> Option<(Benchmark, i64)> {
    if let Some(b) = Benchmark::from_task(task) {
        return Some((b, b.n_docs()));
    }
    let subject = task.strip_prefix("mmlu_")?;
    let i = MMLU_SUBJECTS.iter().position(|s| *s == subject)?;
    Some((Benchmark::Mmlu, MMLU_SUBJECT_DOCS[i]))
}

impl Run {
    pub fn key(&self) -> RunKey {
        RunKey {
            model_id: self.model_id.clone(),
            revision: self.revision.clone(),
            precision: self.precision,
        }
    }

    /// The score shown in a benchmark's column: the first headline metric present.
    pub fn headline(&self, b: Benchmark) -> Option<&Score> {
        b.headline_metrics().iter().find_map(|m| {
            self.scores
                .iter()
                .find(|s| s.task == b.task() && s.metric == *m)
        })
    }

    /// The Average column in percent: the published one for imported runs,
    /// else the mean of the six headline scores (None if one is missing).
    pub fn average(&self) -> Option<f64> {
        if let Some(a) = self.reported_average {
            return Some(a);
        }
        let mut sum = 0.0;
        for b in Benchmark::ALL {
            sum += self.headline(b)?.value * 100.0;
        }
        Some(sum / 6.0)
    }

    /// Runs with deviations from their suite are shown but not ranked as comparable.
    pub fn is_comparable(&self) -> bool {
        self.provenance.deviations.is_empty()
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The name stored in the Parquet column.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "expected one of {}, got {:?}",
                        [$($text),+].join(", "),
                        s
                    )),
                }
            }
        }
    };
}

string_enum!(
    /// Numeric precision the model was evaluated in, in the leaderboard's terms.
    Precision {
        Float32 => "float32",
        Float16 => "float16",
        BFloat16 => "bfloat16",
        Int8 => "8bit",
        Int4 => "4bit",
        Gptq => "GPTQ",
    }
);

string_enum!(
    /// How the weights relate to a base model.
    WeightType {
        Original => "Original",
        Adapter => "Adapter",
        Delta => "Delta",
    }
);

string_enum!(
    /// The leaderboard's model categories.
    ModelType {
        Pretrained => "pretrained",
        ContinuouslyPretrained => "continuously pretrained",
        FineTuned => "fine-tuned",
        Chat => "chat",
        Merge => "merge",
        Unknown => "unknown",
    }
);

impl ModelType {
    /// The symbol v1 showed in its "T" column.
    pub fn symbol(self) -> &'static str {
        match self {
            ModelType::Pretrained => "🟢",
            ModelType::ContinuouslyPretrained => "🟩",
            ModelType::FineTuned => "🔶",
            ModelType::Chat => "💬",
            ModelType::Merge => "🤝",
            ModelType::Unknown => "?",
        }
    }
}
