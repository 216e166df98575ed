//! `leaderboard submit`: writes an evaluation request (`requests/<org>/…json`,
//! [`leaderboard_format::requests`]) after v1's checks, in v1's order:
//!
//! 1. a model type is given;
//! 2. the org's rate limit (more than `--rate-limit` requests, default 5, in
//!    `--rate-days` days, default 7, counted in the requests folder);
//! 3. the do-not-submit list (`results/flags.toml`);
//! 4. the revision resolves to a commit on the Hub;
//! 5. adapters and deltas: the base model exists and has a `config.json`;
//! 6. `config.json` loads without custom code (no `auto_map`) and names an
//!    architecture the evaluator runs ([`leaderboard_format::architectures`]);
//! 7. the tokenizer loads (`tokenizer.json`, the file the evaluator reads);
//! 8. the model card exists, names a licence and has at least 200 characters;
//! 9. parameters counted from the safetensors headers (HTTP range requests: the
//!    weights are not downloaded; no safetensors weights is a refusal);
//! 10. merge / MoE tags from the card, as v1 derived them;
//! 11. no request for the same model, revision, precision and weight type
//!     (any status), and no results for that run already.
//!
//! Every refusal says what to fix. Hub access goes through `leaderboard-hub`
//! (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HOME`; offline mode refuses, since the
//! checks need the Hub's live metadata). Files read from the repo are read
//! with range requests of at most [`MAX_TEXT_BYTES`], never executed.

use anyhow::{bail, Context, Result};
use leaderboard_format::requests::{self, Request};
use leaderboard_format::schema::{ModelType, Precision, WeightType};
use leaderboard_hub::{Hub, HubConfig, ModelMeta};
use std::path::PathBuf;

/// Largest card, config or index read from a repo, in bytes.
pub const MAX_TEXT_BYTES: u64 = 1 << 20;
/// Largest tokenizer.json read (it is parsed, as v1 loaded the tokenizer).
pub const MAX_TOKENIZER_BYTES: u64 = 64 << 20;
/// Shortest model card accepted, in characters (v1's rule).
pub const MIN_CARD_CHARS: usize = 200;

/// Ask for an evaluation: check a Hub model as v1 did and write its request file.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Environment: HF_ENDPOINT, HF_TOKEN, HF_HOME (Hub access, as huggingface_hub reads them); SOURCE_DATE_EPOCH (default of --now)"
)]
pub struct Args {
    /// The model, a Hub id `org/name`.
    #[arg(long)]
    pub model: String,
    /// Branch, tag or commit; the request records the commit it resolves to.
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Precision to evaluate in: float16, bfloat16, float32, 8bit, 4bit, GPTQ.
    #[arg(long)]
    pub precision: Precision,
    /// Original, Adapter or Delta.
    #[arg(long, default_value = "Original")]
    pub weight_type: WeightType,
    /// The base model of an Adapter or Delta (Hub id).
    #[arg(long)]
    pub base_model: Option<String>,
    /// pretrained, continuously pretrained, fine-tuned, chat or merge.
    #[arg(long)]
    pub model_type: ModelType,
    /// Requests folder the request is written to.
    #[arg(long, default_value = "requests")]
    pub requests: PathBuf,
    /// Results folder (its flags.toml holds the do-not-submit list; runs already evaluated are refused).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Most requests of one org within --rate-days days.
    #[arg(long, default_value_t = 5)]
    pub rate_limit: usize,
    /// Days the rate limit counts back.
    #[arg(long, default_value_t = 7)]
    pub rate_days: i64,
    /// Submission time recorded (RFC 3339). Default: SOURCE_DATE_EPOCH when set, else now.
    #[arg(long)]
    pub now: Option<String>,
}

/// A refusal: what is wrong, and what to do about it.
fn refuse(msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{msg}")
}

/// The model card's YAML front matter, as far as v1 read it: `license`,
/// `license_name`, `tags`; and the card's text after it.
#[derive(Debug, Default, PartialEq)]
pub struct Card {
    pub license: Option<String>,
    pub tags: Vec<String>,
    pub text: String,
}

fn unquote(s: &str) -> String {
    s.trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim()
        .to_string()
}

