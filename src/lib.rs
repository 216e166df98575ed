//! The leaderboard library: the results format, its reader and checker, the
//! v1 archive import and the static-site generator. `main.rs` is a thin CLI
//! over [`cmd`].

pub mod cmd;
pub mod import_v1;
pub mod results;
pub mod schema;
pub mod site;
