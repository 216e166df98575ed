//! Results files: write/read round trip, byte-identical rewrites, atomic
//! writes, and the reader's errors (path, row, column) on bad files.

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use leaderboard_format::schema::{
    Benchmark, ModelType, Precision, Provenance, Run, Score, WeightType, FORMAT_VERSION_KEY,
    MMLU_SUBJECTS,
};
use leaderboard_format::{self as results, results as rp, ResultsError};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::format::KeyValue;
use std::path::Path;
use std::sync::Arc;

fn sample(model: &str, precision: Precision) -> Run {
    let mut scores: Vec<Score> = Benchmark::ALL
        .iter()
        .enumerate()
        .map(|(i, b)| Score {
            task: b.task().into(),
            metric: b.headline_metrics()[0].into(),
            value: 0.1 + 0.1 * i as f64,
            stderr: Some(0.01 * (i + 1) as f64),
            n_samples: Some(1000 + i as i64),
            num_fewshot: Some(b.num_fewshot()),
        })
        .collect();
    scores.push(Score {
        task: format!("mmlu_{}", MMLU_SUBJECTS[3]),
        metric: "acc".into(),
        value: 0.25,
        stderr: None,
        n_samples: None,
        num_fewshot: None,
    });
    scores.sort_by(|a, b| (&a.task, &a.metric).cmp(&(&b.task, &b.metric)));
    Run {
        model_id: model.into(),
        revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        precision,
        precision_detail: Some("Q4_1,Q8_0,F32".into()),
        weight_type: WeightType::Adapter,
        base_model: Some("org/base".into()),
        model_type: ModelType::Chat,
        architecture: Some("LlamaForCausalLM".into()),
        params_billions: Some(0.135),
        params_truncated: false,
        license: Some("apache-2.0".into()),
        is_merge: true,
        is_moe: false,
        available_on_hub: Some(true),
        hub_likes: Some(42),
        submitted_at: chrono::DateTime::from_timestamp(1_700_000_000, 0),
        evaluated_at: chrono::DateTime::from_timestamp(1_700_000_123, 0),
        weights_sha256: Some("ab".repeat(32)),
        provenance: Provenance {
            tool: "leaderboard-evaluator".into(),
            tool_version: Some("0.1.0".into()),
            suite: "openllm-v1".into(),
            source_dataset: None,
            run_config: None,
            deviations: vec!["hellaswag-fewshot-fallback:validation".into(), "x".into()],
        },
        reported_average: None,
        scores,
    }
}

/// A run with every optional field null and no scores.
fn sparse(model: &str) -> Run {
    Run {
        model_id: model.into(),
        revision: None,
        precision: Precision::Gptq,
        precision_detail: None,
        weight_type: WeightType::Original,
        base_model: None,
        model_type: ModelType::Unknown,
        architecture: None,
        params_billions: None,
        params_truncated: true,
        license: None,
        is_merge: false,
        is_moe: true,
        available_on_hub: None,
        hub_likes: None,
        submitted_at: None,
        evaluated_at: None,
        weights_sha256: None,
        provenance: Provenance {
            tool: "t".into(),
            tool_version: None,
            suite: "lm-eval-0.4".into(),
            source_dataset: Some("x.jsonl sha256:00".into()),
            run_config: Some(r#"{"config_version":1}"#.into()),
            deviations: vec![],
        },
        reported_average: Some(12.345),
        scores: vec![],
    }
}

#[test]
fn round_trip_keeps_every_field_and_sorts_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org/model/run.parquet");
    let runs = vec![
        sample("zeta/model", Precision::Float16),
        sparse("alpha/model"),
        sample("alpha/model", Precision::BFloat16),
    ];
    results::write_file(&path, &runs).unwrap();
    let back = results::read_file(&path).unwrap();
    let mut expected = runs.clone();
    expected.sort_by_key(|r| r.key());
    assert_eq!(back, expected);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("run.parquet")]);
}

#[test]
fn scores_come_back_sorted_by_task_and_metric() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.parquet");
    let mut run = sample("org/m", Precision::Float32);
    run.scores.reverse();
    results::write_file(&path, &[run.clone()]).unwrap();
    let back = results::read_file(&path).unwrap();
    run.scores.reverse();
    assert_eq!(back, vec![run]);
}

#[test]
fn rewriting_gives_identical_bytes_whatever_the_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    let b = dir.path().join("b.parquet");
    let runs = vec![
        sample("org/one", Precision::Float16),
        sparse("org/two"),
        sample("org/one", Precision::Int8),
    ];
    results::write_file(&a, &runs).unwrap();
    let mut reversed = runs.clone();
    reversed.reverse();
    results::write_file(&b, &reversed).unwrap();
    let bytes_a = std::fs::read(&a).unwrap();
    assert_eq!(bytes_a, std::fs::read(&b).unwrap());
    // And writing what was read gives the same bytes again.
    results::write_file(&b, &results::read_file(&a).unwrap()).unwrap();
    assert_eq!(bytes_a, std::fs::read(&b).unwrap());
}

