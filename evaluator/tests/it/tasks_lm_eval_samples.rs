//! The prompts of suite `lm-eval-0.4` against lm-eval 0.4.8's own: the samples files it
//! wrote when it ran the six tasks on the test model (`tests/fixtures/imports/lm-eval-run/`
//! of the repository root, made by `scripts/make-lm-eval-fixtures.sh`, `--limit 2`, the
//! leaderboard's shots, HellaSwag's shots from validation) hold every request's context
//! and continuation; each of the 128 lines must be ours, request for request, byte for byte.

use crate::support::{data_dir, tasks::build_with};
use evaluator::requests::Request;
use evaluator::suite::Suite;
use evaluator::tasks::{BuildOptions, FewshotFallback, TaskRequests};
use leaderboard_format::schema::Benchmark;
use serde_json::Value;
use std::path::PathBuf;

/// The lm-eval run's samples folder.
pub fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/imports/lm-eval-run/samples")
}

/// (lm-eval task, line) of every samples file, files in name order.
pub fn samples() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let task = f.file_stem().unwrap().to_str().unwrap()["samples_".len()..].to_string();
        for l in std::fs::read_to_string(&f).unwrap().lines() {
            out.push((task.clone(), serde_json::from_str(l).unwrap()));
        }
    }
    out
}

/// lm-eval's (context, continuation) pairs of a line (0.4.8: `gen_args_N.arg_0/arg_1`).
pub fn arguments(line: &Value) -> Vec<(String, Value)> {
    let args = line["arguments"].as_object().unwrap();
    (0..args.len())
        .map(|i| {
            let a = &args[&format!("gen_args_{i}")];
            (a["arg_0"].as_str().unwrap().to_string(), a["arg_1"].clone())
        })
        .collect()
}

/// Our task id of an lm-eval task.
pub fn ours(task: &str) -> &str {
    if task.starts_with("truthfulqa_mc") {
        "truthfulqa_mc"
    } else {
        task
    }
}

fn built() -> Vec<TaskRequests> {
    Benchmark::ALL
        .into_iter()
        .map(|b| {
            let mut o = BuildOptions::new(Suite::LmEval04);
            o.limit = Some(2);
            if b == Benchmark::HellaSwag {
                o.hellaswag_fallback = Some(FewshotFallback::Validation);
            }
            build_with(b, data_dir(), &o)
        })
        .collect()
}

#[test]
fn every_request_of_lm_eval_s_own_samples_is_ours_byte_for_byte() {
    let built = built();
    let lines = samples();
    assert_eq!(lines.len(), 128);
    let mut docs = 0;
    for (task, line) in &lines {
        let doc_id = line["doc_id"].as_u64().unwrap() as usize;
        let d = built
            .iter()
            .flat_map(|t| &t.docs)
            .find(|d| d.task == ours(task) && d.doc_id == doc_id)
            .unwrap_or_else(|| panic!("{task} doc {doc_id} not built"));
        assert_eq!(
            d.prompt_sha256(),
            line["prompt_hash"].as_str().unwrap(),
            "{task} doc {doc_id}: prompt"
        );
        let theirs = arguments(line);
        // Suite lm-eval-0.4 scores TruthfulQA by mc2 only; mc1's prompt is the same.
        if task == "truthfulqa_mc1" {
            continue;
        }
        assert_eq!(d.requests.len(), theirs.len(), "{task} doc {doc_id}");
        for (r, (context, second)) in d.requests.iter().zip(&theirs) {
            assert_eq!(r.context(), context, "{task} doc {doc_id}");
            match r {
                Request::LogLikelihood { continuation, .. } => {
                    assert_eq!(
                        Some(continuation.as_str()),
                        second.as_str(),
                        "{task} doc {doc_id}"
                    )
                }
                Request::Generate {
                    until,
                    max_gen_toks,
                    ..
                } => {
                    let want: Vec<&str> = second["until"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|u| u.as_str().unwrap())
                        .collect();
                    assert_eq!(until, &want, "{task} doc {doc_id}: stop strings");
                    assert_eq!(*max_gen_toks, 256);
                }
            }
        }
        docs += 1;
    }
    assert_eq!(docs, 128 - 2);
}
