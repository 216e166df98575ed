//! `evaluator work`: a worker of the evaluation queue (the request files of
//! `requests/`, [`leaderboard_format::requests`]).
//!
//! It takes the oldest waiting request (`PENDING` or `RERUN`, by
//! `submitted_time`, then path), marks it `RUNNING` with its host and job id,
//! evaluates it with `evaluator run` in a child process (the model at the
//! request's revision, in its precision; the child's output goes to a log
//! file), and marks it `FINISHED` with the results file, or `FAILED` with the
//! reason (the run's error message) and the last lines of the log. A model
//! that fails to load fails its request, not the worker.
//!
//! **Claims.** Several workers may share one requests folder (a shared file
//! system): a worker claims a request by creating `<request>.claim` with
//! `O_CREAT | O_EXCL` (atomic, also on NFS), re-reads it, and marks it
//! `RUNNING` before removing the claim; a request already `RUNNING` is
//! skipped, so no two workers take the same one. A claim older than
//! [`STALE_CLAIM_SECS`] (a worker killed within those milliseconds) is removed.
//!
//! **Stopping.** On SIGTERM or SIGINT the worker stops the run in flight
//! (the child's journal keeps every answered request, as after `kill -9`),
//! puts the request back to `PENDING` (reason `interrupted (SIGTERM) on
//! <host>`) and exits with [`EXIT_REQUEUE`] (75, Slurm's `RequeueExit`
//! convention); the next worker resumes it from the journal (`LEADERBOARD_CACHE`
//! must be shared between the workers' hosts for that), with results
//! identical to an uninterrupted run's. A run killed from outside (`kill -9`, the OOM
//! killer) is put back the same way, up to 3 times (`MAX_KILLS`); then the request fails.

use std::io::{BufRead, BufReader, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use leaderboard_format::requests::{
    self, read_request, write_request, Request, Status, Transition, MAX_LOG_LINES,
    MAX_LOG_LINE_CHARS, MAX_REASON_CHARS,
};
use leaderboard_format::schema::{Precision, WeightType};

pub mod shard;

/// Exit code after a signal put the request in flight back in the queue.
pub const EXIT_REQUEUE: i32 = 75;
/// Age after which a claim file is considered left behind by a dead worker.
pub const STALE_CLAIM_SECS: u64 = 600;
/// How a run killed by SIGKILL is recorded (the start of the transition's reason).
const KILLED: &str = "the run was killed (signal 9)";
/// Kills after which a request fails instead of waiting again.
const MAX_KILLS: usize = 3;
/// Lines of the log kept in a FAILED transition.
const TAIL_LINES: usize = 20;

/// Take requests from the queue and evaluate them, one at a time.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkArgs {
    /// Take at most one request, then exit.
    #[arg(long)]
    pub once: bool,
    /// When the queue is empty, look again every SECS seconds instead of exiting.
    #[arg(long, value_name = "SECS")]
    pub watch: Option<u64>,
    /// The folders and run options (shared with `evaluator slurm`).
    #[command(flatten)]
    pub queue: QueueArgs,
    /// A sharded request's part, as the scripts of `evaluator slurm --shards` run it.
    #[command(flatten)]
    pub role: shard::RoleArgs,
}

/// The queue's folders and each run's options, as `evaluator work` and
/// `evaluator slurm` take them.
#[derive(Debug, Clone, clap::Args)]
pub struct QueueArgs {
    /// The requests folder (`<org>/<name>_eval_request_….json` files).
    #[arg(long, default_value = "requests")]
    pub requests: PathBuf,
    /// The results folder the runs write to.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Where each run's log goes (`<logs>/<org>/<request file stem>_<time>.log`).
    #[arg(long, default_value = "logs")]
    pub logs: PathBuf,
    /// Tasks of each run (`evaluator run --tasks`).
    #[arg(long, default_value = "all")]
    pub tasks: String,
    /// Suite, few-shot, limit and data options of each run (as `evaluator run`).
    #[command(flatten)]
    pub task: super::TaskArgs,
    /// Device of each run (`evaluator run --device`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Tokens per batched forward (`evaluator run --batch-tokens`).
    #[arg(long)]
    pub batch_tokens: Option<usize>,
}

