//! `evaluator work` over a requests folder, against a local Hub serving the test model:
//! two workers share three PENDING requests and a request for a missing model (each
//! taken exactly once; the missing model ends FAILED with the loader's message; the
//! folder passes `check`); a SIGTERM mid-request puts it back to PENDING (exit 75) and
//! the next worker resumes it from the journal, with results and details byte-identical
//! to an uninterrupted worker's.

use crate::support::hub_server::HubServer;
use crate::support::queue::{model_repo as repo, pending, statuses, wait_for_journal_records};

use leaderboard_format::requests::{read_request, Status};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

fn sha(n: u8) -> String {
    format!("{:040x}", 0xabc0_u64 + n as u64)
}

/// Where a worker's state lives: Hub, HF cache, journals, and its folders.
struct Env<'a> {
    endpoint: &'a str,
    hf_home: &'a Path,
    cache: &'a Path,
    requests: &'a Path,
    results: &'a Path,
    logs: &'a Path,
}

fn worker(env: &Env, run: &[&str]) -> Command {
    let mut c = crate::support::evaluator();
    crate::support::isolate_env(&mut c);
    c.arg("work")
        .arg("--requests")
        .arg(env.requests)
        .arg("--results")
        .arg(env.results)
        .arg("--logs")
        .arg(env.logs)
        .args(run)
        .env("HF_ENDPOINT", env.endpoint)
        .env("HF_HOME", env.hf_home)
        .env("LEADERBOARD_CACHE", env.cache)
        .env("LEADERBOARD_PROGRESS_SECS", "0")
        .env("SOURCE_DATE_EPOCH", "1780000000")
        .env("RAYON_NUM_THREADS", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    c
}

fn spawn(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child, what: &str) -> (std::process::ExitStatus, String) {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("--- {what}: {}\n{stderr}", out.status);
    (out.status, stderr)
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    crate::support::model::files_under(dir)
}

#[test]
fn two_workers_take_each_request_once_and_a_missing_model_fails() {
    let started = Instant::now();
    let models = ["org-a/model-one", "org-b/model-two", "org-c/model-three"];
    let server = HubServer::start(
        models
            .iter()
            .enumerate()
            .map(|(i, m)| repo(m, &sha(i as u8)))
            .collect(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let requests = tmp.path().join("requests");
    let (results, logs) = (tmp.path().join("results"), tmp.path().join("logs"));
    let mut paths: Vec<PathBuf> = models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            pending(
                &requests,
                m,
                &sha(i as u8),
                &format!("2026-11-0{}T10:00:00Z", i + 2),
            )
        })
        .collect();
    let missing = pending(
        &requests,
        "ghost/missing-model",
        &sha(9),
        "2026-11-01T09:00:00Z",
    );
    paths.push(missing.clone());
    let env = Env {
        endpoint: &server.endpoint,
        hf_home: &tmp.path().join("hf-home"),
        cache: &tmp.path().join("cache"),
        requests: &requests,
        results: &results,
        logs: &logs,
    };
    let run = [
        "--tasks",
        "arc_challenge",
        "--limit",
        "2",
        "--num-fewshot",
        "0",
    ];
    let a = spawn(worker(&env, &run));
    let b = spawn(worker(&env, &run));
    let (sa, ea) = finish(a, "worker a");
    let (sb, eb) = finish(b, "worker b");
    assert!(sa.success() && sb.success(), "workers failed: {sa} {sb}");

    // Every request taken exactly once: one RUNNING entry, one log, one results file.
    let mut hosts_jobs = Vec::new();
    for (p, m) in paths.iter().zip(models) {
        let r = read_request(p).unwrap();
        assert_eq!(
            statuses(p),
            [Status::Pending, Status::Running, Status::Finished],
            "{m}: {r:?}"
        );
        assert_eq!(r.status, Status::Finished);
        let rel = r.results_file.clone().expect("results_file");
        assert!(results.join(&rel).is_file(), "{rel} missing");
        assert!(
            rel.starts_with(&format!("{m}/openllm-v1_float32_")),
            "{rel}"
        );
        let running = &r.history[1];
        assert!(running.host.is_some() && running.job_id.is_some());
        hosts_jobs.push(running.job_id.clone().unwrap());
        let run = &leaderboard_format::read_file(&results.join(&rel)).unwrap()[0];
        assert_eq!(
            run.submitted_at,
            Some(r.submitted_time),
            "submitted_at recorded"
        );
        assert_eq!(run.model_id, *m);
        // The request's metadata is carried into the results.
        assert_eq!(run.license.as_deref(), Some("apache-2.0"));
        assert_eq!(run.hub_likes, Some(7));
        assert_eq!(run.is_merge, m.contains("two"));
        assert_eq!(run.revision.as_deref(), Some(r.revision.as_str()));
    }
    let m = read_request(&missing).unwrap();
    assert_eq!(
        statuses(&missing),
        [Status::Pending, Status::Running, Status::Failed]
    );
    let reason = m.history[2].reason.clone().unwrap();
    assert!(
        reason.contains("ghost/missing-model") && reason.contains("not found"),
        "the loader's message: {reason}"
    );
    assert!(m.history[2]
        .log_tail
        .as_ref()
        .is_some_and(|t| !t.is_empty()));
    // The oldest request (the missing model) was taken first.
    assert!(
        ea.lines().chain(eb.lines()).any(|l| l.contains("ghost")),
        "{ea}{eb}"
    );
    let result_files: Vec<_> = files(&results)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".details.parquet"))
        .collect();
    assert_eq!(result_files.len(), 3, "{result_files:?}");
    assert_eq!(
        files(&logs).len(),
        4,
        "one log per request: {:?}",
        files(&logs)
    );
    assert!(
        !files(&requests)
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".claim")),
        "claims removed"
    );

    // The folder the workers left passes `check`, requests against results.
    let (problems, set) = leaderboard_format::check::check_and_load(&results);
    assert!(problems.is_empty(), "{problems:?}");
    let (problems, loaded) = leaderboard_format::check::check_requests(&requests, &set);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(loaded.len(), 4);
    println!(
        "two workers, 4 requests (jobs {hosts_jobs:?}): {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigterm_puts_the_request_back_and_the_next_worker_resumes_it() {
    let model = "org-r/model-resume";
    let rev = sha(7);
    let server = HubServer::start(vec![repo(model, &rev)]);
    let tmp = tempfile::tempdir().unwrap();
    let hf_home = tmp.path().join("hf-home");
    let run = [
        "--tasks",
        "winogrande,truthfulqa_mc",
        "--limit",
        "2",
        "--batch-tokens",
        "256",
    ];
    let folders = |name: &str| {
        let d = tmp.path().join(name);
        (
            d.join("requests"),
            d.join("results"),
            d.join("logs"),
            d.join("cache"),
        )
    };

    // Uninterrupted.
    let (req_a, res_a, logs_a, cache_a) = folders("a");
    let path_a = pending(&req_a, model, &rev, "2026-11-20T08:00:00Z");
    let env_a = Env {
        endpoint: &server.endpoint,
        hf_home: &hf_home,
        cache: &cache_a,
        requests: &req_a,
        results: &res_a,
        logs: &logs_a,
    };
    let (s, _) = finish(spawn(worker(&env_a, &run)), "uninterrupted");
    assert!(s.success());
    assert_eq!(read_request(&path_a).unwrap().status, Status::Finished);

    // Interrupted once journal records exist, then resumed by a second worker.
    let (req_b, res_b, logs_b, cache_b) = folders("b");
    let path_b = pending(&req_b, model, &rev, "2026-11-20T08:00:00Z");
    let env_b = Env {
        endpoint: &server.endpoint,
        hf_home: &hf_home,
        cache: &cache_b,
        requests: &req_b,
        results: &res_b,
        logs: &logs_b,
    };
    let child = spawn(worker(&env_b, &run));
    wait_for_journal_records(&cache_b, 3);
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let (s, stderr) = finish(child, "interrupted");
    assert_eq!(s.code(), Some(75), "exit 75 (requeue): {stderr}");
    let r = read_request(&path_b).unwrap();
    assert_eq!(
        statuses(&path_b),
        [Status::Pending, Status::Running, Status::Pending]
    );
    assert!(
        r.history[2]
            .reason
            .as_deref()
            .is_some_and(|m| m.contains("interrupted (SIGTERM)")),
        "{r:?}"
    );
    assert!(
        files(&res_b).is_empty(),
        "no results yet: {:?}",
        files(&res_b)
    );

    let (s, _) = finish(spawn(worker(&env_b, &run)), "resumed");
    assert!(s.success());
    assert_eq!(
        statuses(&path_b),
        [
            Status::Pending,
            Status::Running,
            Status::Pending,
            Status::Running,
            Status::Finished
        ]
    );
    let logs: Vec<String> = files(&logs_b)
        .iter()
        .map(|p| std::fs::read_to_string(logs_b.join(p)).unwrap())
        .collect();
    assert_eq!(logs.len(), 2);
    assert!(
        logs.iter().any(|l| l.contains(": resumed ")),
        "the second run resumed from the journal: {logs:?}"
    );
    let bytes = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        files(dir)
            .into_iter()
            .map(|p| {
                let b = std::fs::read(dir.join(&p)).unwrap();
                (p, b)
            })
            .collect()
    };
    let (a, b) = (bytes(&res_a), bytes(&res_b));
    assert_eq!(a.len(), 2, "results and details");
    assert!(a == b, "resumed files differ from the uninterrupted run's");
}

