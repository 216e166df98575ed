//! lighteval 0.11 details Parquet (`details_<suite>|<task>|<shots>_<time>.parquet`)
//! → the per-document rows of a details file ([`leaderboard_format::details`]).
//!
//! # What is read
//!
//! Three struct columns, rows in any order: `doc` (`task_name` `suite|task|shots`,
//! `id`, `query`, `choices`, `gold_index`), `model_response` (`logprobs`: one
//! log-likelihood per choice; `argmax_logits_eq_gold`: per choice, whether every
//! token was the argmax) and `metric` (one Float64 field per metric). Nothing else
//! is copied (`model_response.input` and `reasonings` can be long or private).
//!
//! Tasks map as the results do ([`super::lighteval`]: the v1 leaderboard's
//! `harness|…` keys). Multiple-choice tasks with one gold choice convert (ARC,
//! HellaSwag, MMLU subjects, Winogrande): `doc_id` = `doc.id` (a document index),
//! `prompt_sha256` = sha256 of `doc.query` (lighteval's record of the prompt),
//! prediction = argmax of the log-likelihoods (ARC and HellaSwag: per character of
//! the choice, acc_norm), and the recorded `acc` / `acc_norm` must follow from
//! them. TruthfulQA (mc1 and mc2 in one task) and GSM8K are refused: their lighteval
//! details layout is not documented by any file this project has. A file whose
//! tasks are none of the six is refused naming them.

use super::samples::{argmax, flag, sha256_hex};
use anyhow::{bail, Context, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::DataType;
use leaderboard_format::details::{DetailRow, SampleDetail};
use std::collections::BTreeSet;
use std::path::Path;

/// Largest details file read.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// The record batches of a Parquet file; a malformed file is an error, never a panic.
fn batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_FILE_BYTES {
        bail!("{}: larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    let bytes = bytes::Bytes::from(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let read = || -> Result<Vec<RecordBatch>, String> {
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| e.to_string())?;
        builder
            .build()
            .map_err(|e| e.to_string())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    };
    match std::panic::catch_unwind(read) {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => bail!(
            "{}: not a readable Parquet file ({e}); expected lighteval details",
            path.display()
        ),
        Err(_) => bail!(
            "{}: a malformed Parquet file; expected lighteval details",
            path.display()
        ),
    }
}

fn strukt<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StructArray> {
    batch.column_by_name(name)?.as_struct_opt()
}

fn field<'a>(s: &'a StructArray, name: &str) -> Option<&'a ArrayRef> {
    s.column_by_name(name)
}

fn text_at(a: &ArrayRef, i: usize) -> Option<String> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i).to_string()),
        _ => None,
    }
}

/// The list at row `i` of a `List<…>` column.
fn list_at(a: &ArrayRef, i: usize) -> Option<ArrayRef> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::List(_) => Some(a.as_list::<i32>().value(i)),
        DataType::LargeList(_) => Some(a.as_list::<i64>().value(i)),
        _ => None,
    }
}

fn floats(a: &ArrayRef) -> Option<Vec<f64>> {
    let f = a.as_primitive_opt::<Float64Type>()?;
    (f.null_count() == 0).then(|| f.values().to_vec())
}

fn bools(a: &ArrayRef) -> Option<Vec<bool>> {
    let b = a.as_boolean_opt()?;
    (b.null_count() == 0).then(|| b.iter().map(|x| x.unwrap_or(false)).collect())
}

fn texts(a: &ArrayRef) -> Option<Vec<String>> {
    (0..a.len()).map(|i| text_at(a, i)).collect()
}

/// `gold_index`: an Int64, or a list holding one.
fn gold_at(a: &ArrayRef, i: usize) -> Option<i64> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Int64 => Some(a.as_primitive::<Int64Type>().value(i)),
        _ => {
            let l = list_at(a, i)?;
            let p = l.as_primitive_opt::<Int64Type>()?;
            (p.len() == 1 && p.null_count() == 0).then(|| p.value(0))
        }
    }
}

