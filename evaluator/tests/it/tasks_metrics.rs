//! Metric values on hand-computed log-likelihoods (spec §4, §8.3), and the
//! aggregation to scores.

use evaluator::metrics::*;
use evaluator::pystr;
use evaluator::requests::{DocRequests, Request, Response, Scoring};
use evaluator::suite::Suite;
use evaluator::tasks::{score, TaskRequests};
use leaderboard_format::schema::Benchmark;

#[test]
fn acc_ties_go_to_the_lowest_index() {
    assert_eq!(argmax(&[-1.0, -1.0, -2.0]), 0);
    assert_eq!(acc(&[-1.0, -1.0, -2.0], 0), 1.0);
    assert_eq!(acc(&[-1.0, -1.0, -2.0], 1), 0.0);
    assert_eq!(acc(&[-3.0, -0.5, -0.5], 1), 1.0);
    assert_eq!(
        argmax(&[-2.0, f64::NAN, 0.0]),
        1,
        "numpy treats NaN as the maximum"
    );
}

#[test]
fn acc_norm_divides_by_code_points() {
    // "é" is 1 code point but 2 bytes: by code points choice 1 wins
    // (-1.9/2 = -0.95 > -1.0/1); by bytes choice 0 would (-1.0/2 = -0.5).
    let choices = ["é", "ab"];
    let lens: Vec<usize> = choices.iter().map(|c| pystr::len(c)).collect();
    assert_eq!(lens, [1, 2]);
    let lls = [-1.0, -1.9];
    assert_eq!(acc_norm_pred(&lls, &lens), 1);
    assert_eq!(acc_norm(&lls, &lens, 1), 1.0);
    assert_eq!(acc(&lls, 1), 0.0);
    // Ties after normalisation also go to the lowest index.
    assert_eq!(acc_norm_pred(&[-2.0, -4.0], &[1, 2]), 0);
}

