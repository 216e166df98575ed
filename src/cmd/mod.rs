//! One module per subcommand of the `leaderboard` binary (`check` is the
//! format crate's, shared with `evaluator check`: `leaderboard_format::check`).

pub mod build;
pub mod import;
pub mod submit;
