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

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Residual};
use super::llama::Linear;
use super::safetensors::{
    check_heads, config_act, config_flag, config_opt_usize, config_usize, Tensors,
};

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
    check_heads(h, nh, &path)?;
    let unsupported = [
        (
            !config_flag(json, "do_layer_norm_before", true),
            "do_layer_norm_before = false",
        ),
        (
            config_opt_usize(json, "word_embed_proj_dim").is_some_and(|d| d != h),
            "word_embed_proj_dim other than hidden_size",
        ),
        (
            !config_flag(json, "layer_norm_elementwise_affine", true),
            "layer_norm_elementwise_affine = false",
        ),
        (
            config_flag(json, "_remove_final_layer_norm", false),
            "_remove_final_layer_norm = true",
        ),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(bad, _)| *bad) {
        bail!(
            "{}: {what} is not supported (OPT-350m's layout)",
            path.display()
        );
    }
    let bias = config_flag(json, "enable_bias", true);
    let act = config_act(json, &["activation_function"], "relu", &path)?;
    let names = [
        "model.decoder.embed_tokens.weight",
        "decoder.embed_tokens.weight",
    ];
    let mut t = Tensors::open(dir, device, dtype, &names)?;
    let d = if t.has(names[0]) {
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
            qk_norm: None,
            sliding: false,
            ln1: t.layer_norm(&l("self_attn_layer_norm"), h, eps)?,
            residual: Residual::Sequential(t.layer_norm(&l("final_layer_norm"), h, eps)?),
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
    let w = DecoderWeights {
        final_norm: t.layer_norm(&format!("{d}.final_layer_norm"), h, eps)?,
        lm_head: Linear::dense(embed.clone()),
        embed,
        positions: Some(positions),
        embed_norm: None,
        blocks,
    };
    let mut cfg = DecoderConfig::new(nh, h / nh, vocab);
    cfg.max_positions = Some(n_pos);
    cfg.position_offset = 2;
    let info = t.info("OPTForCausalLM", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