/// The signal that asked the worker to stop (0: none yet).
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    STOP.store(sig, Ordering::SeqCst);
}

fn install_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, handler as libc::sighandler_t);
        }
    }
}

fn stop_signal() -> Option<&'static str> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        s if s == libc::SIGINT => Some("SIGINT"),
        _ => Some("SIGTERM"),
    }
}

/// Where this worker runs: host name and job id (Slurm's when under Slurm).
pub(crate) struct Worker {
    host: String,
    job_id: String,
}

impl Worker {
    pub(crate) fn current() -> Worker {
        let host = hostname();
        let job_id = match (
            std::env::var("SLURM_ARRAY_JOB_ID"),
            std::env::var("SLURM_ARRAY_TASK_ID"),
            std::env::var("SLURM_JOB_ID"),
        ) {
            (Ok(a), Ok(t), _) => format!("slurm:{a}_{t}"),
            (_, _, Ok(j)) => format!("slurm:{j}"),
            _ => format!("{host}:{}", std::process::id()),
        };
        Worker {
            host: clean_id(&host),
            job_id: clean_id(&job_id),
        }
    }

    pub(crate) fn transition(&self, status: Status) -> Transition {
        Transition {
            status,
            time: requests::whole_seconds(Utc::now()),
            host: Some(self.host.clone()),
            job_id: Some(self.job_id.clone()),
            reason: None,
            log_tail: None,
        }
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates or truncates.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if rc == 0 && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown-host".to_string()
    }
}

/// A host or job id as the request format accepts it (printable, no spaces, bounded).
fn clean_id(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take(requests::MAX_ID_CHARS)
        .collect();
    if s.is_empty() {
        "unknown".to_string()
    } else {
        s
    }
}

/// Runs the command.
pub fn run(args: &WorkArgs) -> Result<()> {
    install_handlers();
    let worker = Worker::current();
    let exe = std::env::current_exe().context("locating the evaluator binary")?;
    if let Some(array) = &args.role.sweep_array {
        return sweep(&args.queue, &worker, array);
    }
    if let Some(request) = &args.role.request {
        return shard::run(&args.role, request, &args.queue, &exe, &worker);
    }
    let mut done = 0usize;
    loop {
        if let Some(sig) = stop_signal() {
            eprintln!("work: {sig}: stopping");
            std::process::exit(EXIT_REQUEUE);
        }
        match take_next(&args.queue.requests, &worker)? {
            Some((path, request)) => {
                let outcome = evaluate(&args.queue, &exe, &worker, &path, request)?;
                done += 1;
                if outcome == Outcome::Interrupted {
                    std::process::exit(EXIT_REQUEUE);
                }
                if args.once {
                    break;
                }
            }
            None => match args.watch {
                Some(secs) => sleep_unless_stopped(Duration::from_secs(secs.max(1))),
                None => break,
            },
        }
    }
    eprintln!(
        "work: {done} request{} taken; no waiting request left",
        if done == 1 { "" } else { "s" }
    );
    Ok(())
}

