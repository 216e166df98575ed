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

use super::{
    assemble, choice_requests, de_int_or_string, eval_order, load, BuildOptions, TaskError,
    TaskRequests, TARGET_DELIM,
};
use crate::data::DataSource;
use crate::pystr;
use crate::random::PyRandom;
use crate::requests::{DocRequests, Scoring};
use crate::suite::Suite;
use leaderboard_format::schema::{Benchmark, MMLU_SUBJECTS};
use serde::Deserialize;

pub const TASK: &str = "mmlu";
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

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

/// Group rows by subject (file order within each), checking each record.
fn by_subject(
    recs: &crate::data::Records,
    rows: Vec<Record>,
) -> Result<Vec<Vec<Record>>, TaskError> {
    let mut out: Vec<Vec<Record>> = vec![Vec::new(); MMLU_SUBJECTS.len()];
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
        out[s].push(r);
    }
    Ok(out)
}

pub fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    let k = opts
        .num_fewshot
        .unwrap_or(Benchmark::Mmlu.num_fewshot() as usize);
    let (trecs, trows) = load::<Record>(src, TASK, "test", "")?;
    let test = by_subject(&trecs, trows)?;
    let dev = if k > 0 {
        let (drecs, drows) = load::<Record>(src, TASK, "dev", "")?;
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
        let examples: Vec<String> = dev[si][..shots]
            .iter()
            .map(|r| format!("{}{TARGET_DELIM}{}", text(r), LETTERS[r.answer as usize]))
            .collect();
        let desc = description(subject);
        let mut rnd = PyRandom::new(opts.suite.seed());
        for i in eval_order(opts.suite, test[si].len(), opts.limit, &mut rnd) {
            let r = &test[si][i];
            let prompt = assemble(&desc, &examples, &text(r));
            let letters: Vec<String> = LETTERS.iter().map(|l| l.to_string()).collect();
            docs.push(DocRequests {
                task: task.clone(),
                doc_id: i,
                fewshot: (0..shots).collect(),
                requests: choice_requests(&prompt, &letters),
                scoring: Scoring::MultipleChoice {
                    gold: r.answer as usize,
                    choice_lens: vec![1; 4],
                },
            });
        }
    }
    Ok(TaskRequests {
        benchmark: Benchmark::Mmlu,
        suite: opts.suite,
        num_fewshot: k,
        docs,
        deviations: Vec::new(),
    })
}
