//! Per-sample details of a run, written as a Parquet file beside its results file.
//!
//! # Details format, version 1
//!
//! `<results stem>.details.parquet` next to `<results stem>.parquet`, one row
//! per evaluated document, sorted by (`task`, `doc_id`), each (`task`,
//! `doc_id`) once. File key-value metadata: [`DETAILS_VERSION_KEY`] =
//! [`DETAILS_VERSION`] (plain digits) and, as for results,
//! [`CONTENT_SHA256_KEY`](crate::schema::CONTENT_SHA256_KEY). A details file is not a results file: the results
//! reader skips names ending in [`DETAILS_SUFFIX`]; `check` reads them with
//! [`read_rows`] (through [`crate::read`], [`Limits::DETAILS`]) and requires
//! the sibling results file.
//!
//! | column | Arrow type | null | meaning |
//! |---|---|---|---|
//! | `task` | Utf8 | no | task id: `arc_challenge`, `hellaswag`, `mmlu_<subject>`, `truthfulqa_mc`, `winogrande`, `gsm8k`, or an extra task's ([`crate::schema::check_task_id`]) |
//! | `doc_id` | Int64 | no | index of the document in its evaluation split, dataset order |
//! | `prompt_sha256` | Utf8 | no | sha256 (hex) of the UTF-8 prompt (context of the first request) |
//! | `loglikelihoods` | `List<Float64>` | no | summed log-probability of each request's continuation, request order (empty for GSM8K) |
//! | `is_greedy` | `List<Boolean>` | no | per request: every continuation token was the argmax |
//! | `prediction` | Utf8 | no | predicted choice index, or the extracted GSM8K answer |
//! | `gold` | Utf8 | no | gold choice index, or the extracted GSM8K reference answer |
//! | `correct` | Boolean | no | the headline metric counts the document as correct (TruthfulQA: mc1 under `openllm-v1`) |
//! | `generated` | Utf8 | yes | GSM8K: the generated text cut at the stop strings |
//! | `metrics` | `List<Struct<metric: Utf8, value: Float64>>` | no | every per-document metric value |
//!
//! Writing is atomic (temporary file in the same folder, then rename) and
//! deterministic (fixed writer settings, no timestamps).

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, ListBuilder, StringBuilder, StructBuilder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::read::{self, Kind, Limits};
use crate::ResultsError;

/// Key of the file metadata entry holding the details format version.
pub use crate::schema::DETAILS_FORMAT_VERSION_KEY as DETAILS_VERSION_KEY;
/// File-name ending that marks a details file.
pub use crate::schema::DETAILS_SUFFIX;
/// The version this code writes and reads.
pub const DETAILS_VERSION: u32 = 1;

/// Per-document result: one details row without its greedy flags.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleDetail {
    pub task: String,
    pub doc_id: usize,
    /// sha256 (hex) of the UTF-8 prompt (context of the first request).
    pub prompt_sha256: String,
    /// Log-likelihood of each request, in request order (empty for GSM8K).
    pub loglikelihoods: Vec<f64>,
    /// Predicted choice index (as a string) or extracted GSM8K answer.
    pub prediction: String,
    /// Gold choice index (as a string) or extracted GSM8K reference answer.
    pub gold: String,
    /// Whether the headline metric counts this document as correct: acc_norm
    /// for ARC/HellaSwag, acc for MMLU/Winogrande, OLD acc or NEW strict
    /// exact match for GSM8K; TruthfulQA: mc1 under openllm-v1, and under
    /// lm-eval-0.4 (no mc1 requests) whether mc2 > 0.5. Values are in `metrics`.
    pub correct: bool,
    /// The generated text (GSM8K only).
    pub generated: Option<String>,
    /// Every per-document metric value, `(metric, value)` in METRICS order.
    pub metrics: Vec<(String, f64)>,
}

/// One row: a [`SampleDetail`] plus the per-request greedy flags.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailRow {
    pub sample: SampleDetail,
    pub is_greedy: Vec<bool>,
}

