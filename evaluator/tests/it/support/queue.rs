//! What the queue tests share (`slow::work_queue`, `slow::slurm_cluster`): a Hub repo
//! serving the test model, PENDING requests, request histories, journal progress.

use super::hub_server::{Body, FakeRepo};
use leaderboard_format::requests::{read_request, write_request, Request, Status};
use leaderboard_format::schema::{Precision, WeightType};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A model repo `id` at commit `sha` holding the test model's GGUF.
pub fn model_repo(id: &str, sha: &str) -> FakeRepo {
    FakeRepo {
        dataset: false,
        id: id.into(),
        sha: sha.into(),
        refs: vec!["main".into()],
        files: BTreeMap::from([
            (
                "SmolLM2-135M-Instruct.Q4_1.gguf".to_string(),
                Body::File(super::model::test_model()),
            ),
            ("README.md".to_string(), Body::Bytes(b"# test\n".to_vec())),
        ]),
    }
}

/// A PENDING float32 request for `model` at `rev`, submitted at `at` (RFC 3339),
/// with a licence, likes and (for names containing "two") the merge tag; its path.
pub fn pending(dir: &Path, model: &str, rev: &str, at: &str) -> PathBuf {
    let at = chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc();
    let mut r = Request::new_pending(model, rev, Precision::Float32, WeightType::Original, at);
    r.license = "apache-2.0".into();
    r.likes = 7;
    r.is_merge = model.contains("two");
    let path = dir.join(r.rel_path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_request(&path, &r).unwrap();
    path
}

/// The statuses of a request file's history, oldest first.
pub fn statuses(p: &Path) -> Vec<Status> {
    read_request(p)
        .unwrap()
        .history
        .iter()
        .map(|t| t.status)
        .collect()
}

/// Complete records (lines after the header) in every journal under `cache`.
pub fn journal_records(cache: &Path) -> usize {
    super::model::files_under(cache)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "journal"))
        .map(|p| {
            let b = std::fs::read(cache.join(p)).unwrap_or_default();
            b.iter().filter(|&&c| c == b'\n').count().saturating_sub(1)
        })
        .sum()
}

/// Waits until the journals under `cache` hold at least `n` complete records
/// (a run is then midway), panicking after 15 minutes.
pub fn wait_for_journal_records(cache: &Path, n: usize) {
    let start = std::time::Instant::now();
    while journal_records(cache) < n {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(900),
            "fewer than {n} journal records after 15 min"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
