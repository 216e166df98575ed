//! `evaluator check`: the results-folder check of `leaderboard check`, from
//! the same code (`leaderboard_format::check`), so an evaluator user can
//! validate a folder before a pull request without building the site crate.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The results folder to check.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

/// Runs the check; exits the process with status 1 when the folder is refused.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let code = leaderboard_format::check::main(&args.results);
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
