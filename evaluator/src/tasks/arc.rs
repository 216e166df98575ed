//! ARC-Challenge, 25-shot, acc_norm (spec §5).
//!
//! Records (`arc_challenge/{train,validation,test}`, the HF `ai2_arc` shape):
//! `{"id", "question", "choices": {"text": [...], "label": [...]}, "answerKey"}`.
//! Eval split `test`, few-shot pool `train` (random).
//! `TEXT = "Question: " + question + "\nAnswer:"`, target = the gold choice text.
//!
//! Hub: `allenai/ai2_arc@210d026f…`, `ARC-Challenge/S-00000-of-00001.parquet`;
//! the pin was found in public code together with the `ARC-Challenge/{train,validation}-…`
//! URLs (unverified against the live Hub, see `data::hub`).

use super::builder::{build_sampled, McDoc};
use super::spec::{Fewshot, HubFile, Split, TaskSpec};
use super::{BuildOptions, TaskError, TaskRequests};
use crate::data::fields::{need_all, object, Kind};
use crate::data::{DataSource, Records};
use crate::suite::Suite;
use leaderboard_format::schema::Benchmark;
use serde::Deserialize;
use serde_json::{Map, Value};

const fn hub(file: &'static str) -> HubFile {
    HubFile {
        repo: "allenai/ai2_arc",
        revision: "210d026faf9955653af8916fad021475a3f00453",
        file,
    }
}

pub static SPEC: TaskSpec = TaskSpec {
    id: "arc_challenge",
    benchmark: Some(Benchmark::Arc),
    splits: &[
        Split {
            name: "train",
            count: 1119,
            hub: hub("ARC-Challenge/train-00000-of-00001.parquet"),
        },
        Split {
            name: "validation",
            count: 299,
            hub: hub("ARC-Challenge/validation-00000-of-00001.parquet"),
        },
        Split {
            name: "test",
            count: 1172,
            hub: hub("ARC-Challenge/test-00000-of-00001.parquet"),
        },
    ],
    eval_split: "test",
    fewshot: Fewshot::Random {
        pool: "train",
        shots: 25,
        plus_one_standalone: false,
        fallback_hint: None,
    },
    hub_row,
    build,
    metrics: |_| &["acc", "acc_norm"],
    headline: |_| "acc_norm",
    aggregate: None,
};

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

fn process(suite: Suite, recs: &Records, rows: Vec<Record>) -> Result<Vec<McDoc>, TaskError> {
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
            Ok(McDoc {
                query: text(&r.question),
                choices: r.choices.text,
                gold: g,
            })
        })
        .collect()
}

fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    build_sampled(&SPEC, src, opts, process)
}

fn hub_row(m: &mut Map<String, Value>) -> anyhow::Result<()> {
    need_all(m, &["id", "question", "answerKey"], Kind::Str)?;
    let c = object(m, "choices", "{text, label}")?;
    need_all(c, &["text", "label"], Kind::Strs).map_err(|e| e.context("in `choices`"))
}
