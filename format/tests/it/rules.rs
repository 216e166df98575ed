//! The consistency rules of `check` and the encodings it accepts: each test
//! here fails if its rule is removed.

use super::check::{assert_one, good_dir, problems, run};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use leaderboard_format::check::{check_dir, Severity};
use leaderboard_format::schema::FORMAT_VERSION_KEY;
use leaderboard_format::{self as results, results as rp};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::format::KeyValue;
use std::path::Path;
use std::sync::Arc;

fn version_kv(v: &str) -> Option<Vec<KeyValue>> {
    Some(vec![KeyValue::new(
        FORMAT_VERSION_KEY.into(),
        v.to_string(),
    )])
}

fn write_batch(path: &Path, batch: &RecordBatch, props: WriterProperties) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn reported_average_must_match_the_six_scores() {
    let dir = good_dir();
    let mut r = run("org/liar");
    r.reported_average = Some(99.9);
    results::write_file(&dir.path().join("liar.parquet"), &[r.clone()]).unwrap();
    assert_one(
        dir.path(),
        &[
            "liar.parquet",
            "reported_average",
            "99.9",
            "average 50.0000",
        ],
    );
    // Within the tolerance (v1's unrounded average): accepted.
    r.reported_average = Some(50.004);
    results::write_file(&dir.path().join("liar.parquet"), &[r.clone()]).unwrap();
    assert_eq!(problems(dir.path()), Vec::<String>::new());
    // Set without the six scores: refused.
    r.scores.retain(|s| s.task != "gsm8k");
    results::write_file(&dir.path().join("liar.parquet"), &[r]).unwrap();
    assert_one(dir.path(), &["reported_average", "lacks some of the six"]);
}

#[test]
fn shots_and_samples_must_be_the_suites_unless_a_deviation_says_so() {
    let dir = good_dir();
    let mut r = run("org/shots");
    r.scores[0].num_fewshot = Some(999);
    results::write_file(&dir.path().join("shots.parquet"), &[r.clone()]).unwrap();
    assert_one(
        dir.path(),
        &["shots.parquet", "scores[1].num_fewshot", "999 shots", "25"],
    );
    r.scores[0].num_fewshot = Some(25);
    r.scores[1].n_samples = Some(100);
    results::write_file(&dir.path().join("shots.parquet"), &[r.clone()]).unwrap();
    assert_one(
        dir.path(),
        &["shots.parquet", ".n_samples", "100 documents", "10042"],
    );
    // Listed as a deviation: accepted (and shown as not comparable).
    r.scores[0].num_fewshot = Some(999);
    r.provenance.deviations = vec!["limit:100".into(), "num_fewshot:999".into()];
    results::write_file(&dir.path().join("shots.parquet"), &[r]).unwrap();
    assert_eq!(problems(dir.path()), Vec::<String>::new());
    // An MMLU subject is held to its own document count.
    let mut m = run("org/mmlu");
    m.scores.push(leaderboard_format::schema::Score {
        task: "mmlu_anatomy".into(),
        metric: "acc".into(),
        value: 0.5,
        stderr: None,
        n_samples: Some(134),
        num_fewshot: Some(5),
    });
    results::write_file(&dir.path().join("mmlu.parquet"), &[m]).unwrap();
    assert_one(dir.path(), &["mmlu_anatomy has 135"]);
}

#[test]
fn ids_are_compared_case_insensitively_and_look_alikes_are_reported() {
    let dir = good_dir();
    // The same Hub repo, another spelling, same revision and precision: a duplicate.
    results::write_file(&dir.path().join("case.parquet"), &[run("Org/Model-A")]).unwrap();
    let got = problems(dir.path());
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got.iter()
            .any(|p| p.contains("duplicate run") && p.contains("case.parquet")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|p| p.contains("\"org/model-a\" is the Hub repo spelled \"Org/Model-A\"")),
        "{got:#?}"
    );

    // A look-alike of an existing id: a warning for a maintainer, not an error.
    let dir = good_dir();
    results::write_file(&dir.path().join("alike.parquet"), &[run("org/rnodel-a")]).unwrap();
    let found = check_dir(dir.path());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Warning);
    let text = found[0].to_string();
    assert!(
        text.starts_with("warning: ")
            && text.contains("looks like")
            && text.contains("\"org/rnodel-a\"")
            && text.contains("\"org/model-a\""),
        "{text}"
    );
    let dir = good_dir();
    results::write_file(&dir.path().join("alike.parquet"), &[run("org/modeI-a")]).unwrap();
    assert_eq!(check_dir(dir.path())[0].severity, Severity::Warning);
    assert_eq!(
        leaderboard_format::check::main(dir.path(), &dir.path().join("requests")),
        0
    );
}

#[test]
fn flag_links_follow_the_renderers_rule() {
    for (link, ok) in [
        ("https://huggingface.co/spaces/x/discussions/1", true),
        ("http://example.org/1", false),
        ("https://x\" onmouseover=\"alert(1)", false),
        ("https://x/<script>", false),
        ("javascript:alert(1)", false),
    ] {
        let dir = good_dir();
        std::fs::write(
            dir.path().join("flags.toml"),
            format!("[[flag]]\nmodel = \"org/model-b\"\nreason = \"r\"\nlink = {link:?}\n"),
        )
        .unwrap();
        let refused = problems(dir.path()).iter().any(|p| p.contains("`link`"));
        assert_eq!(!refused, ok, "{link}");
        assert_eq!(leaderboard_format::ids::is_safe_link(link), ok, "{link}");
    }
}

