//! GSM8K, 5-shot, greedy generation (spec §8).
//!
//! Records (`gsm8k/{train,test}`, `openai/grade-school-math` = HF `gsm8k/main`):
//! `{"question", "answer"}`, the answer ending in `#### <number>`.
//! Eval split `test`, few-shot pool `train` (random).
//! `TEXT = "Question: " + question + "\nAnswer:"`, target = the full answer.
//! One generation request per doc with the suite's stop strings, ≤ 256 tokens.
//!
//! Hub: `openai/gsm8k@740312ad…`, pinned as a `load_dataset` revision in several
//! public projects; `main/{train,test}-…` was seen at `main`.

use super::builder::{build_sampled, Doc, Example, TARGET_DELIM};
use super::spec::{Fewshot, HubFile, Split, TaskSpec};
use super::{BuildOptions, TaskError, TaskRequests};
use crate::data::fields::{need_all, Kind};
use crate::data::{DataSource, Records};
use crate::requests::{Request, Scoring};
use crate::suite::Suite;
use leaderboard_format::schema::Benchmark;
use serde::Deserialize;
use serde_json::{Map, Value};

const fn hub(file: &'static str) -> HubFile {
    HubFile {
        repo: "openai/gsm8k",
        revision: "740312add88f781978c0658806c59bc2815b9866",
        file,
    }
}

pub static SPEC: TaskSpec = TaskSpec {
    id: "gsm8k",
    benchmark: Some(Benchmark::Gsm8k),
    splits: &[
        Split {
            name: "train",
            count: 7473,
            hub: hub("main/train-00000-of-00001.parquet"),
        },
        Split {
            name: "test",
            count: 1319,
            hub: hub("main/test-00000-of-00001.parquet"),
        },
    ],
    eval_split: "test",
    fewshot: Fewshot::Random {
        pool: "train",
        shots: 5,
        plus_one_standalone: false,
        fallback_hint: None,
    },
    hub_row,
    build,
    metrics: |suite| match suite {
        Suite::OpenLlmV1 => &["acc"],
        Suite::LmEval04 => &["exact_match_strict", "exact_match_flexible"],
    },
    headline: |suite| match suite {
        Suite::OpenLlmV1 => "acc",
        Suite::LmEval04 => "exact_match_strict",
    },
    aggregate: None,
};

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub question: String,
    pub answer: String,
}

/// `"Question: " + question + "\nAnswer:"`.
pub fn text(question: &str) -> String {
    format!("Question: {question}\nAnswer:")
}

impl Example for Record {
    fn example(&self) -> String {
        format!("{}{TARGET_DELIM}{}", text(&self.question), self.answer)
    }
}

impl Doc for Record {
    fn requests(&self, prefix: &str, suite: Suite) -> (Vec<Request>, Scoring) {
        let request = Request::Generate {
            context: format!("{prefix}{}", text(&self.question)).into(),
            until: suite.gsm8k_until(),
            max_gen_toks: suite.gsm8k_max_gen_toks(),
        };
        let scoring = Scoring::Gsm8k {
            answer: self.answer.clone(),
        };
        (vec![request], scoring)
    }
}

fn process(_: Suite, _: &Records, rows: Vec<Record>) -> Result<Vec<Record>, TaskError> {
    Ok(rows)
}

fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    build_sampled(&SPEC, src, opts, process)
}

fn hub_row(m: &mut Map<String, Value>) -> anyhow::Result<()> {
    need_all(m, &["question", "answer"], Kind::Str)
}
