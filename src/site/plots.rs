//! `plots.html`: SVG plots drawn at build time — Average against parameter
//! count, and the best score over time per benchmark (v1's "metrics through
//! time"). Every text from results is XML-escaped.

use super::view::{ranked_labels, ranked_values, View, RANKED};
use super::{Out, PageCtx};
use anyhow::{Context, Result};
use std::fmt::Write;

const W: f64 = 960.0;
const H: f64 = 520.0;
const ML: f64 = 56.0;
const MR: f64 = 16.0;
const MT: f64 = 16.0;
const MB: f64 = 44.0;
/// One colour per ranked column (Average, ARC, HellaSwag, MMLU, TruthfulQA, Winogrande, GSM8K).
const COLOURS: [&str; RANKED] = [
    "#111827", "#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2",
];
/// Colours of the model types, in `ModelType::ALL` order.
const TYPE_COLOURS: [&str; 6] = [
    "#16a34a", "#65a30d", "#ea580c", "#2563eb", "#9333ea", "#6b7280",
];

/// Escapes text for XML/SVG (and HTML) content and attributes.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn y_of(pct: f64) -> f64 {
    MT + (H - MT - MB) * (1.0 - pct / 100.0)
}

fn y_axis(s: &mut String, label: &str) {
    for t in (0..=100).step_by(20) {
        let y = y_of(t as f64);
        let _ = write!(
            s,
            r##"<line x1="{ML}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{t}</text>"##,
            W - MR,
            ML - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text transform="translate(14 {:.1}) rotate(-90)" class="axis" text-anchor="middle">{}</text>"##,
        (H - MB + MT) / 2.0,
        xml_escape(label)
    );
}

/// Average (%) against parameters (B, log scale). v1 stored parameter
/// counts truncated to whole billions (0 = under 1 B or unknown): such
/// points are drawn at 0.5 B.
pub fn params_scatter(v: &View) -> String {
    let pts: Vec<(f64, f64, String, usize)> = v
        .runs
        .iter()
        .filter_map(|r| {
            let avg = r.average()?;
            let p = r.params_billions?;
            let p = if p <= 0.0 { 0.5 } else { p };
            let t = leaderboard_format::schema::ModelType::ALL
                .iter()
                .position(|t| *t == r.model_type)
                .unwrap_or(5);
            Some((
                p,
                avg,
                format!("{} ({}): {:.2}", r.model_id, r.precision, avg),
                t,
            ))
        })
        .collect();
    let xmin = 0.3f64.log10();
    let xmax = pts.iter().map(|p| p.0).fold(100.0f64, f64::max).log10() + 0.1;
    let x_of = |p: f64| ML + (W - ML - MR) * (p.log10() - xmin) / (xmax - xmin);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="plot" role="img" aria-label="Average against parameters">"##
    );
    y_axis(&mut s, "Average (%)");
    for t in [0.5f64, 1.0, 3.0, 7.0, 13.0, 30.0, 70.0, 180.0] {
        if t.log10() > xmax {
            continue;
        }
        let x = x_of(t);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{MT}" y2="{}" class="grid"/><text x="{x:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"##,
            H - MB,
            H - MB + 16.0,
            if t == 0.5 {
                "<1 / ?".replace('<', "&lt;")
            } else {
                format!("{t}")
            }
        );
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{}" class="axis" text-anchor="middle">Parameters (billions, log scale)</text>"##,
        (W + ML) / 2.0,
        H - 6.0
    );
    for (p, avg, title, t) in &pts {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="{}"><title>{}</title></circle>"##,
            x_of(*p),
            y_of(*avg),
            TYPE_COLOURS[*t],
            xml_escape(title)
        );
    }
    s.push_str("</svg>");
    s
}

