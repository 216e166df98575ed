//! Evaluation requests: the queue's files in `requests/`.
//!
//! # Request format, version 1
//!
//! A model author asks for an evaluation by adding one JSON file to the
//! requests folder (`requests/` in the repository) in a pull request; a
//! worker (`evaluator work`) takes the oldest waiting request, evaluates it
//! and records each change of status in the same file. The file is named as
//! v1 named it, so v1's tooling finds it:
//!
//! ```text
//! requests/<org>/<name>_eval_request_<private>_<precision>_<weight_type>.json
//! ```
//!
//! with `<org>/<name>` the model id, `<private>` `False` or `True`, and the
//! precision and weight type as in the fields below ([`Request::file_name`]).
//! Other files: `README.md` anywhere; nothing else (no links, hidden files,
//! `..`, or names outside `[A-Za-z0-9._-]`).
//!
//! The object has v1's fields, in v1's spelling and order, then this
//! project's (no other keys are allowed):
//!
//! | key | JSON type | meaning |
//! |---|---|---|
//! | `model` | string | Hub model id `org/name` ([`crate::ids::check_model_id`]) |
//! | `base_model` | string | base model id for `Adapter` / `Delta` weights (required for those), else `""` |
//! | `revision` | string | the commit sha the request was resolved to (40 lowercase hex digits) |
//! | `private` | bool | whether the repo is private |
//! | `precision` | string | [`Precision`]: `float32`, `float16`, `bfloat16`, `8bit`, `4bit`, `GPTQ` |
//! | `weight_type` | string | [`WeightType`]: `Original`, `Adapter`, `Delta` |
//! | `status` | string | [`Status`]: `PENDING`, `RUNNING`, `FINISHED`, `FAILED`, `RERUN` |
//! | `submitted_time` | string | RFC 3339, UTC, whole seconds: `2026-12-03T15:04:05Z` |
//! | `model_type` | string | v1's `"<symbol> : <type>"`, e.g. `"🔶 : fine-tuned"` ([`ModelType`]; the bare name is read too) |
//! | `likes` | integer | Hub likes when submitted |
//! | `params` | number | parameters in billions (from the safetensors header), `0` if unknown |
//! | `license` | string | Hub licence tag, `""` if none (at most 64 of `[A-Za-z0-9._-]`) |
//! | `architectures` | string | `config.json` `architectures`, `;`-joined (at most 200 of `[A-Za-z0-9_;]`) |
//! | `job_id` | string or null | the job of the latest run (a worker's `host:pid`, a Slurm job id) |
//! | `job_start_time` | string or null | when the latest run started (RFC 3339) |
//! | `format_version` | integer | [`REQUEST_FORMAT_VERSION`] (`1`) |
//! | `is_merge` | bool | a merge, from the card as v1 derived it (tags `merge`, `moerge`, `mergekit`, `lazymergekit`; "merged model" in the text) |
//! | `is_moe` | bool | a mixture of experts (tags `moe`, `moerge`; "moe" or "mixtral" in the card's text; `moe` a word of the name) |
//! | `history` | array | every status the request had, oldest first ([`Transition`]) |
//! | `results_file` | string or null | once `FINISHED`: the results file, relative to the results folder (`org/name/….parquet`) |
//!
//! Each `history` entry:
//!
//! | key | JSON type | meaning |
//! |---|---|---|
//! | `status` | string | the status entered |
//! | `time` | string | when (RFC 3339, UTC) |
//! | `host` | string or null | where it ran (required for `RUNNING`) |
//! | `job_id` | string or null | the job that ran it |
//! | `reason` | string or null | why: required for `FAILED` (the loader's or evaluator's message), optional otherwise (`"interrupted (SIGTERM)"`) |
//! | `log_tail` | array of strings or null | for `FAILED`: the last lines of the run's log |
//!
//! # What `check` enforces
//!
//! - Size: a file of at most [`MAX_REQUEST_BYTES`]; strings bounded
//!   ([`MAX_REASON_CHARS`], [`MAX_LOG_LINES`] × [`MAX_LOG_LINE_CHARS`], 200 for
//!   host and job ids, no control characters other than in log lines' tabs).
//! - The path matches the fields (org folder, name, private, precision,
//!   weight type).
//! - **One request per model + revision + precision + weight type** in the
//!   folder (model ids compared case-insensitively).
//! - No `PENDING`, `RERUN` or `RUNNING` request for a model on the
//!   do-not-submit list (category `do-not-submit` in `results/flags.toml`).
//! - **A consistent history**: it starts `PENDING`, each step is one of
//!   [`Status::can_follow`], times never go back, the first is not before
//!   `submitted_time`, and the last status is `status`.
//! - `results_file` is set exactly when `FINISHED`, is a plain relative path
//!   ending in `.parquet` that exists in the results folder, and holds a run
//!   of the request's model (case-insensitively), revision and precision.
//!
//! Files are written by [`write_request`]: keys in the order above, two-space
//! indentation, a final newline, so one change of status is a small diff.

