//! Site benchmark: `cargo run --release --example site_bench`.
//!
//! Prints the wall time of building the whole site from `results/` (several
//! repetitions, median; loading the Parquet files timed separately), the index
//! page weight (index.html + data.js + common.js + app.js + style.css), and the in-browser
//! first render and filter times read from `window.__lbTimings` in headless
//! Chromium, each against its target. Baselines in the same process: the
//! time to just read the results, and the time to copy the built site.

#[path = "../tests/it/support/chrome.rs"]
mod chrome;

use std::path::Path;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("site");

    let mut load_t = vec![];
    let mut build_t = vec![];
    let mut total_t = vec![];
    let mut summary = None;
    for _ in 0..reps {
        let t = Instant::now();
        let src =
            leaderboard::site::load(&root.join("results"), &root.join("content"), None, None)?;
        let t_load = t.elapsed().as_secs_f64();
        let t2 = Instant::now();
        summary = Some(leaderboard::site::build(&src, &out)?);
        build_t.push(t2.elapsed().as_secs_f64());
        load_t.push(t_load);
        total_t.push(t.elapsed().as_secs_f64());
    }
    let s = summary.unwrap();
    println!(
        "site: {} runs, {} model pages, {} files, {:.1} MB",
        s.runs,
        s.models,
        s.files,
        s.bytes as f64 / 1e6
    );
    let (l, b, tt) = (median(load_t), median(build_t), median(total_t));
    println!("load results (baseline), median of {reps}: {:.3} s", l);
    println!(
        "render + write site,     median of {reps}: {:.3} s ({:.1}x the load)",
        b,
        b / l
    );
    println!(
        "whole build (load+render), median of {reps}: {:.3} s  [target < 2 s: {}]",
        tt,
        if tt < 2.0 { "ok" } else { "MISSED" }
    );

    let mut weight = 0u64;
    for f in ["index.html", "data.js", "common.js", "app.js", "style.css"] {
        let n = std::fs::metadata(out.join(f))?.len();
        println!("  {f}: {n} bytes");
        weight += n;
    }
    println!(
        "index page weight: {weight} bytes ({:.2} MB)  [target < 1.5 MB: {}]",
        weight as f64 / 1e6,
        if weight < 1_500_000 { "ok" } else { "MISSED" }
    );

    let c = chrome::Chrome::launch();
    let url = chrome::file_url(&out.join("index.html"));
    let mut first = vec![];
    let mut nav = vec![];
    for _ in 0..reps {
        c.open(&format!("{url}?r={}", first.len()));
        first.push(c.js("window.__lbTimings.firstRender").as_f64().unwrap());
        nav.push(c.js("window.__lbTimings.sinceNavigation").as_f64().unwrap());
    }
    let mut filt = vec![];
    let queries = ["llama", "license: mit", "mistral; qwen", "", "7b"];
    for q in queries.iter().cycle().take(reps.max(5)) {
        let ms = c.js(&format!(
            "(() => {{ document.getElementById('q').value = {q:?}; return window.__lbApply(); }})()"
        ));
        filt.push(ms.as_f64().unwrap());
    }
    let mut sorts = vec![];
    for k in ["arc", "model", "mmlu", "avg", "gsm"] {
        let ms = c.js(&format!(
            "(() => {{ const t = performance.now(); document.querySelector('th[data-k={k}]').click(); return performance.now() - t; }})()"
        ));
        sorts.push(ms.as_f64().unwrap());
    }
    let (f, n, fl, so) = (median(first), median(nav), median(filt), median(sorts));
    println!(
        "chromium first render (app.js start → table shown), median: {f:.1} ms  [target < 300 ms: {}]",
        if f < 300.0 { "ok" } else { "MISSED" }
    );
    println!("chromium navigation start → table shown, median: {n:.1} ms");
    println!(
        "chromium filter (search + re-render), median: {fl:.1} ms  [target < 300 ms: {}]",
        if fl < 300.0 { "ok" } else { "MISSED" }
    );
    println!("chromium sort by header click (first sort of a column), median: {so:.1} ms");
    Ok(())
}
