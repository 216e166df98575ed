//! Benchmark splits from the Hugging Face Hub: the harness's dataset repos at pinned commits, Parquet files read into the same JSON records as the local JSONL loader.
//!
//! # Where each split comes from
//!
//! Each task's spec (`tasks/<x>.rs`, listed in `tasks::registry`) names, per split, the
//! Hub dataset repo, the pinned commit and the Parquet file; [`hub_splits`] lists them
//! all. Today: `allenai/ai2_arc` (`ARC-Challenge/S-…`), `Rowan/hellaswag` (`data/S-…`),
//! `cais/mmlu` (`all/S-…`), `truthfulqa/truthful_qa` (`multiple_choice/validation-…`),
//! `allenai/winogrande` (`winogrande_xl/S-…`), `openai/gsm8k` (`main/S-…`), each file
//! `S-00000-of-00001.parquet`.
//!
//! No Hub access was available when those pins were written: each was found in public
//! code that downloads or loads it (the task's module docs say where). So every pair
//! (commit, path) is **UNVERIFIED against the live Hub**: the first real download checks
//! it, and a wrong one fails with the Hub's 404 naming repo, revision and file.
//!
//! # Record shape
//!
//! Each Parquet row becomes a JSON object with one member per column (lists → arrays,
//! structs → objects, integers → numbers). Then the task spec's `hub_row` checks the
//! fields the local files have (a missing or mistyped field is an error naming file, row
//! and field) and turns the Hub's encodings into the local ones (HellaSwag's `label`).
//!
//! Rows keep the file's order. Row numbers in errors are 1-based.
//!
//! # Use
//!
//! [`HubData`] is a [`DataSource`] for the task layer; [`data_source`] maps a `--data` value
//! (`hub` or a folder) to one. The Hub also has HellaSwag's train split (39,905 rows), the
//! canonical few-shot pool that `data/benchmarks` lacks.

use crate::data::{expected_count, DataError, DataSource, LocalDir, Records};
use crate::hub::{Hub, HubConfig, RepoKind};
use crate::tasks::registry;
use crate::tasks::spec::{Split, TaskSpec};
use anyhow::{anyhow, bail, Context};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One split of one task on the Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubSplit {
    pub task: &'static str,
    pub split: &'static str,
    pub repo: &'static str,
    pub revision: &'static str,
    pub file: &'static str,
}

impl HubSplit {
    fn new(task: &'static TaskSpec, split: &'static Split) -> HubSplit {
        HubSplit {
            task: task.id,
            split: split.name,
            repo: split.hub.repo,
            revision: split.hub.revision,
            file: split.hub.file,
        }
    }
}

/// Every task's splits on the Hub, task after task (registry order).
pub fn hub_splits() -> impl Iterator<Item = HubSplit> {
    registry::TASKS
        .iter()
        .flat_map(|t| t.splits.iter().map(move |s| HubSplit::new(t, s)))
}

/// The Hub location of a task's split, if there is one.
pub fn hub_split(task: &str, split: &str) -> Option<HubSplit> {
    let t = registry::find(task)?;
    Some(HubSplit::new(t, t.split(split)?))
}

