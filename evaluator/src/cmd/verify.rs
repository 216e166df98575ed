//! `evaluator verify`: re-evaluates a seeded sample of a run's documents with the model
//! the run names and writes a verification record ([`leaderboard_format::verifications`]).
//!
//! The prompts are rebuilt from the run's recorded configuration (suite, tasks, shots,
//! limit, few-shot draws, HellaSwag fallback; kernel path, dtype and batch budget as
//! recorded) and the data folder given, which must hold the run's data (same hash); the
//! model must be the run's (same weights sha256). Per task, `--docs` documents of the details file are drawn by a seeded hash
//! (sha256 of `<seed>:<task>:<doc_id>`, smallest first: the same sample on any machine)
//! and evaluated together. A document agrees when its prompt hash, prediction, gold,
//! correctness and (GSM8K) generated text are equal to the details row's and each
//! log-likelihood is within the tolerance: 1e-3 nats on an f32 path, 5e-2 in f16/bf16 or
//! with quantized kernels (the sample is planned on its own, so batches and prefix
//! splits differ from the run's: rounding, not tokens, may differ). Besides, every score
//! of the results file must be the mean its details give (relative 1e-9), so an edited
//! score is found whatever the sample. A run without details, or without a recorded
//! configuration (an import), cannot be verified and says so.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use leaderboard_format::details::{self, DetailRow, SampleDetail};
use leaderboard_format::schema::{Run, Score};
use leaderboard_format::verifications::{
    self, Disagreement, Verification, MAX_DISAGREEMENTS, MAX_WHAT_CHARS,
    VERIFICATION_FORMAT_VERSION,
};
use sha2::{Digest, Sha256};

use crate::cmd::run::{prepare, RunArgs};
use crate::cmd::TaskArgs;
use crate::schedule::{answer_task, AnswerOptions, Backend};
use crate::tasks::spec::TaskSpec;

/// Re-evaluate a sample of a results file's documents and record whether they agree.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The results file to verify (its `….details.parquet` beside it), inside --results.
    pub results_file: PathBuf,
    /// The model the run names: a local .gguf file or Hugging Face folder, or a Hub id
    /// (as `evaluator run --model`).
    #[arg(long)]
    pub model: String,
    /// Hub revision of --model (default: the run's revision).
    #[arg(long)]
    pub revision: Option<String>,
    /// Documents drawn per task (fewer when a task has fewer): 20 is 120 documents for the
    /// six tasks, minutes for a 7B model on one GPU.
    #[arg(long, default_value_t = 20)]
    pub docs: usize,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Benchmark data folder (as `evaluator run --data`).
    #[arg(long, value_name = "DIR|hub")]
    pub data: Option<PathBuf>,
    /// cpu, cuda[:N] or metal[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The results folder: the record goes to `<results>/verifications/<file>.json`.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Timestamp recorded as `verified_at` (RFC 3339). Default: SOURCE_DATE_EPOCH when
    /// set, else now.
    #[arg(long)]
    pub verified_at: Option<String>,
}

/// Runs the command: writes the record; fails (after writing it) when the run does not
/// verify.
pub fn run(args: &VerifyArgs) -> Result<()> {
    let (path, v) = verify(args)?;
    for d in v.disagreements.iter().take(20) {
        let doc = d.doc_id.map(|i| format!(" doc {i}")).unwrap_or_default();
        eprintln!("disagrees: {}{doc}: {}", d.task, d.what);
    }
    println!("{}", v.summary());
    println!("wrote {}", path.display());
    if !v.verified() {
        bail!("{}: {}", args.results_file.display(), v.summary());
    }
    Ok(())
}

