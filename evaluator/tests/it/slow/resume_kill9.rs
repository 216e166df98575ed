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

/// Starts a run (`command` plus `extra` arguments) and SIGKILLs it once its journals hold
/// at least `min_records` records. Returns the number of complete records at the kill.
fn run_and_kill(cache: &Path, out: &Path, min_records: usize, extra: &[&str]) -> usize {
    let mut child = command(cache, out)
        .args(extra)
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
    let at_kill = run_and_kill(&cache_b, &out_b, 3, &[]);
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
    run_and_kill(&cache_c, &out_b, 1, &[]);
    assert_eq!(
        files(&out_b),
        uninterrupted,
        "a killed run changed a finished results file"
    );
}

/// The journal keys (folders under `<cache>/runs`), sorted.
fn journal_keys(cache: &Path) -> Vec<String> {
    let mut keys: Vec<String> = std::fs::read_dir(cache.join("runs"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

/// The `run_config` recorded in the one results file under `out`.
fn recorded_config(out: &Path) -> serde_json::Value {
    let (path, _) = files(out)
        .into_iter()
        .find(|(p, _)| !p.to_string_lossy().ends_with(".details.parquet"))
        .expect("a results file");
    let runs = leaderboard_format::read_file(&out.join(path)).unwrap();
    serde_json::from_str(
        runs[0]
            .provenance
            .run_config
            .as_deref()
            .expect("run_config"),
    )
    .unwrap()
}

/// The kernel path is part of a run's identity: a run killed under one path and started
/// again under another starts a fresh journal (another key) and reuses nothing; the
/// results record the path; started again under the first path, it resumes.
#[test]
fn another_kernel_path_starts_a_fresh_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (out_q, out_d) = (tmp.path().join("out-q"), tmp.path().join("out-d"));

    let at_kill = run_and_kill(&cache, &out_d, 3, &["--kernels", "dequantized"]);
    let killed_keys = journal_keys(&cache);
    assert_eq!(killed_keys.len(), 1, "{killed_keys:?}");

    let o = command(&cache, &out_q)
        .args(["--kernels", "quantized"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let key_line = err
        .lines()
        .find(|l| l.starts_with("run configuration (journal key "))
        .expect("the configuration is printed");
    assert!(
        !key_line.contains(&killed_keys[0][..16]),
        "the quantized run took the dequantized run's key: {key_line}"
    );
    assert!(!err.contains(" resumed "), "nothing may be resumed:\n{err}");
    assert!(err.contains("kernels quantized (--kernels)"), "{err}");
    let q = recorded_config(&out_q);
    assert_eq!(q["compute"]["kernels"], "quantized");
    // Its own journals are gone; the killed run's are left.
    assert_eq!(journal_keys(&cache), killed_keys);

    let o = command(&cache, &out_d)
        .args(["--kernels", "dequantized"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let resumed: usize = err
        .lines()
        .filter_map(|l| {
            l.split_once(": resumed ")?
                .1
                .split_once(" of ")?
                .0
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert!(
        resumed >= at_kill && at_kill >= 3,
        "resumed {resumed} requests, {at_kill} journal records at the kill:\n{err}"
    );
    let d = recorded_config(&out_d);
    assert_eq!(d["compute"]["kernels"], "dequantized");
    assert_ne!(q["model"]["weights_sha256"], serde_json::Value::Null);
    assert_eq!(q["model"]["weights_sha256"], d["model"]["weights_sha256"]);
    assert!(journal_keys(&cache).is_empty());
    println!(
        "killed under dequantized with {at_kill} records (key {}); quantized ran fresh; \
         dequantized again resumed {resumed} requests",
        &killed_keys[0][..16]
    );
}
