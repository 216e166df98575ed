//! The site built from a small fixture results folder (written with the real
//! Parquet writer): escaping of hostile text in every output, link
//! sanitizing, slug collisions, sorting, downloads and determinism.

use leaderboard_format::schema::{
    Benchmark, ModelType, Precision, Provenance, Run, Score, WeightType,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::csv::parse_csv;

const EVIL: &str = "<script>alert(1)</script>";
const EVIL_LINK: &str = "javascript:alert(2)";
const FORMULA: &str = "=HYPERLINK(\"http://x\")";

fn run(model: &str, scores: [f64; 6], precision: Precision) -> Run {
    Run {
        model_id: model.to_string(),
        revision: Some(format!("{:040x}", model.len())),
        precision,
        precision_detail: None,
        weight_type: WeightType::Original,
        base_model: None,
        model_type: ModelType::FineTuned,
        architecture: Some("LlamaForCausalLM".into()),
        params_billions: Some(7.0),
        params_truncated: true,
        license: Some("mit".into()),
        is_merge: false,
        is_moe: false,
        available_on_hub: Some(true),
        hub_likes: Some(3),
        submitted_at: chrono::DateTime::from_timestamp(
            1_700_000_000 + model.len() as i64 * 86_400,
            0,
        ),
        evaluated_at: None,
        weights_sha256: None,
        provenance: Provenance {
            tool: "fixture".into(),
            tool_version: Some("1".into()),
            suite: "openllm-v1".into(),
            source_dataset: None,
            run_config: None,
            deviations: vec![],
        },
        reported_average: None,
        scores: Benchmark::ALL
            .iter()
            .zip(scores)
            .map(|(b, v)| Score {
                task: b.task().into(),
                metric: b.headline_metrics()[0].into(),
                value: v,
                stderr: Some(0.01),
                n_samples: Some(100),
                num_fewshot: Some(b.num_fewshot()),
            })
            .collect(),
    }
}

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let mut evil = run(EVIL, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], Precision::Float16);
    evil.license = Some(EVIL.into());
    evil.architecture = Some(EVIL.into());
    evil.base_model = Some(EVIL.into());
    evil.provenance.deviations = vec![EVIL.into()];
    let mut formula = run(FORMULA, [0.2, 0.2, 0.2, 0.2, 0.2, 0.2], Precision::Float16);
    formula.license = Some("-1+1".into());
    let runs = vec![
        run(
            "org/Best",
            [0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
            Precision::BFloat16,
        ),
        run(
            "org/best",
            [0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
            Precision::Float16,
        ),
        run(
            "EleutherAI/pythia-70m",
            [0.2159, 0.2729, 0.259, 0.4706, 0.5146, 0.003],
            Precision::Float16,
        ),
        run(
            "../../etc/passwd",
            [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
            Precision::Float16,
        ),
        evil,
        formula,
    ];
    leaderboard_format::write_file(&results.join("fixture.parquet"), &runs).unwrap();
    std::fs::write(
        results.join("flags.toml"),
        format!(
            "[[flag]]\nmodel = {m:?}\nreason = {r:?}\nlink = {l:?}\n\n[[flag]]\nmodel = \"org/best\"\nreason = \"contaminated\"\nlink = \"https://huggingface.co/spaces/x/discussions/1\"\n",
            m = EVIL,
            r = EVIL,
            l = EVIL_LINK
        ),
    )
    .unwrap();
    (dir, results)
}

fn content_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("content")
}

fn build(results: &Path, out: &Path) -> leaderboard::site::Summary {
    let src = leaderboard::site::load(results, &content_dir(), None, None).unwrap();
    leaderboard::site::build(&src, out).unwrap()
}

fn all_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let (dir, results) = fixture();
    let out = dir.path().join("site");
    let s = build(&results, &out);
    assert_eq!(s.runs, 6);
    assert_eq!(s.models, 6);
    let files = all_files(&out);
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        let rendered = name.ends_with(".html") || name.ends_with(".js") || name.ends_with(".svg");
        if rendered {
            assert!(
                !text.contains("<script>alert"),
                "{name} holds an unescaped <script>"
            );
            assert!(!text.contains("</script>alert"), "{name}");
            assert!(
                !text.contains("href=\"javascript:"),
                "{name} links to javascript:"
            );
        }
    }
    // The hostile model has a page, named safely, that shows the id escaped.
    let pages: Vec<&String> = files.keys().filter(|k| k.starts_with("models/")).collect();
    assert_eq!(pages.len(), 6, "{pages:?}");
    for p in &pages {
        let stem = p.trim_start_matches("models/").trim_end_matches(".html");
        assert!(
            !stem.starts_with('.')
                && stem
                    .chars()
                    .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')),
            "unsafe page name {p}"
        );
    }
    let evil_page = pages
        .iter()
        .map(|p| String::from_utf8_lossy(&files[*p]).into_owned())
        .find(|t| {
            t.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
                || t.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        })
        .expect("the hostile model's page shows its id escaped");
    assert!(evil_page.contains("Flagged:"));
    assert!(
        !evil_page.contains("javascript:alert(2)\""),
        "non-https flag link rendered as a link"
    );
    assert!(
        !evil_page.contains("https://huggingface.co/&lt;"),
        "hub link for a non-repo id"
    );
    // The plots' SVG escapes the id too.
    let plots = String::from_utf8_lossy(&files["plots.html"]);
    assert!(plots.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // data.js keeps the exact text, escaped for a script context.
    let data = String::from_utf8_lossy(&files["data.js"]);
    assert!(data.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"));
    assert!(
        !data.contains(EVIL_LINK),
        "a javascript: link reached data.js"
    );
    // The https flag link is kept.
    assert!(data.contains("https://huggingface.co/spaces/x/discussions/1"));
}

#[test]
fn downloads_hold_every_run_sorted_and_guarded() {
    let (dir, results) = fixture();
    let out = dir.path().join("site");
    build(&results, &out);
    let csv = std::fs::read_to_string(out.join("data/leaderboard.csv")).unwrap();
    let rows = parse_csv(&csv);
    let head = &rows[0];
    assert_eq!(head.len(), leaderboard::site::downloads::COLUMNS.len());
    assert_eq!(rows.len(), 7);
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let ids: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r[col("model_id")].as_str())
        .collect();
    // Sorted by Average descending.
    assert_eq!(ids[0], "org/Best");
    assert_eq!(ids[1], "org/best");
    assert_eq!(ids[2], EVIL);
    assert!(
        ids.contains(&format!("'{FORMULA}").as_str()),
        "formula not guarded: {ids:?}"
    );
    let avgs: Vec<f64> = rows[1..]
        .iter()
        .map(|r| r[col("average")].parse().unwrap())
        .collect();
    assert!(avgs.windows(2).all(|w| w[0] >= w[1]), "{avgs:?}");
    assert_eq!(avgs[0], 90.0);
    // The JSON keeps exact text.
    let json: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("data/leaderboard.json")).unwrap()).unwrap();
    assert_eq!(json.len(), 6);
    assert_eq!(json[2]["model_id"], EVIL);
    assert_eq!(json[2]["comparable"], false);
    assert_eq!(json[2]["flagged"], true);
    assert_eq!(json[2]["flag_link"], serde_json::Value::Null);
    assert_eq!(
        json[1]["flag_link"],
        "https://huggingface.co/spaces/x/discussions/1"
    );
    assert!(json.iter().any(|r| r["model_id"] == FORMULA));
    let pythia = json
        .iter()
        .find(|r| r["model_id"] == "EleutherAI/pythia-70m")
        .unwrap();
    assert_eq!(pythia["arc"], 21.59);
    assert_eq!(pythia["scores"].as_array().unwrap().len(), 6);
    // Every run in one results file, equal to the fixture's (same order: both
    // are written in canonical order).
    assert_eq!(
        leaderboard_format::results::read_file(&out.join("data/results.parquet")).unwrap(),
        leaderboard_format::results::read_file(&results.join("fixture.parquet")).unwrap()
    );
    assert!(!out.join("data/fixture.parquet").exists());
    assert!(out.join("data/flags.toml").is_file());
    // The downloads page lists every file, and the column reference covers
    // every column (also in data/README.md).
    let page = std::fs::read_to_string(out.join("downloads.html")).unwrap();
    for f in [
        "leaderboard.csv",
        "leaderboard.json",
        "results.parquet",
        "flags.toml",
    ] {
        assert!(
            page.contains(&format!("href=\"data/{f}\"")),
            "{f} not listed"
        );
    }
    let readme = std::fs::read_to_string(out.join("data/README.md")).unwrap();
    for c in leaderboard::site::downloads::COLUMNS {
        assert!(
            page.contains(&format!("<code>{c}</code>")),
            "{c} undocumented"
        );
        assert!(readme.contains(&format!("| `{c}` |")), "{c} not in README");
    }
}

