//! `leaderboard import lm-eval … --samples …`: the samples files lm-eval 0.4.8 wrote for
//! the six tasks when it ran on the test model (`tests/fixtures/imports/lm-eval-run/`,
//! made by `scripts/make-lm-eval-fixtures.sh`) become the run's details file, row for
//! row equal to the JSONL (log-likelihoods, greedy flags, prompt hashes, metric values);
//! samples that do not match their results file, or that were edited, are refused naming
//! the file and line; a samples file of a task outside the six is refused naming it.

use leaderboard::import_lm_eval::{import, output_path, Options};
use leaderboard_format::details::{self, DetailRow};
use leaderboard_format::schema::Precision;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const REV: &str = "0000000000000000000000000000000000000001";
const TASKS: [&str; 6] = [
    "arc",
    "hellaswag",
    "mmlu",
    "truthfulqa",
    "winogrande",
    "gsm8k",
];

fn run_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/imports/lm-eval-run")
}

fn results_files() -> Vec<PathBuf> {
    TASKS
        .iter()
        .map(|t| run_dir().join(format!("{t}.json")))
        .collect()
}

fn samples_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn opts(samples: Vec<PathBuf>) -> Options {
    Options {
        model_id: Some("HuggingFaceTB/SmolLM2-135M-Instruct".into()),
        revision: Some(REV.into()),
        precision: Some(Precision::Float32),
        model_type: None,
        samples,
    }
}

fn err(samples: Vec<PathBuf>) -> String {
    format!(
        "{:#}",
        import(&results_files(), &opts(samples)).expect_err("must be refused")
    )
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The samples folder copied, with `edit` applied to line `line` (0-based) of `file`.
fn edited(tmp: &Path, file: &str, line: usize, edit: impl Fn(&mut Value)) -> Vec<PathBuf> {
    let dir = tmp.join("samples");
    std::fs::create_dir_all(&dir).unwrap();
    for p in samples_files(&run_dir().join("samples")) {
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let mut text = std::fs::read_to_string(&p).unwrap();
        if name == file {
            let mut ls = lines(&p);
            edit(&mut ls[line]);
            text = ls
                .iter()
                .map(|v| serde_json::to_string(v).unwrap() + "\n")
                .collect();
        }
        std::fs::write(dir.join(name), text).unwrap();
    }
    samples_files(&dir)
}

fn ll(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_f64().unwrap(),
    }
}