use crate::schema::{ModelType, Precision, WeightType};
use crate::ResultsError;
use chrono::{DateTime, Utc};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The version written in `format_version`; the only one read.
pub const REQUEST_FORMAT_VERSION: u32 = 1;
/// Largest request file read, in bytes.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;
/// Longest `reason`, in characters.
pub const MAX_REASON_CHARS: usize = 2000;
/// Most lines in a `log_tail`.
pub const MAX_LOG_LINES: usize = 40;
/// Longest line of a `log_tail`, in characters.
pub const MAX_LOG_LINE_CHARS: usize = 500;
/// Most `history` entries.
pub const MAX_HISTORY: usize = 200;
/// Longest host name or job id, in characters.
pub const MAX_ID_CHARS: usize = 200;
/// The middle of a request file's name.
pub const REQUEST_INFIX: &str = "_eval_request_";

/// Where a request is in the queue.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Waiting for a worker.
    Pending,
    /// A worker is evaluating it.
    Running,
    /// Evaluated; `results_file` holds the results.
    Finished,
    /// The evaluation failed; the last transition says why.
    Failed,
    /// v1's status for "evaluate again": a worker takes it like `PENDING`.
    Rerun,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Running,
        Status::Finished,
        Status::Failed,
        Status::Rerun,
    ];

    /// The name written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Running => "RUNNING",
            Status::Finished => "FINISHED",
            Status::Failed => "FAILED",
            Status::Rerun => "RERUN",
        }
    }

    /// Whether a worker may take a request in this status.
    pub fn is_waiting(self) -> bool {
        matches!(self, Status::Pending | Status::Rerun)
    }

    /// Whether `self` may directly follow `prev` in a history:
    /// `PENDING`/`RERUN` → `RUNNING` → `FINISHED` / `FAILED` / `PENDING` (a run
    /// stopped before the end waits again); `FINISHED` / `FAILED` → `RERUN`;
    /// `FAILED` → `PENDING` (resubmitted).
    pub fn can_follow(self, prev: Status) -> bool {
        use Status::*;
        matches!(
            (prev, self),
            (Pending | Rerun, Running)
                | (Running, Finished | Failed | Pending)
                | (Finished | Failed, Rerun)
                | (Failed, Pending)
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of status.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub status: Status,
    #[serde(with = "seconds")]
    pub time: DateTime<Utc>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub log_tail: Option<Vec<String>>,
}

/// One request file; see the module docs for each field.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub model: String,
    pub base_model: String,
    pub revision: String,
    pub private: bool,
    #[serde(with = "by_name")]
    pub precision: Precision,
    #[serde(with = "by_name")]
    pub weight_type: WeightType,
    pub status: Status,
    #[serde(with = "seconds")]
    pub submitted_time: DateTime<Utc>,
    #[serde(with = "model_type")]
    pub model_type: ModelType,
    pub likes: u64,
    pub params: f64,
    pub license: String,
    pub architectures: String,
    pub job_id: Option<String>,
    #[serde(with = "seconds_opt")]
    pub job_start_time: Option<DateTime<Utc>>,
    pub format_version: u32,
    pub is_merge: bool,
    pub is_moe: bool,
    pub history: Vec<Transition>,
    pub results_file: Option<String>,
}

/// What identifies a request: one per folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    /// Case-folded model id ([`crate::ids::fold`]).
    pub model: String,
    pub revision: String,
    pub precision: Precision,
    pub weight_type: WeightType,
}

impl fmt::Display for RequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} @ {} ({}, {})",
            self.model,
            short_revision(&self.revision),
            self.precision,
            self.weight_type
        )
    }
}

impl Request {
    /// A new `PENDING` request with one history entry at `submitted_time`.
    pub fn new_pending(
        model: &str,
        revision: &str,
        precision: Precision,
        weight_type: WeightType,
        submitted_time: DateTime<Utc>,
    ) -> Request {
        Request {
            model: model.to_string(),
            base_model: String::new(),
            revision: revision.to_string(),
            private: false,
            precision,
            weight_type,
            status: Status::Pending,
            submitted_time,
            model_type: ModelType::Unknown,
            likes: 0,
            params: 0.0,
            license: String::new(),
            architectures: String::new(),
            job_id: None,
            job_start_time: None,
            format_version: REQUEST_FORMAT_VERSION,
            is_merge: false,
            is_moe: false,
            history: vec![Transition {
                status: Status::Pending,
                time: submitted_time,
                host: None,
                job_id: None,
                reason: None,
                log_tail: None,
            }],
            results_file: None,
        }
    }

