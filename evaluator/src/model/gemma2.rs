//! Gemma 2 (`Gemma2ForCausalLM`) and Gemma 3 text models (`Gemma3ForCausalLM`: the 270M
//! and 1B releases) from a Hugging Face folder, as a [`Decoder`]. Both are Gemma 1
//! ([`super::gemma`]) plus:
//! - norms on both sides of attention and of the MLP ([`Residual::Sandwich`]:
//!   `input_layernorm`, `post_attention_layernorm`, `pre_feedforward_layernorm`,
//!   `post_feedforward_layernorm`; all RMSNorm `x̂ · (1 + w)` in f32);
//! - attention scores scaled by `query_pre_attn_scalar^-0.5` instead of `head_dim^-0.5`;
//! - local layers attending within `sliding_window` positions: Gemma 2 every even layer,
//!   Gemma 3 all but every `sliding_window_pattern`-th (default 6) layer; a config's
//!   `layer_types` list (`sliding_attention` / `full_attention`), when present, decides;
//! - Gemma 2: soft-capped attention scores (`attn_logit_softcapping`) and logits
//!   (`final_logit_softcapping`), `c · tanh(x / c)`;
//! - Gemma 3: RMSNorm of each query and key head (`self_attn.q_norm`, `k_norm`, over
//!   `head_dim`) before the rotary embedding; local layers rotate with
//!   `rope_local_base_freq` (default 10000), global ones with `rope_theta` and
//!   `rope_scaling` (`linear` in the larger releases).
//!
//! Gemma 3 GGUF files (`general.architecture` `gemma3`, also `gemma2`, `gemma`) load
//! through [`super::gguf_gemma`], which builds the same [`Shape`].
//!
//! `Gemma3ForConditionalGeneration` (the multimodal 4B–27B checkpoints, weights under
//! `language_model.`) is another architecture and is not read here.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde_json::Value;

use super::decoder::{
    Act, Block, Decoder, DecoderConfig, DecoderWeights, Ffn, Norm, Residual, Rotary,
};
use super::llama::{inv_freq, Linear, RopeScaling, RopeStyle};
use super::safetensors::{
    config_act, config_f64, config_flag, config_opt_usize, config_usize, Tensors,
};

/// Which Gemma generation a model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Gemma1,
    Gemma2,
    Gemma3,
}

/// Everything of a Gemma model's shape the decoder needs, however it was read.
#[derive(Debug, Clone)]
pub struct Shape {
    pub generation: Generation,
    pub hidden: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub ff: usize,
    pub vocab: usize,
    pub eps: f32,
    pub act: Act,
    /// Attention scale (`query_pre_attn_scalar^-0.5`).
    pub attn_scale: f64,
    pub attn_softcap: Option<f64>,
    pub final_softcap: Option<f64>,
    pub sliding_window: Option<usize>,
    /// Per layer: local (sliding) or global.
    pub sliding: Vec<bool>,
    pub rotary: Rotary,
    /// Rotary of the local layers, when it differs (Gemma 3).
    pub local_rotary: Option<Rotary>,
}

impl Shape {
    /// The decoder configuration of this shape.
    pub fn decoder_config(&self) -> DecoderConfig {
        let mut cfg = DecoderConfig::new(self.n_heads, self.head_dim, self.vocab);
        cfg.n_kv_heads = self.n_kv_heads;
        cfg.rotary = Some(self.rotary.clone());
        cfg.local_rotary = self.local_rotary.clone();
        cfg.embed_scale = Some((self.hidden as f64).sqrt());
        cfg.attn_scale = Some(self.attn_scale);
        cfg.attn_softcap = self.attn_softcap;
        cfg.final_softcap = self.final_softcap;
        cfg.sliding_window = self.sliding_window;
        cfg
    }
}

/// Rotary over the whole head, "rotate half" pairing.
pub fn rotary(head_dim: usize, theta: f32, scaling: &RopeScaling) -> Rotary {
    Rotary {
        dims: head_dim,
        inv_freq: inv_freq(head_dim, theta, scaling),
        style: RopeStyle::Half,
    }
}

