//! The runs as the site shows them: sorted by Average, grouped by model, with
//! page slugs, flags and ranks.

use super::{slug, uncertainty, Flag};
use leaderboard_format::schema::{Benchmark, Run};
use leaderboard_format::verifications::Verification;
use std::collections::BTreeMap;

/// The seven ranked columns: Average, then the six benchmarks.
pub const RANKED: usize = 7;

/// Column labels of the seven ranked columns.
pub fn ranked_labels() -> [&'static str; RANKED] {
    let mut l = ["Average"; RANKED];
    for (i, b) in Benchmark::ALL.iter().enumerate() {
        l[i + 1] = b.label();
    }
    l
}

/// A run's seven ranked values in percent: Average then the six benchmarks.
pub fn ranked_values(r: &Run) -> [Option<f64>; RANKED] {
    let mut v = [None; RANKED];
    v[0] = r.average();
    for (i, b) in Benchmark::ALL.iter().enumerate() {
        v[i + 1] = r.headline(*b).map(|s| s.value * 100.0);
    }
    v
}

pub struct View<'a> {
    /// Runs in display order: Average descending, then model id, precision, revision.
    pub runs: Vec<&'a Run>,
    /// Model id → indices into `runs`, in display order.
    pub models: BTreeMap<&'a str, Vec<usize>>,
    /// Model id → page slug.
    pub slugs: BTreeMap<String, String>,
    /// Model id → flag.
    pub flags: BTreeMap<&'a str, &'a Flag>,
    /// Per ranked column, the values of the ranked runs ([`View::is_ranked`]),
    /// sorted descending.
    sorted: Vec<Vec<f64>>,
    /// Per ranked column, the estimates of the ranked runs (rank ranges).
    estimates: Vec<uncertainty::Column>,
    /// Verification records of the runs that have one, by run identity.
    verifications: BTreeMap<super::details::Key, &'a Verification>,
}

impl<'a> View<'a> {
    pub fn new(runs: &'a [Run], flags: &'a [Flag]) -> View<'a> {
        let mut order: Vec<(&Run, Option<f64>)> = runs.iter().map(|r| (r, r.average())).collect();
        order.sort_by(|(a, aa), (b, ba)| {
            let av = aa.unwrap_or(f64::NEG_INFINITY);
            let bv = ba.unwrap_or(f64::NEG_INFINITY);
            bv.total_cmp(&av)
                .then_with(|| a.model_id.cmp(&b.model_id))
                .then_with(|| a.precision.cmp(&b.precision))
                .then_with(|| a.revision.cmp(&b.revision))
                .then_with(|| a.provenance.tool.cmp(&b.provenance.tool))
        });
        let runs: Vec<&Run> = order.into_iter().map(|(r, _)| r).collect();
        let mut models: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, r) in runs.iter().enumerate() {
            models.entry(r.model_id.as_str()).or_default().push(i);
        }
        let ids: Vec<&str> = models.keys().copied().collect();
        let slugs = slug::assign(&ids);
        let mut fmap = BTreeMap::new();
        for f in flags {
            fmap.insert(f.model.as_str(), f);
        }
        let mut sorted = vec![Vec::new(); RANKED];
        let mut estimates = vec![Vec::new(); RANKED];
        for r in runs.iter().filter(|r| is_ranked(r, &fmap)) {
            for (c, v) in ranked_values(r).into_iter().enumerate() {
                if let Some(v) = v {
                    sorted[c].push(v);
                }
            }
            for (c, e) in uncertainty::of_run(r).into_iter().enumerate() {
                if let Some(e) = e {
                    estimates[c].push(e);
                }
            }
        }
        let estimates = estimates
            .into_iter()
            .map(uncertainty::Column::new)
            .collect();
        for s in &mut sorted {
            s.sort_by(|a, b| b.total_cmp(a));
        }
        View {
            runs,
            models,
            slugs,
            flags: fmap,
            sorted,
            estimates,
            verifications: BTreeMap::new(),
        }
    }

    /// The view with the runs' verification records (`evaluator verify`).
    pub fn with_verifications(
        mut self,
        records: &'a BTreeMap<super::details::Key, Verification>,
    ) -> View<'a> {
        self.verifications = records.iter().map(|(k, v)| (k.clone(), v)).collect();
        self
    }

    /// A run's verification record, if it has one.
    pub fn verification(&self, r: &Run) -> Option<&'a Verification> {
        self.verifications.get(&super::details::key(r)).copied()
    }

    /// Rank (1 = best) of `value` in ranked column `col` among the ranked
    /// runs ([`View::is_ranked`]), and how many runs that rank is out of. Ties share a rank;
    /// values are compared rounded to hundredths of a percent, as shown.
    pub fn rank(&self, col: usize, value: f64) -> (usize, usize) {
        let s = &self.sorted[col];
        let key = (value * 100.0).round();
        let better = s.partition_point(|v| (v * 100.0).round() > key);
        (better + 1, s.len())
    }

    /// The rank range of a ranked run's estimate `e` in column `col`, and
    /// how many runs it is out of ([`uncertainty::Column::rank_range`]).
    pub fn rank_range(&self, col: usize, e: &uncertainty::Estimate) -> (usize, usize, usize) {
        let c = &self.estimates[col];
        let (best, worst) = c.rank_range(e);
        (best, worst, c.len())
    }

    /// Whether a run takes part in ranks: comparable (no deviations) and its
    /// model not flagged.
    pub fn is_ranked(&self, r: &Run) -> bool {
        is_ranked(r, &self.flags)
    }

    pub fn slug(&self, model: &str) -> &str {
        &self.slugs[model]
    }

    pub fn flag(&self, model: &str) -> Option<&'a Flag> {
        self.flags.get(model).copied()
    }
}

fn is_ranked(r: &Run, flags: &BTreeMap<&str, &Flag>) -> bool {
    r.is_comparable() && !flags.contains_key(r.model_id.as_str())
}

/// Where a run's numbers come from, as the site's "Source" facet names it.
pub const SOURCES: [(&str, &str); 5] = [
    ("evaluator", "measured by this project's evaluator"),
    ("v1", "the v1 leaderboard's archive"),
    ("lm-eval", "imported from lm-evaluation-harness"),
    ("lighteval", "imported from lighteval"),
    ("other", "contributed by another tool"),
];

/// The run's source (an index into [`SOURCES`]) and its label with the tool's version.
pub fn source_of(r: &Run) -> (usize, String) {
    let p = &r.provenance;
    let i = match p.tool.as_str() {
        "leaderboard-evaluator" => 0,
        leaderboard_format::schema::V1_ARCHIVE_TOOL => 1,
        "lm-evaluation-harness" => 2,
        "lighteval" => 3,
        _ => 4,
    };
    let tool = match i {
        0 => "this project's evaluator",
        1 => "v1 archive",
        2 => "lm-eval",
        3 => "lighteval",
        _ => p.tool.as_str(),
    };
    let label = match (&p.tool_version, i) {
        (_, 1) | (None, _) => tool.to_string(),
        (Some(v), _) => format!("{tool} {v}"),
    };
    (i, label)
}

/// Whether the evaluator runs `r`'s architecture (one of `architecture`'s
/// `;`-joined names is in `leaderboard_format::architectures::HF`).
pub fn reevaluable(r: &Run) -> bool {
    r.architecture.as_deref().is_some_and(|a| {
        a.split(';')
            .any(|n| leaderboard_format::architectures::is_supported_hf(n.trim()))
    })
}
