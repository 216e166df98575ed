//! The safetensors path: the test GGUF dequantized by `export_hf` into a Hugging Face folder
//! (f32, f16, bf16) must agree with the GGUF path dequantized to f32, and greedy generation
//! must give the same tokens.

use crate::support::model::*;
use candle_core::{DType, Device};
use evaluator::engine;
use evaluator::model::{self, export_hf::export_gguf_to_hf, CausalLm};

const TRANSFORMERS: &str = "smollm2_q4_1_dequant_f32_logprobs_transformers.json";

/// Per-token (max, mean) and per-sum max abs diff of `b` against `a` over the reference texts.
fn diff(a: &dyn CausalLm, b: &dyn CausalLm, label: &str) -> (f64, f64, f64) {
    let mut xa = Vec::new();
    let mut xb = Vec::new();
    let mut sum_max: f64 = 0.0;
    for it in items(TRANSFORMERS, false) {
        let la = token_logprobs(a, &it.token_ids);
        let lb = token_logprobs(b, &it.token_ids);
        sum_max = sum_max.max((la.iter().sum::<f64>() - lb.iter().sum::<f64>()).abs());
        xa.extend(la);
        xb.extend(lb);
    }
    let (max, mean) = abs_diff_stats(&xa, &xb);
    println!(
        "{label}: per token max {max:.6} mean {mean:.6} over {} tokens; per sum max {sum_max:.6}",
        xa.len()
    );
    (max, mean, sum_max)
}

fn export_and_load(dtype: DType, dir: &std::path::Path) -> Box<dyn CausalLm> {
    let st = export_gguf_to_hf(&test_model(), dir, dtype).unwrap();
    assert!(st.is_file());
    assert!(dir.join("config.json").is_file());
    model::load(dir, &Device::Cpu, None).unwrap()
}

/// Tolerances (nats, vs the GGUF path dequantized to f32; measured over the 6 reference
/// texts, 129 scored tokens):
/// - f32 export: the same f32 weights, only the rotary pairing layout differs (q/k rows
///   un-permuted), so only summation order changes. Measured per token max 1.6e-5, sum
///   3.2e-5: bound 1e-4 / 2e-4.
/// - f16 export: weights and activations rounded to f16 (11-bit mantissa). Measured per
///   token max 0.040, mean 0.0070, sum 0.059: bounds 0.15, 0.03, 0.3.
/// - bf16 export: 8-bit mantissa. Measured per token max 0.31, mean 0.044, sum 0.74:
///   bounds 1.0, 0.15, 2.0.
#[test]
fn safetensors_exports_match_gguf_dequantized() {
    let reference = model::load(&test_model(), &Device::Cpu, Some(DType::F32)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (dtype, tok_tol, mean_tol, sum_tol, precision) in [
        (DType::F32, 1e-4, 1e-4, 2e-4, "float32"),
        (DType::F16, 0.15, 0.03, 0.3, "float16"),
        (DType::BF16, 1.0, 0.15, 2.0, "bfloat16"),
    ] {
        let dir = tmp.path().join(format!("{dtype:?}"));
        let m = export_and_load(dtype, &dir);
        let info = m.info();
        assert_eq!(info.architecture, "LlamaForCausalLM");
        assert_eq!(info.precision.to_string(), precision);
        assert_eq!(info.max_length, reference.info().max_length);
        assert_eq!(info.vocab_size, reference.info().vocab_size);
        assert_eq!(info.params, reference.info().params, "parameter count");
        let (max, mean, sum) = diff(
            reference.as_ref(),
            m.as_ref(),
            &format!("safetensors {dtype:?} vs gguf-f32"),
        );
        assert!(
            max <= tok_tol,
            "{dtype:?}: per-token max diff {max} > {tok_tol}"
        );
        assert!(
            mean <= mean_tol,
            "{dtype:?}: per-token mean diff {mean} > {mean_tol}"
        );
        assert!(sum <= sum_tol, "{dtype:?}: sum diff {sum} > {sum_tol}");
    }
}

/// Greedy generation on a fixed chat prompt: the same tokens from the GGUF dequantized to
/// f32 and from the f32 safetensors export; the quantized GGUF is reported.
#[test]
fn greedy_generation_same_tokens() {
    let prompt = items(TRANSFORMERS, false)
        .into_iter()
        .find(|it| it.text.starts_with("<|im_start|>"))
        .unwrap()
        .token_ids;
    let tmp = tempfile::tempdir().unwrap();
    let st = export_and_load(DType::F32, tmp.path());
    let deq = model::load(&test_model(), &Device::Cpu, Some(DType::F32)).unwrap();
    let q = model::load(&test_model(), &Device::Cpu, None).unwrap();
    let n = 32;
    let gen = |m: &dyn CausalLm| engine::generate_greedy(m, &prompt, n, &mut |_| false).unwrap();
    let a = gen(deq.as_ref());
    let b = gen(st.as_ref());
    let c = gen(q.as_ref());
    println!("gguf f32 dequantized: {a:?}");
    println!("safetensors f32     : {b:?}");
    println!("gguf q4_1 quantized : {c:?}");
    let same = a.iter().zip(&c).take_while(|(x, y)| x == y).count();
    println!(
        "quantized agrees with f32 on the first {same} of {} tokens",
        a.len()
    );
    assert_eq!(a, b);
    assert!(!a.is_empty());
    // Stopping: a stop callback ends generation right after the token that triggers it.
    let third = a.get(2).copied();
    if let Some(t) = third {
        let s = engine::generate_greedy(deq.as_ref(), &prompt, n, &mut |g: &[u32]| {
            g.last() == Some(&t)
        })
        .unwrap();
        assert_eq!(s.last(), Some(&t));
        assert!(s.len() <= 3);
    }
}
