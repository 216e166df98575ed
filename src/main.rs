//! `leaderboard`: builds the static leaderboard site from `results/`, checks
//! contributed results and requests, writes evaluation requests, and imports
//! the Open LLM Leaderboard v1 archive.

use clap::{Parser, Subcommand};
use leaderboard::cmd;

#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Build the static site from results/, content/ and templates/ into site/ (the default).
    Build(cmd::build::Args),
    /// Validate every results file and the flags file; exit non-zero on any problem.
    Check(leaderboard_format::check::Args),
    /// Ask for an evaluation: check a Hub model as v1 did and write its request to requests/.
    Submit(cmd::submit::Args),
    /// Convert the Open LLM Leaderboard v1 archive into results/ and a flags file (`import lm-eval FILE…`: lm-evaluation-harness results).
    Import(cmd::import::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Build(a)) => cmd::build::run(&a),
        Some(Command::Check(a)) => {
            std::process::exit(leaderboard_format::check::main(&a.results, &a.requests))
        }
        Some(Command::Import(a)) => cmd::import::run(&a),
        Some(Command::Submit(a)) => cmd::submit::run(&a),
        None => cmd::build::run(&cmd::build::Args::default()),
    }
}
