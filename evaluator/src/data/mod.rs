//! Benchmark data: loading a task's splits from a local folder laid out like
//! the repository's `data/benchmarks/`, with record-count and field checks.
//!
//! # Local layout
//!
//! `<dir>/<task>/<split>.jsonl` or `<dir>/<task>/<split>.jsonl.gz`: JSON Lines,
//! one record (a JSON object) per line, UTF-8, in dataset order. `<task>` is a
//! task id of `tasks::registry` (`arc_challenge`, `hellaswag`, `mmlu`,
//! `truthfulqa_mc`, `winogrande`, `gsm8k`); MMLU keeps all 57 subjects in one
//! file per split, each record carrying its `subject`. Record fields follow the
//! Hugging Face datasets the harness reads, and the expected record counts are
//! in each task's spec (see each task module; [`expected_count`] reads them).
//!
//! Any other source (e.g. the Hub's Parquet files) implements [`DataSource`]
//! and hands back the same records as JSON values.

pub mod fields;
pub mod hub;

use flate2::read::GzDecoder;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// No file for this split (`hint` says how to get it).
    #[error("{task}/{split}: no data file: looked for {looked_for}{hint}")]
    Missing {
        task: String,
        split: String,
        looked_for: String,
        hint: String,
    },
    #[error("{file}: line {line}: {message}")]
    Record {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

/// Records of one split: where they came from and each record with its line
/// (1-based) or row number.
#[derive(Debug, Clone)]
pub struct Records {
    /// File path or other origin, used in error messages.
    pub origin: String,
    pub rows: Vec<(usize, serde_json::Value)>,
}

impl Records {
    /// Deserialize every record into `T`; a bad record is an error naming the
    /// origin, the line and the serde message (e.g. ``missing field `question` ``).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<Vec<T>, DataError> {
        self.rows
            .iter()
            .map(|(line, v)| {
                T::deserialize(v).map_err(|e| DataError::Record {
                    file: self.origin.clone(),
                    line: *line,
                    message: format!("{e}"),
                })
            })
            .collect()
    }

    /// Error unless there are exactly `n` records.
    pub fn expect_len(&self, n: usize) -> Result<(), DataError> {
        if self.rows.len() == n {
            Ok(())
        } else {
            Err(DataError::File {
                file: self.origin.clone(),
                message: format!(
                    "expected {n} records, found {} (last record at line {})",
                    self.rows.len(),
                    self.rows.last().map_or(0, |r| r.0)
                ),
            })
        }
    }

    /// An error about one record, for checks beyond deserialization.
    pub fn error_at(&self, index: usize, message: impl Into<String>) -> DataError {
        DataError::Record {
            file: self.origin.clone(),
            line: self.rows.get(index).map_or(index + 1, |r| r.0),
            message: message.into(),
        }
    }
}

/// Somewhere a task's splits can be read from.
pub trait DataSource {
    /// The records of `task`'s `split`, or `Ok(None)` if this source has no such split.
    fn records(&self, task: &str, split: &str) -> Result<Option<Records>, DataError>;

    /// A human-readable description of the source, for messages.
    fn describe(&self) -> String;
}

/// Number of records `task`'s `split` must have, from the task's spec (None:
/// no such task or split).
pub fn expected_count(task: &str, split: &str) -> Option<usize> {
    crate::tasks::registry::find(task)?
        .split(split)
        .map(|s| s.count)
}

/// A local folder laid out like the repository's `data/benchmarks/`.
#[derive(Debug, Clone)]
pub struct LocalDir {
    pub root: PathBuf,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    /// The file holding a split, if present (`.jsonl` preferred over `.jsonl.gz`).
    pub fn split_path(&self, task: &str, split: &str) -> Option<PathBuf> {
        let dir = self.root.join(task);
        [format!("{split}.jsonl"), format!("{split}.jsonl.gz")]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
    }
}

impl DataSource for LocalDir {
    fn records(&self, task: &str, split: &str) -> Result<Option<Records>, DataError> {
        match self.split_path(task, split) {
            Some(p) => read_jsonl(&p).map(Some),
            None => Ok(None),
        }
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }
}

/// Read a JSON Lines file (gzip-compressed if its name ends in `.gz`). Every
/// non-empty line must be a JSON object; a truncated or corrupt gzip stream is
/// an error naming the line reached.
pub fn read_jsonl(path: &Path) -> Result<Records, DataError> {
    let origin = path.display().to_string();
    let file = File::open(path).map_err(|e| DataError::File {
        file: origin.clone(),
        message: format!("cannot open: {e}"),
    })?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let inner: Box<dyn Read> = if gz {
        Box::new(GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    let mut reader = BufReader::with_capacity(1 << 16, inner);
    let mut rows = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        line += 1;
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::Record {
                file: origin.clone(),
                line,
                message: if gz {
                    format!("truncated or corrupt gzip stream: {e}")
                } else {
                    format!("read error: {e}")
                },
            })?;
        if n == 0 {
            break;
        }
        let text = std::str::from_utf8(&buf).map_err(|e| DataError::Record {
            file: origin.clone(),
            line,
            message: format!("not valid UTF-8: {e}"),
        })?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| DataError::Record {
                file: origin.clone(),
                line,
                message: format!("expected one JSON object per line: {e}"),
            })?;
        if !value.is_object() {
            return Err(DataError::Record {
                file: origin.clone(),
                line,
                message: "expected a JSON object".into(),
            });
        }
        rows.push((line, value));
    }
    Ok(Records { origin, rows })
}
