//! `check`: every problem in a results folder, each naming the file and,
//! where it applies, the row (or line) and column. The site's `leaderboard
//! check`, `leaderboard build` and `evaluator check` all call [`check_dir`]
//! (and print with [`main`]), so they accept and refuse the same folders.
//!
//! Contributed results are untrusted, so besides the format this checks
//! paths ([`paths`]), ids (Hub model ids, git shas), links in `flags.toml`
//! ([`flags`]), the consistency of each run ([`runs`]), every details file
//! ([`details`]), and identities across files:
//!
//! - **Duplicates**: two runs with one identity (model id compared
//!   case-insensitively, revision, precision) are an error.
//! - **Spellings**: one Hub repo spelled two ways (`Meta-Llama/x` and
//!   `meta-llama/x`) is an error: the Hub treats them as one repo.
//! - **Look-alikes**: an id with the same [`ids::skeleton`] as another
//!   (`meta-IIama/x` beside `meta-llama/x`) is a *warning* for a maintainer:
//!   printed, but it does not fail the check.
//!
//! The v1 archive is kept as v1 published it, and v1 listed 11 models twice
//! under ids differing only in case (`Sao10K/Stheno-v2-Delta-fp16` and
//! `Sao10K/Stheno-V2-Delta-fp16`, same commit): these three rules skip pairs
//! of runs that are both archive runs (tool [`V1_ARCHIVE_TOOL`]) in the
//! archive file ([`V1_ARCHIVE_FILE`]). Any other run, in any file, is held to
//! them against every run, archive runs included.
//!
//! At most [`MAX_MESSAGES_PER_FILE`] problems are listed per file, then a
//! count of the rest.

pub mod details;
pub mod flags;
pub mod paths;
pub mod requests;
pub mod runs;
pub mod verifications;

use crate::ids;
use crate::schema::{Run, RunKey, V1_ARCHIVE_FILE, V1_ARCHIVE_TOOL};
use crate::{ResultsError, FLAGS_FILE};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Problems listed per file before the rest are counted.
pub const MAX_MESSAGES_PER_FILE: usize = 20;

/// How much a problem matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The folder is refused.
    Error,
    /// For a maintainer to look at (a look-alike model id); does not fail `check`.
    Warning,
}

/// One problem found by [`check_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// The file (or folder), relative to the results folder.
    pub file: PathBuf,
    /// 1-based row of a Parquet file.
    pub row: Option<usize>,
    /// 1-based line of a text file (flags.toml).
    pub line: Option<usize>,
    /// Column (or key) name, e.g. `scores[2].value`.
    pub column: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.severity == Severity::Warning {
            write!(f, "warning: ")?;
        }
        write!(f, "{}", self.file.display())?;
        if let Some(r) = self.row {
            write!(f, ": row {r}")?;
        }
        if let Some(l) = self.line {
            write!(f, ": line {l}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column `{c}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Problem {
    pub(crate) fn file(file: &Path, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Error,
            file: file.to_path_buf(),
            row: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub(crate) fn cell(
        file: &Path,
        row: usize,
        column: &str,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            severity: Severity::Error,
            file: file.to_path_buf(),
            row: Some(row),
            line: None,
            column: Some(column.to_string()),
            message: message.into(),
        }
    }

    pub(crate) fn line(
        file: &Path,
        line: usize,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            severity: Severity::Error,
            file: file.to_path_buf(),
            row: None,
            line: (line > 0).then_some(line),
            column: column.map(str::to_string),
            message: message.into(),
        }
    }

    /// Marks the problem as a [`Severity::Warning`].
    pub(crate) fn warning(mut self) -> Problem {
        self.severity = Severity::Warning;
        self
    }

    /// A reader error, with its path made relative to `root`.
    pub(crate) fn from_error(root: &Path, e: ResultsError) -> Problem {
        let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
        match e {
            ResultsError::Value {
                path,
                row,
                column,
                message,
            } => Problem::cell(&rel(&path), row, &column, message),
            ResultsError::Flags {
                path,
                line,
                message,
            } => Problem::line(&rel(&path), line, None, message),
            ResultsError::Io { path, source } => Problem::file(&rel(&path), source.to_string()),
            ResultsError::Corrupt { path, message } => Problem::file(
                &rel(&path),
                format!("not a readable Parquet file: {message}"),
            ),
            ResultsError::File { path, message } | ResultsError::Limit { path, message } => {
                Problem::file(&rel(&path), message)
            }
        }
    }
}

