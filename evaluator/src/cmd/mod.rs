//! One module per `evaluator` subcommand, plus the task options they share
//! (`check` is the format crate's, shared with `leaderboard check`).

pub mod merge;
pub mod prompts;
pub mod run;
pub mod slurm;
pub mod verify;
pub mod work;

use crate::suite::{DrawMode, Suite};
use crate::tasks::{BuildOptions, FewshotFallback};
use std::path::PathBuf;

/// Which suite, how many shots and docs, and where the data is.
#[derive(Debug, Clone, clap::Args)]
pub struct TaskArgs {
    /// Task suite: `openllm-v1` (harness b281b09, the v1 leaderboard) or `lm-eval-0.4`.
    #[arg(long, default_value = "openllm-v1")]
    pub suite: Suite,
    /// Few-shot examples per prompt (default: the leaderboard's count for each task).
    #[arg(long)]
    pub num_fewshot: Option<usize>,
    /// Evaluate only the first N documents (openllm-v1: of the shuffled order).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Folder laid out like the repository's data/benchmarks (`<task>/<split>.jsonl[.gz]`),
    /// or `hub` to read the harness's datasets from the Hugging Face Hub
    /// (honours HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE). Default: data/benchmarks,
    /// relative to the current folder (the repository root).
    #[arg(long, value_name = "DIR|hub")]
    pub data: Option<PathBuf>,
    /// Use another pool when HellaSwag's train split is missing. `validation`:
    /// draw k+1 from validation and drop the evaluated doc (lm-eval with
    /// `training_split` null and no `fewshot_split`). `validation-split`: draw k
    /// and keep it (a config with `fewshot_split: validation`, `test_split`
    /// null). Recorded as a deviation: the run is not comparable.
    #[arg(long, value_name = "POOL")]
    pub hellaswag_fewshot_fallback: Option<FewshotFallback>,
    /// lm-eval-0.4 only: hellaswag/winogrande few-shot draws as a `standalone`
    /// task (k+1) or inside the `openllm` `group` (k).
    #[arg(long, default_value = "standalone", value_name = "MODE")]
    pub fewshot_draws: DrawMode,
}

impl TaskArgs {
    pub fn build_options(&self) -> BuildOptions {
        BuildOptions {
            suite: self.suite,
            num_fewshot: self.num_fewshot,
            limit: self.limit,
            draw_mode: self.fewshot_draws,
            hellaswag_fallback: self.hellaswag_fewshot_fallback,
        }
    }

    /// `--data`, or [`default_data_dir`].
    pub fn data_dir(&self) -> PathBuf {
        self.data.clone().unwrap_or_else(default_data_dir)
    }

    /// The data source `--data` names: the Hub for `hub`, else a local folder; without
    /// `--data`, [`default_data_dir`], which must exist.
    pub fn data_source(&self) -> anyhow::Result<Box<dyn crate::data::DataSource>> {
        if self.data.is_none() {
            check_default_data_dir()?;
        }
        crate::data::hub::data_source(self.data.as_deref(), default_data_dir)
    }
}

/// The benchmark data when `--data` is not given: `data/benchmarks`, relative to the
/// folder the command runs in (the repository root in the README's commands), like
/// `--output results`.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("data/benchmarks")
}

/// Fails, naming the folder and the alternatives, when [`default_data_dir`] is missing.
fn check_default_data_dir() -> anyhow::Result<()> {
    let dir = default_data_dir();
    anyhow::ensure!(
        dir.is_dir(),
        "the benchmark data folder {} is missing (the default is relative to the current folder: \
         run from the repository root, or pass --data DIR for a folder laid out like it, or \
         --data hub to read the datasets from the Hugging Face Hub)",
        dir.display()
    );
    Ok(())
}
