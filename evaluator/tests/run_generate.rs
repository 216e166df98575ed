//! Greedy generation with stop strings on SmolLM2: OLD and NEW lookbacks give the same final text.

use std::path::PathBuf;

use candle_core::{DType, Device};
use evaluator::generate::{self, cut_at_stops};
use evaluator::harness_tok::{self, Options};
use evaluator::suite::Suite;
use evaluator::tokenizer::Tokenizer;

fn test_model() -> PathBuf {
    let path = std::env::var_os("LEADERBOARD_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        path.is_file(),
        "test model {} is missing: run scripts/fetch-test-model.sh (or set LEADERBOARD_TEST_MODEL)",
        path.display()
    );
    path
}

#[test]
fn generation_stops_and_cuts_like_the_harness() {
    let path = test_model();
    let model = evaluator::model::load(&path, &Device::Cpu, Some(DType::F32)).unwrap();
    let tok = Tokenizer::from_gguf(&path).unwrap();
    let opts = Options::for_suite(Suite::OpenLlmV1, &tok, model.info().max_length);
    let prompt =
        "Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:";
    let ctx = harness_tok::generation_context(&tok, &opts, prompt, 48).unwrap();
    assert_eq!(ctx, tok.encode(prompt).unwrap());

    // Without stop strings (EOS only): the plain greedy continuation.
    let free =
        generate::generate_until(model.as_ref(), &tok, Suite::OpenLlmV1, &ctx, &[], 48).unwrap();
    assert!(free.tokens.len() <= 48);
    let full_text = tok.decode_text(&free.tokens).unwrap();
    println!("greedy continuation: {full_text:?}");

    for suite in [Suite::OpenLlmV1, Suite::LmEval04] {
        let until = suite.gsm8k_until();
        let g = generate::generate_until(model.as_ref(), &tok, suite, &ctx, &until, 48).unwrap();
        println!("{suite}: {:?} ({} tokens)", g.text, g.tokens.len());
        // The stopped generation is a prefix of the free one (same greedy path) ...
        assert_eq!(g.tokens[..], free.tokens[..g.tokens.len()], "{suite}");
        // ... and its text is the free text cut at the earliest stop string.
        let stops = generate::stop_strings(&tok, &until);
        assert_eq!(g.text, cut_at_stops(&full_text, &stops), "{suite}");
        for s in &stops {
            assert!(
                !g.text.contains(s.as_str()),
                "{suite}: {s:?} left in {:?}",
                g.text
            );
        }
    }
    // EOS text is added to the stop strings once.
    let stops = generate::stop_strings(&tok, &["Question:".to_string(), "<|im_end|>".to_string()]);
    assert_eq!(stops, vec!["Question:", "<|im_end|>"]);
    let stops = generate::stop_strings(&tok, &[":".to_string()]);
    assert_eq!(stops, vec![":", "<|im_end|>"]);
}