/// Verifies and writes the record; returns its path and the record.
pub fn verify(args: &VerifyArgs) -> Result<(PathBuf, Verification)> {
    let verified_at =
        leaderboard_format::time::given_or_now("--verified-at", args.verified_at.as_deref())
            .map_err(|e| anyhow::anyhow!(e))?;
    let rel = args
        .results_file
        .strip_prefix(&args.results)
        .with_context(|| {
            format!(
                "{} is not inside the results folder {} (--results)",
                args.results_file.display(),
                args.results.display()
            )
        })?
        .to_path_buf();
    let mut runs = leaderboard_format::read_file(&args.results_file)?;
    if runs.len() != 1 {
        bail!(
            "{}: {} runs; verify takes a results file of one run",
            args.results_file.display(),
            runs.len()
        );
    }
    let run = runs.remove(0);
    let details_path = details::details_path(&args.results_file);
    if !details_path.is_file() {
        bail!(
            "{}: no details file ({}): a run without per-document details cannot be verified",
            args.results_file.display(),
            details_path.display()
        );
    }
    let rows = details::read_rows(&details_path)?;
    let cfg = recorded_config(&run).with_context(|| {
        format!(
            "{}: only runs of this evaluator (with a recorded run_config) can be verified",
            args.results_file.display()
        )
    })?;
    let specs = crate::cmd::merge::tasks_of(&run)?;

    let run_args = run_args(args, &run, &cfg, &specs)?;
    let p = prepare(&run_args)?;
    if Some(&p.config.model.weights_sha256) != run.weights_sha256.as_ref() {
        bail!(
            "the weights of {} (sha256 {}) are not the run's ({}): verify with the model the run names",
            args.model,
            p.config.model.weights_sha256,
            run.weights_sha256.as_deref().unwrap_or("not recorded")
        );
    }
    // The same documents: the data the run read (local files by their hash, or the Hub).
    let ours = serde_json::to_value(&p.config.data).expect("a DataConfig serializes");
    let theirs = &cfg["data"];
    if ours["source"] != theirs["source"] || ours["sha256"] != theirs["sha256"] {
        bail!(
            "the benchmark data given ({}) is not the data the run read ({}): pass --data \
             with the run's benchmark files",
            ours,
            theirs
        );
    }
    let tolerance = if p.config.compute.dtype == "f32"
        || (p.config.compute.dtype == "stored" && p.config.model.precision == "float32")
    {
        if matches!(p.config.compute.kernels, crate::model::Kernels::Quantized) {
            5e-2
        } else {
            1e-3
        }
    } else {
        5e-2
    };
    let build = run_args.task.build_options();
    let be = Backend {
        model: p.model.as_ref(),
        tok: &p.tok,
        suite: run_args.task.suite,
        opts: p.opts,
    };
    let mut disagreements = Vec::new();
    let (mut documents, mut agreeing) = (0u64, 0u64);
    for spec in &specs {
        let mine: Vec<&DetailRow> = rows.iter().filter(|r| spec.owns(&r.sample.task)).collect();
        let sample = draw(&mine, args.docs, args.seed);
        let mut tr = p.build_task(spec, &build)?;
        tr.docs
            .retain(|d| sample.contains(&(d.task.as_str(), d.doc_id)));
        eprintln!(
            "{}: re-evaluating {} of {} documents",
            spec.id,
            tr.docs.len(),
            mine.len()
        );
        let answered = answer_task(
            &be,
            spec.id,
            &tr.docs,
            None,
            &AnswerOptions {
                batch_tokens: p.batch_tokens,
                ..AnswerOptions::default()
            },
        )?;
        let fresh = crate::tasks::score(&tr, &answered.responses)?;
        for (task, doc_id) in &sample {
            documents += 1;
            let recorded = mine
                .iter()
                .find(|r| r.sample.task == *task && r.sample.doc_id == *doc_id)
                .expect("sampled from these rows");
            let what = match fresh
                .details
                .iter()
                .find(|d| d.task == *task && d.doc_id == *doc_id)
            {
                None => Some(
                    "the document is not among the run's documents (its prompts cannot be rebuilt)"
                        .to_string(),
                ),
                Some(now) => compare(&recorded.sample, now, tolerance),
            };
            match what {
                None => agreeing += 1,
                Some(w) => disagreements.push(Disagreement {
                    task: task.to_string(),
                    doc_id: Some(*doc_id as u64),
                    what: truncate(&w),
                }),
            }
        }
    }
    let mismatched = scores_against_details(&run, &specs, &rows);
    let scores_match_details = mismatched.is_empty();
    disagreements.extend(mismatched);
    disagreements.truncate(MAX_DISAGREEMENTS);
    let v = Verification {
        format_version: VERIFICATION_FORMAT_VERSION,
        results_file: rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        results_sha256: verifications::file_sha256(&args.results_file)?,
        details_sha256: verifications::file_sha256(&details_path)?,
        model_source: model_source(&args.model),
        weights_sha256: p.config.model.weights_sha256.clone(),
        evaluator_version: p.config.evaluator.tool_version(),
        verified_at,
        seed: args.seed,
        docs_per_task: args.docs as u64,
        tolerance,
        documents,
        agreeing,
        scores_match_details,
        disagreements,
    };
    let out = args.results.join(verifications::record_path(&rel));
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    verifications::write_record(&out, &v)?;
    Ok((out, v))
}

