//! The folder's shape: which files may be there and under which names. No
//! symbolic links, hidden files, `..`, odd characters or unexpected files,
//! so nothing a pull request adds can point outside `results/`.

use super::Problem;
use crate::{schema, FLAGS_FILE};
use std::path::{Component, Path, PathBuf};

/// The files found, by kind (paths relative to the results folder, sorted).
#[derive(Default)]
pub struct Found {
    pub results: Vec<PathBuf>,
    pub details: Vec<PathBuf>,
    /// Verification records (`verifications/**/*.json`).
    pub verifications: Vec<PathBuf>,
    pub flags: bool,
}

/// Whether a path component may appear in the results folder.
pub(crate) fn valid_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The components of a walked entry `rel` of `root`, or the first rule it
/// breaks: a symbolic link, a component outside [`valid_component`], a path
/// resolving outside `root` (`folder` names the folder in the message).
pub(crate) fn checked_components(
    root: &Path,
    canonical_root: Option<&Path>,
    rel: &Path,
    ft: std::fs::FileType,
    folder: &str,
) -> Result<Vec<String>, Problem> {
    let components: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_string_lossy().into_owned(),
            other => other.as_os_str().to_string_lossy().into_owned(),
        })
        .collect();
    if ft.is_symlink() {
        return Err(Problem::file(
            rel,
            format!("is a symbolic link; expected plain files and folders only (links may point outside the {folder} folder)"),
        ));
    }
    if let Some(bad) = components.iter().find(|c| !valid_component(c)) {
        return Err(Problem::file(
            rel,
            format!(
                "path component {bad:?} is not allowed; expected names of [A-Za-z0-9._-], not hidden (leading '.'), not '..'"
            ),
        ));
    }
    if let (Some(croot), Ok(abs)) = (canonical_root, root.join(rel).canonicalize()) {
        if !abs.starts_with(croot) {
            return Err(Problem::file(
                rel,
                format!("resolves outside the {folder} folder"),
            ));
        }
    }
    Ok(components)
}

/// Walks `results_dir`, reporting every path that breaks the rules, and
/// returns the files to read.
pub fn walk(results_dir: &Path, problems: &mut Vec<Problem>) -> Found {
    let canonical_root = results_dir.canonicalize().ok();
    let mut found = Found::default();
    let walked = crate::folder::walk(results_dir, Path::new(""), &mut |rel, ft| {
        let components =
            match checked_components(results_dir, canonical_root.as_deref(), rel, ft, "results") {
                Ok(c) => c,
                Err(p) => {
                    problems.push(p);
                    return;
                }
            };
        let name = components.last().cloned().unwrap_or_default();
        if ft.is_dir() {
            return;
        }
        if !ft.is_file() {
            problems.push(Problem::file(
                rel,
                "is not a regular file; expected only plain files",
            ));
            return;
        }
        if rel == Path::new(FLAGS_FILE) {
            found.flags = true;
        } else if components.first().map(String::as_str)
            == Some(crate::verifications::VERIFICATIONS_DIR)
        {
            if name.ends_with(".json") && components.len() > 1 {
                found.verifications.push(rel.to_path_buf());
            } else if name != "README.md" {
                problems.push(Problem::file(
                    rel,
                    "unexpected file; verifications/ holds only verification records (*.json)",
                ));
            }
        } else if crate::shard::is_shard_file(&name) {
            problems.push(Problem::file(
                rel,
                "is one shard of a sharded run (`evaluator run --shard`), not a result; \
                 merge the shards first (`evaluator merge --output <results folder>`)",
            ));
        } else if schema::is_details_file(&name) {
            found.details.push(rel.to_path_buf());
        } else if name.ends_with(".parquet") && name.len() > ".parquet".len() {
            found.results.push(rel.to_path_buf());
        } else if name != "README.md" {
            problems.push(Problem::file(
                rel,
                format!(
                    "unexpected file; a results folder holds only *.parquet files, {FLAGS_FILE} (top level) and README.md"
                ),
            ));
        }
    });
    if let Err(e) = walked {
        problems.push(Problem::from_error(results_dir, e));
    }
    found
}
