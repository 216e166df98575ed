//! Helpers of the task-layer tests: building tasks from the repository's data, and
//! the spec's worked prompts (`tests/fixtures/lm-eval-tasks.md`).

use evaluator::data::LocalDir;
use evaluator::requests::DocRequests;
use evaluator::suite::{DrawMode, Suite};
use evaluator::tasks::{self, BuildOptions, FewshotFallback, TaskRequests};
use leaderboard_format::schema::Benchmark;
use std::path::PathBuf;

use super::data_dir;

pub fn opts(suite: Suite) -> BuildOptions {
    BuildOptions::new(suite)
}

pub fn build_with(b: Benchmark, dir: PathBuf, o: &BuildOptions) -> TaskRequests {
    tasks::build(b, &LocalDir::new(dir), o).unwrap_or_else(|e| panic!("building {}: {e}", b.task()))
}

pub fn build(b: Benchmark, suite: Suite, limit: Option<usize>) -> TaskRequests {
    let mut o = opts(suite);
    o.limit = limit;
    if b == Benchmark::HellaSwag {
        o.hellaswag_fallback = Some(FewshotFallback::Validation);
    }
    build_with(b, data_dir(), &o)
}

pub fn group(suite: Suite) -> BuildOptions {
    let mut o = opts(suite);
    o.draw_mode = DrawMode::Group;
    o
}

pub fn find<'a>(tr: &'a TaskRequests, task: &str, doc_id: usize) -> (usize, &'a DocRequests) {
    tr.docs
        .iter()
        .enumerate()
        .find(|(_, d)| d.task == task && d.doc_id == doc_id)
        .unwrap_or_else(|| panic!("{task} doc {doc_id} not built"))
}

pub fn sha(s: &str) -> String {
    evaluator::requests::sha256_hex(s)
}

/// The worked prompt the spec (`tests/fixtures/lm-eval-tasks.md`) gives after "sha256(UTF-8) = `<hash>`": the
/// concatenation of the JSON array that follows.
pub fn spec_prompt(hash: &str) -> String {
    let spec = std::fs::read_to_string(super::fixture("lm-eval-tasks.md")).expect("read the spec");
    let at = spec
        .find(&format!("sha256(UTF-8) = `{hash}`"))
        .expect("hash in spec");
    let rest = &spec[at..];
    let start = rest.find("```json\n").expect("json block") + 8;
    let end = rest[start..].find("```").expect("end of json block") + start;
    let parts: Vec<String> = serde_json::from_str(&rest[start..end]).expect("spec json array");
    parts.concat()
}

/// Assert a prompt has the spec's hash and lengths; on failure show where it
/// departs from the spec's text.
pub fn assert_prompt(prompt: &str, hash: &str, chars: usize, bytes: usize) {
    if sha(prompt) != hash {
        let want = spec_prompt(hash);
        let i = prompt
            .chars()
            .zip(want.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let got: String = prompt
            .chars()
            .skip(i.saturating_sub(40))
            .take(120)
            .collect();
        let exp: String = want.chars().skip(i.saturating_sub(40)).take(120).collect();
        panic!("prompt sha256 {} != {hash}; first difference at char {i}:\n got: {got:?}\nwant: {exp:?}", sha(prompt));
    }
    assert_eq!(prompt.chars().count(), chars);
    assert_eq!(prompt.len(), bytes);
}

/// A data folder in a temp dir: every file of `data/benchmarks` linked
/// or copied in, plus a synthetic HellaSwag train split of 39,905 records
/// (record i is validation record i mod 10042 with `ind` = i), for checks that
/// only depend on the pool's size.
pub fn dir_with_synthetic_hellaswag_train() -> tempfile::TempDir {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let src = data_dir();
    for task in [
        "arc_challenge",
        "hellaswag",
        "mmlu",
        "truthfulqa_mc",
        "winogrande",
        "gsm8k",
    ] {
        std::fs::create_dir_all(tmp.path().join(task)).unwrap();
        for e in std::fs::read_dir(src.join(task)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), tmp.path().join(task).join(e.file_name())).unwrap();
        }
    }
    let recs = evaluator::data::read_jsonl(&src.join("hellaswag/validation.jsonl.gz")).unwrap();
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(tmp.path().join("hellaswag/train.jsonl")).unwrap(),
    );
    for i in 0..39905 {
        let mut v = recs.rows[i % recs.rows.len()].1.clone();
        v["ind"] = serde_json::json!(i);
        v["split"] = serde_json::json!("train");
        writeln!(f, "{v}").unwrap();
    }
    f.flush().unwrap();
    tmp
}
