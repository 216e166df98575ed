//! Where a run's model comes from and where its files go: the model source (a local file
//! or folder, or a Hub id resolved to a commit), the output folder checked before any
//! work, and the results path.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::RunArgs;
use crate::suite::Suite;

/// The model files and where they came from.
pub struct Source {
    pub load_path: PathBuf,
    pub model_id: String,
    pub revision: Option<String>,
    pub from_hub: bool,
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

pub fn resolve_source(args: &RunArgs) -> Result<Source> {
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
