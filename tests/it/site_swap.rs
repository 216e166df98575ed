//! `leaderboard build` killed (SIGKILL) at random moments, 20 times: the output
//! folder always holds a complete site, byte for byte the one an uninterrupted
//! build writes (old and new are the same inputs here), and the next build
//! removes the temp folders the killed ones left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Every file under `dir`, by path relative to it, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names in `dir` other than `site` (what builds leave beside it).
fn leftovers(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "site" && n != "results")
        .collect();
    v.sort();
    v
}

fn build(results: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leaderboard"));
    c.args(["build", "--results"])
        .arg(results)
        .arg("--out")
        .arg(out)
        .arg("--content")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("content"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

#[test]
fn killed_builds_leave_a_complete_site() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // 1,500 runs of the v1 archive: a build long enough to be killed mid-way.
    let runs = leaderboard_format::results::read_file(
        &root.join("results/open-llm-leaderboard-v1.parquet"),
    )
    .unwrap();
    let results = dir.path().join("results");
    leaderboard_format::results::write_file(
        &results.join("part.parquet"),
        &runs[..1500.min(runs.len())],
    )
    .unwrap();
    let out = dir.path().join("site");

    let started = Instant::now();
    assert!(build(&results, &out).status().unwrap().success());
    let full = started.elapsed();
    let want = tree(&out);
    assert!(
        want.contains_key(Path::new("index.html")),
        "{:?}",
        want.keys()
    );

    // Kill moments spread over the whole build (a fixed-seed LCG: the same
    // moments each run), some past its end.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut killed_with_temp = 0;
    for i in 0..20 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let frac = (seed >> 11) as f64 / (1u64 << 53) as f64;
        let delay = full.mul_f64(0.05 + 1.1 * frac);
        let mut child = build(&results, &out).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        assert!(
            out.is_dir(),
            "kill {i} after {delay:?}: no site folder at all"
        );
        let got = tree(&out);
        assert!(
            got == want,
            "kill {i} after {delay:?}: the site is not the complete site ({} files, want {})",
            got.len(),
            want.len()
        );
        if !leftovers(dir.path()).is_empty() {
            killed_with_temp += 1;
        }
    }
    // Some kills must have landed mid-build, or the test proves nothing.
    assert!(
        killed_with_temp > 0,
        "no kill left a temp folder: every kill came after the build ended"
    );
    assert!(build(&results, &out).status().unwrap().success());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    assert!(tree(&out) == want);
}
