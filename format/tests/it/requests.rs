//! The requests folder: a request renders byte for byte as the committed golden
//! file, and `check` refuses each kind of bad or hostile request with a message
//! naming the file and the key (script in the model name, `..` and stray files in
//! the path, a 1 MB reason, an inconsistent history, a duplicate, a FINISHED request
//! without its results).

use super::check::{good_dir, run};
use chrono::{DateTime, Utc};
use leaderboard_format::check::{check_and_load, check_requests};
use leaderboard_format::requests::{
    read_request, render_request, write_request, Request, Status, Transition,
};
use leaderboard_format::schema::{ModelType, Precision, WeightType};
use std::path::{Path, PathBuf};

const REV: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The request of the golden file: FINISHED after one failure and a resubmission.
fn finished(model: &str) -> Request {
    let mut r = Request::new_pending(
        model,
        REV,
        Precision::BFloat16,
        WeightType::Original,
        at("2026-11-30T09:15:00Z"),
    );
    r.model_type = ModelType::FineTuned;
    r.likes = 12;
    r.params = 0.135;
    r.license = "apache-2.0".into();
    r.architectures = "LlamaForCausalLM".into();
    let step = |status, time: &str, reason: Option<&str>, tail: Option<Vec<String>>| Transition {
        status,
        time: at(time),
        host: (status == Status::Running || status == Status::Failed || status == Status::Finished)
            .then(|| "gpu-node-1".to_string()),
        job_id: (status == Status::Running).then(|| "slurm:4242_0".to_string()),
        reason: reason.map(str::to_string),
        log_tail: tail,
    };
    r.transition(step(Status::Running, "2026-11-30T09:20:00Z", None, None));
    r.transition(step(
        Status::Failed,
        "2026-11-30T09:25:31Z",
        Some("CUDA out of memory"),
        Some(vec![
            "loading model".into(),
            "Error: CUDA out of memory".into(),
        ]),
    ));
    r.transition(step(
        Status::Pending,
        "2026-11-30T10:00:00Z",
        Some("resubmitted with --batch-tokens 1024"),
        None,
    ));
    r.transition(step(Status::Running, "2026-11-30T10:05:00Z", None, None));
    r.transition(step(Status::Finished, "2026-11-30T10:42:10Z", None, None));
    r.results_file = Some(format!("{model}/run.parquet"));
    r
}

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/requests/org/model-a_eval_request_False_bfloat16_Original.json")
}

/// A results folder (with `org/model-a/run.parquet`) and an empty requests folder beside it.
fn folders() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = good_dir();
    let results = dir.path().to_path_buf();
    let requests = dir.path().join("requests-dir");
    std::fs::create_dir_all(&requests).unwrap();
    // The requests folder sits inside this temporary results folder only for cleanup;
    // check the results folder without it.
    (dir, results, requests)
}

fn put(requests: &Path, r: &Request) -> PathBuf {
    let p = requests.join(r.rel_path());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    write_request(&p, r).unwrap();
    p
}

fn request_problems(results: &Path, requests: &Path) -> Vec<String> {
    let (_, set) = check_and_load(results);
    check_requests(requests, &set)
        .0
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn assert_one(results: &Path, requests: &Path, needles: &[&str]) {
    let got = request_problems(results, requests);
    assert_eq!(got.len(), 1, "expected one problem, got {got:#?}");
    for n in needles {
        assert!(got[0].contains(n), "{:?} lacks {n:?}", got[0]);
    }
}

#[test]
fn a_request_renders_as_the_golden_file_and_reads_back() {
    let r = finished("org/model-a");
    let text = render_request(&r);
    if std::env::var_os("LEADERBOARD_BLESS").is_some() {
        std::fs::create_dir_all(golden().parent().unwrap()).unwrap();
        std::fs::write(golden(), &text).unwrap();
    }
    assert_eq!(
        text,
        std::fs::read_to_string(golden()).unwrap(),
        "rendering changed (LEADERBOARD_BLESS=1 rewrites the golden file after review)"
    );
    assert_eq!(read_request(&golden()).unwrap(), r);
    // v1's keys first, in v1's order.
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  \""))
        .map(|l| l.trim().split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        keys[..15],
        [
            "model",
            "base_model",
            "revision",
            "private",
            "precision",
            "weight_type",
            "status",
            "submitted_time",
            "model_type",
            "likes",
            "params",
            "license",
            "architectures",
            "job_id",
            "job_start_time"
        ]
    );
}

#[test]
fn a_valid_queue_passes_and_a_missing_folder_is_empty() {
    let (_d, results, requests) = folders();
    put(&requests, &finished("org/model-a"));
    put(
        &requests,
        &Request::new_pending(
            "org/model-b",
            REV,
            Precision::Float16,
            WeightType::Original,
            at("2026-12-01T00:00:00Z"),
        ),
    );
    std::fs::write(requests.join("README.md"), "# queue\n").unwrap();
    assert_eq!(request_problems(&results, &requests), Vec::<String>::new());
    let (_, set) = check_and_load(&results);
    let (p, loaded) = check_requests(&results.join("no-such-folder"), &set);
    assert!(p.is_empty() && loaded.is_empty());
}

