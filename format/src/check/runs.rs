//! The rules of one run: valid ids and names, values in range, and the
//! consistency rules.
//!
//! # Consistency rules
//!
//! - **Average.** `reported_average`, where set, needs all six headline
//!   scores and must lie within [`AVERAGE_TOLERANCE`] percentage points of
//!   their mean (v1 averaged unrounded scores and published scores rounded
//!   to two decimals, so the mean of the published six can differ from the
//!   published Average by at most 0.005 points; the tolerance adds margin).
//!   Without it a file could rank itself first with an Average its scores do
//!   not give.
//! - **Shots and samples.** A run without deviations is comparable, so each
//!   score's `num_fewshot` (where set) must be the suite's for its benchmark
//!   ([`Benchmark::num_fewshot`]) and its `n_samples` (where set) the
//!   benchmark's document count ([`schema::task_facts`]; an MMLU subject:
//!   the subject's). A run that departs from them says so in `deviations`,
//!   and is shown as not comparable.
//! - **Size.** At most [`MAX_SCORES`] scores and [`MAX_DEVIATIONS`]
//!   deviations per run.

use super::Problem;
use crate::ids;
use crate::schema::{self, Benchmark, Run, SUITES};
use std::collections::BTreeSet;
use std::path::Path;

/// Largest accepted |`reported_average` − mean of the six|, in percentage points.
pub const AVERAGE_TOLERANCE: f64 = 0.01;
/// Scores one run may carry (the six, 57 MMLU subjects and other metrics fit many times).
pub const MAX_SCORES: usize = 512;
/// Deviations one run may list.
pub const MAX_DEVIATIONS: usize = 64;

pub fn check(file: &Path, row: usize, run: &Run, problems: &mut Vec<Problem>) {
    let mut bad =
        |column: &str, message: String| problems.push(Problem::cell(file, row, column, message));
    if let Err(e) = ids::check_model_id(&run.model_id) {
        bad("model_id", e);
    }
    if let Some(rev) = &run.revision {
        if !ids::is_valid_revision(rev) {
            bad(
                "revision",
                format!(
                    "{:?}; expected a 40-digit lowercase hex commit sha or null",
                    ids::shorten(rev)
                ),
            );
        }
    }
    if let Some(base) = &run.base_model {
        if let Err(e) = ids::check_model_id(base) {
            bad("base_model", e);
        }
    }
    if let Some(p) = run.params_billions {
        if !p.is_finite() || p < 0.0 {
            bad(
                "params_billions",
                format!("{p}; expected a finite number >= 0 (billions) or null"),
            );
        }
    }
    if let Some(l) = run.hub_likes {
        if l < 0 {
            bad("hub_likes", format!("{l}; expected >= 0 or null"));
        }
    }
    if let Some(h) = &run.weights_sha256 {
        if !ids::is_valid_sha256(h) {
            bad(
                "weights_sha256",
                format!(
                    "{:?}; expected 64 lowercase hex digits or null",
                    ids::shorten(h)
                ),
            );
        }
    }
    if run.provenance.tool.trim().is_empty() {
        bad(
            "tool",
            "empty; expected the name of the tool that produced the run".into(),
        );
    }
    if !SUITES.contains(&run.provenance.suite.as_str()) {
        bad(
            "suite",
            format!(
                "{:?}; expected one of {}",
                ids::shorten(&run.provenance.suite),
                SUITES.join(", ")
            ),
        );
    }
    if let Some(a) = run.reported_average {
        if !a.is_finite() || !(0.0..=100.0).contains(&a) {
            bad(
                "reported_average",
                format!("{a}; expected a percentage in [0, 100] or null"),
            );
        }
    }
    let mut pairs = BTreeSet::new();
    for (j, s) in run.scores.iter().enumerate() {
        let col = |f: &str| format!("scores[{}].{f}", j + 1);
        if let Err(e) = schema::check_task_id(&s.task) {
            bad(&col("task"), e);
        } else if let Err(e) = schema::check_metric(&s.task, &s.metric) {
            bad(&col("metric"), e);
        }
        if !s.value.is_finite() || !(0.0..=1.0).contains(&s.value) {
            bad(
                &col("value"),
                format!("{}; expected a finite fraction in [0, 1]", s.value),
            );
        }
        if let Some(e) = s.stderr {
            if !e.is_finite() || e < 0.0 {
                bad(
                    &col("stderr"),
                    format!("{e}; expected a finite number >= 0 or null"),
                );
            }
        }
        if let Some(n) = s.n_samples {
            if n < 1 {
                bad(&col("n_samples"), format!("{n}; expected >= 1 or null"));
            }
        }
        if let Some(k) = s.num_fewshot {
            if k < 0 {
                bad(&col("num_fewshot"), format!("{k}; expected >= 0 or null"));
            }
        }
        if !pairs.insert((&s.task, &s.metric)) {
            bad(
                &col("task"),
                format!(
                    "task {:?} metric {:?} appears twice in this run",
                    ids::shorten(&s.task),
                    ids::shorten(&s.metric)
                ),
            );
        }
    }
    consistency(run, &mut bad);
}

fn consistency(run: &Run, bad: &mut dyn FnMut(&str, String)) {
    if run.scores.len() > MAX_SCORES {
        bad(
            "scores",
            format!("{} scores; at most {MAX_SCORES} per run", run.scores.len()),
        );
    }
    if run.provenance.deviations.len() > MAX_DEVIATIONS {
        bad(
            "deviations",
            format!(
                "{} deviations; at most {MAX_DEVIATIONS} per run",
                run.provenance.deviations.len()
            ),
        );
    }
    if let Some(reported) = run.reported_average.filter(|a| (0.0..=100.0).contains(a)) {
        let six: Option<Vec<f64>> = Benchmark::ALL
            .iter()
            .map(|b| run.headline(*b).map(|s| s.value * 100.0))
            .collect();
        match six {
            None => bad(
                "reported_average",
                "set, but the run lacks some of the six headline scores; expected null, or all six"
                    .into(),
            ),
            Some(v) => {
                let mean = v.iter().sum::<f64>() / 6.0;
                if (reported - mean).abs() > AVERAGE_TOLERANCE {
                    bad(
                        "reported_average",
                        format!(
                            "{reported}, but the six headline scores average {mean:.4}; expected \
                             within {AVERAGE_TOLERANCE} points of their mean"
                        ),
                    );
                }
            }
        }
    }
    if !run.is_comparable() {
        return;
    }
    for (j, s) in run.scores.iter().enumerate() {
        let Some((b, n_docs)) = schema::task_facts(&s.task) else {
            continue;
        };
        let col = |f: &str| format!("scores[{}].{f}", j + 1);
        if let Some(k) = s.num_fewshot {
            if k != b.num_fewshot() {
                bad(
                    &col("num_fewshot"),
                    format!(
                        "{k} shots; the suite uses {} for {}: expected {}, or a deviation listed in `deviations` (the run is then shown as not comparable)",
                        b.num_fewshot(),
                        s.task,
                        b.num_fewshot()
                    ),
                );
            }
        }
        if let Some(n) = s.n_samples {
            if n != n_docs {
                bad(
                    &col("n_samples"),
                    format!(
                        "{n} documents; {} has {n_docs}: expected {n_docs}, or a deviation listed in `deviations` (e.g. `limit:{n}`)",
                        s.task
                    ),
                );
            }
        }
    }
}
