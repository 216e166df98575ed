//! `evaluator run --model org/name --revision R` end to end against a local Hub serving the real SmolLM2 GGUF: results path, model id, commit sha, weights hash, `leaderboard check`, an offline re-run from the HF cache with the server gone (byte-identical results), and an unknown repo; and `evaluator run --data hub` reading the benchmarks from a local Hub.

use crate::support::model::{assert_results_check, files_under, test_model};

use crate::support::hub_server;

use hub_server::{Body, FakeRepo, HubServer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

const REPO: &str = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF";
const GGUF_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const COMMIT: &str = "5a1c2e9f0b7d4c3a8e6f1b2d9c0a7e5f3b4d6c8a";

fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Environment of one `evaluator run`: the Hub at `endpoint` (or offline), the HF cache
/// under `hf_home`, the resume journals under `cache`. Nothing from the caller's
/// environment (a real HF token, cache or proxy) leaks in.
struct Env<'a> {
    endpoint: &'a str,
    hf_home: &'a Path,
    cache: &'a Path,
    offline: bool,
}

fn evaluator_run(env: &Env, model: &str, revision: &str, output: &Path) -> Output {
    let mut cmd = crate::support::evaluator();
    cmd.args(["run", "--model", model, "--revision", revision])
        .args([
            "--tasks",
            "arc_challenge",
            "--limit",
            "2",
            "--num-fewshot",
            "0",
            "--dtype",
            "f32",
            "--evaluated-at",
            "2026-01-01T00:00:00Z",
            "--output",
        ])
        .arg(output)
        .env("HF_ENDPOINT", env.endpoint)
        .env("HF_HOME", env.hf_home)
        .env("LEADERBOARD_CACHE", env.cache)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    crate::support::isolate_env(&mut cmd);
    if env.offline {
        cmd.env("HF_HUB_OFFLINE", "1");
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    println!(
        "evaluator run --model {model} --revision {revision}{}: {:.1}s, {}\n{}",
        if env.offline { " (offline)" } else { "" },
        started.elapsed().as_secs_f64(),
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    if !out.status.success() {
        println!("stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "evaluator run failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_resolves_a_hub_model_records_its_commit_and_reruns_offline() {
    let gguf = test_model();
    let started = Instant::now();
    let want_sha256 = sha256_file(&gguf);

    let server = HubServer::start(vec![FakeRepo {
        dataset: false,
        id: REPO.into(),
        sha: COMMIT.into(),
        refs: vec!["main".into()],
        files: BTreeMap::from([
            (GGUF_NAME.to_string(), Body::File(gguf.clone())),
            (
                "README.md".to_string(),
                Body::Bytes(b"# SmolLM2\n".to_vec()),
            ),
            (
                ".gitattributes".to_string(),
                Body::Bytes(b"*.gguf filter=lfs diff=lfs merge=lfs -text\n".to_vec()),
            ),
        ]),
    }]);
    let tmp = tempfile::tempdir().unwrap();
    let hf_home = tmp.path().join("hf-home");
    let online = Env {
        endpoint: &server.endpoint,
        hf_home: &hf_home,
        cache: &tmp.path().join("lb-cache-1"),
        offline: false,
    };

    // --- Errors first (cheap, no model load): an unknown repo, an unknown revision. ---
    let err_out = tmp.path().join("results-err");
    let out = evaluator_run(&online, "no-such-org/no-such-model", "main", &err_out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown repo must fail");
    assert!(
        stderr.contains("no-such-org/no-such-model") && stderr.contains("not found"),
        "the error must name the repo id:\n{stderr}"
    );
    let out = evaluator_run(&online, REPO, "no-such-branch", &err_out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown revision must fail");
    assert!(
        stderr.contains(REPO) && stderr.contains("no-such-branch"),
        "the error must name the repo and the revision:\n{stderr}"
    );
    assert!(
        files_under(&err_out).is_empty(),
        "a failed run left files: {:?}",
        files_under(&err_out)
    );
    assert!(
        files_under(&hf_home).is_empty(),
        "a failed resolution left files in the HF cache: {:?}",
        files_under(&hf_home)
    );

    // --- Online run: `--revision main` resolved on the local Hub. ---
    let results = tmp.path().join("results");
    let out = evaluator_run(&online, REPO, "main", &results);
    assert_success(&out);

    let (org, name) = REPO.split_once('/').unwrap();
    let rel = Path::new(org).join(name);
    let stem = format!("openllm-v1_float32_{}", &COMMIT[..12]);
    let results_file = results.join(&rel).join(format!("{stem}.parquet"));
    assert_eq!(
        files_under(&results),
        vec![
            rel.join(format!("{stem}.details.parquet")),
            rel.join(format!("{stem}.parquet")),
        ],
        "exactly the results and details files at <output>/<org>/<name>/, no leftovers"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("wrote {}", results_file.display())),
        "{stdout}"
    );

    // The GGUF landed in the HF cache layout under $HF_HOME/hub, intact, and `main` is recorded.
    let repo_dir = hf_home
        .join("hub")
        .join(format!("models--{}", REPO.replace('/', "--")));
    let cached = repo_dir.join("snapshots").join(COMMIT).join(GGUF_NAME);
    assert!(cached.is_file(), "{} missing", cached.display());
    assert_eq!(sha256_file(&cached), want_sha256, "cached GGUF differs");
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        COMMIT
    );
    assert!(
        !repo_dir
            .join("snapshots")
            .join(COMMIT)
            .join("README.md")
            .exists(),
        "only the model file is fetched"
    );
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r == &format!("GET /api/models/{REPO}/revision/main")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r == &format!("GET /{REPO}/resolve/main/{GGUF_NAME}")),
        "{requests:?}"
    );

    // The results file: the Hub id, the full commit sha, the GGUF's sha256.
    let runs = leaderboard_format::read_file(&results_file).unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.model_id, REPO);
    assert_eq!(run.revision.as_deref(), Some(COMMIT));
    assert_eq!(run.weights_sha256.as_deref(), Some(want_sha256.as_str()));
    assert_eq!(run.available_on_hub, Some(true));
    // `--dtype f32` dequantizes every weight: float32, the GGUF's storage in the detail.
    assert_eq!(run.precision.as_str(), "float32");
    let detail = run.precision_detail.as_deref().unwrap_or("");
    assert!(
        detail.starts_with("F32 dequantized from GGUF Q4_1"),
        "precision_detail {detail:?}"
    );
    assert_eq!(run.architecture.as_deref(), Some("LlamaForCausalLM"));
    assert_eq!(
        run.evaluated_at.unwrap().to_rfc3339(),
        "2026-01-01T00:00:00+00:00"
    );
    for d in ["limit:2", "num_fewshot:0", "tasks:arc_challenge"] {
        assert!(
            run.provenance.deviations.iter().any(|x| x == d),
            "deviation {d} missing from {:?}",
            run.provenance.deviations
        );
    }
    let arc = run
        .headline(leaderboard_format::schema::Benchmark::Arc)
        .expect("an ARC headline score");
    assert_eq!(arc.n_samples, Some(2));
    assert!((0.0..=1.0).contains(&arc.value), "{}", arc.value);
    let detail_rows: usize =
        evaluator::details::read(&evaluator::details::details_path(&results_file))
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
    assert_eq!(detail_rows, 2);

    // The resume journal is gone once the results are written.
    let journals: Vec<PathBuf> = files_under(online.cache)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "journal"))
        .collect();
    assert!(journals.is_empty(), "journals left: {journals:?}");

    // `leaderboard check` accepts the folder.
    assert_results_check(&results);

    // --- Offline: the server is gone; `main` resolves from the HF cache. ---
    let endpoint = server.endpoint.clone();
    drop(server);
    assert!(
        std::net::TcpStream::connect(endpoint.trim_start_matches("http://")).is_err(),
        "the local Hub should be stopped"
    );
    let offline = Env {
        endpoint: &endpoint,
        hf_home: &hf_home,
        cache: &tmp.path().join("lb-cache-2"),
        offline: true,
    };
    let results2 = tmp.path().join("results-offline");
    let out = evaluator_run(&offline, REPO, "main", &results2);
    assert_success(&out);
    let results_file2 = results2.join(&rel).join(format!("{stem}.parquet"));
    assert_eq!(
        files_under(&results2),
        files_under(&results),
        "same file names offline"
    );
    assert!(
        std::fs::read(&results_file).unwrap() == std::fs::read(&results_file2).unwrap(),
        "the offline run wrote a different results file"
    );
    assert!(
        std::fs::read(evaluator::details::details_path(&results_file)).unwrap()
            == std::fs::read(evaluator::details::details_path(&results_file2)).unwrap(),
        "the offline run wrote a different details file"
    );

    // Offline, a repo that was never cached fails clearly and writes nothing.
    let err_out2 = tmp.path().join("results-err-offline");
    let out = evaluator_run(&offline, "no-such-org/no-such-model", "main", &err_out2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no-such-org/no-such-model") && stderr.contains("HF_HUB_OFFLINE"),
        "{stderr}"
    );
    assert!(files_under(&err_out2).is_empty());

    println!(
        "run_hub: ARC acc_norm {:.2} on 2 docs; total {:.1}s",
        arc.value * 100.0,
        started.elapsed().as_secs_f64()
    );
}