/// The recorded run configuration, as JSON.
fn recorded_config(run: &Run) -> Result<serde_json::Value> {
    let text = run
        .provenance
        .run_config
        .as_deref()
        .context("no run_config recorded")?;
    serde_json::from_str(text).context("run_config is not JSON")
}

/// `evaluator run`'s arguments that rebuild the run's prompts and computation.
fn run_args(
    args: &VerifyArgs,
    run: &Run,
    cfg: &serde_json::Value,
    specs: &[&'static TaskSpec],
) -> Result<RunArgs> {
    let t = &cfg["tasks"];
    let c = &cfg["compute"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let number = |v: &serde_json::Value| v.as_u64().map(|n| n as usize);
    fn bad(what: &'static str) -> impl Fn(String) -> anyhow::Error {
        move |e| anyhow::anyhow!("run_config {what}: {e}")
    }
    let suite = text(&t["suite"]).context("run_config has no tasks.suite")?;
    let draws = text(&t["fewshot_draws"]).unwrap_or_else(|| "standalone".into());
    let task = TaskArgs {
        suite: suite.parse().map_err(bad("tasks.suite"))?,
        num_fewshot: number(&t["num_fewshot"]),
        limit: number(&t["limit"]),
        data: args.data.clone(),
        hellaswag_fewshot_fallback: text(&t["hellaswag_fewshot_fallback"])
            .map(|s| s.parse().map_err(bad("tasks.hellaswag_fewshot_fallback")))
            .transpose()?,
        fewshot_draws: draws.parse().map_err(bad("tasks.fewshot_draws"))?,
    };
    let dtype = text(&c["dtype"]).filter(|d| d != "stored");
    // A GGUF run records f32 compute whatever its kernels; only one that recorded
    // float32 precision was asked for `--dtype f32`.
    let recorded_gguf_f32 = cfg["model"]["format"] == "gguf"
        && run.precision != leaderboard_format::schema::Precision::Float32;
    Ok(RunArgs {
        model: args.model.clone(),
        revision: args.revision.clone().or_else(|| run.revision.clone()),
        model_id: Some(run.model_id.clone()),
        task,
        tasks: specs.iter().map(|s| s.id).collect::<Vec<_>>().join(","),
        device: args.device.clone(),
        dtype: if recorded_gguf_f32 { None } else { dtype },
        kernels: text(&c["kernels"])
            .map(|k| <crate::model::Kernels as clap::ValueEnum>::from_str(&k, false))
            .transpose()
            .map_err(bad("compute.kernels"))?,
        batch_tokens: number(&c["batch_tokens"]),
        tokenizer: None,
        model_type: run.model_type,
        license: None,
        hub_likes: None,
        merge: false,
        moe: false,
        output: args.results.clone(),
        submitted_at: None,
        evaluated_at: None,
        shard: None,
    })
}

/// `k` of `rows` (one task's), the smallest sha256 of `<seed>:<task>:<doc_id>` first,
/// as (task, doc_id) in (task, doc_id) order.
fn draw<'a>(rows: &[&'a DetailRow], k: usize, seed: u64) -> Vec<(&'a str, usize)> {
    let mut keyed: Vec<([u8; 32], &str, usize)> = rows
        .iter()
        .map(|r| {
            let h = Sha256::digest(format!("{seed}:{}:{}", r.sample.task, r.sample.doc_id));
            (h.into(), r.sample.task.as_str(), r.sample.doc_id)
        })
        .collect();
    keyed.sort();
    let mut out: Vec<(&str, usize)> = keyed.into_iter().take(k).map(|(_, t, d)| (t, d)).collect();
    out.sort();
    out
}