/// Running maximum of each ranked column over submission date, as step lines,
/// over the runs v1 counted: comparable, not flagged, not deleted from the Hub;
/// with v1's human baselines as dotted lines.
pub fn best_over_time(v: &View) -> String {
    let mut dated: Vec<(i64, &leaderboard_format::schema::Run)> = v
        .runs
        .iter()
        .filter(|r| r.is_comparable())
        .filter(|r| v.flag(&r.model_id).is_none() && r.available_on_hub != Some(false))
        .filter_map(|r| r.submitted_at.map(|d| (d.timestamp(), *r)))
        .collect();
    dated.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.model_id.cmp(&b.1.model_id)));
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="plot" role="img" aria-label="Best score over time">"##
    );
    y_axis(&mut s, "Best score so far (%)");
    if dated.is_empty() {
        s.push_str("</svg>");
        return s;
    }
    let t0 = dated[0].0;
    let t1 = dated[dated.len() - 1].0.max(t0 + 86_400);
    let x_of = |t: i64| ML + (W - ML - MR) * ((t - t0) as f64 / (t1 - t0) as f64);
    // Month ticks (every 3 months).
    if let (Some(a), Some(b)) = (
        chrono::DateTime::from_timestamp(t0, 0),
        chrono::DateTime::from_timestamp(t1, 0),
    ) {
        use chrono::Datelike;
        let (mut y, mut m) = (a.year(), a.month());
        loop {
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
            let Some(d) = chrono::NaiveDate::from_ymd_opt(y, m, 1) else {
                break;
            };
            let ts = d
                .and_hms_opt(0, 0, 0)
                .map(|x| x.and_utc().timestamp())
                .unwrap_or(i64::MAX);
            if ts > b.timestamp() {
                break;
            }
            if (m - 1) % 3 == 0 {
                let x = x_of(ts);
                let _ = write!(
                    s,
                    r##"<line x1="{x:.1}" x2="{x:.1}" y1="{MT}" y2="{}" class="grid"/><text x="{x:.1}" y="{}" class="tick" text-anchor="middle">{y}-{m:02}</text>"##,
                    H - MB,
                    H - MB + 16.0
                );
            }
        }
    }
    let labels = ranked_labels();
    for c in 0..RANKED {
        let mut best: Option<f64> = None;
        let mut path = String::new();
        let mut marks = String::new();
        for (t, r) in &dated {
            let Some(val) = ranked_values(r)[c] else {
                continue;
            };
            if best.is_some_and(|b| val <= b) {
                continue;
            }
            let x = x_of(*t);
            let y = y_of(val);
            if best.is_none() {
                let _ = write!(path, "M{x:.1} {y:.1}");
            } else {
                let _ = write!(path, "H{x:.1}V{y:.1}");
            }
            best = Some(val);
            let when = chrono::DateTime::from_timestamp(*t, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let _ = write!(
                marks,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}"><title>{}</title></circle>"##,
                COLOURS[c],
                xml_escape(&format!(
                    "{} {when}: {} ({}) {val:.2}",
                    labels[c], r.model_id, r.precision
                ))
            );
        }
        if best.is_some() {
            let _ = write!(path, "H{:.1}", W - MR);
        }
        let _ = write!(
            s,
            r##"<path d="{path}" fill="none" stroke="{}" stroke-width="{}"/>{marks}"##,
            COLOURS[c],
            if c == 0 { 2.5 } else { 1.5 }
        );
    }
    // Human baselines (v1's dotted lines), labelled at the right end.
    let human = &super::table_data::baselines()[0];
    let mut levels = vec![human.average()];
    levels.extend(human.scores);
    for (c, pct) in levels.iter().enumerate() {
        let y = y_of(*pct);
        let _ = write!(
            s,
            r##"<line x1="{ML}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{}" stroke-width="1" stroke-dasharray="2 4" class="human"><title>{}</title></line>"##,
            W - MR,
            COLOURS[c],
            xml_escape(&format!("{} human baseline: {pct:.2}", labels[c]))
        );
    }
    // Legend.
    for (c, label) in labels.iter().enumerate() {
        let x = ML + 12.0 + 120.0 * c as f64;
        let y = H - MB - 12.0;
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{y:.1}" class="legend">{}</text>"##,
            y - 10.0,
            COLOURS[c],
            x + 16.0,
            xml_escape(label)
        );
    }
    s.push_str("</svg>");
    s
}

/// Legend of the scatter's colours, as (type name, colour).
fn type_legend() -> Vec<(&'static str, &'static str, &'static str)> {
    leaderboard_format::schema::ModelType::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), t.symbol(), TYPE_COLOURS[i]))
        .collect()
}

pub fn write(v: &View, env: &minijinja::Environment, ctx: &PageCtx, o: &mut Out) -> Result<()> {
    let html = env
        .get_template("plots.html")?
        .render(minijinja::context! {
            scatter => minijinja::Value::from_safe_string(params_scatter(v)),
            over_time => minijinja::Value::from_safe_string(best_over_time(v)),
            type_legend => type_legend(),
            ..ctx.page("", "plots", "Plots")
        })
        .context("rendering plots.html")?;
    o.write("plots.html", html.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Flag;
    use leaderboard_format::schema::{
        Benchmark, ModelType, Precision, Provenance, Run, Score, WeightType,
    };

    fn run(model: &str, day: i64, value: f64, on_hub: Option<bool>) -> Run {
        Run {
            model_id: model.into(),
            revision: None,
            precision: Precision::Float16,
            precision_detail: None,
            weight_type: WeightType::Original,
            base_model: None,
            model_type: ModelType::Pretrained,
            architecture: None,
            params_billions: Some(7.0),
            params_truncated: false,
            license: None,
            is_merge: false,
            is_moe: false,
            available_on_hub: on_hub,
            hub_likes: None,
            submitted_at: chrono::DateTime::from_timestamp(1_700_000_000 + day * 86_400, 0),
            evaluated_at: None,
            weights_sha256: None,
            provenance: Provenance {
                tool: "t".into(),
                tool_version: None,
                suite: "openllm-v1".into(),
                source_dataset: None,
                run_config: None,
                deviations: vec![],
            },
            reported_average: None,
            scores: Benchmark::ALL
                .iter()
                .map(|b| Score {
                    task: b.task().into(),
                    metric: b.headline_metrics()[0].into(),
                    value,
                    stderr: None,
                    n_samples: None,
                    num_fewshot: None,
                })
                .collect(),
        }
    }

    /// Flagged and deleted runs set no record; the human baselines are drawn.
    #[test]
    fn records_skip_flagged_and_deleted_runs() {
        let runs = vec![
            run("org/a", 0, 0.40, Some(true)),
            run("org/flagged", 1, 0.90, Some(true)),
            run("org/deleted", 2, 0.80, Some(false)),
            run("org/b", 3, 0.50, None),
        ];
        let flags = vec![Flag {
            model: "org/flagged".into(),
            reason: "contaminated".into(),
            link: None,
        }];
        let v = View::new(&runs, &flags);
        let svg = best_over_time(&v);
        assert!(svg.contains("org/a"), "{svg}");
        assert!(svg.contains("org/b"));
        assert!(!svg.contains("org/flagged"));
        assert!(!svg.contains("org/deleted"));
        assert_eq!(svg.matches(r#"class="human""#).count(), RANKED);
        assert!(svg.contains("Average human baseline: 92.13"));
    }
}