/// `evaluator run --data hub` reads the benchmarks from the Hub (the local Hub here) and
/// gives the scores and per-sample details a run on the local files gives; the recorded
/// configuration names the data source.
#[test]
fn evaluator_run_with_data_hub_scores_what_the_local_files_give() {
    let local = crate::hub_datasets::benchmarks();
    let (repos, _) = crate::hub_datasets::fake_repos(&local, None);
    let server = HubServer::start(repos);
    let tmp = tempfile::tempdir().unwrap();
    let model = test_model();
    let run = |data: &str, name: &str| {
        let out_dir = tmp.path().join(name);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_evaluator"))
            .args(["run", "--model"])
            .arg(&model)
            .args(["--tasks", "arc_challenge,winogrande", "--limit", "3"])
            .args(["--batch-tokens", "512", "--data", data, "--output"])
            .arg(&out_dir)
            .args(["--evaluated-at", "2026-01-01T00:00:00Z"])
            .env("HF_HOME", tmp.path().join("hf"))
            .env("HF_ENDPOINT", &server.endpoint)
            .env("LEADERBOARD_CACHE", tmp.path().join("cache"))
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_HUB_CACHE")
            .env_remove("HF_TOKEN")
            .output()
            .expect("run evaluator");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "evaluator run --data {data}: {err}");
        let results: Vec<PathBuf> = leaderboard_format::parquet_files(&out_dir)
            .unwrap()
            .into_iter()
            .map(|p| out_dir.join(p))
            .collect();
        assert_eq!(results.len(), 1, "{results:?}");
        let run = leaderboard_format::read_file(&results[0])
            .unwrap()
            .remove(0);
        let details =
            std::fs::read(leaderboard_format::details::details_path(&results[0])).unwrap();
        (run, details, err)
    };
    let (hub, hub_details, hub_err) = run("hub", "from-hub");
    let (loc, loc_details, _) = run(local.root.to_str().unwrap(), "from-local");
    assert!(
        hub_err.contains("data       Hugging Face Hub http://127.0.0.1:"),
        "{hub_err}"
    );
    assert_eq!(hub.scores, loc.scores);
    assert_eq!(hub_details, loc_details, "details files byte-identical");
    let config: serde_json::Value =
        serde_json::from_str(hub.provenance.run_config.as_deref().unwrap()).unwrap();
    assert_eq!(config["data"]["source"], "hub");
    let config: serde_json::Value =
        serde_json::from_str(loc.provenance.run_config.as_deref().unwrap()).unwrap();
    assert_eq!(config["data"]["source"], "local");
    println!(
        "--data hub: {} scores equal to the local files' (arc_challenge, winogrande, 3 docs each)",
        hub.scores.len()
    );
}
