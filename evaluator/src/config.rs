//! The run configuration: everything that decides a run's numbers, resolved once from the
//! command line, printed before any work, recorded in the results
//! (`Provenance.run_config`, JSON) and hashed into the journal key, so a resumed run never
//! mixes answers computed another way.
//!
//! | part | what | decided by |
//! |---|---|---|
//! | `evaluator` | crate version, git commit, sha256 of the sources it was built from | the build (`build.rs`), never the run time |
//! | `model` | the files: path or Hub id and commit, format, architecture, weights sha256, tokenizer | `--model`, `--revision`, `--tokenizer` |
//! | `compute` | device, activation dtype, kernel path ([`Kernels`]), batch budget, plan version | `--device`, `--dtype`, `--kernels`, `--batch-tokens` (auto values resolved here) |
//! | `tasks` | suite, few-shot count, limit, draw mode, HellaSwag fallback | the task flags |
//! | `data` | local folder and the sha256 of its files for the tasks run, or the Hub | `--data` |
//!
//! The journal key ([`RunConfig::journal_key`]) hashes all of it except what does not decide
//! a task's numbers: which other tasks run, the output folder, the recorded model id and
//! timestamps. Environment variables are documented overrides of flags (`--help`), read
//! here and nowhere deeper.

use serde::Serialize;
use std::path::Path;

use crate::hub::file_sha256;
use crate::model::Kernels;
use crate::requests::sha256_hex;

/// Version of the JSON layout of [`RunConfig`].
pub const CONFIG_VERSION: u32 = 1;

/// A run's resolved configuration (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunConfig {
    pub config_version: u32,
    pub evaluator: Build,
    pub model: ModelFiles,
    pub compute: Compute,
    pub tasks: TaskConfig,
    pub data: DataConfig,
}

/// The evaluator as built (`build.rs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Build {
    /// The crate version.
    pub version: String,
    /// The commit the sources were built from (`+dirty` when they differ from it); None
    /// outside a git checkout.
    pub git_commit: Option<String>,
    /// sha256 of the evaluator's sources and the workspace's `Cargo.lock`.
    pub source_sha256: String,
}

impl Build {
    /// This binary's build.
    pub fn current() -> Build {
        let commit = env!("EVALUATOR_GIT_COMMIT");
        Build {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: (!commit.is_empty()).then(|| commit.to_string()),
            source_sha256: env!("EVALUATOR_SOURCE_SHA256").to_string(),
        }
    }

    /// `Provenance.tool_version`: the crate version, plus the first 12 digits of the commit
    /// (and `.dirty`) when built from a git checkout, e.g. `0.1.0+d4d3ca7e1f2a`.
    pub fn tool_version(&self) -> String {
        match &self.git_commit {
            Some(c) => {
                let (sha, dirty) = match c.strip_suffix("+dirty") {
                    Some(s) => (s, ".dirty"),
                    None => (c.as_str(), ""),
                };
                format!("{}+{}{dirty}", self.version, &sha[..sha.len().min(12)])
            }
            None => self.version.clone(),
        }
    }
}

/// The model's files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFiles {
    /// `--model` as given: a local path or a Hub id.
    pub source: String,
    /// The Hub commit sha (None for local files).
    pub revision: Option<String>,
    /// `gguf` or `safetensors`.
    pub format: String,
    pub architecture: String,
    /// sha256 of the weights (`Run.weights_sha256`).
    pub weights_sha256: String,
    /// The leaderboard precision and the exact storage the results record.
    pub precision: String,
    pub precision_detail: Option<String>,
    /// Where the tokenizer comes from: `gguf metadata` (covered by the weights hash) or
    /// `tokenizer.json sha256:<hex>`.
    pub tokenizer: String,
}

/// How the numbers are computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compute {
    /// `cpu`, `cuda:N` or `metal:N`.
    pub device: String,
    /// Activation dtype: `f32`, `f16`, `bf16`, or `stored` (safetensors as stored).
    pub dtype: String,
    /// The kernel path ([`crate::model::kernels`]).
    #[serde(serialize_with = "kernels_name")]
    pub kernels: Kernels,
    /// Why it was chosen (printed, not recorded: it names the free memory of the moment,
    /// and the results of a resumed run must equal an uninterrupted run's).
    #[serde(skip)]
    pub kernels_reason: String,
    /// Tokens per batched forward, and whether it came from `--batch-tokens`.
    pub batch_tokens: usize,
    pub batch_tokens_given: bool,
    /// Version of the batching plan ([`crate::schedule::resume::PLAN_VERSION`]).
    pub plan_version: u32,
}

fn kernels_name<S: serde::Serializer>(k: &Kernels, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.name())
}