#[test]
fn format_version_is_parsed_strictly() {
    for (v, ok) in [
        ("1", true),
        (" 1", false),
        ("+1", false),
        ("01", false),
        ("1.0", false),
    ] {
        let dir = good_dir();
        let batch = rp::to_record_batch(&[run("org/v")]);
        let props = WriterProperties::builder()
            .set_key_value_metadata(version_kv(v))
            .build();
        write_batch(&dir.path().join("v.parquet"), &batch, props);
        let got = problems(dir.path());
        assert_eq!(got.is_empty(), ok, "{v:?}: {got:#?}");
        if !ok {
            assert!(got[0].contains("expected exactly `1`"), "{got:#?}");
        }
    }
}

#[test]
fn duplicate_column_names_are_refused() {
    let dir = good_dir();
    let batch = rp::to_record_batch(&[run("org/dup")]);
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| (**f).clone())
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    fields.push(Field::new("model_id", DataType::Utf8, false));
    columns.push(Arc::new(arrow_array::StringArray::from(vec!["org/other"])));
    let dup = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let props = WriterProperties::builder()
        .set_key_value_metadata(version_kv("1"))
        .build();
    write_batch(&dir.path().join("dup.parquet"), &dup, props);
    assert_one(dir.path(), &["dup.parquet", "`model_id` appears twice"]);
}

#[test]
fn messages_are_capped_per_file() {
    let dir = good_dir();
    let bad: Vec<_> = (0..100)
        .map(|i| {
            let mut r = run(&format!("org/bad-{i}"));
            r.scores[0].value = 2.0;
            r
        })
        .collect();
    results::write_file(&dir.path().join("many.parquet"), &bad).unwrap();
    let got = problems(dir.path());
    assert_eq!(got.len(), 21, "{got:#?}");
    assert_eq!(got[20], "many.parquet: and 80 more problems in this file");
}

/// The same runs written by other writers' settings: every compression the
/// format accepts, no dictionary and dictionary, Parquet v1 and v2 pages.
#[test]
fn ordinary_encodings_are_accepted() {
    let runs = vec![run("org/model-a"), run("org/model-b")];
    let batch = rp::to_record_batch(&runs);
    for (name, c) in [
        ("snappy", Compression::SNAPPY),
        ("gzip", Compression::GZIP(GzipLevel::default())),
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
        ("none", Compression::UNCOMPRESSED),
    ] {
        for dict in [true, false] {
            for v2 in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let props = WriterProperties::builder()
                    .set_compression(c)
                    .set_dictionary_enabled(dict)
                    .set_writer_version(if v2 {
                        parquet::file::properties::WriterVersion::PARQUET_2_0
                    } else {
                        parquet::file::properties::WriterVersion::PARQUET_1_0
                    })
                    .set_key_value_metadata(version_kv("1"))
                    .build();
                let path = dir.path().join("r.parquet");
                write_batch(&path, &batch, props);
                let back = results::read_file(&path)
                    .unwrap_or_else(|e| panic!("{name} dict={dict} v2={v2}: {e}"));
                assert_eq!(back, runs, "{name} dict={dict} v2={v2}");
                assert_eq!(problems(dir.path()), Vec::<String>::new());
            }
        }
    }
    // LZ4 and Brotli (not compiled in here) are refused by the pyarrow test.
}

/// Timestamps in ms / µs / ns, dictionary-encoded and large strings, other
/// integer widths, large lists: read back as the same runs.
#[test]
fn other_arrow_types_are_normalized() {
    let runs = vec![run("org/model-a")];
    let batch = rp::to_record_batch(&runs);
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let (dt, col): (DataType, ArrayRef) = match f.name().as_str() {
            "evaluated_at" | "submitted_at" => {
                let secs = c
                    .as_any()
                    .downcast_ref::<arrow_array::TimestampSecondArray>()
                    .unwrap();
                let ms: arrow_array::TimestampMillisecondArray =
                    secs.iter().map(|v| v.map(|s| s * 1000 + 999)).collect();
                (
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    Arc::new(ms.with_timezone("UTC")),
                )
            }
            "model_id" | "tool" => {
                let dt = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                (dt.clone(), arrow_cast::cast(c, &dt).unwrap())
            }
            "license" | "suite" => (
                DataType::LargeUtf8,
                arrow_cast::cast(c, &DataType::LargeUtf8).unwrap(),
            ),
            "hub_likes" => (
                DataType::Int32,
                arrow_cast::cast(c, &DataType::Int32).unwrap(),
            ),
            _ => (f.data_type().clone(), c.clone()),
        };
        fields.push(Field::new(f.name(), dt, f.is_nullable()));
        columns.push(col);
    }
    let other = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let props = WriterProperties::builder()
        .set_key_value_metadata(version_kv("1"))
        .build();
    let path = dir.path().join("r.parquet");
    write_batch(&path, &other, props);
    let back = results::read_file(&path).unwrap();
    assert_eq!(back, runs, "milliseconds are floored to the second");
    // A naive (time-zone-less) timestamp is refused with a hint.
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| (**f).clone()).collect();
    let mut columns = batch.columns().to_vec();
    let i = fields
        .iter()
        .position(|f| f.name() == "evaluated_at")
        .unwrap();
    fields[i] = Field::new(
        "evaluated_at",
        DataType::Timestamp(TimeUnit::Second, None),
        true,
    );
    columns[i] = Arc::new(arrow_array::TimestampSecondArray::from(vec![Some(
        1_750_000_000,
    )]));
    let naive = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let props = WriterProperties::builder()
        .set_key_value_metadata(version_kv("1"))
        .build();
    write_batch(&path, &naive, props);
    let e = results::read_file(&path).unwrap_err().to_string();
    assert!(e.contains("expected UTC timestamps"), "{e}");
}
