//! `leaderboard check`: validates a results folder (see [`crate::results::validate`])
//! and prints every problem, one per line, naming file, row and column.

use crate::results::validate;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The results folder to check.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let problems = validate::check_dir(&args.results);
    for p in &problems {
        let mut p = p.clone();
        p.file = args.results.join(&p.file);
        eprintln!("{p}");
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{} problem{} in {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            args.results.display()
        );
    }
    let files = crate::results::parquet_files(&args.results)?;
    println!(
        "{}: ok ({} results files)",
        args.results.display(),
        files.len()
    );
    Ok(())
}