/// What is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskConfig {
    pub suite: String,
    /// Task ids, in run order.
    pub tasks: Vec<String>,
    pub num_fewshot: Option<usize>,
    pub limit: Option<usize>,
    /// `standalone` or `group` (lm-eval-0.4 few-shot draws).
    pub fewshot_draws: String,
    pub hellaswag_fewshot_fallback: Option<String>,
}

/// Where the benchmark data comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum DataConfig {
    /// A local folder, and the sha256 over `sha256  <task>/<file>\n` lines of the files of
    /// the tasks run (sorted by path).
    Local { dir: String, sha256: String },
    /// The Hub's datasets at the revisions this build pins ([`crate::data::hub`]).
    Hub { endpoint: String },
}

impl DataConfig {
    /// A local folder's configuration: the hash of every file under `<dir>/<task>/` for
    /// `tasks` (a missing folder adds nothing: building the task reports it).
    pub fn local(dir: &Path, tasks: &[&str]) -> anyhow::Result<DataConfig> {
        let mut lines = Vec::new();
        for t in tasks {
            let Ok(rd) = std::fs::read_dir(dir.join(t)) else {
                continue;
            };
            for e in rd {
                let p = e?.path();
                if p.is_file() {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    lines.push(format!("{}  {t}/{name}\n", file_sha256(&p)?));
                }
            }
        }
        lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
        Ok(DataConfig::Local {
            dir: dir.display().to_string(),
            sha256: sha256_hex(&lines.concat()),
        })
    }
}

impl RunConfig {
    /// The configuration as recorded in `Provenance.run_config`: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a RunConfig serializes")
    }

    /// The journal key: sha256 of the configuration without what does not decide a
    /// task's numbers (the other tasks run, the spelling of the model and data paths,
    /// the git commit), so that changing anything else starts a
    /// fresh journal.
    pub fn journal_key(&self) -> String {
        let mut v = serde_json::to_value(self).expect("a RunConfig serializes");
        for (part, field) in [
            ("tasks", "tasks"),
            ("model", "source"),
            ("data", "dir"),
            ("evaluator", "git_commit"),
            ("evaluator", "version"),
            ("compute", "batch_tokens_given"),
        ] {
            if let Some(m) = v.get_mut(part).and_then(|p| p.as_object_mut()) {
                m.remove(field);
            }
        }
        sha256_hex(&v.to_string())
    }

    /// The configuration for people, printed before a run starts.
    pub fn describe(&self) -> String {
        let m = &self.model;
        let c = &self.compute;
        let t = &self.tasks;
        let opt = |o: Option<usize>, none: &str| o.map_or(none.to_string(), |n| n.to_string());
        let data = match &self.data {
            DataConfig::Local { dir, sha256 } => format!("local {dir} (sha256 {})", &sha256[..12]),
            DataConfig::Hub { endpoint } => {
                format!("Hugging Face Hub {endpoint} (pinned revisions)")
            }
        };
        format!(
            "run configuration (journal key {key}):\n\
             \x20 evaluator  {ver} (sources sha256 {src})\n\
             \x20 model      {source}{rev}: {format} {arch}, {prec}{detail}, weights sha256 {w}\n\
             \x20 tokenizer  {tok}\n\
             \x20 compute    {dev}, {dtype} activations, kernels {k} ({why})\n\
             \x20 batches    {bt} tokens per forward{auto}, plan v{plan}\n\
             \x20 tasks      {suite}: {tasks}; shots {shots}; limit {limit}; draws {draws}{fallback}\n\
             \x20 data       {data}",
            key = &self.journal_key()[..16],
            ver = self.evaluator.tool_version(),
            src = &self.evaluator.source_sha256[..12],
            source = m.source,
            rev = m.revision.as_deref().map(|r| format!("@{r}")).unwrap_or_default(),
            format = m.format,
            arch = m.architecture,
            prec = m.precision,
            detail = m.precision_detail.as_deref().map(|d| format!(" [{d}]")).unwrap_or_default(),
            w = &m.weights_sha256[..m.weights_sha256.len().min(12)],
            tok = m.tokenizer,
            dev = c.device,
            dtype = c.dtype,
            k = c.kernels,
            why = c.kernels_reason,
            bt = c.batch_tokens,
            auto = if c.batch_tokens_given { "" } else { " (auto)" },
            plan = c.plan_version,
            suite = t.suite,
            tasks = t.tasks.join(","),
            shots = opt(t.num_fewshot, "default"),
            limit = opt(t.limit, "none"),
            draws = t.fewshot_draws,
            fallback = t
                .hellaswag_fewshot_fallback
                .as_deref()
                .map(|f| format!("; hellaswag fallback {f}"))
                .unwrap_or_default(),
        )
    }
}
