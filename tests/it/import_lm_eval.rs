//! `leaderboard import lm-eval` on real lm-evaluation-harness files
//! (`tests/fixtures/imports/`, see its SOURCES.md): each imports with the file's own
//! numbers (MMLU recomputed as the mean of the 57 subjects, computed again here from the
//! file), its stderr, its shots as deviations where they are not the leaderboard's, the
//! suite chosen from the harness version; what a file lacks (model id, commit, dtype) is
//! asked for by flag; a file with none of the six tasks is refused naming what it has;
//! credentials in `model_args` are never copied; the written folder passes `check`.

use leaderboard::import_lm_eval::{import, output_path, Options};
use leaderboard_format::schema::{Benchmark, Precision, Run, MMLU_SUBJECTS};
use serde_json::Value;
use std::path::{Path, PathBuf};

const REV: &str = "62bd457b6fe961a42a631306577e622c83876cb6";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/imports/lm-eval")
        .join(name)
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn llama3() -> Vec<PathBuf> {
    [
        "arc",
        "gsm8k",
        "hellaswag",
        "mmlu",
        "truthfulqa",
        "winogrande",
    ]
    .iter()
    .map(|t| fixture(&format!("v0.4.2_saucam_Meta-Llama-3-8B_openllm/{t}.json")))
    .collect()
}

fn opts(model: Option<&str>, rev: Option<&str>, p: Option<Precision>) -> Options {
    Options {
        model_id: model.map(str::to_string),
        revision: rev.map(str::to_string),
        precision: p,
        model_type: None,
        samples: Vec::new(),
    }
}

fn err(files: &[PathBuf], o: &Options) -> String {
    format!("{:#}", import(files, o).expect_err("must be refused"))
}

fn headline(run: &Run, b: Benchmark) -> (f64, Option<f64>) {
    let s = run.headline(b).unwrap_or_else(|| panic!("{b:?} missing"));
    (s.value, s.stderr)
}

/// The mean of the 57 subjects' values under `key(subject)` in `results`.
fn subject_mean(results: &Value, key: impl Fn(&str) -> String, metric: &str) -> f64 {
    let v: Vec<f64> = MMLU_SUBJECTS
        .iter()
        .map(|s| results[key(s)][metric].as_f64().unwrap())
        .collect();
    v.iter().sum::<f64>() / 57.0
}

#[test]
fn lm_eval_0_4_2_one_file_per_task_imports_with_the_files_numbers() {
    let files = llama3();
    // The files name the model but neither its commit nor its dtype (`dtype=auto`).
    assert!(err(&files, &opts(None, None, None)).contains("pass --revision"));
    assert!(err(&files, &opts(None, Some(REV), None)).contains("pass --precision"));
    let imported = import(&files, &opts(None, Some(REV), Some(Precision::BFloat16))).unwrap();
    let run = &imported.run;
    assert_eq!(run.model_id, "meta-llama/Meta-Llama-3-8B");
    assert_eq!(run.provenance.suite, "lm-eval-0.4");
    assert_eq!(
        run.provenance.tool_version.as_deref(),
        Some("0.4 (git 3196e907)")
    );
    assert!(
        run.provenance.deviations.is_empty(),
        "{:?}",
        run.provenance.deviations
    );
    let r = |t: &str| {
        json(&fixture(&format!(
            "v0.4.2_saucam_Meta-Llama-3-8B_openllm/{t}.json"
        )))["results"]
            .clone()
    };
    let pair = |v: &Value, m: &str| {
        (
            v[format!("{m},none")].as_f64().unwrap(),
            v[format!("{m}_stderr,none")].as_f64(),
        )
    };
    assert_eq!(
        headline(run, Benchmark::Arc),
        pair(&r("arc")["arc_challenge"], "acc_norm")
    );
    assert_eq!(
        headline(run, Benchmark::HellaSwag),
        pair(&r("hellaswag")["hellaswag"], "acc_norm")
    );
    assert_eq!(
        headline(run, Benchmark::TruthfulQa),
        pair(&r("truthfulqa")["truthfulqa_mc2"], "acc")
    );
    assert_eq!(
        headline(run, Benchmark::Winogrande),
        pair(&r("winogrande")["winogrande"], "acc")
    );
    let g = &r("gsm8k")["gsm8k"];
    assert_eq!(
        headline(run, Benchmark::Gsm8k),
        (
            g["exact_match,strict-match"].as_f64().unwrap(),
            g["exact_match_stderr,strict-match"].as_f64()
        )
    );
    // MMLU: v1's unweighted subject mean, not lm-eval 0.4's document-weighted group.
    let mmlu = r("mmlu");
    let mean = subject_mean(&mmlu, |s| format!("mmlu_{s}"), "acc,none");
    let (value, stderr) = headline(run, Benchmark::Mmlu);
    assert!((value - mean).abs() < 1e-12, "{value} vs {mean}");
    assert!((value - 0.66364).abs() < 5e-6, "{value}");
    let group = mmlu["mmlu"]["acc,none"].as_f64().unwrap();
    assert!((group - 0.65041).abs() < 5e-6 && (value - group).abs() > 0.01);
    assert!(stderr.is_some());
    let subjects = run
        .scores
        .iter()
        .filter(|s| s.task.starts_with("mmlu_"))
        .count();
    assert_eq!(subjects, 57, "per-subject scores kept");
    assert!(imported.skipped.contains(&"truthfulqa_gen".to_string()));
    for s in &run.scores {
        let (b, _) = leaderboard_format::schema::task_facts(&s.task).unwrap();
        assert_eq!(s.num_fewshot, Some(b.num_fewshot()), "{} shots", s.task);
    }
    println!(
        "Meta-Llama-3-8B: MMLU {:.5} (subject mean; group {group:.5}), Average {:.4}",
        value,
        run.average().unwrap()
    );
}

