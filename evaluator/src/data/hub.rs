//! Benchmark splits from the Hugging Face Hub: the harness's dataset repos at pinned commits, Parquet files read into the same JSON records as the local JSONL loader.
//!
//! # Where each split comes from
//!
//! | task | Hub dataset repo | revision (commit) | file of split `S` | rows |
//! |---|---|---|---|---|
//! | `arc_challenge` | `allenai/ai2_arc` | `210d026faf9955653af8916fad021475a3f00453` | `ARC-Challenge/S-00000-of-00001.parquet` (S = train, validation, test) | 1119 / 299 / 1172 |
//! | `hellaswag` | `Rowan/hellaswag` | `218ec52e09a7e7462a5400043bb9a69a41d06b76` | `data/S-00000-of-00001.parquet` (train, validation) | 39905 / 10042 |
//! | `mmlu` | `cais/mmlu` | `c30699e8356da336a370243923dbaf21066bb9fe` | `all/S-00000-of-00001.parquet` (dev, validation, test) | 285 / 1531 / 14042 |
//! | `truthfulqa_mc` | `truthfulqa/truthful_qa` | `741b8276f2d1982aa3d5b832d3ee81ed3b896490` | `multiple_choice/validation-00000-of-00001.parquet` | 817 |
//! | `winogrande` | `allenai/winogrande` | `01e74176c63542e6b0bcb004dcdea22d94fb67b5` | `winogrande_xl/S-00000-of-00001.parquet` (train, validation) | 40398 / 1267 |
//! | `gsm8k` | `openai/gsm8k` | `740312add88f781978c0658806c59bc2815b9866` | `main/S-00000-of-00001.parquet` (train, test) | 7473 / 1319 |
//!
//! Provenance of the pins (no Hub access was available when this table was written; each
//! was found in public code that downloads or loads it):
//! * `allenai/ai2_arc@210d026f…`: pinned with the `ARC-Challenge/{train,validation}-…` URLs.
//! * `Rowan/hellaswag@218ec52e…`: pinned with `data/validation-…` (sha256 there:
//!   `899813071e1e95efafec90f856e1987d2150fa4d020fc005df6962c259f660cd`); `data/train-…` seen at `main`.
//! * `cais/mmlu@c30699e8…`: pinned with `all/{test,validation}-…`; `all/dev-…` seen at `main`.
//! * `truthfulqa/truthful_qa@741b8276…`: pinned as a `load_dataset` revision in several projects;
//!   `multiple_choice/validation-…` seen at `main` (sha256 there, 2026-08:
//!   `23f08e230ca4ed66babf3a72419af7cbde1f3d734dd396ac4cf6d088bd162afd`).
//! * `allenai/winogrande@01e74176…`: pinned under the repo's older id `winogrande` with
//!   `winogrande_debiased/…` URLs; the commit `data/benchmarks/SOURCES.md` names for
//!   its train split; `winogrande_xl/…` seen at `main`.
//! * `openai/gsm8k@740312ad…`: pinned as a `load_dataset` revision in several projects;
//!   `main/{train,test}-…` seen at `main`.
//!
//! So every pair (commit, path) is **UNVERIFIED against the live Hub**: the first real
//! download checks it, and a wrong one fails with the Hub's 404 naming repo, revision and file.
//!
//! MMLU: the harness reads the 57 per-subject configs (`<subject>/S-…parquet`); the `all`
//! config holds the same rows with their `subject` column, in one file per split, which is the
//! local loader's layout. The dev split's `dev` name is the Hub's own.
//!
//! # Record shape
//!
//! Each Parquet row becomes a JSON object with one member per column (lists → arrays,
//! structs → objects, integers → numbers). Then, per task, the fields the local files have
//! are checked (a missing or mistyped field is an error naming file, row and field), and
//! the Hub's encodings are turned into the local ones:
//! * `hellaswag.label`: the Hub stores a string (`"3"`); the local files an integer (`3`).
//! * `winogrande`: the Hub has no `qID` (the local validation file has; train has not).
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

macro_rules! split {
    ($task:literal, $split:literal, $repo:literal, $rev:literal, $file:literal) => {
        HubSplit {
            task: $task,
            split: $split,
            repo: $repo,
            revision: $rev,
            file: $file,
        }
    };
}

