//! `leaderboard check`: passes on the committed results/, and rejects each
//! kind of hostile or broken input with a message naming file and row.

use leaderboard_format::schema::{
    Benchmark, ModelType, Precision, Provenance, Run, Score, WeightType, FORMAT_VERSION_KEY,
};
use leaderboard_format::{self as results, check as validate, results as rp};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::format::KeyValue;
use std::path::{Path, PathBuf};

pub fn run(model: &str) -> Run {
    Run {
        model_id: model.into(),
        revision: Some("a".repeat(40)),
        precision: Precision::BFloat16,
        precision_detail: None,
        weight_type: WeightType::Original,
        base_model: None,
        model_type: ModelType::Pretrained,
        architecture: Some("LlamaForCausalLM".into()),
        params_billions: Some(0.135),
        params_truncated: false,
        license: Some("apache-2.0".into()),
        is_merge: false,
        is_moe: false,
        available_on_hub: Some(true),
        hub_likes: Some(1),
        submitted_at: None,
        evaluated_at: chrono::DateTime::from_timestamp(1_750_000_000, 0),
        weights_sha256: Some("0f".repeat(32)),
        provenance: Provenance {
            tool: "leaderboard-evaluator".into(),
            tool_version: Some("0.1.0".into()),
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
                value: 0.5,
                stderr: Some(0.01),
                n_samples: Some(b.n_docs()),
                num_fewshot: Some(b.num_fewshot()),
            })
            .collect(),
    }
}

/// A valid results folder with two files; returns its path.
pub fn good_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    results::write_file(
        &dir.path().join("org/model-a/run.parquet"),
        &[run("org/model-a")],
    )
    .unwrap();
    results::write_file(
        &dir.path().join("more.parquet"),
        &[run("org/model-b"), run("solo-legacy")],
    )
    .unwrap();
    std::fs::write(
        dir.path().join("flags.toml"),
        "[[flag]]\nmodel = \"org/model-b\"\nreason = \"contaminated\"\nlink = \"https://example.org/1\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "# results\n").unwrap();
    dir
}

pub fn problems(dir: &Path) -> Vec<String> {
    validate::check_dir(dir)
        .iter()
        .map(|p| p.to_string())
        .collect()
}