/// Reads `key: value`, `key: [a, b]` and `key:` + `- item` lines of a card's
/// front matter (the subset of YAML cards use for these keys); nothing is evaluated.
pub fn parse_card(md: &str) -> Card {
    let mut card = Card::default();
    let body = md.strip_prefix('\u{feff}').unwrap_or(md);
    let Some(rest) = body
        .strip_prefix("---\n")
        .or_else(|| body.strip_prefix("---\r\n"))
    else {
        card.text = body.to_string();
        return card;
    };
    let (front, text) = match rest.find("\n---") {
        Some(i) => {
            let after = &rest[i + 4..];
            (&rest[..i], after.split_once('\n').map_or("", |(_, t)| t))
        }
        None => ("", rest),
    };
    card.text = text.to_string();
    let mut list_key: Option<String> = None;
    for line in front.lines() {
        let t = line.trim_end();
        if let Some(item) = t.trim_start().strip_prefix("- ") {
            if list_key.as_deref() == Some("tags") {
                card.tags.push(unquote(item));
            }
            continue;
        }
        if t.starts_with(' ') || t.starts_with('\t') {
            continue;
        }
        list_key = None;
        let Some((k, v)) = t.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "license" | "license_name" if !v.is_empty() && card.license.is_none() => {
                card.license = Some(unquote(v))
            }
            "tags" if v.is_empty() => list_key = Some("tags".into()),
            "tags" => card.tags.extend(
                v.trim_start_matches('[')
                    .trim_end_matches(']')
                    .split(',')
                    .map(unquote)
                    .filter(|s| !s.is_empty()),
            ),
            _ => {}
        }
    }
    card
}

/// v1's merge and MoE rules over the card's tags and text and the model name.
pub fn merge_and_moe(card: &Card, hub_tags: &[String], model: &str) -> (bool, bool) {
    let tags: Vec<String> = card
        .tags
        .iter()
        .chain(hub_tags)
        .map(|t| t.to_ascii_lowercase())
        .collect();
    let has = |names: &[&str]| tags.iter().any(|t| names.contains(&t.as_str()));
    let text = card.text.to_lowercase();
    let merge = has(&["merge", "moerge", "mergekit", "lazymergekit"])
        || ["merged model", "merge model", "moerge"]
            .iter()
            .any(|k| text.contains(k));
    let name = model.to_ascii_lowercase().replace(['/', '_'], "-");
    let moe = has(&["moe", "moerge"])
        || ["moe", "mixtral"].iter().any(|k| text.contains(k))
        || name.split('-').any(|w| w == "moe");
    (merge, moe)
}

/// A text file of the repo of at most `max` bytes ([`MAX_TEXT_BYTES`] for cards and
/// configs), or None when absent.
fn text_file(
    hub: &Hub,
    meta: &ModelMeta,
    repo: &str,
    file: &str,
    max: u64,
) -> Result<Option<String>> {
    if !meta.files.iter().any(|f| f == file) {
        return Ok(None);
    }
    let bytes = hub.read_range(repo, &meta.sha, file, 0, max + 1)?;
    if bytes.len() as u64 > max {
        bail!("{repo}: {file} is larger than {max} bytes");
    }
    Ok(Some(
        String::from_utf8(bytes).with_context(|| format!("{repo}: {file} is not UTF-8"))?,
    ))
}

/// The safetensors weight files: the index's shards, or `*.safetensors`.
fn weight_files(hub: &Hub, meta: &ModelMeta, repo: &str) -> Result<Vec<String>> {
    if let Some(index) = text_file(
        hub,
        meta,
        repo,
        "model.safetensors.index.json",
        MAX_TEXT_BYTES,
    )? {
        let v: serde_json::Value = serde_json::from_str(&index)
            .with_context(|| format!("{repo}: model.safetensors.index.json is not JSON"))?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .with_context(|| format!("{repo}: model.safetensors.index.json has no weight_map"))?;
        let mut shards: Vec<String> = map
            .values()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        shards.sort();
        shards.dedup();
        for s in &shards {
            if !meta.files.contains(s) {
                bail!("{repo}: the index names {s:?}, which the repo does not have");
            }
        }
        return Ok(shards);
    }
    let mut files: Vec<String> = meta
        .files
        .iter()
        .filter(|f| f.ends_with(".safetensors") && !f.contains('/'))
        .cloned()
        .collect();
    files.sort();
    Ok(files)
}

