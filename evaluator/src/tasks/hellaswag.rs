//! HellaSwag, 10-shot, acc_norm (spec §6).
//!
//! Records (`hellaswag/{train,validation}`, the original `rowanz/hellaswag`
//! layout = HF `Rowan/hellaswag`): `{"activity_label", "ctx_a", "ctx_b",
//! "endings": [4], "label"}` (label an integer, or a string as on the Hub);
//! other fields are ignored. Eval split `validation`, few-shot pool `train`
//! (random). The train split (39,905 records) is not in `data/benchmarks`: without
//! it, k > 0 fails unless a [`FewshotFallback`] is chosen: `Validation`
//! draws k+1 from validation and drops the evaluated doc, `ValidationSplit`
//! draws k and keeps it; either records a deviation naming it.
//!
//! `query = P(activity_label + ": " + ctx_a + " " + capitalize(ctx_b))`,
//! `choices = [P(e)]`, with the preprocessing `P` of [`preprocess`].
//!
//! Hub: `Rowan/hellaswag@218ec52e…`, `data/S-00000-of-00001.parquet`; the pin was
//! found in public code with `data/validation-…` (sha256 there:
//! `899813071e1e95efafec90f856e1987d2150fa4d020fc005df6962c259f660cd`); `data/train-…`
//! was seen at `main`. The Hub stores `label` as a string (`"3"`), the local
//! files as an integer (`3`): [`SPEC`]'s `hub_row` converts it.
//!
//! [`FewshotFallback`]: super::FewshotFallback

use super::builder::{build_sampled, McDoc};
use super::spec::{Fewshot, HubFile, Split, TaskSpec};
use super::{de_int_or_string, BuildOptions, TaskError, TaskRequests};
use crate::data::fields::{need, need_all, Kind};
use crate::data::{DataSource, Records};
use crate::pystr;
use crate::suite::Suite;
use anyhow::{anyhow, bail};
use leaderboard_format::schema::Benchmark;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::OnceLock;

const fn hub(file: &'static str) -> HubFile {
    HubFile {
        repo: "Rowan/hellaswag",
        revision: "218ec52e09a7e7462a5400043bb9a69a41d06b76",
        file,
    }
}

pub static SPEC: TaskSpec = TaskSpec {
    id: "hellaswag",
    benchmark: Some(Benchmark::HellaSwag),
    splits: &[
        Split {
            name: "train",
            count: 39905,
            hub: hub("data/train-00000-of-00001.parquet"),
        },
        Split {
            name: "validation",
            count: 10042,
            hub: hub("data/validation-00000-of-00001.parquet"),
        },
    ],
    eval_split: "validation",
    fewshot: Fewshot::Random {
        pool: "train",
        shots: 10,
        plus_one_standalone: true,
        fallback_hint: Some(MISSING_TRAIN_HINT),
    },
    hub_row,
    build,
    metrics: |_| &["acc", "acc_norm"],
    headline: |_| "acc_norm",
    aggregate: None,
};

/// How to get the missing train split.
const MISSING_TRAIN_HINT: &str = "\nHellaSwag's few-shot pool is its train split (39,905 records), which data/benchmarks does not ship. \
     Get it as `hellaswag_train.jsonl` from github.com/rowanz/hellaswag (data/hellaswag_train.jsonl) \
     or as the train split of the Hub dataset `Rowan/hellaswag`, and save it gzip-compressed as \
     `hellaswag/train.jsonl.gz` in the data folder (one JSON record per line), \
     or read every split from the Hub with `--data hub`. Or run 0-shot (--num-fewshot 0), or opt into a non-comparable substitute pool with \
     `--hellaswag-fewshot-fallback validation` (recorded as the deviation \
     `hellaswag-fewshot-fallback:validation`).";

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub activity_label: String,
    pub ctx_a: String,
    pub ctx_b: String,
    pub endings: Vec<String>,
    #[serde(deserialize_with = "de_int_or_string")]
    pub label: i64,
}

/// The harness's `preprocess`: strip; `" [title]"` → `". "`; delete
/// `\[.*?\]`; `"  "` → `" "` once, left to right.
pub fn preprocess(text: &str) -> String {
    static BRACKETS: OnceLock<Regex> = OnceLock::new();
    let re = BRACKETS.get_or_init(|| Regex::new(r"\[.*?\]").expect("valid regex"));
    let t = pystr::strip(text);
    let t = pystr::replace(t, " [title]", ". ");
    let t = re.replace_all(&t, "");
    pystr::replace(&t, "  ", " ")
}

/// Process one record into the doc the prompts are built from.
pub fn process(r: &Record) -> McDoc {
    let ctx = format!("{} {}", r.ctx_a, pystr::capitalize(&r.ctx_b));
    McDoc {
        query: preprocess(&format!("{}: {}", r.activity_label, ctx)),
        choices: r.endings.iter().map(|e| preprocess(e)).collect(),
        gold: r.label as usize,
    }
}

fn process_all(_: Suite, recs: &Records, rows: Vec<Record>) -> Result<Vec<McDoc>, TaskError> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            if r.label < 0 || r.label as usize >= r.endings.len() {
                return Err(recs
                    .error_at(i, format!("label {} is not an index into endings", r.label))
                    .into());
            }
            Ok(process(r))
        })
        .collect()
}

fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    build_sampled(&SPEC, src, opts, process_all)
}

fn hub_row(m: &mut Map<String, Value>) -> anyhow::Result<()> {
    need_all(
        m,
        &[
            "activity_label",
            "ctx_a",
            "ctx_b",
            "ctx",
            "split",
            "split_type",
            "source_id",
        ],
        Kind::Str,
    )?;
    need(m, "ind", Kind::Int)?;
    need(m, "endings", Kind::Strs)?;
    let label = match m.get("label") {
        None => bail!("missing field `label`"),
        Some(Value::String(t)) => t
            .trim()
            .parse::<i64>()
            .map_err(|_| anyhow!("field `label`: expected an integer as text, got {t:?}"))?,
        Some(v) if v.is_i64() || v.is_u64() => v.as_i64().unwrap_or(-1),
        Some(v) => bail!("field `label`: expected an integer, got {v}"),
    };
    m.insert("label".into(), Value::from(label));
    Ok(())
}
