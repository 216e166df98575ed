//! lm-evaluation-harness results files (0.3 and 0.4.x `results` JSON) → one
//! run of the results format; lighteval results in the v1 leaderboard's own
//! layout ([`import_lighteval`]) are converted to the same shape first.
//!
//! # Mapping
//!
//! | lm-eval task (0.3 / 0.4) | metric there | our task / metric |
//! |---|---|---|
//! | `arc_challenge` | `acc`, `acc_norm` (0.4: `acc,none`, …) | `arc_challenge` / same |
//! | `hellaswag` | `acc`, `acc_norm` | `hellaswag` / same |
//! | `hendrycksTest-<subject>` / `mmlu_<subject>` | `acc` | `mmlu_<subject>` / `acc` |
//! | (the 57 subjects) | | `mmlu` / `acc` = **unweighted mean of the 57** (v1's MMLU; lm-eval 0.4's `mmlu` group value is weighted by documents and is not used) |
//! | `truthfulqa_mc` (0.3) | `mc1`, `mc2` | `truthfulqa_mc` / `mc1`, `mc2` |
//! | `truthfulqa_mc1` / `truthfulqa_mc2` (0.4) | `acc` | `truthfulqa_mc` / `mc1` / `mc2` |
//! | `winogrande` | `acc` | `winogrande` / `acc` |
//! | `gsm8k` | 0.3: `acc`; 0.4: `exact_match,strict-match`, `…,flexible-extract` | `gsm8k` / `acc`; `exact_match_strict`, `exact_match_flexible` |
//!
//! Other tasks are not imported (their names are printed); a file set with
//! none of the six is refused, naming what it has. Stderr is kept where the
//! file has a number (`"N/A"` or missing: none); shots from 0.4's `n-shot` /
//! `configs[task].num_fewshot` or 0.3's `config.num_fewshot`; sample counts
//! from 0.4's `n-samples[task].effective` where present.
//!
//! **Suite**: 0.3 (the harness line v1 pinned) → `openllm-v1`; 0.4.x →
//! `lm-eval-0.4`. **Deviations** (the run is then shown as not comparable):
//! `num_fewshot:<task>:<k>` where a benchmark ran with other shots than the
//! leaderboard's, `limit:<n>` when the run had a limit, `n_samples:<task>:<n>`
//! when fewer documents were scored (MMLU: counted over its 57 subjects), `mmlu:partial` when not all 57 subjects are there.
//!
//! **Details**: with samples files (lm-eval 0.4's `--log_samples`, read by
//! [`samples`]) or lighteval 0.11 details Parquet ([`lighteval_details`]) the
//! run gets its per-document details file; they must be the results file's
//! documents (every scored task has rows; per task and metric the rows' mean is
//! the score, their count its `n_samples`), else nothing is written.
//!
//! **Identity**: the model id from `model_name` (0.4.3+) or `pretrained=` of
//! `config.model_args`, the commit from `config.model_sha`, the precision from
//! `config.model_dtype` or `dtype=`; flags supply what the files lack, and an
//! import is refused, saying which flag to pass, when neither does. Several
//! files (one per task, as lm-eval writes with `--output_path` per run) must name
//! one model. Files are untrusted: read up to [`MAX_FILE_BYTES`], nothing but
//! the numbers and the names above is copied (`config.model_args` can hold
//! tokens and paths; it is only parsed for `pretrained`, `dtype`, `revision`).

use anyhow::{bail, Context, Result};
use leaderboard_format::schema::{
    Benchmark, ModelType, Precision, Provenance, Run, Score, WeightType, MMLU_SUBJECTS,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

mod lighteval;
mod lighteval_details;
mod samples;
pub use lighteval::{import_lighteval, LIGHTEVAL_TOOL};

/// Largest results file read.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// `Provenance.tool` of imported lm-eval runs.
pub const TOOL: &str = "lm-evaluation-harness";

/// What the flags supply.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub model_id: Option<String>,
    pub revision: Option<String>,
    pub precision: Option<Precision>,
    pub model_type: Option<ModelType>,
    /// lm-eval samples files (`--log_samples`), or lighteval details Parquet
    /// files, of the same run → its details.
    pub samples: Vec<PathBuf>,
}

