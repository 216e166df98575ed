//! Records throughput (tokens/s) of the forward pass for the test model, quantized and f32:
//! prompt processing (one forward of many tokens) and decoding (one token per forward).
//! Prints numbers for the record; asserts that decode and prefill logits agree (1e-4 for f32).

use std::time::Instant;

use crate::support::model::*;
use candle_core::{DType, Device};
use evaluator::model::{self, CausalLm};

fn run(m: &dyn CausalLm, label: &str, tol: f32) {
    let mut tokens = Vec::new();
    for it in items("smollm2_q4_1_logprobs_llamacpp.json", false) {
        tokens.extend(it.token_ids);
    }
    let tokens: Vec<u32> = tokens.iter().cycle().take(256).copied().collect();
    // Warm-up.
    m.forward(&tokens[..8], &mut m.new_cache()).unwrap();
    let t = Instant::now();
    let mut cache = m.new_cache();
    let all = m.forward(&tokens, &mut cache).unwrap();
    let prefill = t.elapsed().as_secs_f64();
    let mut cache = m.new_cache();
    m.forward(&tokens[..224], &mut cache).unwrap();
    let mut max_d = 0f32;
    let t_dec = Instant::now();
    for (i, tok) in tokens[224..].iter().enumerate() {
        let row = m.forward(&[*tok], &mut cache).unwrap();
        let d = max_abs_diff(&row, &all.narrow(0, 224 + i, 1).unwrap());
        max_d = max_d.max(d);
    }
    let decode = t_dec.elapsed().as_secs_f64();
    println!(
        "{label}: prompt {:.0} tokens/s (256 tokens in {prefill:.2}s), decode {:.1} tokens/s (32 tokens after 224), threads {}; max |decode - prefill logits| {max_d:.2e}",
        256.0 / prefill,
        32.0 / decode,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );
    assert!(
        max_d <= tol,
        "{label}: decode vs prefill logits differ by {max_d}"
    );
}

#[test]
fn tokens_per_second() {
    let q: Box<dyn CausalLm> = Box::new(
        model::gguf::load(&test_model(), &Device::Cpu, None, model::Kernels::Quantized).unwrap(),
    );
    // Quantized: activation rounding makes decode and prefill differ (model_kv_cache.rs).
    run(q.as_ref(), "q4_1", 5.0);
    let f = model::load(&test_model(), &Device::Cpu, Some(DType::F32)).unwrap();
    run(f.as_ref(), "f32", 1e-4);
}
