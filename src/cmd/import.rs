//! `leaderboard import`: converts the Open LLM Leaderboard v1 archive into
//! `results/open-llm-leaderboard-v1.parquet` and `results/flags.toml`
//! (mapping documented in [`crate::import_v1`]); `leaderboard import lm-eval`
//! converts lm-evaluation-harness results files of one model into one results
//! file ([`crate::import_lm_eval`]).

use crate::import_v1::{self, ImportError};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use leaderboard_format as results;
use std::path::PathBuf;

/// `import` (the v1 archive) or `import <tool> …`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub tool: Option<Tool>,
    #[command(flatten)]
    pub v1: V1Args,
}

/// Results of other tools.
#[derive(Debug, clap::Subcommand)]
pub enum Tool {
    /// lm-evaluation-harness results JSON (0.3 or 0.4.x) of one model → one results file; with --samples, its details file too.
    LmEval(LmEvalArgs),
    /// lighteval results JSON of one model (the v1 leaderboard's `harness|task|shots` layout) → one results file; with --details, its details file too.
    Lighteval(LightevalArgs),
}

/// `leaderboard import lm-eval`.
#[derive(Debug, clap::Args)]
pub struct LmEvalArgs {
    #[command(flatten)]
    pub common: ToolArgs,
    /// lm-eval 0.4 samples files of the same run (`--log_samples`: samples_<task>_<time>.jsonl), one per task → the run's details file.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub samples: Vec<PathBuf>,
}

/// `leaderboard import lighteval`.
#[derive(Debug, clap::Args)]
pub struct LightevalArgs {
    #[command(flatten)]
    pub common: ToolArgs,
    /// lighteval 0.11 details files of the same run (details_<suite>|<task>|<shots>_<time>.parquet) → the run's details file (multiple-choice tasks).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub details: Vec<PathBuf>,
}

/// What `leaderboard import lm-eval` and `leaderboard import lighteval` share.
#[derive(Debug, clap::Args)]
pub struct ToolArgs {
    /// Results files of one model (one with several tasks, or one per task).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Results folder; the run goes to <results>/<org>/<name>/lm-eval_<suite>_<precision>_<commit>.parquet.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Hub model id, when the files name only a local path (or nothing).
    #[arg(long)]
    pub model_id: Option<String>,
    /// Commit sha of the evaluated weights, when the files do not record it.
    #[arg(long)]
    pub revision: Option<String>,
    /// Precision, when the files do not say the dtype: float16, bfloat16, float32, 8bit, 4bit, GPTQ.
    #[arg(long)]
    pub precision: Option<leaderboard_format::schema::Precision>,
    /// Model category: pretrained, continuously pretrained, fine-tuned, chat, merge.
    #[arg(long)]
    pub model_type: Option<leaderboard_format::schema::ModelType>,
}

/// `leaderboard import` (the v1 archive).
#[derive(Debug, clap::Args)]
pub struct V1Args {
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
    match &args.tool {
        Some(Tool::LmEval(a)) => tool(&a.common, &a.samples, crate::import_lm_eval::import),
        Some(Tool::Lighteval(a)) => tool(
            &a.common,
            &a.details,
            crate::import_lm_eval::import_lighteval,
        ),
        None => v1(&args.v1),
    }
}

type Importer = fn(
    &[PathBuf],
    &crate::import_lm_eval::Options,
) -> anyhow::Result<crate::import_lm_eval::Imported>;

fn tool(a: &ToolArgs, samples: &[PathBuf], import: Importer) -> anyhow::Result<()> {
    let opts = crate::import_lm_eval::Options {
        model_id: a.model_id.clone(),
        revision: a.revision.clone(),
        precision: a.precision,
        model_type: a.model_type,
        samples: samples.to_vec(),
    };
    let imported = import(&a.files, &opts)?;
    let run = &imported.run;
    let out = crate::import_lm_eval::output_path(&a.results, run);
    results::write_file(&out, std::slice::from_ref(run))
        .with_context(|| format!("writing {}", out.display()))?;
    let details = results::details::details_path(&out);
    if imported.details.is_empty() {
        // A details file left from an earlier import would no longer match.
        if details.is_file() {
            std::fs::remove_file(&details)
                .with_context(|| format!("removing the stale {}", details.display()))?;
        }
    } else {
        results::details::write_file(&details, &imported.details)
            .with_context(|| format!("writing {}", details.display()))?;
    }
    if !imported.skipped.is_empty() {
        eprintln!(
            "not imported (not among the leaderboard's six): {}",
            imported.skipped.join(", ")
        );
    }
    for b in leaderboard_format::schema::Benchmark::ALL {
        if let Some(s) = run.headline(b) {
            println!(
                "{:<12} {:>7.2}{}",
                b.label(),
                s.value * 100.0,
                s.stderr
                    .map(|e| format!(" ± {:.2}", e * 100.0))
                    .unwrap_or_default()
            );
        }
    }
    if !run.provenance.deviations.is_empty() {
        println!(
            "deviations (shown as not comparable): {}",
            run.provenance.deviations.join(", ")
        );
    }
    println!("wrote {}", out.display());
    if !imported.details.is_empty() {
        println!(
            "wrote {} ({} documents)",
            details.display(),
            imported.details.len()
        );
    }
    Ok(())
}

fn v1(args: &V1Args) -> anyhow::Result<()> {
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
