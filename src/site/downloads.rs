//! Downloads under `data/`: the whole table as CSV and JSON, every run as one
//! results file (`results.parquet`), the flags file, and `README.md` (the
//! column reference); `downloads.html` lists them.
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

use super::uncertainty;
use super::view::{ranked_values, View};
use super::{is_https_url, Out, PageCtx, Sources};
use anyhow::{Context, Result};
use leaderboard_format::schema::Run;
use serde_json::{json, Value};

/// Column names of both downloads, in order.
pub const COLUMNS: [&str; 47] = [
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
    "average_stderr",
    "arc_stderr",
    "hellaswag_stderr",
    "mmlu_stderr",
    "truthfulqa_stderr",
    "winogrande_stderr",
    "gsm8k_stderr",
    "average_ci_low",
    "average_ci_high",
    "average_rank_best",
    "average_rank_worst",
    "scores",
];

/// What each column of [`COLUMNS`] holds, with its unit: the downloads page
/// and `data/README.md` print it.
pub const COLUMN_DOCS: [(&str, &str); 47] = [
    ("model_id", "Hub repo id (`org/name`) or the model's name"),
    ("revision", "commit sha of the weights evaluated (40 hex), empty if unknown"),
    ("precision", "`float16`, `bfloat16`, `float32`, `8bit`, `4bit`, `GPTQ` or `?`"),
    ("precision_detail", "what the precision label summarises (e.g. GGUF tensor types and bits per weight)"),
    ("weight_type", "`Original`, `Adapter` or `Delta`"),
    ("base_model", "for adapters and deltas: the model they apply to"),
    ("model_type", "`pretrained`, `continuously pretrained`, `fine-tuned`, `chat`, `merge` or `unknown`"),
    ("architecture", "the `architectures` entry of the model's config (e.g. `LlamaForCausalLM`)"),
    ("params_billions", "parameters, in billions"),
    ("params_truncated", "`true` when v1 published the count rounded down"),
    ("license", "the Hub licence tag"),
    ("is_merge", "the model is a merge of other models"),
    ("is_moe", "mixture of experts"),
    ("available_on_hub", "the repo was public on the Hub at the last metadata refresh"),
    ("hub_likes", "Hub likes at the last metadata refresh"),
    ("submitted_at", "when the evaluation was requested (UTC, RFC 3339)"),
    ("evaluated_at", "when the evaluation finished (UTC, RFC 3339)"),
    ("weights_sha256", "sha256 over the weight files"),
    ("tool", "what produced the numbers (`leaderboard-evaluator`, `open-llm-leaderboard-v1`, …)"),
    ("tool_version", "the tool's version"),
    ("suite", "task suite: `openllm-v1` or `lm-eval-0.4`"),
    ("source_dataset", "for imported runs: the file or dataset the row came from"),
    ("deviations", "departures from the suite that make the run not comparable (JSON: list; CSV: `;`-joined)"),
    ("comparable", "`true` when `deviations` is empty: the run is ranked"),
    ("reported_average", "Average as published by the source, **percent**"),
    ("flagged", "the model is flagged (hidden by default in the table)"),
    ("flag_reason", "why it is flagged"),
    ("flag_link", "the flag's discussion (an `https://` URL)"),
    ("average", "the Average column, **percent** (the published one for imported runs, else the mean of the six)"),
    ("arc", "ARC (25-shot) acc_norm, **percent**"),
    ("hellaswag", "HellaSwag (10-shot) acc_norm, **percent**"),
    ("mmlu", "MMLU (5-shot) acc, mean of the 57 subjects, **percent**"),
    ("truthfulqa", "TruthfulQA (0-shot) mc2, **percent**"),
    ("winogrande", "Winogrande (5-shot) acc, **percent**"),
    ("gsm8k", "GSM8K (5-shot) acc (`openllm-v1`) or exact_match_strict (`lm-eval-0.4`), **percent**"),
    ("average_stderr", "standard error of `average`, **percent**: √(Σ se²)/6 over the six"),
    ("arc_stderr", "standard error of `arc`, **percent**: reported with the run, else derived √(p(1−p)/(n−1)) (the site's FAQ gives every rule)"),
    ("hellaswag_stderr", "standard error of `hellaswag`, **percent** (as `arc_stderr`)"),
    ("mmlu_stderr", "standard error of `mmlu`, **percent**: from the 57 subjects, else an upper bound"),
    ("truthfulqa_stderr", "standard error of `truthfulqa`, **percent**: reported, else an upper bound"),
    ("winogrande_stderr", "standard error of `winogrande`, **percent** (as `arc_stderr`)"),
    ("gsm8k_stderr", "standard error of `gsm8k`, **percent** (as `arc_stderr`)"),
    ("average_ci_low", "lower end of the 95% interval of `average` (± 1.96 `average_stderr`, clipped), **percent**"),
    ("average_ci_high", "upper end of that interval, **percent**"),
    ("average_rank_best", "best rank of the Average the intervals allow among comparable, unflagged runs: 1 + the runs significantly better (empty when the run is not ranked)"),
    ("average_rank_worst", "worst such rank: the runs not significantly worse"),
    ("scores", "every stored score: `{task, metric, value, stderr, n_samples, num_fewshot}` with `value` and `stderr` **fractions** in [0, 1] (JSON: list; CSV: a JSON string)"),
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
    let est = uncertainty::of_run(r);
    for (i, name) in COLUMNS[35..42].iter().enumerate() {
        rec.push((name, json!(est[i].map(|e| clean(e.stderr)))));
    }
    let ci = est[0].map(|e| e.interval());
    rec.push(("average_ci_low", json!(ci.map(|c| clean(c.0)))));
    rec.push(("average_ci_high", json!(ci.map(|c| clean(c.1)))));
    let range = est[0]
        .filter(|_| v.is_ranked(r))
        .map(|e| v.rank_range(0, &e));
    rec.push(("average_rank_best", json!(range.map(|r| r.0))));
    rec.push(("average_rank_worst", json!(range.map(|r| r.1))));
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

/// Writes the downloads under `data/`, then `data/README.md` and the page
/// listing them (`downloads.html`, the one page that names every file, so
/// the site grows linearly in files).
pub fn write(
    src: &Sources,
    v: &View,
    env: &minijinja::Environment,
    ctx: &PageCtx,
    o: &mut Out,
) -> Result<()> {
    let (csv, json) = tables(v);
    o.write("data/leaderboard.csv", csv.as_bytes())?;
    o.write("data/leaderboard.json", json.as_bytes())?;
    let mut listed = vec![
        File::new(
            "leaderboard.csv",
            csv.len(),
            "the table, one row per run (RFC 4180)",
        ),
        File::new(
            "leaderboard.json",
            json.len(),
            "the table, one object per run",
        ),
    ];
    // Every run in one results file (the results format, rows in canonical
    // order): a per-file copy would make the site grow with the number of
    // contributed files rather than runs (each Parquet file has its own
    // schema and footer). The repository keeps the individual files.
    let parquet = leaderboard_format::results::to_bytes(&src.runs)
        .context("encoding data/results.parquet")?;
    o.write("data/results.parquet", &parquet)?;
    listed.push(File::new(
        "results.parquet",
        parquet.len(),
        "every run, in the results format (Parquet)",
    ));
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
        listed.push(File::new(&name, bytes.len(), "the flags (TOML)"));
    }
    o.write("data/README.md", readme().as_bytes())?;
    let columns: Vec<_> = COLUMN_DOCS
        .iter()
        .map(|(n, m)| minijinja::context! { name => n, meaning => super::markdown::inline_html(m) })
        .collect();
    let html = env
        .get_template("downloads.html")?
        .render(minijinja::context! {
            files => listed,
            columns => columns,
            ..ctx.page("", "downloads", "Downloads")
        })
        .context("rendering downloads.html")?;
    o.write("downloads.html", html.as_bytes())
}

