//! `leaderboard submit` against a local Hub-shaped server: a valid model gives a
//! request byte-identical to the committed golden file (through the command, with
//! `HF_ENDPOINT`); each of v1's rules refuses the repo that breaks it with a message
//! saying what to fix; a duplicate and a rate-limited submission are refused; the
//! parameter count comes from the safetensors headers of a sharded repo by range
//! requests, without downloading the weights.

use crate::support::hub_server::{Body, FakeRepo, HubServer};
use leaderboard::cmd::submit::{submit, Args};
use leaderboard_format::requests::{read_request, write_request, Request, Status};
use leaderboard_format::schema::{ModelType, Precision, WeightType};
use leaderboard_hub::{Hub, HubConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const NOW: &str = "2026-12-03T12:00:00Z";

fn sha(n: u32) -> String {
    format!("{:040x}", 0x5000 + n)
}

/// A safetensors file whose header declares `tensors` (name, shape); the data is
/// not there (only the header is ever read), so a 1.2 B model is a few hundred bytes.
fn safetensors(tensors: &[(&str, &[u64])]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0u64;
    for (name, shape) in tensors {
        let bytes = shape.iter().product::<u64>() * 2;
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let json = serde_json::Value::Object(header).to_string();
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json.as_bytes());
    out
}

const CARD_TEXT: &str = "# Good model\n\nA small Llama-architecture model fine-tuned on a public instruction \
dataset for this test. It answers questions, follows instructions and was trained for two epochs with a \
learning rate of 2e-5. Intended for research on evaluation; not for production use.\n";

fn card(front: &str) -> Vec<u8> {
    format!("---\n{front}---\n{CARD_TEXT}").into_bytes()
}

/// The files of a valid model repo (Llama config, tokenizer, card, two safetensors shards).
fn good_files() -> BTreeMap<String, Body> {
    let b = |s: &str| Body::Bytes(s.as_bytes().to_vec());
    BTreeMap::from([
        (
            "config.json".into(),
            b(
                r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048}"#,
            ),
        ),
        (
            "tokenizer.json".into(),
            b(r#"{"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}}"#),
        ),
        ("tokenizer_config.json".into(), b(r#"{"bos_token": "<s>"}"#)),
        (
            "README.md".into(),
            Body::Bytes(card("license: apache-2.0\ntags:\n  - text-generation\n")),
        ),
        (
            "model.safetensors.index.json".into(),
            b(
                r#"{"metadata": {}, "weight_map": {"embed.weight": "model-00001-of-00002.safetensors", "layers.0.weight": "model-00001-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors"}}"#,
            ),
        ),
        (
            "model-00001-of-00002.safetensors".into(),
            Body::Bytes(safetensors(&[
                ("embed.weight", &[32000, 2048]),
                ("layers.0.weight", &[8192, 2048, 60]),
            ])),
        ),
        (
            "model-00002-of-00002.safetensors".into(),
            Body::Bytes(safetensors(&[("lm_head.weight", &[32000, 2048])])),
        ),
    ])
}

fn repo(id: &str, n: u32, files: BTreeMap<String, Body>) -> FakeRepo {
    FakeRepo {
        dataset: false,
        id: id.into(),
        sha: sha(n),
        refs: vec!["main".into()],
        files,
    }
}

/// `good_files` with `edit` applied.
fn variant(edit: impl FnOnce(&mut BTreeMap<String, Body>)) -> BTreeMap<String, Body> {
    let mut f = good_files();
    edit(&mut f);
    f
}

fn args(model: &str, requests: &Path, results: &Path) -> Args {
    Args {
        model: model.into(),
        revision: "main".into(),
        precision: Precision::BFloat16,
        weight_type: WeightType::Original,
        base_model: None,
        model_type: ModelType::FineTuned,
        requests: requests.into(),
        results: results.into(),
        rate_limit: 5,
        rate_days: 7,
        now: Some(NOW.into()),
    }
}

/// Every file under `dir` (none if it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fixtures/requests/org-good/good-model_eval_request_False_bfloat16_Original.json",
    )
}

#[test]
fn submit_writes_the_golden_request_and_refuses_each_bad_repo() {
    let b = |s: &str| Body::Bytes(s.as_bytes().to_vec());
    let server = HubServer::start(vec![
        repo("org-good/good-model", 1, good_files()),
        repo(
            "org-bad/custom-code",
            2,
            variant(|f| {
                f.insert("config.json".into(), b(r#"{"architectures": ["LlamaForCausalLM"], "auto_map": {"AutoModelForCausalLM": "modeling.Model"}}"#));
            }),
        ),
        repo(
            "org-bad/gpt2-arch",
            3,
            variant(|f| {
                f.insert(
                    "config.json".into(),
                    b(r#"{"architectures": ["FalconForCausalLM"]}"#),
                );
            }),
        ),
        repo(
            "org-bad/no-config",
            4,
            variant(|f| drop(f.remove("config.json"))),
        ),
        repo(
            "org-bad/no-tokenizer",
            5,
            variant(|f| drop(f.remove("tokenizer.json"))),
        ),
        repo(
            "org-bad/no-card",
            6,
            variant(|f| drop(f.remove("README.md"))),
        ),
        repo(
            "org-bad/no-license",
            7,
            variant(|f| {
                f.insert("README.md".into(), Body::Bytes(card("tags: [x]\n")));
            }),
        ),
        repo(
            "org-bad/short-card",
            8,
            variant(|f| {
                f.insert("README.md".into(), b("---\nlicense: mit\n---\nA model.\n"));
            }),
        ),
        repo(
            "org-bad/pickle-only",
            9,
            variant(|f| {
                f.retain(|k, _| !k.contains("safetensors"));
                f.insert("pytorch_model.bin".into(), b("not really"));
            }),
        ),
        repo(
            "org-bad/broken-tokenizer",
            10,
            variant(|f| {
                f.insert("tokenizer.json".into(), b("{not json"));
            }),
        ),
        repo(
            "org-tags/Mixtral-MoE-merge",
            11,
            variant(|f| {
                f.insert(
                    "README.md".into(),
                    Body::Bytes(card("license: mit\ntags:\n- mergekit\n")),
                );
            }),
        ),
        repo("org-busy/model-6", 12, good_files()),
        repo("org-dns/asked-not", 13, good_files()),
    ]);
    server.set_info(
        "org-good/good-model",
        serde_json::json!({"likes": 42, "private": false, "tags": ["llama", "text-generation"]}),
    );
    let tmp = tempfile::tempdir().unwrap();
    let (requests, results) = (tmp.path().join("requests"), tmp.path().join("results"));
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(
        results.join("flags.toml"),
        "[[flag]]\nmodel = \"org-dns/asked-not\"\nreason = \"authors asked\"\ncategory = \"do-not-submit\"\n",
    )
    .unwrap();
    let hub = Hub::new(HubConfig::new(&server.endpoint, tmp.path().join("hf"))).unwrap();

    // The valid model, through the command itself (HF_ENDPOINT from the environment).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .args([
            "submit",
            "--model",
            "org-good/good-model",
            "--precision",
            "bfloat16",
            "--model-type",
            "fine-tuned",
            "--now",
            NOW,
        ])
        .arg("--requests")
        .arg(&requests)
        .arg("--results")
        .arg(&results)
        .env("HF_ENDPOINT", &server.endpoint)
        .env("HF_HOME", tmp.path().join("hf-home"))
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = requests.join("org-good/good-model_eval_request_False_bfloat16_Original.json");
    let text = std::fs::read_to_string(&written).unwrap();
    if std::env::var_os("LEADERBOARD_BLESS").is_some() {
        std::fs::create_dir_all(golden().parent().unwrap()).unwrap();
        std::fs::write(golden(), &text).unwrap();
    }
    assert_eq!(
        text,
        std::fs::read_to_string(golden()).unwrap(),
        "differs from the golden file (LEADERBOARD_BLESS=1 rewrites it after review)"
    );
    let r = read_request(&written).unwrap();
    assert_eq!(r.revision, sha(1));
    assert_eq!(
        r.params, 1.138,
        "32000*2048*2 + 8192*2048*60 = 1,137,704,960 parameters"
    );
    assert_eq!(
        (r.likes, r.license.as_str(), r.architectures.as_str()),
        (42, "apache-2.0", "LlamaForCausalLM")
    );
    assert_eq!(r.status, Status::Pending);
    // Only headers were read from the shards (range requests): nothing was downloaded
    // into the Hub cache, and the shards were asked for twice each (length, header).
    let cached: Vec<_> = walk(&tmp.path().join("hf-home"));
    assert!(cached.is_empty(), "{cached:?}");
    let shard_gets = server
        .requests()
        .iter()
        .filter(|l| l.contains("/resolve/") && l.contains("-of-00002.safetensors"))
        .count();
    assert_eq!(shard_gets, 4);

    // Each rule refuses its repo, with what to fix.
    let refused = |a: &Args| -> String {
        match submit(a, &hub) {
            Ok(p) => panic!("{} was accepted: {}", a.model, p.display()),
            Err(e) => format!("{e:#}"),
        }
    };
    let cases: Vec<(&str, &[&str])> = vec![
        (
            "org-bad/custom-code",
            &["custom code (auto_map)", "runs no code from a repo"],
        ),
        (
            "org-bad/gpt2-arch",
            &[
                "architecture FalconForCausalLM is not one the evaluator runs",
                "LlamaForCausalLM",
            ],
        ),
        (
            "org-bad/no-config",
            &["has no config.json", "Hugging Face format"],
        ),
        (
            "org-bad/no-tokenizer",
            &["has no tokenizer.json", "save_pretrained"],
        ),
        (
            "org-bad/broken-tokenizer",
            &["tokenizer.json is not valid JSON"],
        ),
        ("org-bad/no-card", &["has no model card (README.md)"]),
        ("org-bad/no-license", &["names no license", "license: <id>"]),
        (
            "org-bad/short-card",
            &["model card is too short (8 characters of text, at least 200)"],
        ),
        (
            "org-bad/pickle-only",
            &[
                "has no safetensors weights",
                "convert the weights to safetensors",
            ],
        ),
        (
            "org-dns/asked-not",
            &["do-not-submit list", "authors asked"],
        ),
        (
            "org-bad/not-on-the-hub",
            &["not found", "check the model id and --revision"],
        ),
    ];
    for (model, needles) in &cases {
        let msg = refused(&args(model, &requests, &results));
        for n in *needles {
            assert!(msg.contains(n), "{model}: {msg:?} lacks {n:?}");
        }
        println!("{model}: refused: {msg}");
    }
    let mut a = args("org-good/good-model", &requests, &results);
    a.revision = "no-such-branch".into();
    assert!(refused(&a).contains("no-such-branch"));
    let mut a = args("org-good/good-model", &requests, &results);
    a.model_type = ModelType::Unknown;
    assert!(refused(&a).contains("--model-type"));
    let mut a = args("org-good/good-model", &requests, &results);
    a.weight_type = WeightType::Adapter;
    assert!(refused(&a).contains("--base-model"));
    a.base_model = Some("org-bad/missing-base".into());
    assert!(refused(&a).contains("base model org-bad/missing-base"));

    // Duplicate: the same model, revision, precision and weight type.
    let dup = refused(&args("org-good/good-model", &requests, &results));
    assert!(
        dup.contains("already PENDING") && dup.contains("in the queue"),
        "{dup}"
    );
    // Another precision is another request.
    let mut a = args("org-good/good-model", &requests, &results);
    a.precision = Precision::Float16;
    submit(&a, &hub).unwrap();

    // Tags: merge from the card, MoE from the name.
    let p = submit(
        &args("org-tags/Mixtral-MoE-merge", &requests, &results),
        &hub,
    )
    .unwrap();
    let t = read_request(&p).unwrap();
    assert!(t.is_merge && t.is_moe, "{t:?}");

    // Rate limit: 5 requests of org-busy in the last 7 days → the 6th is refused;
    // one of them 8 days old → accepted.
    for i in 0..5u32 {
        let r = Request::new_pending(
            &format!("org-busy/model-{i}"),
            &sha(100 + i),
            Precision::BFloat16,
            WeightType::Original,
            chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc()
                - chrono::Duration::days(i as i64 + 2),
        );
        let path = requests.join(r.rel_path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_request(&path, &r).unwrap();
    }
    let msg = refused(&args("org-busy/model-6", &requests, &results));
    assert!(
        msg.contains("rate limit: org-busy already has 5 requests"),
        "{msg}"
    );
    let mut a = args("org-busy/model-6", &requests, &results);
    a.rate_limit = 6;
    submit(&a, &hub).unwrap();

    // What submit wrote passes check.
    let (_, set) = leaderboard_format::check::check_and_load(&results);
    let (problems, loaded) = leaderboard_format::check::check_requests(&requests, &set);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(loaded.len(), 9);
}