fn sleep_unless_stopped(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && stop_signal().is_none() {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The waiting requests under `dir`, oldest first (unreadable files are
/// skipped with a message: `check` reports them).
pub(crate) fn waiting(dir: &Path) -> Result<Vec<(PathBuf, Request)>> {
    requests_where(dir, |r| r.status.is_waiting())
}

/// The requests under `dir` that `keep` accepts, oldest first.
fn requests_where(dir: &Path, keep: impl Fn(&Request) -> bool) -> Result<Vec<(PathBuf, Request)>> {
    let mut out = Vec::new();
    let mut visit = |rel: &Path, ft: std::fs::FileType| {
        let name = rel.to_string_lossy();
        if !ft.is_file() || !name.ends_with(".json") || !name.contains(requests::REQUEST_INFIX) {
            return;
        }
        let path = dir.join(rel);
        match read_request(&path) {
            Ok(r) if keep(&r) => out.push((path, r)),
            Ok(_) => {}
            Err(e) => eprintln!("work: skipping {e}"),
        }
    };
    leaderboard_format::folder::walk(dir, Path::new(""), &mut visit)
        .with_context(|| format!("reading the requests folder {}", dir.display()))?;
    out.sort_by(|a, b| (a.1.submitted_time, &a.0).cmp(&(b.1.submitted_time, &b.0)));
    Ok(out)
}

/// A claim file; removed when dropped.
pub(crate) struct Claim(PathBuf);

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn claim(request: &Path, worker: &Worker) -> Option<Claim> {
    let mut name = request.as_os_str().to_owned();
    name.push(".claim");
    let path = PathBuf::from(name);
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                let _ = writeln!(f, "{} {}", worker.host, worker.job_id);
                return Some(Claim(path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > STALE_CLAIM_SECS);
                if !stale {
                    return None;
                }
                eprintln!("work: removing a stale claim {}", path.display());
                let _ = std::fs::remove_file(&path);
            }
            Err(e) => {
                eprintln!("work: cannot claim {}: {e}", request.display());
                return None;
            }
        }
    }
    None
}

/// Claims the oldest waiting request and marks it RUNNING.
fn take_next(dir: &Path, worker: &Worker) -> Result<Option<(PathBuf, Request)>> {
    for (path, _) in waiting(dir)? {
        let Some(_claim) = claim(&path, worker) else {
            continue;
        };
        // Another worker may have taken it between the listing and the claim.
        let mut r = match read_request(&path) {
            Ok(r) if r.status.is_waiting() => r,
            _ => continue,
        };
        r.transition(worker.transition(Status::Running));
        write_request(&path, &r).with_context(|| format!("marking {} RUNNING", path.display()))?;
        return Ok(Some((path, r)));
    }
    Ok(None)
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Finished,
    Failed,
    Interrupted,
}

/// `evaluator run`'s arguments for a request (None: the request cannot be
/// run by this evaluator, with the reason).
fn run_arguments(args: &QueueArgs, r: &Request) -> std::result::Result<Vec<String>, String> {
    if r.weight_type != WeightType::Original {
        return Err(format!(
            "{} weights (base model {}) are not supported by the evaluator yet; submit the merged weights as Original",
            r.weight_type, r.base_model
        ));
    }
    let mut a: Vec<String> = vec![
        "run".into(),
        "--model".into(),
        r.model.clone(),
        "--revision".into(),
        r.revision.clone(),
        "--model-id".into(),
        r.model.clone(),
        "--model-type".into(),
        r.model_type.as_str().into(),
        "--submitted-at".into(),
        r.submitted_time
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "--output".into(),
        args.results.display().to_string(),
    ];
    let dtype = match r.precision {
        Precision::Float32 => Some("f32"),
        Precision::Float16 => Some("f16"),
        Precision::BFloat16 => Some("bf16"),
        Precision::Int8 | Precision::Int4 | Precision::Gptq => None,
    };
    if let Some(d) = dtype {
        a.extend(["--dtype".into(), d.into()]);
    }
    if !r.license.is_empty() {
        a.extend(["--license".into(), r.license.clone()]);
    }
    a.extend([
        "--hub-likes".into(),
        r.likes.min(i64::MAX as u64).to_string(),
    ]);
    if r.is_merge {
        a.push("--merge".into());
    }
    if r.is_moe {
        a.push("--moe".into());
    }
    a.extend(args.run_options());
    Ok(a)
}

impl QueueArgs {
    /// The run options as command-line arguments, named alike for `evaluator run`
    /// and `evaluator work` (`evaluator slurm` passes them to its workers).
    pub fn run_options(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--tasks".into(),
            self.tasks.clone(),
            "--device".into(),
            self.device.clone(),
            "--suite".into(),
            self.task.suite.name().into(),
            "--fewshot-draws".into(),
            self.task.fewshot_draws.name().into(),
        ];
        let t = &self.task;
        let mut opt = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                a.extend([flag.to_string(), v]);
            }
        };
        opt("--num-fewshot", t.num_fewshot.map(|n| n.to_string()));
        opt("--limit", t.limit.map(|n| n.to_string()));
        opt("--data", t.data.as_ref().map(|d| d.display().to_string()));
        opt(
            "--hellaswag-fewshot-fallback",
            t.hellaswag_fewshot_fallback.map(|f| f.name().to_string()),
        );
        opt("--batch-tokens", self.batch_tokens.map(|n| n.to_string()));
        a
    }
}