/// One file on the downloads page.
#[derive(serde::Serialize)]
struct File {
    name: String,
    size: String,
    what: &'static str,
}

impl File {
    fn new(name: &str, bytes: usize, what: &'static str) -> File {
        File {
            name: name.to_string(),
            size: human_size(bytes),
            what,
        }
    }
}

/// `1234567` → `1.2 MB`.
fn human_size(n: usize) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// `data/README.md`: what the downloads hold, column by column.
pub fn readme() -> String {
    let mut s = String::from(
        "# Leaderboard downloads\n\n\
         - `leaderboard.csv`, `leaderboard.json`: the table, one record per run, sorted by \
         Average (descending). The leaderboard columns (`average`, `arc` … `gsm8k`) are in \
         **percent**, unrounded; the `scores` list keeps the stored **fractions** in [0, 1].\n\
         - `results.parquet`: every run, in the results format \
         (`format/src/schema.rs` of the project documents every column).\n\
         - `flags.toml`: the flagged models, with reasons and links.\n\n\
         CSV: RFC 4180 (comma separated, CRLF line ends, quoted with `\"` doubled); a text cell \
         starting with `=`, `+`, `-` or `@` that is not a number gets a leading `'` \
         (spreadsheet formula guard); the JSON keeps the exact text.\n\n\
         | column | meaning |\n|---|---|\n",
    );
    for (name, meaning) in COLUMN_DOCS {
        s.push_str(&format!("| `{name}` | {meaning} |\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_documented_in_order() {
        let documented: Vec<&str> = COLUMN_DOCS.iter().map(|(n, _)| *n).collect();
        assert_eq!(documented, COLUMNS);
    }

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
