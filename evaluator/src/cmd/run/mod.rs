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
//! id `org/name` (or `org/name:file.gguf`) resolved through [`crate::hub`] ([`source`]).
//!
//! The steps: the [`RunConfig`] is resolved from the arguments (model files probed and an
//! unsupported architecture refused, kernel path, device, dtype, tasks, data source), the
//! tokenizer and the model load, the configuration is completed with what the load
//! measured (weights hash, precision, batch budget) and printed; then each task is built,
//! answered (resumable, under the configuration's journal key) and scored; the files are
//! written last.

pub mod source;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::suite::Suite;
use crate::tasks::spec::TaskSpec;
use anyhow::{bail, Context, Result};
use candle_core::DType;
use chrono::{DateTime, Utc};
use leaderboard_format::schema::{ModelType, Provenance, Run, Score, WeightType};
use leaderboard_format::shard::Shard;

use crate::cmd::TaskArgs;
use crate::config::{
    Build, Compute, DataConfig, ModelFiles, RunConfig, TaskConfig, CONFIG_VERSION,
};
use crate::data::DataSource;
use crate::details::{self, DetailRow};
use crate::model::{self, kernels, CausalLm, Kernels};
use crate::tasks;
use crate::tokenizer::harness::Options;
use crate::tokenizer::Tokenizer;
use source::{check_output, resolve_source, results_path, Source};

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
  LEADERBOARD_KERNELS        default of --kernels
  HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE, HF_TOKEN
                             Hugging Face Hub access and cache, as huggingface_hub reads them";

/// `--help`'s closing text: the environment and the architectures the evaluator runs.
fn after_help() -> String {
    format!(
        "{ENVIRONMENT}\n\nArchitectures: {} (Hugging Face config.json); GGUF: {}",
        leaderboard_format::architectures::HF.join(", "),
        leaderboard_format::architectures::GGUF.join(", ")
    )
}

/// Evaluate a model on the leaderboard tasks and write its results file.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = after_help())]
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
    /// `all` (the leaderboard's six: arc_challenge, hellaswag, mmlu, truthfulqa_mc,
    /// winogrande, gsm8k) or a comma-separated list of the registry's task ids. A set
    /// other than the six is recorded as the deviation `tasks:<ids>`.
    #[arg(long, default_value = "all")]
    pub tasks: String,
    /// cpu, cuda[:N] or metal[:N] (cuda/metal need the matching cargo feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Compute dtype: f32, f16 or bf16. GGUF: dequantize every weight to it and record
    /// that precision (default: record the quantized precision; see --kernels).
    /// Safetensors: cast (default: as stored).
    #[arg(long)]
    pub dtype: Option<String>,
    /// Kernel path of a quantized GGUF model (default: auto): `dequantized` (a float copy
    /// made once at load, exact f32 products; auto on a CPU when the f32 copy fits a
    /// quarter of the available memory), `quantized` (candle's quantized kernels, which
    /// round activations to 8 bits like llama.cpp; auto on a GPU),
    /// `quantized-dequantize-large` (auto on a CPU when the copy does not fit: inputs of
    /// 32 rows or more dequantize the weight for that product). `dense` for float
    /// weights. Part of the run's identity: recorded, and a resumed run continues only a
    /// run with the same path.
    #[arg(long, value_name = "PATH", env = "LEADERBOARD_KERNELS")]
    pub kernels: Option<Kernels>,
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
    /// Hub licence tag recorded in the results (`evaluator work` passes the request's).
    #[arg(long)]
    pub license: Option<String>,
    /// Hub likes recorded in the results (`evaluator work` passes the request's).
    #[arg(long)]
    pub hub_likes: Option<i64>,
    /// Record the model as a merge (`evaluator work` passes the request's tag).
    #[arg(long)]
    pub merge: bool,
    /// Record the model as a mixture of experts (`evaluator work` passes the request's tag).
    #[arg(long)]
    pub moe: bool,
    /// Results folder.
    #[arg(long, default_value = "results")]
    pub output: PathBuf,
    /// When the evaluation was requested, recorded as `submitted_at` (RFC 3339;
    /// `evaluator work` passes the request's `submitted_time`).
    #[arg(long)]
    pub submitted_at: Option<String>,
    /// Timestamp recorded as `evaluated_at` (RFC 3339). Default: SOURCE_DATE_EPOCH
    /// when set (reproducible files), else now.
    #[arg(long)]
    pub evaluated_at: Option<String>,
    /// Evaluate only shard I of N of every task's documents (cut between few-shot
    /// groups, balanced by tokens to forward) and write a partial
    /// `….shard-I-of-N.parquet` + details pair; once all N are written (same options,
    /// same --output), `evaluator merge --output DIR` combines them into the files one
    /// process writes. Each shard resumes from its own journal.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// Everything the arguments decide, resolved before the model loads.
