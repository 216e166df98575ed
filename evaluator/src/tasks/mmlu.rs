//! MMLU (hendrycks test), 57 subjects, 5-shot, acc (spec §9).
//!
//! Records (`mmlu/{dev,validation,test}`, HF `cais/mmlu` "all"):
//! `{"question", "subject", "choices": [4], "answer": 0..3}`, all subjects in
//! one file, each subject's rows contiguous or not (grouped here by `subject`,
//! keeping file order). Eval split `test`; few-shot = the subject's first k
//! `dev` rows in file order (no randomness). Each subject is its own task
//! `mmlu_<subject>` with its own RNG (OLD still shuffles its docs with
//! `Random(42)`); the task `mmlu` is the macro mean (see `metrics`).
//!
//! DESCRIPTION = `"The following are multiple choice questions (with answers) about "
//! + subject.replace("_", " ") + ".\n\n"`; TEXT = `question.strip() + "\nA. " + c0
//! + "\nB. " + c1 + "\nC. " + c2 + "\nD. " + c3 + "\nAnswer:"`; target = the letter.
//!
//! Hub: `cais/mmlu@c30699e8…`, `all/S-00000-of-00001.parquet`; the pin was found in
//! public code with `all/{test,validation}-…`; `all/dev-…` was seen at `main`. The
//! harness reads the 57 per-subject configs (`<subject>/S-…parquet`); the `all` config
//! holds the same rows with their `subject` column, in one file per split, which is the
//! local loader's layout. The dev split's `dev` name is the Hub's own.

use super::builder::{doc_requests, eval_order, load, Example, McDoc};
use super::spec::{Fewshot, HubFile, Split, TaskSpec};
use super::{de_int_or_string, BuildOptions, TaskError, TaskRequests};
use crate::data::fields::{need, Kind};
use crate::data::{DataSource, Records};
use crate::metrics;
use crate::pystr;
use crate::random::PyRandom;
use crate::suite::Suite;
use leaderboard_format::schema::{Benchmark, Score, MMLU_SUBJECTS};
use serde::Deserialize;
use serde_json::{Map, Value};

pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];
/// The few-shot pool split.
const POOL: &str = "dev";

const fn hub(file: &'static str) -> HubFile {
    HubFile {
        repo: "cais/mmlu",
        revision: "c30699e8356da336a370243923dbaf21066bb9fe",
        file,
    }
}

pub static SPEC: TaskSpec = TaskSpec {
    id: "mmlu",
    benchmark: Some(Benchmark::Mmlu),
    splits: &[
        Split {
            name: "dev",
            count: 285,
            hub: hub("all/dev-00000-of-00001.parquet"),
        },
        Split {
            name: "validation",
            count: 1531,
            hub: hub("all/validation-00000-of-00001.parquet"),
        },
        Split {
            name: "test",
            count: 14042,
            hub: hub("all/test-00000-of-00001.parquet"),
        },
    ],
    eval_split: "test",
    fewshot: Fewshot::FirstN {
        pool: POOL,
        shots: 5,
    },
    hub_row,
    build,
    metrics: |_| &["acc"],
    headline: |_| "acc",
    aggregate: Some(macro_mean),
};

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub question: String,
    pub subject: String,
    pub choices: Vec<String>,
    #[serde(deserialize_with = "de_int_or_string")]
    pub answer: i64,
}

/// The subject's description line (with its two newlines).
pub fn description(subject: &str) -> String {
    format!(
        "The following are multiple choice questions (with answers) about {}.\n\n",
        pystr::replace(subject, "_", " ")
    )
}

/// The question with its lettered choices, ending in `"Answer:"`.
pub fn text(r: &Record) -> String {
    let mut s = pystr::strip(&r.question).to_string();
    s.push('\n');
    for (l, c) in LETTERS.iter().zip(&r.choices) {
        s.push_str(&format!("{l}. {c}\n"));
    }
    s.push_str("Answer:");
    s
}

