//! GPT-J (`GPTJForCausalLM`) from a Hugging Face folder, as a [`Decoder`]: one
//! LayerNorm per layer feeding attention and MLP in parallel (`x + attn(ln x) +
//! mlp(ln x)`), q/k/v/out projections without bias, rotary embeddings on the first
//! `rotary_dim` dimensions of each head with GPT-J's pairing of dimensions 2i and 2i+1
//! ("rotate every two"), an MLP `fc_in` → `gelu_new` → `fc_out`, final LayerNorm, output
//! layer with bias.
//!
//! Tensor names: `transformer.wte.weight`, `transformer.h.N.ln_1.*`,
//! `…attn.{q_proj,k_proj,v_proj,out_proj}.weight`, `…mlp.{fc_in,fc_out}.{weight,bias}`,
//! `transformer.ln_f.*`, `lm_head.{weight,bias}`. config.json: `n_embd`, `n_layer`,
//! `n_head`, `n_inner`, `rotary_dim`, `layer_norm_epsilon`, `activation_function`,
//! `vocab_size`.

use std::path::Path;

use anyhow::Result;
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Residual, Rotary};
use super::llama::{inv_freq, RopeScaling, RopeStyle};
use super::safetensors::{
    check_heads, config_act, config_f64, config_opt_usize, config_usize, Tensors,
};

pub fn load(dir: &Path, device: &Device, dtype: Option<DType>, json: &Value) -> Result<Decoder> {
    let path = dir.join("config.json");
    let n = |k: &str| config_usize(json, k, &path);
    let (h, n_layer, nh, vocab) = (n("n_embd")?, n("n_layer")?, n("n_head")?, n("vocab_size")?);
    check_heads(h, nh, &path)?;
    let hd = h / nh;
    let ff = config_opt_usize(json, "n_inner").unwrap_or(4 * h);
    let rot = config_opt_usize(json, "rotary_dim").unwrap_or(hd);
    let eps = config_f64(json, "layer_norm_epsilon", 1e-5) as f32;
    let act = config_act(json, &["activation_function"], "gelu_new", &path)?;
    let mut t = Tensors::open(dir, device, dtype, &["transformer.wte.weight"])?;
    let embed = t.get("transformer.wte.weight", &[vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| format!("transformer.h.{i}.{s}");
        blocks.push(Block {
            qk_norm: None,
            sliding: false,
            ln1: t.layer_norm(&l("ln_1"), h, eps)?,
            residual: Residual::ParallelShared,
            q: t.linear(&l("attn.q_proj"), h, h, false)?,
            k: t.linear(&l("attn.k_proj"), h, h, false)?,
            v: t.linear(&l("attn.v_proj"), h, h, false)?,
            o: t.linear(&l("attn.out_proj"), h, h, false)?,
            ffn: Ffn {
                gate: None,
                up: t.linear(&l("mlp.fc_in"), ff, h, true)?,
                down: t.linear(&l("mlp.fc_out"), h, ff, true)?,
                act,
            },
        });
    }
    let w = DecoderWeights {
        final_norm: t.layer_norm("transformer.ln_f", h, eps)?,
        lm_head: t.linear("lm_head", vocab, h, true)?,
        embed,
        positions: None,
        embed_norm: None,
        blocks,
    };
    let mut cfg = DecoderConfig::new(nh, hd, vocab);
    cfg.rotary = Some(Rotary {
        dims: rot,
        inv_freq: inv_freq(rot, 10000.0, &RopeScaling::None),
        style: RopeStyle::Interleaved,
    });
    let info = t.info("GPTJForCausalLM", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
