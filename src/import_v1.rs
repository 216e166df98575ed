//! Conversion of the Open LLM Leaderboard v1 archive (the final v1 table and
//! v1's flag lists, see `data/leaderboard/SOURCES.md`) into runs and
//! flags of the results format.
//!
//! # How v1's columns map to a [`Run`]
//!
//! | v1 column | run field | rule |
//! |---|---|---|
//! | `model` (= `fullname`) | `model_id` | verbatim; `model` must equal `fullname` |
//! | `model_sha` | `revision` | verbatim; null stays null (8 rows) |
//! | `precision` | `precision` | `float16`, `bfloat16`, `8bit`, `4bit`, `GPTQ` |
//! | `weight_type` | `weight_type` | `Original`, `Adapter`, `Delta` |
//! | `t`, `type` | `model_type` | by emoji (`🟢 🟩 🔶 💬 🤝`); `type` null ⇔ `t` = `?` → `unknown`; `t` must agree with `type` |
//! | `architecture` | `architecture` | verbatim, except v1's two placeholders `?` and `Unknown` (both "config had no `architectures`") → null; the site shows null as `?` |
//! | `params_b` | `params_billions`, `params_truncated = true` | v1 truncated to whole billions; v1's `0` means "under 1 B **or** unknown" and is kept as `0.0` (truncated), not turned into null, because the two cases cannot be told apart |
//! | `hub_license` | `license` | verbatim, null stays null |
//! | `is_merge`, `is_moe` | `is_merge`, `is_moe` | plain sense; verified to be the negation of v1's inverted `merged`, `moe` |
//! | `available_on_the_hub` | `available_on_hub` | verbatim |
//! | `hub_hearts` | `hub_likes` | verbatim |
//! | `date` | `submitted_at` | ISO-8601 UTC (5 rows lack the `Z` and carry microseconds: read as UTC, fraction dropped); `evaluated_at` is unknown (null) |
//! | `average` | `reported_average` | percent, verbatim (v1 averaged unrounded scores) |
//! | `arc` … `gsm8k` | `scores` | value = percent / 100, checked to give back the exact 2-dp v1 number when ×100 and rounded; metric = the benchmark's headline metric under `openllm-v1` (GSM8K: `acc`); `num_fewshot` = the leaderboard's; stderr and sample count unknown (null) |
//! | `is_flagged` | `flags.toml` | see below; verified to be the negation of v1's inverted `flagged` |
//!
//! Provenance: tool [`TOOL`], tool version [`TOOL_VERSION`] (the harness commit
//! v1 documented; the published numbers came from HF's lighteval port of it,
//! whose per-run commit the archive does not carry), suite `openllm-v1`,
//! source dataset `<archive file name> sha256:<hex of the file>`, no deviations.
//!
//! # Flags
//!
//! Every model with `is_flagged` gets one `[[flag]]` entry: the 98 listed in
//! `flagged_models_v1.jsonl` with a reason from their category and the
//! discussion link; the rest (3 in the 2024-07-07 archive) were flagged by v1's
//! automatic rule for undeclared merges, whose link is the list's special
//! `merged` key (discussion 510). Listed models absent from the archive are
//! kept too (they are flags, whatever the table held). v1's do-not-submit
//! entries keep category [`DO_NOT_SUBMIT`]; a model on both lists gets one
//! entry with both reasons. The import refuses to write anything unless, for
//! every archive row, "model has a flag" equals v1's `is_flagged`. List keys
//! that are not valid model ids (3 v1 typos: a trailing space, spaces around
//! `/`) never matched a model in v1; they are not turned into flags but kept
//! as a comment at the end of `flags.toml`.