/// Group rows by subject (file order within each), checking each record, as
/// documents whose choices are the letters.
fn by_subject(recs: &Records, rows: Vec<Record>) -> Result<Vec<Vec<McDoc>>, TaskError> {
    let mut out: Vec<Vec<McDoc>> = vec![Vec::new(); MMLU_SUBJECTS.len()];
    for (i, r) in rows.into_iter().enumerate() {
        let s = MMLU_SUBJECTS
            .iter()
            .position(|s| *s == r.subject)
            .ok_or_else(|| {
                recs.error_at(
                    i,
                    format!(
                        "field `subject`: {:?} is not one of the 57 MMLU subjects",
                        r.subject
                    ),
                )
            })?;
        if r.choices.len() != 4 {
            return Err(recs
                .error_at(
                    i,
                    format!(
                        "field `choices`: expected 4 choices, got {}",
                        r.choices.len()
                    ),
                )
                .into());
        }
        if !(0..4).contains(&r.answer) {
            return Err(recs
                .error_at(
                    i,
                    format!("field `answer`: expected 0..3, got {}", r.answer),
                )
                .into());
        }
        out[s].push(McDoc {
            query: text(&r),
            choices: LETTERS.iter().map(|l| l.to_string()).collect(),
            gold: r.answer as usize,
        });
    }
    Ok(out)
}

fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    let k = SPEC.shots(opts)?;
    let (trecs, trows) = load::<Record>(src, &SPEC, SPEC.eval_split)?;
    let test = by_subject(&trecs, trows)?;
    let dev = if k > 0 {
        let (drecs, drows) = load::<Record>(src, &SPEC, POOL)?;
        by_subject(&drecs, drows)?
    } else {
        vec![Vec::new(); MMLU_SUBJECTS.len()]
    };
    let mut docs = Vec::new();
    for (si, subject) in MMLU_SUBJECTS.iter().enumerate() {
        let task = format!("mmlu_{subject}");
        if test[si].is_empty() {
            return Err(TaskError::Config {
                task,
                message: format!("no test rows in {}", trecs.origin),
            });
        }
        let shots = match opts.suite {
            // OLD: `self._fewshot_docs[:k]`, silently capped.
            Suite::OpenLlmV1 => k.min(dev[si].len()),
            // NEW first_n sampler asserts n <= len(docs).
            Suite::LmEval04 => {
                if k > dev[si].len() {
                    return Err(TaskError::Config {
                        task,
                        message: format!(
                            "{k} few-shot examples requested but the dev split has {}",
                            dev[si].len()
                        ),
                    });
                }
                k
            }
        };
        let examples: Vec<String> = dev[si][..shots].iter().map(Example::example).collect();
        let mut rnd = PyRandom::new(opts.suite.seed());
        let plan = eval_order(opts.suite, test[si].len(), opts.limit, &mut rnd)
            .into_iter()
            .map(|i| (i, (0..shots).collect()))
            .collect();
        docs.extend(doc_requests(
            &task,
            &description(subject),
            opts.suite,
            &test[si],
            &examples,
            plan,
        ));
    }
    Ok(SPEC.requests(opts.suite, k, docs, Vec::new()))
}

/// The `mmlu` score: the macro mean of the subjects' `acc`.
fn macro_mean(scores: &[Score], num_fewshot: usize) -> Score {
    let subjects: Vec<Score> = scores
        .iter()
        .filter(|s| s.metric == "acc")
        .cloned()
        .collect();
    metrics::mmlu_macro(&subjects, num_fewshot)
}

fn hub_row(m: &mut Map<String, Value>) -> anyhow::Result<()> {
    need(m, "question", Kind::Str)?;
    need(m, "subject", Kind::Str)?;
    need(m, "choices", Kind::Strs)?;
    need(m, "answer", Kind::Int)
}
