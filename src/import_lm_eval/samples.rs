//! lm-eval 0.4.x samples files (`--log_samples`: `samples_<task>_<time>.jsonl`,
//! one JSON object per document and filter) → the per-document rows of a
//! details file ([`leaderboard_format::details`]).
//!
//! # What is read
//!
//! The task comes from the file name only (the lines do not hold it): the part
//! after `samples_` and before the trailing `_<time>`. Per line: `doc_id`,
//! `arguments` (0.4.8's `{"gen_args_N": {"arg_0": context, "arg_1":
//! continuation}}`, or the older list of `[context, continuation]`),
//! `filtered_resps` (`[log-likelihood, is_greedy]` per request, numbers or the
//! strings lm-eval writes, or the generated text), `resps` (GSM8K's raw text),
//! `target`, `filter`, `prompt_hash`, and the metric values (`acc`,
//! `acc_norm`, `exact_match`). Nothing else of `doc` is copied; Winogrande's
//! gold is its `answer`, TruthfulQA mc2's split its `mc2_targets.labels`.
//!
//! | lm-eval task | our row |
//! |---|---|
//! | `arc_challenge`, `hellaswag` | log-likelihoods, prediction = argmax of log-likelihood per character of the choice (acc_norm), metrics `acc`, `acc_norm` |
//! | `mmlu_<subject>` | prediction = argmax, metric `acc` |
//! | `winogrande` | gold = `answer` − 1, metric `acc` |
//! | `truthfulqa_mc1` + `truthfulqa_mc2` | one `truthfulqa_mc` row: mc1's then mc2's log-likelihoods, metrics `mc1`, `mc2`, correct = mc1 (mc2 alone: mc2 > 0.5) |
//! | `gsm8k` | the two filter lines of a document: `generated` = the raw text, prediction = strict-match's extraction, metrics `exact_match_strict`, `exact_match_flexible` |
//!
//! # Checks (a file that fails one is refused, naming the file and line)
//!
//! `prompt_hash`, where present, equals the sha256 of the first request's
//! context (as lm-eval computes it; it becomes `prompt_sha256`); each document
//! once per filter; the recorded `acc` / `acc_norm` / `mc1` / `mc2` equal what the
//! log-likelihoods give. [`super::import`] then requires the rows to match the
//! results file: every imported task has samples, and per task and metric the
//! mean of the rows equals the score and their count its `n_samples`.

use anyhow::{bail, Context, Result};
use leaderboard_format::details::{DetailRow, SampleDetail};
use leaderboard_format::schema::MMLU_SUBJECTS;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest samples file read.
pub const MAX_FILE_BYTES: u64 = 512 << 20;
/// Largest line of a samples file.
pub const MAX_LINE_BYTES: usize = 32 << 20;

/// One line: one document under one filter.
struct Line {
    number: usize,
    doc_id: usize,
    /// sha256 of the first request's context (lm-eval's `prompt_hash`).
    prompt_sha256: String,
    /// Per request: characters of the continuation without its target delimiter " "
    /// (the choice, whose length lm-eval's acc_norm divides by).
    choice_chars: Vec<usize>,
    /// Per request: (log-likelihood, is_greedy), for log-likelihood tasks.
    lls: Vec<(f64, bool)>,
    /// The generation (filtered, then raw), for generation tasks.
    text: Option<(String, String)>,
    target: Value,
    filter: String,
    metrics: BTreeMap<String, f64>,
    /// Winogrande's `answer`, TruthfulQA's mc2 labels (the only `doc` fields read).
    answer: Option<String>,
    mc2_labels: Option<Vec<i64>>,
}

/// A samples file: its lm-eval task and lines.
pub struct SamplesFile {
    pub path: PathBuf,
    pub task: String,
    lines: Vec<Line>,
}

