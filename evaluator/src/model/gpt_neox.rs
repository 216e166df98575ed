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

use anyhow::{anyhow, bail, Result};
use candle_core::quantized::QMatMul;
use candle_core::{DType, Device};
use serde_json::Value;

use super::candle_msg;
use super::decoder::{Act, Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Rotary};
use super::llama::{inv_freq, Linear, RopeScaling, RopeStyle};
use super::safetensors::{config_usize, Tensors};

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
    if json.get("rope_scaling").is_some_and(|v| !v.is_null()) {
        bail!(
            "{}: rope_scaling is not supported for GPT-NeoX",
            path.display()
        );
    }
    let f = |k: &str, default: f64| json.get(k).and_then(Value::as_f64).unwrap_or(default);
    let flag = |k: &str, default: bool| json.get(k).and_then(Value::as_bool).unwrap_or(default);
    let hd = h / nh;
    let rot = (hd as f64 * f("rotary_pct", 0.25)) as usize;
    let eps = f("layer_norm_eps", 1e-5) as f32;
    let act_name = json
        .get("hidden_act")
        .and_then(Value::as_str)
        .unwrap_or("gelu");
    let act = Act::from_hf(act_name).ok_or_else(|| {
        anyhow!(
            "{}: hidden_act {act_name:?} is not supported",
            path.display()
        )
    })?;
    let parallel = flag("use_parallel_residual", true);
    let bias = flag("attention_bias", true);
    let mut t = Tensors::open(dir, device, dtype, &["gpt_neox.embed_in.weight"])?;
    let embed = t.get("gpt_neox.embed_in.weight", &[vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("gpt_neox.layers.{i}.{s}");
        // Rows of the fused projection: per head, hd rows of q, then k, then v.
        let name = l("attention.query_key_value");
        let w = t.get(&format!("{name}.weight"), &[3 * h, h])?;
        let b = if bias {
            Some(t.get(&format!("{name}.bias"), &[3 * h])?)
        } else {
            None
        };
        let split = |j: usize| -> candle_core::Result<Linear> {
            let wj = w
                .reshape((nh, 3, hd, h))?
                .narrow(1, j, 1)?
                .reshape((h, h))?;
            let bj = match &b {
                Some(b) => Some(b.reshape((nh, 3, hd))?.narrow(1, j, 1)?.reshape(h)?),
                None => None,
            };
            Ok(Linear {
                weight: QMatMul::Tensor(wj.contiguous()?),
                bias: bj.map(|b| b.contiguous()).transpose()?,
            })
        };
        let part = |j| split(j).map_err(|e| anyhow!("{name}: {}", candle_msg(&e)));
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        blocks.push(Block {
            ln1: t.layer_norm(&l("input_layernorm"), h, eps)?,
            ln2: Some(t.layer_norm(&l("post_attention_layernorm"), h, eps)?),
            parallel,
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
    let final_norm = t.layer_norm("gpt_neox.final_layer_norm", h, eps)?;
    let lm_head = if flag("tie_word_embeddings", false) {
        embed.clone()
    } else {
        t.get("embed_out.weight", &[vocab, h])?
    };
    let info = t.info("GPTNeoXForCausalLM", vocab, json)?;
    let w = DecoderWeights {
        embed,
        positions: None,
        embed_norm: None,
        blocks,
        final_norm,
        lm_head: Linear {
            weight: QMatMul::Tensor(lm_head),
            bias: None,
        },
    };
    let cfg = DecoderConfig {
        n_heads: nh,
        n_kv_heads: nh,
        head_dim: hd,
        vocab_size: vocab,
        rotary: Some(Rotary {
            dims: rot,
            inv_freq: inv_freq(
                rot,
                f("rotary_emb_base", 10000.0) as f32,
                &RopeScaling::None,
            ),
            style: RopeStyle::Half,
        }),
        max_positions: None,
        position_offset: 0,
        embed_scale: None,
        logit_scale: None,
        alibi: false,
    };
    Decoder::new(cfg, w, t.act, device.clone(), info)
        .map_err(|e| anyhow!("{}: {}", dir.display(), candle_msg(&e)))
}