/// How many requests under `dir` wait for a worker (none if the folder is missing).
pub fn waiting_count(dir: &Path) -> Result<usize> {
    if !dir.exists() {
        return Ok(0);
    }
    Ok(waiting(dir)?.len())
}

/// A request file's org folder and file stem, as logs and scripts are named after them.
pub(crate) fn request_names(request: &Path) -> (String, String) {
    let name = |p: Option<&std::ffi::OsStr>| {
        p.map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    (
        name(request.parent().and_then(Path::file_name)),
        name(request.file_stem()),
    )
}

fn log_path(args: &QueueArgs, request: &Path, worker: &Worker) -> PathBuf {
    let (org, stem) = request_names(request);
    args.logs.join(org).join(format!(
        "{stem}_{}_{}.log",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        job_tag(&worker.job_id)
    ))
}

/// A job id as it appears in log file names (`slurm:12_3` → `slurm-12-3`).
fn job_tag(job_id: &str) -> String {
    job_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Evaluates one RUNNING request and records its outcome.
fn evaluate(
    args: &QueueArgs,
    exe: &Path,
    worker: &Worker,
    path: &Path,
    mut r: Request,
) -> Result<Outcome> {
    eprintln!(
        "work: {} ({} @ {}, {})",
        path.display(),
        r.model,
        requests::short_revision(&r.revision),
        r.precision
    );
    let cmd_args = match run_arguments(args, &r) {
        Ok(a) => a,
        Err(reason) => {
            fail(path, &mut r, worker, reason, Vec::new())?;
            return Ok(Outcome::Failed);
        }
    };
    let started = Instant::now();
    let Ran {
        status,
        signal,
        lines,
    } = run_logged(args, exe, worker, path, &cmd_args)?;
    if let Some(sig) = signal {
        let reason = format!(
            "interrupted ({sig}) on {}; resumes from its journal",
            worker.host
        );
        requeue(path, &mut r, worker, reason)?;
        return Ok(Outcome::Interrupted);
    }
    // The run killed from outside (kill -9, the OOM killer): its journal holds what it
    // answered, so the request waits again, up to MAX_KILLS times.
    if let Some(9) = std::os::unix::process::ExitStatusExt::signal(&status) {
        let kills = times(&r, KILLED) + 1;
        if kills < MAX_KILLS {
            let reason = format!(
                "{KILLED} on {} ({kills} of {MAX_KILLS}); resumes from its journal",
                worker.host
            );
            requeue(path, &mut r, worker, reason)?;
            return Ok(Outcome::Interrupted);
        }
        let reason = format!(
            "{KILLED} {MAX_KILLS} times (out of memory? the last time on {})",
            worker.host
        );
        fail(path, &mut r, worker, reason, tail(&lines))?;
        return Ok(Outcome::Failed);
    }
    if !status.success() {
        let reason = error_message(&lines).unwrap_or_else(|| {
            format!("evaluator run exited with {status} without an error message")
        });
        fail(path, &mut r, worker, reason, tail(&lines))?;
        return Ok(Outcome::Failed);
    }
    match finished_results(args, &r, &lines) {
        Ok(rel) => {
            let t = worker.transition(Status::Finished);
            r.transition(t);
            r.results_file = Some(rel.clone());
            write_request(path, &r)?;
            eprintln!(
                "work: FINISHED {} in {:.0} s: {rel}",
                path.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(Outcome::Finished)
        }
        Err(reason) => {
            fail(path, &mut r, worker, reason, tail(&lines))?;
            Ok(Outcome::Failed)
        }
    }
}

/// How a child `evaluator run` ended: its exit status, the signal that stopped the
/// worker meanwhile, and its log's lines.
struct Ran {
    status: std::process::ExitStatus,
    signal: Option<&'static str>,
    lines: Vec<String>,
}

/// Runs `evaluator <cmd_args>` for the request at `path` with its output in a new log
/// file ([`log_path`]), stopping it when the worker is asked to stop.
fn run_logged(
    args: &QueueArgs,
    exe: &Path,
    worker: &Worker,
    path: &Path,
    cmd_args: &[String],
) -> Result<Ran> {
    let log = log_path(args, path, worker);
    if let Some(d) = log.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    eprintln!("work: log {}", log.display());
    let child = Command::new(exe)
        .args(cmd_args)
        // The error message is the reason; a backtrace would only bury it.
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let (status, signal) = wait(child)?;
    Ok(Ran {
        status,
        signal,
        lines: read_log(&log),
    })
}

/// How a request whose worker vanished is recorded (the start of the transition's reason).
const LOST: &str = "its worker ended without recording an outcome";

/// After Slurm job array `array` of workers has left the queue: every request still
/// `RUNNING` under one of its tasks lost its worker (node lost, `kill -9`, time limit
/// without the grace to stop): back to `PENDING`, up to [`MAX_KILLS`] times, then `FAILED`.
fn sweep(args: &QueueArgs, worker: &Worker, array: &str) -> Result<()> {
    shard::wait_for_array(array)?;
    let prefix = format!("slurm:{array}_");
    let stranded = requests_where(&args.requests, |r| {
        r.status == Status::Running && r.job_id.as_deref().is_some_and(|j| j.starts_with(&prefix))
    })?;
    for (path, mut r) in stranded {
        let job = r.job_id.clone().unwrap_or_default();
        let lost = times(&r, LOST) + 1;
        if lost < MAX_KILLS {
            let reason = format!(
                "{LOST} (Slurm task {job}: node lost, killed or out of time; {lost} of {MAX_KILLS}); resumes from its journal"
            );
            requeue(&path, &mut r, worker, reason)?;
        } else {
            let reason = format!("{LOST} {MAX_KILLS} times (the last time Slurm task {job})");
            fail(&path, &mut r, worker, reason, Vec::new())?;
        }
    }
    Ok(())
}

/// How many earlier transitions of `r` give a reason starting with `what`.
fn times(r: &Request, what: &str) -> usize {
    r.history
        .iter()
        .filter(|t| t.reason.as_deref().is_some_and(|m| m.starts_with(what)))
        .count()
}

/// Waits for the child; on SIGTERM/SIGINT to the worker, stops it first.
fn wait(mut child: Child) -> Result<(std::process::ExitStatus, Option<&'static str>)> {
    loop {
        if let Some(status) = child.try_wait()? {
            // A run that ended well is finished whatever arrived since; one the
            // terminal's Ctrl-C stopped too is an interrupted one.
            let sig = stop_signal().filter(|_| !status.success());
            return Ok((status, sig));
        }
        if let Some(sig) = stop_signal() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let status = child.wait()?;
            return Ok((status, Some(sig)));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Puts a stopped request back in the queue, saying why.
fn requeue(path: &Path, r: &mut Request, worker: &Worker, reason: String) -> Result<()> {
    let mut t = worker.transition(Status::Pending);
    eprintln!("work: {reason}: {} is PENDING again", path.display());
    t.reason = Some(reason);
    r.transition(t);
    write_request(path, r)?;
    Ok(())
}

fn fail(
    path: &Path,
    r: &mut Request,
    worker: &Worker,
    reason: String,
    log_tail: Vec<String>,
) -> Result<()> {
    let mut t = worker.transition(Status::Failed);
    t.reason = Some(truncate(&reason, MAX_REASON_CHARS));
    t.log_tail = (!log_tail.is_empty()).then_some(log_tail);
    r.transition(t);
    write_request(path, r)?;
    eprintln!("work: FAILED {}: {reason}", path.display());
    Ok(())
}

/// The results file the run wrote (its `wrote … .parquet` line), relative to
/// the results folder, after checking it holds the requested precision.
fn finished_results(
    args: &QueueArgs,
    r: &Request,
    lines: &[String],
) -> std::result::Result<String, String> {
    let written = lines
        .iter()
        .filter_map(|l| l.strip_prefix("wrote "))
        .find(|p| {
            p.ends_with(".parquet") && !p.ends_with(leaderboard_format::schema::DETAILS_SUFFIX)
        })
        .ok_or("evaluator run succeeded but its log names no results file")?;
    let written = PathBuf::from(written);
    let rel = written.strip_prefix(&args.results).map_err(|_| {
        format!(
            "{} is outside {}",
            written.display(),
            args.results.display()
        )
    })?;
    let runs = leaderboard_format::read_file(&written).map_err(|e| e.to_string())?;
    let run = runs.first().ok_or("the results file holds no run")?;
    if run.precision != r.precision {
        let details = crate::details::details_path(&written);
        let _ = std::fs::remove_file(&written);
        let _ = std::fs::remove_file(details);
        return Err(format!(
            "the model was evaluated in {} but the request asks for {}; request the precision the weights are stored in",
            run.precision, r.precision
        ));
    }
    let rel: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(rel.join("/"))
}

/// The log's lines (the end of it, when it is long), with control characters removed.
fn read_log(path: &Path) -> Vec<String> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(std::io::SeekFrom::Start(len.saturating_sub(1 << 20)));
    BufReader::new(f)
        .split(b'\n')
        .map_while(|l| l.ok())
        .map(|l| {
            // Progress bars redraw with carriage returns: keep the last state.
            let text = String::from_utf8_lossy(&l);
            let last = text.rsplit('\r').next().unwrap_or("");
            last.chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect::<String>()
        })
        .collect()
}

/// The last lines of the log, bounded as the format requires.
fn tail(lines: &[String]) -> Vec<String> {
    let n = TAIL_LINES.min(MAX_LOG_LINES);
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| truncate(l, MAX_LOG_LINE_CHARS))
        .collect()
}

/// The error `evaluator run` printed (anyhow's `Error: …` and its causes), one line.
fn error_message(lines: &[String]) -> Option<String> {
    let start = lines.iter().rposition(|l| l.starts_with("Error: "))?;
    let mut msg = lines[start]["Error: ".len()..].trim().to_string();
    for l in &lines[start + 1..] {
        let l = l.trim();
        if l.starts_with("Stack backtrace") {
            break;
        }
        if l.is_empty() || l == "Caused by:" {
            continue;
        }
        let cause = l.split_once(": ").map_or(l, |(n, rest)| {
            if n.chars().all(|c| c.is_ascii_digit()) {
                rest
            } else {
                l
            }
        });
        msg.push_str(": ");
        msg.push_str(cause);
    }
    Some(msg)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_joins_causes() {
        let lines: Vec<String> = [
            "loading",
            "Error: resolving org/x on the Hub",
            "",
            "Caused by:",
            "    0: repo org/x not found",
            "    1: HTTP 404",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            error_message(&lines).unwrap(),
            "resolving org/x on the Hub: repo org/x not found: HTTP 404"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
