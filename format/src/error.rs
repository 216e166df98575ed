//! The one error type of reading and writing: every variant names the file.

use std::path::{Path, PathBuf};

/// A problem reading results; every variant names the file, and where it
/// applies the row (1-based) and column, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a readable Parquet file (truncated, corrupt, not
    /// Parquet, a reader panic contained, a decompression that does not match).
    #[error("{}: not a readable Parquet file: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// A limit of [`crate::read::Limits`] is exceeded: the file is refused
    /// before (or instead of) being decoded.
    #[error("{}: {message}", path.display())]
    Limit { path: PathBuf, message: String },
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
            | ResultsError::Limit { path, .. }
            | ResultsError::File { path, .. }
            | ResultsError::Value { path, .. }
            | ResultsError::Flags { path, .. } => path,
        }
    }
}
