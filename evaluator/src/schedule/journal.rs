//! Resumable runs: an append-only journal of answered requests, one file per (model, suite, task).
//!
//! # Where
//! `<cache>/runs/<journal key>/<suite>/<task>.journal` (the key: [`crate::config::RunConfig::journal_key`]), where `<cache>` is
//! `$LEADERBOARD_CACHE`, else `~/.cache/leaderboard` (the test model's cache, see
//! `scripts/fetch-test-model.sh`). It lives outside the results folder on purpose:
//! `leaderboard check` refuses stray files there, and a journal is not a result.
//! `evaluator run` removes a task's journal once the results file is written.
//!
//! # Format (JSON Lines, UTF-8)
//! Line 1, the header:
//! `{"journal":"leaderboard-evaluator/1","model_sha256":"<journal key>","suite":"openllm-v1","task":"hellaswag"}`.
//! Every further line is one answered request, keyed by its request hash (64 hex):
//! - log-likelihood: `{"h":"<hash>","bits":"<16 hex>","logprob":-3.25,"greedy":false}`;
//!   `bits` is the IEEE-754 bit pattern of the f64 log-probability (big-endian hex), what
//!   is read back, so a resumed run reproduces the exact value; `logprob` is for people;
//! - generation: `{"h":"<hash>","text":"…"}`.
//!
//! The request hash ([`request_hash`]) is the sha256 of the suite, task, request kind and
//! the request's token ids after spec §3 tokenization and truncation (and, for generation,
//! the stop strings and token budget), so a changed prompt or tokenizer never reuses an
//! answer; the model is fixed by the folder.
//!
//! # Durability and damage
//! Each record is written with one `write` call as soon as it is known, so a killed
//! process (`kill -9`) loses nothing it had finished; the file is `fsync`ed at most every
//! [`SYNC_INTERVAL`] and on [`Journal::sync`], bounding what a power loss can lose.
//! A journal is a cache of answers, never the only copy of anything: on open, a line that
//! is not a complete record (a torn write at the end, the remains of one in the middle,
//! a second header written by a concurrent run) is skipped and its request simply
//! computed again; [`Journal::skipped`] lists such lines. Nothing is truncated, so a
//! concurrent run appending to the same journal loses nothing; when the file does not end
//! with a newline, the next record starts on a fresh line. Only a first line that is
//! another run's header is an error (naming the file).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::requests::Response;

