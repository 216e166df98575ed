//! The checks behind `leaderboard check`: every problem in a results folder,
//! each naming the file and, where it applies, the row (or line) and column.
//!
//! Contributed results are untrusted, so besides the format this checks paths
//! (no symlinks, hidden files, `..`, odd characters or unexpected files),
//! ids (Hub model ids, git shas) and links in `flags.toml` (http(s) only).

use super::{flags, ResultsError, FLAGS_FILE};
use crate::schema::{self, Run, RunKey, METRICS, SUITES};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// One problem found by [`check_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
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
    fn file(file: &Path, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_path_buf(),
            row: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn cell(file: &Path, row: usize, column: &str, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_path_buf(),
            row: Some(row),
            line: None,
            column: Some(column.to_string()),
            message: message.into(),
        }
    }

    fn line(file: &Path, line: usize, column: Option<&str>, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_path_buf(),
            row: None,
            line: (line > 0).then_some(line),
            column: column.map(str::to_string),
            message: message.into(),
        }
    }

    /// A reader error, with its path made relative to `root`.
    fn from_error(root: &Path, e: ResultsError) -> Problem {
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
            ResultsError::File { path, message } => Problem::file(&rel(&path), message),
        }
    }
}

/// Whether a path component may appear in the results folder.
fn valid_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Checks everything in `results_dir`; an empty vector means it is valid.
pub fn check_dir(results_dir: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let root = Path::new("");
    match std::fs::metadata(results_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            problems.push(Problem::file(
                results_dir,
                "not a folder; expected the results folder",
            ));
            return problems;
        }
        Err(e) => {
            problems.push(Problem::file(
                results_dir,
                format!("cannot read the results folder: {e}"),
            ));
            return problems;
        }
    }
    let canonical_root = results_dir.canonicalize().ok();
    let mut parquet = Vec::new();
    let mut details = Vec::new();
    let mut has_flags = false;
    let walked = super::walk(results_dir, root, &mut |rel, ft| {
        let components: Vec<String> = rel
            .components()
            .map(|c| match c {
                Component::Normal(s) => s.to_string_lossy().into_owned(),
                other => other.as_os_str().to_string_lossy().into_owned(),
            })
            .collect();
        let name = components.last().cloned().unwrap_or_default();
        if ft.is_symlink() {
            problems.push(Problem::file(
                rel,
                "is a symbolic link; expected plain files and folders only (links may point outside the results folder)",
            ));
            return;
        }
        if let Some(bad) = components.iter().find(|c| !valid_component(c)) {
            problems.push(Problem::file(
                rel,
                format!(
                    "path component {bad:?} is not allowed; expected names of [A-Za-z0-9._-], not hidden (leading '.'), not '..'"
                ),
            ));
            return;
        }
        if let (Some(croot), Ok(abs)) = (&canonical_root, results_dir.join(rel).canonicalize()) {
            if !abs.starts_with(croot) {
                problems.push(Problem::file(rel, "resolves outside the results folder"));
                return;
            }
        }
        if ft.is_dir() {
            return;
        }
        if !ft.is_file() {
            problems.push(Problem::file(
                rel,
                "is not a regular file; expected only plain files",
            ));
            return;
        }
        if rel == Path::new(FLAGS_FILE) {
            has_flags = true;
        } else if schema::is_details_file(&name) {
            details.push(rel.to_path_buf());
        } else if name.ends_with(".parquet") && name.len() > ".parquet".len() {
            parquet.push(rel.to_path_buf());
        } else if name != "README.md" {
            problems.push(Problem::file(
                rel,
                format!(
                    "unexpected file; a results folder holds only *.parquet files, {FLAGS_FILE} (top level) and README.md"
                ),
            ));
        }
    });
    if let Err(e) = walked {
        problems.push(Problem::from_error(results_dir, e));
    }

    let mut seen: BTreeMap<RunKey, (PathBuf, usize)> = BTreeMap::new();
    for rel in &parquet {
        match super::read_file(&results_dir.join(rel)) {
            Err(e) => {
                let mut p = Problem::from_error(results_dir, e);
                p.file = rel.clone();
                problems.push(p);
            }
            Ok(runs) => {
                for (i, run) in runs.iter().enumerate() {
                    let row = i + 1;
                    check_run(rel, row, run, &mut problems);
                    match seen.get(&run.key()) {
                        Some((f, r)) => problems.push(Problem::cell(
                            rel,
                            row,
                            "model_id",
                            format!(
                                "duplicate run {}: the same model, revision and precision is already at {}: row {r}",
                                run.key(),
                                f.display()
                            ),
                        )),
                        None => {
                            seen.insert(run.key(), (rel.clone(), row));
                        }
                    }
                }
            }
        }
    }
    for rel in &details {
        check_details_file(results_dir, rel, &mut problems);
    }
    if has_flags {
        check_flags(results_dir, Path::new(FLAGS_FILE), &mut problems);
    }
    problems
}

