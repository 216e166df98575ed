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

/// Walks `results_dir`, reporting every path that breaks the rules, and
/// returns the files to read.
pub fn walk(results_dir: &Path, problems: &mut Vec<Problem>) -> Found {
    let canonical_root = results_dir.canonicalize().ok();
    let mut found = Found::default();
    let walked = crate::folder::walk(results_dir, Path::new(""), &mut |rel, ft| {
        let components: Vec<String> = rel
            .components()
            .map(|c| match c {
                Component::Normal(s) => s.to_string_lossy().into_owned(),
                other => other.as_os_str().to_string_lossy().into_owned(),
            })
            .collect();
        let name = components.last().cloned().unwrap_or_default();
        if ft.is_symlink() {
            problems.push(Problem::file(
                rel,
                "is a symbolic link; expected plain files and folders only (links may point outside the results folder)",
            ));
            return;
        }
        if let Some(bad) = components.iter().find(|c| !valid_component(c)) {
            problems.push(Problem::file(
                rel,
                format!(
                    "path component {bad:?} is not allowed; expected names of [A-Za-z0-9._-], not hidden (leading '.'), not '..'"
                ),
            ));
            return;
        }
        if let (Some(croot), Ok(abs)) = (&canonical_root, results_dir.join(rel).canonicalize()) {
            if !abs.starts_with(croot) {
                problems.push(Problem::file(rel, "resolves outside the results folder"));
                return;
            }
        }
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
