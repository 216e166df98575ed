//! The spec's worked prompts, rendered byte for byte (spec §5–§10, §8.4). The sha256
//! values, character and byte counts are the spec's own (`tests/fixtures/lm-eval-tasks.md`,
//! each after "sha256(UTF-8) ="), written here as constants; on a mismatch
//! [`assert_prompt`] shows where the rendering departs from the spec's text.

use crate::support::data_dir;
use crate::support::tasks::*;
use evaluator::requests::{Request, Scoring};
use evaluator::suite::Suite;
use leaderboard_format::schema::Benchmark;

fn ll(r: &Request) -> (&str, &str) {
    match r {
        Request::LogLikelihood {
            context,
            continuation,
        } => (context, continuation),
        other => panic!("expected a log-likelihood request, got {other:?}"),
    }
}

#[test]
fn gsm8k_old_doc0_at_position_784() {
    let tr = build(Benchmark::Gsm8k, Suite::OpenLlmV1, None);
    let (pos, d) = find(&tr, "gsm8k", 0);
    assert_eq!(pos, 784);
    assert_eq!(d.fewshot, [1946, 403, 6109, 3892, 2200]);
    let Request::Generate {
        context,
        until,
        max_gen_toks,
    } = &d.requests[0]
    else {
        panic!("expected generation")
    };
    assert_prompt(
        context,
        "81e8da15e33f07ce5dbcdd4d9c7968c8ef25b584e67a8587c8cb5ecc974c3ae7",
        2314,
        2318,
    );
    assert_eq!(until, &[":", "Question:", "Question"]);
    assert_eq!(*max_gen_toks, 256);
    assert_eq!(d.requests.len(), 1);
}

#[test]
fn gsm8k_old_first_evaluated_doc_is_test_588() {
    let tr = build(Benchmark::Gsm8k, Suite::OpenLlmV1, Some(3));
    let d = &tr.docs[0];
    assert_eq!(d.doc_id, 588);
    assert_eq!(d.fewshot, [7268, 4403, 1111, 3183, 3716]);
    assert_prompt(
        d.prompt(),
        "f78d2409c5fd0cf92d7c74c80ec7a8bd0e79efd5885949decad1e667b8b290dc",
        3255,
        3257,
    );
    assert_eq!(
        d.prompt_sha256(),
        "f78d2409c5fd0cf92d7c74c80ec7a8bd0e79efd5885949decad1e667b8b290dc"
    );
}

#[test]
fn gsm8k_new_doc0() {
    let tr = build(Benchmark::Gsm8k, Suite::LmEval04, Some(2));
    let d = &tr.docs[0];
    assert_eq!(d.doc_id, 0);
    assert_eq!(d.fewshot, [6374, 3610, 957, 61, 742]);
    let Request::Generate {
        context,
        until,
        max_gen_toks,
    } = &d.requests[0]
    else {
        panic!("expected generation")
    };
    assert_prompt(
        context,
        "32680f263ba83280e98a8a24ceefed10a722a4cdcd9f4d78e93c45d43143ca66",
        3187,
        3189,
    );
    assert_eq!(until, &["Question:", "</s>", "<|im_end|>"]);
    assert_eq!(*max_gen_toks, 256);
    assert!(matches!(&d.scoring, Scoring::Gsm8k { answer } if answer.ends_with("#### 18")));
}

#[test]
fn mmlu_abstract_algebra_doc0_both_suites() {
    for suite in [Suite::OpenLlmV1, Suite::LmEval04] {
        let tr = build(Benchmark::Mmlu, suite, None);
        let (_, d) = find(&tr, "mmlu_abstract_algebra", 0);
        assert_eq!(d.requests.len(), 4);
        for (r, want) in d.requests.iter().zip([" A", " B", " C", " D"]) {
            let (ctx, cont) = ll(r);
            assert_prompt(
                ctx,
                "ff9b00310e214beacf4b324da8c9e6c1de4e49cb422f1bcb1f7037b78f40a2a3",
                993,
                993,
            );
            assert_eq!(cont, want);
        }
        assert_eq!(d.fewshot, [0, 1, 2, 3, 4]);
        assert_eq!(
            d.scoring,
            Scoring::MultipleChoice {
                gold: 1,
                choice_lens: vec![1; 4]
            }
        );
    }
}

#[test]
fn truthfulqa_doc0_both_suites() {
    let choices = [
        "Nauru is the smallest country in the world that is at least one square mile in area.",
        "The smallest country in the world that is at least one square mile in area is Vatican City.",
        "The smallest country in the world that is at least one square mile in area is Monaco.",
        "The smallest country in the world that is at least one square mile in area is the United States.",
    ];
    for suite in [Suite::OpenLlmV1, Suite::LmEval04] {
        let tr = build(Benchmark::TruthfulQa, suite, None);
        let (_, d) = find(&tr, "truthfulqa_mc", 0);
        // OLD: the mc1 choices, then the mc2 choices; NEW (truthfulqa_mc2): mc2 only.
        let n = if suite == Suite::OpenLlmV1 { 8 } else { 4 };
        assert_eq!(d.requests.len(), n);
        for (i, r) in d.requests.iter().enumerate() {
            let (ctx, cont) = ll(r);
            assert_prompt(
                ctx,
                "9a49d503567e78c5058d24d3f4a68732e86bffb6902e5dbf7083d542ed7fbdfc",
                664,
                664,
            );
            assert_eq!(cont, format!(" {}", choices[i % 4]));
        }
        let mc1 = if suite == Suite::OpenLlmV1 { 4 } else { 0 };
        assert_eq!(
            d.scoring,
            Scoring::TruthfulQa {
                mc1_count: mc1,
                mc2_labels: vec![1, 0, 0, 0]
            }
        );
    }
}