struct Resolved {
    source: Source,
    probe: model::Probe,
    tasks: Vec<&'static TaskSpec>,
    device: candle_core::Device,
    dtype: Option<DType>,
    kernels: Kernels,
    kernels_reason: String,
    data: Box<dyn DataSource>,
    data_config: DataConfig,
    evaluated_at: DateTime<Utc>,
    submitted_at: Option<DateTime<Utc>>,
}

/// Resolves the arguments: cheap checks first (tasks, timestamp, output folder), then
/// the model's files (an unsupported architecture is refused here, before the
/// tokenizer), the kernel path and the data source.
fn resolve(args: &RunArgs) -> Result<Resolved> {
    let tasks = parse_tasks(&args.tasks)?;
    let evaluated_at =
        leaderboard_format::time::given_or_now("--evaluated-at", args.evaluated_at.as_deref())
            .map_err(|e| anyhow::anyhow!(e))?;
    let submitted_at = args
        .submitted_at
        .as_deref()
        .map(|s| leaderboard_format::time::parse_flag("--submitted-at", s))
        .transpose()
        .map_err(|e| anyhow::anyhow!(e))?;
    let source = resolve_source(args)?;
    check_output(&args.output, &source.model_id)?;
    let device = model::device(&args.device)?;
    let dtype = args.dtype.as_deref().map(parse_dtype).transpose()?;
    let probe = model::probe(&source.load_path)?;
    let (kernels, kernels_reason) = kernels::resolve(
        &probe.weights,
        &device,
        dtype,
        args.kernels,
        model::available_memory(),
        &source.load_path,
    )?;
    let names: Vec<&str> = tasks.iter().map(|t| t.id).collect();
    let data = args.task.data_source()?;
    let data_config = if args.task.data.as_deref() == Some(Path::new("hub")) {
        DataConfig::Hub {
            endpoint: crate::hub::HubConfig::from_env().endpoint,
        }
    } else {
        DataConfig::local(&args.task.data_dir(), &names)?
    };
    Ok(Resolved {
        source,
        probe,
        tasks,
        device,
        dtype,
        kernels,
        kernels_reason,
        data,
        data_config,
        evaluated_at,
        submitted_at,
    })
}

/// The run configuration, completed with what the load measured.
fn run_config(
    args: &RunArgs,
    r: &Resolved,
    m: &dyn CausalLm,
    tok: &Tokenizer,
    batch_tokens: usize,
) -> Result<RunConfig> {
    let info = m.info();
    let tokenizer = match (&args.tokenizer, r.probe.weights.gguf) {
        (None, true) => "gguf metadata".to_string(),
        _ => format!(
            "tokenizer.json sha256:{}",
            crate::hub::file_sha256(&tok.source)?
        ),
    };
    let build = args.task.build_options();
    Ok(RunConfig {
        config_version: CONFIG_VERSION,
        evaluator: Build::current(),
        model: ModelFiles {
            source: args.model.clone(),
            revision: r.source.revision.clone(),
            format: if r.probe.weights.gguf {
                "gguf"
            } else {
                "safetensors"
            }
            .to_string(),
            architecture: r.probe.architecture.clone(),
            weights_sha256: info.weights_sha256.clone(),
            precision: info.precision.as_str().to_string(),
            precision_detail: info.precision_detail.clone(),
            tokenizer,
        },
        compute: Compute {
            device: device_name(&r.device),
            dtype: match r.dtype {
                Some(d) => kernels::dtype_name(d).to_string(),
                None if r.probe.weights.gguf => "f32".to_string(),
                None => "stored".to_string(),
            },
            kernels: r.kernels,
            kernels_reason: r.kernels_reason.clone(),
            batch_tokens,
            batch_tokens_given: args.batch_tokens.is_some(),
            plan_version: crate::schedule::resume::PLAN_VERSION,
        },
        tasks: TaskConfig {
            suite: build.suite.name().to_string(),
            tasks: r.tasks.iter().map(|t| t.id.to_string()).collect(),
            num_fewshot: build.num_fewshot,
            limit: build.limit,
            fewshot_draws: build.draw_mode.name().to_string(),
            hellaswag_fewshot_fallback: build.hellaswag_fallback.map(|f| f.name().to_string()),
        },
        data: r.data_config.clone(),
    })
}