/// The imported run and what was left out.
#[derive(Debug, Clone)]
pub struct Imported {
    pub run: Run,
    /// Tasks of the files that are not among the six, sorted.
    pub skipped: Vec<String>,
    /// The run's details, from its samples files ([`samples`]); empty without them.
    pub details: Vec<leaderboard_format::details::DetailRow>,
}

struct File {
    path: PathBuf,
    json: Map<String, Value>,
    v04: bool,
    /// `Provenance.tool` and `tool_version`.
    tool: &'static str,
    version: String,
}

/// A JSON object file, bounded by [`MAX_FILE_BYTES`].
fn read_object(path: &Path, what: &str) -> Result<Map<String, Value>> {
    let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "{}: larger than {MAX_FILE_BYTES} bytes; expected {what}",
            path.display()
        );
    }
    let v: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not JSON; expected {what}", path.display()))?;
    let Value::Object(json) = v else {
        bail!("{}: expected {what} (a JSON object)", path.display());
    };
    Ok(json)
}

fn read(path: &Path) -> Result<File> {
    if samples::task_of(path).is_some() {
        bail!(
            "{}: an lm-eval samples file (samples_<task>_<time>.jsonl), not a results file; pass it after --samples, beside its run's results files",
            path.display()
        );
    }
    let json = read_object(path, "an lm-eval results file")?;
    let Some(Value::Object(results)) = json.get("results") else {
        bail!(
            "{}: no `results` object; expected an lm-eval results file (0.3 or 0.4.x)",
            path.display()
        );
    };
    let v04 = json.contains_key("n-shot")
        || json.contains_key("configs")
        || results
            .values()
            .filter_map(Value::as_object)
            .any(|m| m.keys().any(|k| k.contains(',')));
    let version = json
        .get("lm_eval_version")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            json.get("git_hash")
                .and_then(Value::as_str)
                .map(|h| format!("0.4 (git {h})"))
        })
        .unwrap_or_else(|| if v04 { "0.4" } else { "0.3" }.to_string());
    Ok(File {
        path: path.to_path_buf(),
        json,
        v04,
        tool: TOOL,
        version,
    })
}

/// `key=value` of lm-eval's `model_args` string.
fn model_arg(args: &str, key: &str) -> Option<String> {
    args.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

fn config<'a>(f: &'a File, key: &str) -> Option<&'a Value> {
    f.json.get("config").and_then(|c| c.get(key))
}

fn model_args(f: &File) -> String {
    config(f, "model_args")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// What the file says the model is (0.4.3+ `model_name`, else `pretrained=`).
fn model_name(f: &File) -> Option<String> {
    f.json
        .get("model_name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| model_arg(&model_args(f), "pretrained"))
}

fn precision_of(f: &File) -> Option<Precision> {
    let dtype = config(f, "model_dtype")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| model_arg(&model_args(f), "dtype"))?;
    match dtype.trim_start_matches("torch.") {
        "float16" | "half" => Some(Precision::Float16),
        "bfloat16" => Some(Precision::BFloat16),
        "float32" | "float" => Some(Precision::Float32),
        _ => None,
    }
}

fn revision_of(f: &File) -> Option<String> {
    config(f, "model_sha")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| model_arg(&model_args(f), "revision"))
        .filter(|s| leaderboard_format::ids::is_valid_revision(s))
}

