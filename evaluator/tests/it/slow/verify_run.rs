//! `evaluator verify` on a run of the test model: the honest files verify (every sampled
//! document agrees, the record passes `check`); a results file with one score edited and
//! a details file with one row edited (both rewritten with consistent checksums, as a
//! careful forger would) are reported, each naming what disagrees; a record whose files
//! changed afterwards is stale for `check`; other benchmark data than the run read is
//! refused; a results file without details cannot be verified and says so.

use crate::support::model::test_model;

use leaderboard_format::details;
use leaderboard_format::verifications::{read_record, Verification};
use std::path::{Path, PathBuf};
use std::process::Output;

fn run_model(results: &Path, cache: &Path) {
    let mut c = crate::support::evaluator();
    crate::support::isolate_env(&mut c);
    let o = c
        .args(["run", "--model"])
        .arg(test_model())
        .args(["--tasks", "truthfulqa_mc,winogrande", "--limit", "2"])
        .args([
            "--batch-tokens",
            "512",
            "--evaluated-at",
            "2024-06-01T00:00:00Z",
        ])
        .arg("--output")
        .arg(results)
        .env("LEADERBOARD_CACHE", cache)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn verify(results: &Path, file: &Path) -> (Output, Verification) {
    let mut c = crate::support::evaluator();
    crate::support::isolate_env(&mut c);
    let o = c
        .arg("verify")
        .arg(file)
        .arg("--model")
        .arg(test_model())
        .args(["--docs", "2", "--verified-at", "2026-12-03T00:00:00Z"])
        .arg("--results")
        .arg(results)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    let rel = file.strip_prefix(results).unwrap();
    let record = results.join(leaderboard_format::verifications::record_path(rel));
    let v = read_record(&record)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&o.stderr)));
    (o, v)
}

fn results_file(results: &Path) -> PathBuf {
    crate::support::model::files_under(results)
        .into_iter()
        .find(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".parquet") && !n.ends_with(".details.parquet")
        })
        .map(|p| results.join(p))
        .expect("a results file")
}

#[test]
fn verify_confirms_an_honest_run_and_reports_edited_files() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    run_model(&results, &tmp.path().join("cache"));
    let file = results_file(&results);
    let details_file = details::details_path(&file);
    let (honest_results, honest_details) = (
        std::fs::read(&file).unwrap(),
        std::fs::read(&details_file).unwrap(),
    );

    // Honest: 2 documents of each of the 2 tasks agree; check accepts the record.
    let (o, v) = verify(&results, &file);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("verified: 4/4 documents agree"), "{out}");
    assert!(
        v.verified() && v.documents == 4 && v.scores_match_details,
        "{v:?}"
    );
    crate::support::model::assert_results_check(&results);

    // The details change afterwards: check calls the record stale.
    let mut rows = details::read_rows(&details_file).unwrap();
    let edited = rows
        .iter_mut()
        .find(|r| r.sample.task == "winogrande")
        .unwrap();
    edited.sample.loglikelihoods[0] += 2.0;
    let edited_doc = edited.sample.doc_id as u64;
    details::write_file(&details_file, &rows).unwrap();
    let problems = leaderboard_format::check::check_dir(&results);
    assert!(
        problems
            .iter()
            .any(|p| p.to_string().contains("stale record")),
        "{problems:?}"
    );

    // An edited details row: that document disagrees.
    let (o, v) = verify(&results, &file);
    assert!(!o.status.success());
    assert!(
        !v.verified() && v.agreeing == 3 && v.documents == 4,
        "{v:?}"
    );
    let d = &v.disagreements[0];
    assert_eq!(
        (d.task.as_str(), d.doc_id),
        ("winogrande", Some(edited_doc))
    );
    assert!(d.what.contains("log-likelihood of request 0"), "{}", d.what);
    println!("edited details row: {}", v.summary());

    // An edited score: the results file no longer matches its details.
    std::fs::write(&details_file, &honest_details).unwrap();
    let mut runs = leaderboard_format::read_file(&file).unwrap();
    let score = runs[0]
        .scores
        .iter_mut()
        .find(|s| s.task == "truthfulqa_mc" && s.metric == "mc2")
        .unwrap();
    score.value = (score.value + 0.2).min(1.0);
    leaderboard_format::write_file(&file, &runs).unwrap();
    let (o, v) = verify(&results, &file);
    assert!(!o.status.success());
    assert!(
        !v.scores_match_details && v.agreeing == v.documents,
        "{v:?}"
    );
    assert!(
        v.disagreements
            .iter()
            .any(|d| d.task == "truthfulqa_mc" && d.doc_id.is_none() && d.what.contains("mc2")),
        "{v:?}"
    );
    println!("edited score: {}", v.summary());
    std::fs::write(&file, &honest_results).unwrap();

    // Other benchmark data than the run read: refused before any document is evaluated.
    let mut c = crate::support::evaluator();
    crate::support::isolate_env(&mut c);
    let o = c
        .arg("verify")
        .arg(&file)
        .arg("--model")
        .arg(test_model())
        .args(["--data", "hub"])
        .arg("--results")
        .arg(&results)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("not the data the run read"),
        "{err}"
    );

    // No details: refused with the reason.
    std::fs::remove_file(&details_file).unwrap();
    let mut c = crate::support::evaluator();
    let o = c
        .arg("verify")
        .arg(&file)
        .arg("--model")
        .arg(test_model())
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("cannot be verified"),
        "{err}"
    );
}
