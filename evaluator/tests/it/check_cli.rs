//! `leaderboard check` and `evaluator check` are one check: both binaries,
//! run on the same folders (good, broken, hostile, look-alike, bombs), give
//! the same exit code and print the same lines. Files built to exhaust a
//! reader (1,000,000 and 10,000,000 identical rows) are refused quickly, in
//! little memory, with one message naming the file and the limit.

use arrow_array::{RecordBatch, UInt32Array};
use leaderboard_format::schema::{Run, FORMAT_VERSION_KEY};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::format::KeyValue;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A binary's verdict on a folder: exit code, stdout, stderr, wall time and
/// peak resident memory (the child's `ru_maxrss`).
struct Verdict {
    code: i32,
    stdout: String,
    stderr: String,
    wall: Duration,
    max_rss_kb: i64,
}

// The child is reaped by `libc::wait4` (for its rusage), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_check(bin: &Path, dir: &Path) -> Verdict {
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["check", "--results"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let mut stdout = String::new();
    out.read_to_string(&mut stdout).unwrap();
    let stderr = reader.join().unwrap();
    let mut status = 0;
    // SAFETY: plain FFI call on our own child's pid with valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    Verdict {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout,
        stderr,
        wall: started.elapsed(),
        max_rss_kb: usage.ru_maxrss,
    }
}

/// Runs both binaries on `dir`; asserts they agree; returns the site's verdict.
fn both(dir: &Path) -> Verdict {
    let site = run_check(&crate::support::model::leaderboard_bin(), dir);
    let eval = run_check(Path::new(env!("CARGO_BIN_EXE_evaluator")), dir);
    assert_eq!(
        (site.code, &site.stdout, &site.stderr),
        (eval.code, &eval.stdout, &eval.stderr),
        "leaderboard check and evaluator check disagree on {}",
        dir.display()
    );
    site
}

fn fixture_runs() -> Vec<Run> {
    leaderboard_format::read_file(
        &repo().join("tests/fixtures/results/open-llm-leaderboard-v1.parquet"),
    )
    .unwrap()
}

fn folder(files: &[(&str, Vec<Run>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, runs) in files {
        leaderboard_format::write_file(&dir.path().join(name), runs).unwrap();
    }
    dir
}

#[test]
fn both_binaries_accept_and_refuse_the_same_folders() {
    let runs = fixture_runs();
    let mut renamed = runs[0].clone();
    renamed.model_id = "contributor/model-x".into();
    renamed.provenance.tool = "lm-evaluation-harness".into();

    let good = folder(&[("contributor/model-x/run.parquet", vec![renamed.clone()])]);
    let mut nan = renamed.clone();
    nan.scores[0].value = f64::NAN;
    let mut liar = renamed.clone();
    liar.model_id = "contributor/liar".into();
    liar.reported_average = Some(99.9);
    let mut shots = renamed.clone();
    shots.model_id = "contributor/shots".into();
    shots.scores[0].num_fewshot = Some(999);
    let bad = folder(&[
        ("nan.parquet", vec![nan]),
        ("liar.parquet", vec![liar]),
        ("shots.parquet", vec![shots]),
    ]);
    std::fs::write(bad.path().join("truncated.parquet"), b"PAR1\x00\x01").unwrap();
    std::fs::write(bad.path().join(".hidden.parquet.tmp-1"), b"x").unwrap();
    let mut alike = renamed.clone();
    alike.model_id = "contributor/rnodel-x".into();
    let warned = folder(&[
        ("a.parquet", vec![renamed.clone()]),
        ("b.parquet", vec![alike]),
    ]);

    let cases: [(&str, &Path, i32); 5] = [
        ("the committed results", &repo().join("results"), 0),
        ("the fixture", &repo().join("tests/fixtures/results"), 0),
        ("a contributed run", good.path(), 0),
        ("broken and hostile files", bad.path(), 1),
        ("a look-alike id", warned.path(), 0),
    ];
    for (what, dir, want) in cases {
        let v = both(dir);
        assert_eq!(v.code, want, "{what}: {}{}", v.stdout, v.stderr);
        println!(
            "{what}: both exit {} ({} stderr lines)",
            v.code,
            v.stderr.lines().count()
        );
    }
    let v = both(bad.path());
    for needle in [
        "nan.parquet: row 1",
        "liar.parquet: row 1, column `reported_average`",
        "shots.parquet: row 1, column `scores[1].num_fewshot`: 999 shots",
        "truncated.parquet: not a readable Parquet file",
        ".hidden.parquet.tmp-1: path component",
        "error: 5 problems",
    ] {
        assert!(
            v.stderr.contains(needle),
            "{needle:?} missing in\n{}",
            v.stderr
        );
    }
    let v = both(warned.path());
    assert!(v.stderr.starts_with("warning: "), "{}", v.stderr);
    assert!(
        v.stdout
            .contains("ok (2 results files, 1 warning for a maintainer)"),
        "{}",
        v.stdout
    );
}

/// Writes `rows` identical rows (copies of `run`) as one results file.
fn write_bomb(path: &Path, run: &Run, rows: usize) {
    let one = leaderboard_format::results::to_record_batch(std::slice::from_ref(run));
    let chunk = 100_000.min(rows);
    let idx = UInt32Array::from(vec![0u32; chunk]);
    let batch: RecordBatch = arrow_select::take::take_record_batch(&one, &idx).unwrap();
    let props = WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .set_max_row_group_size(1 << 24)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            FORMAT_VERSION_KEY.into(),
            "1".to_string(),
        )]))
        .build();
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, one.schema(), Some(props)).unwrap();
    for _ in 0..rows / chunk {
        w.write(&batch).unwrap();
    }
    w.close().unwrap();
}

