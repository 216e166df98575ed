//! `evaluator run`: evaluates one model on a suite's tasks and writes its results and details files.
//!
//! Output: `<output>/<org>/<name>/<suite>_<precision>_<revision or weights-hash prefix>.parquet`
//! (one [`Run`], through `leaderboard_format::write_file`) and, beside it,
//! the per-sample `….details.parquet` ([`crate::details`]). Both are written
//! only after every task finished: an error or Ctrl-C midway leaves no file.
//! The details file goes first and is removed again if the results file
//! cannot be written.
//!
//! Model sources: a local `.gguf` file, a local Hugging Face folder, or a Hub
//! id `org/name` (or `org/name:file.gguf`) resolved through [`crate::hub`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use leaderboard_format::schema::{Benchmark, ModelType, Provenance, Run, WeightType};

use crate::cmd::TaskArgs;
use crate::data::LocalDir;
use crate::details::{self, DetailRow};
use crate::model;
use crate::suite::Suite;
use crate::tasks;
use crate::tokenizer::harness::Options;
use crate::tokenizer::Tokenizer;

/// Tool name recorded in `Provenance.tool`.
pub const TOOL: &str = "leaderboard-evaluator";

/// Environment variables `evaluator run` reads (shown by `--help`).
const ENVIRONMENT: &str = "\
Environment:
  RAYON_NUM_THREADS          CPU threads of the model (default: all cores)
  LEADERBOARD_CACHE          folder of the run journals a stopped run resumes from
                             (<cache>/runs; default ~/.cache/leaderboard)
  LEADERBOARD_PROGRESS_SECS  seconds between plain progress lines when stderr is not a
                             terminal (default 30; 0: every update)
  LEADERBOARD_SYSTEM_MALLOC  1: keep glibc's default allocator settings (slower)
  HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE, HF_TOKEN
                             Hugging Face Hub access and cache, as huggingface_hub reads them";

/// Evaluate a model on the leaderboard tasks and write its results file.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = ENVIRONMENT)]
pub struct RunArgs {
    /// The model: a local .gguf file, a local Hugging Face folder (config.json,
    /// *.safetensors, tokenizer.json), or a Hub id `org/name` (`org/name:file.gguf`
    /// picks one GGUF file of the repo).
    #[arg(long)]
    pub model: String,
    /// Hub revision (branch, tag or commit); the resolved commit sha is recorded.
    #[arg(long)]
    pub revision: Option<String>,
    /// Model id recorded in the results (`org/name`). Default: the Hub id, or
    /// `local/<file or folder name>` for a local model.
    #[arg(long)]
    pub model_id: Option<String>,
    /// Suite, tasks options and data folder.
    #[command(flatten)]
    pub task: TaskArgs,
    /// `all` or a comma-separated list of: arc_challenge, hellaswag, mmlu,
    /// truthfulqa_mc, winogrande, gsm8k.
    #[arg(long, default_value = "all")]
    pub tasks: String,
    /// cpu, cuda[:N] or metal[:N] (cuda/metal need the matching cargo feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Compute dtype: f32, f16 or bf16. GGUF: dequantize every weight to it
    /// (default: keep the quantized weights). Safetensors: cast (default: as stored).
    #[arg(long)]
    pub dtype: Option<String>,
    /// Tokens per batched forward (several prompts and continuations packed into one
    /// call). Default: 2048, lowered when a batch's activations would take more than an
    /// eighth of the available memory. Part of the resume key.
    #[arg(long)]
    pub batch_tokens: Option<usize>,
    /// Use this tokenizer.json instead of the model's own tokenizer.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Model category recorded in the results.
    #[arg(long, default_value = "unknown")]
    pub model_type: ModelType,
    /// Results folder.
    #[arg(long, default_value = "results")]
    pub output: PathBuf,
    /// Timestamp recorded as `evaluated_at` (RFC 3339). Default: SOURCE_DATE_EPOCH
    /// when set (reproducible files), else now.
    #[arg(long)]
    pub evaluated_at: Option<String>,
}

