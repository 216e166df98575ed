//! Gemma 1, 2 and 3 from a GGUF file (`general.architecture` `gemma`, `gemma2`, `gemma3`),
//! as the same [`Decoder`] the Hugging Face folders build ([`super::gemma2`]), with the
//! conventions of llama.cpp's conversion and runtime:
//!
//! - norm weights are stored with Gemma's `+ 1` already added (the converter's
//!   `norm_shift`), so they are used as stored;
//! - tensors `token_embd`, `output_norm`, optional `output` (else tied to `token_embd`),
//!   `blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up,
//!   ffn_down}`, Gemma 2/3 `blk.N.{post_attention_norm, post_ffw_norm}`, Gemma 3
//!   `blk.N.{attn_q_norm, attn_k_norm}`;
//! - metadata (`<a>` the architecture): `<a>.{embedding_length, block_count,
//!   feed_forward_length, attention.head_count, attention.head_count_kv,
//!   attention.key_length, attention.layer_norm_rms_epsilon, context_length}`,
//!   `<a>.rope.freq_base` (global layers; default 10000), `<a>.rope.freq_base_swa` (local
//!   layers of Gemma 3; default 10000), `<a>.rope.scaling.type` / `.factor` (`linear`,
//!   global layers only), `<a>.attention.sliding_window` (Gemma 2 default 4096; a Gemma 3
//!   file without it has no local layers), `<a>.attention.sliding_window_pattern` (an
//!   integer n: layer i is local when `i % n < n - 1`, default 2 for Gemma 2 and 6 for
//!   Gemma 3; or one boolean per layer), `<a>.attn_logit_softcapping`,
//!   `<a>.final_logit_softcapping`;
//! - attention scale `1/sqrt(key_length)`, except the 27B releases (Gemma 2 with 46
//!   layers, Gemma 3 with 62), which llama.cpp scales by `1/sqrt(hidden / heads)` as
//!   `gemma_pytorch` does.
//!
//! Matrices follow the run's kernel path like the Llama-family GGUF loader
//! ([`super::gguf::load`]); the embedding table is dequantized for the lookup.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use candle_core::quantized::gguf_file::Value;
use candle_core::{DType, Device};

use super::decoder::{Act, Decoder, DecoderWeights, Ffn, Norm};
use super::gemma2::{block, default_sliding, rotary, Generation, LayerWeights, Shape};
use super::gguf::{
    architecture, recorded_precision, to_matmul, to_matmul_arc, weights_dtype, GgufFile,
};
use super::kernels::Kernels;
use super::llama::{check_shape, Linear, RopeScaling};
use super::{candle_msg, weights_sha256, ModelInfo};