/// Checks everything in `results_dir`; no [`Severity::Error`] means it is
/// valid. Problems come in a fixed order (files sorted, rows in order).
pub fn check_dir(results_dir: &Path) -> Vec<Problem> {
    check_and_load(results_dir).0
}

/// [`check_dir`], also returning what the check read: the runs of every
/// results file that could be read and the flags, as [`crate::load_dir`]
/// gives them for a valid folder. `leaderboard build` uses it to read each
/// file once.
pub fn check_and_load(results_dir: &Path) -> (Vec<Problem>, crate::ResultsSet) {
    let mut problems = Vec::new();
    match std::fs::metadata(results_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            problems.push(Problem::file(
                results_dir,
                "not a folder; expected the results folder",
            ));
            return (problems, Default::default());
        }
        Err(e) => {
            problems.push(Problem::file(
                results_dir,
                format!("cannot read the results folder: {e}"),
            ));
            return (problems, Default::default());
        }
    }
    let found = paths::walk(results_dir, &mut problems);
    let mut identities = Identities::default();
    let mut loaded = BTreeMap::new();
    for rel in &found.results {
        match crate::results::read_file(&results_dir.join(rel)) {
            Err(e) => {
                let mut p = Problem::from_error(results_dir, e);
                p.file = rel.clone();
                problems.push(p);
            }
            Ok(runs) => {
                for (i, run) in runs.iter().enumerate() {
                    runs::check(rel, i + 1, run, &mut problems);
                    identities.add(rel, i + 1, run, &mut problems);
                }
                loaded.insert(rel.clone(), runs);
            }
        }
    }
    for rel in &found.details {
        details::check(results_dir, rel, &loaded, &mut problems);
    }
    let flags = if found.flags {
        flags::check(results_dir, Path::new(FLAGS_FILE), &mut problems)
    } else {
        Vec::new()
    };
    let mut set = crate::ResultsSet::new(loaded.into_iter().collect(), flags);
    for rel in &found.verifications {
        if let Some((results, v)) = verifications::check(results_dir, rel, &found, &mut problems) {
            set.verifications.insert(results, v);
        }
    }
    (cap_per_file(problems), set)
}

/// Where each identity, spelling and look-alike skeleton was first seen
/// (file, row, whether that run is an archive run).
#[derive(Default)]
struct Identities {
    runs: BTreeMap<RunKey, (PathBuf, usize, bool)>,
    spellings: BTreeMap<String, (String, PathBuf, usize, bool)>,
    skeletons: BTreeMap<String, (String, PathBuf, usize, bool)>,
}

/// Whether a run is one of the v1 archive's, in the archive file.
fn is_archive_run(rel: &Path, run: &Run) -> bool {
    rel == Path::new(V1_ARCHIVE_FILE) && run.provenance.tool == V1_ARCHIVE_TOOL
}

impl Identities {
    fn add(&mut self, rel: &Path, row: usize, run: &Run, out: &mut Vec<Problem>) {
        let archive = is_archive_run(rel, run);
        let id = &run.model_id;
        let folded = ids::fold(id);
        let key = RunKey {
            model_id: folded.clone(),
            ..run.key()
        };
        let at = |f: &Path, r: usize| format!("{}: row {r}", f.display());
        let here = (rel.to_path_buf(), row, archive);
        match self.runs.get(&key) {
            Some((f, r, a)) if !(archive && *a) => out.push(Problem::cell(
                rel,
                row,
                "model_id",
                format!(
                    "duplicate run {}: the same model (ids compared case-insensitively, as the Hub does), revision and precision is already at {}",
                    run.key(),
                    at(f, *r)
                ),
            )),
            Some(_) => {}
            None => {
                self.runs.insert(key, here.clone());
            }
        }
        match self.spellings.get(&folded) {
            Some((first, f, r, a)) if first != id && !(archive && *a) => out.push(Problem::cell(
                rel,
                row,
                "model_id",
                format!(
                    "{:?} is the Hub repo spelled {first:?} at {}: Hub ids are case-insensitive; use one spelling",
                    ids::shorten(id),
                    at(f, *r)
                ),
            )),
            Some(_) => {}
            None => {
                self.spellings
                    .insert(folded.clone(), (id.clone(), here.0.clone(), row, archive));
            }
        }
        let skeleton = ids::skeleton(id);
        match self.skeletons.get(&skeleton) {
            Some((first, f, r, a)) if ids::fold(first) != folded && !(archive && *a) => out.push(
                Problem::cell(
                    rel,
                    row,
                    "model_id",
                    format!(
                        "{:?} looks like {first:?} at {} (I/l, 0/O, 1/l, rn/m): a maintainer should confirm it is not an impersonation",
                        ids::shorten(id),
                        at(f, *r)
                    ),
                )
                .warning(),
            ),
            Some(_) => {}
            None => {
                self.skeletons
                    .insert(skeleton, (id.clone(), here.0, row, archive));
            }
        }
    }
}