/// Which of `n` layers are local: Gemma 2 the even ones, Gemma 3 all but every
/// `pattern`-th.
pub fn default_sliding(generation: Generation, n: usize, pattern: usize) -> Vec<bool> {
    (0..n)
        .map(|i| match generation {
            Generation::Gemma1 => false,
            Generation::Gemma2 => i % 2 == 0,
            Generation::Gemma3 => pattern == 0 || (i + 1) % pattern != 0,
        })
        .collect()
}

/// One layer's weights, however they were read (norm weights as `1 + w`, f32).
pub struct LayerWeights {
    pub input_norm: Norm,
    pub post_attn_norm: Norm,
    /// Gemma 2/3: `(pre_feedforward, post_feedforward)`.
    pub ffn_norms: Option<(Norm, Norm)>,
    pub qk_norm: Option<(Norm, Norm)>,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub ffn: Ffn,
}

/// The decoder block of layer `i`.
pub fn block(shape: &Shape, i: usize, w: LayerWeights) -> Block {
    let residual = match w.ffn_norms {
        None => Residual::Sequential(w.post_attn_norm),
        Some((pre_ffn, post_ffn)) => Residual::Sandwich {
            post_attn: w.post_attn_norm,
            pre_ffn,
            post_ffn,
        },
    };
    Block {
        qk_norm: w.qk_norm,
        sliding: shape.sliding.get(i).copied().unwrap_or(false),
        ln1: w.input_norm,
        residual,
        q: w.q,
        k: w.k,
        v: w.v,
        o: w.o,
        ffn: w.ffn,
    }
}

/// Gemma's RMSNorm `<name>.weight` `[n]` of a Hugging Face folder: `x̂ · (1 + w)`, in f32.
fn rms_norm(t: &mut Tensors, name: &str, n: usize, eps: f32) -> Result<Norm> {
    let w = t.get_stored(name, &[n])?;
    let w = (w.to_dtype(DType::F32)? + 1.0)?;
    Ok(Norm::RmsF32 { w, eps })
}

/// The shape of a `Gemma2ForCausalLM` / `Gemma3ForCausalLM` config.json.
fn shape_of(json: &Value, path: &Path, generation: Generation) -> Result<Shape> {
    let n = |k: &str| config_usize(json, k, path);
    let (hidden, n_layers, nh, ff, vocab) = (
        n("hidden_size")?,
        n("num_hidden_layers")?,
        n("num_attention_heads")?,
        n("intermediate_size")?,
        n("vocab_size")?,
    );
    let nkv = config_opt_usize(json, "num_key_value_heads").unwrap_or(nh);
    let hd = config_opt_usize(json, "head_dim").unwrap_or(hidden / nh.max(1));
    let opt_f64 = |k: &str| json.get(k).and_then(Value::as_f64);
    let scalar = opt_f64("query_pre_attn_scalar").unwrap_or(hd as f64);
    if scalar <= 0.0 {
        bail!(
            "{}: query_pre_attn_scalar {scalar} must be positive",
            path.display()
        );
    }
    let scaling = match json.get("rope_scaling") {
        None | Some(Value::Null) => RopeScaling::None,
        Some(s) => {
            let kind = s
                .get("rope_type")
                .or_else(|| s.get("type"))
                .and_then(Value::as_str);
            match (kind, s.get("factor").and_then(Value::as_f64)) {
                (Some("linear"), Some(f)) if f > 0.0 => RopeScaling::Linear { factor: f as f32 },
                (Some("default"), _) => RopeScaling::None,
                _ => bail!(
                    "{}: rope_scaling {s} is not supported for Gemma (supported: linear)",
                    path.display()
                ),
            }
        }
    };
    let theta = config_f64(json, "rope_theta", 1e4) as f32;
    let local_rotary = (generation == Generation::Gemma3).then(|| {
        let local = config_f64(json, "rope_local_base_freq", 1e4) as f32;
        rotary(hd, local, &RopeScaling::None)
    });
    let sliding = match json.get("layer_types").and_then(Value::as_array) {
        Some(types) => {
            if types.len() != n_layers {
                bail!(
                    "{}: layer_types has {} entries, expected num_hidden_layers = {n_layers}",
                    path.display(),
                    types.len()
                );
            }
            types
                .iter()
                .enumerate()
                .map(|(i, t)| match t.as_str() {
                    Some("sliding_attention") => Ok(true),
                    Some("full_attention") => Ok(false),
                    _ => bail!(
                        "{}: layer_types[{i}] is {t}, expected \"sliding_attention\" or \"full_attention\"",
                        path.display()
                    ),
                })
                .collect::<Result<Vec<bool>>>()?
        }
        None => default_sliding(
            generation,
            n_layers,
            config_opt_usize(json, "sliding_window_pattern").unwrap_or(6),
        ),
    };
    let softcap = |k: &str| opt_f64(k).filter(|c| *c > 0.0);
    Ok(Shape {
        generation,
        hidden,
        n_heads: nh,
        n_kv_heads: nkv,
        head_dim: hd,
        ff,
        vocab,
        eps: config_f64(json, "rms_norm_eps", 1e-6) as f32,
        act: config_act(
            json,
            &["hidden_activation", "hidden_act"],
            "gelu_pytorch_tanh",
            path,
        )?,
        attn_scale: 1.0 / scalar.sqrt(),
        attn_softcap: softcap("attn_logit_softcapping"),
        final_softcap: softcap("final_logit_softcapping"),
        sliding_window: config_opt_usize(json, "sliding_window"),
        sliding,
        rotary: rotary(hd, theta, &scaling),
        local_rotary,
    })
}

