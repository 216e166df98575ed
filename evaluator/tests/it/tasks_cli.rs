//! `evaluator prompts`, through the built binary.

use crate::support::data_dir;
use crate::support::tasks::*;

fn evaluator(args: &[&str]) -> std::process::Output {
    crate::support::evaluator()
        .args(args)
        .output()
        .expect("run evaluator")
}

/// Without `--data`, the repository's `data/benchmarks` relative to the current folder;
/// where it is missing, an error naming it and the alternatives.
#[test]
fn data_defaults_to_data_benchmarks_in_the_current_folder() {
    let args = ["prompts", "--task", "gsm8k", "--limit", "1", "--json"];
    let out = evaluator(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);

    let elsewhere = tempfile::tempdir().unwrap();
    let out = crate::support::evaluator()
        .args(args)
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for part in ["data/benchmarks", "--data DIR", "--data hub"] {
        assert!(err.contains(part), "{part} missing from: {err}");
    }
}

#[test]
fn prompts_json_matches_the_spec() {
    let data = data_dir();
    let out = evaluator(&[
        "prompts",
        "--suite",
        "lm-eval-0.4",
        "--task",
        "gsm8k",
        "--limit",
        "2",
        "--json",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let d0 = &lines[0];
    assert_eq!(d0["doc_id"], 0);
    assert_eq!(d0["fewshot"], serde_json::json!([6374, 3610, 957, 61, 742]));
    // The spec's hash of this worked prompt (`tests/fixtures/lm-eval-tasks.md`).
    const SPEC_SHA256: &str = "32680f263ba83280e98a8a24ceefed10a722a4cdcd9f4d78e93c45d43143ca66";
    let ctx = d0["requests"][0]["context"].as_str().unwrap();
    assert_eq!(sha(ctx), SPEC_SHA256);
    assert_eq!(d0["prompt_sha256"], SPEC_SHA256);
    assert_eq!(
        d0["requests"][0]["until"],
        serde_json::json!(["Question:", "</s>", "<|im_end|>"])
    );
}

#[test]
fn prompts_text_for_mmlu_old() {
    let out = evaluator(&[
        "prompts",
        "--task",
        "mmlu",
        "--limit",
        "1",
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // One doc per subject, OLD order: abstract_algebra's first evaluated doc is test[42].
    assert_eq!(text.matches("=== mmlu_").count(), 57);
    assert!(text.starts_with(
        "=== mmlu_abstract_algebra doc 42 (position 0) fewshot [0, 1, 2, 3, 4] sha256 "
    ));
    assert!(text.contains("--- request 4/4 loglikelihood\nThe following are multiple choice questions (with answers) about abstract algebra.\n\n"));
    assert!(text.contains("--- continuation: \" D\"\n"));
}

#[test]
fn prompts_errors_and_help() {
    let out = evaluator(&[
        "prompts",
        "--task",
        "hellaswag",
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hellaswag/train.jsonl.gz") && err.contains("--hellaswag-fewshot-fallback"),
        "{err}"
    );

    let out = evaluator(&[
        "prompts",
        "--task",
        "hellaswag",
        "--limit",
        "1",
        "--hellaswag-fewshot-fallback",
        "validation",
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "# deviation: hellaswag-fewshot-fallback:validation\n=== hellaswag doc 9792 "
        ),
        "{text}"
    );

    let out = evaluator(&["prompts", "--task", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a task"));

    let out = evaluator(&["prompts", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--suite",
        "--task",
        "--limit",
        "--json",
        "--data",
        "--num-fewshot",
        "--hellaswag-fewshot-fallback",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
