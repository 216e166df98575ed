//! `evaluator slurm` on a real Slurm cluster started by `scripts/slurm-test-cluster.sh`
//! (Debian's slurmctld + 3 emulated slurmd nodes + munge, installed if missing): a job
//! array of queue workers takes three requests for the test model (served by a local
//! Hub) and one for a missing model: three end FINISHED with their Slurm job ids, the
//! missing one FAILED with the loader's message. Then a task stopped with SIGTERM
//! mid-run (`scancel --signal=TERM --batch`, as preemption does) puts its request back,
//! exits 75, is requeued by Slurm (`RequeueExit=75`) and resumes from its journal.
//! Sharded (`--shards 3`): a request runs as 3 shards on the 3 nodes plus a finish job;
//! one shard's `evaluator run` is killed with SIGKILL mid-run, requeued, and resumes
//! from its journal (its log says how many requests it reused); the request ends
//! FINISHED with the merged file, which `check` accepts. A sharded request for a missing
//! model ends FAILED with the loader's message, nothing left queued. A worker whose task
//! is SIGKILLed whole (as when its node is lost) leaves its request RUNNING until the
//! array's sweep job puts it back to PENDING.
//! Nothing is left running: the queue is empty and the daemons are stopped.

use crate::support::hub_server::{FakeRepo, HubServer};
use crate::support::queue::{
    journal_records, model_repo as repo, statuses, wait_for_journal_records,
};

use leaderboard_format::requests::{read_request, Status};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The cluster; stopped (jobs cancelled, daemons killed by PID) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn script(dir: &Path, action: &str) -> std::process::Output {
        Command::new(repo_root().join("scripts/slurm-test-cluster.sh"))
            .arg(action)
            .env("SLURM_TEST_DIR", dir)
            .env("NODES", "3")
            .env("CPUS", "1")
            .output()
            .unwrap()
    }

    fn start(dir: &Path) -> Cluster {
        let out = Self::script(dir, "start");
        assert!(
            out.status.success(),
            "starting the Slurm test cluster failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("slurm.conf"),
        }
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn squeue(&self) -> String {
        let out = self
            .cmd("squeue")
            .args(["-h", "-o", "%i %T"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn daemon_pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for e in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".pid") {
                if let Some(p) = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                {
                    pids.push(p);
                }
            }
        }
        pids
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Self::script(&self.dir, "stop");
    }
}

fn sha(n: u8) -> String {
    format!("{:040x}", 0x51_0000_u64 + n as u64)
}

fn pending(dir: &Path, model: &str, rev: &str, day: u32) -> PathBuf {
    crate::support::queue::pending(dir, model, rev, &format!("2026-11-{day:02}T10:00:00Z"))
}

/// `evaluator slurm` with the test's environment (inherited by the array tasks): the
/// array's job id.
fn submit(cluster: &Cluster, env: &[(&str, &Path)], endpoint: &str, args: &[&str]) -> String {
    slurm(cluster, env, endpoint, args)
        .lines()
        .find_map(|l| l.strip_prefix("submitted job array "))
        .and_then(|l| l.split(':').next())
        .expect("the array's job id")
        .to_string()
}

