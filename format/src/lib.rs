//! The formats of the open LLM leaderboard, in one small crate that both the
//! site (`leaderboard`) and the evaluator depend on: what a results file, a
//! details file and the flags file hold, the one validator of model ids and
//! names, bounded readers that no file can crash, deterministic writers, and
//! `check`.
//!
//! This crate's documentation is the one place a file format is defined:
//!
//! | what | where |
//! |---|---|
//! | results files (`results/**/*.parquet`), columns and types | [`schema`] |
//! | per-sample details files (`*.details.parquet`) | [`details`] |
//! | shards of a run (`*.shard-I-of-N.parquet`), before `evaluator merge` | [`shard`] |
//! | the flags file (`results/flags.toml`) | [`flags`] |
//! | the architectures the evaluator runs | [`architectures`] |
//! | evaluation requests (`requests/<org>/*_eval_request_*.json`) | [`requests`] |
//! | how files are read: encodings accepted, limits, integrity | [`read`] |
//! | verification records (`results/verifications/**/*.json`) | [`verifications`] |
//! | ids: model ids, revisions, look-alikes, links | [`ids`] |
//! | what `check` enforces beyond the types | [`check`], [`check::runs`] |
//! | writing a results file with pandas / pyarrow | [`guide`] |
//!
//! Atomic writes (temporary file, then rename) live in [`atomic`]; recorded
//! timestamps (flags, `SOURCE_DATE_EPOCH`) in [`mod@time`]; what the
//! writers share (version and checksum metadata) in [`mod@write`].

pub mod architectures;
pub mod atomic;
pub mod check;
pub mod details;
mod error;
pub mod flags;
pub mod folder;
pub mod guide;
pub mod ids;
pub mod read;
pub mod requests;
pub mod results;
pub mod schema;
pub mod shard;
pub mod time;
pub mod verifications;
pub mod write;

pub use error::ResultsError;
pub use flags::{load_flags, Flag};
pub use folder::{load_dir, parquet_files, LoadedRun, ResultsSet, FLAGS_FILE};
pub use results::{read_file, write_file};
