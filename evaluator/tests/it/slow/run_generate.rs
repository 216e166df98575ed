//! Greedy generation with stop strings on SmolLM2: OLD and NEW lookbacks give the same final text.

use crate::support::model::test_model;

use candle_core::{DType, Device};
use evaluator::generate::{self, cut_at_stops};
use evaluator::suite::Suite;
use evaluator::tokenizer::harness::{self, Options};
use evaluator::tokenizer::Tokenizer;

#[test]
fn generation_stops_and_cuts_like_the_harness() {
    let path = test_model();
    let model = evaluator::model::load(&path, &Device::Cpu, Some(DType::F32)).unwrap();
    let tok = Tokenizer::from_gguf(&path).unwrap();
    let opts = Options::for_suite(Suite::OpenLlmV1, &tok, model.info().max_length);
    let prompt =
        "Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:";
    let ctx = harness::generation_context(&tok, &opts, prompt, 48).unwrap();
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

/// Generation in a packed group equals one-by-one generation: real 5-shot GSM8K prompts
/// (openllm-v1, the first 4 documents), decoded together.
#[test]
fn batched_generation_equals_one_by_one() {
    use evaluator::data::LocalDir;
    use evaluator::generate::GenRequest;
    use evaluator::requests::Request;
    use evaluator::tasks::{self, BuildOptions};
    use leaderboard_format::schema::Benchmark;

    let path = test_model();
    let model = evaluator::model::load(&path, &Device::Cpu, None).unwrap();
    let tok = Tokenizer::from_gguf(&path).unwrap();
    let suite = Suite::OpenLlmV1;
    let opts = Options::for_suite(suite, &tok, model.info().max_length);
    let data = LocalDir::new(crate::support::data_dir());
    let mut b = BuildOptions::new(suite);
    b.limit = Some(4);
    let tr = tasks::build(Benchmark::Gsm8k, &data, &b).unwrap();
    let mut ctxs = Vec::new();
    let mut untils = Vec::new();
    for d in &tr.docs {
        let Request::Generate { context, until, .. } = &d.requests[0] else {
            panic!("GSM8K requests generate")
        };
        // A short budget keeps the test quick; stops still apply.
        ctxs.push(harness::generation_context(&tok, &opts, context, 48).unwrap());
        untils.push(until.clone());
    }
    let reqs: Vec<GenRequest> = ctxs
        .iter()
        .zip(&untils)
        .map(|(c, u)| GenRequest {
            ctx: c,
            until: u,
            max_gen_toks: 48,
        })
        .collect();
    let one_by_one: Vec<_> = reqs
        .iter()
        .map(|r| generate::generate_until(model.as_ref(), &tok, suite, r.ctx, r.until, 48).unwrap())
        .collect();
    // A group of one is exactly the one-by-one path.
    let single =
        generate::generate_until_batch(model.as_ref(), &tok, suite, &reqs[..1], 2048).unwrap();
    assert_eq!(single[0], one_by_one[0]);
    let generated: usize = one_by_one.iter().map(|g| g.tokens.len()).sum();
    assert!(
        generated >= 40,
        "only {generated} tokens generated: a weak check"
    );
    // All four together; and with a budget of one prompt, so the prefill is split.
    for budget in [8192, 64] {
        let together =
            generate::generate_until_batch(model.as_ref(), &tok, suite, &reqs, budget).unwrap();
        for (i, (a, b)) in together.iter().zip(&one_by_one).enumerate() {
            assert_eq!(a.text, b.text, "budget {budget}, doc {i}");
            assert_eq!(a.tokens, b.tokens, "budget {budget}, doc {i}");
        }
        eprintln!(
            "budget {budget}: {} generations equal one by one ({} tokens)",
            together.len(),
            together.iter().map(|g| g.tokens.len()).sum::<usize>()
        );
    }

    // Through the task scheduler: groups of 2 (batch budget 512), longest prompts first,
    // answers back in document order.
    let lens: Vec<usize> = ctxs.iter().map(Vec::len).collect();
    assert!(
        lens.windows(2).any(|w| w[0] < w[1]),
        "prompt lengths {lens:?} already longest first: the reordering is not exercised"
    );
    let mut docs = tr.docs.clone();
    for d in &mut docs {
        for r in &mut d.requests {
            if let Request::Generate { max_gen_toks, .. } = r {
                *max_gen_toks = 48;
            }
        }
    }
    let be = evaluator::schedule::Backend::new(model.as_ref(), &tok, suite);
    let ao = evaluator::schedule::AnswerOptions {
        shared: true,
        progress: false,
        batch_tokens: 512,
        shard: None,
    };
    assert_eq!(evaluator::schedule::generation::gen_group_size(512), 2);
    let answered = evaluator::schedule::answer_task(&be, "gsm8k", &docs, None, &ao).unwrap();
    for (i, (r, g)) in answered.responses.iter().zip(&one_by_one).enumerate() {
        match &r[..] {
            [evaluator::requests::Response::Generate { text }] => {
                assert_eq!(text, &g.text, "scheduled doc {i} (prompt lengths {lens:?})")
            }
            other => panic!("doc {i}: {other:?}"),
        }
    }
    eprintln!("scheduler, groups of 2 longest first (prompt lengths {lens:?}): equal one by one");
}