/// What differs between a recorded details row and the same document evaluated now.
fn compare(recorded: &SampleDetail, now: &SampleDetail, tol: f64) -> Option<String> {
    if recorded.prompt_sha256 != now.prompt_sha256 {
        return Some("the prompt differs (prompt_sha256)".into());
    }
    if recorded.loglikelihoods.len() != now.loglikelihoods.len() {
        return Some(format!(
            "{} log-likelihoods recorded, {} requests now",
            recorded.loglikelihoods.len(),
            now.loglikelihoods.len()
        ));
    }
    for (i, (a, b)) in recorded
        .loglikelihoods
        .iter()
        .zip(&now.loglikelihoods)
        .enumerate()
    {
        // NaN never agrees.
        let within = (a - b).abs() <= tol;
        if !within {
            return Some(format!(
                "log-likelihood of request {i}: recorded {a:.6}, now {b:.6} (tolerance {tol})"
            ));
        }
    }
    for (field, a, b) in [
        ("prediction", &recorded.prediction, &now.prediction),
        ("gold", &recorded.gold, &now.gold),
    ] {
        if a != b {
            return Some(format!("{field}: recorded {a:?}, now {b:?}"));
        }
    }
    if recorded.correct != now.correct {
        return Some(format!(
            "correct: recorded {}, now {}",
            recorded.correct, now.correct
        ));
    }
    if recorded.generated != now.generated {
        return Some("the generated text differs".into());
    }
    None
}

/// The scores of `run` that are not the means its details give (per task, from the
/// rows in (task, doc_id) order; relative tolerance 1e-9, since the run added them in
/// evaluation order).
fn scores_against_details(
    run: &Run,
    specs: &[&'static TaskSpec],
    rows: &[DetailRow],
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let mut expected: Vec<Score> = Vec::new();
    for spec in specs {
        let samples: Vec<SampleDetail> = rows
            .iter()
            .filter(|r| spec.owns(&r.sample.task))
            .map(|r| r.sample.clone())
            .collect();
        let shots = run
            .scores
            .iter()
            .find(|s| spec.owns(&s.task))
            .and_then(|s| s.num_fewshot)
            .unwrap_or(0) as usize;
        expected.extend(crate::tasks::scoring::aggregate(spec, shots, &samples));
    }
    for s in &run.scores {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12);
        let what = match expected
            .iter()
            .find(|e| e.task == s.task && e.metric == s.metric)
        {
            None => Some(format!("{} {}: no details give it", s.task, s.metric)),
            Some(e) if !close(e.value, s.value) => Some(format!(
                "{} {} = {} in the results file, {} from the details",
                s.task, s.metric, s.value, e.value
            )),
            Some(e) if e.n_samples != s.n_samples => Some(format!(
                "{} {}: {:?} samples in the results file, {:?} in the details",
                s.task, s.metric, s.n_samples, e.n_samples
            )),
            Some(_) => None,
        };
        if let Some(w) = what {
            out.push(Disagreement {
                task: s.task.clone(),
                doc_id: None,
                what: truncate(&w),
            });
        }
    }
    out
}

/// What `--model` names, without local folders (a path's file or folder name).
fn model_source(model: &str) -> String {
    let p = Path::new(model);
    if p.exists() {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| model.to_string())
    } else {
        model.to_string()
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(MAX_WHAT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_seeded_and_bounded() {
        let rows: Vec<DetailRow> = (0..50)
            .map(|i| DetailRow {
                sample: SampleDetail {
                    task: "winogrande".into(),
                    doc_id: i,
                    prompt_sha256: String::new(),
                    loglikelihoods: vec![],
                    prediction: String::new(),
                    gold: String::new(),
                    correct: false,
                    generated: None,
                    metrics: vec![],
                },
                is_greedy: vec![],
            })
            .collect();
        let refs: Vec<&DetailRow> = rows.iter().collect();
        let a = draw(&refs, 10, 0);
        assert_eq!(a.len(), 10);
        assert_eq!(a, draw(&refs, 10, 0));
        assert_ne!(a, draw(&refs, 10, 1));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(draw(&refs, 80, 0).len(), 50);
    }
}
