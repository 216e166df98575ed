//! Downloads under `data/`: the whole table as CSV and JSON, and copies of
//! the results Parquet files and the flags file.
//!
//! Both tables hold one record per run, in the site's order (Average
//! descending), with the columns of the results format (`format/src/schema.rs`)
//! plus `flagged`, `flag_reason`, `flag_link`, `comparable`, and the leaderboard
//! columns `average`, `arc`, `hellaswag`, `mmlu`, `truthfulqa`, `winogrande`,
//! `gsm8k` in **percent** (as the table shows them, unrounded). `scores` holds every
//! score entry (fractions, as stored): a list in the JSON, the same list as a
//! JSON string in the CSV. `deviations` is a list in the JSON, `;`-joined in
//! the CSV.
//!
//! CSV: RFC 4180 (comma separated, CRLF line ends, fields holding `"`, `,`,
//! CR or LF quoted with `"` doubled). A text cell starting with `=`, `+`,
//! `-` or `@` that is not a number gets a leading `'` so spreadsheets do not
//! run it as a formula (CSV injection); the JSON keeps the exact text.

use super::view::{ranked_values, View};
use super::{is_https_url, Out, Sources};
use anyhow::{Context, Result};
use leaderboard_format::schema::Run;
use serde_json::{json, Value};

/// Column names of both downloads, in order.
pub const COLUMNS: [&str; 36] = [
    "model_id",
    "revision",
    "precision",
    "precision_detail",
    "weight_type",
    "base_model",
    "model_type",
    "architecture",
    "params_billions",
    "params_truncated",
    "license",
    "is_merge",
    "is_moe",
    "available_on_hub",
    "hub_likes",
    "submitted_at",
    "evaluated_at",
    "weights_sha256",
    "tool",
    "tool_version",
    "suite",
    "source_dataset",
    "deviations",
    "comparable",
    "reported_average",
    "flagged",
    "flag_reason",
    "flag_link",
    "average",
    "arc",
    "hellaswag",
    "mmlu",
    "truthfulqa",
    "winogrande",
    "gsm8k",
    "scores",
];

/// Removes float noise from `value * 100` (e.g. `78.50000000000001`).
fn clean(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

fn record(v: &View, r: &Run) -> Vec<(&'static str, Value)> {
    let flag = v.flag(&r.model_id);
    let date = |d: &Option<chrono::DateTime<chrono::Utc>>| {
        d.map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    let vals = ranked_values(r);
    let scores: Vec<Value> = r
        .scores
        .iter()
        .map(|s| {
            json!({"task": s.task, "metric": s.metric, "value": s.value,
                   "stderr": s.stderr, "n_samples": s.n_samples, "num_fewshot": s.num_fewshot})
        })
        .collect();
    let mut rec = vec![
        ("model_id", json!(r.model_id)),
        ("revision", json!(r.revision)),
        ("precision", json!(r.precision.as_str())),
        ("precision_detail", json!(r.precision_detail)),
        ("weight_type", json!(r.weight_type.as_str())),
        ("base_model", json!(r.base_model)),
        ("model_type", json!(r.model_type.as_str())),
        ("architecture", json!(r.architecture)),
        ("params_billions", json!(r.params_billions)),
        ("params_truncated", json!(r.params_truncated)),
        ("license", json!(r.license)),
        ("is_merge", json!(r.is_merge)),
        ("is_moe", json!(r.is_moe)),
        ("available_on_hub", json!(r.available_on_hub)),
        ("hub_likes", json!(r.hub_likes)),
        ("submitted_at", json!(date(&r.submitted_at))),
        ("evaluated_at", json!(date(&r.evaluated_at))),
        ("weights_sha256", json!(r.weights_sha256)),
        ("tool", json!(r.provenance.tool)),
        ("tool_version", json!(r.provenance.tool_version)),
        ("suite", json!(r.provenance.suite)),
        ("source_dataset", json!(r.provenance.source_dataset)),
        ("deviations", json!(r.provenance.deviations)),
        ("comparable", json!(r.is_comparable())),
        ("reported_average", json!(r.reported_average)),
        ("flagged", json!(flag.is_some())),
        ("flag_reason", json!(flag.map(|f| &f.reason))),
        (
            "flag_link",
            json!(flag
                .and_then(|f| f.link.as_ref())
                .filter(|l| is_https_url(l))),
        ),
    ];
    for (i, name) in COLUMNS[28..35].iter().enumerate() {
        rec.push((name, json!(vals[i].map(clean))));
    }
    rec.push(("scores", Value::Array(scores)));
    debug_assert!(rec.iter().map(|(k, _)| *k).eq(COLUMNS.iter().copied()));
    rec
}

/// One CSV field, quoted per RFC 4180 and guarded against formula injection.
pub fn csv_field(s: &str) -> String {
    let risky = s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err();
    let s = if risky {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains(['"', ',', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        Value::Array(a) if a.iter().all(|x| x.is_string()) => csv_field(
            &a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        ),
        Value::Array(_) | Value::Object(_) => csv_field(&v.to_string()),
        other => other.to_string(),
    }
}

/// The CSV and JSON texts.
pub fn tables(v: &View) -> (String, String) {
    let mut csv = COLUMNS.join(",");
    csv.push_str("\r\n");
    let mut list = Vec::with_capacity(v.runs.len());
    for r in &v.runs {
        let rec = record(v, r);
        let line: Vec<String> = rec.iter().map(|(_, x)| csv_cell(x)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
        let mut obj = serde_json::Map::new();
        for (k, x) in rec {
            obj.insert(k.to_string(), x);
        }
        list.push(Value::Object(obj));
    }
    let mut json = serde_json::to_string(&list).expect("serializing leaderboard.json");
    json.push('\n');
    (csv, json)
}

pub fn write(src: &Sources, v: &View, o: &mut Out) -> Result<()> {
    let (csv, json) = tables(v);
    o.write("data/leaderboard.csv", csv.as_bytes())?;
    o.write("data/leaderboard.json", json.as_bytes())?;
    let mut files = src.data_files.clone();
    files.sort();
    for (name, f) in files {
        let safe = !name.is_empty()
            && name
                .split('/')
                .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
        if !safe {
            anyhow::bail!(
                "refusing data file name {name:?} ({}): it would leave data/",
                f.display()
            );
        }
        let bytes = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
        o.write(&format!("data/{name}"), &bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_injection() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1.5"), "-1.5");
        assert_eq!(csv_field("@cmd"), "'@cmd");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