    /// The identity `check` keeps unique.
    pub fn key(&self) -> RequestKey {
        RequestKey {
            model: crate::ids::fold(&self.model),
            revision: self.revision.clone(),
            precision: self.precision,
            weight_type: self.weight_type,
        }
    }

    /// `<name>_eval_request_<False|True>_<precision>_<weight_type>.json`.
    pub fn file_name(&self) -> String {
        let name = self.model.rsplit('/').next().unwrap_or(&self.model);
        format!(
            "{name}{REQUEST_INFIX}{}_{}_{}.json",
            if self.private { "True" } else { "False" },
            self.precision,
            self.weight_type
        )
    }

    /// The path relative to the requests folder: `<org>/<file_name>`.
    pub fn rel_path(&self) -> std::path::PathBuf {
        let org = self.model.split_once('/').map_or("", |(o, _)| o);
        Path::new(org).join(self.file_name())
    }

    /// When the request entered its current status (the last history entry).
    pub fn since(&self) -> DateTime<Utc> {
        self.history.last().map_or(self.submitted_time, |t| t.time)
    }

    /// The last transition into `status`, if any.
    pub fn last(&self, status: Status) -> Option<&Transition> {
        self.history.iter().rev().find(|t| t.status == status)
    }

    /// Records a change of status at `time` (whole seconds), updating `status`,
    /// and for `RUNNING` `job_id` / `job_start_time`.
    pub fn transition(&mut self, mut t: Transition) {
        t.time = whole_seconds(t.time);
        self.status = t.status;
        if t.status == Status::Running {
            self.job_id = t.job_id.clone();
            self.job_start_time = Some(t.time);
        }
        if t.status != Status::Finished {
            self.results_file = None;
        }
        self.history.push(t);
    }