/// A details file must sit beside its results file and carry the details
/// format version; its rows are the evaluator's business, not the site's.
fn check_details_file(results_dir: &Path, rel: &Path, problems: &mut Vec<Problem>) {
    let name = rel.file_name().unwrap_or_default().to_string_lossy();
    let stem = &name[..name.len() - schema::DETAILS_SUFFIX.len()];
    let sibling = rel.with_file_name(format!("{stem}.parquet"));
    if !results_dir.join(&sibling).is_file() {
        problems.push(Problem::file(
            rel,
            format!(
                "details file without its results file; expected {} beside it",
                sibling.display()
            ),
        ));
    }
    let path = results_dir.join(rel);
    let meta = std::fs::File::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            ::parquet::file::reader::SerializedFileReader::new(f).map_err(|e| e.to_string())
        });
    match meta {
        Err(e) => problems.push(Problem::file(
            rel,
            format!("not a readable Parquet file: {e}"),
        )),
        Ok(reader) => {
            use ::parquet::file::reader::FileReader;
            let version = reader
                .metadata()
                .file_metadata()
                .key_value_metadata()
                .and_then(|kv| {
                    kv.iter()
                        .find(|e| e.key == schema::DETAILS_FORMAT_VERSION_KEY)
                        .and_then(|e| e.value.clone())
                });
            if version.as_deref() != Some("1") {
                problems.push(Problem::file(
                    rel,
                    format!(
                        "expected file metadata {} = 1 (a per-sample details file), found {:?}",
                        schema::DETAILS_FORMAT_VERSION_KEY,
                        version
                    ),
                ));
            }
        }
    }
}

fn check_run(file: &Path, row: usize, run: &Run, problems: &mut Vec<Problem>) {
    let mut bad =
        |column: &str, message: String| problems.push(Problem::cell(file, row, column, message));
    if !schema::is_valid_model_id(&run.model_id) {
        bad(
            "model_id",
            format!(
                "{:?} is not a valid Hub model id; expected `org/name` of [A-Za-z0-9._-], no '..' or '--', at most 96 characters",
                run.model_id
            ),
        );
    }
    if let Some(rev) = &run.revision {
        if !schema::is_valid_revision(rev) {
            bad(
                "revision",
                format!("{rev:?}; expected a 40-digit lowercase hex commit sha or null"),
            );
        }
    }
    if let Some(base) = &run.base_model {
        if !schema::is_valid_model_id(base) {
            bad(
                "base_model",
                format!("{base:?} is not a valid Hub model id"),
            );
        }
    }
    if let Some(p) = run.params_billions {
        if !p.is_finite() || p < 0.0 {
            bad(
                "params_billions",
                format!("{p}; expected a finite number >= 0 (billions) or null"),
            );
        }
    }
    if let Some(l) = run.hub_likes {
        if l < 0 {
            bad("hub_likes", format!("{l}; expected >= 0 or null"));
        }
    }
    if let Some(h) = &run.weights_sha256 {
        if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            bad(
                "weights_sha256",
                format!("{h:?}; expected 64 lowercase hex digits or null"),
            );
        }
    }
    if run.provenance.tool.trim().is_empty() {
        bad(
            "tool",
            "empty; expected the name of the tool that produced the run".into(),
        );
    }
    if !SUITES.contains(&run.provenance.suite.as_str()) {
        bad(
            "suite",
            format!(
                "{:?}; expected one of {}",
                run.provenance.suite,
                SUITES.join(", ")
            ),
        );
    }
    if let Some(a) = run.reported_average {
        if !a.is_finite() || !(0.0..=100.0).contains(&a) {
            bad(
                "reported_average",
                format!("{a}; expected a percentage in [0, 100] or null"),
            );
        }
    }
    let mut pairs = BTreeSet::new();
    for (j, s) in run.scores.iter().enumerate() {
        let col = |f: &str| format!("scores[{}].{f}", j + 1);
        if !schema::is_known_task(&s.task) {
            bad(
                &col("task"),
                format!(
                    "unknown task {:?}; expected a benchmark task id or mmlu_<subject>",
                    s.task
                ),
            );
        }
        if !METRICS.contains(&s.metric.as_str()) {
            bad(
                &col("metric"),
                format!(
                    "unknown metric {:?}; expected one of {}",
                    s.metric,
                    METRICS.join(", ")
                ),
            );
        }
        if !s.value.is_finite() || !(0.0..=1.0).contains(&s.value) {
            bad(
                &col("value"),
                format!("{}; expected a finite fraction in [0, 1]", s.value),
            );
        }
        if let Some(e) = s.stderr {
            if !e.is_finite() || e < 0.0 {
                bad(
                    &col("stderr"),
                    format!("{e}; expected a finite number >= 0 or null"),
                );
            }
        }
        if let Some(n) = s.n_samples {
            if n < 1 {
                bad(&col("n_samples"), format!("{n}; expected >= 1 or null"));
            }
        }
        if let Some(k) = s.num_fewshot {
            if k < 0 {
                bad(&col("num_fewshot"), format!("{k}; expected >= 0 or null"));
            }
        }
        if !pairs.insert((&s.task, &s.metric)) {
            bad(
                &col("task"),
                format!(
                    "task {:?} metric {:?} appears twice in this run",
                    s.task, s.metric
                ),
            );
        }
    }
}

fn check_flags(root: &Path, rel: &Path, problems: &mut Vec<Problem>) {
    let entries = match flags::load_flags_with_lines(&root.join(rel)) {
        Ok(e) => e,
        Err(e) => {
            let mut p = Problem::from_error(root, e);
            p.file = rel.to_path_buf();
            problems.push(p);
            return;
        }
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (line, f) in &entries {
        let mut bad = |key: &str, message: String| {
            problems.push(Problem::line(rel, *line, Some(key), message))
        };
        if !schema::is_valid_model_id(&f.model) {
            bad(
                "model",
                format!("{:?} is not a valid Hub model id", f.model),
            );
        }
        if f.reason.trim().is_empty() {
            bad("reason", "empty; expected why the model is flagged".into());
        }
        if let Some(link) = &f.link {
            if !(link.starts_with("https://") || link.starts_with("http://"))
                || link.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                bad(
                    "link",
                    format!("{link:?}; expected an http(s) URL without spaces"),
                );
            }
        }
        if let Some(first) = seen.insert(&f.model, *line) {
            bad(
                "model",
                format!(
                    "{:?} is already flagged at line {first}; expected one entry per model",
                    f.model
                ),
            );
        }
    }
}