/// The details path for a results file `…/x.parquet`: `…/x.details.parquet`.
pub fn details_path(results_path: &Path) -> std::path::PathBuf {
    let stem = results_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    results_path.with_file_name(format!("{stem}{DETAILS_SUFFIX}"))
}

fn metric_fields() -> Fields {
    Fields::from(vec![
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
    ])
}

/// The Arrow schema of a details file.
pub fn schema() -> Schema {
    Schema::new(vec![
        Field::new("task", DataType::Utf8, false),
        Field::new("doc_id", DataType::Int64, false),
        Field::new("prompt_sha256", DataType::Utf8, false),
        Field::new(
            "loglikelihoods",
            DataType::List(Arc::new(Field::new("item", DataType::Float64, false))),
            false,
        ),
        Field::new(
            "is_greedy",
            DataType::List(Arc::new(Field::new("item", DataType::Boolean, false))),
            false,
        ),
        Field::new("prediction", DataType::Utf8, false),
        Field::new("gold", DataType::Utf8, false),
        Field::new("correct", DataType::Boolean, false),
        Field::new("generated", DataType::Utf8, true),
        Field::new(
            "metrics",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(metric_fields()),
                false,
            ))),
            false,
        ),
    ])
}

/// What [`crate::read`] needs to read a details file.
pub fn kind() -> Kind {
    Kind {
        name: "details file",
        version_key: DETAILS_VERSION_KEY,
        version: DETAILS_VERSION,
        schema: schema(),
        optional_columns: &[],
        limits: Limits::DETAILS,
    }
}

/// Encodes `rows` (sorted here by task, doc_id) as a record batch.
pub fn to_batch(rows: &[DetailRow]) -> RecordBatch {
    let mut rows: Vec<&DetailRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (a.sample.task.as_str(), a.sample.doc_id).cmp(&(b.sample.task.as_str(), b.sample.doc_id))
    });
    batch_in_order(&rows)
}

/// Encodes `rows` in the order given.
fn batch_in_order(rows: &[&DetailRow]) -> RecordBatch {
    let task = StringArray::from_iter_values(rows.iter().map(|r| r.sample.task.as_str()));
    let doc_id = Int64Array::from_iter_values(rows.iter().map(|r| r.sample.doc_id as i64));
    let sha = StringArray::from_iter_values(rows.iter().map(|r| r.sample.prompt_sha256.as_str()));
    let mut ll = ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Float64,
        false,
    )));
    let mut greedy = ListBuilder::new(BooleanBuilder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Boolean,
        false,
    )));
    let mut metrics = ListBuilder::new(StructBuilder::from_fields(metric_fields(), 0)).with_field(
        Arc::new(Field::new("item", DataType::Struct(metric_fields()), false)),
    );
    for r in rows {
        ll.values().append_slice(&r.sample.loglikelihoods);
        ll.append(true);
        for &g in &r.is_greedy {
            greedy.values().append_value(g);
        }
        greedy.append(true);
        let sb = metrics.values();
        for (m, v) in &r.sample.metrics {
            sb.field_builder::<StringBuilder>(0)
                .expect("metric field")
                .append_value(m);
            sb.field_builder::<Float64Builder>(1)
                .expect("value field")
                .append_value(*v);
            sb.append(true);
        }
        metrics.append(true);
    }
    let prediction =
        StringArray::from_iter_values(rows.iter().map(|r| r.sample.prediction.as_str()));
    let gold = StringArray::from_iter_values(rows.iter().map(|r| r.sample.gold.as_str()));
    let correct = BooleanArray::from(rows.iter().map(|r| r.sample.correct).collect::<Vec<_>>());
    let generated = StringArray::from(
        rows.iter()
            .map(|r| r.sample.generated.as_deref())
            .collect::<Vec<_>>(),
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(task),
        Arc::new(doc_id),
        Arc::new(sha),
        Arc::new(ll.finish()),
        Arc::new(greedy.finish()),
        Arc::new(prediction),
        Arc::new(gold),
        Arc::new(correct),
        Arc::new(generated),
        Arc::new(metrics.finish()),
    ];
    RecordBatch::try_new(Arc::new(schema()), columns).expect("columns built to match schema()")
}