/// The shape of a `gemma` / `gemma2` / `gemma3` GGUF file.
fn shape_of(g: &GgufFile, arch: &str) -> Result<Shape> {
    let generation = match arch {
        "gemma" => Generation::Gemma1,
        "gemma2" => Generation::Gemma2,
        "gemma3" => Generation::Gemma3,
        other => bail!(
            "{}: GGUF architecture {other:?} is not a Gemma",
            g.path.display()
        ),
    };
    let k = |s: &str| format!("{arch}.{s}");
    let has = |s: &str| g.content.metadata.contains_key(&k(s));
    let f = |s: &str, default: f32| -> Result<f32> {
        if has(s) {
            g.meta_f32(&k(s))
        } else {
            Ok(default)
        }
    };
    let hidden = g.meta_u32(&k("embedding_length"))? as usize;
    let n_layers = g.meta_u32(&k("block_count"))? as usize;
    let nh = g.meta_u32(&k("attention.head_count"))? as usize;
    let nkv = g
        .meta_opt_u32(&k("attention.head_count_kv"))?
        .map_or(nh, |x| x as usize);
    let hd = g
        .meta_opt_u32(&k("attention.key_length"))?
        .map_or(hidden / nh.max(1), |x| x as usize);
    let vocab = match g.content.tensor_infos.get("token_embd.weight") {
        Some(t) => t.shape.dims()[0],
        None => bail!(
            "{}: GGUF tensor token_embd.weight is missing",
            g.path.display()
        ),
    };
    let scaling = match g.content.metadata.get(&k("rope.scaling.type")) {
        Some(Value::String(t)) if t == "linear" => RopeScaling::Linear {
            factor: g.meta_f32(&k("rope.scaling.factor"))?,
        },
        Some(Value::String(t)) if t == "none" => RopeScaling::None,
        Some(v) => bail!(
            "{}: GGUF rope scaling {v:?} is not supported for Gemma (supported: none, linear)",
            g.path.display()
        ),
        None => RopeScaling::None,
    };
    let window = match generation {
        Generation::Gemma1 => None,
        Generation::Gemma2 => Some(
            g.meta_opt_u32(&k("attention.sliding_window"))?
                .unwrap_or(4096) as usize,
        ),
        Generation::Gemma3 => g
            .meta_opt_u32(&k("attention.sliding_window"))?
            .filter(|w| *w > 0)
            .map(|w| w as usize),
    };
    let sliding = match (
        window,
        g.content
            .metadata
            .get(&k("attention.sliding_window_pattern")),
    ) {
        (None, _) => vec![false; n_layers],
        (Some(_), Some(Value::Array(flags))) => {
            if flags.len() != n_layers {
                bail!(
                    "{}: {} has {} entries, expected block_count = {n_layers}",
                    g.path.display(),
                    k("attention.sliding_window_pattern"),
                    flags.len()
                );
            }
            flags
                .iter()
                .map(|v| {
                    v.to_bool().map_err(|e| {
                        anyhow!(
                            "{}: {}: {e}",
                            g.path.display(),
                            k("attention.sliding_window_pattern")
                        )
                    })
                })
                .collect::<Result<Vec<bool>>>()?
        }
        (Some(_), Some(_)) => {
            let n = g.meta_u32(&k("attention.sliding_window_pattern"))? as usize;
            (0..n_layers).map(|i| n == 0 || i % n < n - 1).collect()
        }
        (Some(_), None) => default_sliding(
            generation,
            n_layers,
            if generation == Generation::Gemma2 {
                2
            } else {
                6
            },
        ),
    };
    let is_27b = matches!(
        (generation, n_layers),
        (Generation::Gemma2, 46) | (Generation::Gemma3, 62)
    );
    let attn_scale = if is_27b {
        1.0 / ((hidden / nh.max(1)) as f64).sqrt()
    } else {
        1.0 / (hd as f64).sqrt()
    };
    let softcap = |s: &str| -> Result<Option<f64>> {
        Ok(if has(s) {
            Some(g.meta_f32(&k(s))? as f64).filter(|c| *c > 0.0)
        } else {
            None
        })
    };
    Ok(Shape {
        generation,
        hidden,
        n_heads: nh,
        n_kv_heads: nkv,
        head_dim: hd,
        ff: g.meta_u32(&k("feed_forward_length"))? as usize,
        vocab,
        eps: g.meta_f32(&k("attention.layer_norm_rms_epsilon"))?,
        act: Act::GeluTanh,
        attn_scale,
        attn_softcap: if generation == Generation::Gemma2 {
            softcap("attn_logit_softcapping")?
        } else {
            None
        },
        final_softcap: softcap("final_logit_softcapping")?,
        sliding_window: window,
        sliding,
        rotary: rotary(hd, f("rope.freq_base", 1e4)?, &scaling),
        local_rotary: (generation == Generation::Gemma3)
            .then(|| {
                Ok::<_, anyhow::Error>(rotary(
                    hd,
                    f("rope.freq_base_swa", 1e4)?,
                    &RopeScaling::None,
                ))
            })
            .transpose()?,
    })
}

