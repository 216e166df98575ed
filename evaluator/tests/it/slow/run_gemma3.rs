//! `evaluator run` on the real Gemma 3 270M GGUF (architecture `gemma3`, SentencePiece
//! tokenizer rebuilt from its metadata): Winogrande, the first 20 documents, suite
//! `lm-eval-0.4`, which adds BOS for Gemma as lm-eval does.

use crate::support::model::{files_under, gemma3_model};
use leaderboard_format::schema::Precision;

#[test]
fn gemma3_gguf_runs_winogrande() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let mut c = crate::support::evaluator();
    crate::support::isolate_env(&mut c);
    let o = c
        .args(["run", "--model"])
        .arg(gemma3_model())
        .args([
            "--suite",
            "lm-eval-0.4",
            "--tasks",
            "winogrande",
            "--limit",
            "20",
        ])
        .args(["--evaluated-at", "2026-12-07T00:00:00Z", "--output"])
        .arg(&results)
        .env("LEADERBOARD_CACHE", tmp.path().join("cache"))
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    println!("{stderr}");
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("gguf gemma3"), "{stderr}");
    let file = files_under(&results)
        .into_iter()
        .find(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".parquet") && !n.ends_with(".details.parquet")
        })
        .expect("a results file");
    let runs = leaderboard_format::read_file(&results.join(file)).unwrap();
    let run = &runs[0];
    assert_eq!(run.architecture.as_deref(), Some("gemma3"));
    // Q4_K_M with a Q8_0 embedding table: 7.36 stored bits per weight.
    assert_eq!(run.precision, Precision::Int8);
    let s = run
        .scores
        .iter()
        .find(|s| s.task == "winogrande")
        .expect("a winogrande score");
    assert_eq!(s.n_samples, Some(20));
    // A share of the 20 documents (whether the numbers are right is model_llama_cpp's
    // subject: the same forward against llama.cpp).
    let k = s.value * 20.0;
    assert!((k - k.round()).abs() < 1e-9, "winogrande acc {}", s.value);
}
