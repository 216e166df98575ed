//! Independent cross-check against CPython itself: the evaluation order and
//! the few-shot indices of every document, for every task and both suites,
//! recomputed with Python's own `random` module (python3 must be on PATH, as
//! in CI). The spec's vectors (tasks_random.rs, tasks_fewshot.rs) remain the
//! primary checks; this one covers every document rather than the first few.

use crate::support::data_dir;
use crate::support::tasks::*;
use evaluator::suite::{DrawMode, Suite};
use evaluator::tasks::TaskRequests;
use leaderboard_format::schema::Benchmark;
use std::io::Write;
use std::process::{Command, Stdio};

const SCRIPT: &str = r#"
import json, random, sys
out = []
for c in json.load(sys.stdin):
    rnd = random.Random(c["seed"])
    order = list(range(c["n_eval"]))
    if c["shuffle"]:
        rnd.shuffle(order)
    if c["limit"] is not None:
        order = order[:c["limit"]]
    plan = []
    for d in order:
        if c["k"] == 0:
            plan.append([d, []])
            continue
        s = rnd.sample(range(c["pool"]), c["draw"])
        if c["draw"] > c["k"]:
            s = [p for p in s if not (c["self_pool"] and p == d)][:c["k"]]
        plan.append([d, s])
    out.append(plan)
json.dump(out, sys.stdout)
"#;

struct Case {
    tr: TaskRequests,
    pool: usize,
    draw: usize,
    self_pool: bool,
}

fn python_plans(cases: &[serde_json::Value]) -> Vec<Vec<(usize, Vec<usize>)>> {
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the CPython cross-check (install python3)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(cases).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn case(
    b: Benchmark,
    suite: Suite,
    mode: DrawMode,
    pool: usize,
    draw_extra: bool,
    self_pool: bool,
) -> Case {
    let mut o = opts(suite);
    o.draw_mode = mode;
    if b == Benchmark::HellaSwag {
        o.hellaswag_fallback = Some(evaluator::tasks::FewshotFallback::Validation);
    }
    let tr = build_with(b, data_dir(), &o);
    let k = tr.num_fewshot;
    Case {
        tr,
        pool,
        draw: if draw_extra { k + 1 } else { k },
        self_pool,
    }
}

#[test]
fn every_doc_order_and_fewshot_matches_cpython() {
    let (old, new) = (Suite::OpenLlmV1, Suite::LmEval04);
    let (sa, gr) = (DrawMode::Standalone, DrawMode::Group);
    let cases = vec![
        case(Benchmark::Arc, old, sa, 1119, false, false),
        case(Benchmark::Arc, new, sa, 1119, false, false),
        case(Benchmark::Gsm8k, old, sa, 7473, false, false),
        case(Benchmark::Gsm8k, new, sa, 7473, false, false),
        case(Benchmark::Winogrande, old, sa, 40398, false, false),
        case(Benchmark::Winogrande, new, sa, 40398, true, false),
        case(Benchmark::Winogrande, new, gr, 40398, false, false),
        case(Benchmark::HellaSwag, old, sa, 10042, true, true),
        case(Benchmark::HellaSwag, new, gr, 10042, true, true),
        case(Benchmark::TruthfulQa, old, sa, 0, false, false),
        case(Benchmark::TruthfulQa, new, sa, 0, false, false),
    ];
    let specs: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "seed": c.tr.suite.seed(), "shuffle": c.tr.suite.shuffles_docs(), "n_eval": c.tr.docs.len(),
                "limit": null, "pool": c.pool, "k": c.tr.num_fewshot, "draw": c.draw, "self_pool": c.self_pool,
            })
        })
        .collect();
    let plans = python_plans(&specs);
    for (c, plan) in cases.iter().zip(plans) {
        let ours: Vec<(usize, Vec<usize>)> =
            c.tr.docs
                .iter()
                .map(|d| (d.doc_id, d.fewshot.clone()))
                .collect();
        assert_eq!(ours.len(), plan.len());
        for (i, (a, b)) in ours.iter().zip(&plan).enumerate() {
            assert_eq!(a, b, "{} {} position {i}", c.tr.task.id, c.tr.suite);
        }
    }
}

#[test]
fn mmlu_subject_orders_match_cpython() {
    let tr = build(Benchmark::Mmlu, Suite::OpenLlmV1, None);
    let subjects: Vec<String> = leaderboard_format::schema::MMLU_SUBJECTS
        .iter()
        .map(|s| format!("mmlu_{s}"))
        .collect();
    let sizes: Vec<usize> = subjects
        .iter()
        .map(|s| tr.docs.iter().filter(|d| &d.task == s).count())
        .collect();
    let specs: Vec<serde_json::Value> = sizes
        .iter()
        .map(|&n| serde_json::json!({"seed": 42, "shuffle": true, "n_eval": n, "limit": null, "pool": 0, "k": 0, "draw": 0, "self_pool": false}))
        .collect();
    let plans = python_plans(&specs);
    for ((s, plan), _) in subjects.iter().zip(plans).zip(&sizes) {
        let ours: Vec<usize> = tr
            .docs
            .iter()
            .filter(|d| &d.task == s)
            .map(|d| d.doc_id)
            .collect();
        let theirs: Vec<usize> = plan.iter().map(|p| p.0).collect();
        assert_eq!(ours, theirs, "{s}");
    }
}

/// `--hellaswag-fewshot-fallback validation-split` (a harness config with
/// `fewshot_split: validation`): k draws per document from one
/// `random.Random(1234)`, in document order, the evaluated doc kept. The CLI's
/// `--json` indices against CPython's `sample(range(10042), 10)`.
#[test]
fn hellaswag_validation_split_fallback_draws_k_like_cpython() {
    let out = crate::support::evaluator()
        .args([
            "prompts",
            "--suite",
            "lm-eval-0.4",
            "--task",
            "hellaswag",
            "--hellaswag-fewshot-fallback",
            "validation-split",
            "--limit",
            "50",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: Vec<(usize, Vec<usize>)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["doc_id"].as_u64().unwrap() as usize,
                serde_json::from_value(v["fewshot"].clone()).unwrap(),
            )
        })
        .collect();
    let py = Command::new("python3")
        .args([
            "-c",
            "import json, random\nr = random.Random(1234)\n\
             print(json.dumps([r.sample(range(10042), 10) for _ in range(50)]))",
        ])
        .output()
        .expect("python3 is needed for the CPython cross-check");
    assert!(py.status.success());
    let want: Vec<Vec<usize>> = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(ours.len(), 50);
    for (i, ((doc, few), w)) in ours.iter().zip(&want).enumerate() {
        assert_eq!(*doc, i, "lm-eval-0.4 keeps dataset order");
        assert_eq!(few, w, "doc {doc}");
    }
    // Nothing is dropped: a document that draws itself keeps itself (none of these 50 do).
    let kept = ours.iter().filter(|(d, f)| f.contains(d)).count();
    println!("validation-split: 50 documents match CPython; {kept} draw their own document");
}
