//! Build script: the evaluator's version as built, for `Provenance.tool_version` and the run
//! configuration. It records, at build time (never at run time):
//! - `EVALUATOR_GIT_COMMIT`: the commit the sources were built from (`git rev-parse HEAD`),
//!   with `+dirty` when the evaluator's or the format crate's sources, or `Cargo.lock`, differ
//!   from it; empty outside a git checkout (a source tarball);
//! - `EVALUATOR_SOURCE_SHA256`: the sha256 of every file under `src/`, `Cargo.toml` and the
//!   workspace's `Cargo.lock` (path and content, in path order): what decides the numbers a
//!   build computes, whatever git says. It is part of a run's journal key.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let lock = dir.join("../Cargo.lock");
    let mut files = vec![dir.join("Cargo.toml"), lock.clone()];
    collect(&dir.join("src"), &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        let rel = f.strip_prefix(&dir).unwrap_or(f);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(f).unwrap_or_default());
        h.update([0]);
    }
    let source: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=EVALUATOR_SOURCE_SHA256={source}");
    println!("cargo:rustc-env=EVALUATOR_GIT_COMMIT={}", git_commit(&dir));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=../Cargo.lock");
    for p in git_paths(&dir) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn git_commit(dir: &Path) -> String {
    let Some(head) = git(dir, &["rev-parse", "HEAD"]) else {
        return String::new();
    };
    let dirty = git(
        dir,
        &[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            "../format",
            "../Cargo.lock",
        ],
    )
    .is_some_and(|s| !s.is_empty());
    format!("{head}{}", if dirty { "+dirty" } else { "" })
}

/// The git files whose change means another commit: HEAD and the ref it points to.
fn git_paths(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = git(dir, &["rev-parse", "--git-path", "HEAD"]) {
        out.push(dir.join(p));
    }
    if let Some(r) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &r]) {
            out.push(dir.join(p));
        }
    }
    // A missing file would make cargo rerun this script on every build.
    out.retain(|p| p.is_file());
    out
}