#[test]
fn lm_eval_samples_of_the_six_tasks_become_the_details_row_for_row() {
    let samples = samples_files(&run_dir().join("samples"));
    assert_eq!(
        samples.len(),
        4 + 57 + 2,
        "arc, hellaswag, winogrande, gsm8k, 57 MMLU subjects, mc1 + mc2"
    );
    let imported = import(&results_files(), &opts(samples.clone())).unwrap();
    let rows = &imported.details;
    let mut per_task: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        let t = r.sample.task.as_str();
        *per_task
            .entry(if t.starts_with("mmlu_") { "mmlu_*" } else { t })
            .or_default() += 1;
    }
    assert_eq!(
        per_task.into_iter().collect::<Vec<_>>(),
        [
            ("arc_challenge", 2),
            ("gsm8k", 2),
            ("hellaswag", 2),
            ("mmlu_*", 114),
            ("truthfulqa_mc", 2),
            ("winogrande", 2)
        ]
    );
    let row = |task: &str, doc: usize| -> &DetailRow {
        rows.iter()
            .find(|r| r.sample.task == task && r.sample.doc_id == doc)
            .unwrap()
    };
    // Every line of every file is in its row, as lm-eval wrote it.
    let mut checked = 0;
    for p in &samples {
        let name = p.file_stem().unwrap().to_str().unwrap();
        let task = name.strip_prefix("samples_").unwrap();
        for l in lines(p) {
            let doc = l["doc_id"].as_u64().unwrap() as usize;
            let ours = match task {
                "truthfulqa_mc1" | "truthfulqa_mc2" => "truthfulqa_mc",
                t => t,
            };
            let r = row(ours, doc);
            assert_eq!(r.sample.prompt_sha256, l["prompt_hash"].as_str().unwrap());
            let resps = l["filtered_resps"].as_array().unwrap();
            match task {
                "gsm8k" => {
                    let key = match l["filter"].as_str().unwrap() {
                        "strict-match" => {
                            assert_eq!(r.sample.prediction, resps[0].as_str().unwrap());
                            assert_eq!(r.sample.generated.as_deref(), l["resps"][0][0].as_str());
                            "exact_match_strict"
                        }
                        _ => "exact_match_flexible",
                    };
                    let v = r.sample.metrics.iter().find(|(m, _)| m == key).unwrap().1;
                    assert_eq!(v, l["exact_match"].as_f64().unwrap());
                    assert!(r.sample.loglikelihoods.is_empty());
                }
                _ => {
                    let theirs: Vec<f64> = resps.iter().map(|x| ll(&x[0])).collect();
                    let greedy: Vec<bool> = resps.iter().map(|x| x[1] == "True").collect();
                    let n = theirs.len();
                    let (lls, flags) = match task {
                        // mc1's requests first, then mc2's.
                        "truthfulqa_mc2" => {
                            let k = r.sample.loglikelihoods.len() - n;
                            (&r.sample.loglikelihoods[k..], &r.is_greedy[k..])
                        }
                        _ => (&r.sample.loglikelihoods[..n], &r.is_greedy[..n]),
                    };
                    assert_eq!(lls, theirs.as_slice(), "{task} doc {doc}");
                    assert_eq!(flags, greedy.as_slice());
                    let (metric, key) = match task {
                        "truthfulqa_mc1" => ("mc1", "acc"),
                        "truthfulqa_mc2" => ("mc2", "acc"),
                        "arc_challenge" | "hellaswag" => ("acc_norm", "acc_norm"),
                        _ => ("acc", "acc"),
                    };
                    let v = r
                        .sample
                        .metrics
                        .iter()
                        .find(|(m, _)| m == metric)
                        .unwrap()
                        .1;
                    assert_eq!(v, l[key].as_f64().unwrap(), "{task} doc {doc} {metric}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * (4 + 57 + 2) + 2, "GSM8K has a line per filter");
    // The details' means are the results file's scores (the importer checks this too).
    let tq = row("truthfulqa_mc", 0);
    assert_eq!(
        tq.sample
            .metrics
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>(),
        ["mc1", "mc2"]
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir().join("truthfulqa.json")).unwrap())
            .unwrap();
    let mc2: f64 = (0..2)
        .map(|d| row("truthfulqa_mc", d).sample.metrics[1].1)
        .sum::<f64>()
        / 2.0;
    let want = r["results"]["truthfulqa_mc2"]["acc,none"].as_f64().unwrap();
    assert!((mc2 - want).abs() < 1e-12, "{mc2} vs {want}");
}

#[test]
fn the_command_writes_a_details_file_that_check_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaderboard"))
        .args(["import", "lm-eval"])
        .args(results_files())
        .arg("--samples")
        .args(samples_files(&run_dir().join("samples")))
        .args([
            "--model-id",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "--revision",
            REV,
            "--results",
        ])
        .arg(&results)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(124 documents)"), "{stdout}");
    let run = import(&results_files(), &opts(Vec::new())).unwrap().run;
    let path = output_path(&results, &run);
    let rows = details::read_rows(&details::details_path(&path)).unwrap();
    assert_eq!(rows.len(), 124);
    let (problems, _) = leaderboard_format::check::check_and_load(&results);
    assert!(problems.is_empty(), "{problems:?}");
    // Importing the same files again writes the same bytes.
    let first = std::fs::read(details::details_path(&path)).unwrap();
    let again = tmp.path().join("again");
    details::write_file(
        &details::details_path(&output_path(&again, &run)),
        &import(
            &results_files(),
            &opts(samples_files(&run_dir().join("samples"))),
        )
        .unwrap()
        .details,
    )
    .unwrap();
    assert_eq!(
        first,
        std::fs::read(details::details_path(&output_path(&again, &run))).unwrap()
    );
}

#[test]
fn edited_or_mismatched_samples_are_refused_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    // A log-likelihood edited so that the recorded acc no longer follows from them.
    let e = err(edited(
        &tmp.path().join("a"),
        "samples_winogrande.jsonl",
        1,
        |l| {
            let lls = l["filtered_resps"].as_array_mut().unwrap();
            let (a, b) = (ll(&lls[0][0]), ll(&lls[1][0]));
            lls[0][0] = Value::from((b + 1.0).to_string());
            lls[1][0] = Value::from((a.min(b) - 1.0).to_string());
        },
    ));
    assert!(
        e.contains("samples_winogrande.jsonl: line 2 (document 1): `acc` is 0 but its log-likelihoods give 1"),
        "{e}"
    );
    // The prompt edited: its hash no longer matches.
    let e = err(edited(
        &tmp.path().join("b"),
        "samples_arc_challenge.jsonl",
        0,
        |l| {
            l["arguments"]["gen_args_0"]["arg_0"] = Value::from("Question: edited\nAnswer:");
        },
    ));
    assert!(
        e.contains("samples_arc_challenge.jsonl: line 1: `prompt_hash` is not the sha256"),
        "{e}"
    );
    // A metric value edited consistently in the line: the mean no longer equals the score.
    let e = err(edited(
        &tmp.path().join("c"),
        "samples_gsm8k.jsonl",
        0,
        |l| {
            l["exact_match"] = Value::from(1.0);
        },
    ));
    assert!(
        e.contains("the samples give gsm8k exact_match_")
            && e.contains("but the results file says 0"),
        "{e}"
    );
    // A task's samples missing.
    let mut some = samples_files(&run_dir().join("samples"));
    some.retain(|p| !p.ends_with("samples_hellaswag.jsonl"));
    let e = err(some);
    assert!(e.contains("no samples for hellaswag acc"), "{e}");
    // A document twice.
    let e = err(edited(
        &tmp.path().join("d"),
        "samples_hellaswag.jsonl",
        1,
        |l| {
            l["doc_id"] = Value::from(0);
        },
    ));
    assert!(
        e.contains("document 0 of hellaswag (filter none) appears twice"),
        "{e}"
    );
    // Not JSON.
    let dir = tmp.path().join("e");
    let mut files = edited(&dir, "none", 0, |_| {});
    std::fs::write(
        dir.join("samples/samples_winogrande.jsonl"),
        "{\"doc_id\": 0,\n",
    )
    .unwrap();
    files.sort();
    let e = err(files);
    assert!(
        e.contains("samples_winogrande.jsonl: line 1: not a JSON object"),
        "{e}"
    );
}

#[test]
fn a_samples_file_of_a_task_outside_the_six_is_refused_naming_it() {
    let gen = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fixtures/imports/lm-eval/v0.4.8_samples_truthfulqa_gen_2025-05-31T14-30-51.983293.jsonl",
    );
    let e = err(vec![gen.clone()]);
    assert!(
        e.contains("none of the samples files is for one of the leaderboard's six tasks")
            && e.contains("they hold truthfulqa_gen"),
        "{e}"
    );
    // Beside the six tasks' samples it is left out and listed.
    let mut files = samples_files(&run_dir().join("samples"));
    files.push(gen.clone());
    let imported = import(&results_files(), &opts(files)).unwrap();
    assert!(
        imported
            .skipped
            .contains(&"truthfulqa_gen (samples)".to_string()),
        "{:?}",
        imported.skipped
    );
    assert_eq!(imported.details.len(), 124);
    // Given as a results file, it is named for what it is.
    let e = format!(
        "{:#}",
        import(&[gen], &opts(Vec::new())).expect_err("a samples file is not a results file")
    );
    assert!(
        e.contains("an lm-eval samples file") && e.contains("pass it after --samples"),
        "{e}"
    );
}