    /// Every rule of the module docs that one file can break on its own (the
    /// path, the folder-wide identity and the results file are checked by
    /// `check`): (key, message) pairs.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, msg: String| out.push((key.to_string(), msg));
        if self.format_version != REQUEST_FORMAT_VERSION {
            bad(
                "format_version",
                format!(
                    "format version {} is not one this reader knows; expected {REQUEST_FORMAT_VERSION}",
                    self.format_version
                ),
            );
        }
        match crate::ids::check_model_id(&self.model) {
            Err(e) => bad("model", e),
            Ok(()) if !self.model.contains('/') => bad(
                "model",
                format!(
                    "{:?}: expected org/name (requests live in <org>/ folders)",
                    crate::ids::shorten(&self.model)
                ),
            ),
            Ok(()) => {}
        }
        if !self.base_model.is_empty() {
            if let Err(e) = crate::ids::check_model_id(&self.base_model) {
                bad("base_model", e);
            }
        } else if self.weight_type != WeightType::Original {
            bad(
                "base_model",
                format!(
                    "{} weights need their base model; expected the base model's Hub id",
                    self.weight_type
                ),
            );
        }
        if !crate::ids::is_valid_revision(&self.revision) {
            bad(
                "revision",
                format!(
                    "{:?}: expected the resolved commit sha (40 lowercase hex digits), not a branch or tag",
                    crate::ids::shorten(&self.revision)
                ),
            );
        }
        if !self.params.is_finite() || self.params < 0.0 || self.params > 1.0e5 {
            bad(
                "params",
                format!(
                    "{}: expected billions of parameters, 0 to 100000",
                    self.params
                ),
            );
        }
        if !is_license_tag(&self.license) {
            bad(
                "license",
                format!(
                    "{:?}: expected a Hub licence tag (at most 64 of [A-Za-z0-9._-]) or \"\"",
                    crate::ids::shorten(&self.license)
                ),
            );
        }
        let archs_ok = self.architectures.len() <= 200
            && self
                .architectures
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_;".contains(&b));
        if !archs_ok {
            bad(
                "architectures",
                format!(
                    "{:?}: expected config.json architectures, ';'-joined (at most 200 of [A-Za-z0-9_;])",
                    crate::ids::shorten(&self.architectures)
                ),
            );
        }
        if let Some(j) = &self.job_id {
            if let Err(e) = check_id_text(j) {
                bad("job_id", e);
            }
        }
        self.history_problems(&mut bad);
        match (&self.results_file, self.status) {
            (None, Status::Finished) => bad(
                "results_file",
                "a FINISHED request names its results file (relative to the results folder)".into(),
            ),
            (Some(_), s) if s != Status::Finished => bad(
                "results_file",
                format!("set on a {s} request; expected null until the request is FINISHED"),
            ),
            (Some(f), _) => {
                if let Err(e) = check_results_path(f) {
                    bad("results_file", e);
                }
            }
            (None, _) => {}
        }
        out
    }

    fn history_problems(&self, bad: &mut impl FnMut(&str, String)) {
        let h = &self.history;
        if h.is_empty() {
            bad(
                "history",
                "empty; expected at least the PENDING entry of the submission".into(),
            );
            return;
        }
        if h.len() > MAX_HISTORY {
            bad(
                "history",
                format!("{} entries; at most {MAX_HISTORY}", h.len()),
            );
            return;
        }
        if h[0].status != Status::Pending {
            bad(
                "history[0].status",
                format!("{}; a request starts PENDING", h[0].status),
            );
        }
        if h[0].time < self.submitted_time {
            bad(
                "history[0].time",
                "before submitted_time; expected the submission's time or later".into(),
            );
        }
        for (i, t) in h.iter().enumerate() {
            let key = |k: &str| format!("history[{i}].{k}");
            if i > 0 {
                let prev = &h[i - 1];
                if !t.status.can_follow(prev.status) {
                    bad(
                        &key("status"),
                        format!(
                            "{} cannot follow {}; expected PENDING/RERUN → RUNNING → FINISHED/FAILED/PENDING, FINISHED/FAILED → RERUN, FAILED → PENDING",
                            t.status, prev.status
                        ),
                    );
                }
                if t.time < prev.time {
                    bad(
                        &key("time"),
                        "earlier than the entry before it; expected times in order".into(),
                    );
                }
            }
            if t.status == Status::Running && t.host.is_none() {
                bad(&key("host"), "a RUNNING entry says where it ran".into());
            }
            for (k, v) in [("host", &t.host), ("job_id", &t.job_id)] {
                if let Some(v) = v {
                    if let Err(e) = check_id_text(v) {
                        bad(&key(k), e);
                    }
                }
            }
            match &t.reason {
                None if t.status == Status::Failed => bad(
                    &key("reason"),
                    "a FAILED entry says why (the loader's or evaluator's message)".into(),
                ),
                Some(r) if r.trim().is_empty() => {
                    bad(&key("reason"), "empty; expected a message".into())
                }
                Some(r) if r.chars().count() > MAX_REASON_CHARS => bad(
                    &key("reason"),
                    format!(
                        "{} characters; at most {MAX_REASON_CHARS}",
                        r.chars().count()
                    ),
                ),
                Some(r) if r.chars().any(|c| c.is_control() && c != '\n') => bad(
                    &key("reason"),
                    "holds control characters; expected text (newlines allowed)".into(),
                ),
                _ => {}
            }
            if let Some(lines) = &t.log_tail {
                if lines.len() > MAX_LOG_LINES {
                    bad(
                        &key("log_tail"),
                        format!("{} lines; at most {MAX_LOG_LINES}", lines.len()),
                    );
                }
                if let Some((j, _)) = lines.iter().enumerate().find(|(_, l)| {
                    l.chars().count() > MAX_LOG_LINE_CHARS
                        || l.chars().any(|c| c.is_control() && c != '\t')
                }) {
                    bad(
                        &key(&format!("log_tail[{j}]")),
                        format!(
                            "expected one line of at most {MAX_LOG_LINE_CHARS} characters without control characters"
                        ),
                    );
                }
            }
        }
        let last = h[h.len() - 1].status;
        if last != self.status {
            bad(
                "status",
                format!(
                    "{}, but the history ends {last}; expected them equal",
                    self.status
                ),
            );
        }
    }
}

/// A host name or job id: 1 to [`MAX_ID_CHARS`] printable characters.
fn check_id_text(s: &str) -> Result<(), String> {
    if s.is_empty()
        || s.chars().count() > MAX_ID_CHARS
        || s.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        Err(format!(
            "{:?}: expected 1 to {MAX_ID_CHARS} printable characters without spaces",
            crate::ids::shorten(s)
        ))
    } else {
        Ok(())
    }
}

