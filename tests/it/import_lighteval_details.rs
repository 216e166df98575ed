//! `leaderboard import lighteval … --details …`: lighteval 0.11 details Parquet (struct
//! columns `doc`, `model_response`, `metric`, the layout of the real file in
//! `tests/fixtures/imports/lighteval/`) → the run's details file. A file of a v1 task is
//! built here in that layout (no real one exists); the real file (a community GPQA task)
//! is refused naming its task; edited metric values and a file that is not Parquet are
//! refused with the file and row.

use arrow_array::builder::{BooleanBuilder, Float64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field};
use leaderboard::import_lm_eval::{import_lighteval, output_path, Options};
use leaderboard_format::details;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const REV: &str = "62bd457b6fe961a42a631306577e622c83876cb6";

struct Doc {
    id: &'static str,
    query: &'static str,
    choices: [&'static str; 4],
    gold: i64,
    lls: [f64; 4],
    acc: f64,
    acc_norm: f64,
}

/// Two ARC documents, rows in reverse document order (lighteval does not sort).
fn docs() -> Vec<Doc> {
    vec![
        Doc {
            id: "1",
            query: "Question: Which gas do plants take in?\nAnswer:",
            choices: [" oxygen", " carbon dioxide", " helium", " neon"],
            gold: 1,
            // argmax 0 (acc 0); per character: 1 (acc_norm 1).
            lls: [-3.0, -4.0, -9.0, -9.5],
            acc: 0.0,
            acc_norm: 1.0,
        },
        Doc {
            id: "0",
            query: "Question: What melts ice?\nAnswer:",
            choices: [" heat", " cold", " dark", " wind"],
            gold: 0,
            lls: [-1.0, -5.0, -6.0, -7.0],
            acc: 1.0,
            acc_norm: 1.0,
        },
    ]
}

fn struct_of(fields: Vec<(&str, ArrayRef)>) -> ArrayRef {
    Arc::new(StructArray::from(
        fields
            .into_iter()
            .map(|(n, a)| (Arc::new(Field::new(n, a.data_type().clone(), true)), a))
            .collect::<Vec<_>>(),
    ))
}

/// A lighteval 0.11 details file of `task` holding `docs`.
fn details_file(dir: &Path, task: &str, docs: &[Doc]) -> PathBuf {
    let mut choices = ListBuilder::new(StringBuilder::new());
    let mut lls = ListBuilder::new(Float64Builder::new());
    let mut greedy = ListBuilder::new(BooleanBuilder::new());
    for d in docs {
        for c in d.choices {
            choices.values().append_value(c);
        }
        choices.append(true);
        for l in d.lls {
            lls.values().append_value(l);
        }
        lls.append(true);
        for (i, _) in d.lls.iter().enumerate() {
            greedy.values().append_value(i as i64 == d.gold);
        }
        greedy.append(true);
    }
    let n = docs.len();
    let doc = struct_of(vec![
        ("choices", Arc::new(choices.finish())),
        (
            "gold_index",
            Arc::new(Int64Array::from_iter_values(docs.iter().map(|d| d.gold))),
        ),
        (
            "id",
            Arc::new(StringArray::from_iter_values(docs.iter().map(|d| d.id))),
        ),
        (
            "query",
            Arc::new(StringArray::from_iter_values(docs.iter().map(|d| d.query))),
        ),
        ("task_name", Arc::new(StringArray::from(vec![task; n]))),
    ]);
    let response = struct_of(vec![
        ("argmax_logits_eq_gold", Arc::new(greedy.finish())),
        ("logprobs", Arc::new(lls.finish())),
        ("text", Arc::new(StringArray::from(vec![""; n]))),
    ]);
    let metric = struct_of(vec![
        (
            "acc",
            Arc::new(Float64Array::from_iter_values(docs.iter().map(|d| d.acc))),
        ),
        (
            "acc_norm",
            Arc::new(Float64Array::from_iter_values(
                docs.iter().map(|d| d.acc_norm),
            )),
        ),
    ]);
    let batch = RecordBatch::try_from_iter(vec![
        ("doc", doc),
        ("metric", metric),
        ("model_response", response),
    ])
    .unwrap();
    assert!(matches!(
        batch.schema().field(0).data_type(),
        DataType::Struct(_)
    ));
    let p = dir.join(format!(
        "details_{}_2025-01-01T00-00-00.parquet",
        task.replace('|', "_")
    ));
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&p).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    p
}

