//! One page per model (`models/<slug>.html`): all its runs, every score with
//! its rank among comparable runs, metadata, provenance, flag and Hub link.

use super::uncertainty::{self, Origin};
use super::view::{ranked_labels, ranked_values, View, RANKED};
use super::{hub_url, is_https_url, thousands, Out, PageCtx};
use anyhow::{Context, Result};
use leaderboard_format::schema::{Benchmark, Run};
use serde::Serialize;

#[derive(Serialize)]
struct Headline {
    label: &'static str,
    value: Option<String>,
    stderr: Option<String>,
    /// Where the standard error comes from (`uncertainty::Origin::label`).
    origin: Option<&'static str>,
    /// Its mark: `d` derived, `c` combined, empty when reported.
    mark: &'static str,
    /// The 95% interval, "lo–hi".
    interval: Option<String>,
    n: Option<String>,
    rank: Option<String>,
    /// The rank range consistent with the intervals, "best–worst".
    rank_range: Option<String>,
}

#[derive(Serialize)]
struct ScoreRow {
    task: String,
    metric: String,
    value: String,
    stderr: Option<String>,
    n: Option<String>,
    fewshot: Option<i32>,
}

#[derive(Serialize)]
struct RunCtx {
    precision: &'static str,
    precision_detail: Option<String>,
    revision: Option<String>,
    weight_type: &'static str,
    base_model: Option<String>,
    model_type: &'static str,
    type_symbol: &'static str,
    architecture: Option<String>,
    params: Option<String>,
    /// v1 stored 0: under 1 B, or unknown.
    params_zero: bool,
    params_truncated: bool,
    /// Comparable and not flagged: the run has ranks.
    ranked: bool,
    flagged: bool,
    license: Option<String>,
    is_merge: bool,
    is_moe: bool,
    available_on_hub: Option<bool>,
    hub_likes: Option<i64>,
    submitted_at: Option<String>,
    evaluated_at: Option<String>,
    weights_sha256: Option<String>,
    tool: String,
    tool_version: Option<String>,
    /// [`super::view::SOURCES`]' description, and the label with the version.
    source: &'static str,
    source_label: String,
    /// The evaluator runs this run's architecture (its numbers can be re-measured here).
    reevaluable: bool,
    /// `evaluator verify`'s record: whether the run verified, and its summary.
    verified: Option<bool>,
    verification: Option<String>,
    suite: String,
    source_dataset: Option<String>,
    /// The recorded run configuration, pretty-printed JSON.
    run_config: Option<String>,
    deviations: Vec<String>,
    comparable: bool,
    headlines: Vec<Headline>,
    scores: Vec<ScoreRow>,
}

#[derive(Serialize)]
struct FlagCtx {
    reason: String,
    link: Option<String>,
}

/// Percent with two decimals from a fraction.
pub fn pct(fraction: f64) -> String {
    format!("{:.2}", fraction * 100.0)
}

