//! Hub datasets end to end against a local Hub: Hub-shaped Parquet files written from the repository's `data/benchmarks`, fetched through hf-hub into an HF cache, read back into the local loader's records; offline re-reads; clear errors.

use crate::support::hf_parquet;
use crate::support::hub_server;

use evaluator::data::hub::{
    cached_path, hub_split, hub_splits, load_split_with, read_parquet_records, HubData,
};
use evaluator::data::{expected_count, read_jsonl, DataSource, LocalDir};
use evaluator::hub::{Hub, HubConfig};
use evaluator::suite::Suite;
use evaluator::tasks::{self, BuildOptions, FewshotFallback};
use hub_server::{Body, FakeRepo, HubServer};
use leaderboard_format::schema::Benchmark;
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) fn benchmarks() -> LocalDir {
    LocalDir::new(crate::support::data_dir())
}

fn local_records(local: &LocalDir, task: &str, split: &str) -> Option<Vec<Value>> {
    let path = local.split_path(task, split)?;
    Some(
        read_jsonl(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .rows
            .into_iter()
            .map(|(_, v)| v)
            .collect(),
    )
}

/// One fake dataset repo per Hub repo of the table, each file at its pinned commit, also
/// reachable as `main`. `override_file` replaces the bytes of one (task, split).
/// Local records by (task, split).
type Expected = BTreeMap<(String, String), Vec<Value>>;

pub(crate) fn fake_repos(
    local: &LocalDir,
    override_file: Option<(&str, &str, Vec<u8>)>,
) -> (Vec<FakeRepo>, Expected) {
    let mut repos: BTreeMap<&str, FakeRepo> = BTreeMap::new();
    let mut expected = BTreeMap::new();
    for s in hub_splits() {
        let repo = repos.entry(s.repo).or_insert_with(|| FakeRepo {
            dataset: true,
            id: s.repo.to_string(),
            sha: s.revision.to_string(),
            refs: vec!["main".into()],
            files: BTreeMap::from([(
                "README.md".to_string(),
                Body::Bytes(b"---\nlicense: test\n---\n".to_vec()),
            )]),
        });
        if let Some((t, sp, bytes)) = &override_file {
            if *t == s.task && *sp == s.split {
                repo.files
                    .insert(s.file.to_string(), Body::Bytes(bytes.clone()));
                continue;
            }
        }
        let Some(recs) = local_records(local, s.task, s.split) else {
            continue; // hellaswag train is not in data/benchmarks
        };
        repo.files.insert(
            s.file.to_string(),
            Body::Bytes(hf_parquet::hf_parquet(s.task, &recs)),
        );
        expected.insert((s.task.to_string(), s.split.to_string()), recs);
    }
    (repos.into_values().collect(), expected)
}

/// The local record as the Hub has it: Winogrande's Hub rows have no `qID`.
fn comparable(task: &str, mut v: Value) -> Value {
    if task == "winogrande" {
        v.as_object_mut().unwrap().remove("qID");
    }
    v
}

#[test]
fn every_split_from_the_hub_equals_the_local_files_and_rereads_offline() {
    let local = benchmarks();
    let (repos, expected) = fake_repos(&local, None);
    assert_eq!(
        expected.len(),
        12,
        "12 of the 13 splits are in data/benchmarks"
    );
    let cache = tempfile::tempdir().unwrap();
    let server = HubServer::start(repos);
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();

    let mut total = 0;
    for ((task, split), want) in &expected {
        let got = load_split_with(&hub, task, split).unwrap_or_else(|e| panic!("{e:#}"));
        let n = expected_count(task, split).unwrap();
        assert_eq!(got.rows.len(), n, "{task}/{split} count");
        assert_eq!(want.len(), n, "{task}/{split} local count");
        for (i, ((row, g), w)) in got.rows.iter().zip(want).enumerate() {
            assert_eq!(*row, i + 1);
            assert_eq!(
                *g,
                comparable(task, w.clone()),
                "{task}/{split} record {i} differs"
            );
        }
        total += n;
        // HF cache layout: snapshots/<commit>/<file> -> blobs/<sha256>, refs/<revision>.
        let s = hub_split(task, split).unwrap();
        let snap = cached_path(hub.config(), &s);
        assert!(snap.is_file(), "{} missing", snap.display());
        assert!(snap.symlink_metadata().unwrap().file_type().is_symlink());
        let blob = std::fs::canonicalize(&snap).unwrap();
        assert_eq!(blob.parent().unwrap().file_name().unwrap(), "blobs");
        let repo_dir = cache
            .path()
            .join(format!("datasets--{}", s.repo.replace('/', "--")));
        assert_eq!(
            std::fs::read_to_string(repo_dir.join("refs").join(s.revision)).unwrap(),
            s.revision
        );
        assert!(got.origin.contains(s.repo) && got.origin.contains(s.revision));
    }
    assert_eq!(
        total,
        1119 + 299 + 1172 + 10042 + 285 + 1531 + 14042 + 817 + 40398 + 1267 + 7473 + 1319
    );
    // HellaSwag's label really arrives as a Hub string and leaves as an integer.
    assert!(expected[&("hellaswag".into(), "validation".into())][0]["label"].is_i64());

    // A second read uses the cache: no more downloads.
    let before = server.requests().len();
    load_split_with(&hub, "gsm8k", "test").unwrap();
    assert_eq!(
        server.requests().len(),
        before,
        "pinned commit in cache: no request"
    );
    drop(server);

    // Offline, server gone: everything still resolves from the cache.
    let mut cfg = HubConfig::new("http://127.0.0.1:9", cache.path());
    cfg.offline = true;
    let offline = HubData {
        hub: Hub::new(cfg).unwrap(),
    };
    for ((task, split), want) in &expected {
        let got = offline.records(task, split).unwrap().unwrap();
        assert_eq!(got.rows.len(), want.len(), "{task}/{split} offline");
        assert_eq!(got.rows[0].1, comparable(task, want[0].clone()));
    }
    assert!(offline.describe().contains("offline"));

    // The task layer builds the very same requests from the Hub as from the local files.
    let local = benchmarks();
    for suite in [Suite::OpenLlmV1, Suite::LmEval04] {
        let mut opts = BuildOptions::new(suite);
        opts.limit = Some(20);
        opts.hellaswag_fallback = Some(FewshotFallback::Validation);
        for b in Benchmark::ALL {
            if b == Benchmark::HellaSwag {
                // Its train split (the few-shot pool) is on the real Hub but not in this
                // fake one (data/benchmarks lacks it): an error naming the file, not a silent fallback.
                let e = tasks::build(b, &offline, &opts).unwrap_err().to_string();
                assert!(e.contains("data/train-00000-of-00001.parquet"), "{e}");
                continue;
            }
            let from_hub = tasks::build(b, &offline, &opts).unwrap_or_else(|e| panic!("{e}"));
            let from_local = tasks::build(b, &local, &opts).unwrap();
            assert!(!from_hub.docs.is_empty(), "{b:?}");
            assert_eq!(from_hub.docs, from_local.docs, "{b:?} {suite:?}");
        }
    }
    // No Hub source for a split: None, like a local folder without the file.
    assert!(offline.records("gsm8k", "validation").unwrap().is_none());
}

#[test]
fn missing_split_on_the_hub_and_offline_cache_miss_are_clear() {
    let local = benchmarks();
    let (repos, _) = fake_repos(&local, None);
    let cache = tempfile::tempdir().unwrap();
    let server = HubServer::start(repos);
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();
    // hellaswag train is not served: the Hub's 404 names repo, revision and file.
    let e = format!(
        "{:#}",
        load_split_with(&hub, "hellaswag", "train").unwrap_err()
    );
    assert!(
        e.contains("not found")
            && e.contains("Rowan/hellaswag")
            && e.contains("218ec52e09a7e7462a5400043bb9a69a41d06b76")
            && e.contains("data/train-00000-of-00001.parquet"),
        "{e}"
    );
    drop(server);
    let mut cfg = HubConfig::new("http://127.0.0.1:9", cache.path());
    cfg.offline = true;
    let hub = Hub::new(cfg).unwrap();
    let e = format!("{:#}", load_split_with(&hub, "mmlu", "test").unwrap_err());
    assert!(
        e.contains("HF_HUB_OFFLINE") && e.contains("cais/mmlu"),
        "{e}"
    );
    let e = format!("{:#}", load_split_with(&hub, "nope", "test").unwrap_err());
    assert!(e.contains("no Hub source for nope/test"), "{e}");
}

#[test]
fn bad_parquet_missing_field_and_wrong_count_name_file_and_row() {
    let local = benchmarks();
    let cache = tempfile::tempdir().unwrap();

    // Not Parquet at all.
    let (repos, _) = fake_repos(
        &local,
        Some(("gsm8k", "test", b"PAR1 but not really".to_vec())),
    );
    let server = HubServer::start(repos);
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();
    let e = format!("{:#}", load_split_with(&hub, "gsm8k", "test").unwrap_err());
    assert!(
        e.contains("main/test-00000-of-00001.parquet") && e.contains("not a readable Parquet file"),
        "{e}"
    );
    drop(server);

    // A column missing: the error names file, row 1 and the field.
    let recs = local_records(&local, "gsm8k", "test").unwrap();
    let no_answer = hf_parquet::parquet_bytes(&[("question", hf_parquet::Col::Str)], &recs);
    let cache = tempfile::tempdir().unwrap();
    let (repos, _) = fake_repos(&local, Some(("gsm8k", "test", no_answer)));
    let server = HubServer::start(repos);
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();
    let e = format!("{:#}", load_split_with(&hub, "gsm8k", "test").unwrap_err());
    assert!(
        e.contains("test-00000-of-00001.parquet")
            && e.contains("row 1")
            && e.contains("missing field `answer`"),
        "{e}"
    );
    drop(server);

    // Wrong record count.
    let short = hf_parquet::hf_parquet("gsm8k", &recs[..10]);
    let cache = tempfile::tempdir().unwrap();
    let (repos, _) = fake_repos(&local, Some(("gsm8k", "test", short)));
    let server = HubServer::start(repos);
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();
    let e = format!("{:#}", load_split_with(&hub, "gsm8k", "test").unwrap_err());
    assert!(
        e.contains("expected 1319 records") && e.contains("found 10"),
        "{e}"
    );

    // A HellaSwag label that is not a number.
    let mut hs = local_records(&local, "hellaswag", "validation").unwrap();
    hs.truncate(3);
    let mut hf: Vec<Value> = hs
        .iter()
        .map(|r| hf_parquet::to_hf("hellaswag", r))
        .collect();
    hf[2]["label"] = Value::String("x".into());
    let path = cache.path().join("hs.parquet");
    std::fs::write(
        &path,
        hf_parquet::parquet_bytes(&hf_parquet::hf_columns("hellaswag"), &hf),
    )
    .unwrap();
    let rows = read_parquet_records(&path).unwrap();
    assert_eq!(rows.len(), 3);
    let e = evaluator::data::hub::normalize("hellaswag", rows[2].clone()).unwrap_err();
    assert!(e.to_string().contains("label"), "{e}");

    // read_parquet_records on a missing file names it.
    let e = format!(
        "{:#}",
        read_parquet_records(&cache.path().join("gone.parquet")).unwrap_err()
    );
    assert!(e.contains("gone.parquet"), "{e}");
}

#[test]
fn evaluator_prompts_with_data_hub_prints_what_the_local_files_give() {
    let local = benchmarks();
    let (repos, _) = fake_repos(&local, None);
    let server = HubServer::start(repos);
    let home = tempfile::tempdir().unwrap();
    let endpoint = server.endpoint.clone();
    let run = |data: &str, offline: bool| {
        let out = crate::support::evaluator()
            .args([
                "prompts",
                "--suite",
                "openllm-v1",
                "--task",
                "gsm8k",
                "--limit",
                "3",
                "--data",
                data,
            ])
            .env("HF_HOME", home.path())
            .env("HF_ENDPOINT", &endpoint)
            .env("HF_HUB_OFFLINE", if offline { "1" } else { "0" })
            .env_remove("HF_HUB_CACHE")
            .env_remove("HF_TOKEN")
            .output()
            .expect("run evaluator");
        assert!(
            out.status.success(),
            "evaluator prompts --data {data}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let from_hub = run("hub", false);
    let from_local = run(local.root.to_str().unwrap(), false);
    assert!(from_hub.contains("=== gsm8k doc "), "{from_hub}");
    assert_eq!(from_hub, from_local);
    assert!(home
        .path()
        .join("hub/datasets--openai--gsm8k/snapshots/740312add88f781978c0658806c59bc2815b9866/main/train-00000-of-00001.parquet")
        .is_file());
    drop(server);
    assert_eq!(run("hub", true), from_local, "offline from the cache");
}