#[test]
fn script_in_the_model_name_is_refused() {
    let (_d, results, requests) = folders();
    let mut r = finished("org/model-a");
    r.model = "org/<script>alert(1)</script>".into();
    r.results_file = Some("org/model-a/run.parquet".into());
    let p = requests.join("org/model-a_eval_request_False_bfloat16_Original.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    write_request(&p, &r).unwrap();
    let got = request_problems(&results, &requests);
    assert!(
        got.iter()
            .any(|m| m.contains("column `model`") && m.contains("not a valid Hub model id")),
        "{got:#?}"
    );
    assert!(
        got.iter().any(|m| m.contains("the path does not match")),
        "{got:#?}"
    );
}

#[test]
fn paths_that_leave_the_folder_and_stray_files_are_refused() {
    let (_d, results, requests) = folders();
    std::fs::create_dir_all(requests.join("org")).unwrap();
    std::fs::write(requests.join("org/notes.txt"), "x").unwrap();
    std::fs::write(requests.join(".hidden_eval_request_x.json"), "{}").unwrap();
    std::os::unix::fs::symlink("/etc", requests.join("org/link")).unwrap();
    std::fs::create_dir_all(requests.join("org/deeper")).unwrap();
    let got = request_problems(&results, &requests);
    for needle in [
        "notes.txt: unexpected file",
        ".hidden",
        "org/link: is a symbolic link",
        "org/deeper: a folder inside",
    ] {
        assert!(got.iter().any(|m| m.contains(needle)), "{needle}: {got:#?}");
    }
    // A results_file that climbs out of the results folder.
    let (_d, results, requests) = folders();
    let mut r = finished("org/model-a");
    r.results_file = Some("../../etc/passwd.parquet".into());
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["results_file", "relative to the results folder"],
    );
}

#[test]
fn a_huge_or_long_reason_is_refused() {
    let (_d, results, requests) = folders();
    let mut r = finished("org/model-a");
    r.history[2].reason = Some("x".repeat(1 << 20));
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["model-a_eval_request", "larger than 65536 bytes"],
    );
    r.history[2].reason = Some("y".repeat(3000));
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["history[2].reason", "3000 characters; at most 2000"],
    );
    r.history[2].reason = Some("bad\u{1b}[31m".into());
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["history[2].reason", "control characters"],
    );
}

#[test]
fn an_inconsistent_history_is_refused() {
    let (_d, results, requests) = folders();
    let mut r = finished("org/model-a");
    r.history.remove(1); // FAILED right after PENDING
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["history[1].status", "FAILED cannot follow PENDING"],
    );
    let mut r = finished("org/model-a");
    r.status = Status::Running;
    r.results_file = None;
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["column `status`", "the history ends FINISHED"],
    );
    let mut r = finished("org/model-a");
    r.history[3].time = at("2026-11-29T00:00:00Z");
    put(&requests, &r);
    assert_one(&results, &requests, &["history[3].time", "times in order"]);
    let mut r = finished("org/model-a");
    r.history[2].reason = None;
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["history[2].reason", "a FAILED entry says why"],
    );
}

#[test]
fn duplicates_and_unfinished_results_are_refused() {
    let (_d, results, requests) = folders();
    put(&requests, &finished("org/model-a"));
    let mut twin = finished("org/model-a");
    twin.private = true;
    put(&requests, &twin);
    assert_one(
        &results,
        &requests,
        &["_True_bfloat16", "a second request for org/model-a"],
    );

    let (_d, results, requests) = folders();
    let mut r = finished("org/model-a");
    r.results_file = Some("org/model-a/missing.parquet".into());
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &[
            "results_file",
            "is not a results file of the results folder",
        ],
    );
    // The file exists but holds another revision.
    let mut other = run("org/model-a");
    other.revision = Some("b".repeat(40));
    leaderboard_format::write_file(&results.join("org/model-a/run.parquet"), &[other]).unwrap();
    r.results_file = Some("org/model-a/run.parquet".into());
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["holds no run of org/model-a at revision aaaa"],
    );
    // FINISHED without a results file; a results file on a PENDING request.
    let mut r = finished("org/model-a");
    r.results_file = None;
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["a FINISHED request names its results file"],
    );
}

#[test]
fn unknown_keys_bad_revisions_and_wrong_names_are_refused() {
    let (_d, results, requests) = folders();
    let p = put(&requests, &finished("org/model-a"));
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replacen("\"likes\"", "\"token\": \"hf_secret\",\n  \"likes\"", 1),
    )
    .unwrap();
    assert_one(&results, &requests, &["line 11", "unknown field `token`"]);
    let mut r = finished("org/model-a");
    r.revision = "main".into();
    r.results_file = None;
    r.status = Status::Pending;
    r.history.truncate(1);
    put(&requests, &r);
    assert_one(
        &results,
        &requests,
        &["column `revision`", "resolved commit sha"],
    );
    let (_d, results, requests) = folders();
    let r = Request::new_pending(
        "org/model-b",
        REV,
        Precision::Float16,
        WeightType::Original,
        at("2026-12-01T00:00:00Z"),
    );
    let wrong = requests.join("org/model-b_eval_request_False_bfloat16_Original.json");
    std::fs::create_dir_all(wrong.parent().unwrap()).unwrap();
    write_request(&wrong, &r).unwrap();
    assert_one(
        &results,
        &requests,
        &["the path does not match", "_float16_Original.json"],
    );
}

#[test]
fn a_model_on_the_do_not_submit_list_cannot_wait_in_the_queue() {
    let (_d, results, requests) = folders();
    std::fs::write(
        results.join("flags.toml"),
        "[[flag]]\nmodel = \"Org/Model-B\"\nreason = \"authors asked\"\ncategory = \"do-not-submit\"\n",
    )
    .unwrap();
    put(
        &requests,
        &Request::new_pending(
            "org/model-b",
            REV,
            Precision::Float16,
            WeightType::Original,
            at("2026-12-01T00:00:00Z"),
        ),
    );
    assert_one(
        &results,
        &requests,
        &["column `model`", "do-not-submit list", "authors asked"],
    );
}