#[test]
fn file_metadata_carries_the_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.parquet");
    results::write_file(&path, &[sparse("org/m")]).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(&path).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    let v = kv.iter().find(|e| e.key == FORMAT_VERSION_KEY).unwrap();
    assert_eq!(v.value.as_deref(), Some("1"));
}

/// Writes `batch` as Parquet with the given version metadata, bypassing our writer.
fn write_raw(path: &Path, batch: &RecordBatch, version: Option<&str>) {
    let props = WriterProperties::builder()
        .set_key_value_metadata(
            version.map(|v| vec![KeyValue::new(FORMAT_VERSION_KEY.to_string(), v.to_string())]),
        )
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn err_text(path: &Path) -> String {
    results::read_file(path).unwrap_err().to_string()
}

#[test]
fn missing_or_newer_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let batch = rp::to_record_batch(&[sparse("org/m")]);
    let p = dir.path().join("none.parquet");
    write_raw(&p, &batch, None);
    let e = err_text(&p);
    assert!(
        e.contains("none.parquet") && e.contains(FORMAT_VERSION_KEY),
        "{e}"
    );
    let p = dir.path().join("v2.parquet");
    write_raw(&p, &batch, Some("2"));
    let e = err_text(&p);
    assert!(
        e.contains("v2.parquet") && e.contains("format version 2"),
        "{e}"
    );
    let p = dir.path().join("junk.parquet");
    write_raw(&p, &batch, Some("one"));
    let e = err_text(&p);
    assert!(e.contains("junk.parquet") && e.contains("\"one\""), "{e}");
    // The same batch with the right version reads fine.
    let p = dir.path().join("v1.parquet");
    write_raw(&p, &batch, Some("1"));
    assert_eq!(results::read_file(&p).unwrap(), vec![sparse("org/m")]);
}

#[test]
fn truncated_and_non_parquet_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    results::write_file(&good, &[sample("org/m", Precision::Float16)]).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for (name, content) in [
        ("half.parquet", &bytes[..bytes.len() / 2]),
        ("tail.parquet", &bytes[bytes.len() / 2..]),
        ("empty.parquet", &[][..]),
        ("text.parquet", &b"model_id,score\nx,1\n"[..]),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let e = results::read_file(&p).unwrap_err();
        assert!(matches!(e, ResultsError::Corrupt { .. }), "{name}: {e:?}");
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn bad_enum_value_names_path_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let runs = vec![sparse("org/a"), sparse("org/b"), sparse("org/c")];
    let batch = rp::to_record_batch(&runs);
    let idx = batch.schema().index_of("precision").unwrap();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols[idx] = Arc::new(StringArray::from(vec!["GPTQ", "GPTQ", "fp13"]));
    let bad = RecordBatch::try_new(batch.schema(), cols).unwrap();
    let p = dir.path().join("enum.parquet");
    write_raw(&p, &bad, Some("1"));
    match results::read_file(&p).unwrap_err() {
        ResultsError::Value {
            path,
            row,
            column,
            message,
        } => {
            assert_eq!(path, p);
            assert_eq!(row, 3);
            assert_eq!(column, "precision");
            assert!(
                message.contains("fp13") && message.contains("bfloat16"),
                "{message}"
            );
        }
        e => panic!("expected a value error, got {e:?}"),
    }
    let e = err_text(&p);
    assert!(e.contains("enum.parquet: row 3, column `precision`"), "{e}");
}

#[test]
fn missing_extra_and_mistyped_columns_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let batch = rp::to_record_batch(&[sparse("org/a")]);
    // Missing column.
    let p = dir.path().join("missing.parquet");
    let mut b = batch.clone();
    b.remove_column(batch.schema().index_of("suite").unwrap());
    write_raw(&p, &b, Some("1"));
    let e = err_text(&p);
    assert!(
        e.contains("missing.parquet") && e.contains("missing column `suite`"),
        "{e}"
    );
    // Mistyped column: hub_likes as a string.
    let p = dir.path().join("typed.parquet");
    let idx = batch.schema().index_of("hub_likes").unwrap();
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    fields[idx] = Arc::new(arrow_schema::Field::new(
        "hub_likes",
        arrow_schema::DataType::Utf8,
        true,
    ));
    let mut cols = batch.columns().to_vec();
    cols[idx] = Arc::new(StringArray::from(vec![Some("many")]));
    let b = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap();
    write_raw(&p, &b, Some("1"));
    let e = err_text(&p);
    assert!(
        e.contains("typed.parquet") && e.contains("column `hub_likes` has type Utf8"),
        "{e}"
    );
    // Extra column.
    let p = dir.path().join("extra.parquet");
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(arrow_schema::Field::new(
        "sneaky",
        arrow_schema::DataType::Utf8,
        true,
    )));
    let mut cols = batch.columns().to_vec();
    cols.push(Arc::new(StringArray::from(vec![Some("x")])));
    let b = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap();
    write_raw(&p, &b, Some("1"));
    let e = err_text(&p);
    assert!(
        e.contains("extra.parquet") && e.contains("unexpected column `sneaky`"),
        "{e}"
    );
}

