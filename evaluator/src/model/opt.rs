//! OPT (`OPTForCausalLM`) from a Hugging Face folder, as a [`Decoder`]: token embeddings
//! plus learned positions (row = position + 2), LayerNorm before attention and before the
//! MLP, multi-head attention with biases, an MLP `fc1` → activation (ReLU) → `fc2`, final
//! LayerNorm, output layer tied to the embeddings.
//!
//! Tensor names: `[model.]decoder.embed_tokens.weight`, `…embed_positions.weight`,
//! `…layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}`, `…layers.N.self_attn_layer_norm.*`,
//! `…layers.N.{fc1,fc2}.*`, `…layers.N.final_layer_norm.*` (the pre-MLP norm),
//! `…decoder.final_layer_norm.*` (checkpoints saved from `OPTForCausalLM` carry the
//! `model.` prefix, the original ones do not). config.json: `hidden_size`, `ffn_dim`,
//! `num_hidden_layers`, `num_attention_heads`, `max_position_embeddings`,
//! `activation_function`, `enable_bias`, `vocab_size`. Refused: `do_layer_norm_before`
//! false or `word_embed_proj_dim` other than `hidden_size` (OPT-350m's post-norm layers
//! and projected embeddings), `layer_norm_elementwise_affine` false,
//! `_remove_final_layer_norm` true.

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
    let (h, n_layer, nh, ff, vocab, n_pos) = (
        n("hidden_size")?,
        n("num_hidden_layers")?,
        n("num_attention_heads")?,
        n("ffn_dim")?,
        n("vocab_size")?,
        n("max_position_embeddings")?,
    );
    if nh == 0 || h % nh != 0 {
        bail!(
            "{}: hidden_size {h} is not a multiple of num_attention_heads {nh}",
            path.display()
        );
    }
    let flag = |k: &str, default: bool| json.get(k).and_then(Value::as_bool).unwrap_or(default);
    let unsupported = [
        (
            !flag("do_layer_norm_before", true),
            "do_layer_norm_before = false",
        ),
        (
            json.get("word_embed_proj_dim")
                .and_then(Value::as_u64)
                .is_some_and(|d| d as usize != h),
            "word_embed_proj_dim other than hidden_size",
        ),
        (
            !flag("layer_norm_elementwise_affine", true),
            "layer_norm_elementwise_affine = false",
        ),
        (
            flag("_remove_final_layer_norm", false),
            "_remove_final_layer_norm = true",
        ),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(bad, _)| *bad) {
        bail!(
            "{}: {what} is not supported (OPT-350m's layout)",
            path.display()
        );
    }
    let bias = flag("enable_bias", true);
    let act_name = json
        .get("activation_function")
        .and_then(Value::as_str)
        .unwrap_or("relu");
    let act = Act::from_hf(act_name).ok_or_else(|| {
        anyhow!(
            "{}: activation_function {act_name:?} is not supported",
            path.display()
        )
    })?;
    let mut t = Tensors::open(
        dir,
        device,
        dtype,
        &[
            "model.decoder.embed_tokens.weight",
            "decoder.embed_tokens.weight",
        ],
    )?;
    let d = if t.has("model.decoder.embed_tokens.weight") {
        "model.decoder"
    } else {
        "decoder"
    };
    let embed = t.get(&format!("{d}.embed_tokens.weight"), &[vocab, h])?;
    let positions = t.get(&format!("{d}.embed_positions.weight"), &[n_pos + 2, h])?;
    let eps = 1e-5;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("{d}.layers.{i}.{s}");
        blocks.push(Block {
            ln1: t.layer_norm(&l("self_attn_layer_norm"), h, eps)?,
            ln2: Some(t.layer_norm(&l("final_layer_norm"), h, eps)?),
            parallel: false,
            q: t.linear(&l("self_attn.q_proj"), h, h, bias)?,
            k: t.linear(&l("self_attn.k_proj"), h, h, bias)?,
            v: t.linear(&l("self_attn.v_proj"), h, h, bias)?,
            o: t.linear(&l("self_attn.out_proj"), h, h, bias)?,
            ffn: Ffn {
                gate: None,
                up: t.linear(&l("fc1"), ff, h, bias)?,
                down: t.linear(&l("fc2"), h, ff, bias)?,
                act,
            },
        });
    }
    let final_norm = t.layer_norm(&format!("{d}.final_layer_norm"), h, eps)?;
    let info = t.info("OPTForCausalLM", vocab, json)?;
    let w = DecoderWeights {
        lm_head: Linear {
            weight: QMatMul::Tensor(embed.clone()),
            bias: None,
        },
        embed,
        positions: Some(positions),
        embed_norm: None,
        blocks,
        final_norm,
    };
    let cfg = DecoderConfig {
        n_heads: nh,
        n_kv_heads: nh,
        head_dim: h / nh,
        vocab_size: vocab,
        rotary: None,
        max_positions: Some(n_pos),
        position_offset: 2,
        embed_scale: None,
        logit_scale: None,
        alibi: false,
    };
    Decoder::new(cfg, w, t.act, device.clone(), info)
        .map_err(|e| anyhow!("{}: {}", dir.display(), candle_msg(&e)))
}
