//! The six leaderboard tasks: from dataset records to [`DocRequests`] (exact
//! harness prompts, few-shot draws and evaluation order per [`Suite`]), and from
//! a backend's [`Response`]s back to metric values, [`Score`]s and
//! [`SampleDetail`]s. Nothing here depends on a model.
//!
//! Entry points: [`build`] and [`score`]. Prompt assembly (spec §1):
//! `DESCRIPTION + Σ (TEXT(f) + " " + TARGET(f) + "\n\n") + TEXT(doc)`.

pub mod arc;
pub mod gsm8k;
pub mod hellaswag;
pub mod mmlu;
pub mod truthfulqa;
pub mod winogrande;

use crate::data::{DataError, DataSource, Records};
use crate::metrics;
use crate::random::PyRandom;
use crate::requests::{DocRequests, Request, Response, SampleDetail, Scoring};
use crate::suite::{DrawMode, Suite};
use leaderboard_format::schema::{Benchmark, Score};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;

/// Separator between few-shot examples and before the evaluated doc.
pub const FEWSHOT_DELIM: &str = "\n\n";
/// Separator between an example's text and its target.
pub const TARGET_DELIM: &str = " ";

/// A replacement few-shot pool for HellaSwag when its train split is absent:
/// the two harness configurations people use in that case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FewshotFallback {
    /// Draw k+1 from the validation split, then drop the evaluated doc:
    /// lm-eval's behaviour when `training_split` is null and no
    /// `fewshot_split` is set (the few-shot docs fall back to the validation
    /// docs and `fewshot_split == test_split`).
    Validation,
    /// Draw k from the validation split, keeping the evaluated doc if drawn:
    /// a harness config with `fewshot_split: validation` (and `test_split`
    /// null), where `fewshot_split != test_split`.
    ValidationSplit,
}

impl FewshotFallback {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FewshotFallback::Validation => "validation",
            FewshotFallback::ValidationSplit => "validation-split",
        }
    }

    /// The `Provenance.deviations` entry recording the fallback.
    pub fn deviation(self) -> String {
        format!("hellaswag-fewshot-fallback:{}", self.name())
    }
}

impl FromStr for FewshotFallback {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "validation" => Ok(FewshotFallback::Validation),
            "validation-split" => Ok(FewshotFallback::ValidationSplit),
            _ => Err(format!(
                "expected `validation` or `validation-split`, got {s:?}"
            )),
        }
    }
}

impl fmt::Display for FewshotFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to build a task's requests.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub suite: Suite,
    /// None: the leaderboard's count ([`Benchmark::num_fewshot`]).
    pub num_fewshot: Option<usize>,
    /// Evaluate only the first N docs (OLD: of the shuffled order).
    pub limit: Option<usize>,
    /// NEW only: standalone task (k+1 draws for hellaswag/winogrande) or `openllm` group.
    pub draw_mode: DrawMode,
    /// Opt-in replacement pool when HellaSwag's train split is missing.
    pub hellaswag_fallback: Option<FewshotFallback>,
}

impl BuildOptions {
    pub fn new(suite: Suite) -> BuildOptions {
        BuildOptions {
            suite,
            num_fewshot: None,
            limit: None,
            draw_mode: DrawMode::default(),
            hellaswag_fallback: None,
        }
    }
}

/// Why a task could not be built or scored.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{task}: {message}")]
    Config { task: String, message: String },
    #[error("{task} doc {doc_id}: {message}")]
    Responses {
        task: String,
        doc_id: usize,
        message: String,
    },
}

/// A task's requests, in evaluation order.
#[derive(Debug, Clone)]
pub struct TaskRequests {
    pub benchmark: Benchmark,
    pub suite: Suite,
    pub num_fewshot: usize,
    /// In evaluation order (OLD: shuffled; NEW: dataset order). MMLU: subject
    /// after subject, each in its own evaluation order.
    pub docs: Vec<DocRequests>,
    /// Departures from the suite (e.g. the HellaSwag fallback pool).
    pub deviations: Vec<String>,
}

