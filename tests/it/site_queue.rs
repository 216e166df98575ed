//! The queue page, built by `leaderboard build` from a fixture requests folder
//! (one request of each status, a RERUN, a resubmitted failure, hostile text in a
//! valid request's reason and log) and checked in headless Chromium: section
//! titles with their counts, rows in queue order, the index page's line and the nav
//! link, reasons shown as text and no script run. Hostile requests (script in the
//! model name, `..` in a path, a 1 MB reason) are refused by `check` and by `build`,
//! and escaped by `build --allow-invalid`.

use crate::support::chrome;
use chrono::{DateTime, Utc};
use leaderboard_format::requests::{write_request, Request, Status, Transition};
use leaderboard_format::schema::{
    Benchmark, ModelType, Precision, Provenance, Run, Score, WeightType,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const EVIL: &str = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn rev(n: u32) -> String {
    format!("{n:040x}")
}

fn finished_run(model: &str, revision: &str) -> Run {
    Run {
        model_id: model.into(),
        revision: Some(revision.into()),
        precision: Precision::BFloat16,
        precision_detail: None,
        weight_type: WeightType::Original,
        base_model: None,
        model_type: ModelType::FineTuned,
        architecture: Some("LlamaForCausalLM".into()),
        params_billions: Some(7.0),
        params_truncated: false,
        license: Some("mit".into()),
        is_merge: false,
        is_moe: false,
        available_on_hub: Some(true),
        hub_likes: Some(1),
        submitted_at: Some(at("2026-11-01T08:00:00Z")),
        evaluated_at: Some(at("2026-11-01T12:00:00Z")),
        weights_sha256: None,
        provenance: Provenance {
            tool: "leaderboard-evaluator".into(),
            tool_version: Some("0.1.0".into()),
            suite: "openllm-v1".into(),
            source_dataset: None,
            run_config: None,
            deviations: vec![],
        },
        reported_average: None,
        scores: Benchmark::ALL
            .iter()
            .map(|b| Score {
                task: b.task().into(),
                metric: b.headline_metrics()[0].into(),
                value: 0.6,
                stderr: Some(0.01),
                n_samples: Some(b.n_docs()),
                num_fewshot: Some(b.num_fewshot()),
            })
            .collect(),
    }
}

fn step(status: Status, time: &str) -> Transition {
    Transition {
        status,
        time: at(time),
        host: (status != Status::Pending).then(|| "gpu-1".to_string()),
        job_id: (status == Status::Running).then(|| "slurm:77_1".to_string()),
        reason: None,
        log_tail: None,
    }
}

fn request(model: &str, n: u32, submitted: &str) -> Request {
    Request::new_pending(
        model,
        &rev(n),
        Precision::BFloat16,
        WeightType::Original,
        at(submitted),
    )
}

fn put(dir: &Path, r: &Request) -> PathBuf {
    let p = dir.join(r.rel_path());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    write_request(&p, r).unwrap();
    p
}

/// The fixture: results with the finished run, and seven requests.
fn fixture(root: &Path) -> (PathBuf, PathBuf) {
    let results = root.join("results");
    let requests = root.join("requests");
    let done = "org-f/finished-model";
    leaderboard_format::write_file(
        &results.join("org-f/finished-model/run.parquet"),
        &[finished_run(done, &rev(1))],
    )
    .unwrap();

    let mut f = request(done, 1, "2026-11-01T08:00:00Z");
    f.transition(step(Status::Running, "2026-11-01T09:00:00Z"));
    f.transition(step(Status::Finished, "2026-11-01T12:00:00Z"));
    f.results_file = Some("org-f/finished-model/run.parquet".into());
    put(&requests, &f);

    let mut r = request("org-r/running-model", 2, "2026-11-02T08:00:00Z");
    r.transition(step(Status::Running, "2026-11-03T10:00:00Z"));
    put(&requests, &r);

    put(
        &requests,
        &request("org-p/second-in-line", 3, "2026-11-05T08:00:00Z"),
    );
    put(
        &requests,
        &request("org-p/first-in-line", 4, "2026-11-04T08:00:00Z"),
    );
    let mut rerun = request("org-p/third-rerun", 5, "2026-11-06T08:00:00Z");
    rerun.transition(step(Status::Running, "2026-11-06T09:00:00Z"));
    let mut failed = step(Status::Failed, "2026-11-06T09:30:00Z");
    failed.reason = Some("numbers looked wrong".into());
    rerun.transition(failed);
    rerun.transition(step(Status::Rerun, "2026-11-07T08:00:00Z"));
    put(&requests, &rerun);

    let mut x = request("org-x/failed-model", 6, "2026-11-02T07:00:00Z");
    x.transition(step(Status::Running, "2026-11-02T07:05:00Z"));
    let mut t = step(Status::Failed, "2026-11-02T07:06:00Z");
    t.reason = Some(format!("model failed to load: {EVIL}"));
    t.log_tail = Some(vec!["loading model".into(), format!("Error: {EVIL}")]);
    x.transition(t);
    put(&requests, &x);

    let mut y = request("org-x/gated-model", 7, "2026-11-08T07:00:00Z");
    y.transition(step(Status::Running, "2026-11-08T07:05:00Z"));
    let mut t = step(Status::Failed, "2026-11-08T07:06:00Z");
    t.reason = Some("resolving org-x/gated-model on the Hub: HTTP 401".into());
    y.transition(t);
    put(&requests, &y);
    (results, requests)
}

fn build(results: &Path, requests: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .arg("build")
        .arg("--results")
        .arg(results)
        .arg("--requests")
        .arg(requests)
        .arg("--content")
        .arg(root.join("content"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn goto(c: &chrome::Chrome, url: &str) {
    c.tab
        .navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
}

#[test]
fn queue_page_shows_every_status_with_counts_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let (results, requests) = fixture(tmp.path());
    let out = tmp.path().join("site");
    let o = build(&results, &requests, &out, &[]);
    assert!(
        o.status.success(),
        "build refused the fixture: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(out.join("queue.html")).unwrap();
    assert!(!html.contains("<script>window.__pwned"), "unescaped script");
    assert!(
        html.contains("&lt;script&gt;"),
        "the reason is shown as text"
    );

    let c = chrome::Chrome::launch();
    goto(&c, &chrome::file_url(&out.join("queue.html")));
    let titles =
        c.js("[...document.querySelectorAll('section.queue-section h2')].map(h => h.textContent)");
    assert_eq!(
        titles,
        serde_json::json!(["Finished (1)", "Running (1)", "Pending (3)", "Failed (2)"])
    );
    let rows = |id: &str| {
        c.js(&format!(
            "[...document.querySelectorAll('#{id} tbody tr td.model')].map(td => td.textContent.replace(/\\s*↗.*$/, '').trim())"
        ))
    };
    assert_eq!(
        rows("finished"),
        serde_json::json!(["org-f/finished-model"])
    );
    assert_eq!(rows("running"), serde_json::json!(["org-r/running-model"]));
    // Queue order: oldest submission first; the RERUN is pending too.
    let pending = rows("pending");
    let pending: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(pending[0].starts_with("org-p/first-in-line"), "{pending:?}");
    assert!(
        pending[1].starts_with("org-p/second-in-line"),
        "{pending:?}"
    );
    assert!(
        pending[2].starts_with("org-p/third-rerun") && pending[2].contains("rerun"),
        "{pending:?}"
    );
    // Failed: newest first, reason as text, the log in a details element.
    let failed = rows("failed");
    assert_eq!(
        failed,
        serde_json::json!(["org-x/gated-model", "org-x/failed-model"])
    );
    let reason = c.js("document.querySelectorAll('#failed td.reason')[1].firstChild.textContent");
    assert_eq!(
        reason,
        serde_json::json!(format!("model failed to load: {EVIL}"))
    );
    let log = c.js("document.querySelector('#failed td.reason pre') && document.querySelectorAll('#failed td.reason pre')[0].textContent");
    assert_eq!(
        log,
        serde_json::json!(format!("loading model\nError: {EVIL}\n"))
    );
    assert_eq!(
        c.js("window.__pwned === undefined"),
        serde_json::json!(true)
    );
    assert_eq!(
        c.js("document.querySelectorAll('img').length"),
        serde_json::json!(0)
    );
    // The finished model links to its page on this site; the revision to the Hub.
    assert_eq!(
        c.js("document.querySelector('#finished td.model a').getAttribute('href')"),
        serde_json::json!("models/org-f--finished-model.html")
    );
    assert_eq!(
        c.js("document.querySelector('#running td code a').getAttribute('href')"),
        serde_json::json!(format!(
            "https://huggingface.co/org-r/running-model/tree/{}",
            rev(2)
        ))
    );
    // Nav link on every page, and the index page's one line.
    goto(&c, &chrome::file_url(&out.join("index.html")));
    assert_eq!(
        c.js("document.querySelector('.queue-line').textContent"),
        serde_json::json!("Evaluation queue: 1 finished · 1 running · 3 pending · 2 failed")
    );
    assert_eq!(
        c.js("[...document.querySelectorAll('header nav a')].some(a => a.getAttribute('href') === 'queue.html' && a.textContent === 'Queue')"),
        serde_json::json!(true)
    );
    // Byte-identical when built again.
    let again = tmp.path().join("site2");
    assert!(build(&results, &requests, &again, &[]).status.success());
    assert_eq!(
        html,
        std::fs::read_to_string(again.join("queue.html")).unwrap()
    );
}

#[test]
fn hostile_requests_are_refused_by_check_and_escaped_by_a_preview_build() {
    let tmp = tempfile::tempdir().unwrap();
    let (results, requests) = fixture(tmp.path());
    // Script in the model name (the file named like a valid request).
    let mut s = request("org-h/model", 8, "2026-11-09T08:00:00Z");
    s.model = "org-h/<script>window.__pwned=3</script>".into();
    let p = requests.join("org-h/model_eval_request_False_bfloat16_Original.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    write_request(&p, &s).unwrap();
    // `..` in the results path of a FINISHED request.
    let mut d = request("org-h/dots", 9, "2026-11-09T08:00:00Z");
    d.transition(step(Status::Running, "2026-11-09T09:00:00Z"));
    d.transition(step(Status::Finished, "2026-11-09T10:00:00Z"));
    d.results_file = Some("../../outside.parquet".into());
    put(&requests, &d);
    // A 1 MB reason.
    let mut big = request("org-h/big", 10, "2026-11-09T08:00:00Z");
    big.transition(step(Status::Running, "2026-11-09T09:00:00Z"));
    let mut t = step(Status::Failed, "2026-11-09T10:00:00Z");
    t.reason = Some("A".repeat(1 << 20));
    big.transition(t);
    put(&requests, &big);

    let check = Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .arg("check")
        .arg("--results")
        .arg(&results)
        .arg("--requests")
        .arg(&requests)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success());
    for needle in [
        "org-h/model_eval_request_False_bfloat16_Original.json, column `model`",
        "org-h/dots_eval_request_False_bfloat16_Original.json, column `results_file`",
        "org-h/big_eval_request_False_bfloat16_Original.json: larger than 65536 bytes",
    ] {
        assert!(stderr.contains(needle), "{needle}\n{stderr}");
    }
    let out = tmp.path().join("site");
    let refused = build(&results, &requests, &out, &[]);
    assert!(
        !refused.status.success(),
        "build must refuse what check refuses"
    );
    assert!(!out.exists());
    let preview = build(&results, &requests, &out, &["--allow-invalid"]);
    assert!(
        preview.status.success(),
        "{}",
        String::from_utf8_lossy(&preview.stderr)
    );
    let html = std::fs::read_to_string(out.join("queue.html")).unwrap();
    assert!(html.contains("org-h&#x2f;&lt;script&gt;window.__pwned=3&lt;&#x2f;script&gt;"));
    assert!(!html.contains("<script>window.__pwned"));
    assert!(
        !html.contains("AAAAAAAAAA"),
        "the refused file is not shown"
    );
    assert!(html.len() < 100_000, "{} bytes", html.len());
}
