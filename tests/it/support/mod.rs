//! The helpers of the root crate's tests: where the repository and its v1 table are
//! (here), headless Chromium ([`chrome`]), a CSV reader ([`csv`]), a GitHub-Pages-like file
//! server ([`http`]) and the evaluator's local stand-in for the Hugging Face Hub
//! ([`hub_server`], the same file, for `submit`).

pub mod chrome;
pub mod csv;
pub mod http;
#[path = "../../../evaluator/tests/it/support/hub_server.rs"]
pub mod hub_server;

use std::path::PathBuf;

/// The repository root (this crate's manifest folder).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository's `data/leaderboard` (the final v1 table and its flag
/// list; see its `SOURCES.md`).
pub fn leaderboard_data(name: &str) -> PathBuf {
    let p = repo_root().join("data/leaderboard").join(name);
    assert!(p.exists(), "{} is missing", p.display());
    p
}
