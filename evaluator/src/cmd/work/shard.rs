//! The two parts of a sharded request, as `evaluator slurm --shards N` submits them:
//! N shard tasks (`work --request R --shard I/N`), then one finish job
//! (`work --request R --finish-shards ARRAY`, `--dependency=afterany:ARRAY`).
//!
//! The request is `RUNNING` throughout (`evaluator slurm` marks it with the array's job
//! id before releasing the array). A **shard** runs `evaluator run … --shard I/N` with its
//! log under `--logs`: written → exit 0; stopped by SIGTERM (preemption, `scancel
//! --signal=TERM`) or its run killed by SIGKILL (fewer than 3 times, counted by Slurm's
//! `SLURM_RESTART_COUNT`) → exit 75, which Slurm requeues (`RequeueExit=75`) and the
//! shard resumes from its own journal on any node; failed → the request is marked
//! `FAILED` with the run's error and log tail, exit 1. The **finish** job first waits
//! until no task of the array is pending or running (Slurm satisfies a dependency when
//! a task exits, also with the 75 it then requeues, so the dependency alone does not
//! mean the shards are done); then, if the request is still `RUNNING`, it merges the
//! shards (`evaluator merge`) and marks the request `FINISHED` with the merged results
//! file, or, when a shard's files are missing (cancelled, out of time, node lost),
//! `FAILED` with the first error found in the array's shard logs.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use leaderboard_format::requests::{read_request, Request, Status};
use leaderboard_format::shard::Shard;

use super::{error_message, read_log, EXIT_REQUEUE, KILLED, MAX_KILLS};
use super::{fail, finished_results, run_arguments, run_logged, tail, QueueArgs, Ran, Worker};

/// Which part of a sharded request this worker is.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RoleArgs {
    /// Work on this request file only, as one part of a sharded request (with --shard
    /// or --finish-shards; the scripts of `evaluator slurm --shards` do).
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    /// Evaluate shard I of N of --request (`evaluator run --shard I/N`).
    #[arg(long, value_name = "I/N", requires = "request")]
    pub shard: Option<Shard>,
    /// Once no task of Slurm job array ARRAY (--request's shards) is left, merge them
    /// and mark --request FINISHED, or FAILED with a shard's error.
    #[arg(
        long,
        value_name = "ARRAY",
        requires = "request",
        conflicts_with = "shard"
    )]
    pub finish_shards: Option<String>,
    /// Once no task of Slurm job array ARRAY of workers is left, put each request still
    /// RUNNING under one of its tasks back to PENDING (its worker vanished); `evaluator
    /// slurm` submits this after every array.
    #[arg(long, value_name = "ARRAY", conflicts_with = "request")]
    pub sweep_array: Option<String>,
}

/// Runs the part `role` names for the request at `path`.
pub(super) fn run(
    role: &RoleArgs,
    path: &Path,
    args: &QueueArgs,
    exe: &Path,
    worker: &Worker,
) -> Result<()> {
    if let Some(array) = &role.finish_shards {
        wait_for_array(array)?;
        return finish(args, path, worker, array);
    }
    let r = read_request(path)?;
    if r.status != Status::Running {
        bail!(
            "{} is {}, not RUNNING: nothing to do for this part",
            path.display(),
            r.status
        );
    }
    match role.shard {
        Some(s) => shard(args, path, r, exe, worker, s),
        None => bail!("--request needs --shard I/N or --finish-shards ARRAY"),
    }
}