#[test]
fn lm_eval_0_3_files_need_a_model_id_and_record_their_shots_as_deviations() {
    let files = vec![
        fixture("v0.3_llama-7B_common_sense_reasoning_0-shot.json"),
        fixture("v0.3_llama-7B_mmlu_5-shot.json"),
    ];
    let e = err(&files, &opts(None, None, None));
    assert!(
        e.contains("local path") && e.contains("--model-id org/name"),
        "{e}"
    );
    let o = opts(
        Some("huggyllama/llama-7b"),
        Some(REV),
        Some(Precision::Float16),
    );
    let imported = import(&files, &o).unwrap();
    let run = &imported.run;
    assert_eq!(run.provenance.suite, "openllm-v1");
    assert_eq!(run.provenance.tool_version.as_deref(), Some("0.3"));
    assert_eq!(
        run.provenance.deviations,
        [
            "num_fewshot:arc_challenge:0",
            "num_fewshot:hellaswag:0",
            "num_fewshot:winogrande:0"
        ]
    );
    let mmlu = json(&files[1])["results"].clone();
    let mean = subject_mean(&mmlu, |s| format!("hendrycksTest-{s}"), "acc");
    assert!((headline(run, Benchmark::Mmlu).0 - mean).abs() < 1e-12);
    let hs = &json(&files[0])["results"]["hellaswag"];
    assert_eq!(
        headline(run, Benchmark::HellaSwag),
        (
            hs["acc_norm"].as_f64().unwrap(),
            hs["acc_norm_stderr"].as_f64()
        )
    );
    assert!(run.headline(Benchmark::TruthfulQa).is_none() && run.average().is_none());
    assert!(imported.skipped.contains(&"piqa".to_string()));
}

#[test]
fn lm_eval_0_4_8_records_dtype_and_samples_and_refuses_a_bare_id() {
    let files = vec![fixture("v0.4.8_gpt2_results_gpt2.json")];
    let e = err(&files, &opts(None, Some(REV), None));
    assert!(e.contains("\"gpt2\"") && e.contains("--model-id"), "{e}");
    let imported = import(
        &files,
        &opts(Some("openai-community/gpt2"), Some(REV), None),
    )
    .unwrap();
    let run = &imported.run;
    assert_eq!(run.precision, Precision::Float32, "from config.model_dtype");
    assert_eq!(run.provenance.tool_version.as_deref(), Some("0.4.8"));
    assert_eq!(run.params_billions, Some(0.124439808));
    let tq = run.headline(Benchmark::TruthfulQa).unwrap();
    assert_eq!(tq.n_samples, Some(817));
    let mc1 = run
        .scores
        .iter()
        .find(|s| s.task == "truthfulqa_mc" && s.metric == "mc1")
        .unwrap();
    assert_eq!(
        Some(mc1.value),
        json(&files[0])["results"]["truthfulqa_mc1"]["acc,none"].as_f64()
    );
    assert_eq!(run.provenance.deviations, ["num_fewshot:winogrande:0"]);
}

