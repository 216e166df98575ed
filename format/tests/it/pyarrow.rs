//! A results file written by pyarrow with its defaults, from a pandas
//! DataFrame: the example of the format guide (`format/src/guide.rs`), run
//! as it stands with the Python that `scripts/test` prepares (a virtual
//! environment with pandas and pyarrow from PyPI; `LEADERBOARD_PYTHON`).

use leaderboard_format::check::check_dir;
use std::path::Path;

/// The guide's Python example, taken from its doc comment.
fn guide_example() -> String {
    let src = include_str!("../../src/guide.rs");
    let mut out = String::new();
    let mut inside = false;
    for line in src.lines() {
        let l = line.strip_prefix("//!").unwrap_or(line);
        let l = l.strip_prefix(' ').unwrap_or(l);
        if l.starts_with("```python") {
            inside = true;
        } else if inside && l.starts_with("```") {
            break;
        } else if inside {
            out.push_str(l);
            out.push('\n');
        }
    }
    assert!(
        out.contains("pq.write_table"),
        "the guide's example was not found"
    );
    out
}

fn python() -> String {
    std::env::var("LEADERBOARD_PYTHON").unwrap_or_else(|_| {
        panic!(
            "LEADERBOARD_PYTHON is not set: run the tests with scripts/test, which makes a \
             virtual environment with pandas and pyarrow and points LEADERBOARD_PYTHON at it"
        )
    })
}

#[test]
fn a_file_written_by_pyarrow_defaults_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("write.py");
    std::fs::write(&script, guide_example()).unwrap();
    let out = std::process::Command::new(python())
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the guide's example failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = dir.path().join("results");
    let file = results.join("my-org/my-model/run.parquet");
    assert!(file.is_file());
    // What pyarrow wrote: Snappy, its own metadata (schema, pandas), ms timestamps.
    let meta =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    let md = meta.metadata();
    assert_eq!(
        md.row_group(0).column(0).compression(),
        parquet::basic::Compression::SNAPPY
    );
    let created_by = md.file_metadata().created_by().unwrap_or("").to_string();
    assert!(created_by.contains("parquet-cpp-arrow"), "{created_by}");
    let problems = check_dir(&results);
    assert!(problems.is_empty(), "{problems:#?}");
    let runs = leaderboard_format::read_file(&file).unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r.model_id, "my-org/my-model");
    assert_eq!(r.params_billions, Some(6.74));
    assert_eq!(
        r.evaluated_at.unwrap().to_rfc3339(),
        "2024-05-01T00:00:00+00:00"
    );
    assert_eq!(r.scores.len(), 1);
    assert_eq!(r.scores[0].value, 0.5307);
    assert_eq!(r.scores[0].n_samples, Some(1172));
    println!(
        "pyarrow ({created_by}) wrote {}: check accepts it",
        rel(&file, dir.path())
    );

    // The same table in LZ4 and Brotli: refused, naming the codec.
    let other = "import pyarrow.parquet as pq, sys\n\
                 t = pq.read_table(sys.argv[1])\n\
                 pq.write_table(t, sys.argv[2], compression=sys.argv[3])\n";
    std::fs::write(dir.path().join("recompress.py"), other).unwrap();
    for codec in ["lz4", "brotli"] {
        let again = dir.path().join(format!("{codec}/results"));
        std::fs::create_dir_all(&again).unwrap();
        let status = std::process::Command::new(python())
            .arg(dir.path().join("recompress.py"))
            .arg(&file)
            .arg(again.join("run.parquet"))
            .arg(codec)
            .status()
            .unwrap();
        assert!(status.success());
        let problems: Vec<String> = check_dir(&again).iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].contains("is not accepted; expected zstd, snappy, gzip or none"),
            "{problems:#?}"
        );
    }
}

fn rel(p: &Path, base: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}
