//! A run killed with SIGKILL halfway and started again finishes with results identical to an uninterrupted run.
//!
//! Uses the built `evaluator` binary on the SmolLM2 GGUF (two Winogrande and two TruthfulQA
//! documents). Each run gets its own `LEADERBOARD_CACHE` (so its own journals) and its
//! own results folder. Checked:
//! - the killed run left no results file, and some journal records;
//! - the restarted run reads back exactly the complete records the killed run had
//!   written (so it redoes only what was in flight) and says so on stderr, and plans
//!   fewer tokens to forward than the whole run;
//! - its results and details files are byte-identical to the uninterrupted run's;
//! - journals are removed once the results are written;
//! - a run killed while a finished results file exists leaves that file untouched.

use crate::support::model::test_model;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EVALUATED_AT: &str = "2024-06-01T00:00:00Z";

fn command(cache: &Path, out: &Path) -> Command {
    let mut c = crate::support::evaluator();
    c.args(["run", "--model"])
        .arg(test_model())
        .args([
            "--suite",
            "openllm-v1",
            "--tasks",
            "winogrande,truthfulqa_mc",
            "--limit",
            "2",
        ])
        // A fixed, small batch budget: several batches to kill between, and the same
        // journal key whatever the machine's free memory does between the runs.
        .args(["--batch-tokens", "256"])
        .args(["--evaluated-at", EVALUATED_AT])
        .arg("--output")
        .arg(out)
        .env("LEADERBOARD_CACHE", cache)
        // stderr is a pipe here, not a terminal: plain progress lines, one per update.
        .env("LEADERBOARD_PROGRESS_SECS", "0")
        .env("RAYON_NUM_THREADS", "2");
    c
}

/// Every file under `dir` with its bytes, sorted by path.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Complete records (lines after the header) in every journal under `cache`.
fn journal_records(cache: &Path) -> usize {
    files(cache)
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "journal"))
        .map(|(_, b)| b.iter().filter(|&&c| c == b'\n').count().saturating_sub(1))
        .sum()
}

/// Starts a run and SIGKILLs it once its journals hold at least `min_records` records.
/// Returns the number of complete records at the kill.
fn run_and_kill(cache: &Path, out: &Path, min_records: usize) -> usize {
    let mut child = command(cache, out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the run finished ({status}) before {min_records} journal records were seen: \
                 the workload is too small to kill it halfway"
            );
        }
        if journal_records(cache) >= min_records {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "no journal records after 30 min"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    journal_records(cache)
}

/// Sum over tasks of the plan lines' "<task>: N requests, T tokens to forward, …".
fn planned_tokens(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| {
            l.split_once(" requests, ")?
                .1
                .split_once(" tokens to forward")
        })
        .map(|(t, _)| t.parse::<u64>().unwrap())
        .sum()
}

#[test]
fn killed_run_resumes_to_identical_results() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache_a, out_a) = (tmp.path().join("cache-a"), tmp.path().join("out-a"));
    let (cache_b, out_b) = (tmp.path().join("cache-b"), tmp.path().join("out-b"));

    // Uninterrupted.
    let t = Instant::now();
    let o = command(&cache_a, &out_a).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let uninterrupted = files(&out_a);
    assert_eq!(
        uninterrupted.len(),
        2,
        "results + details: {:?}",
        uninterrupted.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(
        journal_records(&cache_a),
        0,
        "journals are removed after a finished run"
    );
    eprintln!("uninterrupted run: {:.1}s", t.elapsed().as_secs_f64());
    let planned_whole = planned_tokens(&String::from_utf8_lossy(&o.stderr));

    // Killed after a few records, then restarted.
    let at_kill = run_and_kill(&cache_b, &out_b, 3);
    assert!(
        files(&out_b).is_empty(),
        "a killed run must leave no results file"
    );
    let o = command(&cache_b, &out_b).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // "<task>: resumed R of N requests (K journal records) from …": identical requests
    // (TruthfulQA's mc1 and mc2 share choices) share one record, so compare records.
    let resumed: usize = stderr
        .lines()
        .filter_map(|l| l.split_once(" requests (").map(|(_, r)| r))
        .map(|r| {
            r.split_whitespace()
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    eprintln!(
        "killed with {at_kill} complete journal records; the restart read back {resumed} records"
    );
    assert_eq!(
        resumed, at_kill,
        "every complete record is reused, nothing finished is redone"
    );
    // Nor is its forward work: the restart plans fewer tokens than the whole run.
    let planned_resumed = planned_tokens(&stderr);
    eprintln!(
        "tokens to forward: uninterrupted {planned_whole}, restarted after the kill {planned_resumed}"
    );
    assert!(
        planned_resumed < planned_whole,
        "the restart forwards {planned_resumed} tokens, the whole run {planned_whole}"
    );
    // Progress shows without a terminal: "<task>: d/n requests, p/t tokens (x%), r tok/s,
    // ETA h:mm:ss" per update, then "<task>: done, n/n requests, …".
    for task in ["winogrande", "truthfulqa_mc"] {
        // The plan's figures come first: "<task>: N requests, T tokens to forward, KV
        // cache at most M MB".
        assert!(
            stderr.lines().any(|l| l.starts_with(&format!("{task}: "))
                && l.contains(" tokens to forward, KV cache at most ")
                && l.ends_with(" MB")),
            "{task}: no plan line:\n{stderr}"
        );
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("{task}: ")) && l.contains(" tok/s"))
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" tokens (") && l.contains(", ETA ")),
            "{task}: no plain progress line on a non-terminal stderr:\n{stderr}"
        );
        let done = lines
            .iter()
            .find(|l| l.starts_with(&format!("{task}: done, ")))
            .unwrap_or_else(|| panic!("{task}: no closing progress line:\n{stderr}"));
        let (d, n) = done
            .split_once(", ")
            .and_then(|(_, r)| r.split_once(" requests"))
            .and_then(|(c, _)| c.split_once('/'))
            .unwrap_or_else(|| panic!("unexpected closing line {done:?}"));
        assert_eq!(d, n, "{done}");
    }
    assert_eq!(
        files(&out_b),
        uninterrupted,
        "resumed results differ from the uninterrupted run"
    );
    assert_eq!(journal_records(&cache_b), 0);

    // A killed run never touches a finished results file.
    let cache_c = tmp.path().join("cache-c");
    run_and_kill(&cache_c, &out_b, 1);
    assert_eq!(
        files(&out_b),
        uninterrupted,
        "a killed run changed a finished results file"
    );
}
