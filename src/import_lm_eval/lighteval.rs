//! lighteval results files → the lm-eval shape [`super`] imports: the v1
//! leaderboard's own layout (`config_general`, results keyed
//! `harness|<task>|<shots>`) and lighteval 0.11's; `model_config` (which can
//! hold API keys) is never read.

use super::{import_files, read_object, File, Imported, Options};
use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// `Provenance.tool` of imported lighteval runs.
pub const LIGHTEVAL_TOOL: &str = "lighteval";

/// A lighteval task key `suite|task|shots` in lm-eval's terms: the v1
/// leaderboard's layout (`harness|arc:challenge|25`,
/// `harness|hendrycksTest-<subject>|5`, `harness|truthfulqa:mc|0`,
/// `harness|winogrande|5`, `harness|gsm8k|5`, `harness|hellaswag|10`) maps to
/// harness 0.3 task names; other suites' tasks keep their key (not imported).
pub(super) fn lighteval_task(key: &str) -> (String, Option<i64>) {
    let parts: Vec<&str> = key.split('|').collect();
    match parts.as_slice() {
        ["harness", task, shots] => {
            let task = match *task {
                "arc:challenge" => "arc_challenge".to_string(),
                "truthfulqa:mc" => "truthfulqa_mc".to_string(),
                t => t.to_string(),
            };
            (task, shots.parse().ok())
        }
        _ => (key.to_string(), None),
    }
}

fn read_lighteval(path: &Path) -> Result<File> {
    let json = read_object(path, "a lighteval results file")?;
    let general = json
        .get("config_general")
        .and_then(Value::as_object)
        .with_context(|| {
            format!(
                "{}: no `config_general`; expected a lighteval results file",
                path.display()
            )
        })?;
    let Some(Value::Object(results)) = json.get("results") else {
        bail!(
            "{}: no `results` object; expected a lighteval results file",
            path.display()
        );
    };
    let mut converted = Map::new();
    let mut shots = Map::new();
    for (key, m) in results.iter().filter(|(k, _)| k.as_str() != "all") {
        let (task, k) = lighteval_task(key);
        if let Some(k) = k {
            shots.insert(task.clone(), Value::from(k));
        }
        converted.insert(task, m.clone());
    }
    // Only the model's name, commit and dtype are read from `config_general`:
    // `model_config` (which can hold API keys) is never looked at.
    let text = |k: &str| {
        general
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut config = Map::new();
    config.insert(
        "model_args".into(),
        Value::from(format!("pretrained={}", text("model_name"))),
    );
    config.insert("model_sha".into(), Value::from(text("model_sha")));
    config.insert("model_dtype".into(), Value::from(text("model_dtype")));
    config.insert(
        "limit".into(),
        general.get("max_samples").cloned().unwrap_or(Value::Null),
    );
    let mut out = Map::new();
    out.insert("results".into(), Value::Object(converted));
    out.insert("n-shot".into(), Value::Object(shots));
    out.insert("config".into(), Value::Object(config));
    let sha = text("lighteval_sha");
    Ok(File {
        path: path.to_path_buf(),
        json: out,
        v04: false,
        tool: LIGHTEVAL_TOOL,
        version: if sha.is_empty() || sha == "?" {
            "unknown".to_string()
        } else {
            format!("git {}", leaderboard_format::ids::shorten(&sha))
        },
    })
}

/// Imports lighteval results files of one model as one run: the v1
/// leaderboard's own layout (`config_general` with `model_name`, `model_sha`,
/// `model_dtype`; results keyed `harness|<task>|<shots>`, harness 0.3 metric
/// names) maps like lm-eval 0.3 (suite `openllm-v1`); lighteval's own suites'
/// tasks are not the v1 tasks and are not imported. `model_config` is never read.
/// `opts.samples` are lighteval details Parquet files of the same run
/// ([`super::lighteval_details`]).
pub fn import_lighteval(paths: &[PathBuf], opts: &Options) -> Result<Imported> {
    if paths.is_empty() {
        bail!("no files given; expected lighteval results JSON files");
    }
    let files: Vec<File> = paths
        .iter()
        .map(|p| read_lighteval(p))
        .collect::<Result<_>>()?;
    let mut imported = import_files(files, opts)?;
    if !opts.samples.is_empty() {
        let (rows, skipped) = super::lighteval_details::rows(&opts.samples)?;
        super::match_scores(&imported.run, &rows, &opts.samples[0])?;
        imported
            .skipped
            .extend(skipped.into_iter().map(|t| format!("{t} (details)")));
        imported.details = rows;
    }
    Ok(imported)
}
