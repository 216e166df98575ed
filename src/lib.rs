//! The leaderboard library: the v1 archive import, the lm-eval import, the
//! static-site generator and `submit`. The results format, its readers and `check` live in the
//! `leaderboard-format` crate. `main.rs` is a thin CLI
//! over [`cmd`].

pub mod cmd;
pub mod import_lm_eval;
pub mod import_v1;
pub mod site;
