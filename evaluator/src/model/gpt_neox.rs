//! GPT-NeoX (`GPTNeoXForCausalLM`: Pythia, GPT-NeoX-20B, …) from a Hugging Face folder,
//! as a [`Decoder`]: LayerNorm, multi-head attention from one fused `query_key_value`
//! projection whose output is laid out per head as (q, k, v), rotary embeddings
//! ("rotate half") on the first `rotary_pct` of each head's dimensions, an MLP
//! `dense_h_to_4h` → activation → `dense_4h_to_h`, and by default the parallel residual
//! `x + attn(ln1 x) + mlp(ln2 x)`; final LayerNorm; output layer `embed_out`.
//!
//! Tensor names: `gpt_neox.embed_in.weight`, `gpt_neox.layers.N.{input_layernorm,
//! post_attention_layernorm}.{weight,bias}`, `…attention.query_key_value.{weight,bias}`,
//! `…attention.dense.*`, `…mlp.dense_h_to_4h.*`, `…mlp.dense_4h_to_h.*`,
//! `gpt_neox.final_layer_norm.*`, `embed_out.weight`. config.json: `hidden_size`,
//! `num_hidden_layers`, `num_attention_heads`, `intermediate_size`, `rotary_pct`,
//! `rotary_emb_base`, `layer_norm_eps`, `hidden_act`, `use_parallel_residual`,
//! `attention_bias`, `tie_word_embeddings`, `vocab_size`, `rope_scaling` (refused when set).

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Residual, Rotary};
use super::llama::{inv_freq, Linear, RopeScaling, RopeStyle};
use super::safetensors::{check_heads, config_act, config_f64, config_flag, config_usize, Tensors};

pub fn load(dir: &Path, device: &Device, dtype: Option<DType>, json: &Value) -> Result<Decoder> {
    let path = dir.join("config.json");
    let n = |k: &str| config_usize(json, k, &path);
    let (h, n_layer, nh, ff, vocab) = (
        n("hidden_size")?,
        n("num_hidden_layers")?,
        n("num_attention_heads")?,
        n("intermediate_size")?,
        n("vocab_size")?,
    );
    check_heads(h, nh, &path)?;
    if json.get("rope_scaling").is_some_and(|v| !v.is_null()) {
        bail!(
            "{}: rope_scaling is not supported for GPT-NeoX",
            path.display()
        );
    }
    let hd = h / nh;
    let rot = (hd as f64 * config_f64(json, "rotary_pct", 0.25)) as usize;
    let eps = config_f64(json, "layer_norm_eps", 1e-5) as f32;
    let act = config_act(json, &["hidden_act"], "gelu", &path)?;
    let parallel = config_flag(json, "use_parallel_residual", true);
    let bias = config_flag(json, "attention_bias", true);
    let mut t = Tensors::open(dir, device, dtype, &["gpt_neox.embed_in.weight"])?;
    let embed = t.get("gpt_neox.embed_in.weight", &[vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("gpt_neox.layers.{i}.{s}");
        let [q, k, v] = t.fused_qkv_per_head(&l("attention.query_key_value"), nh, hd, h, bias)?;
        blocks.push(Block {
            qk_norm: None,
            sliding: false,
            ln1: t.layer_norm(&l("input_layernorm"), h, eps)?,
            residual: if parallel {
                Residual::Parallel(t.layer_norm(&l("post_attention_layernorm"), h, eps)?)
            } else {
                Residual::Sequential(t.layer_norm(&l("post_attention_layernorm"), h, eps)?)
            },
            q,
            k,
            v,
            o: t.linear(&l("attention.dense"), h, h, bias)?,
            ffn: Ffn {
                gate: None,
                up: t.linear(&l("mlp.dense_h_to_4h"), ff, h, true)?,
                down: t.linear(&l("mlp.dense_4h_to_h"), h, ff, true)?,
                act,
            },
        });
    }
    let lm_head = if config_flag(json, "tie_word_embeddings", false) {
        embed.clone()
    } else {
        t.get("embed_out.weight", &[vocab, h])?
    };
    let w = DecoderWeights {
        final_norm: t.layer_norm("gpt_neox.final_layer_norm", h, eps)?,
        lm_head: Linear::dense(lm_head),
        embed,
        positions: None,
        embed_norm: None,
        blocks,
    };
    let mut cfg = DecoderConfig::new(nh, hd, vocab);
    let theta = config_f64(json, "rotary_emb_base", 1e4) as f32;
    cfg.rotary = Some(Rotary {
        dims: rot,
        inv_freq: inv_freq(rot, theta, &RopeScaling::None),
        style: RopeStyle::Half,
    });
    let info = t.info("GPTNeoXForCausalLM", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