/// Loads a `Gemma2ForCausalLM` or `Gemma3ForCausalLM` folder (`architecture`).
pub fn load(
    dir: &Path,
    device: &Device,
    dtype: Option<DType>,
    json: &Value,
    architecture: &str,
) -> Result<Decoder> {
    let path = dir.join("config.json");
    let generation = if architecture == "Gemma3ForCausalLM" {
        Generation::Gemma3
    } else {
        Generation::Gemma2
    };
    let s = shape_of(json, &path, generation)?;
    let n_layers = s.sliding.len();
    let (h, hd, nh, nkv, eps) = (s.hidden, s.head_dim, s.n_heads, s.n_kv_heads, s.eps);
    let bias = config_flag(json, "attention_bias", false);
    let mut t = Tensors::open(dir, device, dtype, &["model.embed_tokens.weight"])?;
    let embed = t.get("model.embed_tokens.weight", &[s.vocab, h])?;
    let mut blocks = Vec::with_capacity(n_layers);
    for i in 0..n_layers {
        let l = |x: &str| format!("model.layers.{i}.{x}");
        let qk_norm = match generation {
            Generation::Gemma3 => Some((
                rms_norm(&mut t, &l("self_attn.q_norm.weight"), hd, eps)?,
                rms_norm(&mut t, &l("self_attn.k_norm.weight"), hd, eps)?,
            )),
            _ => None,
        };
        let w = LayerWeights {
            input_norm: rms_norm(&mut t, &l("input_layernorm.weight"), h, eps)?,
            post_attn_norm: rms_norm(&mut t, &l("post_attention_layernorm.weight"), h, eps)?,
            ffn_norms: Some((
                rms_norm(&mut t, &l("pre_feedforward_layernorm.weight"), h, eps)?,
                rms_norm(&mut t, &l("post_feedforward_layernorm.weight"), h, eps)?,
            )),
            qk_norm,
            q: t.linear(&l("self_attn.q_proj"), nh * hd, h, bias)?,
            k: t.linear(&l("self_attn.k_proj"), nkv * hd, h, bias)?,
            v: t.linear(&l("self_attn.v_proj"), nkv * hd, h, bias)?,
            o: t.linear(&l("self_attn.o_proj"), h, nh * hd, bias)?,
            ffn: t.gated_mlp(&l("mlp"), s.ff, h, s.act)?,
        };
        blocks.push(block(&s, i, w));
    }
    let w = DecoderWeights {
        final_norm: rms_norm(&mut t, "model.norm.weight", h, eps)?,
        lm_head: Linear::dense(embed.clone()),
        embed,
        positions: None,
        embed_norm: None,
        blocks,
    };
    let info = t.info(architecture, s.vocab, json)?;
    Decoder::load(dir, s.decoder_config(), w, &t, info)
}