#[test]
fn bad_files_are_refused_and_credentials_are_not_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, v: Value| {
        let p = tmp.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let none = write(
        "none.json",
        serde_json::json!({"results": {"piqa": {"acc": 0.7}, "boolq": {"acc": 0.6}}, "config": {"model_args": "pretrained=org/m", "num_fewshot": 0}}),
    );
    let e = err(&[none], &opts(None, Some(REV), Some(Precision::Float16)));
    assert!(
        e.contains("none of the leaderboard's six") && e.contains("boolq, piqa"),
        "{e}"
    );
    let secret = write(
        "secret.json",
        serde_json::json!({"results": {"winogrande": {"acc,none": 0.6, "acc_stderr,none": "N/A"}}, "n-shot": {"winogrande": 5},
            "config": {"model_args": "pretrained=org/m,token=hf_SECRETSECRET,dtype=bfloat16", "limit": 10}}),
    );
    let run = import(std::slice::from_ref(&secret), &opts(None, Some(REV), None))
        .unwrap()
        .run;
    assert_eq!(run.precision, Precision::BFloat16);
    assert_eq!(
        run.headline(Benchmark::Winogrande).unwrap().stderr,
        None,
        "\"N/A\" is no stderr"
    );
    assert_eq!(run.provenance.deviations, ["limit:10"]);
    assert!(!format!("{run:?}").contains("SECRET"));
    let other = write(
        "other.json",
        serde_json::json!({"results": {"hellaswag": {"acc,none": 0.5}}, "config": {"model_args": "pretrained=org/other"}}),
    );
    let e = err(&[secret, other], &opts(None, Some(REV), None));
    assert!(e.contains("org/other") && e.contains("org/m"), "{e}");
    // The Llama-3-8B folder's run summary (time and GPU) is not a results file.
    let summary = fixture("v0.4.2_saucam_Meta-Llama-3-8B_openllm/summary_openllm.json");
    let e = err(&[summary], &Options::default());
    assert!(
        e.contains("summary_openllm.json: no `results` object; expected an lm-eval results file"),
        "{e}"
    );
    let huge = tmp.path().join("huge.json");
    std::fs::write(&huge, vec![b' '; 17 << 20]).unwrap();
    assert!(err(&[huge], &Options::default()).contains("larger than"));
    let bad = write(
        "bad.json",
        serde_json::json!({"results": {"winogrande": {"acc,none": 1.5}}, "config": {"model_args": "pretrained=org/m,dtype=float16"}}),
    );
    assert!(err(&[bad], &opts(None, Some(REV), None)).contains("expected a fraction"));
}

#[test]
fn the_command_writes_a_results_file_that_check_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .args(["import", "lm-eval"])
        .args(llama3())
        .args([
            "--revision",
            REV,
            "--precision",
            "bfloat16",
            "--model-type",
            "pretrained",
            "--results",
        ])
        .arg(&results)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("MMLU           66.36"), "{stdout}");
    let run = import(&llama3(), &opts(None, Some(REV), Some(Precision::BFloat16)))
        .unwrap()
        .run;
    let path = output_path(&results, &run);
    assert!(path
        .ends_with("meta-llama/Meta-Llama-3-8B/lm-eval_lm-eval-0.4_bfloat16_62bd457b6fe9.parquet"));
    assert!(path.is_file());
    let (problems, _) = leaderboard_format::check::check_and_load(&results);
    assert!(problems.is_empty(), "{problems:?}");
}

