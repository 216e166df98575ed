//! `evaluator slurm --shards N`: per waiting request, a held job array of N shard tasks
//! and a finish job after it (`afterany`); then the request is marked `RUNNING` with the
//! array's job id and the array released (see [`super`]).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use chrono::Utc;
use leaderboard_format::requests::{read_request, write_request, Status};

use super::{absolute, sbatch, script, work_command, Job, SlurmArgs, TASK_ID};
use crate::cmd::work;

/// Submits every waiting request (at most `--jobs`) as a sharded run.
pub(super) fn run(args: &SlurmArgs) -> Result<()> {
    let requests = &args.work.requests;
    let waiting = if requests.exists() {
        work::waiting(requests)?
    } else {
        Vec::new()
    };
    if waiting.is_empty() {
        println!(
            "no waiting request in {}; nothing submitted",
            requests.display()
        );
        return Ok(());
    }
    let logs = absolute(&args.work.logs)?;
    let exe = std::env::current_exe().context("locating the evaluator binary")?;
    let worker = work::Worker::current();
    let mut submitted = 0;
    for (path, _) in waiting.iter().take(args.jobs.unwrap_or(usize::MAX)) {
        let Some(_claim) = work::claim(path, &worker) else {
            continue;
        };
        // Another worker may have taken it since the listing.
        if !read_request(path).is_ok_and(|r| r.status.is_waiting()) {
            continue;
        }
        submit(args, &exe, &logs, &worker, path)?;
        submitted += 1;
    }
    println!(
        "{submitted} request{} submitted as {} shards each",
        if submitted == 1 { "" } else { "s" },
        args.shards
    );
    Ok(())
}

/// Writes the two scripts of one request and submits them (unless `--dry-run`).
fn submit(
    args: &SlurmArgs,
    exe: &Path,
    logs: &Path,
    worker: &work::Worker,
    path: &Path,
) -> Result<()> {
    let n = args.shards;
    let request = absolute(path)?.display().to_string();
    let (org, stem) = work::request_names(path);
    let dir = logs
        .join("slurm")
        .join(org)
        .join(format!("{stem}-{}", Utc::now().format("%Y%m%dT%H%M%SZ")));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, job: Job, extra: &[String]| -> Result<std::path::PathBuf> {
        let cmd = work_command(args, exe, logs, extra)?;
        let p = dir.join(name);
        leaderboard_format::atomic::write_atomic(&p, script(args, &job, logs, &cmd)?.as_bytes())?;
        Ok(p)
    };
    let part = |flag: &str, value: Option<String>| -> Vec<String> {
        let mut v = vec!["--request".to_string(), request.clone(), flag.to_string()];
        v.extend(value);
        v
    };
    let shards = write(
        "shards.sbatch",
        Job {
            name: "leaderboard-shard",
            array: Some(format!("1-{n}")),
            evaluates: true,
        },
        &part("--shard", Some(format!("{TASK_ID}/{n}"))),
    )?;
    let bookkeeping = |name| Job {
        name,
        array: None,
        evaluates: false,
    };
    if args.dry_run {
        println!("wrote {}", shards.display());
        println!(
            "sbatch --parsable --hold {}; then the finish job (--dependency=afterany:<array>)",
            shards.display()
        );
        return Ok(());
    }
    let array = sbatch(&shards, &["--hold".to_string()])?;
    let mut ids = vec![array.clone()];
    let rest = (|| -> Result<String> {
        let finish = write(
            "finish.sbatch",
            bookkeeping("leaderboard-finish"),
            &part("--finish-shards", Some(array.clone())),
        )?;
        let f = sbatch(&finish, &[format!("--dependency=afterany:{array}")])?;
        ids.push(f.clone());
        let mut r = read_request(path)?;
        let mut t = worker.transition(Status::Running);
        t.job_id = Some(format!("slurm:{array}"));
        t.reason = Some(format!("{n} shards: job array {array}, finish job {f}"));
        r.transition(t);
        write_request(path, &r)?;
        release(&array)?;
        Ok(f)
    })();
    match rest {
        Ok(f) => {
            println!(
                "submitted {}: shards {array} (1-{n}), finish job {f}; scripts in {}",
                path.display(),
                dir.display()
            );
            Ok(())
        }
        Err(e) => {
            let _ = Command::new("scancel").args(&ids).status();
            Err(e.context(format!(
                "submitting {} (jobs {} cancelled)",
                path.display(),
                ids.join(", ")
            )))
        }
    }
}

/// `scontrol release <job>`.
fn release(job: &str) -> Result<()> {
    let out = Command::new("scontrol")
        .args(["release", job])
        .output()
        .context("running scontrol")?;
    anyhow::ensure!(
        out.status.success(),
        "scontrol release {job}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}