#[test]
fn case_only_different_ids_get_separate_pages() {
    let (dir, results) = fixture();
    let out = dir.path().join("site");
    build(&results, &out);
    let mut lower = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(out.join("models")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().to_lowercase();
        assert!(
            lower.insert(n.clone()),
            "two pages collide case-insensitively: {n}"
        );
    }
    assert_eq!(lower.len(), 6);
    let data = std::fs::read_to_string(out.join("data.js")).unwrap();
    // Both case variants need an exception entry for the browser.
    assert!(
        data.contains("org--best-"),
        "slug exceptions missing from data.js"
    );
}

#[test]
fn pages_nav_links_are_relative_and_present() {
    let (dir, results) = fixture();
    let out = dir.path().join("site");
    build(&results, &out);
    for p in [
        "index.html",
        "about.html",
        "faq.html",
        "submit.html",
        "plots.html",
        "404.html",
        ".nojekyll",
        "downloads.html",
        "data/README.md",
    ] {
        assert!(out.join(p).is_file(), "{p} missing");
    }
    let files = all_files(&out);
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".html")) {
        let t = String::from_utf8_lossy(bytes);
        assert!(
            t.contains("downloads.html\""),
            "{name} lacks the downloads nav"
        );
        // Only the downloads page names the results files (the site grows
        // linearly in files).
        if name != "downloads.html" {
            assert!(!t.contains(".parquet\""), "{name} lists a results file");
        }
        for bad in [
            "href=\"/",
            "src=\"/",
            "href=\"http://",
            "src=\"http",
            "//cdn",
            "fonts.googleapis",
        ] {
            assert!(!t.contains(bad), "{name} contains {bad}");
        }
    }
    let faq = String::from_utf8_lossy(&files["faq.html"]);
    assert!(faq.contains("license: mit"));
    let model = files
        .iter()
        .find(|(n, _)| n.starts_with("models/eleutherai--pythia-70m"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap();
    assert!(model.contains("href=\"../style.css\""));
    assert!(model.contains("https://huggingface.co/EleutherAI/pythia-70m"));
    assert!(model.contains("21.59"));
    // Rank among comparable, unflagged runs (the hostile run is not
    // comparable, org/best is flagged): pythia's ARC 21.59 is the lowest of 4.
    assert!(model.contains("4 of 4"), "rank missing");
    assert!(model.contains("comparable, unflagged runs"));
    // A flagged model's page says why it has no rank.
    let flagged = files
        .iter()
        .find(|(n, _)| n.starts_with("models/org--best") && n.as_str() != "models/org--best.html")
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap();
    assert!(
        flagged.contains("Not ranked: the model is flagged."),
        "{flagged}"
    );
}

#[test]
fn build_is_deterministic_and_replaces_the_old_site() {
    let (dir, results) = fixture();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    build(&results, &a);
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("stale.html"), "old").unwrap();
    build(&results, &b);
    let fa = all_files(&a);
    let fb = all_files(&b);
    assert!(!fb.contains_key("stale.html"), "old site not replaced");
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(v == &fb[k], "{k} differs between two builds");
    }
    // No temp folders left next to the output.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_failed_build_keeps_the_old_site() {
    let (dir, results) = fixture();
    let out = dir.path().join("site");
    build(&results, &out);
    let before = all_files(&out);
    let mut src = leaderboard::site::load(&results, &content_dir(), None, None).unwrap();
    src.theme
        .templates
        .insert("model.html".into(), "{{ undefined_fn() }}".into());
    let err = leaderboard::site::build(&src, &out).unwrap_err();
    assert!(
        format!("{err:#}").contains("rendering the page of model"),
        "{err:#}"
    );
    assert_eq!(all_files(&out), before);
}

#[test]
fn build_refuses_a_folder_check_refuses_unless_told() {
    // The fixture holds hostile runs (`../../etc/passwd` as a model id…):
    // `check` refuses it, so `build` does too, and keeps any old site.
    let (dir, results) = fixture();
    let out = dir.path().join("site");
    let args = |allow_invalid| leaderboard::cmd::build::Args {
        results: Some(results.clone()),
        content: Some(content_dir()),
        out: Some(out.clone()),
        allow_invalid,
        ..Default::default()
    };
    let err = leaderboard::cmd::build::run(&args(false))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`leaderboard check` refuses it") && err.contains("--allow-invalid"),
        "{err}"
    );
    assert!(!out.exists(), "nothing was published");
    // A preview builds anyway (and still escapes everything: see above).
    leaderboard::cmd::build::run(&args(true)).unwrap();
    assert!(out.join("index.html").is_file());
}
