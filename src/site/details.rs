//! Per-sample details on the site, read by the compare page for its per-sample
//! diff and paired test. Written only for runs whose results file has a
//! details file beside it (the evaluator writes one; the v1 archive has none):
//!
//! | path | what |
//! |---|---|
//! | `details/<model slug>/<precision>-<revision, 12 chars, or none>.js` | one run's documents |
//! | `details/text/<task>.js` | the question and choices of every document any run's details hold, from the benchmark data the build reads (`--benchmarks`) |
//!
//! A run's script appends `{m: model id, p: precision, r: revision's first 12
//! characters or "", t: {<task>: [[doc_id, correct 0/1, prediction, gold], …]}}`
//! to `window.LB_DETAILS` (an array); a text script sets
//! `window.LB_TEXT[<task>] = {<doc_id>: [question, [choice, …]]}`. `data.js`'s
//! `dx` maps a row to its run's script. Both are JSON made safe for a script
//! ([`super::table_data::script_safe`]), loaded with `<script>` tags so they
//! work from `file://`; the index page does not load them.

use super::table_data::script_safe;
use super::Out;
use anyhow::{Context, Result};
use leaderboard_format::schema::{Run, MMLU_SUBJECTS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// A run's identity on the site: model id, precision, revision.
pub type Key = (String, String, Option<String>);

pub fn key(r: &Run) -> Key {
    (
        r.model_id.clone(),
        r.precision.as_str().to_string(),
        r.revision.clone(),
    )
}

/// The first 12 characters of a run's revision (how the compare page's
/// address names it), empty when unknown.
fn rev12(r: &Run) -> String {
    r.revision
        .as_deref()
        .map(|s| s.chars().take(12).collect())
        .unwrap_or_default()
}

/// The script path of a run's details (relative to the site root).
pub fn script_path(slug: &str, r: &Run) -> String {
    let rev = Some(rev12(r))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "none".to_string());
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!(
        "details/{slug}/{}-{}.js",
        safe(r.precision.as_str()),
        safe(&rev)
    )
}

/// The details files of a results folder's single-run results files, by run.
pub fn find(results: &Path, set: &leaderboard_format::ResultsSet) -> BTreeMap<Key, PathBuf> {
    let mut per_file: BTreeMap<&Path, Vec<&Run>> = BTreeMap::new();
    for lr in &set.runs {
        per_file.entry(lr.file.as_path()).or_default().push(&lr.run);
    }
    let mut out = BTreeMap::new();
    for (file, runs) in per_file {
        let p = leaderboard_format::details::details_path(&results.join(file));
        if runs.len() == 1 && p.is_file() {
            out.insert(key(runs[0]), p);
        }
    }
    out
}

/// Writes every run's details script and the text scripts; returns the row
/// index → script path map for `data.js`.
pub fn write(
    runs: &[&Run],
    slug_of: &dyn Fn(&str) -> String,
    files: &BTreeMap<Key, PathBuf>,
    benchmarks: Option<&Path>,
    o: &mut Out,
) -> Result<BTreeMap<usize, String>> {
    let mut scripts = BTreeMap::new();
    let mut wanted: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        let Some(path) = files.get(&key(r)) else {
            continue;
        };
        let rows = leaderboard_format::details::read_rows(path)
            .with_context(|| format!("reading details {}", path.display()))?;
        let mut tasks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for row in rows {
            let s = row.sample;
            wanted
                .entry(s.task.clone())
                .or_default()
                .insert(s.doc_id as i64);
            tasks.entry(s.task).or_default().push(json!([
                s.doc_id,
                u8::from(s.correct),
                s.prediction,
                s.gold
            ]));
        }
        let data = json!({"m": r.model_id, "p": r.precision.as_str(), "r": rev12(r), "t": tasks});
        let text = format!(
            "(window.LB_DETAILS=window.LB_DETAILS||[]).push({});\n",
            script_safe(&data.to_string())
        );
        let rel = script_path(&slug_of(&r.model_id), r);
        o.write(&rel, text.as_bytes())?;
        scripts.insert(i, rel);
    }
    if let Some(dir) = benchmarks {
        for (task, docs) in &wanted {
            let texts = texts(dir, task, docs)?;
            let data = Value::Object(
                texts
                    .into_iter()
                    .map(|(d, (q, c))| (d.to_string(), json!([q, c])))
                    .collect(),
            );
            let text = format!(
                "(window.LB_TEXT=window.LB_TEXT||{{}})[{}]={};\n",
                script_safe(&json!(task).to_string()),
                script_safe(&data.to_string())
            );
            o.write(&format!("details/text/{task}.js"), text.as_bytes())?;
        }
    }
    Ok(scripts)
}

