//! Writes benchmark records as Parquet files shaped like the Hugging Face Hub's (column types, HellaSwag's string label, no Winogrande qID, Snappy), for the Hub tests.

use arrow_array::builder::{Int32Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use std::sync::Arc;

/// Column types the six datasets use on the Hub.
pub enum Col {
    Str,
    I32,
    I64,
    ListStr,
    ListI32,
    Struct(Vec<(&'static str, Col)>),
}

/// The Hub's column layout of a task (see `hub_datasets` docs).
pub fn hf_columns(task: &str) -> Vec<(&'static str, Col)> {
    use Col::*;
    match task {
        "arc_challenge" => vec![
            ("id", Str),
            ("question", Str),
            (
                "choices",
                Struct(vec![("text", ListStr), ("label", ListStr)]),
            ),
            ("answerKey", Str),
        ],
        "hellaswag" => vec![
            ("ind", I32),
            ("activity_label", Str),
            ("ctx_a", Str),
            ("ctx_b", Str),
            ("ctx", Str),
            ("endings", ListStr),
            ("source_id", Str),
            ("split", Str),
            ("split_type", Str),
            ("label", Str),
        ],
        "mmlu" => vec![
            ("question", Str),
            ("subject", Str),
            ("choices", ListStr),
            ("answer", I64),
        ],
        "truthfulqa_mc" => vec![
            ("question", Str),
            (
                "mc1_targets",
                Struct(vec![("choices", ListStr), ("labels", ListI32)]),
            ),
            (
                "mc2_targets",
                Struct(vec![("choices", ListStr), ("labels", ListI32)]),
            ),
        ],
        "winogrande" => vec![
            ("sentence", Str),
            ("option1", Str),
            ("option2", Str),
            ("answer", Str),
        ],
        "gsm8k" => vec![("question", Str), ("answer", Str)],
        t => panic!("unknown task {t}"),
    }
}

/// A local record as the Hub stores it: HellaSwag's label as a string.
pub fn to_hf(task: &str, rec: &Value) -> Value {
    let mut r = rec.clone();
    if task == "hellaswag" {
        let l = r["label"].as_i64().expect("int label");
        r["label"] = Value::String(l.to_string());
    }
    r
}

fn build(col: &Col, vals: &[&Value], name: &str) -> ArrayRef {
    let get_str = |v: &Value| {
        v.as_str()
            .unwrap_or_else(|| panic!("{name}: not a string: {v}"))
            .to_string()
    };
    match col {
        Col::Str => Arc::new(StringArray::from(
            vals.iter().map(|v| get_str(v)).collect::<Vec<_>>(),
        )),
        Col::I32 => Arc::new(Int32Array::from(
            vals.iter()
                .map(|v| v.as_i64().unwrap_or_else(|| panic!("{name}: {v}")) as i32)
                .collect::<Vec<_>>(),
        )),
        Col::I64 => Arc::new(Int64Array::from(
            vals.iter()
                .map(|v| v.as_i64().unwrap_or_else(|| panic!("{name}: {v}")))
                .collect::<Vec<_>>(),
        )),
        Col::ListStr => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for v in vals {
                for x in v.as_array().unwrap_or_else(|| panic!("{name}: {v}")) {
                    b.values().append_value(get_str(x));
                }
                b.append(true);
            }
            Arc::new(b.finish())
        }
        Col::ListI32 => {
            let mut b = ListBuilder::new(Int32Builder::new());
            for v in vals {
                for x in v.as_array().unwrap_or_else(|| panic!("{name}: {v}")) {
                    b.values().append_value(x.as_i64().expect("int") as i32);
                }
                b.append(true);
            }
            Arc::new(b.finish())
        }
        Col::Struct(fields) => {
            let parts: Vec<(Arc<Field>, ArrayRef)> = fields
                .iter()
                .map(|(f, c)| {
                    let child: Vec<&Value> = vals.iter().map(|v| &v[*f]).collect();
                    let arr = build(c, &child, f);
                    (Arc::new(Field::new(*f, arr.data_type().clone(), true)), arr)
                })
                .collect();
            Arc::new(StructArray::from(parts))
        }
    }
}

/// Parquet bytes (Snappy) of `records` with the given columns.
pub fn parquet_bytes(columns: &[(&'static str, Col)], records: &[Value]) -> Vec<u8> {
    let refs: Vec<&Value> = records.iter().collect();
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    for (name, col) in columns {
        let vals: Vec<&Value> = refs.iter().map(|r| &r[*name]).collect();
        let arr = build(col, &vals, name);
        fields.push(Field::new(*name, arr.data_type().clone(), true));
        arrays.push(arr);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    buf
}

/// Hub-style Parquet bytes of a task's local records.
pub fn hf_parquet(task: &str, records: &[Value]) -> Vec<u8> {
    let hf: Vec<Value> = records.iter().map(|r| to_hf(task, r)).collect();
    parquet_bytes(&hf_columns(task), &hf)
}