/// The lm-eval task of `samples_<task>_<time>.jsonl` (a prefix before
/// `samples_` is allowed; the time part is optional).
pub fn task_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".jsonl")?;
    let rest = &stem[stem.find("samples_")? + "samples_".len()..];
    let task = match rest.rsplit_once('_') {
        Some((t, time)) if time.starts_with(|c: char| c.is_ascii_digit()) && time.contains('T') => {
            t
        }
        _ => rest,
    };
    (!task.is_empty()).then(|| task.to_string())
}

pub(super) fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A number lm-eval wrote as a number or as its string.
fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "True" || s == "true" => Some(true),
        Value::String(s) if s == "False" || s == "false" => Some(false),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// The requests' (context, continuation) pairs in request order.
fn requests(args: &Value) -> Option<Vec<(String, String)>> {
    match args {
        Value::Array(list) => list
            .iter()
            .map(|a| {
                let a = a.as_array()?;
                Some((text(a.first()?), a.get(1).map(text).unwrap_or_default()))
            })
            .collect(),
        Value::Object(map) => {
            let mut numbered: Vec<(usize, (String, String))> = map
                .iter()
                .map(|(k, a)| {
                    let n = k.strip_prefix("gen_args_")?.parse().ok()?;
                    Some((
                        n,
                        (
                            text(a.get("arg_0")?),
                            a.get("arg_1").map(text).unwrap_or_default(),
                        ),
                    ))
                })
                .collect::<Option<_>>()?;
            numbered.sort_by_key(|(n, _)| *n);
            numbered
                .iter()
                .enumerate()
                .all(|(i, (n, _))| i == *n)
                .then(|| numbered.into_iter().map(|(_, r)| r).collect())
        }
        _ => None,
    }
}

