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

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{Act, Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Residual};
use super::llama::Linear;
use super::safetensors::{check_heads, config_f64, config_flag, config_usize, Tensors};

pub fn load(dir: &Path, device: &Device, dtype: Option<DType>, json: &Value) -> Result<Decoder> {
    let path = dir.join("config.json");
    let n = |k: &str| config_usize(json, k, &path);
    let h = n("hidden_size").or_else(|_| n("n_embed"))?;
    let (n_layer, nh, vocab) = (n("n_layer")?, n("n_head")?, n("vocab_size")?);
    check_heads(h, nh, &path)?;
    if config_flag(json, "apply_residual_connection_post_layernorm", false) {
        bail!(
            "{}: apply_residual_connection_post_layernorm = true is not supported",
            path.display()
        );
    }
    let eps = config_f64(json, "layer_norm_epsilon", 1e-5) as f32;
    let hd = h / nh;
    let names = [
        "transformer.word_embeddings.weight",
        "word_embeddings.weight",
    ];
    let mut t = Tensors::open(dir, device, dtype, &names)?;
    let p = if t.has(names[0]) { "transformer." } else { "" };
    let embed = t.get(&format!("{p}word_embeddings.weight"), &[vocab, h])?;
    let embed_norm = t.layer_norm(&format!("{p}word_embeddings_layernorm"), h, eps)?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("{p}h.{i}.{s}");
        let [q, k, v] =
            t.fused_qkv_per_head(&l("self_attention.query_key_value"), nh, hd, h, true)?;
        blocks.push(Block {
            qk_norm: None,
            sliding: false,
            ln1: t.layer_norm(&l("input_layernorm"), h, eps)?,
            residual: Residual::Sequential(t.layer_norm(&l("post_attention_layernorm"), h, eps)?),
            q,
            k,
            v,
            o: t.linear(&l("self_attention.dense"), h, h, true)?,
            ffn: Ffn {
                gate: None,
                up: t.linear(&l("mlp.dense_h_to_4h"), 4 * h, h, true)?,
                down: t.linear(&l("mlp.dense_4h_to_h"), h, 4 * h, true)?,
                act: Act::GeluTanh,
            },
        });
    }
    let w = DecoderWeights {
        final_norm: t.layer_norm(&format!("{p}ln_f"), h, eps)?,
        lm_head: Linear::dense(embed.clone()),
        embed,
        positions: None,
        embed_norm: Some(embed_norm),
        blocks,
    };
    let mut cfg = DecoderConfig::new(nh, hd, vocab);
    cfg.alibi = true;
    let info = t.info("BloomForCausalLM", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