use leaderboard_format::flags::{Flag, DO_NOT_SUBMIT};
use leaderboard_format::schema::{
    Benchmark, ModelType, Precision, Provenance, Run, Score, WeightType,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `tool` of imported runs.
pub const TOOL: &str = leaderboard_format::schema::V1_ARCHIVE_TOOL;
/// `tool_version` of imported runs.
pub const TOOL_VERSION: &str =
    "lm-evaluation-harness b281b0921b636bc36ad05c0b0b0763bd6dd43463 (as ported by HF lighteval)";
/// `suite` of imported runs.
pub const SUITE: &str = "openllm-v1";
/// File name of the archive file written into the results folder.
pub const OUTPUT_FILE: &str = "open-llm-leaderboard-v1.parquet";

/// A problem in the v1 input files, naming the file, the 1-based line and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), if *line > 0 { format!(": line {line}") } else { String::new() })]
pub struct ImportError {
    pub path: PathBuf,
    /// 1-based line of the JSONL record; 0 = the file as a whole.
    pub line: usize,
    pub message: String,
}

/// One row of the v1 table, as in the JSONL archive.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V1Row {
    pub t: String,
    pub model: String,
    pub average: f64,
    pub arc: f64,
    pub hellaswag: f64,
    pub mmlu: f64,
    pub truthfulqa: f64,
    pub winogrande: f64,
    pub gsm8k: f64,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub architecture: String,
    pub weight_type: String,
    pub precision: String,
    pub merged: bool,
    pub hub_license: Option<String>,
    pub params_b: i64,
    pub hub_hearts: i64,
    pub available_on_the_hub: bool,
    pub model_sha: Option<String>,
    pub flagged: bool,
    pub moe: bool,
    pub date: Option<String>,
    pub fullname: String,
    pub url: String,
    pub is_merge: bool,
    pub is_moe: bool,
    pub is_flagged: bool,
}

impl V1Row {
    /// The six scores in percent, in [`Benchmark::ALL`] order.
    pub fn scores(&self) -> [f64; 6] {
        [
            self.arc,
            self.hellaswag,
            self.mmlu,
            self.truthfulqa,
            self.winogrande,
            self.gsm8k,
        ]
    }
}

/// One row of `flagged_models_v1.jsonl`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V1Flag {
    pub model: String,
    pub discussion_url: Option<String>,
    pub discussion_number: Option<i64>,
    pub category: String,
}

/// Reads a file, gunzipping it when its name ends in `.gz`.
fn read_text(path: &Path) -> Result<(String, Vec<u8>), ImportError> {
    let err = |message: String| ImportError {
        path: path.to_path_buf(),
        line: 0,
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(|e| err(format!("expected gzip-compressed UTF-8 JSON Lines: {e}")))?;
        s
    } else {
        String::from_utf8(bytes.clone()).map_err(|e| err(format!("expected UTF-8 text: {e}")))?
    };
    Ok((text, bytes))
}

/// Parses JSON Lines, returning each record with its 1-based line number.
fn parse_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<Vec<(usize, T)>, ImportError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec = serde_json::from_str(line).map_err(|e| ImportError {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("expected a v1 record: {e}"),
        })?;
        out.push((i + 1, rec));
    }
    Ok(out)
}

/// Reads the v1 table archive (`.jsonl` or `.jsonl.gz`): its records with line
/// numbers, and the `source_dataset` string naming it (file name + sha256).
pub fn read_archive(path: &Path) -> Result<(Vec<(usize, V1Row)>, String), ImportError> {
    let (text, bytes) = read_text(path)?;
    let rows = parse_jsonl(path, &text)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = format!("{name} sha256:{:x}", Sha256::digest(&bytes));
    Ok((rows, source))
}

/// Reads `flagged_models_v1.jsonl`.
pub fn read_flag_list(path: &Path) -> Result<Vec<(usize, V1Flag)>, ImportError> {
    let (text, _) = read_text(path)?;
    parse_jsonl(path, &text)
}

/// Converts a v1 percentage to a fraction, checking that ×100 and rounding to
/// 2 dp gives the v1 number back exactly.
pub fn percent_to_fraction(percent: f64) -> Result<f64, String> {
    if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
        return Err(format!("expected a percentage in [0, 100], got {percent}"));
    }
    let value = percent / 100.0;
    if format!("{:.2}", value * 100.0) != format!("{percent:.2}")
        || ((percent * 100.0).round() - percent * 100.0).abs() > 1e-6
    {
        return Err(format!(
            "{percent} is not a 2-dp percentage that survives the conversion to a fraction"
        ));
    }
    Ok(value)
}

