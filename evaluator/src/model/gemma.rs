//! Gemma (`GemmaForCausalLM`, Gemma 1) from a Hugging Face folder, as a [`Decoder`]: token
//! embeddings multiplied by sqrt(hidden) (in the activation dtype), RMSNorm with weight
//! `1 + w` (in f32, as transformers computes it), grouped-query attention with rotary embeddings
//! ("rotate half") over the whole head (`head_dim`, 256 in the released models), a gated
//! MLP `down(gelu_tanh(gate x) * up x)`, final RMSNorm, output layer tied to the embeddings.
//!
//! Tensor names are Llama's: `model.embed_tokens.weight`,
//! `model.layers.N.{input_layernorm,post_attention_layernorm}.weight`,
//! `…self_attn.{q,k,v,o}_proj.weight`, `…mlp.{gate,up,down}_proj.weight`,
//! `model.norm.weight`. config.json: `hidden_size`, `intermediate_size`,
//! `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`, `head_dim`,
//! `rms_norm_eps`, `rope_theta`, `hidden_act` / `hidden_activation`, `attention_bias`,
//! `vocab_size`. Gemma 2 and 3 (soft-capping, sliding windows, local/global layers) are
//! other architectures, not read here.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{Block, Decoder, DecoderConfig, DecoderWeights, Norm, Residual, Rotary};
use super::llama::{inv_freq, Linear, RopeScaling, RopeStyle};
use super::safetensors::{
    config_act, config_f64, config_flag, config_opt_usize, config_usize, Tensors,
};

/// Gemma's RMSNorm `<name>.weight` `[h]`: `x̂ · (1 + w)`, all in f32 as transformers
/// computes it (the weight as stored, then `1 + w` in f32).
fn rms_norm(t: &mut Tensors, name: &str, h: usize, eps: f32) -> Result<Norm> {
    let w = t.get_stored(name, &[h])?;
    let w = (w.to_dtype(DType::F32)? + 1.0)?;
    Ok(Norm::RmsF32 { w, eps })
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
    let nkv = config_opt_usize(json, "num_key_value_heads").unwrap_or(nh);
    let hd = config_opt_usize(json, "head_dim").unwrap_or(h / nh.max(1));
    if json.get("rope_scaling").is_some_and(|v| !v.is_null()) {
        bail!(
            "{}: rope_scaling is not supported for Gemma",
            path.display()
        );
    }
    let bias = config_flag(json, "attention_bias", false);
    let eps = config_f64(json, "rms_norm_eps", 1e-6) as f32;
    // transformers uses `hidden_activation` when set, else `hidden_act`.
    let act = config_act(
        json,
        &["hidden_activation", "hidden_act"],
        "gelu_pytorch_tanh",
        &path,
    )?;
    let mut t = Tensors::open(dir, device, dtype, &["model.embed_tokens.weight"])?;
    let embed = t.get("model.embed_tokens.weight", &[vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("model.layers.{i}.{s}");
        blocks.push(Block {
            qk_norm: None,
            sliding: false,
            ln1: rms_norm(&mut t, &l("input_layernorm.weight"), h, eps)?,
            residual: Residual::Sequential(rms_norm(
                &mut t,
                &l("post_attention_layernorm.weight"),
                h,
                eps,
            )?),
            q: t.linear(&l("self_attn.q_proj"), nh * hd, h, bias)?,
            k: t.linear(&l("self_attn.k_proj"), nkv * hd, h, bias)?,
            v: t.linear(&l("self_attn.v_proj"), nkv * hd, h, bias)?,
            o: t.linear(&l("self_attn.o_proj"), h, nh * hd, bias)?,
            ffn: t.gated_mlp(&l("mlp"), ff, h, act)?,
        });
    }
    let w = DecoderWeights {
        final_norm: rms_norm(&mut t, "model.norm.weight", h, eps)?,
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
        style: RopeStyle::Half,
    });
    cfg.embed_scale = Some((h as f64).sqrt());
    let info = t.info("GemmaForCausalLM", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
