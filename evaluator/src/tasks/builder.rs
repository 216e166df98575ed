//! The shared request builder: load a task's evaluation split and, when k > 0,
//! its few-shot pool; plan the evaluation order and the draws; assemble each
//! prompt; let the task's document type make its requests.
//!
//! [`build_sampled`] is the whole skeleton for tasks with random draws
//! ([`Fewshot::Random`]); MMLU (first-n per subject) and TruthfulQA (0-shot) use
//! its pieces ([`load`], [`eval_order`], [`doc_requests`]). [`McDoc`] is the
//! multiple-choice document ARC, HellaSwag and MMLU share.
//!
//! Prompt assembly (spec §1):
//! `DESCRIPTION + Σ (TEXT(f) + " " + TARGET(f) + "\n\n") + TEXT(doc)`.

use super::spec::{Fewshot, TaskSpec};
use super::FewshotFallback;
use super::{BuildOptions, TaskError, TaskRequests};
use crate::data::{DataError, DataSource, Records};
use crate::pystr;
use crate::random::PyRandom;
use crate::requests::{DocRequests, Request, Scoring};
use crate::suite::{DrawMode, Suite};
use serde::de::DeserializeOwned;

/// Separator between few-shot examples and before the evaluated doc.
pub const FEWSHOT_DELIM: &str = "\n\n";
/// Separator between an example's text and its target.
pub const TARGET_DELIM: &str = " ";

/// A processed document to evaluate.
pub trait Doc {
    /// The requests after `prefix` (the description and the few-shot examples,
    /// each followed by [`FEWSHOT_DELIM`]), and how to score their responses.
    fn requests(&self, prefix: &str, suite: Suite) -> (Vec<Request>, Scoring);
}

/// A processed document that can serve as a few-shot example.
pub trait Example {
    /// `TEXT + " " + TARGET`.
    fn example(&self) -> String;
    /// Whether this pool document equals the evaluated document `doc`, for the
    /// k+1-then-drop draw. The default, never: a pool split's documents differ
    /// from the evaluation split's (the harness compares whole records, `split`
    /// field included).
    fn same(&self, _doc: &Self) -> bool {
        false
    }
}

/// A multiple-choice document: one log-likelihood request per choice,
/// `(prompt, " " + choice)`, scored by `acc` / `acc_norm`.
#[derive(Debug, Clone, PartialEq)]
pub struct McDoc {
    /// `TEXT(doc)`.
    pub query: String,
    pub choices: Vec<String>,
    pub gold: usize,
}

impl Doc for McDoc {
    fn requests(&self, prefix: &str, _suite: Suite) -> (Vec<Request>, Scoring) {
        (
            choice_requests(&format!("{prefix}{}", self.query), &self.choices),
            Scoring::MultipleChoice {
                gold: self.gold,
                choice_lens: self.choices.iter().map(|c| pystr::len(c)).collect(),
            },
        )
    }
}

impl Example for McDoc {
    fn example(&self) -> String {
        format!("{}{TARGET_DELIM}{}", self.query, self.choices[self.gold])
    }
}

/// Read a split and check its record count; `Ok(None)` when the source lacks it.
fn read<T: DeserializeOwned>(
    src: &dyn DataSource,
    spec: &TaskSpec,
    split: &str,
) -> Result<Option<(Records, Vec<T>)>, DataError> {
    let Some(records) = src.records(spec.id, split)? else {
        return Ok(None);
    };
    if let Some(s) = spec.split(split) {
        records.expect_len(s.count)?;
    }
    let parsed = records.parse()?;
    Ok(Some((records, parsed)))
}

/// The error for a split the source lacks; `hint` says how to get it.
fn missing(src: &dyn DataSource, spec: &TaskSpec, split: &str, hint: &str) -> DataError {
    DataError::Missing {
        task: spec.id.to_string(),
        split: split.to_string(),
        looked_for: format!("{}/{split}.jsonl[.gz] in {}", spec.id, src.describe()),
        hint: hint.to_string(),
    }
}