/// A lighteval results file in the layout the v1 leaderboard wrote (built from the
/// documented layout: no real one could be obtained), with an API key in `model_config`.
fn v1_layout_file(dir: &Path) -> PathBuf {
    let mut results = serde_json::Map::new();
    let m = |pairs: &[(&str, f64)]| {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect(),
        )
    };
    results.insert(
        "harness|arc:challenge|25".into(),
        m(&[
            ("acc", 0.55),
            ("acc_stderr", 0.0145),
            ("acc_norm", 0.5811),
            ("acc_norm_stderr", 0.0144),
        ]),
    );
    results.insert(
        "harness|hellaswag|10".into(),
        m(&[
            ("acc", 0.61),
            ("acc_stderr", 0.0049),
            ("acc_norm", 0.8213),
            ("acc_norm_stderr", 0.0038),
        ]),
    );
    for (i, s) in MMLU_SUBJECTS.iter().enumerate() {
        let v = 0.3 + i as f64 / 200.0;
        results.insert(
            format!("harness|hendrycksTest-{s}|5"),
            m(&[
                ("acc", v),
                ("acc_stderr", 0.04),
                ("acc_norm", v),
                ("acc_norm_stderr", 0.04),
            ]),
        );
    }
    results.insert(
        "harness|truthfulqa:mc|0".into(),
        m(&[
            ("mc1", 0.28),
            ("mc1_stderr", 0.0157),
            ("mc2", 0.4388),
            ("mc2_stderr", 0.0144),
        ]),
    );
    results.insert(
        "harness|winogrande|5".into(),
        m(&[("acc", 0.7672), ("acc_stderr", 0.0119)]),
    );
    results.insert(
        "harness|gsm8k|5".into(),
        m(&[("acc", 0.1456), ("acc_stderr", 0.0097)]),
    );
    results.insert("all".into(), m(&[("acc", 0.5)]));
    let file = serde_json::json!({
        "config_general": {
            "lighteval_sha": "494ee12240e716e804ae9ea834f84a2c864c07ca",
            "model_name": "org-v1/model-13b",
            "model_sha": REV,
            "model_dtype": "torch.float16",
            "model_size": "24.32 GB",
            "max_samples": null,
            "model_config": {"api_key": "hf_SECRETSECRET", "token": "hf_SECRETSECRET"}
        },
        "results": results,
        "versions": {"all": 0, "harness|arc:challenge|25": 0},
    });
    let p = dir.join("results_2023-10-22T01-13-03.json");
    std::fs::write(&p, file.to_string()).unwrap();
    p
}

#[test]
fn lighteval_v1_layout_imports_and_a_lighteval_0_11_file_without_v1_tasks_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = v1_layout_file(tmp.path());
    let imported = leaderboard::import_lm_eval::import_lighteval(
        std::slice::from_ref(&file),
        &Options::default(),
    )
    .unwrap();
    let run = &imported.run;
    assert_eq!(
        (
            run.model_id.as_str(),
            run.revision.as_deref(),
            run.precision
        ),
        ("org-v1/model-13b", Some(REV), Precision::Float16)
    );
    assert_eq!(run.provenance.tool, "lighteval");
    assert_eq!(run.provenance.suite, "openllm-v1");
    assert!(
        run.provenance.deviations.is_empty(),
        "{:?}",
        run.provenance.deviations
    );
    assert_eq!(headline(run, Benchmark::Arc), (0.5811, Some(0.0144)));
    assert_eq!(headline(run, Benchmark::HellaSwag), (0.8213, Some(0.0038)));
    assert_eq!(headline(run, Benchmark::TruthfulQa), (0.4388, Some(0.0144)));
    assert_eq!(headline(run, Benchmark::Winogrande), (0.7672, Some(0.0119)));
    assert_eq!(headline(run, Benchmark::Gsm8k), (0.1456, Some(0.0097)));
    let mean = (0..57).map(|i| 0.3 + i as f64 / 200.0).sum::<f64>() / 57.0;
    assert!((headline(run, Benchmark::Mmlu).0 - mean).abs() < 1e-12);
    assert_eq!(run.headline(Benchmark::Mmlu).unwrap().num_fewshot, Some(5));
    assert!(run.average().is_some());
    assert!(
        !format!("{run:?}").contains("SECRET"),
        "model_config is never copied"
    );
    // Through the command: a results file check accepts.
    let results = tmp.path().join("results");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .args(["import", "lighteval"])
        .arg(&file)
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(output_path(&results, run)
        .ends_with("org-v1/model-13b/lighteval_openllm-v1_float16_62bd457b6fe9.parquet"));
    let (problems, set) = leaderboard_format::check::check_and_load(&results);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(set.runs.len(), 1);

    // The real lighteval 0.11 file: a community task, none of the six; its
    // `model_config` (an API key, redacted in the fixture) is not read.
    let real = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/imports/lighteval/lighteval-0.11_gpt-5-mini_results_2025-09-26T18-27-15.626626.json");
    let e = format!(
        "{:#}",
        leaderboard::import_lm_eval::import_lighteval(
            &[real],
            &opts(
                Some("openai/gpt-5-mini"),
                Some(REV),
                Some(Precision::Float16)
            )
        )
        .unwrap_err()
    );
    assert!(
        e.contains("none of the leaderboard's six") && e.contains("community|gpqa-diamond-idk|0"),
        "{e}"
    );
    assert!(!e.contains("REDACTED"));
}