/// A parameter count in billions, as shown.
pub fn params(b: f64) -> String {
    let s = format!("{b:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn run_ctx(v: &View, r: &Run) -> RunCtx {
    let vals = ranked_values(r);
    let labels = ranked_labels();
    let mut headlines = Vec::with_capacity(RANKED);
    let est = uncertainty::of_run(r);
    let ranked = v.is_ranked(r);
    for c in 0..RANKED {
        let score = (c > 0).then(|| r.headline(Benchmark::ALL[c - 1])).flatten();
        let e = est[c];
        headlines.push(Headline {
            label: labels[c],
            value: vals[c].map(|x| format!("{x:.2}")),
            stderr: e.map(|e| format!("{:.2}", e.stderr)),
            origin: e.map(|e| e.origin.label()),
            mark: match e.map(|e| e.origin) {
                Some(Origin::Reported) | None => "",
                Some(Origin::Combined) => "c",
                Some(_) => "d",
            },
            interval: e.map(|e| {
                let (lo, hi) = e.interval();
                format!("{lo:.2}–{hi:.2}")
            }),
            n: score.and_then(|s| s.n_samples).map(thousands),
            rank: match (vals[c], ranked) {
                (Some(x), true) => {
                    let (rank, of) = v.rank(c, x);
                    Some(format!(
                        "{} of {}",
                        thousands(rank as i64),
                        thousands(of as i64)
                    ))
                }
                _ => None,
            },
            rank_range: match (e, ranked) {
                (Some(e), true) => {
                    let (best, worst, _) = v.rank_range(c, &e);
                    Some(if best == worst {
                        thousands(best as i64)
                    } else {
                        format!("{}–{}", thousands(best as i64), thousands(worst as i64))
                    })
                }
                _ => None,
            },
        });
    }
    let scores = r
        .scores
        .iter()
        .map(|s| ScoreRow {
            task: s.task.clone(),
            metric: s.metric.clone(),
            value: pct(s.value),
            stderr: s.stderr.map(pct),
            n: s.n_samples.map(thousands),
            fewshot: s.num_fewshot,
        })
        .collect();
    let date = |d: &Option<chrono::DateTime<chrono::Utc>>| {
        d.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
    };
    let params_zero = r.params_billions == Some(0.0) && r.params_truncated;
    let source = super::view::source_of(r);
    RunCtx {
        precision: r.precision.as_str(),
        precision_detail: r.precision_detail.clone(),
        revision: r.revision.clone(),
        weight_type: r.weight_type.as_str(),
        base_model: r.base_model.clone(),
        model_type: r.model_type.as_str(),
        type_symbol: r.model_type.symbol(),
        architecture: r.architecture.clone(),
        // v1 stored 0 for "under 1 B or unknown": not a count to print.
        params: r.params_billions.filter(|_| !params_zero).map(params),
        params_zero,
        ranked,
        flagged: v.flag(&r.model_id).is_some(),
        params_truncated: r.params_truncated,
        license: r.license.clone(),
        is_merge: r.is_merge,
        is_moe: r.is_moe,
        available_on_hub: r.available_on_hub,
        hub_likes: r.hub_likes,
        submitted_at: date(&r.submitted_at),
        evaluated_at: date(&r.evaluated_at),
        weights_sha256: r.weights_sha256.clone(),
        tool: r.provenance.tool.clone(),
        tool_version: r.provenance.tool_version.clone(),
        source: super::view::SOURCES[source.0].1,
        source_label: source.1,
        reevaluable: super::view::reevaluable(r),
        verified: v.verification(r).map(|x| x.verified()),
        verification: v.verification(r).map(|x| {
            format!(
                "{} (sample of {} per task, seed {}, tolerance {} nats; {} on {})",
                x.summary(),
                x.docs_per_task,
                x.seed,
                x.tolerance,
                x.evaluator_version,
                x.verified_at.format("%Y-%m-%d")
            )
        }),
        suite: r.provenance.suite.clone(),
        source_dataset: r.provenance.source_dataset.clone(),
        run_config: r.provenance.run_config.as_ref().map(|c| {
            serde_json::from_str::<serde_json::Value>(c)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| c.clone())
        }),
        deviations: r.provenance.deviations.clone(),
        comparable: r.is_comparable(),
        headlines,
        scores,
    }
}

/// Writes every model page, rendering on all cores, with a progress bar
/// (shown on a terminal only).
pub fn write(v: &View, env: &minijinja::Environment, ctx: &PageCtx, o: &mut Out) -> Result<()> {
    let tpl = env.get_template("model.html")?;
    let models: Vec<(&&str, &Vec<usize>)> = v.models.iter().collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = models.len().div_ceil(threads).max(1);
    let bar = indicatif::ProgressBar::new(models.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} model pages, {per_sec}, ETA {eta}",
        )
        .expect("progress template"),
    );
    let results: Vec<Result<Out>> = std::thread::scope(|s| {
        let handles: Vec<_> = models
            .chunks(chunk)
            .map(|part| {
                let mut out = o.fork();
                let bar = bar.clone();
                let tpl = &tpl;
                s.spawn(move || -> Result<Out> {
                    for (model, idx) in part {
                        let slug = v.slug(model);
                        let runs: Vec<RunCtx> =
                            idx.iter().map(|i| run_ctx(v, v.runs[*i])).collect();
                        let flag = v.flag(model).map(|f| FlagCtx {
                            reason: f.reason.clone(),
                            link: f.link.clone().filter(|l| is_https_url(l)),
                        });
                        let html = tpl
                            .render(minijinja::context! {
                                model_id => model,
                                // Only [A-Za-z0-9._-] and one `/` (see `hub_url`): nothing to escape.
                                hub_url => hub_url(model).map(minijinja::Value::from_safe_string),
                                flag => flag,
                                runs => runs,
                                ..ctx.page("../", &format!("models/{slug}"), model)
                            })
                            .with_context(|| format!("rendering the page of model {model:?}"))?;
                        out.write(&format!("models/{slug}.html"), html.as_bytes())?;
                        bar.inc(1);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("model page thread panicked"))
            .collect()
    });
    bar.finish_and_clear();
    for r in results {
        o.join(r?);
    }
    Ok(())
}
