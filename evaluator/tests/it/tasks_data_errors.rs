//! Bad dataset files fail with a message naming the file, the line and what
//! was expected; a missing HellaSwag train split says how to get it.

use crate::support::data_dir;
use crate::support::tasks::*;
use evaluator::data::LocalDir;
use evaluator::suite::Suite;
use evaluator::tasks::{self, BuildOptions};
use leaderboard_format::schema::Benchmark;
use std::io::Write;

fn gsm8k_lines() -> Vec<String> {
    std::fs::read_to_string(data_dir().join("gsm8k/test.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// A data dir holding gsm8k/test.jsonl with the given lines, plus the real train split.
fn gsm8k_dir(lines: &[String]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("gsm8k")).unwrap();
    std::fs::write(tmp.path().join("gsm8k/test.jsonl"), lines.join("\n") + "\n").unwrap();
    std::fs::copy(
        data_dir().join("gsm8k/train.jsonl.gz"),
        tmp.path().join("gsm8k/train.jsonl.gz"),
    )
    .unwrap();
    tmp
}

fn build_err(b: Benchmark, dir: &std::path::Path, o: &BuildOptions) -> String {
    match tasks::build(b, &LocalDir::new(dir), o) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_field_names_file_line_and_field() {
    let mut lines = gsm8k_lines();
    lines[2] = r#"{"question": "How many?"}"#.to_string();
    let dir = gsm8k_dir(&lines);
    let e = build_err(Benchmark::Gsm8k, dir.path(), &opts(Suite::OpenLlmV1));
    assert!(e.contains("gsm8k/test.jsonl"), "{e}");
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("missing field `answer`"), "{e}");
}

#[test]
fn bad_json_and_wrong_type_name_the_line() {
    let mut lines = gsm8k_lines();
    lines[10] = r#"{"question": "How many?", "answer": 3}"#.to_string();
    let e = build_err(
        Benchmark::Gsm8k,
        gsm8k_dir(&lines).path(),
        &opts(Suite::LmEval04),
    );
    assert!(
        e.contains("line 11") && e.contains("expected a string"),
        "{e}"
    );
    let mut lines = gsm8k_lines();
    lines[4] = r#"{"question": "#.to_string();
    let e = build_err(
        Benchmark::Gsm8k,
        gsm8k_dir(&lines).path(),
        &opts(Suite::LmEval04),
    );
    assert!(
        e.contains("gsm8k/test.jsonl: line 5: expected one JSON object per line"),
        "{e}"
    );
}

#[test]
fn wrong_record_count() {
    let mut lines = gsm8k_lines();
    lines.pop();
    let e = build_err(
        Benchmark::Gsm8k,
        gsm8k_dir(&lines).path(),
        &opts(Suite::OpenLlmV1),
    );
    assert!(e.contains("gsm8k/test.jsonl"), "{e}");
    assert!(e.contains("expected 1319 records, found 1318"), "{e}");
    assert!(e.contains("line 1318"), "{e}");
}

#[test]
fn truncated_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("gsm8k")).unwrap();
    std::fs::copy(
        data_dir().join("gsm8k/test.jsonl"),
        tmp.path().join("gsm8k/test.jsonl"),
    )
    .unwrap();
    let gz = std::fs::read(data_dir().join("gsm8k/train.jsonl.gz")).unwrap();
    std::fs::File::create(tmp.path().join("gsm8k/train.jsonl.gz"))
        .unwrap()
        .write_all(&gz[..gz.len() / 2])
        .unwrap();
    let e = build_err(Benchmark::Gsm8k, tmp.path(), &opts(Suite::OpenLlmV1));
    assert!(e.contains("gsm8k/train.jsonl.gz: line "), "{e}");
    assert!(e.contains("truncated or corrupt gzip stream"), "{e}");
}

#[test]
fn bad_values_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("winogrande")).unwrap();
    let text = std::fs::read_to_string(data_dir().join("winogrande/validation.jsonl")).unwrap();
    let text = text.replacen(r#""answer": "2""#, r#""answer": "3""#, 1);
    std::fs::write(tmp.path().join("winogrande/validation.jsonl"), text).unwrap();
    let mut o = opts(Suite::OpenLlmV1);
    o.num_fewshot = Some(0);
    let e = build_err(Benchmark::Winogrande, tmp.path(), &o);
    assert!(
        e.contains("winogrande/validation.jsonl: line 1: field `answer`"),
        "{e}"
    );
}

#[test]
fn missing_hellaswag_train_says_how_to_get_it() {
    for suite in Suite::ALL {
        let e = build_err(Benchmark::HellaSwag, &data_dir(), &opts(suite));
        for want in [
            "hellaswag/train.jsonl",
            "39,905",
            "Rowan/hellaswag",
            "hellaswag_train.jsonl",
            "--hellaswag-fewshot-fallback validation",
        ] {
            assert!(e.contains(want), "missing {want:?} in: {e}");
        }
    }
}

#[test]
fn missing_split_names_what_was_looked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let e = build_err(Benchmark::Arc, tmp.path(), &opts(Suite::LmEval04));
    assert!(e.contains("arc_challenge/test.jsonl[.gz]"), "{e}");
}
