//! Seeded random corruptions of valid results and details files: byte
//! flips, truncations and insertions. Every corrupted file must be refused
//! with an error naming it, or read back as exactly the original data; no
//! panic escapes and nothing aborts (the test process would die).

use super::check::run;
use leaderboard_format::details::{self, DetailRow, SampleDetail};
use leaderboard_format::schema::Benchmark;
use std::path::Path;

/// xorshift64*: a small seeded generator, so every run tries the same files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn corrupt(rng: &mut Rng, original: &[u8]) -> (String, Vec<u8>) {
    let mut b = original.to_vec();
    match rng.below(3) {
        0 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let i = rng.below(b.len());
                b[i] ^= 1 + rng.below(255) as u8;
            }
            (format!("flip {n} bytes"), b)
        }
        1 => {
            let keep = rng.below(b.len());
            b.truncate(keep);
            (format!("truncate to {keep}"), b)
        }
        _ => {
            let at = rng.below(b.len() + 1);
            let n = 1 + rng.below(16);
            let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            b.splice(at..at, ins);
            (format!("insert {n} at {at}"), b)
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    refused: usize,
    identical: usize,
    contained_panics: usize,
    /// Distinct places the contained panics came from.
    panic_sites: std::collections::BTreeSet<String>,
}

fn fuzz<T: PartialEq + std::fmt::Debug>(
    label: &str,
    original: &[u8],
    n: usize,
    seed: u64,
    read: impl Fn(&Path) -> Result<T, leaderboard_format::ResultsError>,
) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    std::fs::write(&path, original).unwrap();
    let want = read(&path).expect("the original reads");
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    for i in 0..n {
        let (what, bytes) = corrupt(&mut rng, original);
        std::fs::write(&path, &bytes).unwrap();
        match read(&path) {
            Ok(got) => {
                assert_eq!(
                    got, want,
                    "{label} #{i} ({what}): accepted with changed data"
                );
                t.identical += 1;
            }
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains(&path.display().to_string()),
                    "{label} #{i} ({what}): the error does not name the file: {text}"
                );
                if let Some(at) = text.split("the Parquet reader failed on it (").nth(1) {
                    t.contained_panics += 1;
                    let site = at.rsplit(" at ").next().unwrap_or(at);
                    let site = site.rsplit("/src/").next().unwrap_or(site);
                    t.panic_sites.insert(site.trim_end_matches(')').to_string());
                }
                t.refused += 1;
            }
        }
    }
    t
}

fn detail_rows() -> Vec<DetailRow> {
    (0..40)
        .map(|i| {
            let b = Benchmark::ALL[i % 6];
            DetailRow {
                sample: SampleDetail {
                    task: if b == Benchmark::Mmlu {
                        "mmlu_anatomy".into()
                    } else {
                        b.task().into()
                    },
                    doc_id: i,
                    prompt_sha256: format!("{:064x}", i * 7919),
                    loglikelihoods: vec![-1.0 - i as f64, -0.5],
                    prediction: (i % 4).to_string(),
                    gold: "1".into(),
                    correct: i % 4 == 1,
                    generated: (b == Benchmark::Gsm8k).then(|| format!("The answer is {i}.")),
                    metrics: vec![("acc".into(), (i % 2) as f64)],
                },
                is_greedy: vec![i % 3 == 0, true],
            }
        })
        .collect()
}

#[test]
fn corrupted_files_are_refused_or_read_identically() {
    let runs: Vec<_> = (0..5).map(|i| run(&format!("org/model-{i}"))).collect();
    let results_bytes = leaderboard_format::results::to_bytes(&runs).unwrap();
    let details_bytes = details::to_bytes(&detail_rows()).unwrap();
    let r = fuzz(
        "results",
        &results_bytes,
        1500,
        0x5eed_0001,
        leaderboard_format::read_file,
    );
    let d = fuzz(
        "details",
        &details_bytes,
        1000,
        0x5eed_0002,
        details::read_rows,
    );
    println!(
        "fuzz: {} corruptions of a results file ({} bytes): {} refused naming the file ({} of them contained reader panics), {} read back identical",
        1500,
        results_bytes.len(),
        r.refused,
        r.contained_panics,
        r.identical
    );
    println!(
        "fuzz: {} corruptions of a details file ({} bytes): {} refused naming the file ({} of them contained reader panics), {} read back identical",
        1000,
        details_bytes.len(),
        d.refused,
        d.contained_panics,
        d.identical
    );
    println!(
        "fuzz: contained panics came from: {:?}",
        r.panic_sites.union(&d.panic_sites).collect::<Vec<_>>()
    );
    assert_eq!(r.refused + r.identical + d.refused + d.identical, 2500);
}