/// Encodes `rows` as the bytes of a details Parquet file.
pub fn to_bytes(rows: &[DetailRow]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    encode(&to_batch(rows))
}

fn encode(batch: &RecordBatch) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_created_by("leaderboard-evaluator".to_string())
        .set_statistics_enabled(EnabledStatistics::None);
    crate::write::encode(batch, props, DETAILS_VERSION_KEY, DETAILS_VERSION, &[])
}

/// Writes a details file atomically and deterministically.
pub fn write_file(path: &Path, rows: &[DetailRow]) -> Result<(), ResultsError> {
    crate::write::write_file(path, to_bytes(rows))
}

/// Writes a shard's details file ([`crate::shard`]): `rows` in the order given (the
/// run's evaluation order), atomically and deterministically.
pub fn write_shard_file(path: &Path, rows: &[DetailRow]) -> Result<(), ResultsError> {
    let rows: Vec<&DetailRow> = rows.iter().collect();
    crate::write::write_file(path, encode(&batch_in_order(&rows)))
}

/// Reads a shard's details file ([`crate::shard`]): as [`read_rows`], but the rows stay in
/// the file's (evaluation) order, each (`task`, `doc_id`) at most once.
pub fn read_shard_rows(path: &Path) -> Result<Vec<DetailRow>, ResultsError> {
    let rows = decode_all(path)?;
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rows.iter().enumerate() {
        if !seen.insert((r.sample.task.as_str(), r.sample.doc_id)) {
            return Err(ResultsError::Value {
                path: path.to_path_buf(),
                row: i + 1,
                column: "doc_id".into(),
                message: format!(
                    "({}, {}) a second time; expected each document once",
                    r.sample.task, r.sample.doc_id
                ),
            });
        }
    }
    Ok(rows)
}

/// Reads a details file as record batches of [`schema`]'s types (every
/// field nullable), through [`crate::read`].
pub fn read(path: &Path) -> Result<Vec<RecordBatch>, ResultsError> {
    read::read(path, &kind())
}

/// Reads a details file and checks every row: no nulls outside `generated`,
/// a known task, `doc_id` within the task's documents, rows sorted by
/// (`task`, `doc_id`) without repeats, a sha256 prompt hash, `is_greedy` as
/// long as `loglikelihoods`, finite values. Returns the rows.
pub fn read_rows(path: &Path) -> Result<Vec<DetailRow>, ResultsError> {
    let out = decode_all(path)?;
    for (i, w) in out.windows(2).enumerate() {
        let (a, b) = (&w[0].sample, &w[1].sample);
        if (a.task.as_str(), a.doc_id) >= (b.task.as_str(), b.doc_id) {
            return Err(ResultsError::Value {
                path: path.to_path_buf(),
                row: i + 2,
                column: "doc_id".into(),
                message: format!(
                    "({}, {}) after ({}, {}); expected rows sorted by (task, doc_id), each once",
                    b.task, b.doc_id, a.task, a.doc_id
                ),
            });
        }
    }
    Ok(out)
}

/// Every row of a details file, in file order, each checked.
fn decode_all(path: &Path) -> Result<Vec<DetailRow>, ResultsError> {
    let batches = read(path)?;
    let mut out = Vec::new();
    for b in &batches {
        decode(path, b, out.len() + 1, &mut out)?;
    }
    Ok(out)
}