/// Submits one worker (`args`), waits until its run is midway (3 more journal records
/// under `cache`) and sends its batch process `SIG<signal>`; the array's id.
fn signal_midway(
    cluster: &Cluster,
    env: &[(&str, &Path)],
    endpoint: &str,
    args: &[&str],
    cache: &Path,
    signal: &str,
) -> String {
    let before = journal_records(cache);
    let array = submit(cluster, env, endpoint, args);
    wait_for_journal_records(cache, before + 3);
    let out = cluster
        .cmd("scancel")
        .args([
            &format!("--signal={signal}"),
            "--batch",
            &format!("{array}_0"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    array
}

/// `evaluator slurm` with the test's environment: its output.
fn slurm(cluster: &Cluster, env: &[(&str, &Path)], endpoint: &str, args: &[&str]) -> String {
    let mut c = crate::support::evaluator();
    crate::support::isolate_env(&mut c);
    c.arg("slurm")
        .args(args)
        .env("SLURM_CONF", &cluster.conf)
        .env("HF_ENDPOINT", endpoint)
        .env("SOURCE_DATE_EPOCH", "1780000000")
        .env("LEADERBOARD_PROGRESS_SECS", "0")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "evaluator slurm failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    stdout
}

/// Waits until `done` holds and the queue is empty.
fn wait(cluster: &Cluster, what: &str, secs: u64, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !(done() && cluster.squeue().is_empty()) {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what}: not done after {secs} s; squeue: {}",
            cluster.squeue()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_job_array_of_workers_runs_the_queue_and_a_preempted_task_is_requeued() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&tmp.path().join("slurm"));
    let models = ["org-s/model-a", "org-s/model-b", "org-s/model-c"];
    let mut repos: Vec<FakeRepo> = models
        .iter()
        .enumerate()
        .map(|(i, m)| repo(m, &sha(i as u8)))
        .collect();
    repos.push(repo("org-s/model-resume", &sha(9)));
    repos.push(repo("org-s/model-sharded", &sha(10)));
    repos.push(repo("org-s/model-lost", &sha(12)));
    let server = HubServer::start(repos);
    let requests = tmp.path().join("requests");
    let (results, logs) = (tmp.path().join("results"), tmp.path().join("logs"));
    let (hf_home, cache) = (tmp.path().join("hf-home"), tmp.path().join("cache"));
    let env: Vec<(&str, &Path)> = vec![("HF_HOME", &hf_home), ("LEADERBOARD_CACHE", &cache)];
    let folders = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--requests".into(),
            requests.display().to_string(),
            "--results".into(),
            results.display().to_string(),
            "--logs".into(),
            logs.display().to_string(),
            "--cpus-per-task".into(),
            "1".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    // 1. Three requests and a missing model: one array task each.
    let mut paths: Vec<PathBuf> = models
        .iter()
        .enumerate()
        .map(|(i, m)| pending(&requests, m, &sha(i as u8), 2 + i as u32))
        .collect();
    let ghost = pending(&requests, "org-s/missing-model", &sha(7), 1);
    paths.push(ghost.clone());
    let args = folders(&[
        "--tasks",
        "arc_challenge",
        "--limit",
        "2",
        "--num-fewshot",
        "0",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let array = submit(&cluster, &env, &server.endpoint, &args);
    wait(&cluster, "the queue", 600, || {
        paths.iter().all(|p| {
            matches!(
                read_request(p).map(|r| r.status),
                Ok(Status::Finished | Status::Failed)
            )
        })
    });
    println!(
        "4 requests on 3 emulated nodes: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut jobs = Vec::new();
    for p in &paths[..3] {
        let r = read_request(p).unwrap();
        assert_eq!(
            statuses(p),
            [Status::Pending, Status::Running, Status::Finished],
            "{r:?}"
        );
        assert!(results.join(r.results_file.unwrap()).is_file());
        let job = r.history[1].job_id.clone().unwrap();
        assert!(job.starts_with(&format!("slurm:{array}_")), "{job}");
        jobs.push(job);
    }
    jobs.sort();
    jobs.dedup();
    assert_eq!(jobs.len(), 3, "one array task per request: {jobs:?}");
    let g = read_request(&ghost).unwrap();
    assert_eq!(g.status, Status::Failed);
    let reason = g.history.last().unwrap().reason.clone().unwrap();
    assert!(
        reason.contains("org-s/missing-model") && reason.contains("not found"),
        "{reason}"
    );
    let script = crate::support::model::files_under(&logs.join("slurm"))
        .into_iter()
        .find(|p| p.to_string_lossy().starts_with("work-"))
        .expect("the batch script beside the logs");
    let text = std::fs::read_to_string(logs.join("slurm").join(script)).unwrap();
    assert!(
        text.contains("#SBATCH --array=0-3")
            && text.contains("'work' '--requests'")
            && text.contains("'--once'"),
        "{text}"
    );

    // 2. Preemption: SIGTERM to a running task; Slurm requeues it, it resumes.
    let p = pending(&requests, "org-s/model-resume", &sha(9), 20);
    let one = folders(&[
        "--jobs",
        "1",
        "--tasks",
        "winogrande,truthfulqa_mc",
        "--limit",
        "2",
        "--batch-tokens",
        "256",
    ]);
    let one: Vec<&str> = one.iter().map(String::as_str).collect();
    let array = signal_midway(&cluster, &env, &server.endpoint, &one, &cache, "TERM");
    wait(&cluster, "the requeued task", 600, || {
        read_request(&p).is_ok_and(|r| r.status == Status::Finished)
    });
    assert_eq!(
        statuses(&p),
        [
            Status::Pending,
            Status::Running,
            Status::Pending,
            Status::Running,
            Status::Finished
        ]
    );
    let r = read_request(&p).unwrap();
    assert!(r.history[2]
        .reason
        .as_deref()
        .is_some_and(|m| m.contains("interrupted (SIGTERM)")));
    let show = cluster
        .cmd("scontrol")
        .args(["show", "job", &format!("{array}_0")])
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.contains("Restarts=1"),
        "requeued once by Slurm:\n{show}"
    );
    let resumed = crate::support::model::files_under(&logs)
        .iter()
        .filter(|f| f.to_string_lossy().contains("model-resume"))
        .any(|f| std::fs::read_to_string(logs.join(f)).is_ok_and(|t| t.contains(": resumed ")));
    assert!(resumed, "the requeued run resumed from its journal");

    // 3. Sharded: 3 shards and a merge; shard 2's run killed with SIGKILL mid-run.
    let p = pending(&requests, "org-s/model-sharded", &sha(10), 21);
    let args = folders(&[
        "--shards",
        "3",
        "--tasks",
        "winogrande,truthfulqa_mc",
        "--limit",
        "6",
        "--batch-tokens",
        "256",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = slurm(&cluster, &env, &server.endpoint, &args);
    let array = out
        .lines()
        .find_map(|l| l.split_once(": shards ").map(|(_, r)| r))
        .and_then(|r| r.split_whitespace().next())
        .expect("the shards' job array id")
        .to_string();
    let shard2 = |c: &Path| -> usize {
        crate::support::model::files_under(c)
            .iter()
            .filter(|f| {
                f.to_string_lossy().contains("shard-2-of-3")
                    && f.extension().is_some_and(|e| e == "journal")
            })
            .map(|f| {
                let b = std::fs::read(c.join(f)).unwrap_or_default();
                b.iter().filter(|&&c| c == b'\n').count().saturating_sub(1)
            })
            .sum()
    };
    let start = Instant::now();
    while shard2(&cache) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "shard 2 never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", " run .*--shard 2/3"])
        .status()
        .unwrap();
    assert!(killed.success(), "no `evaluator run --shard 2/3` to kill");
    wait(&cluster, "the sharded request", 900, || {
        read_request(&p).is_ok_and(|r| matches!(r.status, Status::Finished | Status::Failed))
    });
    let r = read_request(&p).unwrap();
    assert_eq!(
        statuses(&p),
        [Status::Pending, Status::Running, Status::Finished],
        "{r:?}"
    );
    assert_eq!(
        r.history[1].job_id.as_deref(),
        Some(format!("slurm:{array}").as_str())
    );
    let merged = results.join(r.results_file.as_deref().unwrap());
    assert!(merged.is_file() && leaderboard_format::details::details_path(&merged).is_file());
    assert!(
        !crate::support::model::files_under(&results)
            .iter()
            .any(|f| leaderboard_format::shard::is_shard_file(
                &f.file_name().unwrap().to_string_lossy()
            )),
        "shard files removed after the merge"
    );
    crate::support::model::assert_results_check(&results);
    let show = cluster
        .cmd("scontrol")
        .args(["show", "job", &format!("{array}_2")])
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.contains("Restarts=1"),
        "shard 2 requeued once:\n{show}"
    );
    let shard_logs: Vec<String> = crate::support::model::files_under(&logs)
        .iter()
        .filter(|f| f.to_string_lossy().contains(&format!("slurm-{array}-2")))
        .map(|f| std::fs::read_to_string(logs.join(f)).unwrap_or_default())
        .collect();
    assert!(
        shard_logs.iter().any(|t| t.contains(": resumed ")),
        "the requeued shard resumed from its journal: {} logs",
        shard_logs.len()
    );
    for t in &shard_logs {
        if let Some(l) = t.lines().find(|l| l.contains(": resumed ")) {
            println!("requeued shard 2: {l}");
        }
    }

    // 4. A sharded request that fails for good: FAILED with the shard's reason.
    let ghost = pending(&requests, "org-s/missing-sharded", &sha(11), 22);
    let out = slurm(&cluster, &env, &server.endpoint, &args);
    assert!(out.contains("1 request submitted"), "{out}");
    wait(&cluster, "the failing sharded request", 600, || {
        read_request(&ghost).is_ok_and(|r| r.status == Status::Failed)
    });
    let g = read_request(&ghost).unwrap();
    let reason = g.history.last().unwrap().reason.clone().unwrap();
    assert!(
        reason.contains("org-s/missing-sharded") && reason.contains("not found"),
        "{reason}"
    );

    // 5. A worker that vanishes (SIGKILLed, as when its node is lost): the
    // sweep job puts its request back to PENDING once the array has left the queue.
    let lost = pending(&requests, "org-s/model-lost", &sha(12), 23);
    signal_midway(&cluster, &env, &server.endpoint, &one, &cache, "KILL");
    wait(&cluster, "the sweep", 300, || {
        read_request(&lost).is_ok_and(|r| r.status == Status::Pending)
    });
    assert_eq!(
        statuses(&lost),
        [Status::Pending, Status::Running, Status::Pending]
    );
    let reason = read_request(&lost).unwrap().history[2]
        .reason
        .clone()
        .unwrap();
    assert!(
        reason.contains("ended without recording an outcome"),
        "{reason}"
    );
    println!("vanished worker: {reason}");

    // 6. Nothing left running.
    assert!(cluster.squeue().is_empty());
    let pids = cluster.daemon_pids();
    assert!(!pids.is_empty());
    drop(cluster);
    std::thread::sleep(Duration::from_millis(500));
    for pid in pids {
        // SAFETY: kill(pid, 0) only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        let zombie =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "));
        assert!(!alive || zombie, "daemon {pid} still running");
    }
}
