//! Winogrande (xl), 5-shot, acc, partial evaluation (spec §7).
//!
//! Records (`winogrande/{train,validation}`, HF `winogrande_xl`):
//! `{"sentence", "option1", "option2", "answer": "1"|"2"}` (`qID` optional,
//! ignored). Eval split `validation`, few-shot pool `train` (random; NEW
//! standalone draws k+1 and drops a pool doc equal to the evaluated one).
//!
//! With `b` the first `_`: `partial(opt) = sentence[:b] + opt`,
//! `rest = sentence[b+1:].strip()`. Example: `partial(correct) + " " + rest`.
//! Two requests per doc: `(PREFIX + partial(option_i), " " + rest)`.

use super::{assemble, load, plan_random, BuildOptions, TaskError, TaskRequests, TARGET_DELIM};
use crate::data::DataSource;
use crate::pystr;
use crate::requests::{DocRequests, Request, Scoring};
use crate::suite::{DrawMode, Suite};
use leaderboard_format::schema::Benchmark;
use serde::Deserialize;

pub const TASK: &str = "winogrande";

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    pub sentence: String,
    pub option1: String,
    pub option2: String,
    pub answer: String,
}

/// A processed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// `sentence[:b] + option` for option1, option2.
    pub partials: [String; 2],
    /// `sentence[b+1:].strip()`.
    pub rest: String,
    pub gold: usize,
}

impl Doc {
    /// The few-shot example: the correct option's partial context + " " + rest.
    pub fn example(&self) -> String {
        format!("{}{TARGET_DELIM}{}", self.partials[self.gold], self.rest)
    }
}

fn process(recs: &crate::data::Records, rows: &[Record]) -> Result<Vec<Doc>, TaskError> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let b = r
                .sentence
                .find('_')
                .ok_or_else(|| recs.error_at(i, "field `sentence` has no `_` blank"))?;
            let gold = match r.answer.as_str() {
                "1" => 0,
                "2" => 1,
                a => {
                    return Err(recs
                        .error_at(
                            i,
                            format!("field `answer` must be \"1\" or \"2\", got {a:?}"),
                        )
                        .into())
                }
            };
            let head = &r.sentence[..b];
            Ok(Doc {
                partials: [
                    format!("{head}{}", r.option1),
                    format!("{head}{}", r.option2),
                ],
                rest: pystr::strip(&r.sentence[b + 1..]).to_string(),
                gold,
            })
        })
        .collect()
}

pub fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    let k = opts
        .num_fewshot
        .unwrap_or(Benchmark::Winogrande.num_fewshot() as usize);
    let (erecs, erows) = load::<Record>(src, TASK, "validation", "")?;
    let eval = process(&erecs, &erows)?;
    let (prows, pool) = if k > 0 {
        let (precs, prows) = load::<Record>(src, TASK, "train", "")?;
        let pool = process(&precs, &prows)?;
        (prows, pool)
    } else {
        (Vec::new(), Vec::new())
    };
    let draw = if opts.suite == Suite::LmEval04 && opts.draw_mode == DrawMode::Standalone {
        k + 1
    } else {
        k
    };
    let plan = plan_random(
        opts.suite,
        eval.len(),
        opts.limit,
        pool.len(),
        k,
        draw,
        |d, p| prows[p] == erows[d],
    );
    let docs = plan
        .into_iter()
        .map(|(i, few)| {
            let d = &eval[i];
            let examples: Vec<String> = few.iter().map(|&p| pool[p].example()).collect();
            let prefix = assemble("", &examples, "");
            let continuation = format!("{TARGET_DELIM}{}", d.rest);
            DocRequests {
                task: TASK.to_string(),
                doc_id: i,
                fewshot: few,
                requests: d
                    .partials
                    .iter()
                    .map(|p| Request::LogLikelihood {
                        context: format!("{prefix}{p}").into(),
                        continuation: continuation.clone(),
                    })
                    .collect(),
                scoring: Scoring::Partial { gold: d.gold },
            }
        })
        .collect();
    Ok(TaskRequests {
        benchmark: Benchmark::Winogrande,
        suite: opts.suite,
        num_fewshot: k,
        docs,
        deviations: Vec::new(),
    })
}
