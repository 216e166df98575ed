//! Standard errors, 95% intervals and rank ranges of the ranked columns
//! (Average and the six benchmarks), computed at build time.
//!
//! # Standard errors
//!
//! A score's standard error is, in order of preference:
//!
//! - **reported**: the `stderr` stored with the score (the evaluator's and the
//!   harness's: the sample standard deviation of the per-document values over
//!   √n);
//! - **derived, binomial** for a mean of 0/1 values (`acc`, `acc_norm`,
//!   `exact_match_*`) over n documents: √(p(1−p)/(n−1)), the harness's formula
//!   for 0/1 values (sample variance n·p(1−p)/(n−1), over n);
//! - **derived, bound** for a mean of values in [0, 1] that are not 0/1
//!   (TruthfulQA's `mc2`): the variance of such values is at most p(1−p), so
//!   √(p(1−p)/(n−1)) bounds the standard error from above;
//! - MMLU's column is the unweighted mean of 57 subject accuracies:
//!   (1/57)·√(Σ p_s(1−p_s)/(n_s−1)) with the subjects' scores where the run has
//!   them (**derived, subjects**), else the bound with p_s(1−p_s) ≤ ¼
//!   (**derived, bound**);
//! - the **Average**: the six benchmarks are independent samples, so
//!   √(Σ se_b²)/6 (**combined**).
//!
//! n is the score's `n_samples`, else the benchmark's document count.
//!
//! # Intervals and rank ranges
//!
//! The 95% interval is value ± 1.96·se, clipped to [0, 100]. Two runs differ
//! significantly when |v_a − v_b| > 1.96·√(se_a² + se_b²) (a z-test on the
//! difference of independent estimates). A run's **rank range** among the
//! ranked runs of a column is [1 + the number of runs significantly better,
//! the number of runs not significantly worse] (Chatbot Arena's rank upper
//! bound, and its mirror); two runs are **tied** when neither is significantly
//! better.

use leaderboard_format::schema::{Benchmark, Run, MMLU_SUBJECTS, MMLU_SUBJECT_DOCS};

use super::view::RANKED;

/// The z value of a two-sided 95% interval.
pub const Z95: f64 = 1.96;

/// Where a standard error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Reported,
    Binomial,
    Subjects,
    Bound,
    Combined,
}

impl Origin {
    /// How the site labels it.
    pub fn label(self) -> &'static str {
        match self {
            Origin::Reported => "reported",
            Origin::Binomial => "derived (binomial)",
            Origin::Subjects => "derived (from the 57 subjects)",
            Origin::Bound => "derived (upper bound)",
            Origin::Combined => "combined (the six)",
        }
    }
}

/// A value in percent with its standard error and 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub stderr: f64,
    pub origin: Origin,
}

impl Estimate {
    /// The 95% interval, clipped to [0, 100].
    pub fn interval(&self) -> (f64, f64) {
        (
            (self.value - Z95 * self.stderr).max(0.0),
            (self.value + Z95 * self.stderr).min(100.0),
        )
    }

    /// Whether `self` is significantly above `other`.
    pub fn beats(&self, other: &Estimate) -> bool {
        self.value - other.value > Z95 * self.stderr.hypot(other.stderr)
    }
}

/// √(p(1−p)/(n−1)) in percent, for p a fraction.
fn binomial(p: f64, n: i64) -> f64 {
    let n = (n.max(2) - 1) as f64;
    100.0 * (p * (1.0 - p) / n).max(0.0).sqrt()
}

/// The estimate of one benchmark's headline score.
pub fn of_benchmark(r: &Run, b: Benchmark) -> Option<Estimate> {
    let s = r.headline(b)?;
    let value = s.value * 100.0;
    if let Some(se) = s.stderr.filter(|x| x.is_finite() && *x >= 0.0) {
        return Some(Estimate {
            value,
            stderr: se * 100.0,
            origin: Origin::Reported,
        });
    }
    let n = s.n_samples.filter(|n| *n > 1).unwrap_or(b.n_docs());
    let (stderr, origin) = match b {
        Benchmark::Mmlu => mmlu(r),
        Benchmark::TruthfulQa => (binomial(s.value, n), Origin::Bound),
        _ => (binomial(s.value, n), Origin::Binomial),
    };
    Some(Estimate {
        value,
        stderr,
        origin,
    })
}

/// MMLU's standard error from its subjects' accuracies, or the bound.
fn mmlu(r: &Run) -> (f64, Origin) {
    let k = MMLU_SUBJECTS.len() as f64;
    let mut sum = 0.0;
    for (subject, n_docs) in MMLU_SUBJECTS.iter().zip(MMLU_SUBJECT_DOCS) {
        let task = format!("mmlu_{subject}");
        let Some(s) = r
            .scores
            .iter()
            .find(|s| s.task == task && s.metric == "acc")
        else {
            let bound: f64 = MMLU_SUBJECT_DOCS
                .iter()
                .map(|n| 0.25 / (n - 1) as f64)
                .sum();
            return (100.0 * bound.sqrt() / k, Origin::Bound);
        };
        let n = s.n_samples.filter(|n| *n > 1).unwrap_or(n_docs);
        sum += s.value * (1.0 - s.value) / (n - 1) as f64;
    }
    (100.0 * sum.sqrt() / k, Origin::Subjects)
}

