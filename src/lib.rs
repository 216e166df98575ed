//! The leaderboard library: the v1 archive import and the static-site
//! generator. The results format, its readers and `check` live in the
//! `leaderboard-format` crate. `main.rs` is a thin CLI
//! over [`cmd`].

pub mod cmd;
pub mod import_v1;
pub mod site;