#[test]
fn mc1_and_mc2_both_formulas() {
    let ln = f64::ln;
    assert_eq!(mc1(&[-1.0, -2.0, -0.5]), 0.0);
    assert_eq!(mc1(&[-0.5, -2.0, -0.5]), 1.0);
    let lls = [ln(0.5), ln(0.25), ln(0.25)];
    assert!((mc2_old(&lls, &[1, 0, 0]) - 0.5).abs() < 1e-15);
    assert!((mc2_new(&lls, &[1, 0, 0]) - 0.5).abs() < 1e-15);
    // Two true answers: (0.2 + 0.3) / (0.2 + 0.3 + 0.1) = 5/6.
    let lls = [ln(0.2), ln(0.3), ln(0.1)];
    let old = mc2_old(&lls, &[1, 1, 0]);
    let new = mc2_new(&lls, &[1, 1, 0]);
    assert!((old - 5.0 / 6.0).abs() < 1e-15, "{old}");
    assert!((new - 5.0 / 6.0).abs() < 1e-15, "{new}");
    // OLD's exact float order: sum(p_t / (sum(p_t) + sum(p_f))).
    let (a, b, c) = (0.2f64, 0.3f64, 0.1f64);
    let pa = a.ln().exp();
    let pb = b.ln().exp();
    let pc = c.ln().exp();
    let d = (0.0 + pa + pb) + (0.0 + pc);
    assert_eq!(old, 0.0 + pa / d + pb / d);
    // No max-shift: very negative log-likelihoods still work in plain exp.
    let v = mc2_old(&[-700.0, -701.0], &[1, 0]);
    assert!((v - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-12);
}

#[test]
fn gsm8k_old_extraction_edge_cases() {
    assert_eq!(gsm8k_old_extract("so #### 18"), "18");
    assert_eq!(gsm8k_old_extract("so #### 18."), "18.");
    assert_eq!(gsm8k_old_extract("#### 1,234 and #### 5"), "1234");
    assert_eq!(gsm8k_old_extract("#### -7\n"), "-7");
    assert_eq!(gsm8k_old_extract("The answer is 18"), INVALID);
    assert_eq!(gsm8k_old_extract("#### $18"), INVALID);
    let reference = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n#### 18";
    assert_eq!(
        gsm8k_old_acc(" She makes 9 * 2 = 18.\n#### 18", reference),
        1.0
    );
    assert_eq!(
        gsm8k_old_acc(" #### 18.", reference),
        0.0,
        "a trailing period is not removed"
    );
    assert_eq!(gsm8k_old_acc(" 18", reference), 0.0);
}

#[test]
fn gsm8k_new_filters_and_normalisation() {
    assert_eq!(gsm8k_strict("x #### 18. y #### 3"), "18.");
    assert_eq!(gsm8k_strict("no answer"), INVALID);
    assert_eq!(gsm8k_flexible("I have $18.00 and 3 apples"), "3");
    assert_eq!(gsm8k_flexible("it costs $18.00"), "$18.00");
    assert_eq!(gsm8k_flexible("total: -5"), "-5");
    assert_eq!(gsm8k_flexible("nothing"), INVALID);
    assert_eq!(gsm8k_normalize("$1,000"), "1000");
    assert_eq!(gsm8k_normalize("a #### 1 #### 2"), "2");
    assert_eq!(gsm8k_normalize("1.5."), "1.5");
    // Python `re`'s `$` also matches before a final newline.
    assert_eq!(gsm8k_normalize("18.\n"), "18\n");
    assert_eq!(gsm8k_normalize("18.\n\n"), "18.\n\n");
    assert_eq!(gsm8k_normalize("Foo #### ABC"), "abc");
    let reference = "He pays 3 * 6 = <<3*6=18>>18 dollars.\n#### 18";
    assert_eq!(
        gsm8k_exact_match(&gsm8k_strict(" so #### 18."), reference),
        1.0
    );
    assert_eq!(
        gsm8k_exact_match(&gsm8k_strict(" so #### $18"), reference),
        0.0,
        "strict regex needs a digit after '#### '"
    );
    assert_eq!(
        gsm8k_exact_match(&gsm8k_flexible(" so the answer is $18."), reference),
        1.0
    );
    assert_eq!(
        gsm8k_exact_match(&gsm8k_flexible(" 18 apples, 2 left"), reference),
        0.0
    );
}

#[test]
fn mean_and_stderr_as_the_harness() {
    let v = [1.0, 0.0, 1.0, 1.0];
    assert_eq!(mean(&v), 0.75);
    // sample variance with n-1: (3*0.0625 + 0.5625)/3 = 0.25; sd 0.5; se 0.5/2.
    assert_eq!(mean_stderr(&v), Some(0.25));
    assert_eq!(mean_stderr(&[1.0]), None);
    let s = evaluator::metrics::score("winogrande", "acc", &v, 5);
    assert_eq!(
        (s.value, s.stderr, s.n_samples, s.num_fewshot),
        (0.75, Some(0.25), Some(4), Some(5))
    );
}

fn mc_doc(task: &str, id: usize, gold: usize, lens: Vec<usize>) -> DocRequests {
    DocRequests {
        task: task.to_string(),
        doc_id: id,
        fewshot: vec![],
        requests: (0..lens.len())
            .map(|i| Request::LogLikelihood {
                context: format!("ctx {id}").into(),
                continuation: format!(" {i}"),
            })
            .collect(),
        scoring: Scoring::MultipleChoice {
            gold,
            choice_lens: lens,
        },
    }
}

fn lls(v: &[f64]) -> Vec<Response> {
    v.iter()
        .map(|&l| Response::LogLikelihood {
            logprob: l,
            is_greedy: false,
        })
        .collect()
}

#[test]
fn scoring_arc_docs_gives_acc_acc_norm_and_details() {
    let tr = TaskRequests {
        task: Benchmark::Arc.into(),
        suite: Suite::OpenLlmV1,
        num_fewshot: 25,
        docs: vec![
            mc_doc("arc_challenge", 7, 1, vec![1, 10]),
            mc_doc("arc_challenge", 3, 0, vec![5, 5]),
        ],
        deviations: vec![],
    };
    // doc 7: acc picks 0 (-1 > -5), acc_norm picks 1 (-0.5 > -1.0) = gold.
    // doc 3: both pick 0 = gold.
    let res = score(&tr, &[lls(&[-1.0, -5.0]), lls(&[-2.0, -3.0])]).unwrap();
    let get = |m: &str| res.scores.iter().find(|s| s.metric == m).unwrap().clone();
    assert_eq!(get("acc").value, 0.5);
    assert_eq!(get("acc_norm").value, 1.0);
    assert_eq!(get("acc_norm").stderr, Some(0.0));
    assert_eq!(get("acc").n_samples, Some(2));
    assert_eq!(res.details[0].doc_id, 7);
    assert_eq!(res.details[0].prediction, "1");
    assert!(res.details[0].correct);
    assert_eq!(res.details[0].loglikelihoods, [-1.0, -5.0]);
    assert_eq!(
        res.details[0].prompt_sha256,
        evaluator::requests::sha256_hex("ctx 7")
    );
    // A missing response is an error naming the doc.
    let err = score(&tr, &[lls(&[-1.0]), lls(&[-2.0, -3.0])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("arc_challenge doc 7"), "{err}");
}

#[test]
fn mmlu_is_the_macro_mean_of_subjects() {
    let mut docs = vec![];
    let mut resp = vec![];
    // abstract_algebra: 1 of 1 right; anatomy: 1 of 3 right.
    docs.push(mc_doc("mmlu_abstract_algebra", 0, 0, vec![1; 4]));
    resp.push(lls(&[-1.0, -2.0, -2.0, -2.0]));
    for (i, gold) in [0, 1, 1].into_iter().enumerate() {
        docs.push(mc_doc("mmlu_anatomy", i, gold, vec![1; 4]));
        resp.push(lls(&[-1.0, -2.0, -2.0, -2.0]));
    }
    let tr = TaskRequests {
        task: Benchmark::Mmlu.into(),
        suite: Suite::LmEval04,
        num_fewshot: 5,
        docs,
        deviations: vec![],
    };
    let res = score(&tr, &resp).unwrap();
    let m = res.scores.iter().find(|s| s.task == "mmlu").unwrap();
    assert!(
        (m.value - (1.0 + 1.0 / 3.0) / 2.0).abs() < 1e-15,
        "macro, not 2/4 weighted: {}",
        m.value
    );
    assert_eq!(m.n_samples, Some(4));
    let aa = res
        .scores
        .iter()
        .find(|s| s.task == "mmlu_abstract_algebra")
        .unwrap();
    assert_eq!((aa.value, aa.stderr), (1.0, None));
    assert!(res.scores.iter().all(|s| s.metric == "acc"));
}

#[test]
fn scoring_truthfulqa_and_gsm8k() {
    let ln = f64::ln;
    let doc = DocRequests {
        task: "truthfulqa_mc".into(),
        doc_id: 0,
        fewshot: vec![],
        requests: (0..5)
            .map(|_| Request::LogLikelihood {
                context: "q".into(),
                continuation: " a".into(),
            })
            .collect(),
        scoring: Scoring::TruthfulQa {
            mc1_count: 2,
            mc2_labels: vec![1, 0, 0],
        },
    };
    let tr = TaskRequests {
        task: Benchmark::TruthfulQa.into(),
        suite: Suite::OpenLlmV1,
        num_fewshot: 0,
        docs: vec![doc],
        deviations: vec![],
    };
    let res = score(&tr, &[lls(&[-2.0, -1.0, ln(0.6), ln(0.3), ln(0.1)])]).unwrap();
    let get = |m: &str| res.scores.iter().find(|s| s.metric == m).unwrap().value;
    assert_eq!(get("mc1"), 0.0);
    assert!((get("mc2") - 0.6).abs() < 1e-15);

    let doc = |id: usize| DocRequests {
        task: "gsm8k".into(),
        doc_id: id,
        fewshot: vec![],
        requests: vec![Request::Generate {
            context: "Q".into(),
            until: vec![],
            max_gen_toks: 256,
        }],
        scoring: Scoring::Gsm8k {
            answer: "x\n#### 18".into(),
        },
    };
    let gen = |t: &str| vec![Response::Generate { text: t.into() }];
    for (suite, want) in [
        (Suite::OpenLlmV1, vec![("acc", 0.5)]),
        (
            Suite::LmEval04,
            vec![("exact_match_strict", 1.0), ("exact_match_flexible", 0.5)],
        ),
    ] {
        let tr = TaskRequests {
            task: Benchmark::Gsm8k.into(),
            suite,
            num_fewshot: 5,
            docs: vec![doc(0), doc(1)],
            deviations: vec![],
        };
        let res = score(&tr, &[gen(" #### 18"), gen(" #### 18. Then 4 more")]).unwrap();
        let got: Vec<(&str, f64)> = res
            .scores
            .iter()
            .map(|s| (s.metric.as_str(), s.value))
            .collect();
        assert_eq!(got, want, "{suite}");
        assert_eq!(
            res.details[1].generated.as_deref(),
            Some(" #### 18. Then 4 more")
        );
    }
}
