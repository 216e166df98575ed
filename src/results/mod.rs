//! Reading and writing the results folder: Parquet files of runs ([`parquet`]),
//! the flags file ([`flags`]) and the checks `leaderboard check` runs ([`validate`]).
//!
//! The file format itself is documented once, in [`crate::schema`].

pub mod flags;
pub mod parquet;
pub mod validate;

use crate::schema::{self, Run};
use std::path::{Path, PathBuf};

pub use flags::Flag;

/// A run as loaded, with the results file it came from (path relative to the results dir).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRun {
    /// Path of the Parquet file, relative to the results folder.
    pub file: PathBuf,
    /// 1-based row number within that file (as printed in error messages).
    pub row: usize,
    pub run: schema::Run,
}

/// Everything the site needs: runs sorted by [`schema::RunKey`], flags.
#[derive(Debug, Clone, Default)]
pub struct ResultsSet {
    pub runs: Vec<LoadedRun>,
    pub flags: Vec<Flag>,
    /// Relative paths of the `.parquet` files read, sorted.
    pub files: Vec<PathBuf>,
}

impl ResultsSet {
    /// The flag entry for a model id, if the model is flagged (or on the do-not-submit list).
    pub fn flag_for(&self, model_id: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.model == model_id)
    }
}

/// A problem reading results; every variant names the file, and where it
/// applies the row (1-based) and column, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a readable Parquet file (truncated, corrupt, not Parquet).
    #[error("{}: not a readable Parquet file: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// A problem with the file as a whole: format version, missing column, wrong type.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// A bad value in one cell.
    #[error("{}: row {row}, column `{column}`: {message}", path.display())]
    Value {
        path: PathBuf,
        row: usize,
        column: String,
        message: String,
    },
    /// A problem in the flags file, at a 1-based line (0 = whole file).
    #[error("{}{}: {message}", path.display(), if *line > 0 { format!(": line {line}") } else { String::new() })]
    Flags {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl ResultsError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ResultsError::Io { path, .. }
            | ResultsError::Corrupt { path, .. }
            | ResultsError::File { path, .. }
            | ResultsError::Value { path, .. }
            | ResultsError::Flags { path, .. } => path,
        }
    }
}

/// Name of the flags file inside a results folder.
pub const FLAGS_FILE: &str = "flags.toml";

/// Reads every `*.parquet` file under `results_dir` (recursively, sorted by
/// path) and `flags.toml` (absent = no flags). Runs come back sorted by
/// [`schema::RunKey`]. Stops at the first bad file; `leaderboard check`
/// ([`validate`]) collects every problem instead.
pub fn load_dir(results_dir: &Path) -> Result<ResultsSet, ResultsError> {
    let files = parquet_files(results_dir)?;
    let mut runs = Vec::new();
    for rel in &files {
        let abs = results_dir.join(rel);
        for (i, run) in read_file(&abs)?.into_iter().enumerate() {
            runs.push(LoadedRun {
                file: rel.clone(),
                row: i + 1,
                run,
            });
        }
    }
    runs.sort_by(|a, b| {
        a.run
            .key()
            .cmp(&b.run.key())
            .then_with(|| a.file.cmp(&b.file))
            .then(a.row.cmp(&b.row))
    });
    let flags_path = results_dir.join(FLAGS_FILE);
    let flags = if flags_path.exists() {
        load_flags(&flags_path)?
    } else {
        Vec::new()
    };
    Ok(ResultsSet { runs, flags, files })
}

/// Relative paths of all results files (`*.parquet`, but not the per-sample
/// `*.details.parquet`) under `dir`, sorted. Symlinks are not followed (the
/// checker reports them).
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut |rel, ft| {
        let details = rel
            .file_name()
            .is_some_and(|n| schema::is_details_file(&n.to_string_lossy()));
        if ft.is_file() && !details && rel.extension().is_some_and(|e| e == "parquet") {
            out.push(rel.to_path_buf());
        }
    })?;
    out.sort();
    Ok(out)
}

/// Visits every entry under `root` (depth first, sorted by name) with its path
/// relative to `root` and its (not followed) file type; descends into real
/// directories only.
pub(crate) fn walk(
    root: &Path,
    rel: &Path,
    f: &mut dyn FnMut(&Path, std::fs::FileType),
) -> Result<(), ResultsError> {
    let dir = root.join(rel);
    let io = |source| ResultsError::Io {
        path: dir.clone(),
        source,
    };
    let mut entries = std::fs::read_dir(&dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type().map_err(io)?;
        let child = rel.join(e.file_name());
        f(&child, ft);
        if ft.is_dir() {
            walk(root, &child, f)?;
        }
    }
    Ok(())
}

/// Reads one results file; see [`parquet::read_file`].
pub fn read_file(path: &Path) -> Result<Vec<Run>, ResultsError> {
    parquet::read_file(path)
}

/// Writes runs to one results file, atomically and deterministically; see [`parquet::write_file`].
pub fn write_file(path: &Path, runs: &[Run]) -> Result<(), ResultsError> {
    parquet::write_file(path, runs)
}

/// Reads a flags file; see [`flags::load_flags`].
pub fn load_flags(path: &Path) -> Result<Vec<Flag>, ResultsError> {
    flags::load_flags(path)
}
