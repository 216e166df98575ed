//! The one helper module of the evaluator's tests: where the repository's data and the
//! test fixtures are (here), the test model, reference outputs and small utilities
//! ([`model`]), building tasks and the spec's worked prompts ([`tasks`]), a local
//! stand-in for the Hugging Face Hub ([`hub_server`]), Hub-shaped Parquet files
//! ([`hf_parquet`]) and the queue tests' requests ([`queue`]).

pub mod hf_parquet;
pub mod hub_server;
pub mod model;
pub mod queue;
pub mod tasks;

use std::path::PathBuf;

/// The repository's `data/benchmarks` (the six benchmarks' splits, see its `SOURCES.md`).
pub fn data_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/benchmarks");
    assert!(d.is_dir(), "benchmark data not found at {}", d.display());
    d
}

/// The `evaluator` binary, to run in the repository root: there the commands' relative
/// defaults (`--data data/benchmarks`) name the repository's folders, as in the README.
pub fn evaluator() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_evaluator"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    c
}

/// Removes from a child's environment what would let the caller's setup leak into a
/// test: Hub cache, token and offline mode, `SOURCE_DATE_EPOCH`, backtraces, proxies.
/// Set what the test needs after this.
pub fn isolate_env(cmd: &mut std::process::Command) {
    for v in [
        "HF_HUB_CACHE",
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "SOURCE_DATE_EPOCH",
        "RUST_BACKTRACE",
        "RUST_LIB_BACKTRACE",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
}

/// A file of `evaluator/tests/fixtures` (reference outputs and the task spec; its
/// README says where each came from).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The variable that tells a child process of this binary which test it runs alone.
const OWN_PROCESS_VAR: &str = "LEADERBOARD_TEST_OWN_PROCESS";

/// Whether the calling test runs its body here. In the process `cargo test` started, it
/// runs this binary again for the one test `name` (its path, `module::test`), asserts
/// that the test ran and passed there, and returns false; in that child, true. For tests
/// that change process-wide state (environment variables) or measure memory (the
/// process's own, or a child's peak, which counts what the process that started it
/// held): the other tests of this binary, running alongside, would disturb them.
pub fn in_own_process(name: &str) -> bool {
    if std::env::var_os(OWN_PROCESS_VAR).is_some_and(|v| v == name) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(OWN_PROCESS_VAR, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} failed in a process of its own ({})",
        out.status
    );
    false
}
