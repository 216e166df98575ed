//! Per-token log-probabilities of the SmolLM2 Q4_1 GGUF against the llama.cpp and
//! transformers reference files in tests/fixtures (token ids from the files, so this
//! does not depend on the tokenizer).

use crate::support::model::*;
use candle_core::{DType, Device};
use evaluator::model;

const LLAMACPP: &str = "smollm2_q4_1_logprobs_llamacpp.json";
const TRANSFORMERS: &str = "smollm2_q4_1_dequant_f32_logprobs_transformers.json";

/// Compares `model` with the reference items; returns (max, mean) abs diff per token and
/// (max, mean) abs diff of the per-text sums, printing a line per text.
fn compare(
    model: &dyn model::CausalLm,
    items: &[RefItem],
    label: &str,
) -> ((f64, f64), (f64, f64)) {
    let mut all_ours = Vec::new();
    let mut all_ref = Vec::new();
    let mut sums_ours = Vec::new();
    let mut sums_ref = Vec::new();
    for it in items {
        let ours = token_logprobs(model, &it.token_ids);
        let reference: Vec<f64> = it.logprobs[1..].iter().map(|x| x.unwrap()).collect();
        let (max, mean) = abs_diff_stats(&ours, &reference);
        let sum: f64 = ours.iter().sum();
        println!(
            "{label}: {:>2} tokens  max|d| {max:.5}  mean|d| {mean:.5}  sum ours {sum:.5} ref {:.5} |d| {:.5}  {:?}",
            it.token_ids.len(),
            it.sum_logprob,
            (sum - it.sum_logprob).abs(),
            &it.text[..it.text.len().min(30)]
        );
        all_ours.extend(ours);
        all_ref.extend(reference);
        sums_ours.push(sum);
        sums_ref.push(it.sum_logprob);
    }
    let tok = abs_diff_stats(&all_ours, &all_ref);
    let sums = abs_diff_stats(&sums_ours, &sums_ref);
    println!(
        "{label}: per token max {:.5} mean {:.5} over {} tokens; per sum max {:.5} mean {:.5}",
        tok.0,
        tok.1,
        all_ours.len(),
        sums.0,
        sums.1
    );
    (tok, sums)
}

/// Quantized weights vs llama.cpp (measured here, over the 6 texts, 129 scored tokens;
/// with token 0 prepended, 135):
///
/// | path vs llama.cpp | per token max | per token mean | per text sum max |
/// |---|---|---|---|
/// | ours, Q4_1/Q8_0 as stored | 0.371 / 0.786 | 0.071 / 0.076 | 1.087 / 1.729 |
/// | ours, q/k/v and attention weights rounded to f16 (experiment, not kept) | 0.336 / 0.625 | 0.078 / 0.079 | 1.518 / 0.295 |
/// | ours, dequantized to f32 | 0.426 / 0.353 | 0.069 / 0.085 | 1.013 / 0.998 |
/// | transformers f32 (from the file) | 0.426 / — | 0.066 / — | 1.013 / — |
///
/// candle's Q4_1 and Q8_0 CPU products quantize activations to Q8_1 / Q8_0 like
/// llama.cpp, yet our quantized run is no closer to llama.cpp than the f32 runs are: the
/// gap is dominated by llama.cpp's f16 KV cache and its f16 (flash) attention arithmetic,
/// which the reference README measured at up to 0.47 nats alone and which rounding q/k/v
/// to f16 here does not reproduce exactly. The bounds are the measured maxima with ~30%
/// margin. The mean bound is the sharper check: a wrong layer, rope or mask gives several
/// nats per token.
const GGUF_TOKEN_TOL: f64 = 1.0;
const GGUF_TOKEN_MEAN_TOL: f64 = 0.1;
const GGUF_SUM_TOL: f64 = 2.25;

/// The default CPU load of a GGUF dequantizes the weights once (they fit in memory):
/// bit-identical logits to `--dtype f32`, but the results keep the quantized precision.
#[test]
fn default_cpu_load_is_the_exact_product_with_the_quantized_weights() {
    let d = model::load(&test_model(), &Device::Cpu, None).unwrap();
    let f = model::load(&test_model(), &Device::Cpu, Some(DType::F32)).unwrap();
    assert_eq!(d.info().precision.to_string(), "4bit");
    assert_eq!(f.info().precision.to_string(), "float32");
    let tokens = &items(LLAMACPP, false)[0].token_ids;
    let a = d.forward(tokens, &mut d.new_cache()).unwrap();
    let b = f.forward(tokens, &mut f.new_cache()).unwrap();
    let max = max_abs_diff(&a, &b);
    assert_eq!(max, 0.0, "default CPU load vs --dtype f32");
}

/// Candle's quantized kernels (`Kernels::Quantized`).
#[test]
fn gguf_quantized_matches_llamacpp() {
    let m: Box<dyn model::CausalLm> = Box::new(
        model::gguf::load(&test_model(), &Device::Cpu, None, model::Kernels::Quantized).unwrap(),
    );
    let info = m.info();
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.precision.to_string(), "4bit");
    println!(
        "precision {} detail {:?} params {} max_length {}",
        info.precision, info.precision_detail, info.params, info.max_length
    );
    assert_eq!(
        info.weights_sha256,
        reference(LLAMACPP)["model_sha256"].as_str().unwrap()
    );
    for (prefix0, label) in [
        (false, "q4_1 vs llama.cpp"),
        (true, "q4_1 vs llama.cpp, token 0 first"),
    ] {
        let items = items(LLAMACPP, prefix0);
        let ((tmax, tmean), (smax, _)) = compare(m.as_ref(), &items, label);
        assert!(
            tmax <= GGUF_TOKEN_TOL,
            "{label}: per-token max diff {tmax} > {GGUF_TOKEN_TOL}"
        );
        assert!(
            tmean <= GGUF_TOKEN_MEAN_TOL,
            "{label}: per-token mean diff {tmean} > {GGUF_TOKEN_MEAN_TOL}"
        );
        assert!(
            smax <= GGUF_SUM_TOL,
            "{label}: sum diff {smax} > {GGUF_SUM_TOL}"
        );
    }
}

/// Dequantized to f32 vs transformers on the same f32 weights: only float summation
/// order differs (llama.cpp and transformers agreed to 5e-5 on these weights). Measured:
/// per token max 3e-5 (mean < 1e-5), per text sum max 6e-5; bounds with >5x margin.
const F32_TOKEN_TOL: f64 = 2e-4;
const F32_SUM_TOL: f64 = 5e-4;

#[test]
fn gguf_dequantized_f32_matches_transformers() {
    let m = model::load(&test_model(), &Device::Cpu, Some(DType::F32)).unwrap();
    assert_eq!(m.info().precision.to_string(), "float32");
    let reference_items = items(TRANSFORMERS, false);
    // The two reference files tokenized the same texts identically.
    for (a, b) in reference_items.iter().zip(items(LLAMACPP, false)) {
        assert_eq!(a.token_ids, b.token_ids, "{:?}", a.text);
    }
    let ((tmax, _), (smax, _)) = compare(m.as_ref(), &reference_items, "f32 vs transformers");
    assert!(
        tmax <= F32_TOKEN_TOL,
        "per-token max diff {tmax} > {F32_TOKEN_TOL}"
    );
    assert!(smax <= F32_SUM_TOL, "sum diff {smax} > {F32_SUM_TOL}");
}