fn parse_line(obj: &Map<String, Value>, number: usize) -> Result<Line, String> {
    let doc_id = obj
        .get("doc_id")
        .and_then(Value::as_u64)
        .and_then(|d| usize::try_from(d).ok())
        .ok_or("no `doc_id` (a non-negative integer)")?;
    let requests = obj
        .get("arguments")
        .and_then(requests)
        .filter(|r| !r.is_empty())
        .ok_or("`arguments`: expected gen_args_0.. with arg_0 (the context), or a list of [context, continuation]")?;
    let resps = obj
        .get("filtered_resps")
        .and_then(Value::as_array)
        .ok_or("no `filtered_resps` list")?;
    let mut lls = Vec::new();
    let mut generated = None;
    for r in resps {
        match r {
            Value::Array(pair) if pair.len() == 2 => {
                let ll = num(&pair[0]).ok_or("a log-likelihood that is not a finite number")?;
                let greedy = boolean(&pair[1]).ok_or("an is_greedy flag that is not True/False")?;
                lls.push((ll, greedy));
            }
            Value::String(s) if resps.len() == 1 => {
                let raw = obj
                    .get("resps")
                    .and_then(|r| r.get(0))
                    .and_then(|r| r.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or(s);
                generated = Some((s.clone(), raw.to_string()));
            }
            _ => return Err("`filtered_resps`: expected [log-likelihood, is_greedy] per request, or one generated text".into()),
        }
    }
    if generated.is_none() && lls.len() != requests.len() {
        return Err(format!(
            "{} requests but {} responses",
            requests.len(),
            lls.len()
        ));
    }
    let prompt_sha256 = sha256_hex(&requests[0].0);
    if let Some(hash) = obj.get("prompt_hash").and_then(Value::as_str) {
        if hash != prompt_sha256 {
            return Err("`prompt_hash` is not the sha256 of the first request's context".into());
        }
    }
    let names: Vec<&str> = obj
        .get("metrics")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut metrics = BTreeMap::new();
    for name in names {
        if let Some(v) = obj.get(name).and_then(num) {
            metrics.insert(name.to_string(), v);
        }
    }
    let doc = obj.get("doc");
    Ok(Line {
        number,
        doc_id,
        prompt_sha256,
        choice_chars: requests
            .iter()
            .map(|(_, cont)| cont.strip_prefix(' ').unwrap_or(cont).chars().count())
            .collect(),
        lls,
        text: generated,
        target: obj.get("target").cloned().unwrap_or(Value::Null),
        filter: obj
            .get("filter")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_string(),
        metrics,
        answer: doc.and_then(|d| d.get("answer")).map(|a| match a {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        mc2_labels: doc
            .and_then(|d| d.get("mc2_targets"))
            .and_then(|t| t.get("labels"))
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_i64).collect()),
    })
}

/// Reads a samples file, bounded by [`MAX_FILE_BYTES`] and [`MAX_LINE_BYTES`].
pub fn read(path: &Path) -> Result<SamplesFile> {
    let task = task_of(path).with_context(|| {
        format!(
            "{}: expected an lm-eval samples file named samples_<task>_<time>.jsonl (the task is read from the name)",
            path.display()
        )
    })?;
    let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut reader = BufReader::new(f.take(MAX_FILE_BYTES + 1));
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    let mut total = 0u64;
    let mut number = 0;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        number += 1;
        total += n as u64;
        if total > MAX_FILE_BYTES {
            bail!("{}: larger than {MAX_FILE_BYTES} bytes", path.display());
        }
        if buf.len() > MAX_LINE_BYTES {
            bail!(
                "{}: line {number}: longer than {MAX_LINE_BYTES} bytes",
                path.display()
            );
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let obj: Map<String, Value> = serde_json::from_slice(&buf).map_err(|e| {
            anyhow::anyhow!(
                "{}: line {number}: not a JSON object ({e}); expected one lm-eval sample per line",
                path.display()
            )
        })?;
        let line = parse_line(&obj, number)
            .map_err(|m| anyhow::anyhow!("{}: line {number}: {m}", path.display()))?;
        lines.push(line);
    }
    if lines.is_empty() {
        bail!("{}: no samples", path.display());
    }
    Ok(SamplesFile {
        path: path.to_path_buf(),
        task,
        lines,
    })
}

/// Our task id for an lm-eval task whose samples become details.
pub fn our_task(task: &str) -> Option<String> {
    match task {
        "arc_challenge" | "hellaswag" | "winogrande" | "gsm8k" => Some(task.to_string()),
        "truthfulqa_mc1" | "truthfulqa_mc2" => Some("truthfulqa_mc".to_string()),
        _ => task
            .strip_prefix("mmlu_")
            .filter(|s| MMLU_SUBJECTS.contains(s))
            .map(|_| task.to_string()),
    }
}

/// First index of the largest value (numpy's argmax).
pub(super) fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in xs.iter().enumerate() {
        if *x > xs[best] {
            best = i;
        }
    }
    best
}

pub(super) fn flag(v: bool) -> f64 {
    if v {
        1.0
    } else {
        0.0
    }
}

