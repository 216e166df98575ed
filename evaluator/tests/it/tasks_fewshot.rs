//! The few-shot index tables of spec §2.4 and OLD's evaluation order, through
//! the real task builders. HellaSwag's train split is not in data/benchmarks; its
//! indices depend only on the pool's size, so they are checked with a
//! synthetic 39,905-record train file.

use crate::support::data_dir;
use crate::support::tasks::*;
use evaluator::suite::Suite;
use evaluator::tasks::TaskRequests;
use leaderboard_format::schema::Benchmark;

const ARC_NEW0: [usize; 25] = [
    902, 239, 15, 185, 71, 171, 201, 726, 484, 35, 63, 32, 708, 991, 949, 304, 186, 374, 234, 29,
    1030, 996, 511, 132, 1108,
];
const ARC_NEW1: [usize; 25] = [
    954, 140, 182, 1054, 94, 552, 129, 619, 985, 727, 545, 510, 409, 928, 1085, 39, 1040, 144, 11,
    683, 294, 968, 772, 342, 110,
];
const HS_NEW0: [usize; 10] = [
    28883, 7657, 490, 5940, 38156, 2288, 5500, 6450, 23241, 15519,
];
const HS_NEW1_GROUP: [usize; 10] = [
    1142, 2019, 1038, 22681, 31735, 30379, 9735, 5982, 11999, 7498,
];
const HS_NEW1_STANDALONE: [usize; 10] = [
    2019, 1038, 22681, 31735, 30379, 9735, 5982, 11999, 7498, 958,
];

fn fewshot_of(tr: &TaskRequests, doc: usize) -> Vec<usize> {
    find(tr, &tr.docs[0].task, doc).1.fewshot.clone()
}

fn first_ids(tr: &TaskRequests, n: usize) -> Vec<usize> {
    tr.docs.iter().take(n).map(|d| d.doc_id).collect()
}

#[test]
fn arc_new() {
    let tr = build(Benchmark::Arc, Suite::LmEval04, Some(2));
    assert_eq!(first_ids(&tr, 2), [0, 1]);
    assert_eq!(fewshot_of(&tr, 0), ARC_NEW0);
    assert_eq!(fewshot_of(&tr, 1), ARC_NEW1);
    // ARC has a test split, so the group and standalone draws agree.
    let tr = build_with(Benchmark::Arc, data_dir(), &{
        let mut o = group(Suite::LmEval04);
        o.limit = Some(2);
        o
    });
    assert_eq!(fewshot_of(&tr, 1), ARC_NEW1);
}

#[test]
fn gsm8k_new() {
    let tr = build(Benchmark::Gsm8k, Suite::LmEval04, Some(2));
    assert_eq!(fewshot_of(&tr, 0), [6374, 3610, 957, 61, 742]);
    assert_eq!(fewshot_of(&tr, 1), [7462, 6610, 4769, 286, 5501]);
}

#[test]
fn winogrande_new_group_and_standalone() {
    let mut o = group(Suite::LmEval04);
    o.limit = Some(2);
    let g = build_with(Benchmark::Winogrande, data_dir(), &o);
    assert_eq!(fewshot_of(&g, 0), [28883, 7657, 490, 5940, 38156]);
    assert_eq!(fewshot_of(&g, 1), [2288, 5500, 6450, 23241, 15519]);
    let s = build(Benchmark::Winogrande, Suite::LmEval04, Some(2));
    assert_eq!(fewshot_of(&s, 0), [28883, 7657, 490, 5940, 38156]);
    assert_eq!(fewshot_of(&s, 1), [5500, 6450, 23241, 15519, 1142]);
}

#[test]
fn hellaswag_new_and_old_with_a_synthetic_train_pool() {
    let dir = dir_with_synthetic_hellaswag_train();
    let mut o = group(Suite::LmEval04);
    o.limit = Some(2);
    let g = build_with(Benchmark::HellaSwag, dir.path().to_path_buf(), &o);
    assert!(
        g.deviations.is_empty(),
        "the canonical pool needs no fallback"
    );
    assert_eq!(fewshot_of(&g, 0), HS_NEW0);
    assert_eq!(fewshot_of(&g, 1), HS_NEW1_GROUP);
    o.draw_mode = evaluator::suite::DrawMode::Standalone;
    let s = build_with(Benchmark::HellaSwag, dir.path().to_path_buf(), &o);
    assert_eq!(fewshot_of(&s, 0), HS_NEW0);
    assert_eq!(fewshot_of(&s, 1), HS_NEW1_STANDALONE);

    let old = build_with(
        Benchmark::HellaSwag,
        dir.path().to_path_buf(),
        &opts(Suite::OpenLlmV1),
    );
    assert_eq!(first_ids(&old, 3), [9792, 1027, 5366]);
    // OLD public logs print this context first (spec §2.4).
    assert!(old.docs[0]
        .prompt()
        .contains("\n\nPersonal Care and Style: How to increase breast size with a bra"));
    assert_eq!(
        old.docs[0].fewshot,
        [3656, 36651, 3421, 19327, 24999, 26324, 6280, 26942, 15277, 39293]
    );
    let (pos, d) = find(&old, "hellaswag", 0);
    assert_eq!(pos, 4265);
    assert_eq!(
        d.fewshot,
        [15392, 12878, 22947, 39757, 18753, 35432, 11564, 8358, 16785, 23744]
    );
}