/// Parses v1's `date`: RFC 3339 (`2024-05-05T12:22:44Z`, almost all rows) or,
/// for 5 rows, a time without zone and with microseconds
/// (`2023-09-15T11:25:37.918274`), which is UTC like the rest. Fractional
/// seconds are dropped (the format stores whole seconds).
pub fn parse_v1_date(d: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
    let t = match DateTime::parse_from_rfc3339(d) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => NaiveDateTime::parse_from_str(d, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()?
            .and_utc(),
    };
    Some(t.trunc_subsecs(0))
}

/// Converts one v1 row into a run; `source` is the `source_dataset` string.
pub fn convert_row(row: &V1Row, source: &str) -> Result<Run, String> {
    if row.model != row.fullname {
        return Err(format!(
            "`model` {:?} differs from `fullname` {:?}; expected the same id",
            row.model, row.fullname
        ));
    }
    for (plain, inverted, name) in [
        (row.is_merge, row.merged, "is_merge/merged"),
        (row.is_moe, row.moe, "is_moe/moe"),
        (row.is_flagged, row.flagged, "is_flagged/flagged"),
    ] {
        if plain == inverted {
            return Err(format!(
                "{name} are both {plain}; expected the plain column to be the negation of v1's inverted one"
            ));
        }
    }
    let model_type = ModelType::ALL
        .iter()
        .copied()
        .find(|m| m.symbol() == row.t)
        .ok_or_else(|| format!("`t` = {:?}; expected one of 🟢 🟩 🔶 💬 🤝 ?", row.t))?;
    match (&row.type_, model_type) {
        (None, ModelType::Unknown) => {}
        (Some(ty), m) if m != ModelType::Unknown && ty.starts_with(m.symbol()) => {}
        (ty, _) => {
            return Err(format!(
                "`type` {ty:?} does not agree with `t` {:?}; expected the same emoji (or null with `?`)",
                row.t
            ))
        }
    }
    let precision: Precision = row
        .precision
        .parse()
        .map_err(|e| format!("`precision`: {e}"))?;
    let weight_type: WeightType = row
        .weight_type
        .parse()
        .map_err(|e| format!("`weight_type`: {e}"))?;
    if row.params_b < 0 {
        return Err(format!("`params_b` = {}; expected >= 0", row.params_b));
    }
    let submitted_at = row
        .date
        .as_deref()
        .map(|d| parse_v1_date(d).ok_or_else(|| format!("`date` {d:?}: expected ISO-8601 (UTC)")))
        .transpose()?;
    let architecture = match row.architecture.as_str() {
        "?" | "Unknown" | "" => None,
        a => Some(a.to_string()),
    };
    let mut scores = Vec::with_capacity(6);
    for (b, percent) in Benchmark::ALL.into_iter().zip(row.scores()) {
        let value = percent_to_fraction(percent).map_err(|e| format!("`{}`: {e}", b.label()))?;
        scores.push(Score {
            task: b.task().to_string(),
            metric: b.headline_metrics()[0].to_string(),
            value,
            stderr: None,
            n_samples: None,
            num_fewshot: Some(b.num_fewshot()),
        });
    }
    if !row.average.is_finite() {
        return Err(format!("`average` = {}; expected a number", row.average));
    }
    Ok(Run {
        model_id: row.model.clone(),
        revision: row.model_sha.clone(),
        precision,
        precision_detail: None,
        weight_type,
        base_model: None,
        model_type,
        architecture,
        params_billions: Some(row.params_b as f64),
        params_truncated: true,
        license: row.hub_license.clone(),
        is_merge: row.is_merge,
        is_moe: row.is_moe,
        available_on_hub: Some(row.available_on_the_hub),
        hub_likes: Some(row.hub_hearts),
        submitted_at,
        evaluated_at: None,
        weights_sha256: None,
        provenance: Provenance {
            tool: TOOL.to_string(),
            tool_version: Some(TOOL_VERSION.to_string()),
            suite: SUITE.to_string(),
            source_dataset: Some(source.to_string()),
            run_config: None,
            deviations: Vec::new(),
        },
        reported_average: Some(row.average),
        scores,
    })
}