/// The model files and where they came from.
struct Source {
    load_path: PathBuf,
    model_id: String,
    revision: Option<String>,
    from_hub: bool,
}

/// Runs the command.
pub fn run(args: &RunArgs) -> Result<()> {
    let started = Instant::now();
    let benchmarks = parse_tasks(&args.tasks)?;
    let evaluated_at = evaluated_at(args.evaluated_at.as_deref())?;
    let source = resolve_source(args)?;
    check_output(&args.output, &source.model_id)?;
    let suite = args.task.suite;
    let device = model::device(&args.device)?;
    let dtype = match args.dtype.as_deref() {
        None => None,
        Some(d) => Some(parse_dtype(d)?),
    };

    // Tokenizer first: cheap, and a mismatch should fail before the weights load.
    let tok = match &args.tokenizer {
        Some(p) => Tokenizer::from_tokenizer_json(p)?,
        None => Tokenizer::for_model(&source.load_path)?,
    };
    eprintln!("loading model {}", source.load_path.display());
    let model = model::load(&source.load_path, &device, dtype)?;
    let info = model.info().clone();
    tok.check_fits_model(info.vocab_size, &source.load_path)?;
    let opts = Options::for_suite(suite, &tok, info.max_length);
    let batch_tokens = crate::schedule::plan::batch_tokens_for(
        args.batch_tokens,
        model.activation_bytes_per_token(),
        crate::model::available_memory(),
    );

    // Build every task's requests before any model work, so data errors show up at once;
    // then keep one task's requests at a time (rebuilt, identically, when the task runs):
    // all six tasks' prompt strings together take several hundred megabytes.
    let data = LocalDir::new(args.task.data_dir());
    let build = args.task.build_options();
    let build_task = |b: Benchmark| {
        tasks::build(b, &data, &build)
            .with_context(|| format!("building the {} requests", b.task()))
    };
    for b in &benchmarks {
        build_task(*b)?;
    }

    let mut scores = Vec::new();
    let mut detail_rows = Vec::new();
    let mut deviations: Vec<String> = Vec::new();
    for b in &benchmarks {
        let task_started = Instant::now();
        let tr = &build_task(*b)?;
        // Shared-prefix scheduling + resumable journal (task E: crate::schedule::resume).
        let (responses, greedy) = crate::schedule::resume::run_task(
            model.as_ref(),
            &tok,
            &opts,
            suite,
            tr,
            batch_tokens,
        )?;
        let results = tasks::score(tr, &responses)?;
        for (sample, is_greedy) in results.details.into_iter().zip(greedy) {
            detail_rows.push(DetailRow { sample, is_greedy });
        }
        if let Some(s) = results.scores.iter().find(|s| {
            s.task == tr.benchmark.task()
                && tr.benchmark.headline_metrics().contains(&s.metric.as_str())
        }) {
            eprintln!(
                "{:<14} {:>8} = {:.4} (n={}, {:.1}s)",
                tr.benchmark.task(),
                s.metric,
                s.value,
                s.n_samples.unwrap_or(0),
                task_started.elapsed().as_secs_f64()
            );
        }
        scores.extend(results.scores);
        deviations.extend(tr.deviations.iter().cloned());
    }
    if let Some(n) = build.limit {
        deviations.push(format!("limit:{n}"));
    }
    if let Some(k) = build.num_fewshot {
        deviations.push(format!("num_fewshot:{k}"));
    }
    if benchmarks.len() < Benchmark::ALL.len() {
        let names: Vec<&str> = benchmarks.iter().map(|b| b.task()).collect();
        deviations.push(format!("tasks:{}", names.join(",")));
    }
    deviations.sort();
    deviations.dedup();

    let run = Run {
        model_id: source.model_id.clone(),
        revision: source.revision.clone(),
        precision: info.precision,
        precision_detail: info.precision_detail.clone(),
        weight_type: WeightType::Original,
        base_model: None,
        model_type: args.model_type,
        architecture: Some(hf_architecture(&info.architecture)),
        params_billions: Some(info.params as f64 / 1e9),
        params_truncated: false,
        license: None,
        is_merge: false,
        is_moe: false,
        available_on_hub: source.from_hub.then_some(true),
        hub_likes: None,
        submitted_at: None,
        evaluated_at: Some(evaluated_at),
        weights_sha256: Some(info.weights_sha256.clone()),
        provenance: Provenance {
            tool: TOOL.to_string(),
            tool_version: Some(tool_version()),
            suite: suite.name().to_string(),
            source_dataset: None,
            deviations,
        },
        reported_average: None,
        scores,
    };

    let path = results_path(
        &args.output,
        &run.model_id,
        suite,
        run.precision.as_str(),
        run.revision.as_deref(),
        &info.weights_sha256,
    )?;
    write_outputs(&path, &run, &detail_rows)?;
    // The results are written: the run's journals are no longer needed (task E).
    crate::schedule::resume::forget_journals(model.as_ref(), suite, &benchmarks, batch_tokens)?;
    for b in &benchmarks {
        if let Some(s) = run.headline(*b) {
            println!(
                "{:<12} {:>7.2}  ({} {})",
                b.label(),
                s.value * 100.0,
                b.task(),
                s.metric
            );
        }
    }
    if let Some(avg) = run.average() {
        println!("{:<12} {:>7.2}", "Average", avg);
    }
    println!("wrote {}", path.display());
    println!("wrote {}", details::details_path(&path).display());
    println!("wall time {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Writes the details file, then the results file; on failure neither stays.
fn write_outputs(path: &Path, run: &Run, rows: &[DetailRow]) -> Result<()> {
    let details_path = details::details_path(path);
    details::write_file(&details_path, rows)?;
    if let Err(e) = leaderboard_format::write_file(path, std::slice::from_ref(run)) {
        let _ = std::fs::remove_file(&details_path);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// Before any work: the model id is one `check` accepts, as `org/name`; the
/// output folder can be created and written; and no symbolic link stands
/// where the run's folder `<output>/<org>/<name>` goes (it would put the
/// files outside the results folder).
pub fn check_output(output: &Path, model_id: &str) -> Result<()> {
    let (org, name) = org_and_name(model_id).context("--model-id")?;
    std::fs::create_dir_all(output)
        .with_context(|| format!("--output {}: cannot create the folder", output.display()))?;
    let probe = output.join(format!(".evaluator-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("--output {}: the folder is not writable", output.display()))?;
    for p in [output.join(org), output.join(org).join(name)] {
        if let Ok(m) = std::fs::symlink_metadata(&p) {
            if m.file_type().is_symlink() || !m.is_dir() {
                bail!(
                    "{} is a symbolic link or a file; expected a folder inside {} (or nothing)",
                    p.display(),
                    output.display()
                );
            }
        }
    }
    Ok(())
}

/// A model id `check` accepts, split into the two folders its results go to.
fn org_and_name(model_id: &str) -> Result<(&str, &str)> {
    leaderboard_format::ids::check_model_id(model_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    model_id.split_once('/').with_context(|| {
        format!("{model_id:?}: expected org/name (the results go to <output>/<org>/<name>/)")
    })
}

/// `<output>/<org>/<name>/<suite>_<precision>_<rev>.parquet`; `<rev>` is the
/// first 12 hex digits of the commit sha, or of the weights hash for local models.
pub fn results_path(
    output: &Path,
    model_id: &str,
    suite: Suite,
    precision: &str,
    revision: Option<&str>,
    weights_sha256: &str,
) -> Result<PathBuf> {
    let (org, name) = org_and_name(model_id)?;
    let rev: String = revision
        .unwrap_or(weights_sha256)
        .chars()
        .take(12)
        .collect();
    Ok(output
        .join(org)
        .join(name)
        .join(format!("{}_{precision}_{rev}.parquet", suite.name())))
}

fn resolve_source(args: &RunArgs) -> Result<Source> {
    let as_path = Path::new(&args.model);
    let looks_local = as_path.exists()
        || args.model.starts_with('/')
        || args.model.starts_with('.')
        || args.model.starts_with('~')
        || args.model.contains('\\')
        || (args.model.ends_with(".gguf") && !args.model.contains(':'))
        || args.model.matches('/').count() != 1;
    if looks_local {
        if !as_path.exists() {
            bail!(
                "model {} does not exist (expected a .gguf file, a Hugging Face folder, or a Hub id org/name)",
                as_path.display()
            );
        }
        if args.revision.is_some() {
            bail!(
                "--revision applies to Hub models only; {} is a local path",
                args.model
            );
        }
        let model_id = match &args.model_id {
            Some(id) => id.clone(),
            None => {
                let stem = as_path
                    .file_stem()
                    .or_else(|| as_path.file_name())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "model".into());
                format!(
                    "local/{}",
                    leaderboard_format::ids::sanitize_name(&stem, "local".len())
                )
            }
        };
        return Ok(Source {
            load_path: as_path.to_path_buf(),
            model_id,
            revision: None,
            from_hub: false,
        });
    }
    let resolved = crate::hub::resolve_model(&args.model, args.revision.as_deref())
        .with_context(|| format!("resolving {} on the Hub", args.model))?;
    let repo = args.model.split(':').next().unwrap_or(&args.model);
    Ok(Source {
        load_path: resolved.load_path(),
        model_id: args.model_id.clone().unwrap_or_else(|| repo.to_string()),
        revision: Some(resolved.commit_sha),
        from_hub: true,
    })
}

fn parse_tasks(s: &str) -> Result<Vec<Benchmark>> {
    if s.trim() == "all" {
        return Ok(Benchmark::ALL.to_vec());
    }
    let mut out = Vec::new();
    for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let b = tasks::parse_task(t).map_err(|e| anyhow::anyhow!("--tasks: {e}"))?;
        if !out.contains(&b) {
            out.push(b);
        }
    }
    if out.is_empty() {
        bail!("--tasks: expected `all` or a comma-separated list of tasks");
    }
    out.sort();
    Ok(out)
}

fn parse_dtype(s: &str) -> Result<candle_core::DType> {
    Ok(match s {
        "f32" | "float32" => candle_core::DType::F32,
        "f16" | "float16" => candle_core::DType::F16,
        "bf16" | "bfloat16" => candle_core::DType::BF16,
        _ => bail!("--dtype: expected f32, f16 or bf16, got {s:?}"),
    })
}

fn evaluated_at(flag: Option<&str>) -> Result<DateTime<Utc>> {
    if let Some(s) = flag {
        return Ok(DateTime::parse_from_rfc3339(s)
            .with_context(|| {
                format!("--evaluated-at {s:?}: expected RFC 3339, e.g. 2024-01-31T12:00:00Z")
            })?
            .with_timezone(&Utc));
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = s
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={s:?}: expected seconds since 1970"))?;
        return Utc
            .timestamp_opt(secs, 0)
            .single()
            .with_context(|| format!("SOURCE_DATE_EPOCH={s:?}: out of range"));
    }
    let now = Utc::now();
    Ok(Utc
        .timestamp_opt(now.timestamp(), 0)
        .single()
        .unwrap_or(now))
}

/// The Hugging Face `architectures` name of a GGUF `general.architecture`.
fn hf_architecture(arch: &str) -> String {
    match arch {
        "llama" => "LlamaForCausalLM".to_string(),
        "qwen2" => "Qwen2ForCausalLM".to_string(),
        other => other.to_string(),
    }
}

/// The crate version, plus `git describe` of the source tree when available.
pub fn tool_version() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let describe = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
            "--tags",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    match describe {
        Some(d) => format!("{version}+{d}"),
        None => version.to_string(),
    }
}