/// A model loaded for a run: the resolved arguments, tokenizer, model, spec §3 options,
/// batch budget and the completed configuration (what `evaluator verify` reuses).
pub struct Prepared {
    resolved: Resolved,
    pub tok: Tokenizer,
    pub model: Box<dyn CausalLm>,
    pub opts: Options,
    pub batch_tokens: usize,
    pub config: RunConfig,
}

impl Prepared {
    /// The task requests of `t` built from the run's data source.
    pub fn build_task(
        &self,
        t: &'static TaskSpec,
        build: &tasks::BuildOptions,
    ) -> Result<tasks::TaskRequests> {
        tasks::build(t, self.resolved.data.as_ref(), build)
            .with_context(|| format!("building the {} requests", t.id))
    }
}

/// Resolves the arguments, loads the tokenizer (first: cheap, and a mismatch should fail
/// before the weights load) and the model, and completes the run configuration.
pub fn prepare(args: &RunArgs) -> Result<Prepared> {
    let r = resolve(args)?;
    let tok = match &args.tokenizer {
        Some(p) => Tokenizer::from_tokenizer_json(p)?,
        None => Tokenizer::for_model(&r.source.load_path)?,
    };
    eprintln!(
        "loading model {} (kernels {})",
        r.source.load_path.display(),
        r.kernels
    );
    let model = model::load_probed(&r.probe, &r.device, r.dtype, r.kernels)?;
    let info = model.info().clone();
    tok.check_fits_model(info.vocab_size, &r.source.load_path)?;
    let opts = Options::for_suite(args.task.suite, &tok, info.max_length);
    let batch_tokens = crate::schedule::plan::batch_tokens_for(
        args.batch_tokens,
        model.activation_bytes_per_token(),
        crate::model::available_memory(),
    );
    let config = run_config(args, &r, model.as_ref(), &tok, batch_tokens)?;
    Ok(Prepared {
        resolved: r,
        tok,
        model,
        opts,
        batch_tokens,
        config,
    })
}