#[test]
fn arc_old() {
    let tr = build(Benchmark::Arc, Suite::OpenLlmV1, None);
    assert_eq!(first_ids(&tr, 3), [595, 716, 511]);
    assert_eq!(
        tr.docs[0].fewshot,
        [
            888, 201, 205, 908, 340, 613, 59, 94, 664, 114, 600, 734, 767, 882, 298, 500, 1087,
            843, 368, 348, 358, 161, 783, 493, 1019
        ]
    );
    let (pos, d) = find(&tr, "arc_challenge", 0);
    assert_eq!(pos, 639);
    assert_eq!(
        d.fewshot,
        [
            898, 5, 382, 357, 901, 143, 331, 113, 678, 504, 959, 1079, 1019, 230, 438, 1004, 669,
            283, 1062, 497, 267, 305, 57, 201, 275
        ]
    );
    // OLD public 0-shot logs print test[595] first (spec §2.4).
    assert!(tr.docs[0].prompt().ends_with(
        "\n\nQuestion: Cities control the amount of pollution that is allowed to come from cars. How does this most likely help people?\nAnswer:"
    ));
}

#[test]
fn winogrande_old() {
    let tr = build(Benchmark::Winogrande, Suite::OpenLlmV1, None);
    assert_eq!(first_ids(&tr, 3), [187, 719, 618]);
    assert_eq!(tr.docs[0].fewshot, [5906, 19340, 21411, 27230, 11510]);
    let (pos, d) = find(&tr, "winogrande", 0);
    assert_eq!(pos, 722);
    assert_eq!(d.fewshot, [32841, 33450, 5934, 26003, 23846]);
    // OLD public logs print "People think _ is embarassed…" first.
    assert!(
        tr.docs[0].prompt().ends_with("\n\nPeople think Samantha"),
        "{}",
        tr.docs[0].prompt()
    );
}

#[test]
fn gsm8k_old() {
    let tr = build(Benchmark::Gsm8k, Suite::OpenLlmV1, None);
    assert_eq!(first_ids(&tr, 3), [588, 1214, 57]);
    assert_eq!(tr.docs[0].fewshot, [7268, 4403, 1111, 3183, 3716]);
    let (pos, d) = find(&tr, "gsm8k", 0);
    assert_eq!(pos, 784);
    assert_eq!(d.fewshot, [1946, 403, 6109, 3892, 2200]);
}

#[test]
fn mmlu_and_truthfulqa_old_order() {
    let tr = build(Benchmark::Mmlu, Suite::OpenLlmV1, None);
    let aa: Vec<&evaluator::requests::DocRequests> = tr
        .docs
        .iter()
        .filter(|d| d.task == "mmlu_abstract_algebra")
        .collect();
    assert_eq!(aa.len(), 100);
    assert_eq!(
        aa.iter().take(3).map(|d| d.doc_id).collect::<Vec<_>>(),
        [42, 41, 91]
    );
    assert_eq!(aa.iter().position(|d| d.doc_id == 0), Some(70));
    let tr = build(Benchmark::TruthfulQa, Suite::OpenLlmV1, None);
    assert_eq!(first_ids(&tr, 3), [740, 724, 678]);
    assert_eq!(find(&tr, "truthfulqa_mc", 0).0, 635);
}

#[test]
fn old_limit_applies_after_the_shuffle() {
    let full = build(Benchmark::Gsm8k, Suite::OpenLlmV1, None);
    let lim = build(Benchmark::Gsm8k, Suite::OpenLlmV1, Some(5));
    assert_eq!(lim.docs.len(), 5);
    assert_eq!(lim.docs[..], full.docs[..5]);
    let new = build(Benchmark::Gsm8k, Suite::LmEval04, Some(5));
    assert_eq!(first_ids(&new, 5), [0, 1, 2, 3, 4]);
}

#[test]
fn num_fewshot_override() {
    let mut o = opts(Suite::LmEval04);
    o.num_fewshot = Some(3);
    o.limit = Some(1);
    let tr = build_with(Benchmark::Gsm8k, data_dir(), &o);
    // Set method: the first 3 of sample(7473, 3) from Random(1234) are the first 3 of the 5-shot draw.
    assert_eq!(tr.docs[0].fewshot, [6374, 3610, 957]);
    assert_eq!(tr.num_fewshot, 3);
}
