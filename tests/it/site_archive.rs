//! The site built from the real v1 archive in `results/`: every run is in
//! data.js, the CSV and the JSON with every score and Average equal to the
//! v1 table (data/leaderboard/…jsonl.gz) to 2 decimals; one page
//! per model; the content pages exist.

use crate::support::csv;

use flate2::read::GzDecoder;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// (model id, precision, revision) → Average and the six scores in hundredths of a percent.
type Row = (String, String, Option<String>, [i64; 7]);

const V1_COLS: [&str; 7] = [
    "average",
    "arc",
    "hellaswag",
    "mmlu",
    "truthfulqa",
    "winogrande",
    "gsm8k",
];

fn hundredths(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

fn v1_rows() -> Vec<Row> {
    let p = crate::support::leaderboard_data("open_llm_leaderboard_v1_2024-07-07.jsonl.gz");
    let f = std::fs::File::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut rows = vec![];
    for (i, line) in BufReader::new(GzDecoder::new(f)).lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap())
            .unwrap_or_else(|e| panic!("{} line {}: {e}", p.display(), i + 1));
        let mut s = [0i64; 7];
        for (k, c) in V1_COLS.iter().enumerate() {
            s[k] = hundredths(v[c].as_f64().unwrap());
        }
        rows.push((
            v["fullname"].as_str().unwrap().to_string(),
            v["precision"].as_str().unwrap().to_string(),
            v["model_sha"].as_str().map(str::to_string),
            s,
        ));
    }
    rows.sort();
    rows
}

