//! Hub models end to end against a local Hub: an HF folder (config, tokenizer, safetensors, sharded too) and the real SmolLM2 GGUF, resolved through hf-hub into the HF cache; commit sha, weights hash, offline re-resolution, clear errors.

use crate::support::model::test_model;

use crate::support::hub_server;

use evaluator::hub::{resolve_model_with, weights_sha256, Hub, HubConfig, HubError};
use hub_server::{Body, FakeRepo, HubServer};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const SHA_A: &str = "1111111111111111111111111111111111111111";
const SHA_B: &str = "2222222222222222222222222222222222222222";
const SHA_G: &str = "3333333333333333333333333333333333333333";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn safetensors_file(tensors: &[(&str, Vec<f32>, Vec<usize>)]) -> Vec<u8> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, v, s)| {
            (
                n.to_string(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                s.clone(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, b, s)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::tensor::serialize(views, None).unwrap()
}

fn config_json() -> Vec<u8> {
    br#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4,"num_hidden_layers":1,"num_attention_heads":1,"num_key_value_heads":1,"intermediate_size":8,"vocab_size":8,"rms_norm_eps":1e-5,"max_position_embeddings":32,"tie_word_embeddings":true}"#.to_vec()
}

fn tokenizer_json() -> Vec<u8> {
    br#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"a":0,"b":1,"<unk>":2},"unk_token":"<unk>"}}"#.to_vec()
}

/// `org/tiny` (single safetensors, at SHA_A = `main`) and `org/tiny-sharded` (index + 2 shards,
/// at SHA_B = `main` and tag `v1`), each with files that must not be fetched.
fn hf_repos() -> Vec<FakeRepo> {
    let single = safetensors_file(&[
        (
            "model.embed_tokens.weight",
            (0..32).map(|i| i as f32).collect(),
            vec![8, 4],
        ),
        ("model.norm.weight", vec![1.0; 4], vec![4]),
    ]);
    let shard1 = safetensors_file(&[("model.embed_tokens.weight", vec![0.5; 32], vec![8, 4])]);
    let shard2 = safetensors_file(&[("model.norm.weight", vec![2.0; 4], vec![4])]);
    let index = br#"{"metadata":{"total_size":144},"weight_map":{"model.embed_tokens.weight":"model-00001-of-00002.safetensors","model.norm.weight":"model-00002-of-00002.safetensors"}}"#.to_vec();
    let common = |extra: Vec<(&str, Vec<u8>)>| {
        let mut files: BTreeMap<String, Body> = BTreeMap::from([
            ("config.json".into(), Body::Bytes(config_json())),
            ("tokenizer.json".into(), Body::Bytes(tokenizer_json())),
            ("generation_config.json".into(), Body::Bytes(b"{}".to_vec())),
            ("README.md".into(), Body::Bytes(b"# tiny\n".to_vec())),
            (
                "pytorch_model.bin".into(),
                Body::Bytes(b"pickle - never fetched".to_vec()),
            ),
        ]);
        for (n, b) in extra {
            files.insert(n.into(), Body::Bytes(b));
        }
        files
    };
    vec![
        FakeRepo {
            dataset: false,
            id: "org/tiny".into(),
            sha: SHA_A.into(),
            refs: vec!["main".into()],
            files: common(vec![("model.safetensors", single)]),
        },
        FakeRepo {
            dataset: false,
            id: "org/tiny-sharded".into(),
            sha: SHA_B.into(),
            refs: vec!["main".into(), "v1".into()],
            files: common(vec![
                ("model.safetensors.index.json", index),
                ("model-00001-of-00002.safetensors", shard1),
                ("model-00002-of-00002.safetensors", shard2),
            ]),
        },
        FakeRepo {
            dataset: false,
            id: "org/no-tokenizer".into(),
            sha: SHA_A.into(),
            refs: vec!["main".into()],
            files: BTreeMap::from([
                ("config.json".into(), Body::Bytes(config_json())),
                (
                    "model.safetensors".into(),
                    Body::Bytes(safetensors_file(&[("w", vec![1.0], vec![1])])),
                ),
            ]),
        },
    ]
}

fn offline(cache: &std::path::Path) -> Hub {
    let mut cfg = HubConfig::new("http://127.0.0.1:9", cache);
    cfg.offline = true;
    Hub::new(cfg).unwrap()
}

#[test]
fn safetensors_models_land_in_the_hf_cache_and_resolve_offline() {
    let repos = hf_repos();
    let served: BTreeMap<String, Vec<u8>> = repos[1]
        .files
        .iter()
        .map(|(k, v)| match v {
            Body::Bytes(b) => (k.clone(), b.clone()),
            Body::File(_) => unreachable!(),
        })
        .collect();
    let cache = tempfile::tempdir().unwrap();
    let server = HubServer::start(repos);
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();

    // Single file.
    let m = resolve_model_with(&hub, "org/tiny", None).unwrap();
    assert_eq!(m.commit_sha, SHA_A);
    let dir = cache.path().join("models--org--tiny/snapshots").join(SHA_A);
    assert_eq!(m.dir, dir);
    let names: Vec<String> = m
        .files
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "config.json",
            "tokenizer.json",
            "generation_config.json",
            "model.safetensors"
        ]
    );
    assert_eq!(std::fs::read(&m.files[0]).unwrap(), config_json());
    assert_eq!(
        std::fs::read_to_string(cache.path().join("models--org--tiny/refs/main")).unwrap(),
        SHA_A
    );
    assert_eq!(m.load_path(), dir);
    let st = std::fs::read(&m.files[3]).unwrap();
    let want = hex(&Sha256::digest(
        format!("{}  model.safetensors\n", hex(&Sha256::digest(&st))).as_bytes(),
    ));
    assert_eq!(weights_sha256(&m.files).unwrap(), want);

    // Sharded, by tag: index + both shards, hash over the two sorted lines.
    let s = resolve_model_with(&hub, "org/tiny-sharded", Some("v1")).unwrap();
    assert_eq!(s.commit_sha, SHA_B);
    let mut lines = String::new();
    for n in [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ] {
        assert!(s.files.iter().any(|p| p.ends_with(n)), "{n}");
        assert_eq!(std::fs::read(s.dir.join(n)).unwrap(), served[n]);
        lines.push_str(&format!("{}  {n}\n", hex(&Sha256::digest(&served[n]))));
    }
    assert_eq!(
        weights_sha256(&s.files).unwrap(),
        hex(&Sha256::digest(lines.as_bytes()))
    );
    assert!(s
        .files
        .iter()
        .any(|p| p.ends_with("model.safetensors.index.json")));

    let log = server.requests();
    assert!(
        !log.iter()
            .any(|r| r.contains("pytorch_model.bin") || r.contains("README")),
        "{log:?}"
    );

    // Same commit again: files come from the cache, only the repo info is asked.
    let before = log.len();
    let again = resolve_model_with(&hub, "org/tiny-sharded", Some("main")).unwrap();
    assert_eq!(again.files.len(), s.files.len());
    let new: Vec<String> = server.requests()[before..].to_vec();
    assert_eq!(new, ["GET /api/models/org/tiny-sharded/revision/main"]);
    // By commit sha.
    let by_sha = resolve_model_with(&hub, "org/tiny-sharded", Some(SHA_B)).unwrap();
    assert_eq!(by_sha.dir, s.dir);
    drop(server);

    // Offline: same files, same commit, no server.
    let hub = offline(cache.path());
    let o = resolve_model_with(&hub, "org/tiny", None).unwrap();
    assert_eq!(o, m);
    let o = resolve_model_with(&hub, "org/tiny-sharded", Some("v1")).unwrap();
    assert_eq!(o.commit_sha, SHA_B);
    assert_eq!(
        weights_sha256(&o.files).unwrap(),
        weights_sha256(&s.files).unwrap()
    );
    let by_sha = resolve_model_with(&hub, "org/tiny-sharded", Some(SHA_B)).unwrap();
    assert_eq!(by_sha.commit_sha, SHA_B);
    // Offline and never fetched: a clear error.
    let e = resolve_model_with(&hub, "org/other", None).unwrap_err();
    assert!(matches!(e, HubError::NotCached { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("HF_HUB_OFFLINE") && e.contains("org/other") && e.contains("main"),
        "{e}"
    );
    let e = resolve_model_with(&hub, "org/tiny", Some("v9"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("v9"), "{e}");
}

#[test]
fn not_found_and_unusable_repos_fail_clearly() {
    let cache = tempfile::tempdir().unwrap();
    let server = HubServer::start(hf_repos());
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();

    let e = resolve_model_with(&hub, "org/missing", None).unwrap_err();
    assert!(
        matches!(e, HubError::RepoNotFound { status: 404, .. }),
        "{e}"
    );
    let e = e.to_string();
    assert!(
        e.contains("org/missing") && e.contains("not found") && e.contains("404"),
        "{e}"
    );

    let e = resolve_model_with(&hub, "org/tiny", Some("nope"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope") && e.contains("RevisionNotFound"), "{e}");

    let e = resolve_model_with(&hub, "org/no-tokenizer", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no tokenizer.json"), "{e}");

    let e = resolve_model_with(&hub, "../etc", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a Hub repo id"), "{e}");

    let e = resolve_model_with(&hub, "org/tiny:model.gguf", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no file 'model.gguf'"), "{e}");

    // A file the listing promised but the server does not have: 404 naming the file.
    let e = hub
        .file(
            evaluator::hub::RepoKind::Model,
            "org/tiny",
            "main",
            "absent.json",
            None,
        )
        .unwrap_err();
    assert!(matches!(e, HubError::FileNotFound { .. }), "{e}");
    assert!(e.to_string().contains("absent.json"), "{e}");

    // Nothing listening: a transport error naming the endpoint.
    let dead = Hub::new(HubConfig::new("http://127.0.0.1:9", cache.path())).unwrap();
    let e = resolve_model_with(&dead, "org/tiny", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("127.0.0.1:9"), "{e}");
}

#[test]
fn real_gguf_through_the_hub() {
    let gguf = test_model();
    let name = "SmolLM2-135M-Instruct.Q4_1.gguf";
    let repos = vec![
        FakeRepo {
            dataset: false,
            id: "org/smollm2-gguf".into(),
            sha: SHA_G.into(),
            refs: vec!["main".into()],
            files: BTreeMap::from([
                (name.to_string(), Body::File(gguf.clone())),
                ("README.md".to_string(), Body::Bytes(b"gguf\n".to_vec())),
            ]),
        },
        FakeRepo {
            dataset: false,
            id: "org/two-ggufs".into(),
            sha: SHA_G.into(),
            refs: vec!["main".into()],
            files: BTreeMap::from([
                ("a.Q4_1.gguf".to_string(), Body::Bytes(b"GGUF-a".to_vec())),
                ("a.Q8_0.gguf".to_string(), Body::Bytes(b"GGUF-b".to_vec())),
            ]),
        },
    ];
    let cache = tempfile::tempdir().unwrap();
    let server = HubServer::start(repos);
    let hub = Hub::new(HubConfig::new(&server.endpoint, cache.path())).unwrap();

    let m = resolve_model_with(&hub, "org/smollm2-gguf", None).unwrap();
    assert_eq!(m.commit_sha, SHA_G);
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.gguf(), Some(&m.dir.join(name)));
    assert_eq!(m.load_path(), m.dir.join(name));
    let original = std::fs::read(&gguf).unwrap();
    let fetched = std::fs::read(&m.files[0]).unwrap();
    assert_eq!(fetched.len(), original.len());
    let sha = hex(&Sha256::digest(&original));
    assert!(
        fetched == original,
        "downloaded GGUF differs from the original"
    );
    assert_eq!(weights_sha256(&m.files).unwrap(), sha);
    // The blob is stored under its sha256 (the X-Linked-Etag of an LFS file).
    let blob = std::fs::canonicalize(&m.files[0]).unwrap();
    assert_eq!(blob.file_name().unwrap().to_str().unwrap(), sha);
    let log = server.requests();
    assert!(log.iter().any(|r| r.starts_with("GET /cdn/")), "{log:?}");

    // Explicit file, and the ambiguous repo.
    let m2 = resolve_model_with(&hub, &format!("org/smollm2-gguf:{name}"), Some(SHA_G)).unwrap();
    assert_eq!(m2.files, m.files);
    let e = resolve_model_with(&hub, "org/two-ggufs", None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("several GGUF files")
            && e.contains("a.Q4_1.gguf, a.Q8_0.gguf")
            && e.contains("org/two-ggufs:<file>"),
        "{e}"
    );
    drop(server);

    let o = resolve_model_with(&offline(cache.path()), "org/smollm2-gguf", None).unwrap();
    assert_eq!(o, m);
}