/// Asserts exactly one problem, containing every one of `needles`.
pub fn assert_one(dir: &Path, needles: &[&str]) {
    let got = problems(dir);
    assert_eq!(got.len(), 1, "expected one problem, got {got:#?}");
    for n in needles {
        assert!(got[0].contains(n), "{:?} lacks {n:?}", got[0]);
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_results_pass() {
    let got = problems(&root().join("results"));
    assert!(got.is_empty(), "{got:#?}");
    // What the check read is what the site's loader reads (`build` uses it).
    let (_, checked) = validate::check_and_load(&root().join("results"));
    let loaded = results::load_dir(&root().join("results")).unwrap();
    assert_eq!(checked.runs, loaded.runs);
    assert_eq!(checked.flags, loaded.flags);
    assert_eq!(checked.files, loaded.files);
}

#[test]
fn a_valid_folder_passes() {
    let dir = good_dir();
    assert_eq!(problems(dir.path()), Vec::<String>::new());
}

#[test]
fn script_in_model_id_is_refused() {
    let dir = good_dir();
    results::write_file(
        &dir.path().join("evil.parquet"),
        &[run("org/<script>alert(1)</script>")],
    )
    .unwrap();
    assert_one(
        dir.path(),
        &[
            "evil.parquet: row 1, column `model_id`",
            "not a valid Hub model id",
        ],
    );
}

#[test]
fn bad_model_ids_are_refused() {
    for (i, id) in [
        "../etc/passwd",
        "a/b/c",
        "org/..",
        "org/-x",
        "",
        &"x".repeat(97),
        "org/a b",
        "o--x/y",
    ]
    .into_iter()
    .enumerate()
    {
        let dir = good_dir();
        let name = format!("id{i}.parquet");
        results::write_file(&dir.path().join(&name), &[run(id)]).unwrap();
        assert_one(dir.path(), &[&format!("{name}: row 1, column `model_id`")]);
    }
}

#[cfg(unix)]
#[test]
fn symlinks_leaving_the_folder_are_refused() {
    let dir = good_dir();
    let outside = tempfile::tempdir().unwrap();
    results::write_file(&outside.path().join("x.parquet"), &[run("org/outside")]).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("x.parquet"),
        dir.path().join("link.parquet"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linkdir")).unwrap();
    std::os::unix::fs::symlink("../../etc", dir.path().join("org/dots")).unwrap();
    let got = problems(dir.path());
    assert_eq!(got.len(), 3, "{got:#?}");
    for (p, name) in got.iter().zip(["link.parquet", "linkdir", "org/dots"]) {
        assert!(p.starts_with(name) && p.contains("symbolic link"), "{p}");
    }
    // The site loader does not follow them either.
    let set = results::load_dir(dir.path()).unwrap();
    assert!(set.runs.iter().all(|r| r.run.model_id != "org/outside"));
}

#[test]
fn bad_paths_and_unexpected_files_are_refused() {
    let cases: [(&str, &str); 5] = [
        (".hidden.parquet", "not allowed"),
        ("sp ace.parquet", "not allowed"),
        ("org/.git/x.parquet", "\".git\" is not allowed"),
        ("notes.txt", "unexpected file"),
        ("org/flags.toml", "unexpected file"),
    ];
    for (name, needle) in cases {
        let dir = good_dir();
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "x").unwrap();
        let got = problems(dir.path());
        assert!(!got.is_empty(), "{name} accepted");
        assert!(got[0].contains(needle), "{name}: {got:#?}");
        assert!(got.len() <= 2, "{name}: {got:#?}");
    }
}

#[test]
fn truncated_parquet_is_refused() {
    let dir = good_dir();
    let p = dir.path().join("more.parquet");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    assert_one(dir.path(), &["more.parquet", "not a readable Parquet file"]);
}

#[test]
fn nan_and_out_of_range_scores_are_refused() {
    let dir = good_dir();
    let mut a = run("org/nan");
    a.scores[1].value = f64::NAN;
    let mut b = run("org/big");
    b.scores[0].value = 1.5;
    b.scores[2].stderr = Some(-0.1);
    let mut c = run("org/inf");
    c.scores[3].stderr = Some(f64::INFINITY);
    c.reported_average = Some(101.0);
    results::write_file(&dir.path().join("bad.parquet"), &[a, b, c]).unwrap();
    let got = problems(dir.path());
    // Rows are sorted by model id (big, inf, nan), scores by task: arc_challenge,
    // gsm8k, hellaswag, mmlu, truthfulqa_mc, winogrande.
    let expected = [
        "bad.parquet: row 1, column `scores[1].value`: 1.5",
        "bad.parquet: row 1, column `scores[4].stderr`: -0.1",
        "bad.parquet: row 2, column `reported_average`: 101",
        "bad.parquet: row 2, column `scores[5].stderr`: inf",
        "bad.parquet: row 3, column `scores[3].value`: NaN",
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for e in expected {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in {got:#?}"
        );
    }
}

#[test]
fn duplicate_runs_name_both_places() {
    let dir = good_dir();
    // Same identity as more.parquet row 1, in another file.
    results::write_file(&dir.path().join("zz/dup.parquet"), &[run("org/model-b")]).unwrap();
    assert_one(
        dir.path(),
        &[
            "zz/dup.parquet: row 1",
            "duplicate run org/model-b",
            "more.parquet: row 1",
        ],
    );
    // And within one file.
    let dir = good_dir();
    results::write_file(
        &dir.path().join("two.parquet"),
        &[run("org/x"), run("org/x")],
    )
    .unwrap();
    assert_one(
        dir.path(),
        &["two.parquet: row 2", "duplicate run", "two.parquet: row 1"],
    );
    // A different precision is a different run.
    let dir = good_dir();
    let mut other = run("org/model-b");
    other.precision = Precision::Float16;
    results::write_file(&dir.path().join("ok.parquet"), &[other]).unwrap();
    assert_eq!(problems(dir.path()), Vec::<String>::new());
}

#[test]
fn unknown_task_metric_and_suite_are_refused() {
    let dir = good_dir();
    let mut a = run("org/tasks");
    a.scores[0].task = "mmlu_astrology".into();
    a.scores[1].metric = "bleu".into();
    a.provenance.suite = "openllm-v9".into();
    a.revision = Some("main".into());
    results::write_file(&dir.path().join("t.parquet"), &[a]).unwrap();
    let got = problems(dir.path());
    for e in [
        "t.parquet: row 1, column `scores[4].task`: unknown MMLU subject \"mmlu_astrology\"",
        "t.parquet: row 1, column `scores[2].metric`: unknown metric \"bleu\"",
        "t.parquet: row 1, column `suite`",
        "t.parquet: row 1, column `revision`: \"main\"",
    ] {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), 4, "{got:#?}");
}

/// A task outside the six columns (an extra task) is accepted with any
/// well-formed metric name; an ill-formed id or metric is refused.
#[test]
fn extra_tasks_are_accepted_when_well_formed() {
    let dir = good_dir();
    let mut a = run("org/extra");
    let mut extra = a.scores[0].clone();
    extra.task = "arc_easy".into();
    extra.metric = "f1_macro".into();
    extra.n_samples = Some(2376);
    a.scores.push(extra);
    results::write_file(&dir.path().join("x.parquet"), &[a.clone()]).unwrap();
    assert_eq!(problems(dir.path()), Vec::<String>::new());

    let dir = good_dir();
    let last = a.scores.len() - 1;
    a.scores[last].task = "Arc-Easy".into();
    let mut b = run("org/extra2");
    let mut bad_metric = b.scores[0].clone();
    bad_metric.task = "arc_easy".into();
    bad_metric.metric = "F1!".into();
    b.scores.push(bad_metric);
    results::write_file(&dir.path().join("x.parquet"), &[a, b]).unwrap();
    let got = problems(dir.path());
    for e in [
        "x.parquet: row 1, column `scores[",
        "task id \"Arc-Easy\"; expected a benchmark task id",
        "x.parquet: row 2, column `scores[",
        "metric \"F1!\"; expected lowercase letters",
    ] {
        assert!(
            got.iter().any(|g| g.contains(e)),
            "missing {e:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), 2, "{got:#?}");
}

#[test]
fn wrong_format_version_is_refused() {
    let dir = good_dir();
    let batch = rp::to_record_batch(&[run("org/v9")]);
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            FORMAT_VERSION_KEY.into(),
            "9".to_string(),
        )]))
        .build();
    let f = std::fs::File::create(dir.path().join("v9.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    assert_one(dir.path(), &["v9.parquet", "format version 9"]);
}

#[test]
fn bad_flags_are_refused_with_line() {
    let dir = good_dir();
    std::fs::write(
        dir.path().join("flags.toml"),
        "# header\n[[flag]]\nmodel = \"org/<img src=x>\"\nreason = \"r\"\n\n[[flag]]\nmodel = \"org/ok\"\nreason = \"r\"\nlink = \"javascript:alert(1)\"\n\n[[flag]]\nmodel = \"org/ok\"\nreason = \" \"\n",
    )
    .unwrap();
    let got = problems(dir.path());
    for e in [
        "flags.toml: line 2, column `model`",
        "flags.toml: line 6, column `link`",
        "flags.toml: line 11, column `reason`",
        "flags.toml: line 11, column `model`: \"org/ok\" is already flagged at line 6",
    ] {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), 4, "{got:#?}");
    std::fs::write(dir.path().join("flags.toml"), "[[flag]\nmodel = 1\n").unwrap();
    assert_one(dir.path(), &["flags.toml: line 1"]);
}

#[test]
fn all_problems_are_collected() {
    let dir = good_dir();
    std::fs::write(dir.path().join("junk.parquet"), "not parquet").unwrap();
    std::fs::write(dir.path().join("x.csv"), "a,b").unwrap();
    results::write_file(&dir.path().join("evil.parquet"), &[run("<script>")]).unwrap();
    assert_eq!(problems(dir.path()).len(), 3);
}

/// Writes a details file of the six benchmarks' first documents, with the
/// given details-version metadata (`Some("1")`: through the format crate's
/// writer; otherwise the same rows written raw).
pub fn write_details(path: &Path, version: Option<&str>) {
    use leaderboard_format::details::{self, DetailRow, SampleDetail};
    let rows: Vec<DetailRow> = Benchmark::ALL
        .iter()
        .map(|b| DetailRow {
            sample: SampleDetail {
                task: if *b == Benchmark::Mmlu {
                    "mmlu_anatomy".into()
                } else {
                    b.task().into()
                },
                doc_id: 3,
                prompt_sha256: "ab".repeat(32),
                loglikelihoods: vec![-1.5, -0.25],
                prediction: "1".into(),
                gold: "1".into(),
                correct: true,
                generated: None,
                metrics: vec![("acc".into(), 1.0)],
            },
            is_greedy: vec![false, true],
        })
        .collect();
    if version == Some("1") {
        details::write_file(path, &rows).unwrap();
        return;
    }
    let batch = details::to_batch(&rows);
    let kv = version.map(|v| {
        vec![KeyValue::new(
            leaderboard_format::schema::DETAILS_FORMAT_VERSION_KEY.into(),
            v.to_string(),
        )]
    });
    let props = WriterProperties::builder()
        .set_key_value_metadata(kv)
        .build();
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn details_files_beside_their_results_pass_and_are_not_read_as_runs() {
    let dir = good_dir();
    // One document per task: the run says so (n_samples 1, a `limit:1` deviation).
    let mut limited = run("org/model-a");
    limited.provenance.deviations = vec!["limit:1".into()];
    for s in &mut limited.scores {
        s.n_samples = Some(1);
    }
    results::write_file(
        &dir.path().join("org/model-a/run.parquet"),
        &[limited.clone()],
    )
    .unwrap();
    write_details(
        &dir.path().join("org/model-a/run.details.parquet"),
        Some("1"),
    );
    assert!(
        problems(dir.path()).is_empty(),
        "{:#?}",
        problems(dir.path())
    );
    let set = results::load_dir(dir.path()).unwrap();
    assert_eq!(set.runs.len(), 3);
    assert!(!set
        .files
        .iter()
        .any(|f| f.to_string_lossy().ends_with(".details.parquet")));

    // A run whose n_samples the details do not bear out is refused.
    limited.scores[0].n_samples = Some(2);
    results::write_file(&dir.path().join("org/model-a/run.parquet"), &[limited]).unwrap();
    assert_one(
        dir.path(),
        &["run.details.parquet", "1 rows for task", "n_samples = 2"],
    );
}

#[test]
fn orphan_or_unversioned_details_files_are_refused() {
    let dir = good_dir();
    write_details(
        &dir.path().join("org/model-a/other.details.parquet"),
        Some("1"),
    );
    assert_one(
        dir.path(),
        &[
            "other.details.parquet",
            "without its results file",
            "other.parquet",
        ],
    );
    let dir = good_dir();
    write_details(&dir.path().join("org/model-a/run.details.parquet"), None);
    assert_one(
        dir.path(),
        &["run.details.parquet", "leaderboard.details_format_version"],
    );
    let dir = good_dir();
    std::fs::write(
        dir.path().join("org/model-a/run.details.parquet"),
        b"PAR1junk",
    )
    .unwrap();
    assert_one(
        dir.path(),
        &["run.details.parquet", "not a readable Parquet file"],
    );
}