/// The details rows of lighteval details files, and the tasks outside the six
/// (sorted). Refused: a file with none of the six, or a v1 task whose layout
/// is not converted.
pub fn rows(paths: &[std::path::PathBuf]) -> Result<(Vec<DetailRow>, Vec<String>)> {
    let mut out = Vec::new();
    let mut skipped = BTreeSet::new();
    for path in paths {
        let mut found = 0;
        let mut row_no = 0;
        for batch in batches(path)? {
            let (Some(doc), Some(resp), Some(metric)) = (
                strukt(&batch, "doc"),
                strukt(&batch, "model_response"),
                strukt(&batch, "metric"),
            ) else {
                bail!(
                    "{}: expected lighteval 0.11 details: struct columns `doc`, `model_response`, `metric`",
                    path.display()
                );
            };
            let task_names = field(doc, "task_name")
                .with_context(|| format!("{}: no `doc.task_name` column", path.display()))?;
            for i in 0..batch.num_rows() {
                row_no += 1;
                let key = text_at(task_names, i).unwrap_or_default();
                let (lm_task, _) = super::lighteval::lighteval_task(&key);
                let Some((ours, _)) = super::mapping(&lm_task, false) else {
                    skipped.insert(key);
                    continue;
                };
                found += 1;
                let r = convert(&ours, doc, resp, metric, i).map_err(|m| {
                    anyhow::anyhow!("{}: row {row_no} ({key}): {m}", path.display())
                })?;
                out.push(r);
            }
        }
        if found == 0 {
            bail!(
                "{}: lighteval details of {}, none of the leaderboard's six tasks (harness|arc:challenge|25, harness|hellaswag|10, harness|hendrycksTest-<subject>|5, harness|truthfulqa:mc|0, harness|winogrande|5, harness|gsm8k|5); nothing imported",
                path.display(),
                if skipped.is_empty() {
                    "no task".to_string()
                } else {
                    skipped.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            );
        }
    }
    out.sort_by(|a, b| {
        (a.sample.task.as_str(), a.sample.doc_id).cmp(&(b.sample.task.as_str(), b.sample.doc_id))
    });
    if let Some(w) = out
        .windows(2)
        .find(|w| w[0].sample.task == w[1].sample.task && w[0].sample.doc_id == w[1].sample.doc_id)
    {
        bail!(
            "{}: document {} of {} appears twice",
            paths[0].display(),
            w[0].sample.doc_id,
            w[0].sample.task
        );
    }
    Ok((out, skipped.into_iter().collect()))
}

fn convert(
    task: &str,
    doc: &StructArray,
    resp: &StructArray,
    metric: &StructArray,
    i: usize,
) -> Result<DetailRow, String> {
    if task == "truthfulqa_mc" || task == "gsm8k" {
        return Err(format!(
            "lighteval details of {task} are not converted (only ARC, HellaSwag, MMLU and Winogrande: one gold choice per document); import the results file without --details"
        ));
    }
    let get = |s: &StructArray, name: &str| -> Result<ArrayRef, String> {
        field(s, name)
            .cloned()
            .ok_or_else(|| format!("no `{name}` field"))
    };
    let id = text_at(&get(doc, "id")?, i).unwrap_or_default();
    let doc_id: usize = id
        .parse()
        .map_err(|_| format!("`doc.id` {id:?}: expected a document index"))?;
    let choices = list_at(&get(doc, "choices")?, i)
        .and_then(|l| texts(&l))
        .ok_or("`doc.choices`: expected a list of strings")?;
    let lls = list_at(&get(resp, "logprobs")?, i)
        .and_then(|l| floats(&l))
        .filter(|l| l.len() == choices.len() && l.len() >= 2 && l.iter().all(|x| x.is_finite()))
        .ok_or("`model_response.logprobs`: expected one finite log-likelihood per choice")?;
    let greedy = list_at(&get(resp, "argmax_logits_eq_gold")?, i)
        .and_then(|l| bools(&l))
        .filter(|g| g.len() == lls.len())
        .ok_or("`model_response.argmax_logits_eq_gold`: expected one flag per choice")?;
    let gold = gold_at(&get(doc, "gold_index")?, i)
        .and_then(|g| usize::try_from(g).ok())
        .filter(|g| *g < lls.len())
        .ok_or("`doc.gold_index`: expected one choice index")?;
    let query = text_at(&get(doc, "query")?, i).ok_or("no `doc.query`")?;
    let value = |name: &str, expected: f64| -> Result<f64, String> {
        let a = field(metric, name).ok_or_else(|| format!("no `metric.{name}`"))?;
        let v = a
            .as_primitive_opt::<Float64Type>()
            .filter(|p| !p.is_null(i))
            .map(|p| p.value(i))
            .ok_or_else(|| format!("`metric.{name}`: expected a number"))?;
        if (v - expected).abs() > 1e-9 {
            return Err(format!(
                "`metric.{name}` is {v} but its log-likelihoods give {expected}"
            ));
        }
        Ok(v)
    };
    let pred = argmax(&lls);
    let acc = value("acc", flag(pred == gold))?;
    let (prediction, correct, metrics) = if task == "arc_challenge" || task == "hellaswag" {
        let normed: Vec<f64> = lls
            .iter()
            .zip(&choices)
            .map(|(l, c)| l / c.chars().count().max(1) as f64)
            .collect();
        let p = argmax(&normed);
        let acc_norm = value("acc_norm", flag(p == gold))?;
        (
            p,
            acc_norm == 1.0,
            vec![("acc".to_string(), acc), ("acc_norm".to_string(), acc_norm)],
        )
    } else {
        (pred, acc == 1.0, vec![("acc".to_string(), acc)])
    };
    Ok(DetailRow {
        sample: SampleDetail {
            task: task.to_string(),
            doc_id,
            prompt_sha256: sha256_hex(&query),
            loglikelihoods: lls,
            prediction: prediction.to_string(),
            gold: gold.to_string(),
            correct,
            generated: None,
            metrics,
        },
        is_greedy: greedy,
    })
}
