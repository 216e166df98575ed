//! Site scale benchmark: `cargo run --release --example site_scale`.
//!
//! Builds the site three ways and prints, for each, the site's size, file
//! count, build time (load + render + write) and bytes and milliseconds per
//! run, with the ratio to the archive's (the baseline, measured in the same
//! run):
//!
//! 1. the v1 archive in `results/` (one Parquet file, 7,169 runs);
//! 2. 10,000 single-run results files (archive runs under new model ids, one
//!    file each: the shape of a board fed by contributed pull requests);
//! 3. 10x the archive's runs (71,690 runs under new model ids, in ten files).
//!
//! The site grows linearly when the per-run ratios stay near 1 (the issue's
//! bound: within 20%). Pass `--quick` for 2,000 files and 3x the archive.

use anyhow::Result;
use leaderboard_format::schema::Run;
use std::path::Path;
use std::time::Instant;

struct Measured {
    runs: usize,
    files: usize,
    bytes: u64,
    secs: f64,
}

fn build(results: &Path, out: &Path) -> Result<Measured> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = Instant::now();
    let src = leaderboard::site::load(results, &root.join("content"), None, None)?;
    let s = leaderboard::site::build(&src, out)?;
    Ok(Measured {
        runs: s.runs,
        files: s.files,
        bytes: s.bytes,
        secs: t.elapsed().as_secs_f64(),
    })
}

/// `run` as the `i`-th copy: a new model id, so each copy is its own model.
fn copy(run: &Run, i: usize) -> Run {
    let mut r = run.clone();
    r.model_id = format!("{}-scale{i}", run.model_id);
    r
}

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let quick = std::env::args().any(|a| a == "--quick");
    let (n_files, times) = if quick { (2_000, 3) } else { (10_000, 10) };
    let archive = leaderboard_format::results::read_file(
        &root.join("results/open-llm-leaderboard-v1.parquet"),
    )?;
    let dir = tempfile::tempdir()?;

    let many_files = dir.path().join("many-files");
    for i in 0..n_files {
        let r = copy(&archive[i % archive.len()], i);
        let p = many_files.join(format!("c{:02}/run-{i:05}.parquet", i % 100));
        leaderboard_format::results::write_file(&p, std::slice::from_ref(&r))?;
    }
    let many_runs = dir.path().join("many-runs");
    for k in 0..times {
        let part: Vec<Run> = archive.iter().map(|r| copy(r, k)).collect();
        leaderboard_format::results::write_file(
            &many_runs.join(format!("part{k}.parquet")),
            &part,
        )?;
    }

    let cases = [
        ("archive (baseline)", root.join("results")),
        ("single-run files", many_files),
        ("archive x times", many_runs),
    ];
    let mut base: Option<(f64, f64)> = None;
    println!(
        "{:<20} {:>7} {:>7} {:>9} {:>8} {:>10} {:>7} {:>8} {:>7}",
        "case", "runs", "files", "MB", "build s", "bytes/run", "ratio", "ms/run", "ratio"
    );
    for (name, results) in cases {
        let out = dir.path().join("site");
        let m = build(&results, &out)?;
        let per_run = m.bytes as f64 / m.runs as f64;
        let ms_run = m.secs * 1e3 / m.runs as f64;
        let (b_bytes, b_ms) = *base.get_or_insert((per_run, ms_run));
        println!(
            "{:<20} {:>7} {:>7} {:>9.1} {:>8.2} {:>10.0} {:>7.2} {:>8.3} {:>7.2}",
            name,
            m.runs,
            m.files,
            m.bytes as f64 / 1e6,
            m.secs,
            per_run,
            per_run / b_bytes,
            ms_run,
            ms_run / b_ms
        );
        std::fs::remove_dir_all(&out)?;
    }
    Ok(())
}
