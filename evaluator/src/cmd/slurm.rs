//! `evaluator slurm`: runs the queue's workers on a Slurm cluster, as one job
//! array of `evaluator work --once` tasks (one per waiting request, or `--jobs`).
//!
//! The batch script is written beside the logs (`<logs>/slurm/work-<time>.sbatch`)
//! so a maintainer can read it and submit it again with `sbatch`; it is submitted
//! with `sbatch --parsable` and the array's job id printed. Each task records
//! its request's progress itself (`RUNNING` with the Slurm job id
//! `slurm:<array>_<task>`, then `FINISHED` or `FAILED` with the reason), so the
//! queue stays the one source of truth. Preemption, a time limit or
//! `scancel --signal=TERM`: the worker puts its request back to `PENDING`
//! (journal kept) and exits 75; with the cluster's `RequeueExit=75` Slurm
//! requeues the task, which resumes the request from its journal on any node —
//! journals (`LEADERBOARD_CACHE`), requests, results and logs must be on a
//! shared file system. A task whose worker vanishes without recording anything (its
//! node lost, `kill -9`) would leave its request `RUNNING`: a sweep job
//! (`--dependency=afterany:<array>`, `work --sweep-array <array>`) puts such requests
//! back to `PENDING` once the array has left the queue (up to 3 times, then `FAILED`).
//! The tasks inherit the submitting environment
//! (`--export=ALL`, Slurm's default): `HF_*`, `LEADERBOARD_CACHE`, …
//!
//! **Sharded** (`--shards N`, N ≥ 2): each waiting request becomes two submissions,
//! their scripts in `<logs>/slurm/<org>/<request stem>-<time>/`: a job array of N shard
//! tasks (`work --request R --shard I/N`, submitted held) and a finish job
//! (`--dependency=afterany:<array>`: `work --request R --finish-shards <array>`, which
//! merges and marks the request `FINISHED`, or marks it `FAILED`); the request is marked
//! `RUNNING` with the array's job id, then the array released. Not `afterok` /
//! `afternotok`: Slurm (22.05) resolves those when a task exits 75, before requeueing it,
//! so a preempted shard would fail its request. What each part does:
//! [`super::work::shard`].

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use chrono::Utc;

/// Submit `evaluator work` to Slurm as a job array over the queue.
#[derive(Debug, Clone, clap::Args)]
pub struct SlurmArgs {
    /// Array tasks to submit (default: one per waiting request); with --shards, the
    /// most requests to submit.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Slurm partition (`sbatch --partition`).
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per task (`sbatch --gpus-per-task`); pass `--device cuda` too.
    #[arg(long)]
    pub gpus_per_task: Option<u32>,
    /// CPUs per task (`sbatch --cpus-per-task`; also the worker's RAYON_NUM_THREADS).
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// Time limit (`sbatch --time`, e.g. 04:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Account (`sbatch --account`).
    #[arg(long)]
    pub account: Option<String>,
    /// Any other `sbatch` option, as one argument each (`--sbatch-arg=--qos=high`).
    #[arg(long = "sbatch-arg", value_name = "OPTION")]
    pub sbatch_args: Vec<String>,
    /// Split each request's run into N shards: a job array of N `evaluator run --shard`
    /// tasks per request, then a finish job that merges them (default 1: one worker per request).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub shards: u32,
    /// Write the script and print the sbatch command without submitting.
    #[arg(long)]
    pub dry_run: bool,
    /// The workers' options (requests, results, logs folders and run options).
    #[command(flatten)]
    pub work: super::work::QueueArgs,
}

/// Single-quotes `s` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// An absolute form of `p` (relative to the current folder), so tasks find it
/// whatever folder Slurm starts them in.
fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// An `#SBATCH` value: one line, no control characters.
fn sbatch_value(flag: &str, v: &str) -> Result<String> {
    if v.is_empty() || v.chars().any(|c| c.is_control()) {
        bail!("{flag} {v:?}: expected one line of text");
    }
    Ok(v.to_string())
}

/// What one batch script runs as.
struct Job<'a> {
    name: &'a str,
    /// `--array=<spec>`, and the tasks are requeued on exit 75.
    array: Option<String>,
    /// An evaluation (GPUs, CPUs), not bookkeeping.
    evaluates: bool,
}

