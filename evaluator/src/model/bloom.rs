//! Bloom (`BloomForCausalLM`) from a Hugging Face folder, as a [`Decoder`]: token
//! embeddings followed by a LayerNorm, no position embeddings but ALiBi biases in
//! attention (per-head slopes times the key position), LayerNorm before attention and
//! before the MLP, multi-head attention from one fused `query_key_value` projection laid
//! out per head as (q, k, v), an MLP `dense_h_to_4h` → GELU (tanh) → `dense_4h_to_h`, final
//! LayerNorm, output layer tied to the embeddings.
//!
//! Tensor names: `[transformer.]word_embeddings.weight`, `…word_embeddings_layernorm.*`,
//! `…h.N.{input_layernorm,post_attention_layernorm}.*`,
//! `…h.N.self_attention.{query_key_value,dense}.{weight,bias}`,
//! `…h.N.mlp.{dense_h_to_4h,dense_4h_to_h}.*`, `…ln_f.*` (the `transformer.` prefix as in
//! checkpoints saved from `BloomForCausalLM`; the original ones have none). config.json:
//! `hidden_size` (or `n_embed`), `n_layer`, `n_head`, `layer_norm_epsilon`, `vocab_size`;
//! `apply_residual_connection_post_layernorm` is refused when true.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use candle_core::quantized::QMatMul;
use candle_core::{DType, Device};
use serde_json::Value;

use super::candle_msg;
use super::decoder::{Act, Block, Decoder, DecoderConfig, DecoderWeights, Ffn};
use super::llama::Linear;
use super::safetensors::{config_usize, Tensors};

pub fn load(dir: &Path, device: &Device, dtype: Option<DType>, json: &Value) -> Result<Decoder> {
    let path = dir.join("config.json");
    let n = |k: &str| config_usize(json, k, &path);
    let h = n("hidden_size").or_else(|_| n("n_embed"))?;
    let (n_layer, nh, vocab) = (n("n_layer")?, n("n_head")?, n("vocab_size")?);
    if nh == 0 || h % nh != 0 {
        bail!(
            "{}: hidden_size {h} is not a multiple of n_head {nh}",
            path.display()
        );
    }
    if json
        .get("apply_residual_connection_post_layernorm")
        .and_then(Value::as_bool)
        == Some(true)
    {
        bail!(
            "{}: apply_residual_connection_post_layernorm = true is not supported",
            path.display()
        );
    }
    let eps = json
        .get("layer_norm_epsilon")
        .and_then(Value::as_f64)
        .unwrap_or(1e-5) as f32;
    let hd = h / nh;
    let mut t = Tensors::open(
        dir,
        device,
        dtype,
        &[
            "transformer.word_embeddings.weight",
            "word_embeddings.weight",
        ],
    )?;
    let p = if t.has("transformer.word_embeddings.weight") {
        "transformer."
    } else {
        ""
    };
    let embed = t.get(&format!("{p}word_embeddings.weight"), &[vocab, h])?;
    let embed_norm = t.layer_norm(&format!("{p}word_embeddings_layernorm"), h, eps)?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("{p}h.{i}.{s}");
        let name = l("self_attention.query_key_value");
        let w = t.get(&format!("{name}.weight"), &[3 * h, h])?;
        let b = t.get(&format!("{name}.bias"), &[3 * h])?;
        // Rows of the fused projection: per head, hd rows of q, then k, then v.
        let split = |j: usize| -> candle_core::Result<Linear> {
            Ok(Linear {
                weight: QMatMul::Tensor(
                    w.reshape((nh, 3, hd, h))?
                        .narrow(1, j, 1)?
                        .reshape((h, h))?
                        .contiguous()?,
                ),
                bias: Some(
                    b.reshape((nh, 3, hd))?
                        .narrow(1, j, 1)?
                        .reshape(h)?
                        .contiguous()?,
                ),
            })
        };
        let part = |j| split(j).map_err(|e| anyhow!("{name}: {}", candle_msg(&e)));
        blocks.push(Block {
            ln1: t.layer_norm(&l("input_layernorm"), h, eps)?,
            ln2: Some(t.layer_norm(&l("post_attention_layernorm"), h, eps)?),
            parallel: false,
            q: part(0)?,
            k: part(1)?,
            v: part(2)?,
            o: t.linear(&l("self_attention.dense"), h, h, true)?,
            ffn: Ffn {
                gate: None,
                up: t.linear(&l("mlp.dense_h_to_4h"), 4 * h, h, true)?,
                down: t.linear(&l("mlp.dense_4h_to_h"), h, 4 * h, true)?,
                act: Act::GeluTanh,
            },
        });
    }
    let final_norm = t.layer_norm(&format!("{p}ln_f"), h, eps)?;
    let info = t.info("BloomForCausalLM", vocab, json)?;
    let w = DecoderWeights {
        lm_head: Linear {
            weight: QMatMul::Tensor(embed.clone()),
            bias: None,
        },
        embed,
        positions: None,
        embed_norm: Some(embed_norm),
        blocks,
        final_norm,
    };
    let cfg = DecoderConfig {
        n_heads: nh,
        n_kv_heads: nh,
        head_dim: hd,
        vocab_size: vocab,
        rotary: None,
        max_positions: None,
        position_offset: 0,
        embed_scale: None,
        logit_scale: None,
        alibi: true,
    };
    Decoder::new(cfg, w, t.act, device.clone(), info)
        .map_err(|e| anyhow!("{}: {}", dir.display(), candle_msg(&e)))
}
