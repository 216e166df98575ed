//! GPT-2 (`GPT2LMHeadModel`) from a Hugging Face folder, as a [`Decoder`]: learned
//! absolute positions (`wpe`), LayerNorm before attention and MLP, multi-head attention
//! from one fused `c_attn` projection, a `c_fc` → activation (`gelu_new`) → `c_proj`
//! MLP, final `ln_f`, output layer tied to the token embeddings.
//!
//! Tensor names: `[transformer.]wte.weight`, `wpe.weight`, `h.N.ln_1.{weight,bias}`,
//! `h.N.attn.c_attn.{weight,bias}`, `h.N.attn.c_proj.*`, `h.N.ln_2.*`, `h.N.mlp.c_fc.*`,
//! `h.N.mlp.c_proj.*`, `ln_f.*` (checkpoints saved from `GPT2LMHeadModel` carry the
//! `transformer.` prefix, the original `gpt2` ones do not). GPT-2's linear layers are
//! `Conv1D`: their weights are stored `[in, out]` and are transposed here. config.json:
//! `n_embd`, `n_layer`, `n_head`, `n_positions`, `n_inner`, `layer_norm_epsilon`,
//! `activation_function`, `vocab_size`; `scale_attn_by_inverse_layer_idx` and
//! `reorder_and_upcast_attn` are refused when true (no model of the v1 leaderboard sets them).

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use candle_core::quantized::QMatMul;
use candle_core::{DType, Device};
use serde_json::Value;

use super::candle_msg;
use super::decoder::{Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Residual};
use super::llama::Linear;
use super::safetensors::{
    check_heads, config_act, config_f64, config_flag, config_opt_usize, config_usize, Tensors,
};

/// A `Conv1D` layer `<name>.weight` `[inp, out]` + `<name>.bias` as [`Linear`]s: the
/// `out` columns cut into `split` equal parts (`c_attn`: q, k, v).
fn conv1d(
    t: &mut Tensors,
    name: &str,
    inp: usize,
    out: usize,
    split: usize,
) -> Result<Vec<Linear>> {
    let w = t.get(&format!("{name}.weight"), &[inp, out])?;
    let b = t.get(&format!("{name}.bias"), &[out])?;
    let part = out / split;
    (0..split)
        .map(|i| -> candle_core::Result<Linear> {
            Ok(Linear {
                weight: QMatMul::Tensor(w.narrow(1, i * part, part)?.t()?.contiguous()?),
                bias: Some(b.narrow(0, i * part, part)?.contiguous()?),
            })
        })
        .collect::<candle_core::Result<_>>()
        .map_err(|e| anyhow!("{name}: {}", candle_msg(&e)))
}

pub fn load(dir: &Path, device: &Device, dtype: Option<DType>, json: &Value) -> Result<Decoder> {
    let path = dir.join("config.json");
    let n = |k: &str| config_usize(json, k, &path);
    let (h, n_layer, nh, vocab, n_pos) = (
        n("n_embd")?,
        n("n_layer")?,
        n("n_head")?,
        n("vocab_size")?,
        n("n_positions")?,
    );
    check_heads(h, nh, &path)?;
    for k in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
        if config_flag(json, k, false) {
            bail!("{}: {k} = true is not supported", path.display());
        }
    }
    let ff = config_opt_usize(json, "n_inner").unwrap_or(4 * h);
    let eps = config_f64(json, "layer_norm_epsilon", 1e-5) as f32;
    let act = config_act(json, &["activation_function"], "gelu_new", &path)?;
    let mut t = Tensors::open(
        dir,
        device,
        dtype,
        &["transformer.wte.weight", "wte.weight"],
    )?;
    let prefix = if t.has("transformer.wte.weight") {
        "transformer."
    } else {
        ""
    };
    let p = |s: &str| format!("{prefix}{s}");
    let embed = t.get(&p("wte.weight"), &[vocab, h])?;
    let positions = t.get(&p("wpe.weight"), &[n_pos, h])?;
    let mut blocks = Vec::with_capacity(n_layer);
    for i in 0..n_layer {
        let l = |s: &str| p(&format!("h.{i}.{s}"));
        let [q, k, v]: [Linear; 3] = conv1d(&mut t, &l("attn.c_attn"), h, 3 * h, 3)?
            .try_into()
            .map_err(|_| anyhow!("three parts"))?;
        blocks.push(Block {
            qk_norm: None,
            sliding: false,
            ln1: t.layer_norm(&l("ln_1"), h, eps)?,
            residual: Residual::Sequential(t.layer_norm(&l("ln_2"), h, eps)?),
            q,
            k,
            v,
            o: conv1d(&mut t, &l("attn.c_proj"), h, h, 1)?.remove(0),
            ffn: Ffn {
                gate: None,
                up: conv1d(&mut t, &l("mlp.c_fc"), h, ff, 1)?.remove(0),
                down: conv1d(&mut t, &l("mlp.c_proj"), ff, h, 1)?.remove(0),
                act,
            },
        });
    }
    let w = DecoderWeights {
        final_norm: t.layer_norm(&p("ln_f"), h, eps)?,
        lm_head: Linear::dense(embed.clone()),
        embed,
        positions: Some(positions),
        embed_norm: None,
        blocks,
    };
    let mut cfg = DecoderConfig::new(nh, h / nh, vocab);
    cfg.max_positions = Some(n_pos);
    let info = t.info("GPT2LMHeadModel", vocab, json)?;
    Decoder::load(dir, cfg, w, &t, info)
}