/// A document's text from its record: (question, choices).
type Reader = fn(&Value) -> (String, Vec<String>);

/// Where a task's documents are: (folder, split, MMLU subject filter, reader).
fn source(task: &str) -> Option<(&'static str, &'static str, Option<&str>, Reader)> {
    Some(match task {
        "arc_challenge" => ("arc_challenge", "test", None, |v| {
            (str_of(v, "question"), strs(&v["choices"]["text"]))
        }),
        "hellaswag" => ("hellaswag", "validation", None, |v| {
            (
                format!("{}: {}", str_of(v, "activity_label"), str_of(v, "ctx")),
                strs(&v["endings"]),
            )
        }),
        "truthfulqa_mc" => ("truthfulqa_mc", "validation", None, |v| {
            (str_of(v, "question"), strs(&v["mc1_targets"]["choices"]))
        }),
        "winogrande" => ("winogrande", "validation", None, |v| {
            (
                str_of(v, "sentence"),
                vec![str_of(v, "option1"), str_of(v, "option2")],
            )
        }),
        "gsm8k" => ("gsm8k", "test", None, |v| (str_of(v, "question"), vec![])),
        t => {
            let subject = t.strip_prefix("mmlu_")?;
            let subject = MMLU_SUBJECTS.iter().find(|s| **s == subject)?;
            ("mmlu", "test", Some(*subject), |v| {
                (str_of(v, "question"), strs(&v["choices"]))
            })
        }
    })
}

fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Longest line read from a benchmark file.
const MAX_LINE: u64 = 1 << 20;

/// The texts of `docs` of `task` (a task without a known source, or a missing
/// file, gives none: the compare page then shows ids only).
fn texts(
    dir: &Path,
    task: &str,
    docs: &BTreeSet<i64>,
) -> Result<BTreeMap<i64, (String, Vec<String>)>> {
    let mut out = BTreeMap::new();
    let Some((folder, split, subject, read)) = source(task) else {
        return Ok(out);
    };
    let plain = dir.join(folder).join(format!("{split}.jsonl"));
    let gz = dir.join(folder).join(format!("{split}.jsonl.gz"));
    let reader: Box<dyn Read> = if plain.is_file() {
        Box::new(
            std::fs::File::open(&plain).with_context(|| format!("opening {}", plain.display()))?,
        )
    } else if gz.is_file() {
        Box::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&gz).with_context(|| format!("opening {}", gz.display()))?,
        ))
    } else {
        return Ok(out);
    };
    let mut doc = 0i64;
    let mut lines = BufReader::new(reader);
    let mut line = String::new();
    loop {
        line.clear();
        let n = (&mut lines)
            .take(MAX_LINE)
            .read_line(&mut line)
            .with_context(|| format!("reading {task} data in {}", dir.display()))?;
        if n == 0 {
            break;
        }
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(s) = subject {
            if v["subject"].as_str() != Some(s) {
                continue;
            }
        }
        if docs.contains(&doc) {
            out.insert(doc, read(&v));
        }
        doc += 1;
    }
    Ok(out)
}