/// A batch script: `#SBATCH` lines, then `exec <cmd>` (`$SLURM_ARRAY_TASK_ID` in an
/// argument is left for the shell).
fn script(args: &SlurmArgs, job: &Job, logs: &Path, cmd: &[String]) -> Result<String> {
    let mut s = String::from(
        "#!/bin/bash\n# Written by `evaluator slurm`; submit again with: sbatch <this file>\n",
    );
    let mut line = |opt: String| {
        s.push_str("#SBATCH ");
        s.push_str(&opt);
        s.push('\n');
    };
    line(format!("--job-name={}", job.name));
    let out = match &job.array {
        Some(spec) => {
            line(format!("--array={spec}"));
            line("--requeue".into());
            "%A_%a.out"
        }
        None => "%j.out",
    };
    line("--open-mode=append".into());
    line(format!(
        "--output={}",
        logs.join("slurm").join(out).display()
    ));
    if let Some(p) = &args.partition {
        line(format!("--partition={}", sbatch_value("--partition", p)?));
    }
    let cpus = if job.evaluates {
        args.cpus_per_task
    } else {
        None
    };
    if let (Some(g), true) = (args.gpus_per_task, job.evaluates) {
        line(format!("--gpus-per-task={g}"));
    }
    if let Some(c) = cpus {
        line(format!("--cpus-per-task={c}"));
    }
    if let Some(t) = &args.time {
        line(format!("--time={}", sbatch_value("--time", t)?));
    }
    if let Some(a) = &args.account {
        line(format!("--account={}", sbatch_value("--account", a)?));
    }
    for o in &args.sbatch_args {
        line(sbatch_value("--sbatch-arg", o)?);
    }
    s.push_str(&format!(
        "cd {}\n",
        sh_quote(&std::env::current_dir()?.display().to_string())
    ));
    if let Some(c) = cpus {
        s.push_str(&format!("export RAYON_NUM_THREADS={c}\n"));
    }
    s.push_str("exec");
    for a in cmd {
        s.push(' ');
        // The array index is the shell's to expand; everything else is quoted.
        match a.split_once(TASK_ID) {
            Some((pre, post)) => s.push_str(&format!(
                "{}\"${{SLURM_ARRAY_TASK_ID}}\"{}",
                sh_quote(pre),
                sh_quote(post)
            )),
            None => s.push_str(&sh_quote(a)),
        }
    }
    s.push('\n');
    Ok(s)
}

/// Stands for `$SLURM_ARRAY_TASK_ID` in a command argument given to [`script`].
const TASK_ID: &str = "\u{0}TASK\u{0}";

/// `evaluator work` with the queue's folders (absolute) and run options, then `extra`.
fn work_command(
    args: &SlurmArgs,
    exe: &Path,
    logs: &Path,
    extra: &[String],
) -> Result<Vec<String>> {
    let w = &args.work;
    let mut cmd: Vec<String> = vec![
        exe.display().to_string(),
        "work".into(),
        "--requests".into(),
        absolute(&w.requests)?.display().to_string(),
        "--results".into(),
        absolute(&w.results)?.display().to_string(),
        "--logs".into(),
        logs.display().to_string(),
    ];
    cmd.extend(extra.iter().cloned());
    cmd.extend(w.run_options());
    Ok(cmd)
}

/// Runs the command.
pub fn run(args: &SlurmArgs) -> Result<()> {
    if args.shards == 0 || args.shards > leaderboard_format::shard::MAX_SHARDS {
        bail!(
            "--shards {}: expected 1 to {}",
            args.shards,
            leaderboard_format::shard::MAX_SHARDS
        );
    }
    if args.shards > 1 {
        return sharded::run(args);
    }
    let waiting = super::work::waiting_count(&args.work.requests)?;
    let n = args.jobs.unwrap_or(waiting);
    if n == 0 {
        println!(
            "no waiting request in {}; nothing submitted",
            args.work.requests.display()
        );
        return Ok(());
    }
    let logs = absolute(&args.work.logs)?;
    let dir = logs.join("slurm");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exe = std::env::current_exe().context("locating the evaluator binary")?;
    let job = Job {
        name: "leaderboard-work",
        array: Some(format!("0-{}", n - 1)),
        evaluates: true,
    };
    let cmd = work_command(args, &exe, &logs, &["--once".to_string()])?;
    let text = script(args, &job, &logs, &cmd)?;
    let path = dir.join(format!(
        "work-{}-{}.sbatch",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    ));
    leaderboard_format::atomic::write_atomic(&path, text.as_bytes())?;
    println!(
        "wrote {} ({n} array tasks, {waiting} waiting requests)",
        path.display()
    );
    if args.dry_run {
        println!("sbatch --parsable {}", path.display());
        return Ok(());
    }
    let id = sbatch(&path, &[])?;
    // The sweep: requests whose worker vanished (node lost, kill -9) go back to PENDING.
    let sweep_cmd = work_command(
        args,
        &exe,
        &logs,
        &["--sweep-array".to_string(), id.clone()],
    )?;
    let sweep_job = Job {
        name: "leaderboard-sweep",
        array: None,
        evaluates: false,
    };
    let sweep_path = dir.join(format!("sweep-{id}.sbatch"));
    leaderboard_format::atomic::write_atomic(
        &sweep_path,
        script(args, &sweep_job, &logs, &sweep_cmd)?.as_bytes(),
    )?;
    let sweep = sbatch(&sweep_path, &[format!("--dependency=afterany:{id}")])?;
    println!(
        "submitted job array {id}: squeue -j {id}; sweep job {sweep}; logs in {}",
        dir.display()
    );
    Ok(())
}

/// `sbatch --parsable <options> <script>`: the job id.
fn sbatch(script: &Path, options: &[String]) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(options)
        .arg(script)
        .output()
        .context("running sbatch (is this a Slurm login node? SLURM_CONF set?)")?;
    if !out.status.success() {
        bail!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // `--parsable` prints `<id>` or `<id>;<cluster>`.
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed {:?}; expected a job id", text.trim());
    }
    Ok(id)
}

mod sharded;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert!(sbatch_value("--time", "1:00\n#SBATCH --x").is_err());
    }
}
