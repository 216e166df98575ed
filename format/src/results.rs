//! Results files: the column layout documented in [`crate::schema`], written
//! deterministically (sorted rows, fixed writer properties, zstd, the content
//! checksum) and read back through [`crate::read`] with every column, type,
//! null and enum value checked.

use crate::read::{self, Kind, Limits};
use crate::schema::{self, Provenance, Run, Score, FORMAT_VERSION, FORMAT_VERSION_KEY};
use crate::ResultsError;
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch,
    StringArray, StructArray, TimestampSecondArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use std::path::Path;
use std::sync::Arc;

/// `created_by` written into every file (fixed, so bytes do not depend on the
/// parquet crate's version string).
const CREATED_BY: &str = "leaderboard results writer";

fn utc() -> Option<Arc<str>> {
    Some("UTC".into())
}

fn score_fields() -> Fields {
    Fields::from(vec![
        Field::new("task", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("stderr", DataType::Float64, true),
        Field::new("n_samples", DataType::Int64, true),
        Field::new("num_fewshot", DataType::Int32, true),
    ])
}

fn deviations_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Utf8, false))
}

fn scores_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(score_fields()), false))
}

/// Columns a results file may lack (read as null): added after version 1 was published.
pub const OPTIONAL_COLUMNS: &[&str] = &["run_config"];

/// The Arrow schema of a results file (the table in [`crate::schema`]).
pub fn arrow_schema() -> Schema {
    let ts = DataType::Timestamp(TimeUnit::Second, utc());
    Schema::new(vec![
        Field::new("model_id", DataType::Utf8, false),
        Field::new("revision", DataType::Utf8, true),
        Field::new("precision", DataType::Utf8, false),
        Field::new("precision_detail", DataType::Utf8, true),
        Field::new("weight_type", DataType::Utf8, false),
        Field::new("base_model", DataType::Utf8, true),
        Field::new("model_type", DataType::Utf8, false),
        Field::new("architecture", DataType::Utf8, true),
        Field::new("params_billions", DataType::Float64, true),
        Field::new("params_truncated", DataType::Boolean, false),
        Field::new("license", DataType::Utf8, true),
        Field::new("is_merge", DataType::Boolean, false),
        Field::new("is_moe", DataType::Boolean, false),
        Field::new("available_on_hub", DataType::Boolean, true),
        Field::new("hub_likes", DataType::Int64, true),
        Field::new("submitted_at", ts.clone(), true),
        Field::new("evaluated_at", ts, true),
        Field::new("weights_sha256", DataType::Utf8, true),
        Field::new("tool", DataType::Utf8, false),
        Field::new("tool_version", DataType::Utf8, true),
        Field::new("suite", DataType::Utf8, false),
        Field::new("source_dataset", DataType::Utf8, true),
        Field::new("run_config", DataType::Utf8, true),
        Field::new("deviations", DataType::List(deviations_item()), false),
        Field::new("reported_average", DataType::Float64, true),
        Field::new("scores", DataType::List(scores_item()), false),
    ])
}

/// What [`crate::read`] needs to read a results file.
pub fn kind() -> Kind {
    Kind {
        name: "results file",
        version_key: FORMAT_VERSION_KEY,
        version: FORMAT_VERSION,
        schema: arrow_schema(),
        optional_columns: OPTIONAL_COLUMNS,
        limits: Limits::RESULTS,
    }
}

/// The writer properties: fixed, so equal inputs give byte-identical files.
fn writer_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(9).expect("valid zstd level"),
        ))
        .set_created_by(CREATED_BY.to_string())
        .set_max_row_group_size(1 << 20)
}

/// Runs in the order they are written: by identity, then by the remaining
/// fields that make rows differ (so even duplicates have a fixed order), with
/// scores sorted by (task, metric).
fn sorted(runs: &[Run]) -> Vec<Run> {
    let mut runs: Vec<Run> = runs.to_vec();
    for r in &mut runs {
        r.scores
            .sort_by(|a, b| (&a.task, &a.metric).cmp(&(&b.task, &b.metric)));
    }
    runs.sort_by(|a, b| {
        a.key()
            .cmp(&b.key())
            .then_with(|| a.provenance.tool.cmp(&b.provenance.tool))
            .then_with(|| a.provenance.suite.cmp(&b.provenance.suite))
            .then_with(|| a.evaluated_at.cmp(&b.evaluated_at))
            .then_with(|| a.submitted_at.cmp(&b.submitted_at))
    });
    runs
}

