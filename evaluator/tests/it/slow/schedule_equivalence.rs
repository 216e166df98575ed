//! Shared-prefix execution, one edge per forward and in packed batches, equals the unshared path (engine::score per request) on the real SmolLM2 GGUF.
//!
//! Requests: real prompts of four log-likelihood tasks (openllm-v1 suite: HellaSwag
//! 10-shot with the validation fallback pool, one MMLU question 5-shot, TruthfulQA 0-shot,
//! Winogrande 5-shot; ARC's 25-shot prompts are left out only to keep the unshared path
//! affordable on a CPU), tokenized per spec §3. Both paths run on the
//! quantized model on the CPU.
//!
//! Tolerance: [`TOL`] nats on each request's summed log-likelihood. The two paths run the
//! same tokens through the same weights; only the chunking differs (a prefix forwarded in
//! one call and the continuation after its KV cache, against one call over the whole
//! input), which changes the shapes of the attention matmuls and hence the float32
//! summation order. The quantized linear layers quantize each activation row on its own,
//! so they do not depend on chunking. Measured here: max abs diff printed by the test
//! (on the order of 1e-5 nats); 1e-3 leaves a wide margin yet is far below the gaps that
//! decide any choice (and below the 0.47 nats f16-vs-f32 KV noise between engines).

use crate::support::model::test_model;

use evaluator::data::LocalDir;
use evaluator::model;
use evaluator::requests::Request;
use evaluator::schedule::plan::DEFAULT_BATCH_TOKENS;
use evaluator::schedule::{execute, execute_unshared, Done, Trie};
use evaluator::suite::Suite;
use evaluator::tasks::{self, BuildOptions, FewshotFallback};
use evaluator::tokenizer::harness::{self, Options};
use evaluator::tokenizer::Tokenizer;
use leaderboard_format::schema::Benchmark;

/// Tolerance on each request's summed log-likelihood. The model runs with its
/// weights dequantized to f32: shared and unshared paths then differ only by
/// matmul shapes (prefix forwarded in one chunk vs with its continuation),
/// about 1e-5 nats. With the quantized Q4_1 weights, candle (like llama.cpp)
/// rounds activations to 8 bits, so a different split into forward calls moves
/// sums by up to ~0.02 nats (see `model_kv_cache`), which says nothing about the
/// scheduler.
const TOL: f64 = 1e-3;

#[test]
fn shared_prefix_scores_equal_unshared_scores_on_smollm2() {
    let path = test_model();
    let tok = Tokenizer::for_model(&path).unwrap();
    let m = model::load(
        &path,
        &candle_core::Device::Cpu,
        Some(candle_core::DType::F32),
    )
    .unwrap();
    let opts = Options::for_suite(Suite::OpenLlmV1, &tok, m.info().max_length);
    let data = LocalDir::new(crate::support::data_dir());

    let mut docs = Vec::new();
    for (b, limit) in [
        (Benchmark::HellaSwag, 1),
        (Benchmark::TruthfulQa, 1),
        (Benchmark::Winogrande, 2),
        (Benchmark::Mmlu, 1),
    ] {
        let mut o = BuildOptions::new(Suite::OpenLlmV1);
        o.limit = Some(limit);
        o.hellaswag_fallback = Some(FewshotFallback::Validation);
        let tr = tasks::build(b, &data, &o).unwrap();
        let first = tr.docs[0].task.clone();
        // MMLU: the first subject only (its questions share the 5-shot prefix).
        docs.extend(
            tr.docs
                .into_iter()
                .filter(|d| b != Benchmark::Mmlu || d.task == first),
        );
    }
    let mut trie = Trie::new();
    let mut labels = Vec::new();
    for d in &docs {
        for (i, r) in d.requests.iter().enumerate() {
            let Request::LogLikelihood {
                context,
                continuation,
            } = r
            else {
                continue;
            };
            let ll = harness::loglikelihood_request(&tok, &opts, context, continuation).unwrap();
            trie.insert(&ll.ctx, &ll.cont);
            labels.push(format!("{} doc {} request {i}", d.task, d.doc_id));
        }
    }
    trie.finish();
    let counts = trie.counts();
    eprintln!("planned: {counts:?}");

    // One edge per forward (budget 1), then the default packed batches.
    let mut by_budget = Vec::new();
    for budget in [1, DEFAULT_BATCH_TOKENS] {
        let mut out = vec![None; trie.num_requests()];
        let st = execute(m.as_ref(), &trie, None, budget, &mut |d: Done| {
            out[d.request as usize] = Some(d.scored);
            Ok(())
        })
        .unwrap();
        by_budget.push((budget, out, st));
    }
    let mut unshared = vec![None; trie.num_requests()];
    let su = execute_unshared(m.as_ref(), &trie, None, &mut |d: Done| {
        unshared[d.request as usize] = Some(d.scored);
        Ok(())
    })
    .unwrap();

    for (budget, shared, st) in &by_budget {
        let mut max_sum = 0.0f64;
        let mut max_tok = 0.0f64;
        let mut greedy_flips = 0;
        for (i, (a, b)) in shared.iter().zip(&unshared).enumerate() {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            let d = (a.logprob - b.logprob).abs();
            max_sum = max_sum.max(d);
            for (x, y) in a.token_logprobs.iter().zip(&b.token_logprobs) {
                max_tok = max_tok.max((x - y).abs());
            }
            greedy_flips += usize::from(a.is_greedy != b.is_greedy);
            assert!(
                d <= TOL,
                "batch budget {budget}: {}: shared {} vs unshared {} (diff {d:e} > {TOL:e})",
                labels[i],
                a.logprob,
                b.logprob
            );
        }
        eprintln!(
            "batch budget {budget}: {} requests: tokens forwarded shared {} vs unshared {} ({:.2}x), \
             {} forward calls ({} sequences) vs {}; max |diff| per request sum {max_sum:.3e}, \
             per token {max_tok:.3e}; greedy flags differing: {greedy_flips}",
            trie.num_requests(),
            st.tokens_forwarded,
            su.tokens_forwarded,
            su.tokens_forwarded as f64 / st.tokens_forwarded as f64,
            st.forwards,
            st.sequences,
            su.forwards
        );
        assert_eq!(st.tokens_forwarded, counts.shared_tokens);
    }
    let (_, _, st) = &by_budget[1];
    assert!(
        st.forwards * 2 < st.sequences,
        "the default budget should pack several sequences per forward: {st:?}"
    );
    assert_eq!(su.tokens_forwarded, counts.unshared_tokens);
    assert!(
        st.tokens_forwarded * 3 <= su.tokens_forwarded,
        "prefix sharing should forward at least 3x fewer tokens on these tasks"
    );
}