/// Aggregated scores and per-document details of one task.
#[derive(Debug, Clone)]
pub struct TaskResults {
    pub scores: Vec<Score>,
    pub details: Vec<SampleDetail>,
}

/// Build `benchmark`'s requests from `src`.
pub fn build(
    benchmark: Benchmark,
    src: &dyn DataSource,
    opts: &BuildOptions,
) -> Result<TaskRequests, TaskError> {
    match benchmark {
        Benchmark::Arc => arc::build(src, opts),
        Benchmark::HellaSwag => hellaswag::build(src, opts),
        Benchmark::Mmlu => mmlu::build(src, opts),
        Benchmark::TruthfulQa => truthfulqa::build(src, opts),
        Benchmark::Winogrande => winogrande::build(src, opts),
        Benchmark::Gsm8k => gsm8k::build(src, opts),
    }
}

/// Parse a task id (`arc_challenge`, …) into its benchmark.
pub fn parse_task(s: &str) -> Result<Benchmark, String> {
    Benchmark::from_task(s).ok_or_else(|| {
        let all: Vec<&str> = Benchmark::ALL.iter().map(|b| b.task()).collect();
        format!("expected a task, one of {}; got {s:?}", all.join(", "))
    })
}

// ---------------------------------------------------------------- helpers

/// Load a split, check its record count, parse its records.
pub(crate) fn load<T: serde::de::DeserializeOwned>(
    src: &dyn DataSource,
    task: &str,
    split: &str,
    hint: &str,
) -> Result<(Records, Vec<T>), DataError> {
    let records = src
        .records(task, split)?
        .ok_or_else(|| DataError::Missing {
            task: task.to_string(),
            split: split.to_string(),
            looked_for: format!("{task}/{split}.jsonl[.gz] in {}", src.describe()),
            hint: hint.to_string(),
        })?;
    if let Some(n) = crate::data::expected_count(task, split) {
        records.expect_len(n)?;
    }
    let parsed = records.parse()?;
    Ok((records, parsed))
}

/// The evaluation order and few-shot pool indices for a task whose few-shot
/// examples are drawn at random (spec §2.2).
///
/// * `n_eval`: size of the evaluation split; `pool_len`: size of the pool.
/// * `draw`: how many to draw per doc (k, or k+1 when the harness then drops
///   the evaluated doc); `same(doc, pool_idx)` says whether a pool doc equals
///   the evaluated doc (only consulted when `draw > k`).
///
/// Returns `(doc_id, fewshot pool indices)` in evaluation order.
pub fn plan_random(
    suite: Suite,
    n_eval: usize,
    limit: Option<usize>,
    pool_len: usize,
    k: usize,
    draw: usize,
    same: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, Vec<usize>)> {
    let mut rnd = PyRandom::new(suite.seed());
    let order = eval_order(suite, n_eval, limit, &mut rnd);
    order
        .into_iter()
        .map(|doc| {
            if k == 0 {
                return (doc, Vec::new());
            }
            let drawn = rnd.sample_indices(pool_len, draw);
            let few: Vec<usize> = if draw > k {
                drawn
                    .into_iter()
                    .filter(|&p| !same(doc, p))
                    .take(k)
                    .collect()
            } else {
                drawn
            };
            (doc, few)
        })
        .collect()
}

/// Evaluation order: OLD shuffles with the task's RNG, then `--limit` keeps the
/// first N; NEW keeps dataset order.
pub fn eval_order(
    suite: Suite,
    n_eval: usize,
    limit: Option<usize>,
    rnd: &mut PyRandom,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n_eval).collect();
    if suite.shuffles_docs() {
        rnd.shuffle(&mut order);
    }
    if let Some(l) = limit {
        order.truncate(l);
    }
    order
}

/// `description + Σ(example + "\n\n") + text`.
pub fn assemble(description: &str, examples: &[String], text: &str) -> String {
    let mut s = String::with_capacity(
        description.len() + text.len() + examples.iter().map(|e| e.len() + 2).sum::<usize>(),
    );
    s.push_str(description);
    for e in examples {
        s.push_str(e);
        s.push_str(FEWSHOT_DELIM);
    }
    s.push_str(text);
    s
}

