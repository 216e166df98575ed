//! ARC-Challenge, 25-shot, acc_norm (spec §5).
//!
//! Records (`arc_challenge/{train,validation,test}`, the HF `ai2_arc` shape):
//! `{"id", "question", "choices": {"text": [...], "label": [...]}, "answerKey"}`.
//! Eval split `test`, few-shot pool `train` (random).
//! `TEXT = "Question: " + question + "\nAnswer:"`, target = the gold choice text.

use super::{
    assemble, choice_requests, load, plan_random, BuildOptions, TaskError, TaskRequests,
    TARGET_DELIM,
};
use crate::data::DataSource;
use crate::requests::{DocRequests, Scoring};
use crate::suite::Suite;
use leaderboard_format::schema::Benchmark;
use serde::Deserialize;

pub const TASK: &str = "arc_challenge";

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub question: String,
    pub choices: Choices,
    #[serde(rename = "answerKey")]
    pub answer_key: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Choices {
    pub text: Vec<String>,
    pub label: Vec<String>,
}

/// A processed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub query: String,
    pub choices: Vec<String>,
    pub gold: usize,
}

/// The gold index: OLD maps "1".."5" to "A".."E" and indexes [A..E]; NEW takes
/// `choices.label.index(answerKey)`.
fn gold(suite: Suite, r: &Record) -> Option<usize> {
    match suite {
        Suite::OpenLlmV1 => {
            let key = match r.answer_key.as_str() {
                "1" => "A",
                "2" => "B",
                "3" => "C",
                "4" => "D",
                "5" => "E",
                k => k,
            };
            ["A", "B", "C", "D", "E"].iter().position(|l| *l == key)
        }
        Suite::LmEval04 => r.choices.label.iter().position(|l| *l == r.answer_key),
    }
}

/// `"Question: " + question + "\nAnswer:"`.
pub fn text(question: &str) -> String {
    format!("Question: {question}\nAnswer:")
}

fn process(
    suite: Suite,
    recs: &crate::data::Records,
    rows: Vec<Record>,
) -> Result<Vec<Doc>, TaskError> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let g = gold(suite, &r)
                .filter(|&g| g < r.choices.text.len())
                .ok_or_else(|| {
                    recs.error_at(
                        i,
                        format!(
                            "answerKey {:?} is not one of the choice labels",
                            r.answer_key
                        ),
                    )
                })?;
            Ok(Doc {
                query: text(&r.question),
                choices: r.choices.text,
                gold: g,
            })
        })
        .collect()
}

pub fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    let k = opts
        .num_fewshot
        .unwrap_or(Benchmark::Arc.num_fewshot() as usize);
    let (erecs, eval) = load::<Record>(src, TASK, "test", "")?;
    let eval = process(opts.suite, &erecs, eval)?;
    let pool = if k > 0 {
        let (precs, pool) = load::<Record>(src, TASK, "train", "")?;
        process(opts.suite, &precs, pool)?
    } else {
        Vec::new()
    };
    let plan = plan_random(
        opts.suite,
        eval.len(),
        opts.limit,
        pool.len(),
        k,
        k,
        |_, _| false,
    );
    let docs = plan
        .into_iter()
        .map(|(i, few)| {
            let d = &eval[i];
            let examples: Vec<String> = few
                .iter()
                .map(|&p| {
                    format!(
                        "{}{TARGET_DELIM}{}",
                        pool[p].query, pool[p].choices[pool[p].gold]
                    )
                })
                .collect();
            let prompt = assemble("", &examples, &d.query);
            DocRequests {
                task: TASK.to_string(),
                doc_id: i,
                fewshot: few,
                requests: choice_requests(&prompt, &d.choices),
                scoring: Scoring::MultipleChoice {
                    gold: d.gold,
                    choice_lens: d.choices.iter().map(|c| crate::pystr::len(c)).collect(),
                },
            }
        })
        .collect();
    Ok(TaskRequests {
        benchmark: Benchmark::Arc,
        suite: opts.suite,
        num_fewshot: k,
        docs,
        deviations: Vec::new(),
    })
}
