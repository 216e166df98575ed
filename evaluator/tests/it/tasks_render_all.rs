//! Every document of every task renders, for both suites, with the expected
//! counts (HellaSwag with the validation fallback pool, since its train split
//! is not in data/benchmarks).

use crate::support::tasks::*;
use evaluator::requests::{Request, Scoring};
use evaluator::suite::Suite;
use evaluator::tasks::TaskRequests;
use leaderboard_format::schema::{Benchmark, MMLU_SUBJECTS};
use std::collections::HashSet;

fn check_all(tr: &TaskRequests, n: usize) {
    assert_eq!(tr.docs.len(), n, "{}", tr.task.id);
    let ids: HashSet<(&str, usize)> = tr
        .docs
        .iter()
        .map(|d| (d.task.as_str(), d.doc_id))
        .collect();
    assert_eq!(ids.len(), n, "every document exactly once");
    for d in &tr.docs {
        assert!(!d.requests.is_empty());
        let k = tr.num_fewshot;
        assert!(
            d.fewshot.len() == k || tr.task.benchmark == Some(Benchmark::TruthfulQa),
            "{} doc {}",
            d.task,
            d.doc_id
        );
        for r in &d.requests {
            match r {
                Request::LogLikelihood {
                    context,
                    continuation,
                } => {
                    assert!(!context.is_empty());
                    assert!(
                        continuation.starts_with(' ') && continuation.len() > 1
                            || tr.task.benchmark == Some(Benchmark::Winogrande)
                    );
                }
                Request::Generate { context, until, .. } => {
                    assert!(context.ends_with("\nAnswer:"));
                    assert!(!until.is_empty());
                }
            }
        }
        match &d.scoring {
            Scoring::MultipleChoice { gold, choice_lens } => {
                assert!(*gold < d.requests.len());
                assert_eq!(choice_lens.len(), d.requests.len());
            }
            Scoring::Partial { gold } => assert!(*gold < 2 && d.requests.len() == 2),
            Scoring::TruthfulQa {
                mc1_count,
                mc2_labels,
            } => {
                assert_eq!(d.requests.len(), mc1_count + mc2_labels.len())
            }
            Scoring::Gsm8k { answer } => assert!(answer.contains("#### ")),
        }
    }
}

#[test]
fn arc_gsm8k_truthfulqa_winogrande_all_docs() {
    for suite in Suite::ALL {
        for (b, n) in [
            (Benchmark::Arc, 1172),
            (Benchmark::Gsm8k, 1319),
            (Benchmark::TruthfulQa, 817),
            (Benchmark::Winogrande, 1267),
        ] {
            let tr = build(b, suite, None);
            check_all(&tr, n);
            assert!(tr.deviations.is_empty());
        }
    }
}

#[test]
fn hellaswag_all_docs_with_fallback() {
    for suite in Suite::ALL {
        let tr = build(Benchmark::HellaSwag, suite, None);
        check_all(&tr, 10042);
        assert_eq!(tr.deviations, ["hellaswag-fewshot-fallback:validation"]);
        for d in &tr.docs {
            assert!(
                !d.fewshot.contains(&d.doc_id),
                "doc {} drew itself",
                d.doc_id
            );
        }
    }
}

#[test]
fn mmlu_all_docs_in_57_subjects() {
    for suite in Suite::ALL {
        let tr = build(Benchmark::Mmlu, suite, None);
        check_all(&tr, 14042);
        let mut counts = Vec::new();
        for s in MMLU_SUBJECTS {
            let task = format!("mmlu_{s}");
            let n = tr.docs.iter().filter(|d| d.task == task).count();
            assert!(n > 0, "{task} has no documents");
            counts.push(n);
        }
        assert_eq!(counts.len(), 57);
        assert_eq!(counts.iter().sum::<usize>(), 14042);
        assert_eq!(counts[0], 100, "abstract_algebra");
        // Subject after subject, each prompt opening with its own description.
        for d in &tr.docs {
            let subject = d.task.strip_prefix("mmlu_").unwrap().replace('_', " ");
            assert!(d.prompt().starts_with(&format!(
                "The following are multiple choice questions (with answers) about {subject}.\n\n"
            )));
            assert!(d.prompt().matches("\nAnswer:").count() >= 6);
        }
    }
}

#[test]
fn building_is_deterministic() {
    let a = build(Benchmark::Winogrande, Suite::OpenLlmV1, Some(50));
    let b = build(Benchmark::Winogrande, Suite::OpenLlmV1, Some(50));
    assert_eq!(a.docs, b.docs);
}