/// The same answer from every file, or an error naming two that differ.
fn agree<T: PartialEq + std::fmt::Debug>(
    files: &[File],
    what: &str,
    get: impl Fn(&File) -> Option<T>,
) -> Result<Option<T>> {
    let mut found: Option<(T, &Path)> = None;
    for f in files {
        if let Some(v) = get(f) {
            match &found {
                Some((first, p)) if *first != v => bail!(
                    "{} says {what} {v:?} but {} says {first:?}; import one run at a time",
                    f.path.display(),
                    p.display()
                ),
                Some(_) => {}
                None => found = Some((v, &f.path)),
            }
        }
    }
    Ok(found.map(|(v, _)| v))
}

/// A metric's value: a number (0.4 keys `<metric>,<filter>`).
fn number(m: &Map<String, Value>, key: &str) -> Option<f64> {
    m.get(key).and_then(Value::as_f64).filter(|v| v.is_finite())
}

fn shots(f: &File, task: &str) -> Option<i32> {
    let n = if f.json.contains_key("n-shot") || f.json.contains_key("configs") {
        f.json
            .get("n-shot")
            .and_then(|n| n.get(task))
            .and_then(Value::as_i64)
            .or_else(|| {
                f.json
                    .get("configs")
                    .and_then(|c| c.get(task))
                    .and_then(|c| c.get("num_fewshot"))
                    .and_then(Value::as_i64)
            })
    } else {
        config(f, "num_fewshot").and_then(Value::as_i64)
    };
    n.and_then(|n| i32::try_from(n).ok())
}

fn samples(f: &File, task: &str) -> Option<i64> {
    f.json
        .get("n-samples")
        .and_then(|n| n.get(task))
        .and_then(|n| n.get("effective"))
        .and_then(Value::as_i64)
        .filter(|n| *n >= 1)
}

