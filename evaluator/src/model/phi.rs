//! Phi-1, Phi-1.5 and Phi-2 (`PhiForCausalLM`) from a Hugging Face folder, as a
//! [`Decoder`]: one LayerNorm per layer feeding attention and MLP in parallel
//! (`x + attn(ln x) + mlp(ln x)`), q/k/v/dense projections with bias, rotary embeddings
//! ("rotate half") on the first `partial_rotary_factor` of each head, an MLP `fc1` →
//! `gelu_new` → `fc2`, final LayerNorm, output layer with bias.
//!
//! Tensor names: `model.embed_tokens.weight`, `model.layers.N.input_layernorm.*`,
//! `…self_attn.{q_proj,k_proj,v_proj,dense}.{weight,bias}`, `…mlp.{fc1,fc2}.*`,
//! `model.final_layernorm.*`, `lm_head.{weight,bias}`. config.json: `hidden_size`,
//! `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`,
//! `intermediate_size`, `partial_rotary_factor`, `rope_theta`, `layer_norm_eps`,
//! `hidden_act`, `vocab_size`; `qk_layernorm` and `rope_scaling` are refused when set.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Residual, Rotary};
use super::llama::{inv_freq, RopeScaling, RopeStyle};
use super::safetensors::{
    check_heads, config_act, config_f64, config_flag, config_opt_usize, config_usize, Tensors,
};

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
    if config_flag(json, "qk_layernorm", false) {
        bail!("{}: qk_layernorm = true is not supported", path.display());
    }
    if json.get("rope_scaling").is_some_and(|v| !v.is_null()) {
        bail!("{}: rope_scaling is not supported for Phi", path.display());
    }
    let hd = h / nh;
    let rot = (hd as f64 * config_f64(json, "partial_rotary_factor", 0.5)) as usize;
    let eps = config_f64(json, "layer_norm_eps", 1e-5) as f32;
    let act = config_act(json, &["hidden_act"], "gelu_new", &path)?;
    let mut t = Tensors::open(dir, device, dtype, &["model.embed_tokens.weight"])?;
    let embed = t.get("model.embed_tokens.weight", &[vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("model.layers.{i}.{s}");
        blocks.push(Block {
            qk_norm: None,
            sliding: false,
            ln1: t.layer_norm(&l("input_layernorm"), h, eps)?,
            residual: Residual::ParallelShared,
            q: t.linear(&l("self_attn.q_proj"), nh * hd, h, true)?,
            k: t.linear(&l("self_attn.k_proj"), nkv * hd, h, true)?,
            v: t.linear(&l("self_attn.v_proj"), nkv * hd, h, true)?,
            o: t.linear(&l("self_attn.dense"), h, nh * hd, true)?,
            ffn: Ffn {
                gate: None,
                up: t.linear(&l("mlp.fc1"), ff, h, true)?,
                down: t.linear(&l("mlp.fc2"), h, ff, true)?,
                act,
            },
        });
    }
    let w = DecoderWeights {
        final_norm: t.layer_norm("model.final_layernorm", h, eps)?,
        lm_head: t.linear("lm_head", vocab, h, true)?,
        embed,
        positions: None,
        embed_norm: None,
        blocks,
    };
    let mut cfg = DecoderConfig::new(nh, hd, vocab);
    cfg.n_kv_heads = nkv;
    let theta = config_f64(json, "rope_theta", 1e4) as f32;
    cfg.rotary = Some(Rotary {
        dims: rot,
        inv_freq: inv_freq(rot, theta, &RopeScaling::None),
        style: RopeStyle::Half,
    });
    let info = t.info("PhiForCausalLM", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
