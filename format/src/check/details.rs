//! A details file: beside its results file, readable within
//! [`Limits::DETAILS`](crate::read::Limits::DETAILS), every row valid
//! ([`crate::details::read_rows`]), and its document count per task equal to
//! the sibling run's `n_samples` for that task (an MMLU subject's rows also
//! count towards `mmlu`).

use super::Problem;
use crate::schema::{self, Run};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn check(
    results_dir: &Path,
    rel: &Path,
    loaded: &BTreeMap<PathBuf, Vec<Run>>,
    problems: &mut Vec<Problem>,
) {
    let name = rel.file_name().unwrap_or_default().to_string_lossy();
    let stem = &name[..name.len() - schema::DETAILS_SUFFIX.len()];
    let sibling = rel.with_file_name(format!("{stem}.parquet"));
    if !results_dir.join(&sibling).is_file() {
        problems.push(Problem::file(
            rel,
            format!(
                "details file without its results file; expected {} beside it",
                sibling.display()
            ),
        ));
    }
    let rows = match crate::details::read_rows(&results_dir.join(rel)) {
        Ok(rows) => rows,
        Err(e) => {
            let mut p = Problem::from_error(results_dir, e);
            p.file = rel.to_path_buf();
            problems.push(p);
            return;
        }
    };
    let Some(runs) = loaded.get(&sibling) else {
        return;
    };
    let [run] = runs.as_slice() else {
        problems.push(Problem::file(
            rel,
            format!(
                "{} holds {} runs; a details file belongs to a results file of one run",
                sibling.display(),
                runs.len()
            ),
        ));
        return;
    };
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.sample.task.as_str()).or_default() += 1;
        if r.sample.task.starts_with("mmlu_") {
            *counts.entry("mmlu").or_default() += 1;
        }
    }
    let mut reported: BTreeMap<&str, i64> = BTreeMap::new();
    for s in &run.scores {
        if let Some(n) = s.n_samples {
            reported.entry(s.task.as_str()).or_insert(n);
        }
    }
    for (task, n) in &reported {
        let have = counts.get(task).copied().unwrap_or(0);
        if have != *n {
            problems.push(Problem::file(
                rel,
                format!(
                    "{have} rows for task {task}; its results file reports n_samples = {n}: \
                     expected one row per document scored"
                ),
            ));
        }
    }
}