/// (our task, our metric, their metric key) for one lm-eval task.
fn mapping(task: &str, v04: bool) -> Option<(String, Vec<(&'static str, String)>)> {
    let key = |m: &str, filter: &str| {
        if v04 {
            format!("{m},{filter}")
        } else {
            m.to_string()
        }
    };
    let none = |m: &str| key(m, "none");
    let subject = task
        .strip_prefix("hendrycksTest-")
        .or_else(|| task.strip_prefix("mmlu_"))
        .filter(|s| MMLU_SUBJECTS.contains(s));
    if let Some(s) = subject {
        return Some((format!("mmlu_{s}"), vec![("acc", none("acc"))]));
    }
    Some(match (task, v04) {
        ("arc_challenge" | "hellaswag", _) => (
            task.to_string(),
            vec![("acc", none("acc")), ("acc_norm", none("acc_norm"))],
        ),
        ("winogrande", _) => (task.into(), vec![("acc", none("acc"))]),
        ("truthfulqa_mc", false) => (
            "truthfulqa_mc".into(),
            vec![("mc1", "mc1".into()), ("mc2", "mc2".into())],
        ),
        ("truthfulqa_mc1", true) => ("truthfulqa_mc".into(), vec![("mc1", none("acc"))]),
        ("truthfulqa_mc2", true) => ("truthfulqa_mc".into(), vec![("mc2", none("acc"))]),
        ("gsm8k", false) => ("gsm8k".into(), vec![("acc", "acc".into())]),
        ("gsm8k", true) => (
            "gsm8k".into(),
            vec![
                ("exact_match_strict", key("exact_match", "strict-match")),
                (
                    "exact_match_flexible",
                    key("exact_match", "flexible-extract"),
                ),
            ],
        ),
        _ => return None,
    })
}

/// The stderr key of a metric key (`acc` → `acc_stderr`, `acc,none` → `acc_stderr,none`).
fn stderr_key(key: &str) -> String {
    match key.split_once(',') {
        Some((m, f)) => format!("{m}_stderr,{f}"),
        None => format!("{key}_stderr"),
    }
}

/// Imports `paths` (results files of one model) as one run.
pub fn import(paths: &[PathBuf], opts: &Options) -> Result<Imported> {
    if paths.is_empty() {
        bail!("no files given; expected lm-eval results JSON files");
    }
    let files: Vec<File> = paths.iter().map(|p| read(p)).collect::<Result<_>>()?;
    let mut imported = import_files(files, opts)?;
    if !opts.samples.is_empty() {
        let mut kept = Vec::new();
        let mut skipped = BTreeSet::new();
        for p in &opts.samples {
            // The task is in the name: a file of another task is not read.
            match samples::task_of(p) {
                Some(task) if samples::our_task(&task).is_none() => {
                    skipped.insert(task);
                }
                _ => kept.push(samples::read(p)?),
            }
        }
        if kept.is_empty() {
            bail!(
                "{}: none of the samples files is for one of the leaderboard's six tasks (arc_challenge, hellaswag, mmlu_<subject>, truthfulqa_mc1/mc2, winogrande, gsm8k); they hold {}",
                opts.samples[0].display(),
                skipped.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        let rows = samples::rows(&kept)?;
        match_scores(&imported.run, &rows, &opts.samples[0])?;
        imported
            .skipped
            .extend(skipped.into_iter().map(|t| format!("{t} (samples)")));
        imported.details = rows;
    }
    Ok(imported)
}

/// The samples' rows must be the results file's documents: every task has
/// rows, and per task and metric the rows' mean is the score (within 1e-9)
/// and their count its `n_samples`.
fn match_scores(
    run: &Run,
    rows: &[leaderboard_format::details::DetailRow],
    first: &Path,
) -> Result<()> {
    let mut values: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    let mut docs: BTreeMap<&str, i64> = BTreeMap::new();
    for r in rows {
        *docs.entry(r.sample.task.as_str()).or_default() += 1;
        for (m, v) in &r.sample.metrics {
            values
                .entry((r.sample.task.as_str(), m.as_str()))
                .or_default()
                .push(*v);
        }
    }
    if let Some(task) = docs
        .keys()
        .find(|t| !run.scores.iter().any(|s| s.task == **t))
    {
        bail!(
            "{} …: samples for {task}, which the results file does not score",
            first.display()
        );
    }
    for s in run.scores.iter().filter(|s| s.task != "mmlu") {
        let Some(v) = values.get(&(s.task.as_str(), s.metric.as_str())) else {
            bail!(
                "{} …: no samples for {} {} of the results file; pass the samples files of every task",
                first.display(),
                s.task,
                s.metric
            );
        };
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        if (mean - s.value).abs() > 1e-9 {
            bail!(
                "{} …: the samples give {} {} = {mean} over {} documents but the results file says {}; expected the samples of this same run",
                first.display(),
                s.task,
                s.metric,
                v.len(),
                s.value
            );
        }
        if let Some(n) = s.n_samples.filter(|n| *n != v.len() as i64) {
            bail!(
                "{} …: {} documents of {} in the samples but the results file counts {n}",
                first.display(),
                v.len(),
                s.task
            );
        }
    }
    Ok(())
}

/// The run of `files` (lm-eval's shape; lighteval's converted to it).
fn import_files(files: Vec<File>, opts: &Options) -> Result<Imported> {
    let v04 = files[0].v04;
    if let Some(f) = files.iter().find(|f| f.v04 != v04) {
        bail!(
            "{} is an lm-eval {} file but {} is {}; import each harness version as its own run",
            f.path.display(),
            if f.v04 { "0.4" } else { "0.3" },
            files[0].path.display(),
            if v04 { "0.4" } else { "0.3" }
        );
    }
    let named = agree(&files, "the model", model_name)?;
    let model_id = match (&opts.model_id, named) {
        (Some(id), _) => id.clone(),
        (None, Some(n)) if n.matches('/').count() == 1 && !n.starts_with(['/', '.', '~']) => n,
        (None, Some(n)) => bail!(
            "{}: the file names the model only as {:?} (a local path or an id without an org); pass --model-id org/name",
            files[0].path.display(),
            leaderboard_format::ids::shorten(&n)
        ),
        (None, None) => bail!(
            "{}: the file does not name the model; pass --model-id org/name",
            files[0].path.display()
        ),
    };
    leaderboard_format::ids::check_model_id(&model_id)
        .map_err(|e| anyhow::anyhow!("model id: {e}"))?;
    if !model_id.contains('/') {
        bail!("model id {model_id:?}: expected org/name; pass --model-id org/name");
    }
    let revision = match (&opts.revision, agree(&files, "the commit", revision_of)?) {
        (Some(r), _) => r.clone(),
        (None, Some(r)) => r,
        (None, None) => bail!(
            "{}: the file does not say which commit of {model_id} was evaluated; pass --revision <40-hex commit sha>",
            files[0].path.display()
        ),
    };
    if !leaderboard_format::ids::is_valid_revision(&revision) {
        bail!("--revision {revision:?}: expected a 40-hex commit sha");
    }
    let precision = match (opts.precision, agree(&files, "the dtype", precision_of)?) {
        (Some(p), _) => p,
        (None, Some(p)) => p,
        (None, None) => bail!(
            "{}: the file does not say the dtype (or says `auto`); pass --precision float16|bfloat16|float32|8bit|4bit|GPTQ",
            files[0].path.display()
        ),
    };

    let mut scores: BTreeMap<(String, String), Score> = BTreeMap::new();
    let mut skipped = BTreeSet::new();
    let mut deviations = BTreeSet::new();
    for f in &files {
        if let Some(limit) = config(f, "limit").filter(|l| !l.is_null()) {
            deviations.insert(format!("limit:{limit}"));
        }
        let Some(Value::Object(results)) = f.json.get("results") else {
            continue;
        };
        for (task, m) in results {
            let Some(m) = m.as_object() else { continue };
            let Some((ours, metrics)) = mapping(task, f.v04) else {
                skipped.insert(task.clone());
                continue;
            };
            for (metric, key) in metrics {
                let Some(value) = number(m, &key) else {
                    continue;
                };
                if !(0.0..=1.0).contains(&value) {
                    bail!(
                        "{}: {task} {key} = {value}; expected a fraction in [0, 1]",
                        f.path.display()
                    );
                }
                let score = Score {
                    task: ours.clone(),
                    metric: metric.to_string(),
                    value,
                    stderr: number(m, &stderr_key(&key)).filter(|s| *s >= 0.0),
                    n_samples: samples(f, task),
                    num_fewshot: shots(f, task),
                };
                if scores
                    .insert((ours.clone(), metric.to_string()), score)
                    .is_some()
                {
                    bail!(
                        "{}: {task} {metric} appears in two files; import one run at a time",
                        f.path.display()
                    );
                }
            }
        }
    }
    let subjects: Vec<&Score> = MMLU_SUBJECTS
        .iter()
        .filter_map(|s| scores.get(&(format!("mmlu_{s}"), "acc".to_string())))
        .collect();
    let n_subjects = subjects.len();
    let mmlu = match n_subjects {
        0 => None,
        57 => Some(subject_mean(&subjects)),
        n => {
            deviations.insert(format!("mmlu:partial:{n}"));
            None
        }
    };
    if let Some(m) = mmlu {
        scores.insert(("mmlu".into(), "acc".into()), m);
    }
    let present: BTreeSet<&str> = scores.keys().map(|(t, _)| t.as_str()).collect();
    let any_benchmark = Benchmark::ALL
        .into_iter()
        .any(|b| present.contains(b.task()) || (b == Benchmark::Mmlu && n_subjects > 0));
    if !any_benchmark {
        bail!(
            "{}: none of the leaderboard's six tasks (arc_challenge, hellaswag, mmlu, truthfulqa, winogrande, gsm8k) is in the file(s); it has {}",
            files[0].path.display(),
            skipped.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    for s in scores.values() {
        let Some((b, n_docs)) = leaderboard_format::schema::task_facts(&s.task) else {
            continue;
        };
        if let Some(k) = s.num_fewshot.filter(|k| *k != b.num_fewshot()) {
            deviations.insert(format!("num_fewshot:{}:{k}", b.task()));
        }
        // MMLU's subjects are counted once, in `mmlu` (their sum), not 57 times.
        if let Some(n) = s
            .n_samples
            .filter(|n| *n != n_docs && !s.task.starts_with("mmlu_"))
        {
            deviations.insert(format!("n_samples:{}:{n}", s.task));
        }
    }

    let version = files[0].version.clone();
    let evaluated_at = files
        .iter()
        .filter_map(|f| f.json.get("date").and_then(Value::as_f64))
        .filter(|d| d.is_finite() && *d > 0.0 && *d < 1e11)
        .map(|d| d as i64)
        .max()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let params = files.iter().find_map(|f| {
        config(f, "model_num_parameters")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
    });
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let run = Run {
        model_id,
        revision: Some(revision),
        precision,
        precision_detail: None,
        weight_type: WeightType::Original,
        base_model: None,
        model_type: opts.model_type.unwrap_or(ModelType::Unknown),
        architecture: None,
        params_billions: params.map(|n| n as f64 / 1e9),
        params_truncated: false,
        license: None,
        is_merge: false,
        is_moe: false,
        available_on_hub: None,
        hub_likes: None,
        submitted_at: None,
        evaluated_at,
        weights_sha256: None,
        provenance: Provenance {
            tool: files[0].tool.to_string(),
            tool_version: Some(version),
            suite: if v04 { "lm-eval-0.4" } else { "openllm-v1" }.to_string(),
            source_dataset: Some(leaderboard_format::ids::shorten(&names.join(", "))),
            run_config: None,
            deviations: deviations.into_iter().collect(),
        },
        reported_average: None,
        scores: scores.into_values().collect(),
    };
    Ok(Imported {
        run,
        skipped: skipped.into_iter().collect(),
        details: Vec::new(),
    })
}

/// v1's MMLU: the unweighted mean of the 57 subjects; its stderr from the
/// subjects' (sqrt of the summed squares over 57), when all have one.
fn subject_mean(subjects: &[&Score]) -> Score {
    let n = subjects.len() as f64;
    let value = subjects.iter().map(|s| s.value).sum::<f64>() / n;
    let stderr = subjects
        .iter()
        .map(|s| s.stderr.map(|e| e * e))
        .sum::<Option<f64>>()
        .map(|ss| ss.sqrt() / n);
    let shots: BTreeSet<Option<i32>> = subjects.iter().map(|s| s.num_fewshot).collect();
    Score {
        task: "mmlu".into(),
        metric: "acc".into(),
        value,
        stderr,
        n_samples: subjects.iter().map(|s| s.n_samples).sum::<Option<i64>>(),
        num_fewshot: if shots.len() == 1 {
            shots.into_iter().next().flatten()
        } else {
            None
        },
    }
}

/// `results/<org>/<name>/<lm-eval|lighteval>_<suite>_<precision>_<commit prefix>.parquet`.
pub fn output_path(results: &Path, run: &Run) -> PathBuf {
    let (org, name) = run
        .model_id
        .split_once('/')
        .unwrap_or(("local", &run.model_id));
    let rev: String = run
        .revision
        .as_deref()
        .unwrap_or("unknown")
        .chars()
        .take(12)
        .collect();
    let tool = if run.provenance.tool == LIGHTEVAL_TOOL {
        "lighteval"
    } else {
        "lm-eval"
    };
    results.join(org).join(name).join(format!(
        "{tool}_{}_{}_{rev}.parquet",
        run.provenance.suite, run.precision
    ))
}