/// Load a split, check its record count, parse its records.
pub fn load<T: DeserializeOwned>(
    src: &dyn DataSource,
    spec: &TaskSpec,
    split: &str,
) -> Result<(Records, Vec<T>), DataError> {
    read(src, spec, split)?.ok_or_else(|| missing(src, spec, split, ""))
}

/// Turns a split's parsed records into documents (checking what serde does not).
pub type Process<R, D> = fn(Suite, &Records, Vec<R>) -> Result<Vec<D>, TaskError>;

/// A task with random few-shot draws ([`Fewshot::Random`]), built from its
/// records of type `R`, processed into documents by `process`.
pub fn build_sampled<R: DeserializeOwned, D: Doc + Example>(
    spec: &'static TaskSpec,
    src: &dyn DataSource,
    opts: &BuildOptions,
    process: Process<R, D>,
) -> Result<TaskRequests, TaskError> {
    let Fewshot::Random {
        pool: pool_split,
        plus_one_standalone,
        fallback_hint,
        ..
    } = spec.fewshot
    else {
        return Err(TaskError::Config {
            task: spec.id.to_string(),
            message: "its few-shot rule is not random draws".to_string(),
        });
    };
    let k = spec.shots(opts)?;
    let (erecs, erows) = load::<R>(src, spec, spec.eval_split)?;
    let eval = process(opts.suite, &erecs, erows)?;
    let mut deviations = Vec::new();
    // The pool, and the fallback it came from (None: the pool split, or no shots).
    let (pool, fallback) = if k == 0 {
        (Vec::new(), None)
    } else {
        match read::<R>(src, spec, pool_split)? {
            Some((precs, prows)) => (process(opts.suite, &precs, prows)?, None),
            None => match (fallback_hint, opts.hellaswag_fallback) {
                (Some(_), Some(f)) => {
                    deviations.push(f.deviation());
                    (Vec::new(), Some(f))
                }
                (hint, _) => return Err(missing(src, spec, pool_split, hint.unwrap_or("")).into()),
            },
        }
    };
    let pool = if fallback.is_some() { &eval } else { &pool };
    let standalone_new = opts.suite == Suite::LmEval04 && opts.draw_mode == DrawMode::Standalone;
    let from_eval = fallback == Some(FewshotFallback::Validation);
    let draw = match fallback {
        Some(FewshotFallback::Validation) => k + 1,
        Some(FewshotFallback::ValidationSplit) => k,
        None if standalone_new && plus_one_standalone => k + 1,
        None => k,
    };
    // With the evaluation split as the pool, the evaluated doc is dropped by
    // identity: index equality (HellaSwag's 10042 processed validation docs are
    // all distinct, so this is the harness's dict equality).
    let plan = plan_random(
        opts.suite,
        eval.len(),
        opts.limit,
        pool.len(),
        k,
        draw,
        |d, p| {
            if from_eval {
                d == p
            } else {
                pool[p].same(&eval[d])
            }
        },
    );
    let examples: Vec<String> = pool.iter().map(Example::example).collect();
    let docs = doc_requests(spec.id, "", opts.suite, &eval, &examples, plan);
    Ok(spec.requests(opts.suite, k, docs, deviations))
}

/// The shared end of every build: each planned `(doc_id, few-shot indices)`
/// becomes the document's requests after `description` and its examples.
pub fn doc_requests<D: Doc>(
    task: &str,
    description: &str,
    suite: Suite,
    eval: &[D],
    examples: &[String],
    plan: Vec<(usize, Vec<usize>)>,
) -> Vec<DocRequests> {
    plan.into_iter()
        .map(|(i, few)| {
            let shots: Vec<&str> = few.iter().map(|&p| examples[p].as_str()).collect();
            let prefix = assemble(description, &shots, "");
            let (requests, scoring) = eval[i].requests(&prefix, suite);
            DocRequests {
                task: task.to_string(),
                doc_id: i,
                fewshot: few,
                requests,
                scoring,
            }
        })
        .collect()
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
pub fn assemble(description: &str, examples: &[&str], text: &str) -> String {
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
