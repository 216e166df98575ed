//! `leaderboard check`: validates a results folder and prints every problem,
//! one per line, naming file, row and column. The rules and the printing are
//! `leaderboard_format::check`'s, shared with `evaluator check` and `build`.

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
