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

use anyhow::{anyhow, bail, Result};
use candle_core::quantized::QMatMul;
use candle_core::{DType, Device};
use serde_json::Value;

use super::candle_msg;
use super::decoder::{Act, Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Norm, Rotary};
use super::llama::{inv_freq, Linear, RopeScaling, RopeStyle};
use super::safetensors::{config_usize, Tensors};

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
    if nh == 0 || h % nh != 0 {
        bail!(
            "{}: hidden_size {h} is not a multiple of num_attention_heads {nh}",
            path.display()
        );
    }
    let nkv = json
        .get("num_key_value_heads")
        .and_then(Value::as_u64)
        .map(|v| v as usize)
        .unwrap_or(nh);
    let flag = |k: &str| json.get(k).and_then(Value::as_bool).unwrap_or(false);
    if flag("use_qk_norm") {
        bail!("{}: use_qk_norm = true is not supported", path.display());
    }
    if json.get("rope_scaling").is_some_and(|v| !v.is_null()) {
        bail!(
            "{}: rope_scaling is not supported for Cohere",
            path.display()
        );
    }
    let f = |k: &str, default: f64| json.get(k).and_then(Value::as_f64).unwrap_or(default);
    let eps = f("layer_norm_eps", 1e-5) as f32;
    let act_name = json
        .get("hidden_act")
        .and_then(Value::as_str)
        .unwrap_or("silu");
    let act = Act::from_hf(act_name).ok_or_else(|| {
        anyhow!(
            "{}: hidden_act {act_name:?} is not supported",
            path.display()
        )
    })?;
    let bias = flag("attention_bias");
    let hd = h / nh;
    let mut t = Tensors::open(dir, device, dtype, &["model.embed_tokens.weight"])?;
    let embed = t.get("model.embed_tokens.weight", &[vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("model.layers.{i}.{s}");
        blocks.push(Block {
            ln1: layer_norm(&mut t, &l("input_layernorm.weight"), h, eps)?,
            ln2: None,
            parallel: true,
            q: t.linear(&l("self_attn.q_proj"), nh * hd, h, bias)?,
            k: t.linear(&l("self_attn.k_proj"), nkv * hd, h, bias)?,
            v: t.linear(&l("self_attn.v_proj"), nkv * hd, h, bias)?,
            o: t.linear(&l("self_attn.o_proj"), h, nh * hd, bias)?,
            ffn: Ffn {
                gate: Some(t.linear(&l("mlp.gate_proj"), ff, h, false)?),
                up: t.linear(&l("mlp.up_proj"), ff, h, false)?,
                down: t.linear(&l("mlp.down_proj"), h, ff, false)?,
                act,
            },
        });
    }
    let final_norm = layer_norm(&mut t, "model.norm.weight", h, eps)?;
    let info = t.info("CohereForCausalLM", vocab, json)?;
    let w = DecoderWeights {
        lm_head: Linear {
            weight: QMatMul::Tensor(embed.clone()),
            bias: None,
        },
        embed,
        positions: None,
        embed_norm: None,
        blocks,
        final_norm,
    };
    let cfg = DecoderConfig {
        n_heads: nh,
        n_kv_heads: nkv,
        head_dim: hd,
        vocab_size: vocab,
        rotary: Some(Rotary {
            dims: hd,
            inv_freq: inv_freq(hd, f("rope_theta", 10000.0) as f32, &RopeScaling::None),
            style: RopeStyle::Interleaved,
        }),
        max_positions: None,
        position_offset: 0,
        embed_scale: None,
        logit_scale: Some(f("logit_scale", 0.0625)),
        alibi: false,
    };
    Decoder::new(cfg, w, t.act, device.clone(), info)
        .map_err(|e| anyhow!("{}: {}", dir.display(), candle_msg(&e)))
}