/// Keeps at most [`MAX_MESSAGES_PER_FILE`] problems per file (in order),
/// adding one line with the count of the rest.
fn cap_per_file(problems: Vec<Problem>) -> Vec<Problem> {
    let mut count: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(problems.len().min(10_000));
    for p in problems {
        let n = count.entry(p.file.clone()).or_default();
        *n += 1;
        if *n <= MAX_MESSAGES_PER_FILE {
            out.push(p);
        }
    }
    for (file, n) in count {
        if n > MAX_MESSAGES_PER_FILE {
            let rest = n - MAX_MESSAGES_PER_FILE;
            let pos = out
                .iter()
                .rposition(|p| p.file == file)
                .map_or(out.len(), |i| i + 1);
            out.insert(
                pos,
                Problem::file(
                    &file,
                    format!(
                        "and {rest} more problem{} in this file",
                        if rest == 1 { "" } else { "s" }
                    ),
                ),
            );
        }
    }
    out
}

/// The requests folder checked against `set` (the results folder as
/// [`check_and_load`] read it): see [`requests::check`]. Problems name files
/// relative to `requests_dir`, at most [`MAX_MESSAGES_PER_FILE`] per file.
pub fn check_requests(
    requests_dir: &Path,
    set: &crate::ResultsSet,
) -> (Vec<Problem>, Vec<requests::LoadedRequest>) {
    let (problems, loaded) = requests::check(requests_dir, set);
    (cap_per_file(problems), loaded)
}

/// The arguments of the `check` command of both binaries.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The results folder to check.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The requests folder to check (evaluation requests; a missing folder is an empty queue).
    #[arg(long, default_value = "requests")]
    pub requests: PathBuf,
}

/// Prints `problems` of `results_dir` to stderr, one per line, with paths
/// prefixed by `results_dir`; returns how many are errors.
pub fn print(results_dir: &Path, problems: &[Problem]) -> usize {
    for p in problems {
        let mut p = p.clone();
        p.file = results_dir.join(&p.file);
        eprintln!("{p}");
    }
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count()
}

/// The `check` command of both binaries: prints every problem of
/// `results_dir` and `requests_dir` to stderr (paths prefixed with their
/// folder), then a summary line, and returns the exit code (0: no errors;
/// warnings only are printed and pass).
pub fn main(results_dir: &Path, requests_dir: &Path) -> i32 {
    let (problems, set) = check_and_load(results_dir);
    let (req_problems, reqs) = check_requests(requests_dir, &set);
    let errors = print(results_dir, &problems);
    let req_errors = print(requests_dir, &req_problems);
    let warnings = problems.len() + req_problems.len() - errors - req_errors;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut failed = false;
    for (n, dir) in [(errors, results_dir), (req_errors, requests_dir)] {
        if n > 0 {
            eprintln!("error: {n} problem{} in {}", plural(n), dir.display());
            failed = true;
        }
    }
    if failed {
        return 1;
    }
    let files = set.files.len();
    let w = if warnings > 0 {
        format!(", {warnings} warning{} for a maintainer", plural(warnings))
    } else {
        String::new()
    };
    println!(
        "{}: ok ({files} results file{}{w})",
        results_dir.display(),
        plural(files)
    );
    if !reqs.is_empty() {
        println!(
            "{}: ok ({} request{})",
            requests_dir.display(),
            reqs.len(),
            plural(reqs.len())
        );
    }
    0
}
