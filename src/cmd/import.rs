//! `leaderboard import`: converts the Open LLM Leaderboard v1 archive into
//! `results/open-llm-leaderboard-v1.parquet` and `results/flags.toml`
//! (mapping documented in [`crate::import_v1`]).

use crate::import_v1::{self, ImportError};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use leaderboard_format as results;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The v1 table archive (JSON Lines, optionally gzip-compressed).
    #[arg(
        long,
        default_value = "data/leaderboard/open_llm_leaderboard_v1_2024-07-07.jsonl.gz"
    )]
    pub archive: PathBuf,
    /// v1's flag and do-not-submit lists (JSON Lines).
    #[arg(long, default_value = "data/leaderboard/flagged_models_v1.jsonl")]
    pub flags: PathBuf,
    /// The results folder to write `open-llm-leaderboard-v1.parquet` and `flags.toml` into.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let (rows, source) = import_v1::read_archive(&args.archive)?;
    let list = import_v1::read_flag_list(&args.flags)?;

    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("converting {bar:40} {pos}/{len} rows ({per_sec}, ETA {eta})")
            .expect("valid template"),
    );
    let mut runs = Vec::with_capacity(rows.len());
    for (line, row) in &rows {
        let run = import_v1::convert_row(row, &source).map_err(|message| ImportError {
            path: args.archive.clone(),
            line: *line,
            message,
        })?;
        runs.push(run);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let flags_import = import_v1::build_flags(&args.flags, &list, &args.archive, &rows)?;
    let stats = &flags_import.stats;

    let out = args.results.join(import_v1::OUTPUT_FILE);
    results::write_file(&out, &runs).with_context(|| format!("writing {}", out.display()))?;
    let flags_out = args.results.join(results::FLAGS_FILE);
    results::atomic::write_atomic(&flags_out, flags_import.render().as_bytes())
        .with_context(|| format!("writing {}", flags_out.display()))?;

    let models: std::collections::BTreeSet<&str> =
        runs.iter().map(|r| r.model_id.as_str()).collect();
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({} runs, {} distinct models, {} bytes)",
        out.display(),
        runs.len(),
        models.len(),
        size
    );
    println!(
        "wrote {} ({} entries: {} flagged models in the archive = {} from v1's list + {} auto-flagged undeclared merges; {} listed models not in the archive; {} do-not-submit; {} list keys ignored as invalid ids)",
        flags_out.display(),
        stats.total,
        stats.flagged_in_archive,
        stats.from_list,
        stats.auto_flagged,
        stats.listed_not_in_archive,
        stats.do_not_submit,
        stats.ignored
    );
    for (line, f) in &flags_import.ignored {
        eprintln!(
            "note: {}: line {line}: key {:?} is not a valid model id; v1 never applied it, kept as a comment only",
            args.flags.display(),
            f.model
        );
    }
    Ok(())
}