/// Not a test: writes the bomb files into `$LEADERBOARD_BOMB_DIR` for
/// [`row_bombs_are_refused_fast_in_little_memory`], which runs it in a child
/// process. (A child's peak memory, `ru_maxrss`, includes what the parent
/// held when it forked, so the parent must stay small: building 10,000,000
/// rows happens here, in a process of its own.)
#[test]
#[ignore = "helper of row_bombs_are_refused_fast_in_little_memory"]
fn helper_write_bombs() {
    let Some(dir) = std::env::var_os("LEADERBOARD_BOMB_DIR") else {
        return;
    };
    let run = fixture_runs().remove(0);
    for rows in BOMB_ROWS {
        let d = Path::new(&dir).join(rows.to_string());
        std::fs::create_dir_all(&d).unwrap();
        write_bomb(&d.join("bomb.parquet"), &run, rows);
    }
}

const BOMB_ROWS: [usize; 2] = [1_000_000, 10_000_000];

#[test]
fn row_bombs_are_refused_fast_in_little_memory() {
    // The check binaries' peak memory counts what this process held at its peak.
    if !crate::support::in_own_process("check_cli::row_bombs_are_refused_fast_in_little_memory") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "check_cli::helper_write_bombs",
            "--ignored",
            "--quiet",
        ])
        .env("LEADERBOARD_BOMB_DIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for rows in BOMB_ROWS {
        let dir = tmp.path().join(rows.to_string());
        let path = dir.join("bomb.parquet");
        let size = std::fs::metadata(&path).unwrap().len();
        let v = both(&dir);
        let lines: Vec<&str> = v.stderr.lines().collect();
        println!(
            "{rows} identical rows ({size} bytes): refused in {:.3} s, peak RSS {} kB: {}",
            v.wall.as_secs_f64(),
            v.max_rss_kb,
            lines.first().unwrap_or(&"")
        );
        assert_eq!(v.code, 1);
        assert_eq!(lines.len(), 2, "one problem, one summary: {lines:#?}");
        assert!(
            lines[0].contains("bomb.parquet")
                && lines[0].contains(&format!("{rows} rows"))
                && lines[0].contains("limit `rows`"),
            "{}",
            lines[0]
        );
        assert!(v.wall < Duration::from_secs(2), "took {:?}", v.wall);
        assert!(v.max_rss_kb < 200 * 1024, "peak RSS {} kB", v.max_rss_kb);
    }
}
