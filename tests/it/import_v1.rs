//! The committed v1 archive in `results/` against the source JSONL in
//! `data/leaderboard`: counts, every score and average, flags, and that the import
//! reproduces the committed files byte for byte.

use leaderboard::import_v1;
use leaderboard_format as results;
use leaderboard_format::schema::Benchmark;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::support::{leaderboard_data, repo_root};

fn archive() -> PathBuf {
    leaderboard_data("open_llm_leaderboard_v1_2024-07-07.jsonl.gz")
}

fn committed() -> PathBuf {
    repo_root().join("results").join(import_v1::OUTPUT_FILE)
}

#[test]
fn committed_archive_matches_the_v1_table() {
    let (rows, source) = import_v1::read_archive(&archive()).unwrap();
    assert_eq!(rows.len(), 7169);
    assert_eq!(
        source,
        "open_llm_leaderboard_v1_2024-07-07.jsonl.gz sha256:e644f3d85a3364d81e7a0969ddf277d27cff130a680b59c5b9b060fb3bb487de"
    );
    let runs = results::read_file(&committed()).unwrap();
    assert_eq!(runs.len(), 7169);
    let models: BTreeSet<&str> = runs.iter().map(|r| r.model_id.as_str()).collect();
    assert_eq!(models.len(), 6811);

    let by_key: BTreeMap<_, _> = runs.iter().map(|r| (r.key(), r)).collect();
    assert_eq!(by_key.len(), 7169, "run identities are unique");
    let mut merges = 0;
    let mut moes = 0;
    for (line, row) in &rows {
        let key = leaderboard_format::schema::RunKey {
            model_id: row.model.clone(),
            revision: row.model_sha.clone(),
            precision: row.precision.parse().unwrap(),
        };
        let run = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("line {line}: {key} not in the results file"));
        for (b, percent) in Benchmark::ALL.into_iter().zip(row.scores()) {
            let s = run
                .headline(b)
                .unwrap_or_else(|| panic!("line {line}: no {}", b.label()));
            assert!((0.0..=1.0).contains(&s.value));
            assert_eq!(
                format!("{:.2}", s.value * 100.0),
                format!("{percent:.2}"),
                "line {line} {}",
                b.label()
            );
            assert_eq!(s.num_fewshot, Some(b.num_fewshot()));
        }
        assert_eq!(run.reported_average, Some(row.average), "line {line}");
        assert_eq!(run.average(), Some(row.average), "line {line}");
        // v1's inverted columns, undone.
        assert_eq!(run.is_merge, !row.merged, "line {line}");
        assert_eq!(run.is_moe, !row.moe, "line {line}");
        assert_eq!(run.params_billions, Some(row.params_b as f64));
        assert!(run.params_truncated);
        assert_eq!(run.hub_likes, Some(row.hub_hearts));
        assert_eq!(run.available_on_hub, Some(row.available_on_the_hub));
        assert_eq!(run.license, row.hub_license);
        assert_eq!(run.model_type.symbol(), row.t, "line {line}");
        assert_eq!(run.provenance.tool, "open-llm-leaderboard-v1");
        assert_eq!(run.provenance.suite, "openllm-v1");
        assert_eq!(
            run.provenance.source_dataset.as_deref(),
            Some(source.as_str())
        );
        assert!(run.is_comparable());
        merges += run.is_merge as usize;
        moes += run.is_moe as usize;
    }
    // Counts from SOURCES.md.
    assert_eq!(merges, 1329);
    assert_eq!(moes, 563);
    // The mean of the six rounded scores is within 0.0083 of v1's average.
    for r in &runs {
        let mean: f64 = Benchmark::ALL
            .iter()
            .map(|b| r.headline(*b).unwrap().value * 100.0)
            .sum::<f64>()
            / 6.0;
        assert!(
            (mean - r.reported_average.unwrap()).abs() <= 0.0084,
            "{}",
            r.key()
        );
    }
}

