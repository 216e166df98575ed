//! A whole results folder: every results file and the flags file, loaded
//! into one [`ResultsSet`] (what the site builds from).

use crate::flags::{self, Flag};
use crate::schema;
use crate::ResultsError;
use std::path::{Path, PathBuf};

/// A run as loaded, with the results file it came from (path relative to the results dir).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRun {
    /// Path of the Parquet file, relative to the results folder.
    pub file: PathBuf,
    /// 1-based row number within that file (as printed in error messages).
    pub row: usize,
    pub run: schema::Run,
}

/// Everything the site needs: runs sorted by [`schema::RunKey`], flags.
#[derive(Debug, Clone, Default)]
pub struct ResultsSet {
    pub runs: Vec<LoadedRun>,
    pub flags: Vec<Flag>,
    /// Relative paths of the `.parquet` files read, sorted.
    pub files: Vec<PathBuf>,
    /// Verification records, by the results file they verify (relative path).
    pub verifications: std::collections::BTreeMap<PathBuf, crate::verifications::Verification>,
}

impl ResultsSet {
    /// The flag entry for a model id, if the model is flagged (or on the do-not-submit list).
    pub fn flag_for(&self, model_id: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.model == model_id)
    }

    /// The do-not-submit entry of a model, ids compared as the Hub does.
    pub fn do_not_submit(&self, model_id: &str) -> Option<&Flag> {
        let folded = crate::ids::fold(model_id);
        self.flags
            .iter()
            .find(|f| f.is_do_not_submit() && crate::ids::fold(&f.model) == folded)
    }

    /// The runs of one identity: model (compared as the Hub does), revision, precision.
    pub fn runs_of<'a>(
        &'a self,
        model_id: &str,
        revision: &'a str,
        precision: schema::Precision,
    ) -> impl Iterator<Item = &'a LoadedRun> + 'a {
        let folded = crate::ids::fold(model_id);
        self.runs.iter().filter(move |l| {
            l.run.precision == precision
                && l.run.revision.as_deref() == Some(revision)
                && crate::ids::fold(&l.run.model_id) == folded
        })
    }
}

/// Name of the flags file inside a results folder.
pub const FLAGS_FILE: &str = "flags.toml";

/// Reads every `*.parquet` file under `results_dir` (recursively, sorted by
/// path) and `flags.toml` (absent = no flags). Runs come back sorted by
/// [`schema::RunKey`]. Stops at the first bad file; `leaderboard check`
/// ([`crate::check`]) collects every problem instead.
pub fn load_dir(results_dir: &Path) -> Result<ResultsSet, ResultsError> {
    let mut files = Vec::new();
    for rel in parquet_files(results_dir)? {
        let runs = crate::results::read_file(&results_dir.join(&rel))?;
        files.push((rel, runs));
    }
    let flags_path = results_dir.join(FLAGS_FILE);
    let flags = if flags_path.exists() {
        flags::load_flags(&flags_path)?
    } else {
        Vec::new()
    };
    let mut set = ResultsSet::new(files, flags);
    let dir = results_dir.join(crate::verifications::VERIFICATIONS_DIR);
    if dir.is_dir() {
        let mut records = Vec::new();
        walk(&dir, Path::new(""), &mut |rel, ft| {
            if ft.is_file() && rel.extension().is_some_and(|e| e == "json") {
                records.push(rel.to_path_buf());
            }
        })?;
        for rel in records {
            let v = crate::verifications::read_record(&dir.join(&rel))?;
            set.verifications.insert(rel.with_extension("parquet"), v);
        }
    }
    Ok(set)
}

impl ResultsSet {
    /// The set of the runs read from `files` (relative paths, sorted, with
    /// their runs in file order), sorted by [`schema::RunKey`], then file and row.
    pub fn new(files: Vec<(PathBuf, Vec<schema::Run>)>, flags: Vec<Flag>) -> ResultsSet {
        let mut runs = Vec::new();
        let mut names = Vec::with_capacity(files.len());
        for (rel, file_runs) in files {
            for (i, run) in file_runs.into_iter().enumerate() {
                runs.push(LoadedRun {
                    file: rel.clone(),
                    row: i + 1,
                    run,
                });
            }
            names.push(rel);
        }
        runs.sort_by(|a, b| {
            a.run
                .key()
                .cmp(&b.run.key())
                .then_with(|| a.file.cmp(&b.file))
                .then(a.row.cmp(&b.row))
        });
        ResultsSet {
            runs,
            flags,
            files: names,
            verifications: Default::default(),
        }
    }
}

/// Relative paths of all results files (`*.parquet`, but not the per-sample
/// `*.details.parquet`) under `dir`, sorted. Symlinks are not followed (the
/// checker reports them).
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut |rel, ft| {
        let details = rel
            .file_name()
            .is_some_and(|n| schema::is_details_file(&n.to_string_lossy()));
        if ft.is_file() && !details && rel.extension().is_some_and(|e| e == "parquet") {
            out.push(rel.to_path_buf());
        }
    })?;
    out.sort();
    Ok(out)
}

/// Visits every entry under `root` (depth first, sorted by name) with its path
/// relative to `root` and its (not followed) file type; descends into real
/// directories only.
pub fn walk(
    root: &Path,
    rel: &Path,
    f: &mut dyn FnMut(&Path, std::fs::FileType),
) -> Result<(), ResultsError> {
    let dir = root.join(rel);
    let io = |source| ResultsError::Io {
        path: dir.clone(),
        source,
    };
    let mut entries = std::fs::read_dir(&dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type().map_err(io)?;
        let child = rel.join(e.file_name());
        f(&child, ft);
        if ft.is_dir() {
            walk(root, &child, f)?;
        }
    }
    Ok(())
}
