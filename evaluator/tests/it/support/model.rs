//! The test model's path, the reference outputs (`tests/fixtures`), small utilities.

use std::path::PathBuf;

use evaluator::model::CausalLm;
use serde_json::Value;

/// The SmolLM2-135M-Instruct Q4_1 GGUF: `$LEADERBOARD_TEST_MODEL`, else the cache of
/// `scripts/fetch-test-model.sh`. Panics with instructions when absent.
pub fn test_model() -> PathBuf {
    cached_model(
        "LEADERBOARD_TEST_MODEL",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "scripts/fetch-test-model.sh",
    )
}

/// Gemma 3 270M, Q4_K_M GGUF: `$LEADERBOARD_TEST_GEMMA3`, else the cache of
/// `scripts/fetch-test-models.sh gemma3`.
pub fn gemma3_model() -> PathBuf {
    cached_model(
        "LEADERBOARD_TEST_GEMMA3",
        "gemma-3-270m-Q4_K_M.gguf",
        "scripts/fetch-test-models.sh gemma3",
    )
}

/// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF: `$LEADERBOARD_TEST_QWEN25`, else the cache
/// of `scripts/fetch-test-models.sh qwen2.5-coder`.
pub fn qwen25_model() -> PathBuf {
    cached_model(
        "LEADERBOARD_TEST_QWEN25",
        "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf",
        "scripts/fetch-test-models.sh qwen2.5-coder",
    )
}

/// `$var`, else `file` in the cache (`$LEADERBOARD_CACHE`, else ~/.cache/leaderboard);
/// panics naming the script that fetches it when absent.
fn cached_model(var: &str, file: &str, script: &str) -> PathBuf {
    let path = match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = std::env::var_os("LEADERBOARD_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                        .join(".cache/leaderboard")
                });
            cache.join(file)
        }
    };
    assert!(
        path.is_file(),
        "test model {} is missing: run {script} (and set {var} to the path it prints)",
        path.display()
    );
    path
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Asserts that `leaderboard check` finds no problem in the results folder `dir`.
pub fn assert_results_check(dir: &std::path::Path) {
    let problems = leaderboard_format::check::check_dir(dir);
    assert!(
        problems.is_empty(),
        "leaderboard check found problems:\n{}",
        problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Largest absolute difference between two tensors of the same shape.
pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// The reference output `tests/fixtures/<name>`, parsed.
pub fn reference(name: &str) -> Value {
    let p = super::fixture(name);
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One reference text: token ids and per-token log-probabilities (first is None).
pub struct RefItem {
    pub text: String,
    pub token_ids: Vec<u32>,
    pub logprobs: Vec<Option<f64>>,
    pub sum_logprob: f64,
}

fn item(v: &Value, text: &str) -> RefItem {
    RefItem {
        text: text.to_string(),
        token_ids: v["token_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect(),
        logprobs: v["logprobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64())
            .collect(),
        sum_logprob: v["sum_logprob"].as_f64().unwrap(),
    }
}

/// The items of a reference file; with `prefix0`, the `with_prefix_token_0` variants.
pub fn items(file: &str, prefix0: bool) -> Vec<RefItem> {
    let r = reference(file);
    r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let text = it["text"].as_str().unwrap();
            if prefix0 {
                item(&it["with_prefix_token_0"], text)
            } else {
                item(it, text)
            }
        })
        .collect()
}

/// Per-token log-probabilities of `tokens` under `model` (index 0 has none), computed
/// from one forward pass over the whole sequence.
pub fn token_logprobs(model: &dyn CausalLm, tokens: &[u32]) -> Vec<f64> {
    let mut cache = model.new_cache();
    let logits = model
        .forward(&tokens[..tokens.len() - 1], &mut cache)
        .unwrap();
    evaluator::engine::score_logits(&logits, &tokens[1..])
        .unwrap()
        .token_logprobs
}

/// Max and mean of |a - b|.
pub fn abs_diff_stats(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    let max = d.iter().cloned().fold(0.0, f64::max);
    (max, d.iter().sum::<f64>() / d.len().max(1) as f64)
}

/// The site's `leaderboard` binary, built (or brought up to date) in this
/// test binary's target folder and profile, so tests can run it beside
/// `evaluator` without the evaluator depending on the site crate.
pub fn leaderboard_bin() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let evaluator = PathBuf::from(env!("CARGO_BIN_EXE_evaluator"));
    let profile_dir = evaluator.parent().expect("target/<profile>").to_path_buf();
    let target_dir = profile_dir.parent().expect("target").to_path_buf();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "leaderboard",
            "--bin",
            "leaderboard",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("CARGO_TARGET_DIR", &target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build -p leaderboard");
        assert!(status.success(), "cargo build -p leaderboard failed");
    });
    profile_dir.join(format!("leaderboard{}", std::env::consts::EXE_SUFFIX))
}