/// The records of `task`'s `split` from the Hub, with the configuration from the environment
/// (`HF_HOME`, `HF_ENDPOINT`, `HF_HUB_OFFLINE`, …).
pub fn load_split(task: &str, split: &str) -> anyhow::Result<Vec<Value>> {
    let hub = Hub::new(HubConfig::from_env())?;
    Ok(load_split_with(&hub, task, split)?
        .rows
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// [`load_split`] with an explicit client; the records carry their origin and row numbers.
pub fn load_split_with(hub: &Hub, task: &str, split: &str) -> anyhow::Result<Records> {
    let s = hub_split(task, split).ok_or_else(|| {
        let known: Vec<String> = hub_splits()
            .map(|s| format!("{}/{}", s.task, s.split))
            .collect();
        anyhow!(
            "no Hub source for {task}/{split} (known: {})",
            known.join(", ")
        )
    })?;
    let f = hub.file(RepoKind::Dataset, s.repo, s.revision, s.file, None)?;
    let origin = format!(
        "{} (Hub dataset {}@{} {})",
        f.path.display(),
        s.repo,
        f.commit,
        s.file
    );
    let raw = read_parquet_records(&f.path)?;
    let mut rows = Vec::with_capacity(raw.len());
    for (i, rec) in raw.into_iter().enumerate() {
        let v = normalize(task, rec).map_err(|e| anyhow!("{origin}: row {}: {e}", i + 1))?;
        rows.push((i + 1, v));
    }
    if let Some(n) = expected_count(task, split) {
        if rows.len() != n {
            bail!(
                "{origin}: expected {n} records for {task}/{split}, found {}",
                rows.len()
            );
        }
    }
    Ok(Records { origin, rows })
}

/// The Hub as a [`DataSource`] for the task layer (`--data hub`).
pub struct HubData {
    pub hub: Hub,
}

impl HubData {
    /// The Hub configured from the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(HubData {
            hub: Hub::new(HubConfig::from_env())?,
        })
    }
}

impl DataSource for HubData {
    fn records(&self, task: &str, split: &str) -> Result<Option<Records>, DataError> {
        let Some(s) = hub_split(task, split) else {
            return Ok(None);
        };
        load_split_with(&self.hub, task, split)
            .map(Some)
            .map_err(|e| DataError::File {
                file: format!("Hub dataset {}@{} {}", s.repo, s.revision, s.file),
                message: format!("{e:#}"),
            })
    }

    fn describe(&self) -> String {
        let c = self.hub.config();
        format!(
            "Hugging Face Hub {} (cache {}{})",
            c.endpoint,
            c.cache_dir.display(),
            if c.offline { ", offline" } else { "" }
        )
    }
}

/// The data source a `--data` value names: `hub` for the Hub (configured from the
/// environment), else a local folder (`default_dir` when absent).
pub fn data_source(
    data: Option<&Path>,
    default_dir: impl FnOnce() -> PathBuf,
) -> anyhow::Result<Box<dyn DataSource>> {
    Ok(match data {
        Some(p) if p == Path::new("hub") => Box::new(HubData::from_env()?),
        Some(p) => Box::new(LocalDir::new(p)),
        None => Box::new(LocalDir::new(default_dir())),
    })
}

/// Turn a Hub row into the local record shape of `task` (its spec's `hub_row`; see the
/// module docs).
pub fn normalize(task: &str, rec: Value) -> anyhow::Result<Value> {
    let Value::Object(mut m) = rec else {
        bail!("expected a row object");
    };
    let spec = registry::find(task).ok_or_else(|| anyhow!("unknown task '{task}'"))?;
    (spec.hub_row)(&mut m)?;
    Ok(Value::Object(m))
}

/// Every row of a Parquet file as a JSON object (one member per top-level column). Errors
/// name the file, and the column for unsupported types.
pub fn read_parquet_records(path: &Path) -> anyhow::Result<Vec<Value>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("{}: cannot open Parquet file", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{}: not a readable Parquet file", path.display()))?
        .with_batch_size(4096)
        .build()
        .with_context(|| format!("{}: cannot read Parquet file", path.display()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.with_context(|| {
            format!(
                "{}: corrupt Parquet data after row {}",
                path.display(),
                out.len()
            )
        })?;
        batch_to_json(&batch, &mut out).with_context(|| path.display().to_string())?;
    }
    Ok(out)
}

fn batch_to_json(batch: &RecordBatch, out: &mut Vec<Value>) -> anyhow::Result<()> {
    let schema = batch.schema();
    let start = out.len();
    out.extend((0..batch.num_rows()).map(|_| Value::Object(Map::new())));
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        for row in 0..batch.num_rows() {
            let v =
                cell(col.as_ref(), row).with_context(|| format!("column `{}`", field.name()))?;
            if let Value::Object(m) = &mut out[start + row] {
                m.insert(field.name().clone(), v);
            }
        }
    }
    Ok(())
}