/// Builds the record batch for `runs` (already in file order).
pub fn to_record_batch(runs: &[Run]) -> RecordBatch {
    fn s<'a>(f: impl Fn(&'a Run) -> Option<&'a str>, runs: &'a [Run]) -> ArrayRef {
        Arc::new(runs.iter().map(f).collect::<StringArray>())
    }
    fn ts(f: impl Fn(&Run) -> Option<DateTime<Utc>>, runs: &[Run]) -> ArrayRef {
        Arc::new(
            TimestampSecondArray::from(
                runs.iter()
                    .map(|r| f(r).map(|t| t.timestamp()))
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        )
    }
    let mut deviations = ListBuilder::new(StringBuilder::new()).with_field(deviations_item());
    for r in runs {
        for d in &r.provenance.deviations {
            deviations.values().append_value(d);
        }
        deviations.append(true);
    }
    let all: Vec<&Score> = runs.iter().flat_map(|r| &r.scores).collect();
    let score_columns: Vec<ArrayRef> = vec![
        Arc::new(
            all.iter()
                .map(|x| Some(x.task.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            all.iter()
                .map(|x| Some(x.metric.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(all.iter().map(|x| Some(x.value)).collect::<Float64Array>()),
        Arc::new(all.iter().map(|x| x.stderr).collect::<Float64Array>()),
        Arc::new(all.iter().map(|x| x.n_samples).collect::<Int64Array>()),
        Arc::new(all.iter().map(|x| x.num_fewshot).collect::<Int32Array>()),
    ];
    let scores = ListArray::new(
        scores_item(),
        OffsetBuffer::from_lengths(runs.iter().map(|r| r.scores.len())),
        Arc::new(StructArray::new(score_fields(), score_columns, None)),
        None,
    );
    let columns: Vec<ArrayRef> = vec![
        s(|r| Some(&r.model_id), runs),
        s(|r| r.revision.as_deref(), runs),
        s(|r| Some(r.precision.as_str()), runs),
        s(|r| r.precision_detail.as_deref(), runs),
        s(|r| Some(r.weight_type.as_str()), runs),
        s(|r| r.base_model.as_deref(), runs),
        s(|r| Some(r.model_type.as_str()), runs),
        s(|r| r.architecture.as_deref(), runs),
        Arc::new(
            runs.iter()
                .map(|r| r.params_billions)
                .collect::<Float64Array>(),
        ),
        Arc::new(
            runs.iter()
                .map(|r| Some(r.params_truncated))
                .collect::<BooleanArray>(),
        ),
        s(|r| r.license.as_deref(), runs),
        Arc::new(
            runs.iter()
                .map(|r| Some(r.is_merge))
                .collect::<BooleanArray>(),
        ),
        Arc::new(
            runs.iter()
                .map(|r| Some(r.is_moe))
                .collect::<BooleanArray>(),
        ),
        Arc::new(
            runs.iter()
                .map(|r| r.available_on_hub)
                .collect::<BooleanArray>(),
        ),
        Arc::new(runs.iter().map(|r| r.hub_likes).collect::<Int64Array>()),
        ts(|r| r.submitted_at, runs),
        ts(|r| r.evaluated_at, runs),
        s(|r| r.weights_sha256.as_deref(), runs),
        s(|r| Some(&r.provenance.tool), runs),
        s(|r| r.provenance.tool_version.as_deref(), runs),
        s(|r| Some(&r.provenance.suite), runs),
        s(|r| r.provenance.source_dataset.as_deref(), runs),
        s(|r| r.provenance.run_config.as_deref(), runs),
        Arc::new(deviations.finish()),
        Arc::new(
            runs.iter()
                .map(|r| r.reported_average)
                .collect::<Float64Array>(),
        ),
        Arc::new(scores),
    ];
    RecordBatch::try_new(Arc::new(arrow_schema()), columns)
        .expect("columns built to match arrow_schema()")
}

/// Encodes runs as the bytes of a results file (rows sorted, see the module docs).
pub fn to_bytes(runs: &[Run]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let batch = to_record_batch(&sorted(runs));
    crate::write::encode(
        &batch,
        writer_properties(),
        FORMAT_VERSION_KEY,
        FORMAT_VERSION,
        OPTIONAL_COLUMNS,
    )
}

/// Writes runs to `path` (creating parent folders): sorted by identity, scores
/// by (task, metric), so equal inputs give byte-identical files. Atomic: the
/// bytes go to a hidden temporary file in the same folder, which is then
/// renamed over `path`, so a failure never leaves a half-written file.
pub fn write_file(path: &Path, runs: &[Run]) -> Result<(), ResultsError> {
    crate::write::write_file(path, to_bytes(runs))
}

/// Reads one results file through [`crate::read`] (bounded, panic-free,
/// types normalized, checksum verified where present), then checks nulls in
/// non-null columns and enum values; any bad value is reported with path,
/// 1-based row and column. Score ranges, task and metric names and the
/// consistency rules are checked by [`crate::check`], not here.
pub fn read_file(path: &Path) -> Result<Vec<Run>, ResultsError> {
    let mut runs = Vec::new();
    for batch in &read::read(path, &kind())? {
        let first_row = runs.len() + 1;
        runs.extend(decode_batch(path, batch, first_row)?);
    }
    Ok(runs)
}

/// Typed access to one batch's columns, with errors naming path, row and column.
struct Cols<'a> {
    path: &'a Path,
    batch: &'a RecordBatch,
    first_row: usize,
}

impl<'a> Cols<'a> {
    fn col<T: 'static>(&self, name: &str) -> &'a T {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .expect("schema checked before decoding")
    }

    fn err(&self, i: usize, column: &str, message: impl Into<String>) -> ResultsError {
        ResultsError::Value {
            path: self.path.to_path_buf(),
            row: self.first_row + i,
            column: column.to_string(),
            message: message.into(),
        }
    }

    fn opt_str(&self, name: &str, i: usize) -> Option<String> {
        let a: &StringArray = self.col(name);
        a.is_valid(i).then(|| a.value(i).to_string())
    }

    fn str(&self, name: &str, i: usize) -> Result<String, ResultsError> {
        self.opt_str(name, i)
            .ok_or_else(|| self.err(i, name, "null; expected a string"))
    }

    fn parse<T: std::str::FromStr<Err = String>>(
        &self,
        name: &str,
        i: usize,
    ) -> Result<T, ResultsError> {
        self.str(name, i)?
            .parse()
            .map_err(|e: String| self.err(i, name, e))
    }

    fn opt_f64(&self, name: &str, i: usize) -> Option<f64> {
        let a: &Float64Array = self.col(name);
        a.is_valid(i).then(|| a.value(i))
    }

    fn opt_bool(&self, name: &str, i: usize) -> Option<bool> {
        let a: &BooleanArray = self.col(name);
        a.is_valid(i).then(|| a.value(i))
    }

    fn bool(&self, name: &str, i: usize) -> Result<bool, ResultsError> {
        self.opt_bool(name, i)
            .ok_or_else(|| self.err(i, name, "null; expected true or false"))
    }

    fn opt_ts(&self, name: &str, i: usize) -> Result<Option<DateTime<Utc>>, ResultsError> {
        let a: &TimestampSecondArray = self.col(name);
        if a.is_null(i) {
            return Ok(None);
        }
        let v = a.value(i);
        DateTime::from_timestamp(v, 0)
            .map(Some)
            .ok_or_else(|| self.err(i, name, format!("{v} is not a valid timestamp in seconds")))
    }

    fn list<T: 'static>(
        &self,
        name: &str,
        i: usize,
    ) -> Result<(usize, usize, &'a T), ResultsError> {
        let a: &ListArray = self.col(name);
        if a.is_null(i) {
            return Err(self.err(i, name, "null; expected a list (empty if none)"));
        }
        let offsets = a.value_offsets();
        let values = a
            .values()
            .as_any()
            .downcast_ref::<T>()
            .expect("schema checked before decoding");
        Ok((offsets[i] as usize, offsets[i + 1] as usize, values))
    }
}

fn decode_batch(
    path: &Path,
    batch: &RecordBatch,
    first_row: usize,
) -> Result<Vec<Run>, ResultsError> {
    let c = Cols {
        path,
        batch,
        first_row,
    };
    let mut runs = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let (start, end, dev) = c.list::<StringArray>("deviations", i)?;
        let mut deviations = Vec::with_capacity(end - start);
        for j in start..end {
            if dev.is_null(j) {
                return Err(c.err(
                    i,
                    "deviations",
                    format!("item {} is null; expected a string", j - start + 1),
                ));
            }
            deviations.push(dev.value(j).to_string());
        }
        let (start, end, sc) = c.list::<StructArray>("scores", i)?;
        let mut scores = Vec::with_capacity(end - start);
        {
            let f = |n: &str| sc.column_by_name(n).expect("schema checked");
            let task = f("task")
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("schema checked");
            let metric = f("metric")
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("schema checked");
            let value = f("value")
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("schema checked");
            let stderr = f("stderr")
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("schema checked");
            let n = f("n_samples")
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("schema checked");
            let shots = f("num_fewshot")
                .as_any()
                .downcast_ref::<Int32Array>()
                .expect("schema checked");
            for j in start..end {
                let k = j - start + 1;
                let col = |field: &str| format!("scores[{k}].{field}");
                if sc.is_null(j) {
                    return Err(c.err(i, &format!("scores[{k}]"), "null; expected a score struct"));
                }
                for (name, arr) in [
                    ("task", task as &dyn Array),
                    ("metric", metric),
                    ("value", value),
                ] {
                    if arr.is_null(j) {
                        return Err(c.err(i, &col(name), "null; expected a value"));
                    }
                }
                scores.push(Score {
                    task: task.value(j).to_string(),
                    metric: metric.value(j).to_string(),
                    value: value.value(j),
                    stderr: stderr.is_valid(j).then(|| stderr.value(j)),
                    n_samples: n.is_valid(j).then(|| n.value(j)),
                    num_fewshot: shots.is_valid(j).then(|| shots.value(j)),
                });
            }
        }
        let hub_likes = {
            let a: &Int64Array = c.col("hub_likes");
            a.is_valid(i).then(|| a.value(i))
        };
        runs.push(Run {
            model_id: c.str("model_id", i)?,
            revision: c.opt_str("revision", i),
            precision: c.parse::<schema::Precision>("precision", i)?,
            precision_detail: c.opt_str("precision_detail", i),
            weight_type: c.parse::<schema::WeightType>("weight_type", i)?,
            base_model: c.opt_str("base_model", i),
            model_type: c.parse::<schema::ModelType>("model_type", i)?,
            architecture: c.opt_str("architecture", i),
            params_billions: c.opt_f64("params_billions", i),
            params_truncated: c.bool("params_truncated", i)?,
            license: c.opt_str("license", i),
            is_merge: c.bool("is_merge", i)?,
            is_moe: c.bool("is_moe", i)?,
            available_on_hub: c.opt_bool("available_on_hub", i),
            hub_likes,
            submitted_at: c.opt_ts("submitted_at", i)?,
            evaluated_at: c.opt_ts("evaluated_at", i)?,
            weights_sha256: c.opt_str("weights_sha256", i),
            provenance: Provenance {
                tool: c.str("tool", i)?,
                tool_version: c.opt_str("tool_version", i),
                suite: c.str("suite", i)?,
                source_dataset: c.opt_str("source_dataset", i),
                run_config: c.opt_str("run_config", i),
                deviations,
            },
            reported_average: c.opt_f64("reported_average", i),
            scores,
        });
    }
    Ok(runs)
}