/// The table of the module docs.
pub const HUB_SPLITS: &[HubSplit] = &[
    split!(
        "arc_challenge",
        "train",
        "allenai/ai2_arc",
        "210d026faf9955653af8916fad021475a3f00453",
        "ARC-Challenge/train-00000-of-00001.parquet"
    ),
    split!(
        "arc_challenge",
        "validation",
        "allenai/ai2_arc",
        "210d026faf9955653af8916fad021475a3f00453",
        "ARC-Challenge/validation-00000-of-00001.parquet"
    ),
    split!(
        "arc_challenge",
        "test",
        "allenai/ai2_arc",
        "210d026faf9955653af8916fad021475a3f00453",
        "ARC-Challenge/test-00000-of-00001.parquet"
    ),
    split!(
        "hellaswag",
        "train",
        "Rowan/hellaswag",
        "218ec52e09a7e7462a5400043bb9a69a41d06b76",
        "data/train-00000-of-00001.parquet"
    ),
    split!(
        "hellaswag",
        "validation",
        "Rowan/hellaswag",
        "218ec52e09a7e7462a5400043bb9a69a41d06b76",
        "data/validation-00000-of-00001.parquet"
    ),
    split!(
        "mmlu",
        "dev",
        "cais/mmlu",
        "c30699e8356da336a370243923dbaf21066bb9fe",
        "all/dev-00000-of-00001.parquet"
    ),
    split!(
        "mmlu",
        "validation",
        "cais/mmlu",
        "c30699e8356da336a370243923dbaf21066bb9fe",
        "all/validation-00000-of-00001.parquet"
    ),
    split!(
        "mmlu",
        "test",
        "cais/mmlu",
        "c30699e8356da336a370243923dbaf21066bb9fe",
        "all/test-00000-of-00001.parquet"
    ),
    split!(
        "truthfulqa_mc",
        "validation",
        "truthfulqa/truthful_qa",
        "741b8276f2d1982aa3d5b832d3ee81ed3b896490",
        "multiple_choice/validation-00000-of-00001.parquet"
    ),
    split!(
        "winogrande",
        "train",
        "allenai/winogrande",
        "01e74176c63542e6b0bcb004dcdea22d94fb67b5",
        "winogrande_xl/train-00000-of-00001.parquet"
    ),
    split!(
        "winogrande",
        "validation",
        "allenai/winogrande",
        "01e74176c63542e6b0bcb004dcdea22d94fb67b5",
        "winogrande_xl/validation-00000-of-00001.parquet"
    ),
    split!(
        "gsm8k",
        "train",
        "openai/gsm8k",
        "740312add88f781978c0658806c59bc2815b9866",
        "main/train-00000-of-00001.parquet"
    ),
    split!(
        "gsm8k",
        "test",
        "openai/gsm8k",
        "740312add88f781978c0658806c59bc2815b9866",
        "main/test-00000-of-00001.parquet"
    ),
];

/// The Hub location of a task's split, if there is one.
pub fn hub_split(task: &str, split: &str) -> Option<&'static HubSplit> {
    HUB_SPLITS
        .iter()
        .find(|s| s.task == task && s.split == split)
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
        let known: Vec<String> = HUB_SPLITS
            .iter()
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

/// Turn a Hub row into the local record shape of `task` (see the module docs).
pub fn normalize(task: &str, rec: Value) -> anyhow::Result<Value> {
    let Value::Object(mut m) = rec else {
        bail!("expected a row object");
    };
    let need = |m: &Map<String, Value>, field: &str, ok: fn(&Value) -> bool, what: &str| match m
        .get(field)
    {
        None => Err(anyhow!("missing field `{field}`")),
        Some(v) if !ok(v) => Err(anyhow!("field `{field}`: expected {what}, got {v}")),
        Some(_) => Ok(()),
    };
    let s = |v: &Value| v.is_string();
    let int = |v: &Value| v.is_i64() || v.is_u64();
    let strs = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let ints = |v: &Value| {
        v.as_array()
            .is_some_and(|a| a.iter().all(|x| x.is_i64() || x.is_u64()))
    };
    match task {
        "arc_challenge" => {
            for f in ["id", "question", "answerKey"] {
                need(&m, f, s, "a string")?;
            }
            need(&m, "choices", Value::is_object, "an object {text, label}")?;
            let c = m["choices"].as_object().unwrap();
            for f in ["text", "label"] {
                need(c, f, strs, "a list of strings").context("in `choices`")?;
            }
        }
        "hellaswag" => {
            for f in [
                "activity_label",
                "ctx_a",
                "ctx_b",
                "ctx",
                "split",
                "split_type",
                "source_id",
            ] {
                need(&m, f, s, "a string")?;
            }
            need(&m, "ind", int, "an integer")?;
            need(&m, "endings", strs, "a list of strings")?;
            let label = match m.get("label") {
                None => bail!("missing field `label`"),
                Some(Value::String(t)) => t.trim().parse::<i64>().map_err(|_| {
                    anyhow!("field `label`: expected an integer as text, got {t:?}")
                })?,
                Some(v) if int(v) => v.as_i64().unwrap_or(-1),
                Some(v) => bail!("field `label`: expected an integer, got {v}"),
            };
            m.insert("label".into(), Value::from(label));
        }
        "mmlu" => {
            need(&m, "question", s, "a string")?;
            need(&m, "subject", s, "a string")?;
            need(&m, "choices", strs, "a list of strings")?;
            need(&m, "answer", int, "an integer")?;
        }
        "truthfulqa_mc" => {
            need(&m, "question", s, "a string")?;
            for t in ["mc1_targets", "mc2_targets"] {
                need(&m, t, Value::is_object, "an object {choices, labels}")?;
                let o = m[t].as_object().unwrap();
                need(o, "choices", strs, "a list of strings")
                    .with_context(|| format!("in `{t}`"))?;
                need(o, "labels", ints, "a list of integers")
                    .with_context(|| format!("in `{t}`"))?;
            }
        }
        "winogrande" => {
            for f in ["sentence", "option1", "option2", "answer"] {
                need(&m, f, s, "a string")?;
            }
        }
        "gsm8k" => {
            need(&m, "question", s, "a string")?;
            need(&m, "answer", s, "a string")?;
        }
        other => bail!("unknown task '{other}'"),
    }
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
        for s in HUB_SPLITS {
            assert!(tasks.contains(&s.task));
            assert!(crate::hub::is_commit_sha(s.revision), "{s:?}");
            assert!(
                s.file.ends_with(".parquet") && s.file.contains(s.split),
                "{s:?}"
            );
            assert!(expected_count(s.task, s.split).is_some(), "{s:?}");
        }
        assert_eq!(HUB_SPLITS.len(), 13);
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
