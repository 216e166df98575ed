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
//!
//! Hub: `allenai/winogrande@01e74176…`, `winogrande_xl/S-00000-of-00001.parquet`; the
//! pin was found in public code under the repo's older id `winogrande` with
//! `winogrande_debiased/…` URLs, and is the commit `data/benchmarks/SOURCES.md`
//! names for its train split; `winogrande_xl/…` was seen at `main`. The Hub rows have
//! no `qID` (the local validation file has; train has not).

use super::builder::{build_sampled, Doc as BuildDoc, Example, TARGET_DELIM};
use super::spec::{Fewshot, HubFile, Split, TaskSpec};
use super::{BuildOptions, TaskError, TaskRequests};
use crate::data::fields::{need_all, Kind};
use crate::data::{DataSource, Records};
use crate::pystr;
use crate::requests::{Request, Scoring};
use crate::suite::Suite;
use leaderboard_format::schema::Benchmark;
use serde::Deserialize;
use serde_json::{Map, Value};

const fn hub(file: &'static str) -> HubFile {
    HubFile {
        repo: "allenai/winogrande",
        revision: "01e74176c63542e6b0bcb004dcdea22d94fb67b5",
        file,
    }
}

pub static SPEC: TaskSpec = TaskSpec {
    id: "winogrande",
    benchmark: Some(Benchmark::Winogrande),
    splits: &[
        Split {
            name: "train",
            count: 40398,
            hub: hub("winogrande_xl/train-00000-of-00001.parquet"),
        },
        Split {
            name: "validation",
            count: 1267,
            hub: hub("winogrande_xl/validation-00000-of-00001.parquet"),
        },
    ],
    eval_split: "validation",
    fewshot: Fewshot::Random {
        pool: "train",
        shots: 5,
        plus_one_standalone: true,
        fallback_hint: None,
    },
    hub_row,
    build,
    metrics: |_| &["acc"],
    headline: |_| "acc",
    aggregate: None,
};

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
    /// The record, for the k+1-then-drop comparison.
    pub record: Record,
    /// `sentence[:b] + option` for option1, option2.
    pub partials: [String; 2],
    /// `sentence[b+1:].strip()`.
    pub rest: String,
    pub gold: usize,
}

impl Example for Doc {
    /// The correct option's partial context + " " + rest.
    fn example(&self) -> String {
        format!("{}{TARGET_DELIM}{}", self.partials[self.gold], self.rest)
    }

    /// The harness compares the records (`qID` aside).
    fn same(&self, doc: &Self) -> bool {
        self.record == doc.record
    }
}

impl BuildDoc for Doc {
    fn requests(&self, prefix: &str, _suite: Suite) -> (Vec<Request>, Scoring) {
        let continuation = format!("{TARGET_DELIM}{}", self.rest);
        let requests = self
            .partials
            .iter()
            .map(|p| Request::LogLikelihood {
                context: format!("{prefix}{p}").into(),
                continuation: continuation.clone(),
            })
            .collect();
        (requests, Scoring::Partial { gold: self.gold })
    }
}

fn process(_: Suite, recs: &Records, rows: Vec<Record>) -> Result<Vec<Doc>, TaskError> {
    rows.into_iter()
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
                record: r,
            })
        })
        .collect()
}

fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    build_sampled(&SPEC, src, opts, process)
}

fn hub_row(m: &mut Map<String, Value>) -> anyhow::Result<()> {
    need_all(m, &["sentence", "option1", "option2", "answer"], Kind::Str)
}
