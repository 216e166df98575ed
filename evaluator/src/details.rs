//! Per-sample details of a run, written as a Parquet file beside its results file.
//!
//! # Details format, version 1
//!
//! `<results stem>.details.parquet` next to `<results stem>.parquet`, one row
//! per evaluated document, sorted by (`task`, `doc_id`). File key-value
//! metadata: [`DETAILS_VERSION_KEY`] = [`DETAILS_VERSION`]. A details file is
//! not a results file: the results reader and `leaderboard check` skip names
//! ending in [`DETAILS_SUFFIX`].
//!
//! | column | Arrow type | null | meaning |
//! |---|---|---|---|
//! | `task` | Utf8 | no | task id: `arc_challenge`, `hellaswag`, `mmlu_<subject>`, `truthfulqa_mc`, `winogrande`, `gsm8k` |
//! | `doc_id` | Int64 | no | index of the document in its evaluation split, dataset order |
//! | `prompt_sha256` | Utf8 | no | sha256 (hex) of the UTF-8 prompt (context of the first request) |
//! | `loglikelihoods` | List<Float64> | no | summed log-probability of each request's continuation, request order (empty for GSM8K) |
//! | `is_greedy` | List<Boolean> | no | per request: every continuation token was the argmax |
//! | `prediction` | Utf8 | no | predicted choice index, or the extracted GSM8K answer |
//! | `gold` | Utf8 | no | gold choice index, or the extracted GSM8K reference answer |
//! | `correct` | Boolean | no | the headline metric counts the document as correct (TruthfulQA: mc1 under `openllm-v1`) |
//! | `generated` | Utf8 | yes | GSM8K: the generated text cut at the stop strings |
//! | `metrics` | List<Struct<metric: Utf8, value: Float64>> | no | every per-document metric value |
//!
//! Writing is atomic (temporary file in the same folder, then rename) and
//! deterministic (fixed writer settings, no timestamps).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, ListBuilder, StringBuilder, StructBuilder,
};
use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Fields, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::format::KeyValue;

use crate::requests::SampleDetail;

/// Key of the file metadata entry holding the details format version (owned
/// by the results contract, `leaderboard::schema`, which `check` reads).
pub use leaderboard::schema::DETAILS_FORMAT_VERSION_KEY as DETAILS_VERSION_KEY;
/// File-name ending that marks a details file.
pub use leaderboard::schema::DETAILS_SUFFIX;
/// The version this code writes.
pub const DETAILS_VERSION: u32 = 1;

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

/// Encodes `rows` (sorted here by task, doc_id) as a record batch.
pub fn to_batch(rows: &[DetailRow]) -> Result<RecordBatch> {
    let mut rows: Vec<&DetailRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (a.sample.task.as_str(), a.sample.doc_id).cmp(&(b.sample.task.as_str(), b.sample.doc_id))
    });
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
    for r in &rows {
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
    RecordBatch::try_new(Arc::new(schema()), columns).context("building the details table")
}

/// Encodes `rows` as the bytes of a details Parquet file.
pub fn to_bytes(rows: &[DetailRow]) -> Result<Vec<u8>> {
    let batch = to_batch(rows)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_created_by("leaderboard-evaluator".to_string())
        .set_statistics_enabled(EnabledStatistics::None)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            DETAILS_VERSION_KEY.to_string(),
            DETAILS_VERSION.to_string(),
        )]))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    w.write(&batch)?;
    w.close()?;
    Ok(buf)
}

/// Reads a details file back as record batches (for tests and tools).
pub fn read(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{}: not a Parquet file", path.display()))?
        .build()?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", path.display()))
}
