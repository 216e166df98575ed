//! Verification records (`verifications/**/*.json`, [`crate::verifications`]): each
//! well formed, at the path of the results file it names, and not stale (that file and
//! its details still hash as recorded).

use super::paths::Found;
use super::Problem;
use crate::verifications::{file_sha256, read_record, results_of_record, Verification};
use std::path::{Path, PathBuf};

/// Checks the record at `rel`; returns it, keyed by the results file it verifies, when
/// it holds.
pub fn check(
    results_dir: &Path,
    rel: &Path,
    found: &Found,
    problems: &mut Vec<Problem>,
) -> Option<(PathBuf, Verification)> {
    let v = match read_record(&results_dir.join(rel)) {
        Ok(v) => v,
        Err(e) => {
            let mut p = Problem::from_error(results_dir, e);
            p.file = rel.to_path_buf();
            problems.push(p);
            return None;
        }
    };
    let before = problems.len();
    for (key, message) in v.problems() {
        problems.push(Problem::line(rel, 0, Some(&key), message));
    }
    let target = results_of_record(rel)?;
    let named = PathBuf::from(&v.results_file);
    if named != target {
        problems.push(Problem::line(
            rel,
            0,
            Some("results_file"),
            format!(
                "{:?}; a record at this path verifies {:?}",
                crate::ids::shorten(&v.results_file),
                target.display().to_string()
            ),
        ));
    } else if !found.results.contains(&target) {
        problems.push(Problem::line(
            rel,
            0,
            Some("results_file"),
            format!(
                "{} is not in the results folder; remove the record",
                target.display()
            ),
        ));
    } else {
        let details = crate::details::details_path(&target);
        for (key, file, want) in [
            ("results_sha256", &target, &v.results_sha256),
            ("details_sha256", &details, &v.details_sha256),
        ] {
            match file_sha256(&results_dir.join(file)) {
                Ok(h) if &h == want => {}
                Ok(_) => problems.push(Problem::line(
                    rel,
                    0,
                    Some(key),
                    format!(
                        "{} changed since it was verified (stale record): verify it again (`evaluator verify`) or remove the record",
                        file.display()
                    ),
                )),
                Err(e) => problems.push(Problem::line(rel, 0, Some(key), format!("{e}"))),
            }
        }
    }
    (problems.len() == before).then_some((target, v))
}
