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

use super::{
    assemble, choice_requests, de_int_or_string, load, plan_random, BuildOptions, FewshotFallback,
    TaskError, TaskRequests, TARGET_DELIM,
};
use crate::data::{DataError, DataSource};
use crate::pystr;
use crate::requests::{DocRequests, Scoring};
use leaderboard_format::schema::Benchmark;
use regex::Regex;
use serde::Deserialize;
use std::sync::OnceLock;

pub const TASK: &str = "hellaswag";

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub activity_label: String,
    pub ctx_a: String,
    pub ctx_b: String,
    pub endings: Vec<String>,
    #[serde(deserialize_with = "de_int_or_string")]
    pub label: i64,
}

/// A processed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub query: String,
    pub choices: Vec<String>,
    pub gold: usize,
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
pub fn process(r: &Record) -> Doc {
    let ctx = format!("{} {}", r.ctx_a, pystr::capitalize(&r.ctx_b));
    Doc {
        query: preprocess(&format!("{}: {}", r.activity_label, ctx)),
        choices: r.endings.iter().map(|e| preprocess(e)).collect(),
        gold: r.label as usize,
    }
}

fn process_all(recs: &crate::data::Records, rows: &[Record]) -> Result<Vec<Doc>, DataError> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            if r.label < 0 || r.label as usize >= r.endings.len() {
                return Err(
                    recs.error_at(i, format!("label {} is not an index into endings", r.label))
                );
            }
            Ok(process(r))
        })
        .collect()
}

/// How to get the missing train split.
pub fn missing_train_hint() -> String {
    "\nHellaSwag's few-shot pool is its train split (39,905 records), which data/benchmarks does not ship. \
     Get it as `hellaswag_train.jsonl` from github.com/rowanz/hellaswag (data/hellaswag_train.jsonl) \
     or as the train split of the Hub dataset `Rowan/hellaswag`, and save it gzip-compressed as \
     `hellaswag/train.jsonl.gz` in the data folder (one JSON record per line), \
     or read every split from the Hub with `--data hub`. Or run 0-shot (--num-fewshot 0), or opt into a non-comparable substitute pool with \
     `--hellaswag-fewshot-fallback validation` (recorded as the deviation \
     `hellaswag-fewshot-fallback:validation`)."
        .to_string()
}

pub fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    let k = opts
        .num_fewshot
        .unwrap_or(Benchmark::HellaSwag.num_fewshot() as usize);
    let (erecs, erows) = load::<Record>(src, TASK, "validation", "")?;
    let eval = process_all(&erecs, &erows)?;
    let mut deviations = Vec::new();
    // The pool, and the fallback it came from (None: train, or no shots).
    let (pool, fallback) = if k == 0 {
        (Vec::new(), None)
    } else {
        match src.records(TASK, "train")? {
            Some(_) => {
                let (precs, prows) = load::<Record>(src, TASK, "train", "")?;
                (process_all(&precs, &prows)?, None)
            }
            None => match opts.hellaswag_fallback {
                Some(f) => {
                    deviations.push(f.deviation());
                    (eval.clone(), Some(f))
                }
                None => {
                    return Err(DataError::Missing {
                        task: TASK.to_string(),
                        split: "train".to_string(),
                        looked_for: format!("{TASK}/train.jsonl[.gz] in {}", src.describe()),
                        hint: missing_train_hint(),
                    }
                    .into())
                }
            },
        }
    };
    let standalone_new = opts.suite == crate::suite::Suite::LmEval04
        && opts.draw_mode == crate::suite::DrawMode::Standalone;
    let from_eval = fallback == Some(FewshotFallback::Validation);
    let draw = match fallback {
        Some(FewshotFallback::Validation) => k + 1,
        Some(FewshotFallback::ValidationSplit) => k,
        None if standalone_new => k + 1,
        None => k,
    };
    // With the validation pool the eval doc is dropped by identity: all 10042
    // processed validation docs are distinct, so index equality is the
    // harness's dict equality. A train doc never equals a validation doc (their
    // `split` fields differ), so NEW's standalone k+1 draw drops nothing.
    let plan = plan_random(
        opts.suite,
        eval.len(),
        opts.limit,
        pool.len(),
        k,
        draw,
        |d, p| from_eval && d == p,
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
                    choice_lens: d.choices.iter().map(|c| pystr::len(c)).collect(),
                },
            }
        })
        .collect();
    Ok(TaskRequests {
        benchmark: Benchmark::HellaSwag,
        suite: opts.suite,
        num_fewshot: k,
        docs,
        deviations,
    })
}