/// A results file named relative to the results folder: `/`-separated plain
/// components of `[A-Za-z0-9._-]`, no `..`, ending in `.parquet`.
pub fn check_results_path(p: &str) -> Result<(), String> {
    let ok = p.len() <= 400
        && p.ends_with(".parquet")
        && !p.ends_with(crate::schema::DETAILS_SUFFIX)
        && p.split('/').all(|c| {
            !c.is_empty()
                && !c.starts_with('.')
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?}: expected a results file relative to the results folder, e.g. org/name/openllm-v1_float16_0123456789ab.parquet",
            crate::ids::shorten(p)
        ))
    }
}

pub use crate::time::whole_seconds;

/// The first 12 characters of a revision, for messages and tables (a revision
/// read from an untrusted file may hold any characters).
pub fn short_revision(rev: &str) -> String {
    rev.chars().take(12).collect()
}

/// Whether `s` is a licence tag the format accepts: at most 64 of `[A-Za-z0-9._-]`.
pub fn is_license_tag(s: &str) -> bool {
    s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Reads and parses one request file, bounded by [`MAX_REQUEST_BYTES`]; errors
/// name the file and, for JSON errors, the line. Does not apply the rules of
/// [`Request::problems`].
pub fn read_request(path: &Path) -> Result<Request, ResultsError> {
    read_small_json(
        path,
        MAX_REQUEST_BYTES,
        "a request file",
        "a request object (keys: model, base_model, revision, private, precision, weight_type, status, submitted_time, model_type, likes, params, license, architectures, job_id, job_start_time, format_version, is_merge, is_moe, history, results_file)",
    )
}

/// Reads a small JSON file of at most `max` bytes (`what`: "a request file") and parses
/// it as `expected` says; errors name the file and, for JSON errors, the line.
pub(crate) fn read_small_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    max: u64,
    what: &str,
    expected: &str,
) -> Result<T, ResultsError> {
    let io = |source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(ResultsError::Limit {
            path: path.to_path_buf(),
            message: format!("larger than {max} bytes; {what} is a small JSON object"),
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| ResultsError::File {
        path: path.to_path_buf(),
        message: format!("not UTF-8 ({e}); expected a JSON object"),
    })?;
    serde_json::from_str(text).map_err(|e| ResultsError::Flags {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!("{e}; expected {expected}"),
    })
}

/// The file's text: pretty JSON in the documented key order, final newline.
pub fn render_request(r: &Request) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("a request serializes");
    s.push('\n');
    s
}

/// Writes a request atomically (temporary file, then rename).
pub fn write_request(path: &Path, r: &Request) -> Result<(), ResultsError> {
    crate::atomic::write_atomic(path, render_request(r).as_bytes())
}

pub(crate) mod seconds {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
        let t = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("{text:?}: {e}; expected RFC 3339, e.g. 2026-12-03T15:04:05Z"))?
            .with_timezone(&Utc);
        if t.timestamp_subsec_nanos() != 0 {
            return Err(format!("{text:?}: expected whole seconds"));
        }
        Ok(t)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

mod seconds_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::seconds::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| super::seconds::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Enums stored by their documented names.
mod by_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// v1's `"<symbol> : <type>"`; the bare type is read too.
mod model_type {
    use crate::schema::ModelType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &ModelType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{} : {}", t.symbol(), t.as_str()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ModelType, D::Error> {
        let text = String::deserialize(d)?;
        let name = text.split_once(" : ").map_or(text.as_str(), |(_, n)| n);
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Request {
        let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Request::new_pending(
            "org/model-7b",
            "0123456789abcdef0123456789abcdef01234567",
            Precision::BFloat16,
            WeightType::Original,
            t,
        )
    }

    #[test]
    fn round_trip_and_name() {
        let r = sample();
        assert_eq!(
            r.rel_path(),
            Path::new("org/model-7b_eval_request_False_bfloat16_Original.json")
        );
        let text = render_request(&r);
        assert!(text.contains("\"model_type\": \"? : unknown\""), "{text}");
        assert!(text.contains("\"submitted_time\": \"2026-12-01T10:00:00Z\""));
        let back: Request = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert!(r.problems().is_empty(), "{:?}", r.problems());
    }

    #[test]
    fn transitions() {
        use Status::*;
        assert!(Running.can_follow(Pending));
        assert!(Running.can_follow(Rerun));
        assert!(Pending.can_follow(Running));
        assert!(!Finished.can_follow(Pending));
        assert!(!Running.can_follow(Finished));
        let mut r = sample();
        let at = r.submitted_time + chrono::Duration::seconds(5);
        r.transition(Transition {
            status: Finished,
            time: at,
            host: None,
            job_id: None,
            reason: None,
            log_tail: None,
        });
        r.results_file = Some("org/model-7b/x.parquet".into());
        let keys: Vec<String> = r.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["history[1].status"]);
    }
}
