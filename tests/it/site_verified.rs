//! Verification records on the site: a run whose record verifies shows a green
//! "verified: n/n documents agree" on its model page and `yes` in the table's Verified
//! column; one whose record disagrees stays on the board, marked; `check` accepts
//! records whose files hash as recorded and calls one stale when they no longer do.
//! The two runs are the compare fixture's (the test model, with details); the records
//! are written here with the files' real hashes (`evaluator verify` itself is tested in
//! the evaluator's `slow::verify_run`).

use leaderboard::site;
use leaderboard_format::verifications::{
    file_sha256, record_path, write_record, Disagreement, Verification,
};
use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

fn record(results: &Path, rel: &Path, agreeing: u64) -> Verification {
    let file = results.join(rel);
    Verification {
        format_version: 1,
        results_file: rel.to_string_lossy().replace('\\', "/"),
        results_sha256: file_sha256(&file).unwrap(),
        details_sha256: file_sha256(&leaderboard_format::details::details_path(&file)).unwrap(),
        model_source: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
        weights_sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53".into(),
        evaluator_version: "0.1.0+test".into(),
        verified_at: "2026-12-03T00:00:00Z".parse().unwrap(),
        seed: 0,
        docs_per_task: 20,
        tolerance: 0.001,
        documents: 40,
        agreeing,
        scores_match_details: true,
        disagreements: (agreeing..40)
            .map(|i| Disagreement {
                task: "winogrande".into(),
                doc_id: Some(i),
                what: "prediction: recorded \"0\", now \"1\"".into(),
            })
            .collect(),
    }
}

#[test]
fn verification_records_are_checked_and_shown() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    copy_tree(&root.join("tests/fixtures/compare"), &results);
    let rel = |d: &str| PathBuf::from(format!("test/{d}/openllm-v1_4bit_b179c9523d0e.parquet"));
    let (good, bad) = (rel("smollm2-135m-dequantized"), rel("smollm2-135m-0shot"));
    for (r, agreeing) in [(&good, 40), (&bad, 39)] {
        let p = results.join(record_path(r));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        write_record(&p, &record(&results, r, agreeing)).unwrap();
    }
    let problems = leaderboard_format::check::check_dir(&results);
    assert!(problems.is_empty(), "{problems:?}");

    let src = site::load(&results, &root.join("content"), None, None).unwrap();
    assert_eq!(src.verifications.len(), 2);
    let out = tmp.path().join("site");
    site::build(&src, &out).unwrap();
    let page = |slug: &str| {
        std::fs::read_to_string(out.join("models").join(format!("{slug}.html"))).unwrap()
    };
    let pages: Vec<String> = std::fs::read_dir(out.join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let find = |needle: &str| {
        pages
            .iter()
            .map(|p| page(p.trim_end_matches(".html")))
            .find(|t| t.contains(needle))
    };
    let g = find("smollm2-135m-dequantized").expect("the verified run's page");
    assert!(
        g.contains(r#"<span class="badge ok">verified: 40&#x2f;40 documents agree"#)
            || g.contains(r#"<span class="badge ok">verified: 40/40 documents agree"#),
        "{g}"
    );
    let b = find("smollm2-135m-0shot").expect("the disagreeing run's page");
    assert!(
        b.contains(r#"<span class="badge nc">verification failed: 39"#),
        "{b}"
    );
    let data = std::fs::read_to_string(out.join("data.js")).unwrap();
    assert!(data.contains(r#""vf":"#), "the Verified column's data");

    // The details change after the record: stale.
    let details = leaderboard_format::details::details_path(&results.join(&good));
    let mut rows = leaderboard_format::details::read_rows(&details).unwrap();
    rows[0].sample.loglikelihoods[0] -= 1.0;
    leaderboard_format::details::write_file(&details, &rows).unwrap();
    let problems = leaderboard_format::check::check_dir(&results);
    assert!(
        problems
            .iter()
            .any(|p| p.to_string().contains("details_sha256") && p.to_string().contains("stale")),
        "{problems:?}"
    );
}