/// The estimates of a run's seven ranked columns (Average first), as
/// [`super::view::ranked_values`] gives their values.
pub fn of_run(r: &Run) -> [Option<Estimate>; RANKED] {
    let mut out = [None; RANKED];
    let mut sq = 0.0;
    let mut all = true;
    for (i, b) in Benchmark::ALL.iter().enumerate() {
        out[i + 1] = of_benchmark(r, *b);
        match out[i + 1] {
            Some(e) => sq += e.stderr * e.stderr,
            None => all = false,
        }
    }
    if all {
        out[0] = r.average().map(|value| Estimate {
            value,
            stderr: sq.sqrt() / 6.0,
            origin: Origin::Combined,
        });
    }
    out
}

/// A column's estimates, sorted by value descending, for rank ranges.
#[derive(Debug, Clone, Default)]
pub struct Column {
    sorted: Vec<Estimate>,
    min_stderr: f64,
    max_stderr: f64,
}

impl Column {
    pub fn new(mut estimates: Vec<Estimate>) -> Column {
        estimates.sort_by(|a, b| b.value.total_cmp(&a.value));
        let max_stderr = estimates.iter().map(|e| e.stderr).fold(0.0, f64::max);
        let min_stderr = estimates
            .iter()
            .map(|e| e.stderr)
            .fold(f64::INFINITY, f64::min)
            .min(max_stderr);
        Column {
            sorted: estimates,
            min_stderr,
            max_stderr,
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The rank range of `e` (1 = best): [1 + runs significantly better,
    /// runs not significantly worse]. `e` is one of the column's runs.
    pub fn rank_range(&self, e: &Estimate) -> (usize, usize) {
        // A difference up to `near` is never significant (every other run's
        // error is at least the smallest); one beyond `far` always is. Only
        // the runs in between need the pairwise test.
        let near = Z95 * e.stderr.hypot(self.min_stderr);
        let far = Z95 * e.stderr.hypot(self.max_stderr);
        let s = &self.sorted;
        let surely_better = s.partition_point(|x| x.value > e.value + far);
        let maybe_better = s.partition_point(|x| x.value > e.value + near);
        let maybe_worse = s.partition_point(|x| x.value >= e.value - near);
        let surely_worse = s.partition_point(|x| x.value >= e.value - far);
        let better = surely_better
            + s[surely_better..maybe_better]
                .iter()
                .filter(|x| x.beats(e))
                .count();
        let worse = (s.len() - surely_worse)
            + s[maybe_worse..surely_worse]
                .iter()
                .filter(|x| e.beats(x))
                .count();
        (better + 1, s.len() - worse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(value: f64, stderr: f64) -> Estimate {
        Estimate {
            value,
            stderr,
            origin: Origin::Binomial,
        }
    }

    /// ARC acc_norm 0.5307 on 1,172 documents, by hand:
    /// √(0.5307 · 0.4693 / 1171) = 0.014584 → 1.4584 points; 95% interval
    /// 53.07 ± 2.8584 = [50.2116, 55.9284].
    #[test]
    fn arc_by_hand() {
        let se = binomial(0.5307, 1172);
        assert!((se - 1.4584).abs() < 5e-5, "{se}");
        let (lo, hi) = est(53.07, se).interval();
        assert!(
            (lo - 50.2116).abs() < 1e-3 && (hi - 55.9284).abs() < 1e-3,
            "{lo} {hi}"
        );
    }

    /// Two runs far apart are not tied; two within the noise are.
    #[test]
    fn rank_ranges_separate_and_tie() {
        let (a, b, c, d) = (
            est(80.0, 1.0),
            est(70.0, 1.0),
            est(69.0, 1.0),
            est(50.0, 1.0),
        );
        let col = Column::new(vec![a, b, c, d]);
        assert_eq!(col.rank_range(&a), (1, 1));
        // 70 vs 69: |1| < 1.96·√2 = 2.77: tied, so both span ranks 2–3.
        assert_eq!(col.rank_range(&b), (2, 3));
        assert_eq!(col.rank_range(&c), (2, 3));
        assert_eq!(col.rank_range(&d), (4, 4));
        assert!(!b.beats(&c) && !c.beats(&b));
        assert!(a.beats(&b) && c.beats(&d));
    }

    /// The pairwise test and the banded count agree with a plain count.
    #[test]
    fn banded_count_equals_the_plain_count() {
        let mut x: u64 = 7;
        let mut es = vec![];
        for _ in 0..400 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let v = (x >> 33) as f64 / (1u64 << 31) as f64 * 100.0;
            let se = 0.2 + ((x >> 13) % 300) as f64 / 100.0;
            es.push(est(v, se));
        }
        // Equal errors (an empty band) and values on a 0.01 grid (boundaries hit).
        let grid: Vec<Estimate> = (0..300)
            .map(|k| est(50.0 + ((k * 37) % 400) as f64 / 100.0, 1.0))
            .collect();
        for es in [es, grid] {
            let col = Column::new(es.clone());
            for e in &es {
                let better = es.iter().filter(|o| o.beats(e)).count();
                let worse = es.iter().filter(|o| e.beats(o)).count();
                assert_eq!(col.rank_range(e), (better + 1, es.len() - worse));
            }
        }
    }
}
