//! `data.js`: the main table's data, a script setting `window.LB_DATA`
//! (browsers refuse `fetch()` of JSON from `file://`).
//!
//! Columnar and compact (7,169 runs in well under 1 MB). Rows are in the
//! default order (Average descending); row `i` of the table is entry `i` of
//! every array in `c`:
//!
//! | key | meaning |
//! |---|---|
//! | `n` | number of runs |
//! | `models` | distinct model ids, sorted; `c.m` indexes it |
//! | `slugx` | `{model index: page slug}` for models whose page name is not the plain rule of [`super::slug::base_slug`] (`app.js` applies the rule to the rest) |
//! | `types`, `typeSym` | model type names and their T symbols; `c.t` indexes them |
//! | `archs`, `precs`, `lics`, `wts` | dictionaries for `c.a`, `c.p`, `c.l`, `c.w` (`null` entries = unknown) |
//! | `dx` | `{row: script}`: the per-sample details script of rows that have one ([`super::details`]) |
//! | `flags` | `[{model, reason, link}]` (`link` only when `https://`); `mf` maps model index → flag index |
//! | `c.avg`, `c.b0`…`c.b5` | Average and the six benchmarks (schema order) in **hundredths of a percent** (integers), `null` = missing |
//! | `c.se`, `c.s0`…`c.s5` | standard errors of the Average and of the six, in hundredths of a percent (`super::uncertainty`), `null` = no score |
//! | `c.pb` | parameters in hundredths of a billion, `null` = unknown |
//! | `c.lk` | Hub likes or `null` |
//! | `c.sha` | revision or `null` |
//! | `srcs`, `srcLabels` | the sources ([`super::view::SOURCES`]: key, description) and each distinct source label (tool and version); `c.src` indexes `srcs`, `c.sl` `srcLabels` |
//! | `c.mg`, `c.moe`, `c.nc`, `c.hub`, `c.re` | one character per row: merge / MoE / not comparable / re-evaluable here (the evaluator runs its architecture) (`1`/`0`); on the Hub (`1`/`0`/`?`) |
//!
//! Strings are serialized with serde_json, then `<`, `>`, `&`, U+2028 and
//! U+2029 are written as `\uXXXX` escapes so no string can end the script.

use super::view::{ranked_values, View};
use leaderboard_format::schema::ModelType;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A reference row pinned above the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Baseline {
    pub name: &'static str,
    /// ARC, HellaSwag, MMLU, TruthfulQA, Winogrande, GSM8K in percent.
    pub scores: [f64; 6],
}

impl Baseline {
    pub fn average(&self) -> f64 {
        self.scores.iter().sum::<f64>() / 6.0
    }
}

/// v1's reference rows (`baseline_row`, `human_baseline_row` in the v1
/// Space's `src/display/utils.py`); the Average is the mean of the six.
pub fn baselines() -> [Baseline; 2] {
    [
        Baseline {
            name: "Human baseline",
            scores: [80.0, 95.0, 89.8, 94.0, 94.0, 100.0],
        },
        Baseline {
            name: "Random baseline",
            scores: [25.0, 25.0, 25.0, 25.0, 50.0, 0.21],
        },
    ]
}

/// Rounds a percentage to integer hundredths.
pub fn hundredths(pct: f64) -> i64 {
    (pct * 100.0).round() as i64
}

struct Dict {
    index: BTreeMap<Option<String>, usize>,
    values: Vec<Option<String>>,
}

impl Dict {
    fn new(mut values: Vec<Option<String>>) -> Dict {
        values.sort();
        values.dedup();
        let index = values
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, v)| (v, i))
            .collect();
        Dict { index, values }
    }
    fn get(&self, v: &Option<String>) -> usize {
        self.index[v]
    }
}

