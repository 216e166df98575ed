//! Cohere (`CohereForCausalLM`: Command R, Aya 23) from a Hugging Face folder, as a
//! [`Decoder`]: one LayerNorm per layer without bias (computed in f32) feeding attention
//! and MLP in parallel (`x + attn(ln x) + mlp(ln x)`), grouped-query attention with
//! rotary embeddings pairing dimensions 2i and 2i+1, a gated SiLU MLP, final LayerNorm,
//! output layer tied to the embeddings, logits multiplied by `logit_scale`.
//!
//! Tensor names: `model.embed_tokens.weight`, `model.layers.N.input_layernorm.weight`,
//! `…self_attn.{q,k,v,o}_proj.weight`, `…mlp.{gate,up,down}_proj.weight`,
//! `model.norm.weight`. config.json: `hidden_size`, `intermediate_size`,
//! `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`, `layer_norm_eps`,
//! `rope_theta`, `logit_scale`, `attention_bias`, `hidden_act`, `vocab_size`;
//! `use_qk_norm` (Command R+) and `rope_scaling` are refused when set.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{Block, Decoder, DecoderConfig, DecoderWeights, Norm, Residual, Rotary};
use super::llama::{inv_freq, Linear, RopeScaling, RopeStyle};
use super::safetensors::{
    check_heads, config_act, config_f64, config_flag, config_opt_usize, config_usize, Tensors,
};

/// Cohere's LayerNorm `<name>.weight` `[h]`, without bias, in f32.
fn layer_norm(t: &mut Tensors, name: &str, h: usize, eps: f32) -> Result<Norm> {
    let w = t.get_stored(name, &[h])?.to_dtype(DType::F32)?;
    let b = w.zeros_like()?;
    Ok(Norm::LayerF32 { w, b, eps })
}

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
    let nkv = config_opt_usize(json, "num_key_value_heads").unwrap_or(nh);
    if config_flag(json, "use_qk_norm", false) {
        bail!("{}: use_qk_norm = true is not supported", path.display());
    }
    if json.get("rope_scaling").is_some_and(|v| !v.is_null()) {
        bail!(
            "{}: rope_scaling is not supported for Cohere",
            path.display()
        );
    }
    let eps = config_f64(json, "layer_norm_eps", 1e-5) as f32;
    let act = config_act(json, &["hidden_act"], "silu", &path)?;
    let bias = config_flag(json, "attention_bias", false);
    let hd = h / nh;
    let mut t = Tensors::open(dir, device, dtype, &["model.embed_tokens.weight"])?;
    let embed = t.get("model.embed_tokens.weight", &[vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("model.layers.{i}.{s}");
        blocks.push(Block {
            qk_norm: None,
            sliding: false,
            ln1: layer_norm(&mut t, &l("input_layernorm.weight"), h, eps)?,
            residual: Residual::ParallelShared,
            q: t.linear(&l("self_attn.q_proj"), nh * hd, h, bias)?,
            k: t.linear(&l("self_attn.k_proj"), nkv * hd, h, bias)?,
            v: t.linear(&l("self_attn.v_proj"), nkv * hd, h, bias)?,
            o: t.linear(&l("self_attn.o_proj"), h, nh * hd, bias)?,
            ffn: t.gated_mlp(&l("mlp"), ff, h, act)?,
        });
    }
    let w = DecoderWeights {
        final_norm: layer_norm(&mut t, "model.norm.weight", h, eps)?,
        lm_head: Linear::dense(embed.clone()),
        embed,
        positions: None,
        embed_norm: None,
        blocks,
    };
    let mut cfg = DecoderConfig::new(nh, hd, vocab);
    cfg.n_kv_heads = nkv;
    let theta = config_f64(json, "rope_theta", 1e4) as f32;
    cfg.rotary = Some(Rotary {
        dims: hd,
        inv_freq: inv_freq(hd, theta, &RopeScaling::None),
        style: RopeStyle::Interleaved,
    });
    cfg.logit_scale = Some(config_f64(json, "logit_scale", 0.0625));
    let info = t.info("CohereForCausalLM", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