fn decode(
    path: &Path,
    b: &RecordBatch,
    first_row: usize,
    out: &mut Vec<DetailRow>,
) -> Result<(), ResultsError> {
    let err = |i: usize, column: &str, message: String| ResultsError::Value {
        path: path.to_path_buf(),
        row: first_row + i,
        column: column.to_string(),
        message,
    };
    fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
        b.column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .expect("normalized to the details schema")
    }
    let task: &StringArray = col(b, "task");
    let doc_id: &Int64Array = col(b, "doc_id");
    let sha: &StringArray = col(b, "prompt_sha256");
    let ll: &ListArray = col(b, "loglikelihoods");
    let greedy: &ListArray = col(b, "is_greedy");
    let prediction: &StringArray = col(b, "prediction");
    let gold: &StringArray = col(b, "gold");
    let correct: &BooleanArray = col(b, "correct");
    let generated: &StringArray = col(b, "generated");
    let metrics: &ListArray = col(b, "metrics");
    let ll_values = ll
        .values()
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("f64 items");
    let greedy_values = greedy
        .values()
        .as_any()
        .downcast_ref::<BooleanArray>()
        .expect("bool items");
    let m = metrics
        .values()
        .as_any()
        .downcast_ref::<StructArray>()
        .expect("struct items");
    let m_name = m
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("metric");
    let m_value = m
        .column(1)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("value");
    for i in 0..b.num_rows() {
        for (name, a) in [
            ("task", task as &dyn Array),
            ("doc_id", doc_id),
            ("prompt_sha256", sha),
            ("loglikelihoods", ll),
            ("is_greedy", greedy),
            ("prediction", prediction),
            ("gold", gold),
            ("correct", correct),
            ("metrics", metrics),
        ] {
            if a.is_null(i) {
                return Err(err(i, name, "null; expected a value".into()));
            }
        }
        let t = task.value(i);
        crate::schema::check_task_id(t).map_err(|e| err(i, "task", e))?;
        // An extra task's document count is unknown: only non-negative ids.
        let d = doc_id.value(i);
        let expected = match crate::schema::task_facts(t) {
            Some((_, n_docs)) if !(0..n_docs).contains(&d) => Some(format!("0..{n_docs} for {t}")),
            None if d < 0 => Some("a non-negative document index".to_string()),
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(err(i, "doc_id", format!("{d}; expected {expected}")));
        }
        if !crate::ids::is_valid_sha256(sha.value(i)) {
            return Err(err(
                i,
                "prompt_sha256",
                "expected 64 lowercase hex digits".into(),
            ));
        }
        let (ls, le) = (
            ll.value_offsets()[i] as usize,
            ll.value_offsets()[i + 1] as usize,
        );
        let (gs, ge) = (
            greedy.value_offsets()[i] as usize,
            greedy.value_offsets()[i + 1] as usize,
        );
        if le - ls != ge - gs {
            return Err(err(
                i,
                "is_greedy",
                format!(
                    "{} flags for {} log-likelihoods; expected one each",
                    ge - gs,
                    le - ls
                ),
            ));
        }
        let mut lls = Vec::with_capacity(le - ls);
        for j in ls..le {
            if ll_values.is_null(j) || !ll_values.value(j).is_finite() || ll_values.value(j) > 1e-6
            {
                return Err(err(
                    i,
                    "loglikelihoods",
                    "expected finite log-probabilities (<= 0)".into(),
                ));
            }
            lls.push(ll_values.value(j));
        }
        let mut flags = Vec::with_capacity(ge - gs);
        for j in gs..ge {
            if greedy_values.is_null(j) {
                return Err(err(i, "is_greedy", "null flag".into()));
            }
            flags.push(greedy_values.value(j));
        }
        let (ms, me) = (
            metrics.value_offsets()[i] as usize,
            metrics.value_offsets()[i + 1] as usize,
        );
        let mut ms_out = Vec::with_capacity(me - ms);
        for j in ms..me {
            if m_name.is_null(j) || m_value.is_null(j) || !m_value.value(j).is_finite() {
                return Err(err(
                    i,
                    "metrics",
                    "expected (metric, finite value) pairs".into(),
                ));
            }
            let name = m_name.value(j);
            crate::schema::check_metric(t, name).map_err(|e| err(i, "metrics", e))?;
            ms_out.push((name.to_string(), m_value.value(j)));
        }
        out.push(DetailRow {
            sample: SampleDetail {
                task: t.to_string(),
                doc_id: d as usize,
                prompt_sha256: sha.value(i).to_string(),
                loglikelihoods: lls,
                prediction: prediction.value(i).to_string(),
                gold: gold.value(i).to_string(),
                correct: correct.value(i),
                generated: generated
                    .is_valid(i)
                    .then(|| generated.value(i).to_string()),
                metrics: ms_out,
            },
            is_greedy: flags,
        });
    }
    Ok(())
}
