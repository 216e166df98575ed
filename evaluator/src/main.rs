//! `evaluator`: runs the six Open LLM Leaderboard v1 benchmarks, prompt-exact
//! with lm-evaluation-harness. A thin CLI over the library's `cmd` modules.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the exact prompts and continuations of a task, in evaluation order.
    Prompts(evaluator::cmd::prompts::Args),
    /// Evaluate a model on the leaderboard tasks; write its results and details files.
    Run(Box<evaluator::cmd::run::RunArgs>),
    /// Combine the shard files of `run --shard I/N` runs into whole results and details files.
    Merge(evaluator::cmd::merge::MergeArgs),
    /// Re-evaluate a seeded sample of a results file's documents; record whether they agree.
    Verify(Box<evaluator::cmd::verify::VerifyArgs>),
    /// Take evaluation requests from the queue (requests/) and evaluate them, one at a time.
    Work(Box<evaluator::cmd::work::WorkArgs>),
    /// Run the queue's workers on a Slurm cluster: one job array of `work --once` tasks.
    Slurm(Box<evaluator::cmd::slurm::SlurmArgs>),
    /// Validate a results folder, exactly as `leaderboard check` does (same rules, same output).
    Check(leaderboard_format::check::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Prompts(a) => evaluator::cmd::prompts::run(a),
        Command::Run(a) => evaluator::cmd::run::run(&a),
        Command::Merge(a) => evaluator::cmd::merge::run(&a),
        Command::Verify(a) => evaluator::cmd::verify::run(&a),
        Command::Work(a) => evaluator::cmd::work::run(&a),
        Command::Slurm(a) => evaluator::cmd::slurm::run(&a),
        Command::Check(a) => {
            std::process::exit(leaderboard_format::check::main(&a.results, &a.requests))
        }
    }
}