/// Makes serialized JSON safe inside a `<script>` element or file.
pub fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// The text of `data.js`.
pub fn render(v: &View, dx: &BTreeMap<usize, String>) -> String {
    let runs = &v.runs;
    let models: Vec<&str> = v.models.keys().copied().collect();
    let model_idx: BTreeMap<&str, usize> =
        models.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut slugx = Map::new();
    for (i, m) in models.iter().enumerate() {
        let s = v.slug(m);
        if s != super::slug::base_slug(m) {
            slugx.insert(i.to_string(), json!(s));
        }
    }
    let archs = Dict::new(runs.iter().map(|r| r.architecture.clone()).collect());
    let lics = Dict::new(runs.iter().map(|r| r.license.clone()).collect());
    let precs: Vec<&str> = leaderboard_format::schema::Precision::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    let wts: Vec<&str> = leaderboard_format::schema::WeightType::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    let types: Vec<&str> = ModelType::ALL.iter().map(|t| t.as_str()).collect();
    let type_sym: Vec<&str> = ModelType::ALL.iter().map(|t| t.symbol()).collect();

    let mut flags = Vec::new();
    let mut mf = Map::new();
    for (i, m) in models.iter().enumerate() {
        if let Some(f) = v.flag(m) {
            mf.insert(i.to_string(), json!(flags.len()));
            let link = f.link.as_deref().filter(|l| super::is_https_url(l));
            flags.push(json!({"model": f.model, "reason": f.reason, "link": link}));
        }
    }

    let mut c = Map::new();
    let col = |f: &dyn Fn(&leaderboard_format::schema::Run) -> Value| -> Value {
        Value::Array(runs.iter().map(|r| f(r)).collect())
    };
    let bits = |f: &dyn Fn(&leaderboard_format::schema::Run) -> char| -> Value {
        Value::String(runs.iter().map(|r| f(r)).collect())
    };
    c.insert("m".into(), col(&|r| json!(model_idx[r.model_id.as_str()])));
    c.insert(
        "avg".into(),
        col(&|r| json!(ranked_values(r)[0].map(hundredths))),
    );
    // Standard errors: every run's estimates computed once, one array per column.
    let est: Vec<_> = runs.iter().map(|r| super::uncertainty::of_run(r)).collect();
    let stderrs = |c: usize| -> Value {
        Value::Array(
            est.iter()
                .map(|e| json!(e[c].map(|e| hundredths(e.stderr))))
                .collect(),
        )
    };
    c.insert("se".into(), stderrs(0));
    for b in 0..6 {
        c.insert(
            format!("b{b}"),
            col(&|r| json!(ranked_values(r)[b + 1].map(hundredths))),
        );
        c.insert(format!("s{b}"), stderrs(b + 1));
    }
    c.insert(
        "t".into(),
        col(&|r| json!(ModelType::ALL.iter().position(|t| *t == r.model_type))),
    );
    c.insert("a".into(), col(&|r| json!(archs.get(&r.architecture))));
    c.insert(
        "p".into(),
        col(&|r| {
            json!(leaderboard_format::schema::Precision::ALL
                .iter()
                .position(|p| *p == r.precision))
        }),
    );
    c.insert(
        "w".into(),
        col(&|r| {
            json!(leaderboard_format::schema::WeightType::ALL
                .iter()
                .position(|p| *p == r.weight_type))
        }),
    );
    c.insert("l".into(), col(&|r| json!(lics.get(&r.license))));
    c.insert(
        "pb".into(),
        col(&|r| json!(r.params_billions.map(hundredths))),
    );
    c.insert("lk".into(), col(&|r| json!(r.hub_likes)));
    let sources: Vec<(usize, String)> = runs.iter().map(|r| super::view::source_of(r)).collect();
    let src_labels = Dict::new(sources.iter().map(|(_, l)| Some(l.clone())).collect());
    c.insert(
        "src".into(),
        Value::Array(sources.iter().map(|(i, _)| json!(i)).collect()),
    );
    c.insert(
        "sl".into(),
        Value::Array(
            sources
                .iter()
                .map(|(_, l)| json!(src_labels.get(&Some(l.clone()))))
                .collect(),
        ),
    );
    c.insert("sha".into(), col(&|r| json!(r.revision)));
    c.insert("mg".into(), bits(&|r| if r.is_merge { '1' } else { '0' }));
    c.insert("moe".into(), bits(&|r| if r.is_moe { '1' } else { '0' }));
    c.insert(
        "re".into(),
        bits(&|r| {
            if super::view::reevaluable(r) {
                '1'
            } else {
                '0'
            }
        }),
    );
    c.insert(
        "vf".into(),
        bits(&|r| match v.verification(r).map(|x| x.verified()) {
            Some(true) => '1',
            Some(false) => '0',
            None => '?',
        }),
    );
    c.insert(
        "nc".into(),
        bits(&|r| if r.is_comparable() { '0' } else { '1' }),
    );
    c.insert(
        "hub".into(),
        bits(&|r| match r.available_on_hub {
            Some(true) => '1',
            Some(false) => '0',
            None => '?',
        }),
    );
    let data = json!({
        "v": 1,
        "n": runs.len(),
        "models": models,
        "slugx": slugx,
        "types": types,
        "typeSym": type_sym,
        "archs": archs.values,
        "precs": precs,
        "lics": lics.values,
        "wts": wts,
        "srcs": super::view::SOURCES.iter().map(|(k, d)| json!({"k": k, "d": d})).collect::<Vec<_>>(),
        "srcLabels": src_labels.values,
        "flags": flags,
        "mf": mf,
        "dx": dx.iter().map(|(k, p)| (k.to_string(), json!(p))).collect::<Map<String, Value>>(),
        "baselines": baselines().iter().map(|b| json!({
            "name": b.name,
            "avg": hundredths(b.average()),
            "b": b.scores.iter().map(|s| hundredths(*s)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "c": c,
    });
    let text = serde_json::to_string(&data).expect("serializing data.js");
    format!(
        "// Generated by `leaderboard build`; format documented in src/site/table_data.rs.\nwindow.LB_DATA={};\n",
        script_safe(&text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_safe_escapes() {
        let s = serde_json::to_string("</script><b>&\u{2028}").unwrap();
        let e = script_safe(&s);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('&'));
        assert!(!e.contains('\u{2028}'));
        let back: String = serde_json::from_str(&e).unwrap();
        assert_eq!(back, "</script><b>&\u{2028}");
    }

    #[test]
    fn baseline_averages() {
        let [h, r] = baselines();
        assert_eq!(hundredths(h.average()), 9213);
        assert_eq!(hundredths(r.average()), 2504);
    }
}