/// Log-likelihood requests `(prompt, " " + choice)` for each choice.
pub fn choice_requests(prompt: &str, choices: &[String]) -> Vec<Request> {
    let context: std::sync::Arc<str> = prompt.into();
    choices
        .iter()
        .map(|c| Request::LogLikelihood {
            context: context.clone(),
            continuation: format!("{TARGET_DELIM}{c}"),
        })
        .collect()
}

/// Accept an integer or a string holding one (HF stores some labels as strings).
pub fn de_int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(i64),
        Str(String),
    }
    match IntOrString::deserialize(d)? {
        IntOrString::Int(i) => Ok(i),
        IntOrString::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, got {s:?}"))),
    }
}

// ---------------------------------------------------------------- scoring

/// Metric values of one document from its responses, in METRICS order, with
/// the prediction, the gold and whether it counts as correct.
struct DocScore {
    metrics: Vec<(&'static str, f64)>,
    prediction: String,
    gold: String,
    correct: bool,
    loglikelihoods: Vec<f64>,
    generated: Option<String>,
}

fn doc_error(d: &DocRequests, message: impl Into<String>) -> TaskError {
    TaskError::Responses {
        task: d.task.clone(),
        doc_id: d.doc_id,
        message: message.into(),
    }
}

fn loglikelihoods(d: &DocRequests, resp: &[Response]) -> Result<Vec<f64>, TaskError> {
    resp.iter()
        .map(|r| match r {
            Response::LogLikelihood { logprob, .. } => Ok(*logprob),
            Response::Generate { .. } => Err(doc_error(
                d,
                "expected a log-likelihood response, got a generation",
            )),
        })
        .collect()
}

fn score_doc(suite: Suite, d: &DocRequests, resp: &[Response]) -> Result<DocScore, TaskError> {
    if resp.len() != d.requests.len() {
        return Err(doc_error(
            d,
            format!("{} requests but {} responses", d.requests.len(), resp.len()),
        ));
    }
    Ok(match &d.scoring {
        Scoring::MultipleChoice { gold, choice_lens } => {
            let lls = loglikelihoods(d, resp)?;
            let acc = metrics::acc(&lls, *gold);
            let pred_norm = metrics::acc_norm_pred(&lls, choice_lens);
            let acc_norm = if pred_norm == *gold { 1.0 } else { 0.0 };
            let headline_norm = d.task == "arc_challenge" || d.task == "hellaswag";
            DocScore {
                metrics: if headline_norm {
                    vec![("acc", acc), ("acc_norm", acc_norm)]
                } else {
                    vec![("acc", acc)]
                },
                prediction: if headline_norm {
                    pred_norm.to_string()
                } else {
                    metrics::argmax(&lls).to_string()
                },
                gold: gold.to_string(),
                correct: if headline_norm {
                    acc_norm == 1.0
                } else {
                    acc == 1.0
                },
                loglikelihoods: lls,
                generated: None,
            }
        }
        Scoring::Partial { gold } => {
            let lls = loglikelihoods(d, resp)?;
            let acc = metrics::acc(&lls, *gold);
            DocScore {
                metrics: vec![("acc", acc)],
                prediction: metrics::argmax(&lls).to_string(),
                gold: gold.to_string(),
                correct: acc == 1.0,
                loglikelihoods: lls,
                generated: None,
            }
        }
        Scoring::TruthfulQa {
            mc1_count,
            mc2_labels,
        } => {
            let lls = loglikelihoods(d, resp)?;
            if lls.len() != mc1_count + mc2_labels.len() {
                return Err(doc_error(
                    d,
                    "response count does not match the mc1/mc2 choices",
                ));
            }
            let (l1, l2) = lls.split_at(*mc1_count);
            let mc2 = match suite {
                Suite::OpenLlmV1 => metrics::mc2_old(l2, mc2_labels),
                Suite::LmEval04 => metrics::mc2_new(l2, mc2_labels),
            };
            let mut m = Vec::new();
            let (prediction, correct) = if *mc1_count > 0 {
                let mc1 = metrics::mc1(l1);
                m.push(("mc1", mc1));
                (metrics::argmax(l1).to_string(), mc1 == 1.0)
            } else {
                (metrics::argmax(l2).to_string(), mc2 > 0.5)
            };
            m.push(("mc2", mc2));
            DocScore {
                metrics: m,
                prediction,
                gold: "0".to_string(),
                correct,
                loglikelihoods: lls,
                generated: None,
            }
        }
        Scoring::Gsm8k { answer } => {
            let text = match &resp[0] {
                Response::Generate { text } => text.clone(),
                Response::LogLikelihood { .. } => {
                    return Err(doc_error(
                        d,
                        "expected a generation response, got a log-likelihood",
                    ))
                }
            };
            match suite {
                Suite::OpenLlmV1 => {
                    let acc = metrics::gsm8k_old_acc(&text, answer);
                    DocScore {
                        metrics: vec![("acc", acc)],
                        prediction: metrics::gsm8k_old_extract(&text),
                        gold: metrics::gsm8k_old_extract(answer),
                        correct: acc == 1.0,
                        loglikelihoods: Vec::new(),
                        generated: Some(text),
                    }
                }
                Suite::LmEval04 => {
                    let strict = metrics::gsm8k_strict(&text);
                    let flex = metrics::gsm8k_flexible(&text);
                    let s = metrics::gsm8k_exact_match(&strict, answer);
                    let f = metrics::gsm8k_exact_match(&flex, answer);
                    DocScore {
                        metrics: vec![("exact_match_strict", s), ("exact_match_flexible", f)],
                        prediction: strict,
                        gold: metrics::gsm8k_normalize(answer),
                        correct: s == 1.0,
                        loglikelihoods: Vec::new(),
                        generated: Some(text),
                    }
                }
            }
        }
    })
}

/// Turn the responses (one `Vec<Response>` per doc, in `tr.docs` order) into
/// scores (per task and metric; MMLU also per subject plus the macro mean
/// `mmlu`) and per-document details.
pub fn score(tr: &TaskRequests, responses: &[Vec<Response>]) -> Result<TaskResults, TaskError> {
    if responses.len() != tr.docs.len() {
        return Err(TaskError::Config {
            task: tr.benchmark.task().to_string(),
            message: format!(
                "{} documents but {} response lists",
                tr.docs.len(),
                responses.len()
            ),
        });
    }
    // (task, metric) -> values in evaluation order; keep first-seen order.
    let mut groups: Vec<(String, &'static str, Vec<f64>)> = Vec::new();
    let mut details = Vec::with_capacity(tr.docs.len());
    for (d, resp) in tr.docs.iter().zip(responses) {
        let ds = score_doc(tr.suite, d, resp)?;
        for (m, v) in &ds.metrics {
            match groups.iter_mut().find(|g| g.0 == d.task && g.1 == *m) {
                Some(g) => g.2.push(*v),
                None => groups.push((d.task.clone(), m, vec![*v])),
            }
        }
        details.push(SampleDetail {
            task: d.task.clone(),
            doc_id: d.doc_id,
            prompt_sha256: d.prompt_sha256(),
            loglikelihoods: ds.loglikelihoods,
            prediction: ds.prediction,
            gold: ds.gold,
            correct: ds.correct,
            generated: ds.generated,
            metrics: ds
                .metrics
                .iter()
                .map(|(m, v)| (m.to_string(), *v))
                .collect(),
        });
    }
    let mut scores: Vec<Score> = groups
        .iter()
        .map(|(t, m, v)| metrics::score(t, m, v, tr.num_fewshot))
        .collect();
    if tr.benchmark == Benchmark::Mmlu {
        let subjects: Vec<Score> = scores
            .iter()
            .filter(|s| s.metric == "acc")
            .cloned()
            .collect();
        scores.push(metrics::mmlu_macro(&subjects, tr.num_fewshot));
    }
    Ok(TaskResults { scores, details })
}