/// Loads a Gemma GGUF file (see the module docs) with the kernel path `kernels`; `dtype`
/// as for [`super::gguf::load`].
pub fn load(
    path: &Path,
    device: &Device,
    dtype: Option<DType>,
    kernels: Kernels,
) -> Result<Decoder> {
    let mut g = GgufFile::open(path)?;
    let arch = architecture(&g)?;
    let s = shape_of(&g, &arch)?;
    let wdt = weights_dtype(kernels, dtype);
    let act = dtype.unwrap_or(DType::F32);
    let (precision, precision_detail) = recorded_precision(&g, dtype);
    let (h, hd, nh, nkv, ff, eps) = (s.hidden, s.head_dim, s.n_heads, s.n_kv_heads, s.ff, s.eps);
    let ctx = |e: candle_core::Error| anyhow!("{}: {}", path.display(), candle_msg(&e));
    let mat = |g: &mut GgufFile, name: &str, shape: &[usize]| -> Result<Linear> {
        let t = g.tensor(name, device)?;
        check_shape(name, t.shape().dims(), shape).map_err(ctx)?;
        Ok(Linear {
            weight: to_matmul(t, wdt, name, path)?,
            bias: None,
        })
    };
    let norm = |g: &mut GgufFile, name: &str, n: usize| -> Result<Norm> {
        let w = g.tensor(name, device)?.dequantize(device).map_err(ctx)?;
        check_shape(name, w.dims(), &[n]).map_err(ctx)?;
        Ok(Norm::RmsF32 { w, eps })
    };
    let embed_q = Arc::new(g.tensor("token_embd.weight", device)?);
    check_shape("token_embd.weight", embed_q.shape().dims(), &[s.vocab, h]).map_err(ctx)?;
    let embed = embed_q
        .dequantize(device)
        .map_err(ctx)?
        .to_dtype(act)
        .map_err(ctx)?;
    let lm_head = if g.has_tensor("output.weight") {
        mat(&mut g, "output.weight", &[s.vocab, h])?
    } else if wdt == Some(act) {
        Linear::dense(embed.clone())
    } else {
        Linear {
            weight: to_matmul_arc(embed_q, wdt, "token_embd.weight", path)?,
            bias: None,
        }
    };
    let gen = s.generation;
    let mut blocks = Vec::with_capacity(s.sliding.len());
    for i in 0..s.sliding.len() {
        let p = |x: &str| format!("blk.{i}.{x}");
        let qk_norm = match gen {
            Generation::Gemma3 => Some((
                norm(&mut g, &p("attn_q_norm.weight"), hd)?,
                norm(&mut g, &p("attn_k_norm.weight"), hd)?,
            )),
            _ => None,
        };
        let (post_attn_norm, ffn_norms) = match gen {
            Generation::Gemma1 => (norm(&mut g, &p("ffn_norm.weight"), h)?, None),
            _ => (
                norm(&mut g, &p("post_attention_norm.weight"), h)?,
                Some((
                    norm(&mut g, &p("ffn_norm.weight"), h)?,
                    norm(&mut g, &p("post_ffw_norm.weight"), h)?,
                )),
            ),
        };
        let w = LayerWeights {
            input_norm: norm(&mut g, &p("attn_norm.weight"), h)?,
            post_attn_norm,
            ffn_norms,
            qk_norm,
            q: mat(&mut g, &p("attn_q.weight"), &[nh * hd, h])?,
            k: mat(&mut g, &p("attn_k.weight"), &[nkv * hd, h])?,
            v: mat(&mut g, &p("attn_v.weight"), &[nkv * hd, h])?,
            o: mat(&mut g, &p("attn_output.weight"), &[h, nh * hd])?,
            ffn: Ffn {
                gate: Some(mat(&mut g, &p("ffn_gate.weight"), &[ff, h])?),
                up: mat(&mut g, &p("ffn_up.weight"), &[ff, h])?,
                down: mat(&mut g, &p("ffn_down.weight"), &[h, ff])?,
                act: s.act,
            },
        };
        blocks.push(block(&s, i, w));
    }
    let w = DecoderWeights {
        final_norm: norm(&mut g, "output_norm.weight", h)?,
        lm_head,
        embed,
        positions: None,
        embed_norm: None,
        blocks,
    };
    let k = |x: &str| format!("{arch}.{x}");
    let info = ModelInfo {
        architecture: arch.clone(),
        vocab_size: s.vocab,
        max_length: g.meta_u32(&k("context_length"))? as usize,
        bos_token_id: g.meta_opt_u32("tokenizer.ggml.bos_token_id")?,
        eos_token_ids: g
            .meta_opt_u32("tokenizer.ggml.eos_token_id")?
            .into_iter()
            .collect(),
        precision,
        precision_detail: Some(precision_detail),
        params: g
            .content
            .tensor_infos
            .values()
            .map(|t| t.shape.elem_count() as u64)
            .sum(),
        weights_sha256: weights_sha256(&[path.to_path_buf()])?,
        source_path: path.to_path_buf(),
    };
    Decoder::new(s.decoder_config(), w, act, device.clone(), info).map_err(ctx)
}
