//! Verification records: `evaluator verify` re-evaluated a seeded sample of a run's
//! documents with the model the run names and recorded whether they agree.
//!
//! # Verification format, version 1
//!
//! One JSON file per verified results file, under the results folder's
//! `verifications/` with the results file's path and `.json` for `.parquet`: the run
//! `results/org/name/openllm-v1_float32_abc.parquet` is verified by
//! `results/verifications/org/name/openllm-v1_float32_abc.json` ([`record_path`]).
//! One object, these keys in this order, no others:
//!
//! | key | JSON type | meaning |
//! |---|---|---|
//! | `format_version` | integer | [`VERIFICATION_FORMAT_VERSION`] (`1`) |
//! | `results_file` | string | the verified results file, relative to the results folder, `/`-separated |
//! | `results_sha256` | string | sha256 (hex) of its bytes when verified |
//! | `details_sha256` | string | sha256 (hex) of its details file's bytes when verified |
//! | `model_source` | string | what `evaluator verify --model` loaded (a Hub id or a file name, no folders) |
//! | `weights_sha256` | string | of the weights loaded: the run's `weights_sha256` |
//! | `evaluator_version` | string | the verifying evaluator (`version+commit`) |
//! | `verified_at` | string | RFC 3339, UTC, whole seconds |
//! | `seed` | integer | the sample's seed |
//! | `docs_per_task` | integer | documents sampled per task (all of a task's when it has fewer) |
//! | `tolerance` | number | largest difference of a log-likelihood, in nats, that still agrees |
//! | `documents` | integer | documents re-evaluated |
//! | `agreeing` | integer | of them, those whose prediction, correctness, prompt and (GSM8K) generated text are equal and whose log-likelihoods are within `tolerance` |
//! | `scores_match_details` | bool | every score of the results file is the mean its details file gives |
//! | `disagreements` | array | at most [`MAX_DISAGREEMENTS`] `{"task", "doc_id", "what"}` objects, `what` at most 500 characters |
//!
//! A run **verifies** when `agreeing == documents` and `scores_match_details` ([`Verification::verified`]).
//!
//! `check` reads every `verifications/**/*.json` (at most [`MAX_RECORD_BYTES`]): the
//! shape above, the path matching `results_file`, that results file present, and its
//! bytes still hashing to `results_sha256` and its details' to `details_sha256` (a record
//! of an older file is stale: verify again or remove it).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::ResultsError;

/// The version this code writes and reads.
pub const VERIFICATION_FORMAT_VERSION: u32 = 1;
/// The folder of the records, under the results folder.
pub const VERIFICATIONS_DIR: &str = "verifications";
/// Largest record file.
pub const MAX_RECORD_BYTES: u64 = 256 * 1024;
/// Most disagreements listed.
pub const MAX_DISAGREEMENTS: usize = 100;
/// Longest `what`.
pub const MAX_WHAT_CHARS: usize = 500;

/// One verification record (the table in the module docs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    pub format_version: u32,
    pub results_file: String,
    pub results_sha256: String,
    pub details_sha256: String,
    pub model_source: String,
    pub weights_sha256: String,
    pub evaluator_version: String,
    #[serde(with = "crate::requests::seconds")]
    pub verified_at: DateTime<Utc>,
    pub seed: u64,
    pub docs_per_task: u64,
    pub tolerance: f64,
    pub documents: u64,
    pub agreeing: u64,
    pub scores_match_details: bool,
    pub disagreements: Vec<Disagreement>,
}

/// One document (or score) that did not agree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disagreement {
    pub task: String,
    /// The document, or null for a score of the results file.
    pub doc_id: Option<u64>,
    pub what: String,
}

impl Verification {
    /// The run's numbers were confirmed: every sampled document agrees and the scores
    /// are the details' means.
    pub fn verified(&self) -> bool {
        self.documents > 0 && self.agreeing == self.documents && self.scores_match_details
    }

    /// `verified: 48/48 documents agree`, or what disagreed.
    pub fn summary(&self) -> String {
        if self.verified() {
            format!(
                "verified: {}/{} documents agree",
                self.agreeing, self.documents
            )
        } else if !self.scores_match_details {
            format!(
                "verification failed: scores do not match the details; {}/{} documents agree",
                self.agreeing, self.documents
            )
        } else {
            format!(
                "verification failed: {}/{} documents agree",
                self.agreeing, self.documents
            )
        }
    }

    /// What is wrong with the record on its own: versions, hashes, counts, bounds.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, m: String| out.push((key.to_string(), m));
        if self.format_version != VERIFICATION_FORMAT_VERSION {
            bad(
                "format_version",
                format!(
                    "{}; expected {VERIFICATION_FORMAT_VERSION}",
                    self.format_version
                ),
            );
        }
        for (key, v) in [
            ("results_sha256", &self.results_sha256),
            ("details_sha256", &self.details_sha256),
            ("weights_sha256", &self.weights_sha256),
        ] {
            if !crate::ids::is_valid_sha256(v) {
                bad(key, "expected 64 lowercase hex digits".into());
            }
        }
        for (key, v, max) in [
            ("model_source", &self.model_source, 300),
            ("evaluator_version", &self.evaluator_version, 200),
            ("results_file", &self.results_file, 1000),
        ] {
            if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
                bad(
                    key,
                    format!("expected 1 to {max} characters, no control characters"),
                );
            }
        }
        if !(self.tolerance.is_finite() && (0.0..=10.0).contains(&self.tolerance)) {
            bad("tolerance", "expected a number of nats from 0 to 10".into());
        }
        if self.agreeing > self.documents {
            bad(
                "agreeing",
                format!(
                    "{} of {} documents; expected at most `documents`",
                    self.agreeing, self.documents
                ),
            );
        }
        if self.disagreements.len() > MAX_DISAGREEMENTS {
            bad(
                "disagreements",
                format!(
                    "{} entries; at most {MAX_DISAGREEMENTS}",
                    self.disagreements.len()
                ),
            );
        }
        for (i, d) in self.disagreements.iter().enumerate() {
            let ok = |s: &str, max: usize| {
                !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
            };
            if !ok(&d.task, 100) || !ok(&d.what, MAX_WHAT_CHARS) {
                bad(
                    &format!("disagreements[{i}]"),
                    format!(
                        "expected a task id and a `what` of at most {MAX_WHAT_CHARS} characters"
                    ),
                );
            }
        }
        out
    }
}

/// The record of the results file `results_rel` (relative to the results folder).
pub fn record_path(results_rel: &Path) -> PathBuf {
    Path::new(VERIFICATIONS_DIR).join(results_rel.with_extension("json"))
}

/// The results file a record path (relative to the results folder) verifies.
pub fn results_of_record(record_rel: &Path) -> Option<PathBuf> {
    let rest = record_rel.strip_prefix(VERIFICATIONS_DIR).ok()?;
    (rest.extension()? == "json").then(|| rest.with_extension("parquet"))
}

/// Lowercase hex sha256 of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<String, ResultsError> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Reads one record, bounded by [`MAX_RECORD_BYTES`]; errors name the file and line.
pub fn read_record(path: &Path) -> Result<Verification, ResultsError> {
    crate::requests::read_small_json(
        path,
        MAX_RECORD_BYTES,
        "a verification record",
        "a verification record (see the format crate's `verifications` docs)",
    )
}

/// Writes a record atomically: pretty JSON in the documented key order, final newline.
pub fn write_record(path: &Path, v: &Verification) -> Result<(), ResultsError> {
    let mut s = serde_json::to_string_pretty(v).expect("a record serializes");
    s.push('\n');
    crate::atomic::write_atomic(path, s.as_bytes())
}