#[test]
fn spot_values_from_sources_md() {
    let runs = results::read_file(&committed()).unwrap();
    let pythia = runs
        .iter()
        .find(|r| r.model_id == "EleutherAI/pythia-70m" && r.precision.as_str() == "float16")
        .unwrap();
    let got: Vec<f64> = Benchmark::ALL
        .iter()
        .map(|b| (pythia.headline(*b).unwrap().value * 10000.0).round() / 100.0)
        .collect();
    assert_eq!(got, vec![21.59, 27.29, 25.90, 47.06, 51.46, 0.30]);
    assert_eq!(pythia.average(), Some(28.93));
    let mix = runs
        .iter()
        .find(|r| r.model_id == "mistralai/Mixtral-8x22B-Instruct-v0.1")
        .unwrap();
    assert!(mix.is_moe);
    let merge = runs
        .iter()
        .find(|r| r.model_id == "paloalma/Le_Triomphant-ECE-TW3")
        .unwrap();
    assert!(merge.is_merge);
    assert_eq!(merge.model_type.as_str(), "merge");
}

#[test]
fn flags_agree_with_is_flagged_on_every_row() {
    let (rows, _) = import_v1::read_archive(&archive()).unwrap();
    let flags = results::load_flags(&repo_root().join("results/flags.toml")).unwrap();
    let flagged: BTreeSet<&str> = flags.iter().map(|f| f.model.as_str()).collect();
    assert_eq!(flagged.len(), flags.len(), "one entry per model");
    for (line, row) in &rows {
        assert_eq!(
            flagged.contains(row.model.as_str()),
            row.is_flagged,
            "line {line}: {}",
            row.model
        );
        assert_eq!(row.is_flagged, !row.flagged, "line {line}");
    }
    let flagged_models: BTreeSet<&str> = rows
        .iter()
        .filter(|(_, r)| r.is_flagged)
        .map(|(_, r)| r.model.as_str())
        .collect();
    assert_eq!(flagged_models.len(), 101);
    let auto: Vec<&str> = flags
        .iter()
        .filter(|f| f.category.as_deref() == Some(import_v1::AUTO_MERGE_CATEGORY))
        .map(|f| f.model.as_str())
        .collect();
    assert_eq!(
        auto,
        vec![
            "Gille/StrangeMerges_45-7B-dare_ties",
            "Ppoyaa/StarMonarch-7B",
            "berkeley-nest/Starling-LM-7B-alpha"
        ]
    );
    for f in &flags {
        if auto.contains(&f.model.as_str()) {
            assert!(f.link.as_deref().unwrap().ends_with("/discussions/510"));
        }
    }
    let dns: Vec<&str> = flags
        .iter()
        .filter(|f| f.category.as_deref() == Some(results::flags::DO_NOT_SUBMIT))
        .map(|f| f.model.as_str())
        .collect();
    assert_eq!(
        dns,
        vec![
            "TigerResearch/tigerbot-70b-chat",
            "TigerResearch/tigerbot-70b-chat-v2",
            "TigerResearch/tigerbot-70b-chat-v4-4k",
            "Voicelab/trurl-2-13b"
        ]
    );
    assert_eq!(flags.len(), 113);
}

#[test]
fn import_reproduces_the_committed_files_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .arg("import")
        .arg("--archive")
        .arg(archive())
        .arg("--flags")
        .arg(leaderboard_data("flagged_models_v1.jsonl"))
        .arg("--results")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("7169 runs, 6811 distinct models"),
        "{stdout}"
    );
    for name in [import_v1::OUTPUT_FILE, "flags.toml"] {
        assert!(
            std::fs::read(dir.path().join(name)).unwrap()
                == std::fs::read(repo_root().join("results").join(name)).unwrap(),
            "results/{name} is stale: rerun `leaderboard import`"
        );
    }
    let size = std::fs::metadata(committed()).unwrap().len();
    assert!(size < 1_000_000, "archive file is {size} bytes");
}

#[test]
fn import_refuses_inconsistent_inverted_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = import_v1::read_archive(&archive()).unwrap();
    let text = std::fs::read(archive()).unwrap();
    let mut s = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&text[..])
        .read_to_string(&mut s)
        .unwrap();
    let mut lines: Vec<String> = s.lines().take(3).map(str::to_string).collect();
    // Make line 2's `merged` agree with `is_merge` (v1 stores it inverted).
    let flip = if rows[1].1.is_merge {
        "\"merged\": false"
    } else {
        "\"merged\": true"
    };
    let to = if rows[1].1.is_merge {
        "\"merged\": true"
    } else {
        "\"merged\": false"
    };
    lines[1] = lines[1].replace(flip, to);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .args(["import", "--archive"])
        .arg(&bad)
        .arg("--flags")
        .arg(leaderboard_data("flagged_models_v1.jsonl"))
        .arg("--results")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.jsonl: line 2") && stderr.contains("is_merge/merged"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists(), "nothing written on error");
}
