//! `evaluator run --shard I/3` three times, then `evaluator merge`, gives the results and
//! details files of one `evaluator run`, byte for byte.
//!
//! The test model (batch-invariant on the CPU's dequantized path), the six tasks 0-shot
//! with two documents each (MMLU: two per subject; TruthfulQA's mc2 means are floats
//! whose last bits depend on the order they are added in; GSM8K generates). Checked
//! besides: each shard holds part of the documents and no document twice; `check`
//! refuses shard files left in a results folder; `merge` refuses a missing shard and a
//! shard of another run configuration, and removes the shards once merged.

use crate::support::model::test_model;

use std::path::{Path, PathBuf};
use std::process::Command;

const EVALUATED_AT: &str = "2024-06-01T00:00:00Z";

fn run(cache: &Path, out: &Path, shard: Option<&str>) -> Command {
    let mut c = crate::support::evaluator();
    crate::support::isolate_env(&mut c);
    c.args(["run", "--model"])
        .arg(test_model())
        .args(["--suite", "openllm-v1", "--tasks", "all"])
        .args(["--num-fewshot", "0", "--limit", "2"])
        .args(["--hellaswag-fewshot-fallback", "validation"])
        .args(["--batch-tokens", "512", "--evaluated-at", EVALUATED_AT])
        .arg("--output")
        .arg(out)
        .env("LEADERBOARD_CACHE", cache)
        .env("LEADERBOARD_PROGRESS_SECS", "600")
        .env("RAYON_NUM_THREADS", "2");
    if let Some(s) = shard {
        c.args(["--shard", s]);
    }
    c
}

fn ok(mut c: Command) -> String {
    let o = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{c:?} failed:\n{text}");
    text
}

fn merge(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = crate::support::evaluator();
    c.arg("merge").arg("--output").arg(out).args(extra);
    c.output().unwrap()
}

/// Every file under `dir` with its bytes, by relative path.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    crate::support::model::files_under(dir)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(dir.join(&p)).unwrap();
            (p, b)
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    for (p, b) in files(from) {
        let dst = to.join(&p);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(dst, b).unwrap();
    }
}

#[test]
fn three_shards_merge_to_the_single_run_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let (single, sharded) = (tmp.path().join("single"), tmp.path().join("sharded"));
    let t = std::time::Instant::now();
    ok(run(&tmp.path().join("cache-a"), &single, None));
    let t_single = t.elapsed().as_secs_f64();
    let whole = files(&single);
    assert_eq!(whole.len(), 2, "results + details");

    let t = std::time::Instant::now();
    for i in 1..=3 {
        let log = ok(run(
            &tmp.path().join("cache-b"),
            &sharded,
            Some(&format!("{i}/3")),
        ));
        assert!(log.contains(&format!("shard {i}/3")), "{log}");
    }
    let t_shards = t.elapsed().as_secs_f64();
    println!("single run {t_single:.1} s; three shards one after another {t_shards:.1} s");

    // Six shard files; each shard holds part of the documents, none twice.
    let shard_files = files(&sharded);
    assert_eq!(
        shard_files.len(),
        6,
        "{:?}",
        shard_files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let single_details = leaderboard_format::details::read_rows(
        &single.join(
            whole
                .iter()
                .find(|f| f.0.to_string_lossy().ends_with(".details.parquet"))
                .unwrap()
                .0
                .clone(),
        ),
    )
    .unwrap();
    let mut counts = Vec::new();
    for (p, _) in shard_files
        .iter()
        .filter(|f| f.0.to_string_lossy().ends_with(".details.parquet"))
    {
        let rows = leaderboard_format::details::read_shard_rows(&sharded.join(p)).unwrap();
        counts.push(rows.len());
    }
    assert_eq!(counts.iter().sum::<usize>(), single_details.len());
    assert!(
        counts.iter().all(|&c| c > 0 && c < single_details.len()),
        "each shard holds part of the documents: {counts:?} of {}",
        single_details.len()
    );
    println!(
        "documents per shard: {counts:?} of {}",
        single_details.len()
    );

    // `check` refuses unmerged shards in a results folder.
    let problems = leaderboard_format::check::check_dir(&sharded);
    assert!(
        problems
            .iter()
            .any(|p| p.to_string().contains("shard of a sharded run")),
        "{problems:?}"
    );

    // A missing shard: refused, nothing written, nothing removed.
    let partial = tmp.path().join("partial");
    copy_tree(&sharded, &partial);
    let gone = crate::support::model::files_under(&partial)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".shard-2-of-3.parquet"))
        .unwrap();
    std::fs::remove_file(partial.join(&gone)).unwrap();
    let before = files(&partial);
    let o = merge(&partial, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("missing") && err.contains("shard-2-of-3"),
        "{err}"
    );
    assert_eq!(files(&partial), before, "a refused merge changes nothing");

    // A shard of another run configuration: refused.
    let other = tmp.path().join("other");
    copy_tree(&sharded, &other);
    let third = crate::support::model::files_under(&other)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".shard-3-of-3.parquet"))
        .unwrap();
    let mut runs = leaderboard_format::read_file(&other.join(&third)).unwrap();
    let cfg = runs[0].provenance.run_config.clone().unwrap();
    runs[0].provenance.run_config = Some(cfg.replace("\"limit\":2", "\"limit\":3"));
    assert_ne!(runs[0].provenance.run_config.as_deref(), Some(cfg.as_str()));
    leaderboard_format::write_file(&other.join(&third), &runs).unwrap();
    let o = merge(&other, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("run_config"), "{err}");

    // The merge: the single run's files, byte for byte; the shards are gone.
    let o = merge(&sharded, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merged = files(&sharded);
    assert_eq!(
        merged.iter().map(|f| &f.0).collect::<Vec<_>>(),
        whole.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((p, a), (_, b)) in merged.iter().zip(&whole) {
        assert!(
            a == b,
            "{}: the merged file differs from the single run's",
            p.display()
        );
    }
    crate::support::model::assert_results_check(&sharded);
}