/// Runs the command.
pub fn run(args: &RunArgs) -> Result<()> {
    let started = Instant::now();
    let suite = args.task.suite;
    let p = prepare(args)?;
    let (r, tok, model, opts, batch_tokens, config) = (
        &p.resolved,
        &p.tok,
        &p.model,
        p.opts,
        p.batch_tokens,
        &p.config,
    );
    let info = model.info().clone();
    eprintln!("{}", config.describe());
    // A shard journals under its own key: shards of one run may run at once, and each
    // removes its journals when its files are written.
    let key = match args.shard {
        Some(s) => format!("{}{}", config.journal_key(), s.suffix()),
        None => config.journal_key(),
    };
    if let Some(s) = args.shard {
        eprintln!("shard {s}: this process evaluates part of each task's documents");
    }

    // Build every task's requests before any model work, so data errors show up at once;
    // then keep one task's requests at a time (rebuilt, identically, when the task runs):
    // all six tasks' prompt strings together take several hundred megabytes.
    let build = args.task.build_options();
    let build_task = |t: &'static TaskSpec| {
        tasks::build(t, r.data.as_ref(), &build)
            .with_context(|| format!("building the {} requests", t.id))
    };
    for t in &r.tasks {
        build_task(t)?;
    }

    let mut scores = Vec::new();
    let mut detail_rows = Vec::new();
    let mut deviations: Vec<String> = Vec::new();
    for t in &r.tasks {
        let task_started = Instant::now();
        let mut tr = build_task(t)?;
        // Shared-prefix scheduling + resumable journal (crate::schedule::resume).
        let answers = crate::schedule::resume::run_task(
            model.as_ref(),
            tok,
            &opts,
            suite,
            &tr,
            batch_tokens,
            &key,
            args.shard,
        )?;
        if args.shard.is_some() {
            // Score the shard's documents only, in evaluation order.
            let mut docs = std::mem::take(&mut tr.docs);
            let mut keep = answers.docs.iter().peekable();
            let mut i = 0;
            docs.retain(|_| {
                let on = keep.next_if_eq(&&i).is_some();
                i += 1;
                on
            });
            tr.docs = docs;
        }
        let tr = &tr;
        let results = tasks::score(tr, &answers.responses)?;
        for (sample, is_greedy) in results.details.into_iter().zip(answers.greedy) {
            detail_rows.push(DetailRow { sample, is_greedy });
        }
        if let Some(s) = headline_score(&results.scores, t, suite) {
            eprintln!(
                "{:<14} {:>8} = {:.4} (n={}, {:.1}s)",
                t.id,
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
    if let Some(s) = args.shard {
        deviations.push(s.deviation());
    }
    if let Some(k) = build.num_fewshot {
        deviations.push(format!("num_fewshot:{k}"));
    }
    let ids = |ts: &[&TaskSpec]| ts.iter().map(|t| t.id).collect::<Vec<_>>();
    if ids(&r.tasks) != ids(&tasks::registry::leaderboard()) {
        let names: Vec<&str> = r.tasks.iter().map(|t| t.id).collect();
        deviations.push(format!("tasks:{}", names.join(",")));
    }
    deviations.sort();
    deviations.dedup();

    let run = Run {
        model_id: r.source.model_id.clone(),
        revision: r.source.revision.clone(),
        precision: info.precision,
        precision_detail: info.precision_detail.clone(),
        weight_type: WeightType::Original,
        base_model: None,
        model_type: args.model_type,
        architecture: Some(hf_architecture(&info.architecture)),
        params_billions: Some(info.params as f64 / 1e9),
        params_truncated: false,
        license: args.license.clone(),
        is_merge: args.merge,
        is_moe: args.moe,
        available_on_hub: r.source.from_hub.then_some(true),
        hub_likes: args.hub_likes,
        submitted_at: r.submitted_at,
        evaluated_at: Some(r.evaluated_at),
        weights_sha256: Some(info.weights_sha256.clone()),
        provenance: Provenance {
            tool: TOOL.to_string(),
            tool_version: Some(config.evaluator.tool_version()),
            suite: suite.name().to_string(),
            source_dataset: None,
            run_config: Some(config.to_json()),
            deviations,
        },
        reported_average: None,
        scores,
    };

    let whole = results_path(
        &args.output,
        &run.model_id,
        suite,
        run.precision.as_str(),
        run.revision.as_deref(),
        &info.weights_sha256,
    )?;
    let path = match args.shard {
        Some(s) => shard_path(&whole, s),
        None => whole,
    };
    write_outputs(&path, &run, &detail_rows, args.shard.is_some())?;
    // The results are written: the run's journals are no longer needed.
    crate::schedule::resume::forget_journals(&key, suite, &r.tasks)?;
    for t in &r.tasks {
        if let Some(s) = headline_score(&run.scores, t, suite) {
            println!(
                "{:<12} {:>7.2}  ({} {})",
                t.label(),
                s.value * 100.0,
                t.id,
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

/// `<stem>.shard-I-of-N.parquet` beside the whole run's `<stem>.parquet`.
pub fn shard_path(whole: &Path, shard: Shard) -> PathBuf {
    let stem = whole
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    whole.with_file_name(format!("{stem}{}.parquet", shard.suffix()))
}

/// Writes the details file (a shard's: rows in evaluation order), then the results
/// file; on failure neither stays.
pub fn write_outputs(path: &Path, run: &Run, rows: &[DetailRow], shard: bool) -> Result<()> {
    let details_path = details::details_path(path);
    if shard {
        details::write_shard_file(&details_path, rows)?;
    } else {
        details::write_file(&details_path, rows)?;
    }
    if let Err(e) = leaderboard_format::write_file(path, std::slice::from_ref(run)) {
        let _ = std::fs::remove_file(&details_path);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// `cpu`, `cuda:N` or `metal:N`.
fn device_name(d: &candle_core::Device) -> String {
    match d.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The score of `task`'s headline metric under `suite` among `scores`.
fn headline_score<'a>(scores: &'a [Score], task: &TaskSpec, suite: Suite) -> Option<&'a Score> {
    let metric = (task.headline)(suite);
    scores
        .iter()
        .find(|s| s.task == task.id && s.metric == metric)
}

/// `--tasks`: `all` (the leaderboard's six) or task ids, run in registry order.
fn parse_tasks(s: &str) -> Result<Vec<&'static TaskSpec>> {
    if s.trim() == "all" {
        return Ok(tasks::registry::leaderboard());
    }
    let mut out: Vec<&'static TaskSpec> = Vec::new();
    for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let spec = tasks::parse_task(t).map_err(|e| anyhow::anyhow!("--tasks: {e}"))?;
        if !out.iter().any(|o| o.id == spec.id) {
            out.push(spec);
        }
    }
    if out.is_empty() {
        bail!("--tasks: expected `all` or a comma-separated list of tasks");
    }
    out.sort_by_key(|t| tasks::registry::position(t));
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

/// The Hugging Face `architectures` name of a GGUF `general.architecture`.
fn hf_architecture(arch: &str) -> String {
    match arch {
        "llama" => "LlamaForCausalLM".to_string(),
        "qwen2" => "Qwen2ForCausalLM".to_string(),
        other => other.to_string(),
    }
}
