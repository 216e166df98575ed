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
use super::decoder::{Act, Block, Decoder, DecoderConfig, DecoderWeights, Ffn};
use super::llama::Linear;
use super::safetensors::{config_usize, Tensors};

/// A `Conv1D` layer `<name>.weight` `[inp, out]` + `<name>.bias` as a [`Linear`]; with
/// `split`, the `out` columns cut into that many equal parts (`c_attn`: q, k, v).
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
    if nh == 0 || h % nh != 0 {
        bail!(
            "{}: n_embd {h} is not a multiple of n_head {nh}",
            path.display()
        );
    }
    for k in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
        if json.get(k).and_then(Value::as_bool) == Some(true) {
            bail!("{}: {k} = true is not supported", path.display());
        }
    }
    let ff = json
        .get("n_inner")
        .and_then(Value::as_u64)
        .map(|v| v as usize)
        .unwrap_or(4 * h);
    let eps = json
        .get("layer_norm_epsilon")
        .and_then(Value::as_f64)
        .unwrap_or(1e-5) as f32;
    let act_name = json
        .get("activation_function")
        .and_then(Value::as_str)
        .unwrap_or("gelu_new");
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
        let mut qkv = conv1d(&mut t, &l("attn.c_attn"), h, 3 * h, 3)?.into_iter();
        let (q, k, v) = (qkv.next(), qkv.next(), qkv.next());
        let (Some(q), Some(k), Some(v)) = (q, k, v) else {
            unreachable!("three parts")
        };
        let o = conv1d(&mut t, &l("attn.c_proj"), h, h, 1)?.remove(0);
        let up = conv1d(&mut t, &l("mlp.c_fc"), h, ff, 1)?.remove(0);
        let down = conv1d(&mut t, &l("mlp.c_proj"), ff, h, 1)?.remove(0);
        blocks.push(Block {
            ln1: t.layer_norm(&l("ln_1"), h, eps)?,
            ln2: Some(t.layer_norm(&l("ln_2"), h, eps)?),
            parallel: false,
            q,
            k,
            v,
            o,
            ffn: Ffn {
                gate: None,
                up,
                down,
                act,
            },
        });
    }
    let final_norm = t.layer_norm(&p("ln_f"), h, eps)?;
    let info = t.info("GPT2LMHeadModel", vocab, json)?;
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
        position_offset: 0,
        embed_scale: None,
        logit_scale: None,
        alibi: false,
    };
    Decoder::new(cfg, w, t.act, device.clone(), info)
        .map_err(|e| anyhow!("{}: {}", dir.display(), candle_msg(&e)))
}