/// Copies `from` (files only, one level) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn imported_runs_show_their_source_and_stderr_on_the_site_in_chromium() {
    // Also: the re-evaluable marker and the Submit page's architecture list.
    use crate::support::chrome;
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    copy_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results"),
        &results,
    );
    let lm = import(&llama3(), &opts(None, Some(REV), Some(Precision::BFloat16)))
        .unwrap()
        .run;
    leaderboard_format::write_file(&output_path(&results, &lm), std::slice::from_ref(&lm)).unwrap();
    let le = leaderboard::import_lm_eval::import_lighteval(
        &[v1_layout_file(tmp.path())],
        &Options::default(),
    )
    .unwrap()
    .run;
    leaderboard_format::write_file(&output_path(&results, &le), std::slice::from_ref(&le)).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let src = leaderboard::site::load(&results, &root.join("content"), None, None).unwrap();
    let out = tmp.path().join("site");
    leaderboard::site::build(&src, &out).unwrap();

    let c = chrome::Chrome::launch();
    let index = chrome::file_url(&out.join("index.html"));
    c.open(&format!("{index}#src=lm-eval,lighteval&hide="));
    let shown = c.js("[...document.querySelectorAll('#rows tr td a')].filter(a => a.getAttribute('href').startsWith('models/')).map(a => a.textContent)");
    assert_eq!(
        shown,
        serde_json::json!(["meta-llama/Meta-Llama-3-8B", "org-v1/model-13b"])
    );
    let badges = c.js(
        "[...document.querySelectorAll('#rows .badge.src')].map(b => [b.textContent, b.title])",
    );
    assert_eq!(
        badges,
        serde_json::json!([
            [
                "lm-eval",
                "imported from lm-evaluation-harness: lm-eval 0.4 (git 3196e907)"
            ],
            [
                "lighteval",
                "imported from lighteval: lighteval git 494ee12240e716e804ae9ea834f84a2c864c07ca"
            ]
        ])
    );
    let facet =
        c.js("[...document.querySelectorAll('#f-src input')].map(i => [i.dataset.src, i.checked])");
    assert_eq!(
        facet,
        serde_json::json!([
            ["evaluator", false],
            ["v1", false],
            ["lm-eval", true],
            ["lighteval", true],
            ["other", false]
        ])
    );
    // The v1 runs alone: no source badge.
    c.tab
        .navigate_to("about:blank")
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    c.open(&format!("{index}#src=v1&hide="));
    assert_eq!(
        c.js("document.querySelectorAll('#rows .badge.src').length"),
        serde_json::json!(0)
    );
    assert!(
        c.js("document.querySelectorAll('#rows tr').length")
            .as_u64()
            .unwrap()
            > 2
    );
    // Runs whose architecture the evaluator runs are marked re-evaluable, and the
    // Submit page lists those architectures from the one list.
    let want = src
        .runs
        .iter()
        .filter(|r| leaderboard::site::view::reevaluable(r))
        .count();
    assert!(want > 0 && want < src.runs.len(), "{want}");
    let got = c.js("window.LB_DATA.c.re.split('').filter(x => x === '1').length");
    assert_eq!(got, serde_json::json!(want));
    let submit = std::fs::read_to_string(out.join("submit.html")).unwrap();
    assert!(
        submit.contains("<code>LlamaForCausalLM</code>, <code>MistralForCausalLM</code>"),
        "architectures listed"
    );
    assert!(!submit.contains("{{architectures}}"));
    // The model page says where the numbers come from, with their stderr.
    let page =
        std::fs::read_to_string(out.join("models/meta-llama--meta-llama-3-8b.html")).unwrap();
    assert!(
        page.contains("imported from lm-evaluation-harness"),
        "source on the model page"
    );
    assert!(page.contains("lm-eval 0.4 (git 3196e907)"));
    assert!(page.contains("±"), "stderr shown");
}
