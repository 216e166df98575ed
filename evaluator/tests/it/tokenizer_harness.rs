//! Harness tokenization semantics (spec §3) with the real SmolLM2 tokenizer.

use crate::support::model::test_model;

use evaluator::suite::Suite;
use evaluator::tokenizer::harness::{self, EmptyContext, HarnessTokError, LlTokens, Options};
use evaluator::tokenizer::Tokenizer;

fn tok() -> Tokenizer {
    Tokenizer::from_gguf(&test_model()).unwrap()
}

fn old(max_length: usize) -> Options {
    Options {
        add_bos: false,
        empty_context: EmptyContext::Eos,
        max_length,
    }
}

#[test]
fn trailing_whitespace_moves_to_the_continuation() {
    let t = tok();
    let (c, k) = harness::move_trailing_whitespace("Answer: \n\t", "Paris");
    assert_eq!((c, k.as_str()), ("Answer:", " \n\tParis"));
    // Python's isspace includes the information separators U+001C..U+001F.
    let (c, k) = harness::move_trailing_whitespace("x\u{1f}\u{a0}", "y");
    assert_eq!((c, k.as_str()), ("x", "\u{1f}\u{a0}y"));
    let ll = harness::loglikelihood_request(&t, &old(8192), "The capital of France is ", "Paris.")
        .unwrap();
    // Same tokens as scoring " Paris." after the unspaced context.
    assert_eq!(ll.ctx, t.encode("The capital of France is").unwrap());
    assert_eq!(ll.ctx, vec![504, 3575, 282, 4649, 314]);
    assert_eq!(ll.cont, vec![7042, 30]);
}

#[test]
fn boundary_crossing_merges_are_reproduced_literally() {
    let t = tok();
    let (context, continuation) = ("The capital of Fra", "nce is Paris.");
    let ll = harness::loglikelihood_request(&t, &old(8192), context, continuation).unwrap();
    let whole = t.encode("The capital of France is Paris.").unwrap();
    let ctx = t.encode(context).unwrap();
    // ctx from the separate encoding, cont = whole[len(ctx)..] of the joint one.
    assert_eq!(ll.ctx, ctx);
    assert_eq!(ll.cont, whole[ctx.len()..].to_vec());
    // The BPE merge " France" crosses the boundary: ctx ++ cont is not `whole`.
    let joined: Vec<u32> = ll.ctx.iter().chain(&ll.cont).copied().collect();
    assert_ne!(joined, whole, "expected a merge across the boundary");
    assert_eq!(whole, vec![504, 3575, 282, 4649, 314, 7042, 30]);
}

#[test]
fn left_truncation_keeps_the_last_max_length_plus_one_tokens() {
    let ll = LlTokens {
        ctx: (0..10).collect(),
        cont: vec![100, 101, 102],
    };
    // Fits: unchanged (13 tokens, max_length 12 → input 12 tokens).
    assert_eq!(harness::truncate_left(ll.clone(), 12).unwrap(), ll);
    // max_length 8: keep the last 9 of ctx ++ cont → ctx loses its first 4.
    let t = harness::truncate_left(ll.clone(), 8).unwrap();
    assert_eq!(t.ctx, vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(t.cont, vec![100, 101, 102]);
    assert_eq!(t.ctx.len() + t.cont.len() - 1, 8);
    // max_length 3: the context keeps one token.
    let t = harness::truncate_left(ll.clone(), 3).unwrap();
    assert_eq!(t.ctx, vec![9]);
    // The continuation itself is longer than max_length.
    let err = harness::truncate_left(ll, 2).unwrap_err();
    assert!(matches!(
        err,
        HarnessTokError::ContinuationTooLong {
            cont: 3,
            max_length: 2
        }
    ));

    // Through the tokenizer: a long context truncated at max_length 6.
    let t2 = tok();
    let text = "one two three four five six seven eight nine ten";
    let ll = harness::loglikelihood_request(&t2, &old(6), text, " eleven").unwrap();
    let full = t2.encode(text).unwrap();
    assert_eq!(ll.cont, t2.encode(" eleven").unwrap());
    assert_eq!(ll.ctx.len() + ll.cont.len(), 7);
    assert_eq!(ll.ctx[..], full[full.len() - ll.ctx.len()..]);
}

#[test]
fn bos_per_suite_and_empty_context() {
    let t = tok();
    // SmolLM2's GGUF says add_bos_token = false, so no suite adds BOS.
    assert!(!Options::for_suite(Suite::OpenLlmV1, &t, 8192).add_bos);
    assert!(!Options::for_suite(Suite::LmEval04, &t, 8192).add_bos);
    let mut with_bos = t.clone();
    with_bos.add_bos_default = true;
    assert!(!Options::for_suite(Suite::OpenLlmV1, &with_bos, 8192).add_bos);
    let new = Options::for_suite(Suite::LmEval04, &with_bos, 8192);
    assert!(new.add_bos);
    let ll = harness::loglikelihood_request(&with_bos, &new, "Question:", " Yes").unwrap();
    assert_eq!(ll.ctx[0], 1);
    assert_eq!(ll.ctx[1..], t.encode("Question:").unwrap()[..]);
    assert_eq!(ll.cont, t.encode(" Yes").unwrap());
    // Skipped when the text already starts with the BOS text.
    let ids = harness::encode_context(&with_bos, &new, "<|im_start|>user").unwrap();
    assert_eq!(ids, t.encode("<|im_start|>user").unwrap());
    assert_eq!(ids[0], 1);

    // Empty context: OLD uses EOS, NEW the prefix token (BOS if any).
    let ll = harness::loglikelihood_request(&t, &old(8192), "", "Hello").unwrap();
    assert_eq!(ll.ctx, vec![2]);
    assert_eq!(ll.cont, t.encode("Hello").unwrap());
    let new_plain = Options::for_suite(Suite::LmEval04, &t, 8192);
    let ll = harness::loglikelihood_request(&t, &new_plain, "", "Hello").unwrap();
    assert_eq!(ll.ctx, vec![1]);
}

#[test]
fn bad_requests_fail_clearly() {
    let t = tok();
    let err = harness::loglikelihood_request(&t, &old(8192), "Question:", "").unwrap_err();
    assert!(err.to_string().contains("encodes to no tokens"), "{err}");
    let err = harness::loglikelihood_request(&t, &old(8192), "  ", "x").unwrap_err();
    assert!(matches!(err, HarnessTokError::BlankContext), "{err}");
}

#[test]
fn generation_context_keeps_room_for_the_generation() {
    let t = tok();
    let text = "Question: What is 12 + 30?\nAnswer:";
    let full = t.encode(text).unwrap();
    let ids = harness::generation_context(&t, &old(8192), text, 256).unwrap();
    assert_eq!(ids, full);
    let ids = harness::generation_context(&t, &old(260), text, 256).unwrap();
    assert_eq!(ids, full[full.len() - 4..].to_vec());
    let err = harness::generation_context(&t, &old(256), text, 256).unwrap_err();
    assert!(err.to_string().contains("no room"), "{err}");
}