/// A v1-layout lighteval results file with ARC only, its scores the documents' means.
fn results_file(dir: &Path, docs: &[Doc]) -> PathBuf {
    let n = docs.len() as f64;
    let acc = docs.iter().map(|d| d.acc).sum::<f64>() / n;
    let acc_norm = docs.iter().map(|d| d.acc_norm).sum::<f64>() / n;
    let file = serde_json::json!({
        "config_general": {
            "model_name": "org-v1/model-7b", "model_sha": REV, "model_dtype": "torch.float16",
            "max_samples": null, "model_config": {"api_key": "hf_SECRET"}
        },
        "results": {"harness|arc:challenge|25": {"acc": acc, "acc_norm": acc_norm}},
    });
    let p = dir.join("results_2025-01-01T00-00-00.json");
    std::fs::write(&p, file.to_string()).unwrap();
    p
}

fn opts(details: Vec<PathBuf>) -> Options {
    Options {
        samples: details,
        ..Options::default()
    }
}

#[test]
fn lighteval_0_11_details_of_a_v1_task_become_the_details_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = details_file(tmp.path(), "harness|arc:challenge|25", &docs());
    let r = results_file(tmp.path(), &docs());
    let imported = import_lighteval(std::slice::from_ref(&r), &opts(vec![d.clone()])).unwrap();
    let rows = &imported.details;
    assert_eq!(rows.len(), 2);
    let (a, b) = (&rows[0], &rows[1]);
    assert_eq!(
        (a.sample.doc_id, b.sample.doc_id),
        (0, 1),
        "sorted by document"
    );
    assert_eq!(b.sample.loglikelihoods, vec![-3.0, -4.0, -9.0, -9.5]);
    assert_eq!(b.is_greedy, vec![false, true, false, false]);
    assert_eq!(
        (b.sample.prediction.as_str(), b.sample.gold.as_str()),
        ("1", "1")
    );
    assert!(b.sample.correct, "acc_norm is ARC's headline");
    assert_eq!(
        b.sample.metrics,
        vec![("acc".to_string(), 0.0), ("acc_norm".to_string(), 1.0)]
    );
    assert_eq!(
        b.sample.prompt_sha256,
        sha256("Question: Which gas do plants take in?\nAnswer:")
    );

    // Through the command; `check` accepts what it wrote.
    let results = tmp.path().join("results");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .args(["import", "lighteval"])
        .arg(&r)
        .arg("--details")
        .arg(&d)
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(2 documents)"), "{stdout}");
    let path = details::details_path(&output_path(&results, &imported.run));
    assert_eq!(details::read_rows(&path).unwrap().len(), 2);
    let (problems, _) = leaderboard_format::check::check_and_load(&results);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!std::fs::read_dir(results.join("org-v1/model-7b"))
        .unwrap()
        .any(|e| std::fs::read(e.unwrap().path())
            .unwrap()
            .windows(6)
            .any(|w| w == b"SECRET")));
}

fn sha256(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_real_gpqa_details_edited_values_and_non_parquet_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let r = results_file(tmp.path(), &docs());
    let err = |d: PathBuf| {
        format!(
            "{:#}",
            import_lighteval(std::slice::from_ref(&r), &opts(vec![d])).unwrap_err()
        )
    };
    let gpqa = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fixtures/imports/lighteval/lighteval-0.11_gpt-5-mini_details_community_gpqa-diamond-idk_0_2025-09-26T18-27-15.626626.parquet",
    );
    let e = err(gpqa);
    assert!(
        e.contains("lighteval details of community|gpqa-diamond-idk|0, none of the leaderboard's six tasks"),
        "{e}"
    );
    // acc_norm recorded as 0 where the log-likelihoods give 1.
    let mut edited = docs();
    edited[0].acc_norm = 0.0;
    let dir = tmp.path().join("edited");
    std::fs::create_dir_all(&dir).unwrap();
    let e = err(details_file(&dir, "harness|arc:challenge|25", &edited));
    assert!(
        e.contains("row 1 (harness|arc:challenge|25): `metric.acc_norm` is 0 but its log-likelihoods give 1"),
        "{e}"
    );
    // Another task's details than the results file's.
    let dir = tmp.path().join("wino");
    std::fs::create_dir_all(&dir).unwrap();
    let e = err(details_file(&dir, "harness|hellaswag|10", &docs()));
    assert!(
        e.contains("samples for hellaswag, which the results file does not score"),
        "{e}"
    );
    // Not Parquet.
    let junk = tmp.path().join("details_junk.parquet");
    std::fs::write(&junk, b"PAR1 this is not parquet PAR1").unwrap();
    let e = err(junk);
    assert!(
        e.contains("details_junk.parquet: not a readable Parquet file"),
        "{e}"
    );
}
