//! `evaluator run` end to end on SmolLM2 Q4_1 (GGUF): all six tasks with `--limit`, and its failure modes.

use crate::support::model::{assert_results_check, files_under, test_model};

use crate::support::evaluator;
use std::path::Path;
use std::time::Instant;

use evaluator::details;

#[test]
fn run_all_six_tasks_with_limit_writes_a_checked_results_file() {
    // The real leaderboard prompts (25/10/5/0/5/5-shot) on the quantized GGUF as
    // loaded by default, one document per task (per MMLU subject: 57 questions), so
    // that it runs in minutes on two shared CPU cores. HellaSwag draws its shots
    // from validation (the train split is not shipped), recorded as a deviation.
    let model = test_model();
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let started = Instant::now();
    let out = evaluator()
        .args(["run", "--model"])
        .arg(&model)
        .args([
            "--suite",
            "openllm-v1",
            "--tasks",
            "all",
            "--limit",
            "1",
            "--hellaswag-fewshot-fallback",
            "validation",
            "--evaluated-at",
            "2026-01-01T00:00:00Z",
            "--output",
        ])
        .arg(&results)
        .env("LEADERBOARD_CACHE", tmp.path().join("journals"))
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    println!("evaluator run wall time: {wall:.1}s");
    assert!(out.status.success(), "evaluator run failed:\n{stderr}");

    let rel = Path::new("local/SmolLM2-135M-Instruct.Q4_1");
    let stem = "openllm-v1_4bit_b179c9523d0e";
    let results_file = results.join(rel).join(format!("{stem}.parquet"));
    let details_file = results.join(rel).join(format!("{stem}.details.parquet"));
    assert_eq!(
        files_under(&results),
        vec![
            rel.join(format!("{stem}.details.parquet")),
            rel.join(format!("{stem}.parquet")),
        ],
        "exactly the results and details files, no temporary leftovers"
    );

    let runs = leaderboard_format::read_file(&results_file).unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.model_id, "local/SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(run.revision, None);
    assert_eq!(run.precision.as_str(), "4bit");
    assert_eq!(
        run.weights_sha256.as_deref(),
        Some("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
    );
    assert_eq!(run.architecture.as_deref(), Some("LlamaForCausalLM"));
    let params = run.params_billions.unwrap();
    assert!((0.13..0.14).contains(&params), "params_billions {params}");
    assert!(!run.params_truncated);
    assert_eq!(run.provenance.tool, "leaderboard-evaluator");
    assert_eq!(run.provenance.suite, "openllm-v1");
    for d in ["limit:1", "hellaswag-fewshot-fallback:validation"] {
        assert!(
            run.provenance.deviations.iter().any(|x| x == d),
            "deviation {d} missing from {:?}",
            run.provenance.deviations
        );
    }
    assert!(!run.is_comparable());
    assert_eq!(
        run.evaluated_at.unwrap().to_rfc3339(),
        "2026-01-01T00:00:00+00:00"
    );
    for b in leaderboard_format::schema::Benchmark::ALL {
        let s = run
            .headline(b)
            .unwrap_or_else(|| panic!("no headline score for {}", b.task()));
        assert!((0.0..=1.0).contains(&s.value));
        if b != leaderboard_format::schema::Benchmark::Mmlu {
            assert_eq!(s.n_samples, Some(1), "{}", b.task());
        }
        println!("{:<12} {:>7.2}", b.label(), s.value * 100.0);
    }
    assert!(run.average().is_some());

    // Details: one row per evaluated document (5 tasks + 57 MMLU subjects).
    let batches = evaluator::details::read(&details_file).unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 5 + 57);

    // Same inputs, same bytes: a second run of one task gives an identical results file.
    let again = |dir: &Path| {
        // A temporary file a killed earlier write left: the rerun removes it
        // (it would make `check` refuse the folder: hidden file).
        let stale = dir.join(rel).join(format!(".{stem}.parquet.tmp-99999"));
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, b"half a file").unwrap();
        let out = evaluator()
            .args(["run", "--model"])
            .arg(&model)
            .args([
                "--suite",
                "openllm-v1",
                "--tasks",
                "truthfulqa_mc",
                "--limit",
                "1",
                "--output",
            ])
            .arg(dir)
            .env("SOURCE_DATE_EPOCH", "1767225600")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stale.exists(), "the stale temporary file is still there");
        assert_results_check(dir);
        let f = dir.join(rel).join(format!("{stem}.parquet"));
        (
            std::fs::read(&f).unwrap(),
            std::fs::read(details::details_path(&f)).unwrap(),
        )
    };
    let (a, b) = (again(&tmp.path().join("a")), again(&tmp.path().join("b")));
    assert!(a == b, "two identical runs wrote different bytes");

    // `leaderboard check` accepts the folder, details file included (the results
    // reader skips `*.details.parquet`).
    assert_results_check(&results);

    // The site renders it (the `leaderboard` binary: the evaluator does not
    // link the site crate): one run, one model page with its scores.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let site = tmp.path().join("site");
    let out = std::process::Command::new(crate::support::model::leaderboard_bin())
        .args(["build", "--results"])
        .arg(&results)
        .arg("--content")
        .arg(root.join("content"))
        .arg("--out")
        .arg(&site)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("1 runs, 1 model pages"), "{log}");
    let data_js = std::fs::read_to_string(site.join("data.js")).unwrap();
    assert!(data_js.contains("local/SmolLM2-135M-Instruct.Q4_1"));
    let page = files_under(&site.join("models"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .expect("a model page");
    let html = std::fs::read_to_string(site.join("models").join(&page)).unwrap();
    assert!(html.contains("SmolLM2-135M-Instruct.Q4_1"), "{page:?}");
    let arc = run
        .headline(leaderboard_format::schema::Benchmark::Arc)
        .unwrap()
        .value;
    // As the site prints a percentage (`site::model_pages::pct`).
    let shown = format!("{:.2}", arc * 100.0);
    assert!(
        html.contains(&shown),
        "model page {page:?} does not show ARC {shown}"
    );
    println!("site: model page {page:?} shows ARC {shown}");
}

#[test]
fn failures_leave_no_results_file() {
    let model = test_model();
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let run = |model: &Path, extra: &[&str]| {
        let out = evaluator()
            .args(["run", "--model"])
            .arg(model)
            .args([
                "--suite",
                "openllm-v1",
                "--tasks",
                "truthfulqa_mc",
                "--limit",
                "1",
            ])
            .args(extra)
            .arg("--output")
            .arg(&results)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "expected a failure for {}",
            model.display()
        );
        assert!(
            files_under(&results).is_empty(),
            "a failed run left files: {:?}",
            files_under(&results)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // Model ids `check` would refuse, and output folders that cannot hold
    // the files: refused before the model loads.
    let long = format!("org/{}", "n".repeat(116));
    for id in ["org/a--b", "org/.x", long.as_str(), "no-org", "org/<b>"] {
        let err = run(&model, &["--model-id", id]);
        assert!(err.contains("--model-id"), "{id}: {err}");
        assert!(
            !err.contains("loading model"),
            "{id}: loaded the model first: {err}"
        );
    }
    let linked = tmp.path().join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink(tmp.path(), linked.join("org")).unwrap();
    let out = evaluator()
        .args(["run", "--model"])
        .arg(&model)
        .args([
            "--tasks",
            "truthfulqa_mc",
            "--limit",
            "1",
            "--model-id",
            "org/name",
            "--output",
        ])
        .arg(&linked)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("symbolic link") && !err.contains("loading model"),
        "{err}"
    );

    // A missing model file.
    let missing = tmp.path().join("no-such-model.gguf");
    let err = run(&missing, &[]);
    assert!(
        err.contains("no-such-model.gguf") && err.contains("does not exist"),
        "{err}"
    );

    // A truncated GGUF: metadata intact, tensor data cut short.
    let bytes = std::fs::read(&model).unwrap();
    let cut = tmp.path().join("truncated.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = run(&cut, &[]);
    assert!(err.contains("truncated.gguf"), "{err}");

    // A GGUF truncated inside its metadata.
    let cut2 = tmp.path().join("header-only.gguf");
    std::fs::write(&cut2, &bytes[..100_000]).unwrap();
    let err = run(&cut2, &[]);
    assert!(err.contains("header-only.gguf"), "{err}");

    // A tokenizer that does not match the model: ids beyond its 49152 rows.
    let tok = evaluator::tokenizer::Tokenizer::from_gguf(&model).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_str(&tok.to_tokenizer_json().unwrap()).unwrap();
    let added = json["added_tokens"].as_array_mut().unwrap();
    for (i, id) in (49152..50280).enumerate() {
        added.push(serde_json::json!({
            "id": id, "content": format!("<extra_{i}>"), "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true
        }));
    }
    let bad_tok = tmp.path().join("other-tokenizer.json");
    std::fs::write(&bad_tok, json.to_string()).unwrap();
    let err = run(&model, &["--tokenizer", bad_tok.to_str().unwrap()]);
    assert!(
        err.contains("does not match the model") && err.contains("50279") && err.contains("49152"),
        "{err}"
    );
}

/// The same model as a Hugging Face folder (GGUF dequantized to f32 safetensors
/// plus the exported tokenizer.json) gives the same per-request
/// log-likelihoods as the GGUF dequantized to f32.
#[test]
fn hf_folder_run_matches_the_gguf_run() {
    let model = test_model();
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("SmolLM2-hf");
    evaluator::model::export_hf::export_gguf_to_hf(&model, &folder, candle_core::DType::F32)
        .unwrap();
    evaluator::tokenizer::Tokenizer::from_gguf(&model)
        .unwrap()
        .write_hf_files(&folder)
        .unwrap();
    let lls = |m: &Path, extra: &[&str], out: &Path| {
        let o = evaluator()
            .args(["run", "--model"])
            .arg(m)
            .args([
                "--suite",
                "openllm-v1",
                "--tasks",
                "truthfulqa_mc",
                "--limit",
                "1",
            ])
            .args(extra)
            .args(["--model-id", "test/smollm2", "--output"])
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let dir = out.join("test/smollm2");
        let details = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".details.parquet"))
            .expect("a details file");
        let batches = details::read(&details).unwrap();
        let col = batches[0]
            .column_by_name("loglikelihoods")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::ListArray>()
            .unwrap()
            .value(0);
        let v = col
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .unwrap();
        v.values().to_vec()
    };
    let a = lls(&model, &["--dtype", "f32"], &tmp.path().join("a"));
    let b = lls(&folder, &[], &tmp.path().join("b"));
    assert_eq!(a.len(), b.len());
    assert!(!a.is_empty());
    let max = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f64, f64::max);
    println!(
        "GGUF-f32 vs HF-folder-f32: {} requests, max |Δ loglikelihood| = {max:.2e}",
        a.len()
    );
    // Same f32 weights and the same forward pass: only summation-order noise.
    assert!(max < 1e-3, "max difference {max}");
}