/// Counts reported by an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagStats {
    /// Distinct models flagged in the archive (`is_flagged`).
    pub flagged_in_archive: usize,
    /// Of those, how many the flag list names.
    pub from_list: usize,
    /// Of those, how many only v1's automatic undeclared-merge rule flagged.
    pub auto_flagged: usize,
    /// Listed (flagged or do-not-submit) models that are not in the archive.
    pub listed_not_in_archive: usize,
    /// Entries with category do-not-submit.
    pub do_not_submit: usize,
    /// Entries written to `flags.toml`.
    pub total: usize,
    /// List entries skipped because their key is not a valid model id (v1
    /// typos such as a trailing space: v1 never matched them to a model).
    pub ignored: usize,
}

/// The reason text for a v1 list category.
fn reason_for(category: &str) -> String {
    if category.starts_with("merge not indicated") {
        "Merge not indicated on the model card (flagged by v1 maintainers)".into()
    } else if category.starts_with("moerge not indicated") {
        "MoE merge (moerge) not indicated on the model card (flagged by v1 maintainers)".into()
    } else if category.starts_with("other") {
        "Flagged by v1 maintainers, mostly for benchmark contamination; see the discussion".into()
    } else if category.starts_with("do-not-submit") {
        "Removed from the v1 table at the authors' request (v1 do-not-submit list)".into()
    } else {
        "Flagged by v1 maintainers; see the discussion".into()
    }
}

/// The key `flagged_models_v1.jsonl` uses for v1's automatic merge-flag link.
pub const AUTO_MERGE_KEY: &str = "merged";
/// Category given to models flagged only by v1's automatic undeclared-merge rule.
pub const AUTO_MERGE_CATEGORY: &str = "auto-flagged: undeclared merge";