/// The gold choice index lm-eval used (`target` as a number or digit string).
fn gold_index(line: &Line, n: usize) -> Result<usize, String> {
    let g = match &line.target {
        Value::Number(x) => x.as_u64().map(|g| g as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    g.filter(|g| *g < n).ok_or_else(|| {
        format!(
            "`target` {}: expected a choice index below {n}",
            line.target
        )
    })
}

/// The recorded value of `metric`, which must equal `expected`.
fn recorded(line: &Line, metric: &str, expected: f64) -> Result<f64, String> {
    let v = *line
        .metrics
        .get(metric)
        .ok_or_else(|| format!("no `{metric}` value"))?;
    if (v - expected).abs() > 1e-9 {
        return Err(format!(
            "`{metric}` is {v} but its log-likelihoods give {expected}"
        ));
    }
    Ok(v)
}

fn row(task: &str, line: &Line, s: Scored) -> DetailRow {
    DetailRow {
        sample: SampleDetail {
            task: task.to_string(),
            doc_id: line.doc_id,
            prompt_sha256: line.prompt_sha256.clone(),
            loglikelihoods: line.lls.iter().map(|(l, _)| *l).collect(),
            prediction: s.prediction,
            gold: s.gold,
            correct: s.correct,
            generated: None,
            metrics: s.metrics,
        },
        is_greedy: line.lls.iter().map(|(_, g)| *g).collect(),
    }
}

struct Scored {
    prediction: String,
    gold: String,
    correct: bool,
    metrics: Vec<(String, f64)>,
}

/// A multiple-choice line (ARC, HellaSwag, MMLU, Winogrande).
fn multiple_choice(task: &str, line: &Line) -> Result<DetailRow, String> {
    let lls: Vec<f64> = line.lls.iter().map(|(l, _)| *l).collect();
    if lls.len() < 2 {
        return Err("expected a log-likelihood per choice (two or more)".into());
    }
    let gold = if task == "winogrande" {
        match line.answer.as_deref() {
            Some("1") => 0,
            Some("2") => 1,
            other => {
                return Err(format!(
                    "Winogrande `doc.answer` {other:?}: expected \"1\" or \"2\""
                ))
            }
        }
    } else {
        gold_index(line, lls.len())?
    };
    let pred = argmax(&lls);
    let acc = recorded(line, "acc", flag(pred == gold))?;
    let s = if task == "arc_challenge" || task == "hellaswag" {
        // lm-eval 0.4: log-likelihood per character of the choice.
        let normed: Vec<f64> = lls
            .iter()
            .zip(&line.choice_chars)
            .map(|(l, n)| l / (*n).max(1) as f64)
            .collect();
        let pred_norm = argmax(&normed);
        let acc_norm = recorded(line, "acc_norm", flag(pred_norm == gold))?;
        Scored {
            prediction: pred_norm.to_string(),
            gold: gold.to_string(),
            correct: acc_norm == 1.0,
            metrics: vec![("acc".into(), acc), ("acc_norm".into(), acc_norm)],
        }
    } else {
        Scored {
            prediction: pred.to_string(),
            gold: gold.to_string(),
            correct: acc == 1.0,
            metrics: vec![("acc".into(), acc)],
        }
    };
    Ok(row(task, line, s))
}

/// lm-eval 0.4's mc2: the probability mass of the true answers (labels 1,
/// first), normalised over all answers.
fn mc2(lls: &[f64], labels: &[i64]) -> Result<f64, String> {
    let split = labels.iter().position(|l| *l == 0).unwrap_or(labels.len());
    if labels.len() != lls.len() || split == 0 {
        return Err(
            "`doc.mc2_targets.labels`: expected one label per answer, true ones first".into(),
        );
    }
    let p: Vec<f64> = lls.iter().map(|l| l.exp()).collect();
    let all: f64 = p.iter().sum();
    Ok(p[..split].iter().sum::<f64>() / all)
}

/// One `truthfulqa_mc` row from a document's mc1 and/or mc2 lines.
fn truthfulqa(mc1: Option<&Line>, mc2_line: Option<&Line>) -> Result<DetailRow, String> {
    let mut metrics = Vec::new();
    let mut lls_all = Vec::new();
    let mut first = None;
    let mut verdict = None;
    if let Some(l) = mc1 {
        let lls: Vec<f64> = l.lls.iter().map(|(x, _)| *x).collect();
        let pred = argmax(&lls);
        let v = recorded(l, "acc", flag(pred == 0))?;
        metrics.push(("mc1".to_string(), v));
        verdict = Some((pred.to_string(), v == 1.0));
        lls_all.extend(l.lls.iter().copied());
        first = Some(l);
    }
    if let Some(l) = mc2_line {
        let lls: Vec<f64> = l.lls.iter().map(|(x, _)| *x).collect();
        let labels = l.mc2_labels.as_deref().unwrap_or(&[]);
        let v = recorded(l, "acc", mc2(&lls, labels)?)?;
        metrics.push(("mc2".to_string(), v));
        verdict.get_or_insert((argmax(&lls).to_string(), v > 0.5));
        lls_all.extend(l.lls.iter().copied());
        first.get_or_insert(l);
    }
    let (Some(line), Some((prediction, correct))) = (first, verdict) else {
        return Err("no mc1 or mc2 line".into());
    };
    let mut r = row(
        "truthfulqa_mc",
        line,
        Scored {
            prediction,
            gold: "0".into(),
            correct,
            metrics,
        },
    );
    r.sample.loglikelihoods = lls_all.iter().map(|(l, _)| *l).collect();
    r.is_greedy = lls_all.iter().map(|(_, g)| *g).collect();
    Ok(r)
}

/// One GSM8K row from a document's strict-match and flexible-extract lines.
fn gsm8k(strict: &Line, flexible: Option<&Line>) -> Result<DetailRow, String> {
    let (extracted, raw) = strict
        .text
        .clone()
        .ok_or("expected the generated text in `filtered_resps`")?;
    let em = |l: &Line| {
        l.metrics
            .get("exact_match")
            .copied()
            .ok_or_else(|| "no `exact_match` value".to_string())
    };
    let s = em(strict)?;
    let mut metrics = vec![("exact_match_strict".to_string(), s)];
    if let Some(f) = flexible {
        metrics.push(("exact_match_flexible".to_string(), em(f)?));
    }
    let mut r = row(
        "gsm8k",
        strict,
        Scored {
            prediction: extracted,
            gold: text(&strict.target),
            correct: s == 1.0,
            metrics,
        },
    );
    r.sample.generated = Some(raw);
    Ok(r)
}

/// The details rows of `files` (each a v1 task's samples; see [`our_task`]),
/// sorted by (task, doc_id).
pub fn rows(files: &[SamplesFile]) -> Result<Vec<DetailRow>> {
    // (our task) -> doc_id -> (lm-eval task, filter) -> (file, line)
    type ByDoc<'a> = BTreeMap<usize, BTreeMap<(&'a str, &'a str), (&'a Path, &'a Line)>>;
    let mut tasks: BTreeMap<String, ByDoc> = BTreeMap::new();
    for f in files {
        let ours = our_task(&f.task).expect("caller keeps v1 tasks only");
        for l in &f.lines {
            let slot = tasks
                .entry(ours.clone())
                .or_default()
                .entry(l.doc_id)
                .or_default();
            if slot
                .insert((f.task.as_str(), l.filter.as_str()), (&f.path, l))
                .is_some()
            {
                bail!(
                    "{}: line {}: document {} of {} (filter {}) appears twice",
                    f.path.display(),
                    l.number,
                    l.doc_id,
                    f.task,
                    l.filter
                );
            }
        }
    }
    let mut out = Vec::new();
    for (task, docs) in &tasks {
        for lines in docs.values() {
            let (path, first) = *lines.values().next().expect("non-empty");
            let get = |t: &str, filter: &str| lines.get(&(t, filter)).map(|(_, l)| *l);
            let result = match task.as_str() {
                "truthfulqa_mc" => {
                    truthfulqa(get("truthfulqa_mc1", "none"), get("truthfulqa_mc2", "none"))
                }
                "gsm8k" => match get("gsm8k", "strict-match") {
                    Some(strict) => gsm8k(strict, get("gsm8k", "flexible-extract")),
                    None => Err("no `strict-match` line for this document".to_string()),
                },
                t => match get(t, "none") {
                    Some(l) => multiple_choice(t, l),
                    None => Err("no line with filter `none`".to_string()),
                },
            };
            let r = result.map_err(|m| {
                anyhow::anyhow!(
                    "{}: line {} (document {}): {m}",
                    path.display(),
                    first.number,
                    first.doc_id
                )
            })?;
            out.push(r);
        }
    }
    Ok(out)
}
