//! The compare page's per-sample diff and paired test, in headless Chromium
//! from `file://`, over two runs of the test model made by the evaluator with
//! per-sample details (`tests/fixtures/compare/`: SmolLM2-135M Q4_1, ARC and
//! Winogrande, `--limit 40`, once with the suite's few-shot counts and once
//! 0-shot; `tests/fixtures/compare/README.md` gives the commands).
//! The diff must list exactly the documents where the two details files
//! disagree, with their question text from `data/benchmarks`.

use crate::support::chrome;
use leaderboard::site;
use leaderboard_format::details::{read_rows, DetailRow};
use std::collections::BTreeSet;
use std::path::Path;

fn details(dir: &Path, stem: &str) -> Vec<DetailRow> {
    read_rows(&dir.join(format!("{stem}.details.parquet"))).unwrap()
}

#[test]
fn per_sample_diff_lists_exactly_the_disagreements() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("tests/fixtures/compare");
    let mut src = site::load(&fixtures, &root.join("content"), None, None).unwrap();
    src.benchmarks = Some(root.join("data/benchmarks"));
    assert_eq!(src.runs.len(), 2);
    assert_eq!(src.details.len(), 2, "both runs have details");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("site");
    site::build(&src, &out).unwrap();

    // The disagreements, from the two details files.
    let a_dir = fixtures.join("test/smollm2-135m-dequantized");
    let b_dir = fixtures.join("test/smollm2-135m-0shot");
    let stem = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(".details.parquet"))
            .unwrap()
            .trim_end_matches(".details.parquet")
            .to_string()
    };
    let (a, b) = (
        details(&a_dir, &stem(&a_dir)),
        details(&b_dir, &stem(&b_dir)),
    );
    let mut want = BTreeSet::new();
    let (mut a_only, mut b_only) = (0, 0);
    for ra in &a {
        let rb = b
            .iter()
            .find(|r| r.sample.task == ra.sample.task && r.sample.doc_id == ra.sample.doc_id)
            .unwrap();
        if ra.sample.correct != rb.sample.correct || ra.sample.prediction != rb.sample.prediction {
            want.insert((ra.sample.task.clone(), ra.sample.doc_id));
        }
        a_only += usize::from(ra.sample.correct && !rb.sample.correct);
        b_only += usize::from(rb.sample.correct && !ra.sample.correct);
    }
    eprintln!(
        "{} documents in both, {} disagree ({a_only} A right only, {b_only} B right only)",
        a.len(),
        want.len()
    );

    let c = chrome::Chrome::launch();
    c.open(&chrome::file_url(&out.join("index.html")));
    // The few-shot run first (A), then the 0-shot one.
    let keys = c.js(
        "(() => { const D = window.LB_DATA, k = []; for (const m of ['test/smollm2-135m-dequantized', 'test/smollm2-135m-0shot']) { const i = D.c.m.findIndex((mi) => D.models[mi] === m); k.push(window.LB_UTIL.runKey(D, i)); } return k.join(','); })()",
    );
    let url = format!(
        "{}#r={}",
        chrome::file_url(&out.join("compare.html")),
        keys.as_str().unwrap()
    );
    c.tab
        .navigate_to(&url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    c.wait_for(
        "window.__cmpReady === true && !!document.getElementById('d-rows')",
        20,
    );
    let got: Vec<(String, usize)> = serde_json::from_value(c.js(
        "[...document.querySelectorAll('#d-rows tbody tr')].map(tr => [tr.dataset.task, +tr.dataset.doc])",
    ))
    .unwrap();
    let got: BTreeSet<(String, usize)> = got.into_iter().collect();
    assert_eq!(got, want, "the per-sample diff");
    // Every listed document shows its question from the benchmark data.
    let missing = c.js("[...document.querySelectorAll('#d-rows tbody tr td:nth-child(3)')].filter(td => td.textContent.includes('text not in this build')).length");
    assert_eq!(missing, 0);
    // Filtering to "A right, B wrong" keeps exactly those.
    c.js("(() => { const s = document.getElementById('d-dir'); s.value = 'a'; s.dispatchEvent(new Event('change')); return 1; })()");
    let n_a = c
        .js("document.querySelectorAll('#d-rows tbody tr').length")
        .as_u64()
        .unwrap() as usize;
    assert_eq!(n_a, a_only);
    // The scores table's ARC and Winogrande differences come from the paired test.
    let how: Vec<String> = serde_json::from_value(c.js(
        "[...document.querySelectorAll('#cmp-scores td[data-how]')].map(td => td.dataset.how)",
    ))
    .unwrap();
    assert_eq!(how.iter().filter(|h| *h == "paired").count(), 2, "{how:?}");
}