/// Builds the flags from v1's list and the archive's `is_flagged`, and checks
/// that, for every archive row, "model has a flag" equals `is_flagged`.
pub fn build_flags(
    list_path: &Path,
    list: &[(usize, V1Flag)],
    archive_path: &Path,
    rows: &[(usize, V1Row)],
) -> Result<FlagsImport, ImportError> {
    let list_err = |line: usize, message: String| ImportError {
        path: list_path.to_path_buf(),
        line,
        message,
    };
    let mut auto_link = None;
    let mut ignored = Vec::new();
    let mut by_model: BTreeMap<String, Flag> = BTreeMap::new();
    for (line, f) in list {
        if f.model == AUTO_MERGE_KEY {
            auto_link = f.discussion_url.clone();
            continue;
        }
        if !leaderboard_format::ids::is_valid_model_id(&f.model) {
            ignored.push((*line, f.clone()));
            continue;
        }
        let dns = f.category.starts_with("do-not-submit");
        let category = if dns {
            DO_NOT_SUBMIT.to_string()
        } else {
            f.category.clone()
        };
        let reason = reason_for(&f.category);
        match by_model.get_mut(&f.model) {
            None => {
                by_model.insert(
                    f.model.clone(),
                    Flag {
                        model: f.model.clone(),
                        reason,
                        link: f.discussion_url.clone(),
                        category: Some(category),
                    },
                );
            }
            Some(existing) if dns || existing.category.as_deref() == Some(DO_NOT_SUBMIT) => {
                // On both lists: one entry, both reasons, do-not-submit category.
                let (flag_reason, dns_reason) = if dns {
                    (existing.reason.clone(), reason)
                } else {
                    (reason, existing.reason.clone())
                };
                existing.reason = format!("{flag_reason}. Also: {dns_reason}");
                existing.link = existing.link.clone().or(f.discussion_url.clone());
                existing.category = Some(DO_NOT_SUBMIT.to_string());
            }
            Some(_) => {
                return Err(list_err(
                    *line,
                    format!(
                        "model {:?} is listed twice; expected one entry per model",
                        f.model
                    ),
                ))
            }
        }
    }
    let listed: BTreeSet<String> = by_model.keys().cloned().collect();
    let mut stats = FlagStats::default();
    let flagged: BTreeSet<&str> = rows
        .iter()
        .filter(|(_, r)| r.is_flagged)
        .map(|(_, r)| r.model.as_str())
        .collect();
    stats.flagged_in_archive = flagged.len();
    for m in &flagged {
        if listed.contains(*m) {
            stats.from_list += 1;
        } else {
            let link = auto_link.clone().ok_or_else(|| {
                list_err(
                    0,
                    format!(
                        "{m:?} is flagged in the archive but not listed, and the list has no `{AUTO_MERGE_KEY}` key to link it to"
                    ),
                )
            })?;
            stats.auto_flagged += 1;
            by_model.insert(
                m.to_string(),
                Flag {
                    model: m.to_string(),
                    reason: "Undeclared merge, flagged by v1's automatic rule (January 2024)"
                        .into(),
                    link: Some(link),
                    category: Some(AUTO_MERGE_CATEGORY.to_string()),
                },
            );
        }
    }
    let in_archive: BTreeSet<&str> = rows.iter().map(|(_, r)| r.model.as_str()).collect();
    stats.listed_not_in_archive = listed
        .iter()
        .filter(|m| !in_archive.contains(m.as_str()))
        .count();
    for (line, r) in rows {
        if by_model.contains_key(&r.model) != r.is_flagged {
            return Err(ImportError {
                path: archive_path.to_path_buf(),
                line: *line,
                message: format!(
                    "{:?} has is_flagged = {} but {} in the flag list; expected them to agree",
                    r.model,
                    r.is_flagged,
                    if r.is_flagged { "is not" } else { "is" }
                ),
            });
        }
    }
    let flags: Vec<Flag> = by_model.into_values().collect();
    stats.do_not_submit = flags
        .iter()
        .filter(|f| f.category.as_deref() == Some(DO_NOT_SUBMIT))
        .count();
    stats.total = flags.len();
    stats.ignored = ignored.len();
    Ok(FlagsImport {
        flags,
        stats,
        ignored,
    })
}

/// The flags built from v1's lists.
#[derive(Debug, Clone)]
pub struct FlagsImport {
    /// Sorted by model id.
    pub flags: Vec<Flag>,
    pub stats: FlagStats,
    /// List entries (with their line) whose key is not a valid model id.
    pub ignored: Vec<(usize, V1Flag)>,
}

impl FlagsImport {
    /// The text of `flags.toml`: header, entries, then the ignored v1 keys as comments.
    pub fn render(&self) -> String {
        let mut out = leaderboard_format::flags::render_flags(FLAGS_HEADER, &self.flags);
        if !self.ignored.is_empty() {
            out.push_str(
                "\n# v1's list also had these keys, which are not valid model ids (typos), so v1\n\
                 # never applied them to any model; kept here as a record only:\n",
            );
            for (_, f) in &self.ignored {
                out.push_str(&format!(
                    "#   {:?} ({}; {})\n",
                    f.model,
                    f.category,
                    f.discussion_url.as_deref().unwrap_or("no link")
                ));
            }
        }
        out
    }
}

/// Header comment of the generated `flags.toml`.
pub const FLAGS_HEADER: &str = "\
Flagged models. Human-editable: one [[flag]] table per model, keys
  model    - Hub model id, exactly as in the results files
  reason   - why it is flagged (shown on the site)
  link     - optional: where it was discussed
  category - optional: a grouping; \"do-not-submit\" = the authors asked not to be
             evaluated (the site marks and hides these like flagged models)
The site marks every run of a flagged model and hides it under \"hide flagged\".
Generated by `leaderboard import` from v1's lists (flagged_models_v1.jsonl) and the
archive's is_flagged column; `leaderboard check` validates this file.
Format documented in format/src/flags.rs.";
