//! One module per subcommand of the `leaderboard` binary.

pub mod build;
pub mod check;
pub mod import;