/// Runs the checks and writes the request; returns its path.
pub fn submit(args: &Args, hub: &Hub) -> Result<PathBuf> {
    let model = args.model.as_str();
    leaderboard_format::ids::check_model_id(model).map_err(|e| refuse(format!("--model: {e}")))?;
    let (org, _) = model
        .split_once('/')
        .ok_or_else(|| refuse(format!("--model {model:?}: expected org/name")))?;
    let submitted = leaderboard_format::time::given_or_now("--now", args.now.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;

    // 1. Model type.
    if args.model_type == ModelType::Unknown {
        return Err(refuse(
            "--model-type: say what the model is (pretrained, continuously pretrained, fine-tuned, chat or merge); the table's filters use it",
        ));
    }

    // The queue and results as they are (check's rules; unreadable files are
    // reported by `check`, counted here as far as they read).
    let (_, set) = leaderboard_format::check::check_and_load(&args.results);
    let (_, queue) = leaderboard_format::check::check_requests(&args.requests, &set);

    // 2. Rate limit.
    let since = submitted - chrono::Duration::days(args.rate_days);
    let recent = queue
        .iter()
        .filter(|l| {
            l.request
                .model
                .split('/')
                .next()
                .map(leaderboard_format::ids::fold)
                == Some(leaderboard_format::ids::fold(org))
                && l.request.submitted_time > since
        })
        .count();
    if recent >= args.rate_limit {
        return Err(refuse(format!(
            "rate limit: {org} already has {recent} requests submitted in the last {} days (at most {} per {} days); wait until the oldest is {} days old",
            args.rate_days, args.rate_limit, args.rate_days, args.rate_days
        )));
    }

    // 3. Do-not-submit list.
    if let Some(f) = set.do_not_submit(model) {
        return Err(refuse(format!(
            "{model} is on the do-not-submit list ({}): its authors asked not to be evaluated",
            f.reason
        )));
    }

    // 4. Revision → commit.
    let meta = hub
        .model_meta(model, &args.revision)
        .map_err(|e| refuse(format!("{e}; check the model id and --revision")))?;

    // 5. Base model of adapters and deltas.
    let base = match (args.weight_type, &args.base_model) {
        (WeightType::Original, _) => String::new(),
        (wt, None) => {
            return Err(refuse(format!(
                "--base-model: {wt} weights are evaluated on their base model; give its Hub id"
            )))
        }
        (_, Some(b)) => {
            let bm = hub
                .model_meta(b, "main")
                .map_err(|e| refuse(format!("base model {b}: {e}; check --base-model")))?;
            if !bm.files.iter().any(|f| f == "config.json") {
                return Err(refuse(format!(
                    "base model {b} has no config.json at {}; give a base model in the Hugging Face format",
                    bm.sha
                )));
            }
            b.clone()
        }
    };

    // 6. config.json: no custom code, a supported architecture.
    let config_text = text_file(hub, &meta, model, "config.json", MAX_TEXT_BYTES)?.ok_or_else(|| {
        refuse(format!(
            "{model} has no config.json at {}; submit a repo in the Hugging Face format (config.json, safetensors weights, tokenizer.json)",
            meta.sha
        ))
    })?;
    let config: serde_json::Value = serde_json::from_str(&config_text).map_err(|e| {
        refuse(format!(
            "{model}: config.json is not valid JSON ({e}); fix the file"
        ))
    })?;
    if config.get("auto_map").is_some() {
        return Err(refuse(format!(
            "{model}: config.json needs custom code (auto_map); the leaderboard runs no code from a repo: submit a model whose architecture transformers ships"
        )));
    }
    let archs: Vec<String> = config
        .get("architectures")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !archs
        .iter()
        .any(|a| leaderboard_format::architectures::is_supported_hf(a))
    {
        return Err(refuse(format!(
            "{model}: architecture {} is not one the evaluator runs ({}); see the project's architecture issue, or evaluate it with another tool and import the results",
            if archs.is_empty() { "(none in config.json)".to_string() } else { archs.join(", ") },
            leaderboard_format::architectures::HF.join(", ")
        )));
    }

    // 7. Tokenizer.
    let tok = text_file(hub, &meta, model, "tokenizer.json", MAX_TOKENIZER_BYTES)?
        .ok_or_else(|| {
            refuse(format!(
                "{model} has no tokenizer.json at {}; save the tokenizer with a recent transformers (tokenizer.save_pretrained) and push it",
                meta.sha
            ))
        })?;
    if let Some(tc) = text_file(hub, &meta, model, "tokenizer_config.json", MAX_TEXT_BYTES)? {
        serde_json::from_str::<serde_json::Value>(&tc).map_err(|e| {
            refuse(format!(
                "{model}: tokenizer_config.json is not valid JSON ({e}); fix the file"
            ))
        })?;
    }
    let tok: serde_json::Value = serde_json::from_str(&tok).map_err(|e| {
        refuse(format!(
            "{model}: tokenizer.json is not valid JSON ({e}); save it again with transformers"
        ))
    })?;
    if tok.get("model").and_then(|m| m.get("type")).is_none() {
        return Err(refuse(format!(
            "{model}: tokenizer.json has no model.type; save it again with transformers"
        )));
    }

    // 8. Model card.
    let card_text =
        text_file(hub, &meta, model, "README.md", MAX_TEXT_BYTES)?.ok_or_else(|| {
            refuse(format!(
                "{model} has no model card (README.md); add one with a description and a license"
            ))
        })?;
    let card = parse_card(&card_text);
    let license = card.license.clone().ok_or_else(|| {
        refuse(format!(
            "{model}: the model card names no license; add `license: <id>` to its YAML header"
        ))
    })?;
    let chars = card.text.trim().chars().count();
    if chars < MIN_CARD_CHARS {
        return Err(refuse(format!(
            "{model}: the model card is too short ({chars} characters of text, at least {MIN_CARD_CHARS}); describe the model, its training and its intended use"
        )));
    }
    // A licence tag the request format accepts; anything else is v1's "other".
    let license = if requests::is_license_tag(&license) {
        license
    } else {
        "other".to_string()
    };

    // 9. Parameters.
    let weights = weight_files(hub, &meta, model)?;
    if weights.is_empty() {
        return Err(refuse(format!(
            "{model} has no safetensors weights at {}; convert the weights to safetensors (the parameter count is read from their headers)",
            meta.sha
        )));
    }
    let params = leaderboard_hub::safetensors_params(hub, model, &meta.sha, &weights)
        .map_err(|e| refuse(format!("{e}; the safetensors headers must be readable")))?;

    // 10. Tags.
    let (is_merge, is_moe) = merge_and_moe(&card, &meta.tags, model);

    // 11. Duplicates.
    let mut r = Request::new_pending(
        model,
        &meta.sha,
        args.precision,
        args.weight_type,
        submitted,
    );
    r.base_model = base;
    r.private = meta.private;
    r.model_type = args.model_type;
    r.likes = meta.likes;
    r.params = (params as f64 / 1e6).round() / 1e3;
    r.license = license;
    r.architectures = archs.join(";");
    r.is_merge = is_merge;
    r.is_moe = is_moe;
    if let Some(l) = queue.iter().find(|l| l.request.key() == r.key()) {
        return Err(refuse(format!(
            "a request for {} is already {} ({}); {}",
            r.key(),
            l.request.status,
            args.requests.join(&l.file).display(),
            match l.request.status {
                requests::Status::Failed =>
                    "to try again, resubmit that request (see the FAQ: how do I resubmit a failed request?)",
                requests::Status::Finished => "its results are on the leaderboard",
                _ => "it is in the queue",
            }
        )));
    }
    if set
        .runs_of(model, &meta.sha, args.precision)
        .next()
        .is_some()
    {
        return Err(refuse(format!(
            "{model} at {} in {} is already evaluated in {}; its results are on the leaderboard",
            meta.sha,
            args.precision,
            args.results.display()
        )));
    }
    let problems = r.problems();
    if let Some((key, msg)) = problems.first() {
        bail!("the request would be invalid: {key}: {msg}");
    }
    let path = args.requests.join(r.rel_path());
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    requests::write_request(&path, &r)?;
    Ok(path)
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let hub = Hub::new(HubConfig::from_env())?;
    let path = submit(args, &hub)?;
    println!("wrote {}", path.display());
    println!("next: run `leaderboard check`, then open a pull request adding this file");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards() {
        let c = parse_card("---\nlicense: \"apache-2.0\"\ntags:\n  - merge\n  - 'mergekit'\nbase_model: x\n---\n# Hello\nbody text\n");
        assert_eq!(c.license.as_deref(), Some("apache-2.0"));
        assert_eq!(c.tags, ["merge", "mergekit"]);
        assert_eq!(c.text, "# Hello\nbody text\n");
        let c = parse_card("---\nlicense_name: my-license\ntags: [moe, chat]\n---\ntext");
        assert_eq!(c.license.as_deref(), Some("my-license"));
        assert_eq!(c.tags, ["moe", "chat"]);
        assert_eq!(parse_card("no front matter").license, None);
        let (m, e) = merge_and_moe(&Card::default(), &[], "org/Foo-MoE-4x7b");
        assert!(!m && e);
        let (m, e) = merge_and_moe(&Card::default(), &["mergekit".into()], "org/mergedmodel");
        assert!(m && !e);
    }
}