/// One Arrow value as JSON.
fn cell(a: &dyn Array, i: usize) -> anyhow::Result<Value> {
    if a.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match a.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
        DataType::Int8 => a.as_primitive::<Int8Type>().value(i).into(),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(i).into(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).into(),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(i).into(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).into(),
        DataType::Float32 => finite(a.as_primitive::<Float32Type>().value(i) as f64)?,
        DataType::Float64 => finite(a.as_primitive::<Float64Type>().value(i))?,
        DataType::Utf8 => a.as_string::<i32>().value(i).into(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).into(),
        DataType::Utf8View => a.as_string_view().value(i).into(),
        DataType::List(_) => list(a.as_list::<i32>().value(i).as_ref())?,
        DataType::LargeList(_) => list(a.as_list::<i64>().value(i).as_ref())?,
        DataType::FixedSizeList(_, _) => list(a.as_fixed_size_list().value(i).as_ref())?,
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let mut m = Map::new();
            for (f, child) in fields.iter().zip(s.columns()) {
                m.insert(
                    f.name().clone(),
                    cell(child.as_ref(), i).with_context(|| format!("field `{}`", f.name()))?,
                );
            }
            Value::Object(m)
        }
        other => bail!("unsupported Arrow type {other}"),
    })
}

fn list(values: &dyn Array) -> anyhow::Result<Value> {
    (0..values.len())
        .map(|j| cell(values, j))
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Value::Array)
}

fn finite(x: f64) -> anyhow::Result<Value> {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| anyhow!("non-finite number {x}"))
}

/// Where `hub_split(task, split)` would be cached for `cfg` (for messages and tests).
pub fn cached_path(cfg: &HubConfig, s: &HubSplit) -> PathBuf {
    let mut p = cfg
        .cache_dir
        .join(format!("datasets--{}", s.repo.replace('/', "--")))
        .join("snapshots")
        .join(s.revision);
    for part in s.file.split('/') {
        p.push(part);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_is_complete_and_pinned() {
        let tasks = [
            "arc_challenge",
            "hellaswag",
            "mmlu",
            "truthfulqa_mc",
            "winogrande",
            "gsm8k",
        ];
        for s in hub_splits() {
            assert!(tasks.contains(&s.task));
            assert!(crate::hub::is_commit_sha(s.revision), "{s:?}");
            assert!(
                s.file.ends_with(".parquet") && s.file.contains(s.split),
                "{s:?}"
            );
            assert!(expected_count(s.task, s.split).is_some(), "{s:?}");
        }
        assert_eq!(hub_splits().count(), 13);
        assert!(hub_split("hellaswag", "test").is_none());
    }

    #[test]
    fn hellaswag_label_becomes_int() {
        let rec = json!({"ind": 4, "activity_label": "a", "ctx_a": "b", "ctx_b": "", "ctx": "b",
            "split": "val", "split_type": "indomain", "label": "3", "endings": ["w","x","y","z"],
            "source_id": "s"});
        assert_eq!(
            normalize("hellaswag", rec.clone()).unwrap()["label"],
            json!(3)
        );
        let mut bad = rec.clone();
        bad["label"] = json!("");
        let e = normalize("hellaswag", bad).unwrap_err().to_string();
        assert!(e.contains("label"), "{e}");
        let mut missing = rec;
        missing.as_object_mut().unwrap().remove("ctx");
        let e = normalize("hellaswag", missing).unwrap_err().to_string();
        assert!(e.contains("missing field `ctx`"), "{e}");
    }

    #[test]
    fn nested_fields_are_checked() {
        let rec = json!({"question": "q", "mc1_targets": {"choices": ["a"], "labels": [1]},
            "mc2_targets": {"choices": ["a"], "labels": ["1"]}});
        let e = format!("{:#}", normalize("truthfulqa_mc", rec).unwrap_err());
        assert!(e.contains("mc2_targets") && e.contains("labels"), "{e}");
    }
}
