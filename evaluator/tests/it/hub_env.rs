//! The environment wrappers (`HF_HOME`, `HF_ENDPOINT`, `HF_HUB_OFFLINE`) against a local Hub. It runs in a process of its own, so setting process variables races with nothing.

use crate::support::hf_parquet;
use crate::support::hub_server;

use evaluator::data::hub::{data_source, hub_split, load_split};
use evaluator::hub::resolve_model;
use hub_server::{Body, FakeRepo, HubServer};
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn env_variables_choose_endpoint_cache_and_offline_mode() {
    if !crate::support::in_own_process(
        "hub_env::env_variables_choose_endpoint_cache_and_offline_mode",
    ) {
        return;
    }
    let benchmarks = crate::support::data_dir();
    let recs: Vec<serde_json::Value> =
        evaluator::data::read_jsonl(&benchmarks.join("gsm8k/test.jsonl"))
            .unwrap_or_else(|e| panic!("{e}"))
            .rows
            .into_iter()
            .map(|(_, v)| v)
            .collect();
    let s = hub_split("gsm8k", "test").unwrap();
    let sha = "4444444444444444444444444444444444444444";
    let server = HubServer::start(vec![
        FakeRepo {
            dataset: true,
            id: s.repo.into(),
            sha: s.revision.into(),
            refs: vec!["main".into()],
            files: BTreeMap::from([(
                s.file.to_string(),
                Body::Bytes(hf_parquet::hf_parquet("gsm8k", &recs)),
            )]),
        },
        FakeRepo {
            dataset: false,
            id: "org/m".into(),
            sha: sha.into(),
            refs: vec!["main".into()],
            files: BTreeMap::from([("m.gguf".to_string(), Body::Bytes(b"GGUF test".to_vec()))]),
        },
    ]);
    let home = tempfile::tempdir().unwrap();
    // SAFETY of the process environment: this process runs this one test only.
    std::env::set_var("HF_HOME", home.path());
    std::env::set_var("HF_ENDPOINT", &server.endpoint);
    std::env::remove_var("HF_HUB_CACHE");
    std::env::remove_var("HF_HUB_OFFLINE");
    std::env::remove_var("HF_TOKEN");

    let m = resolve_model("org/m", None).unwrap();
    assert_eq!(m.commit_sha, sha);
    assert_eq!(
        m.files,
        [home
            .path()
            .join("hub/models--org--m/snapshots")
            .join(sha)
            .join("m.gguf")]
    );
    let rows = load_split("gsm8k", "test").unwrap();
    assert_eq!(rows, recs);
    assert!(home
        .path()
        .join("hub/datasets--openai--gsm8k/snapshots")
        .join(s.revision)
        .join(s.file)
        .is_file());
    let src = data_source(Some(Path::new("hub")), || unreachable!()).unwrap();
    assert!(
        src.describe().contains(&server.endpoint),
        "{}",
        src.describe()
    );
    assert_eq!(
        src.records("gsm8k", "test").unwrap().unwrap().rows.len(),
        1319
    );
    let src = data_source(None, || benchmarks.clone()).unwrap();
    assert!(src.describe().contains("benchmarks"), "{}", src.describe());
    drop(server);

    std::env::set_var("HF_HUB_OFFLINE", "1");
    assert_eq!(resolve_model("org/m", Some("main")).unwrap(), m);
    assert_eq!(load_split("gsm8k", "test").unwrap().len(), 1319);
    let e = resolve_model("org/other", None).unwrap_err().to_string();
    assert!(e.contains("HF_HUB_OFFLINE"), "{e}");
}