/// The pids of the processes whose parent is `parent`.
fn children(parent: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …: the comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_run_killed_with_sigkill_waits_again_and_the_next_worker_finishes_it() {
    let model = "org-k/model-killed";
    let rev = sha(8);
    let server = HubServer::start(vec![repo(model, &rev)]);
    let tmp = tempfile::tempdir().unwrap();
    let requests = tmp.path().join("requests");
    let (results, logs, cache) = (
        tmp.path().join("results"),
        tmp.path().join("logs"),
        tmp.path().join("cache"),
    );
    let path = pending(&requests, model, &rev, "2026-11-21T08:00:00Z");
    let env = Env {
        endpoint: &server.endpoint,
        hf_home: &tmp.path().join("hf-home"),
        cache: &cache,
        requests: &requests,
        results: &results,
        logs: &logs,
    };
    let run = [
        "--tasks",
        "winogrande,truthfulqa_mc",
        "--limit",
        "2",
        "--batch-tokens",
        "256",
    ];
    let child = spawn(worker(&env, &run));
    wait_for_journal_records(&cache, 3);
    let runs = children(child.id());
    assert_eq!(
        runs.len(),
        1,
        "one evaluator run under the worker: {runs:?}"
    );
    // SAFETY: kill(2) of the worker's own child, as the OOM killer would.
    unsafe {
        libc::kill(runs[0], libc::SIGKILL);
    }
    let (s, stderr) = finish(child, "killed run");
    assert_eq!(s.code(), Some(75), "exit 75 (requeue): {stderr}");
    assert_eq!(
        statuses(&path),
        [Status::Pending, Status::Running, Status::Pending]
    );
    let r = read_request(&path).unwrap();
    let reason = r.history[2].reason.clone().unwrap();
    assert!(
        reason.starts_with("the run was killed (signal 9)") && reason.contains("1 of 3"),
        "{reason}"
    );
    let (s, _) = finish(spawn(worker(&env, &run)), "after the kill");
    assert!(s.success());
    assert_eq!(read_request(&path).unwrap().status, Status::Finished);
}