#[test]
fn null_in_a_required_column_names_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let batch = rp::to_record_batch(&[sparse("org/a"), sparse("org/b")]);
    let idx = batch.schema().index_of("tool").unwrap();
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    fields[idx] = Arc::new(arrow_schema::Field::new(
        "tool",
        arrow_schema::DataType::Utf8,
        true,
    ));
    let mut cols = batch.columns().to_vec();
    cols[idx] = Arc::new(StringArray::from(vec![Some("t"), None]));
    let b = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap();
    let p = dir.path().join("null.parquet");
    write_raw(&p, &b, Some("1"));
    let e = err_text(&p);
    assert!(
        e.contains("null.parquet: row 2, column `tool`: null"),
        "{e}"
    );
}

#[test]
fn load_dir_reads_every_file_sorted_with_flags() {
    let dir = tempfile::tempdir().unwrap();
    results::write_file(
        &dir.path().join("b/x.parquet"),
        &[sample("org/zz", Precision::Float16)],
    )
    .unwrap();
    results::write_file(
        &dir.path().join("a.parquet"),
        &[sample("org/mm", Precision::Float16), sparse("org/aa")],
    )
    .unwrap();
    std::fs::write(
        dir.path().join("flags.toml"),
        "# c\n[[flag]]\nmodel = \"org/mm\"\nreason = \"r\"\nlink = \"https://x\"\n",
    )
    .unwrap();
    let set = results::load_dir(dir.path()).unwrap();
    assert_eq!(
        set.files,
        vec![Path::new("a.parquet"), Path::new("b/x.parquet")]
    );
    let got: Vec<(&str, &Path, usize)> = set
        .runs
        .iter()
        .map(|r| (r.run.model_id.as_str(), r.file.as_path(), r.row))
        .collect();
    assert_eq!(
        got,
        vec![
            ("org/aa", Path::new("a.parquet"), 1),
            ("org/mm", Path::new("a.parquet"), 2),
            ("org/zz", Path::new("b/x.parquet"), 1)
        ]
    );
    assert_eq!(set.flag_for("org/mm").unwrap().reason, "r");
    assert_eq!(
        set.flag_for("org/mm").unwrap().link.as_deref(),
        Some("https://x")
    );
    assert!(set.flag_for("org/zz").is_none());
}

#[test]
fn bad_flags_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("flags.toml");
    std::fs::write(
        &p,
        "# c\n\n[[flag]]\nmodel = \"org/m\"\nreason = \"r\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let e = results::load_flags(&p).unwrap_err().to_string();
    assert!(
        e.contains("flags.toml: line 6") && e.contains("colour"),
        "{e}"
    );
    std::fs::write(&p, "[[flag]]\nmodel = \"org/m\"\n").unwrap();
    let e = results::load_flags(&p).unwrap_err().to_string();
    assert!(e.contains("flags.toml") && e.contains("reason"), "{e}");
}

#[test]
fn flags_render_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("flags.toml");
    let flags = vec![
        results::Flag {
            model: "org/a".into(),
            reason: "quote \" and newline \n and <b>".into(),
            link: Some("https://example.org/1".into()),
            category: Some("do-not-submit".into()),
        },
        results::Flag {
            model: "b".into(),
            reason: "plain".into(),
            link: None,
            category: None,
        },
    ];
    results::flags::write_flags(&p, "header line\n\nsecond", &flags).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("# header line\n#\n# second\n"), "{text}");
    assert_eq!(results::load_flags(&p).unwrap(), flags);
}

/// `run_config` is an optional column: a file written without it (before it was added,
/// or by a tool that does not know it) reads with `run_config` null, and the content
/// sha256 such a file carries still verifies, because a null optional value hashes as
/// its absence. A missing column that is not optional is still refused.
#[test]
fn a_file_without_the_optional_run_config_column_reads_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = [sample("org/a", Precision::Float16), sparse("org/b")];
    for r in &mut runs {
        r.provenance.run_config = None;
    }
    let with = dir.path().join("with.parquet");
    results::write_file(&with, &runs).unwrap();
    let batch = rp::to_record_batch(&results::read_file(&with).unwrap());
    let sha = leaderboard_format::read::content_sha256(
        std::slice::from_ref(&batch),
        rp::OPTIONAL_COLUMNS,
    );
    let drop = |name: &str| {
        let i = batch.schema().index_of(name).unwrap();
        let mut b = batch.clone();
        b.remove_column(i);
        b
    };
    let without = dir.path().join("without.parquet");
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![
            KeyValue::new(FORMAT_VERSION_KEY.to_string(), "1".to_string()),
            KeyValue::new(
                leaderboard_format::schema::CONTENT_SHA256_KEY.to_string(),
                sha,
            ),
        ]))
        .build();
    let b = drop("run_config");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&without).unwrap(),
        b.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    assert_eq!(
        results::read_file(&without).unwrap(),
        results::read_file(&with).unwrap()
    );

    let no_tool = dir.path().join("no-tool.parquet");
    write_raw(&no_tool, &drop("tool"), Some("1"));
    assert!(
        err_text(&no_tool).contains("missing column `tool`"),
        "{}",
        err_text(&no_tool)
    );
}