#[test]
fn archive_site_matches_the_v1_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let want = v1_rows();
    assert_eq!(want.len(), 7169);
    let src = leaderboard::site::load(&root.join("results"), &root.join("content"), None, None)
        .expect("loading results/ (run `leaderboard import` if it is empty)");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("site");
    let summary = leaderboard::site::build(&src, &out).unwrap();
    assert_eq!(summary.runs, 7169);
    assert_eq!(summary.models, 6811);

    // data.js
    let js = std::fs::read_to_string(out.join("data.js")).unwrap();
    let body = js
        .split_once("window.LB_DATA=")
        .unwrap()
        .1
        .trim_end()
        .trim_end_matches(';');
    let d: serde_json::Value = serde_json::from_str(body).unwrap();
    let c = &d["c"];
    let n = d["n"].as_u64().unwrap() as usize;
    assert_eq!(n, 7169);
    let mut got = vec![];
    for i in 0..n {
        let model = d["models"][c["m"][i].as_u64().unwrap() as usize]
            .as_str()
            .unwrap();
        let prec = d["precs"][c["p"][i].as_u64().unwrap() as usize]
            .as_str()
            .unwrap();
        let sha = c["sha"][i].as_str().map(str::to_string);
        let mut s = [0i64; 7];
        s[0] = c["avg"][i].as_i64().unwrap();
        for b in 0..6 {
            s[b + 1] = c[format!("b{b}")][i].as_i64().unwrap();
        }
        got.push((model.to_string(), prec.to_string(), sha, s));
    }
    // Default order: Average descending.
    assert!(got.windows(2).all(|w| w[0].3[0] >= w[1].3[0]));
    got.sort();
    assert_eq!(got, want, "data.js differs from the v1 table");

    // JSON download.
    let json: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("data/leaderboard.json")).unwrap()).unwrap();
    let mut got: Vec<Row> = json
        .iter()
        .map(|r| {
            let mut s = [0i64; 7];
            for (k, c) in V1_COLS.iter().enumerate() {
                s[k] = hundredths(r[c].as_f64().unwrap());
            }
            (
                r["model_id"].as_str().unwrap().to_string(),
                r["precision"].as_str().unwrap().to_string(),
                r["revision"].as_str().map(str::to_string),
                s,
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want, "leaderboard.json differs from the v1 table");

    // CSV download.
    let text = std::fs::read_to_string(out.join("data/leaderboard.csv")).unwrap();
    let rows = csv::parse_csv(&text);
    let head = &rows[0];
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let unguard = |s: &str| -> String {
        match s.strip_prefix('\'') {
            Some(r) if r.starts_with(['=', '+', '-', '@']) => r.to_string(),
            _ => s.to_string(),
        }
    };
    let mut got: Vec<Row> = rows[1..]
        .iter()
        .map(|r| {
            let mut s = [0i64; 7];
            for (k, c) in V1_COLS.iter().enumerate() {
                s[k] = hundredths(r[col(c)].parse::<f64>().unwrap());
            }
            let sha = &r[col("revision")];
            (
                unguard(&r[col("model_id")]),
                r[col("precision")].clone(),
                (!sha.is_empty()).then(|| sha.clone()),
                s,
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want, "leaderboard.csv differs from the v1 table");

    // One page per model, content pages.
    let pages = std::fs::read_dir(out.join("models")).unwrap().count();
    assert_eq!(pages, 6811);
    for p in [
        "about.html",
        "faq.html",
        "submit.html",
        "plots.html",
        "index.html",
    ] {
        assert!(out.join(p).is_file(), "{p} missing");
    }
    // v1's stored 0 parameters (under 1 B, or unknown) is not printed as 0;
    // the flagged TruthfulQA record holder has no rank.
    let page = |slug: &str| std::fs::read_to_string(out.join("models").join(slug)).unwrap();
    let llama = page("meta-llama--llama-2-7b-hf.html");
    assert!(
        llama.contains("under 1, or unknown"),
        "Llama-2-7b 4bit params"
    );
    assert!(!llama.contains("<dd>0</dd>"));
    let flagged = page("contamination--contaminated_proof_7b_v1.0_safetensor.html");
    assert!(flagged.contains("Not ranked: the model is flagged."));
    // Every score of every run has an interval (derived: the archive reports
    // no standard errors), and so does every Average.
    use leaderboard::site::uncertainty;
    for r in &src.runs {
        let est = uncertainty::of_run(r);
        assert!(
            est.iter().all(Option::is_some),
            "{} lacks an interval",
            r.model_id
        );
    }
    assert!(llama.contains("95% interval"));
    let arc = uncertainty::of_benchmark(
        src.runs
            .iter()
            .find(|r| r.model_id == "meta-llama/Llama-2-7b-hf" && r.precision.as_str() == "float16")
            .unwrap(),
        leaderboard_format::schema::Benchmark::Arc,
    )
    .unwrap();
    assert_eq!(arc.origin, uncertainty::Origin::Binomial);
    let (lo, hi) = arc.interval();
    assert!(
        llama.contains(&format!("{lo:.2}–{hi:.2}")),
        "ARC interval {lo:.2}–{hi:.2}"
    );
    // How many of the top 100 ranked runs by Average are statistically tied
    // with the first (printed for the closing note).
    let view = leaderboard::site::view::View::new(&src.runs, &src.flags);
    let top: Vec<uncertainty::Estimate> = view
        .runs
        .iter()
        .filter(|r| view.is_ranked(r))
        .take(100)
        .map(|r| uncertainty::of_run(r)[0].unwrap())
        .collect();
    let tied = top[1..].iter().filter(|e| !top[0].beats(e)).count();
    let range = view.rank_range(0, &top[0]);
    eprintln!(
        "top 100 by Average: {tied} of the 99 others are tied with the first ({:.2} ± {:.2}); its rank range {}–{} of {}",
        top[0].value, top[0].stderr, range.0, range.1, range.2
    );
    assert!(tied > 0 && tied < 99);
    // The index page (what a first visit loads) stays under 1.5 MB.
    let weight: u64 = ["index.html", "data.js", "common.js", "app.js", "style.css"]
        .iter()
        .map(|f| std::fs::metadata(out.join(f)).unwrap().len())
        .sum();
    eprintln!("index page weight: {weight} bytes");
    assert!(weight < 1_500_000, "index page weighs {weight} bytes");
    // The 14 case-only id pairs do not collide case-insensitively.
    let mut lower = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(out.join("models")).unwrap() {
        assert!(lower.insert(e.unwrap().file_name().to_string_lossy().to_lowercase()));
    }
}