#[test]
fn arc_text_doc0_continuations_and_lengths() {
    for suite in [Suite::OpenLlmV1, Suite::LmEval04] {
        let mut o = opts(suite);
        o.num_fewshot = Some(0);
        let tr = build_with(Benchmark::Arc, data_dir(), &o);
        let (_, d) = find(&tr, "arc_challenge", 0);
        assert_eq!(
            sha(d.prompt()),
            "18a38ce966dd79d82ad53d9cbd967a02bb4578f1723b4b496db57968ffa22054"
        );
        let conts: Vec<&str> = d.requests.iter().map(|r| ll(r).1).collect();
        assert_eq!(
            conts,
            [
                " Planetary density will decrease.",
                " Planetary years will become longer.",
                " Planetary days will become shorter.",
                " Planetary gravity will become stronger."
            ]
        );
        assert_eq!(
            d.scoring,
            Scoring::MultipleChoice {
                gold: 2,
                choice_lens: vec![32, 35, 35, 39]
            }
        );
    }
    // 25-shot: the prompt ends with TEXT(doc0) after 25 examples.
    let tr = build(Benchmark::Arc, Suite::LmEval04, Some(1));
    let p = tr.docs[0].prompt();
    assert!(p.ends_with("\n\nQuestion: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?\nAnswer:"));
    assert_eq!(p.matches("\n\nQuestion: ").count(), 25);
}

#[test]
fn hellaswag_text_doc0_continuations_and_lengths() {
    for suite in [Suite::OpenLlmV1, Suite::LmEval04] {
        let mut o = opts(suite);
        o.num_fewshot = Some(0);
        let tr = build_with(Benchmark::HellaSwag, data_dir(), &o);
        assert!(
            tr.deviations.is_empty(),
            "0-shot needs no train split and no fallback"
        );
        let (_, d) = find(&tr, "hellaswag", 0);
        assert_eq!(
            d.prompt(),
            "Roof shingle removal: A man is sitting on a roof. He"
        );
        assert_eq!(
            sha(d.prompt()),
            "e63087504993cd36ee0de69dc9b1ab25ac86550530f0b38fd17b14d3c4cf4f38"
        );
        let conts: Vec<&str> = d.requests.iter().map(|r| ll(r).1).collect();
        assert_eq!(
            conts,
            [
                " is using wrap to wrap a pair of skis.",
                " is ripping level tiles off.",
                " is holding a rubik's cube.",
                " starts pulling up roofing on a roof."
            ]
        );
        assert_eq!(
            d.scoring,
            Scoring::MultipleChoice {
                gold: 3,
                choice_lens: vec![37, 27, 26, 36]
            }
        );
    }
}

#[test]
fn winogrande_doc0_partial_contexts() {
    let mut o = opts(Suite::LmEval04);
    o.num_fewshot = Some(0);
    let tr = build_with(Benchmark::Winogrande, data_dir(), &o);
    let d = &tr.docs[0];
    let reqs: Vec<(&str, &str)> = d.requests.iter().map(ll).collect();
    assert_eq!(
        reqs,
        [
            (
                "Sarah was a much better surgeon than Maria so Sarah",
                " always got the easier cases."
            ),
            (
                "Sarah was a much better surgeon than Maria so Maria",
                " always got the easier cases."
            ),
        ]
    );
    assert_eq!(d.scoring, Scoring::Partial { gold: 1 });
    // 5-shot: both contexts share the few-shot prefix, each example is
    // partial(correct) + " " + rest.
    let tr = build(Benchmark::Winogrande, Suite::LmEval04, Some(1));
    let d = &tr.docs[0];
    let (c1, _) = ll(&d.requests[0]);
    let (c2, _) = ll(&d.requests[1]);
    let prefix = c1
        .strip_suffix("Sarah was a much better surgeon than Maria so Sarah")
        .unwrap();
    assert_eq!(
        c2,
        format!("{prefix}Sarah was a much better surgeon than Maria so Maria")
    );
    assert_eq!(prefix.matches("\n\n").count(), 5);
    assert!(!prefix.contains('_'));
}

#[test]
fn hellaswag_fewshot_prompt_assembly_with_fallback() {
    let tr = build(Benchmark::HellaSwag, Suite::LmEval04, Some(2));
    assert_eq!(tr.deviations, ["hellaswag-fewshot-fallback:validation"]);
    let d = &tr.docs[0];
    assert_eq!(d.fewshot.len(), 10);
    assert!(!d.fewshot.contains(&0));
    let p = d.prompt();
    assert!(p.ends_with("\n\nRoof shingle removal: A man is sitting on a roof. He"));
    assert_eq!(p.matches("\n\n").count(), 10);
}
