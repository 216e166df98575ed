//! The requests folder (`requests/`, documented in [`crate::requests`]):
//! its paths, each request's rules, one request per identity, no waiting
//! request for a model on the do-not-submit list, and for `FINISHED` requests a results file in the results folder that holds the
//! requested run. Problems name files relative to the requests folder.

use super::Problem;
use crate::requests::{self, Request, RequestKey, Status, REQUEST_INFIX};
use crate::ResultsSet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most request files read from one folder.
pub const MAX_REQUEST_FILES: usize = 100_000;

/// A request as read, with its path relative to the requests folder.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRequest {
    pub file: PathBuf,
    pub request: Request,
}

/// Checks `requests_dir` against the results `set` (read from the results
/// folder); a missing folder is an empty queue. Returns the problems and
/// every request that could be parsed (valid or not: `leaderboard build
/// --allow-invalid` shows them, escaped), sorted by path.
pub fn check(requests_dir: &Path, set: &ResultsSet) -> (Vec<Problem>, Vec<LoadedRequest>) {
    let mut problems = Vec::new();
    let mut loaded = Vec::new();
    match std::fs::symlink_metadata(requests_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (problems, loaded),
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            problems.push(Problem::file(
                Path::new(""),
                "not a folder (or a symbolic link); expected the requests folder",
            ));
            return (problems, loaded);
        }
        Err(e) => {
            problems.push(Problem::file(
                Path::new(""),
                format!("cannot read the requests folder: {e}"),
            ));
            return (problems, loaded);
        }
    }
    let files = walk(requests_dir, &mut problems);
    let mut seen: BTreeMap<RequestKey, PathBuf> = BTreeMap::new();
    for rel in files {
        let r = match requests::read_request(&requests_dir.join(&rel)) {
            Ok(r) => r,
            Err(e) => {
                let mut p = Problem::from_error(requests_dir, e);
                p.file = rel.clone();
                problems.push(p);
                continue;
            }
        };
        for (key, message) in r.problems() {
            problems.push(Problem::line(&rel, 0, Some(&key), message));
        }
        if r.rel_path() != rel {
            problems.push(Problem::file(
                &rel,
                format!(
                    "the path does not match the request; expected {} (<org>/<name>{REQUEST_INFIX}<private>_<precision>_<weight_type>.json)",
                    r.rel_path().display()
                ),
            ));
        }
        match seen.get(&r.key()) {
            Some(first) => problems.push(Problem::line(
                &rel,
                0,
                Some("model"),
                format!(
                    "a second request for {}; {} already asks for it (one request per model, revision, precision and weight type)",
                    r.key(),
                    first.display()
                ),
            )),
            None => {
                seen.insert(r.key(), rel.clone());
            }
        }
        let waiting = matches!(r.status, Status::Pending | Status::Rerun | Status::Running);
        if let Some(flag) = set.do_not_submit(&r.model).filter(|_| waiting) {
            problems.push(Problem::line(
                &rel,
                0,
                Some("model"),
                format!(
                    "{} is on the do-not-submit list (flags.toml: {}); its authors asked not to be evaluated",
                    r.model,
                    crate::ids::shorten(&flag.reason)
                ),
            ));
        }
        if r.status == Status::Finished {
            if let Some(f) = &r.results_file {
                if requests::check_results_path(f).is_ok() {
                    check_results_file(&rel, &r, f, set, &mut problems);
                }
            }
        }
        loaded.push(LoadedRequest {
            file: rel,
            request: r,
        });
    }
    (problems, loaded)
}

/// A FINISHED request's results file is in the results folder and holds the run.
fn check_results_file(
    rel: &Path,
    r: &Request,
    f: &str,
    set: &ResultsSet,
    problems: &mut Vec<Problem>,
) {
    let path = Path::new(f);
    if !set.files.iter().any(|p| p == path) {
        problems.push(Problem::line(
            rel,
            0,
            Some("results_file"),
            format!("{f} is not a results file of the results folder; expected the file the evaluation wrote"),
        ));
        return;
    }
    let found = set
        .runs_of(&r.model, &r.revision, r.precision)
        .any(|l| l.file == path);
    if !found {
        problems.push(Problem::line(
            rel,
            0,
            Some("results_file"),
            format!(
                "{f} holds no run of {} at revision {} in {}; expected the requested run",
                r.model, r.revision, r.precision
            ),
        ));
    }
}

/// The request files under `dir` (`<org>/<file>.json`, sorted), reporting
/// every other entry that breaks the folder's rules.
fn walk(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let canonical_root = dir.canonicalize().ok();
    let mut files = Vec::new();
    let mut skipped = 0usize;
    let walked = crate::folder::walk(dir, Path::new(""), &mut |rel, ft| {
        let parts = match super::paths::checked_components(
            dir,
            canonical_root.as_deref(),
            rel,
            ft,
            "requests",
        ) {
            Ok(p) => p,
            Err(p) => {
                problems.push(p);
                return;
            }
        };
        if ft.is_dir() {
            if parts.len() > 1 {
                problems.push(Problem::file(
                    rel,
                    "a folder inside an org folder; expected <org>/<request>.json",
                ));
            }
            return;
        }
        let name = parts.last().map(String::as_str).unwrap_or("");
        if !ft.is_file() {
            problems.push(Problem::file(rel, "is not a regular file"));
        } else if name == "README.md" {
        } else if parts.len() == 2 && name.ends_with(".json") && name.contains(REQUEST_INFIX) {
            if files.len() < MAX_REQUEST_FILES {
                files.push(rel.to_path_buf());
            } else {
                skipped += 1;
            }
        } else {
            problems.push(Problem::file(
                rel,
                format!(
                    "unexpected file; the requests folder holds <org>/<name>{REQUEST_INFIX}<private>_<precision>_<weight_type>.json files and README.md"
                ),
            ));
        }
    });
    if let Err(e) = walked {
        problems.push(Problem::from_error(dir, e));
    }
    if skipped > 0 {
        problems.push(Problem::file(
            Path::new(""),
            format!("more than {MAX_REQUEST_FILES} request files; {skipped} were not read"),
        ));
    }
    files.sort();
    files
}