/// The header's format tag.
pub const FORMAT: &str = "leaderboard-evaluator/1";
/// Longest time a written record may wait for `fsync`.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(2);

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: journal belongs to {found}, expected {expected}")]
    WrongRun {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Header {
    journal: String,
    model_sha256: String,
    suite: String,
    task: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    h: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bits: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logprob: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    greedy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

impl Record {
    fn new(h: &str, r: &Response) -> Record {
        match r {
            Response::LogLikelihood { logprob, is_greedy } => Record {
                h: h.to_string(),
                bits: Some(format!("{:016x}", logprob.to_bits())),
                logprob: Some(*logprob),
                greedy: Some(*is_greedy),
                text: None,
            },
            Response::Generate { text } => Record {
                h: h.to_string(),
                bits: None,
                logprob: None,
                greedy: None,
                text: Some(text.clone()),
            },
        }
    }

    /// The response, if the record is well formed.
    fn response(&self) -> Option<Response> {
        if self.h.len() != 64 || !self.h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        match (&self.bits, self.greedy, &self.text) {
            (Some(bits), Some(g), None) if bits.len() == 16 => {
                let v = u64::from_str_radix(bits, 16).ok()?;
                Some(Response::LogLikelihood {
                    logprob: f64::from_bits(v),
                    is_greedy: g,
                })
            }
            (None, None, Some(t)) => Some(Response::Generate { text: t.clone() }),
            _ => None,
        }
    }
}

/// An open journal: the answers read back, and the file to append new ones to.
pub struct Journal {
    path: PathBuf,
    file: File,
    done: HashMap<String, Response>,
    /// Records read back when opened.
    resumed: usize,
    /// Line numbers (1-based) skipped when opened: not complete records.
    skipped: Vec<usize>,
    last_sync: Instant,
    dirty: bool,
}

/// `$LEADERBOARD_CACHE/runs`, else `~/.cache/leaderboard/runs`.
pub fn default_dir() -> PathBuf {
    let cache = std::env::var_os("LEADERBOARD_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            home.join(".cache").join("leaderboard")
        });
    cache.join("runs")
}

/// The journal file of one task of one run under `dir` (see the module docs).
pub fn path_for(dir: &Path, model_sha256: &str, suite: &str, task: &str) -> PathBuf {
    dir.join(safe(model_sha256))
        .join(safe(suite))
        .join(format!("{}.journal", safe(task)))
}

/// Keeps only `[A-Za-z0-9._-]` (ids are hex, suite and task names; nothing leaves `dir`).
fn safe(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() || t.chars().all(|c| c == '.') {
        "_".to_string()
    } else {
        t
    }
}

/// sha256 (hex) identifying a request: `parts` are hashed with their lengths, so no two
/// different lists collide by concatenation.
pub fn request_hash(
    suite: &str,
    task: &str,
    kind: &str,
    tokens: &[&[u32]],
    extra: &[&str],
) -> String {
    let mut h = Sha256::new();
    for s in [suite, task, kind] {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    for t in tokens {
        h.update((t.len() as u64).to_le_bytes());
        for id in *t {
            h.update(id.to_le_bytes());
        }
    }
    for s in extra {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// Opens (or creates) the journal of `task` for the model with `model_sha256` under
    /// `dir`, reading back every complete record.
    pub fn open(
        dir: &Path,
        model_sha256: &str,
        suite: &str,
        task: &str,
    ) -> Result<Journal, JournalError> {
        let path = path_for(dir, model_sha256, suite, task);
        let header = Header {
            journal: FORMAT.to_string(),
            model_sha256: model_sha256.to_string(),
            suite: suite.to_string(),
            task: task.to_string(),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io(&path))?;
        let back = read_back(&path, &file, &header)?;
        let mut start = String::new();
        if back.needs_newline {
            start.push('\n');
        }
        if !back.has_header {
            start.push_str(&serde_json::to_string(&header).expect("header serializes"));
            start.push('\n');
        }
        if !start.is_empty() {
            file.write_all(start.as_bytes()).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        let done = back.done;
        let skipped = back.skipped;
        let resumed = done.len();
        Ok(Journal {
            path,
            file,
            done,
            resumed,
            skipped,
            last_sync: Instant::now(),
            dirty: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The answer recorded for `hash`, if any.
    pub fn get(&self, hash: &str) -> Option<&Response> {
        self.done.get(hash)
    }

    /// Number of answers known (read back plus recorded since).
    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Answers read back when the journal was opened.
    pub fn resumed(&self) -> usize {
        self.resumed
    }

    /// Lines (1-based) skipped when the journal was opened, as not complete records.
    pub fn skipped(&self) -> &[usize] {
        &self.skipped
    }

    /// Appends one answer (a single `write`), `fsync`ing when [`SYNC_INTERVAL`] has passed.
    pub fn record(&mut self, hash: &str, response: &Response) -> Result<(), JournalError> {
        if self.done.contains_key(hash) {
            return Ok(());
        }
        let mut line =
            serde_json::to_string(&Record::new(hash, response)).expect("record serializes");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.done.insert(hash.to_string(), response.clone());
        self.dirty = true;
        if self.last_sync.elapsed() >= SYNC_INTERVAL {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes written records to disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if self.dirty {
            self.file.sync_data().map_err(io(&self.path))?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Deletes the journal file (after its answers made it into a written results file),
    /// and its folders when they are left empty.
    pub fn remove(self) -> Result<(), JournalError> {
        let path = self.path.clone();
        drop(self);
        std::fs::remove_file(&path).map_err(io(&path))?;
        let mut dir = path.parent();
        for _ in 0..2 {
            match dir {
                Some(d) if std::fs::remove_dir(d).is_ok() => dir = d.parent(),
                _ => break,
            }
        }
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

/// What [`read_back`] found.
struct ReadBack {
    done: HashMap<String, Response>,
    skipped: Vec<usize>,
    has_header: bool,
    /// The file is not empty and does not end with a newline (a torn last write).
    needs_newline: bool,
}

/// Reads the complete records of `file`, skipping damaged lines.
fn read_back(path: &Path, file: &File, expected: &Header) -> Result<ReadBack, JournalError> {
    let mut reader = BufReader::new(file);
    let mut back = ReadBack {
        done: HashMap::new(),
        skipped: Vec::new(),
        has_header: false,
        needs_newline: false,
    };
    let mut buf = Vec::new();
    let mut lineno = 0usize;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let complete = buf.last() == Some(&b'\n');
        back.needs_newline = !complete;
        let text = std::str::from_utf8(&buf)
            .ok()
            .filter(|_| complete)
            .map(str::trim_end);
        if let Some(h) = text.and_then(|t| serde_json::from_str::<Header>(t).ok()) {
            if &h != expected {
                return Err(JournalError::WrongRun {
                    path: path.to_path_buf(),
                    found: format!("{}/{}/{}", h.model_sha256, h.suite, h.task),
                    expected: format!(
                        "{}/{}/{}",
                        expected.model_sha256, expected.suite, expected.task
                    ),
                });
            }
            back.has_header = true;
            if lineno != 1 {
                back.skipped.push(lineno);
            }
            continue;
        }
        let rec = text
            .and_then(|t| serde_json::from_str::<Record>(t).ok())
            .and_then(|r| r.response().map(|resp| (r.h, resp)));
        match rec {
            Some((h, resp)) => {
                back.done.insert(h, resp);
            }
            None => back.skipped.push(lineno),
        }
    }
    Ok(back)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(x: f64) -> Response {
        Response::LogLikelihood {
            logprob: x,
            is_greedy: x > -1.0,
        }
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let h1 = request_hash("s", "t", "ll", &[&[1, 2], &[3]], &[]);
        let h2 = request_hash("s", "t", "ll", &[&[1], &[2, 3]], &[]);
        assert_ne!(h1, h2, "lengths are part of the hash");
        {
            let mut j = Journal::open(dir.path(), "abc", "s", "t").unwrap();
            j.record(&h1, &ll(-0.123_456_789_012_345_68)).unwrap();
            j.record(
                &h2,
                &Response::Generate {
                    text: "x\n\"y\"".into(),
                },
            )
            .unwrap();
        }
        let path = path_for(dir.path(), "abc", "s", "t");
        // Simulate a torn write: half a record with no newline.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"h\":\"00ff").unwrap();
        drop(f);
        let mut j = Journal::open(dir.path(), "abc", "s", "t").unwrap();
        assert_eq!(j.skipped(), &[4]);
        assert_eq!(j.resumed(), 2);
        assert_eq!(j.get(&h1), Some(&ll(-0.123_456_789_012_345_68)));
        assert_eq!(
            j.get(&h2),
            Some(&Response::Generate {
                text: "x\n\"y\"".into()
            })
        );
        let h3 = request_hash("s", "t", "ll", &[&[9], &[9]], &[]);
        j.record(&h3, &ll(-7.5)).unwrap();
        drop(j);
        let j = Journal::open(dir.path(), "abc", "s", "t").unwrap();
        // The torn line stays (a concurrent writer may own it) and is skipped again;
        // the record after it started on a fresh line.
        assert_eq!(j.skipped(), &[4]);
        assert_eq!(j.len(), 3);
        j.remove().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn damaged_lines_are_skipped_and_a_wrong_header_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let h = request_hash("s", "t", "ll", &[&[1]], &[]);
        {
            let mut j = Journal::open(dir.path(), "abc", "s", "t").unwrap();
            j.record(&h, &ll(-1.0)).unwrap();
        }
        let path = path_for(dir.path(), "abc", "s", "t");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(1, "garbage");
        lines.push(r#"{"h":"00","bits":"0000000000000000","greedy":true}"#);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let j = Journal::open(dir.path(), "abc", "s", "t").unwrap();
        assert_eq!(j.skipped(), &[2, 4]);
        assert_eq!(j.get(&h), Some(&ll(-1.0)));
        // A header for another task in this task's file.
        let other = path_for(dir.path(), "abc", "s", "u");
        std::fs::create_dir_all(other.parent().unwrap()).unwrap();
        std::fs::write(&other, text.lines().next().unwrap().to_string() + "\n").unwrap();
        let e = Journal::open(dir.path(), "abc", "s", "u")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("belongs to abc/s/t"), "{e}");
    }

    #[test]
    fn paths_stay_inside_the_folder() {
        let p = path_for(Path::new("/x"), "../..", "a/b", "..");
        assert_eq!(p, Path::new("/x/.._../a_b/_.journal"));
        assert_eq!(
            path_for(Path::new("/x"), "..", "", "t"),
            Path::new("/x/_/_/t.journal")
        );
    }
}