/// Waits until Slurm lists no task of `array` (pending, requeued or running) twice in a
/// row, a few seconds apart.
pub(super) fn wait_for_array(array: &str) -> Result<()> {
    let mut empty = 0;
    while empty < 2 {
        if super::stop_signal().is_some() {
            std::process::exit(EXIT_REQUEUE);
        }
        let out = std::process::Command::new("squeue")
            .args(["-h", "-o", "%i", "-j", array])
            .output()
            .map_err(|e| anyhow::anyhow!("running squeue: {e}"))?;
        let listed = String::from_utf8_lossy(&out.stdout);
        // squeue fails for a job id it no longer knows: nothing is left then either.
        if !out.status.success() || listed.trim().is_empty() {
            empty += 1;
        } else {
            empty = 0;
        }
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    Ok(())
}

/// One shard: exits 0 when its files are written, 75 to be requeued, 1 when it failed.
fn shard(
    args: &QueueArgs,
    path: &Path,
    mut r: Request,
    exe: &Path,
    worker: &Worker,
    s: Shard,
) -> Result<()> {
    eprintln!("work: shard {s} of {} ({})", path.display(), r.model);
    let mut cmd_args = match run_arguments(args, &r) {
        Ok(a) => a,
        Err(reason) => {
            fail(path, &mut r, worker, reason.clone(), Vec::new())?;
            bail!(reason);
        }
    };
    cmd_args.extend(["--shard".to_string(), s.to_string()]);
    let Ran {
        status,
        signal,
        lines,
    } = run_logged(args, exe, worker, path, &cmd_args)?;
    if let Some(sig) = signal {
        eprintln!("work: shard {s} interrupted ({sig}); exiting {EXIT_REQUEUE} to be requeued");
        std::process::exit(EXIT_REQUEUE);
    }
    if let Some(9) = std::os::unix::process::ExitStatusExt::signal(&status) {
        let restarts: usize = std::env::var("SLURM_RESTART_COUNT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if restarts + 1 < MAX_KILLS {
            eprintln!(
                "work: shard {s}: {KILLED} ({} of {MAX_KILLS}); exiting {EXIT_REQUEUE} to be requeued",
                restarts + 1
            );
            std::process::exit(EXIT_REQUEUE);
        }
        let reason = format!("shard {s}: {KILLED} {MAX_KILLS} times (out of memory?)");
        return fail_running(path, worker, reason, tail(&lines));
    }
    if !status.success() {
        let reason = error_message(&lines).unwrap_or_else(|| {
            format!("evaluator run exited with {status} without an error message")
        });
        return fail_running(path, worker, format!("shard {s}: {reason}"), tail(&lines));
    }
    eprintln!("work: shard {s} of {} written", path.display());
    Ok(())
}

/// Marks the request FAILED when it is still RUNNING (another shard may have been
/// first), then fails this worker.
fn fail_running(path: &Path, worker: &Worker, reason: String, log_tail: Vec<String>) -> Result<()> {
    let mut r = read_request(path)?;
    if r.status == Status::Running {
        fail(path, &mut r, worker, reason.clone(), log_tail)?;
    }
    bail!(reason)
}

/// The finish job, once the array's tasks are gone: merge, or record the failure.
fn finish(args: &QueueArgs, path: &Path, worker: &Worker, array: &str) -> Result<()> {
    let mut r = read_request(path)?;
    if r.status != Status::Running {
        eprintln!(
            "work: {} is already {}; nothing to record",
            path.display(),
            r.status
        );
        return Ok(());
    }
    let merge_args = crate::cmd::merge::MergeArgs {
        output: args.results.clone(),
        model_id: Some(r.model.clone()),
        keep_shards: false,
        skip_incomplete: true,
    };
    let merged = match crate::cmd::merge::merge(&merge_args) {
        Ok(m) => m,
        Err(e) => {
            let (reason, log_tail) = shard_error(args, path, array).unwrap_or_else(|| {
                (
                    format!(
                        "the shards of Slurm job array {array} did not all finish (cancelled, \
                         out of time, or a node was lost): {e:#}; see {}",
                        args.logs.join("slurm").display()
                    ),
                    Vec::new(),
                )
            });
            fail(path, &mut r, worker, reason.clone(), log_tail)?;
            bail!(reason);
        }
    };
    // The request's run among those merged: its precision's.
    let lines: Vec<String> = merged
        .iter()
        .filter(|p| {
            leaderboard_format::read_file(p)
                .is_ok_and(|runs| runs.iter().any(|run| run.precision == r.precision))
        })
        .map(|p| format!("wrote {}", p.display()))
        .collect();
    match finished_results(args, &r, &lines) {
        Ok(rel) => {
            r.transition(worker.transition(Status::Finished));
            r.results_file = Some(rel.clone());
            leaderboard_format::requests::write_request(path, &r)?;
            eprintln!("work: FINISHED {}: {rel}", path.display());
            Ok(())
        }
        Err(reason) => {
            fail(path, &mut r, worker, reason.clone(), Vec::new())?;
            bail!(reason)
        }
    }
}

/// The first error in the shard logs of `array` for the request at `path`.
fn shard_error(args: &QueueArgs, path: &Path, array: &str) -> Option<(String, Vec<String>)> {
    let probe = Worker {
        host: String::new(),
        job_id: format!("slurm:{array}_"),
    };
    let pattern = super::log_path(args, path, &probe);
    let dir = pattern.parent()?;
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    let job = super::job_tag(&probe.job_id);
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            n.starts_with(&stem) && n.contains(&format!("_{job}"))
        })
        .collect();
    logs.sort();
    logs.iter().find_map(|l| {
        let lines = read_log(l);
        error_message(&lines).map(|m| (m, tail(&lines)))
    })
}
