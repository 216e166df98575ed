//! The Llama-family forward pass (Llama 1-3, Mistral, Qwen2 with q/k/v bias, SmolLM) from candle ops.
//!
//! Matches Hugging Face `modeling_llama` / `modeling_qwen2` (eager attention, batch 1):
//! RMSNorm (computed in f32), rotary embeddings (HF "rotate half", or GGUF's interleaved
//! pairs for `llama` GGUF files whose q/k rows llama.cpp permuted), grouped-query
//! attention with a causal mask and softmax in f32, SwiGLU MLP, final norm, output layer;
//! logits are returned in f32 for every requested position.
//!
//! Weights are [`QMatMul`]s: quantized GGUF blocks (activations then go through candle's
//! quantized kernels, which quantize them to 8 bits like llama.cpp) or dense tensors in
//! the activation dtype.

use candle_core::quantized::QMatMul;
use candle_core::{DType, Device, Module, Result, Tensor};

use super::{CausalLm, KvCache, ModelInfo};

/// How rotary embeddings pair the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Hugging Face: dimension i pairs with i + head_dim/2 (GGUF `qwen2` too).
    Half,
    /// llama.cpp `llama` GGUF: dimensions 2i and 2i+1 pair (q/k rows permuted at conversion).
    Interleaved,
}

/// The shape of a Llama-family model.
#[derive(Debug, Clone)]
pub struct LlamaConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    /// Rotary inverse frequencies, `head_dim / 2` values, scaling already applied.
    pub inv_freq: Vec<f32>,
    pub rope_style: RopeStyle,
    /// Mistral's sliding window; sequences longer than it are refused.
    pub sliding_window: Option<usize>,
    pub vocab_size: usize,
}

/// Rotary scaling of the inverse frequencies (HF `rope_scaling`).
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    None,
    /// `type: linear`: frequencies divided by `factor`.
    Linear {
        factor: f32,
    },
    /// `rope_type: llama3` (Llama 3.1+).
    Llama3 {
        factor: f32,
        low_freq_factor: f32,
        high_freq_factor: f32,
        original_max_position_embeddings: f32,
    },
}

/// HF `inv_freq = 1 / base^(arange(0, d, 2) / d)` in f32, then `rope_scaling`.
pub fn inv_freq(head_dim: usize, theta: f32, scaling: &RopeScaling) -> Vec<f32> {
    let base: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1.0 / theta.powf(i as f32 / head_dim as f32))
        .collect();
    match scaling {
        RopeScaling::None => base,
        RopeScaling::Linear { factor } => base.iter().map(|f| f / factor).collect(),
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings: old,
        } => {
            let low_wavelen = old / low_freq_factor;
            let high_wavelen = old / high_freq_factor;
            base.iter()
                .map(|&f| {
                    let wavelen = 2.0 * std::f32::consts::PI / f;
                    let scaled = if wavelen > low_wavelen { f / factor } else { f };
                    let medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
                    if medium {
                        let smooth = (old / wavelen - low_freq_factor)
                            / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * scaled / factor + smooth * scaled
                    } else {
                        scaled
                    }
                })
                .collect()
        }
    }
}

/// A linear layer `y = x W^T (+ b)`.
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: QMatMul,
    pub bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.weight.forward(x)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// Rotary tables and causal mask for the positions of one forward call.
struct Positions {
    cos: Tensor,
    sin: Tensor,
    /// `[seq, total]` additive mask; None for a single token.
    mask: Option<Tensor>,
}

/// One decoder layer's weights.
#[derive(Debug, Clone)]
pub struct Layer {
    pub attn_norm: Tensor,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub ffn_norm: Tensor,
    pub gate: Linear,
    pub up: Linear,
    pub down: Linear,
}

/// All weights of a Llama-family model.
#[derive(Debug, Clone)]
pub struct Weights {
    /// Token embeddings, `[vocab, hidden]` (quantized or dense).
    pub embed: QMatMul,
    pub layers: Vec<Layer>,
    pub norm: Tensor,
    /// Output layer, `[vocab, hidden]` (the embeddings when tied).
    pub lm_head: Linear,
}

/// A loaded Llama-family model.
pub struct Llama {
    cfg: LlamaConfig,
    w: Weights,
    /// Activation dtype (f32 for quantized weights).
    dtype: DType,
    device: Device,
    info: ModelInfo,
}

impl Llama {
    /// Assembles a model; norms are cast to `dtype`, the activation dtype.
    pub fn new(
        cfg: LlamaConfig,
        mut w: Weights,
        dtype: DType,
        device: Device,
        info: ModelInfo,
    ) -> Result<Self> {
        if cfg.n_heads % cfg.n_kv_heads != 0 {
            candle_core::bail!(
                "{} attention heads are not a multiple of {} key/value heads",
                cfg.n_heads,
                cfg.n_kv_heads
            );
        }
        if cfg.inv_freq.len() * 2 != cfg.head_dim {
            candle_core::bail!("rotary frequencies do not match head_dim {}", cfg.head_dim);
        }
        w.norm = w.norm.to_dtype(dtype)?;
        for l in w.layers.iter_mut() {
            l.attn_norm = l.attn_norm.to_dtype(dtype)?;
            l.ffn_norm = l.ffn_norm.to_dtype(dtype)?;
            for lin in [
                &mut l.q,
                &mut l.k,
                &mut l.v,
                &mut l.o,
                &mut l.gate,
                &mut l.up,
                &mut l.down,
            ] {
                if let Some(b) = lin.bias.take() {
                    lin.bias = Some(b.to_dtype(dtype)?);
                }
            }
        }
        Ok(Self {
            cfg,
            w,
            dtype,
            device,
            info,
        })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// cos and sin for positions `start..start+len`, `[len, head_dim/2]`, HF-style in f32.
    fn rope_tables(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let half = self.cfg.inv_freq.len();
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for p in start..start + len {
            for &f in &self.cfg.inv_freq {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        let cos = Tensor::from_vec(cos, (len, half), &self.device)?.to_dtype(self.dtype)?;
        let sin = Tensor::from_vec(sin, (len, half), &self.device)?.to_dtype(self.dtype)?;
        Ok((cos, sin))
    }

    fn rope(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        match self.cfg.rope_style {
            RopeStyle::Half => candle_nn::rotary_emb::rope(x, cos, sin),
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(x, cos, sin),
        }
    }

    /// `[seq, total]` additive mask: 0 where key j may be seen by query i, -inf after it.
    fn causal_mask(&self, seq: usize, offset: usize) -> Result<Tensor> {
        let total = offset + seq;
        let mask: Vec<f32> = (0..seq)
            .flat_map(|i| {
                (0..total).map(move |j| {
                    if j > offset + i {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        Tensor::from_vec(mask, (seq, total), &self.device)
    }

    fn attention(
        &self,
        layer: &Layer,
        idx: usize,
        x: &Tensor,
        pos: &Positions,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let (cos, sin, mask) = (&pos.cos, &pos.sin, pos.mask.as_ref());
        let (seq, _) = x.dims2()?;
        let (nh, nkv, hd) = (self.cfg.n_heads, self.cfg.n_kv_heads, self.cfg.head_dim);
        let q = layer.q.forward(x)?;
        let k = layer.k.forward(x)?;
        let v = layer.v.forward(x)?;
        let q = q.reshape((1, seq, nh, hd))?.transpose(1, 2)?.contiguous()?;
        let k = k
            .reshape((1, seq, nkv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let v = v.reshape((seq, nkv, hd))?.transpose(0, 1)?.contiguous()?;
        let q = self.rope(&q, cos, sin)?.squeeze(0)?;
        let k = self.rope(&k, cos, sin)?.squeeze(0)?;
        let (k, v) = cache.append(idx, k, v)?;
        let total = k.dim(1)?;
        // Grouped-query attention without copying K/V: the n_rep query heads that share a
        // key/value head are stacked along the row axis.
        let n_rep = nh / nkv;
        let q = q.reshape((nkv, n_rep * seq, hd))?;
        let scale = 1.0 / (hd as f64).sqrt();
        let att = (q.matmul(&k.t()?)? * scale)?.to_dtype(DType::F32)?;
        let att = match mask {
            Some(m) => att
                .reshape((nkv, n_rep, seq, total))?
                .broadcast_add(m)?
                .reshape((nkv, n_rep * seq, total))?,
            None => att,
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?.to_dtype(self.dtype)?;
        let out = att.matmul(&v)?; // [nkv, n_rep*seq, hd] == [nh, seq, hd]
        let out = out
            .reshape((nh, seq, hd))?
            .transpose(0, 1)?
            .reshape((seq, nh * hd))?;
        layer.o.forward(&out)
    }

    fn mlp(&self, layer: &Layer, x: &Tensor) -> Result<Tensor> {
        let g = candle_nn::ops::silu(&layer.gate.forward(x)?)?;
        let u = layer.up.forward(x)?;
        layer.down.forward(&(g * u)?)
    }

    /// Runs the decoder over `tokens`; returns the final hidden states `[seq, hidden]`.
    fn hidden(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        if tokens.is_empty() {
            candle_core::bail!("forward called with no tokens");
        }
        if cache.n_layers() != self.cfg.n_layers {
            candle_core::bail!(
                "KV cache made for {} layers, model has {}",
                cache.n_layers(),
                self.cfg.n_layers
            );
        }
        let seq = tokens.len();
        let offset = cache.len();
        if let Some(w) = self.cfg.sliding_window {
            if offset + seq > w {
                candle_core::bail!(
                    "sequence of {} tokens exceeds the sliding window ({w}), which is not implemented",
                    offset + seq
                );
            }
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
            candle_core::bail!(
                "token id {bad} is outside the vocabulary ({})",
                self.cfg.vocab_size
            );
        }
        let ids = Tensor::new(tokens, &self.device)?;
        let mut x = self.w.embed.embedding(&ids)?.to_dtype(self.dtype)?;
        let (cos, sin) = self.rope_tables(offset, seq)?;
        let mask = if seq > 1 {
            Some(self.causal_mask(seq, offset)?)
        } else {
            None
        };
        let pos = Positions { cos, sin, mask };
        let eps = self.cfg.rms_norm_eps as f32;
        for (i, layer) in self.w.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, eps)?;
            let a = self.attention(layer, i, &h, &pos, cache)?;
            x = (x + a)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, eps)?;
            x = (&x + self.mlp(layer, &h)?)?;
        }
        cache.advance(seq);
        Ok(x)
    }

    fn logits(&self, h: &Tensor) -> Result<Tensor> {
        let h = candle_nn::ops::rms_norm(h, &self.w.norm, self.cfg.rms_norm_eps as f32)?;
        self.w.lm_head.forward(&h)?.to_dtype(DType::F32)
    }
}

impl CausalLm for Llama {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.cfg.n_layers)
    }

    fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        self.forward_last(tokens, tokens.len(), cache)
    }

    fn forward_last(&self, tokens: &[u32], n_last: usize, cache: &mut KvCache) -> Result<Tensor> {
        let mut work = cache.clone();
        let h = self.hidden(tokens, &mut work)?;
        let n = h.dim(0)?;
        let n_last = n_last.min(n);
        let h = if n_last == n {
            h
        } else {
            h.narrow(0, n - n_last, n_last)?.contiguous()?
        };
        let logits = self.logits(&h)?;
        *cache = work;
        Ok(logits)
    }
}

/// Number of elements of a tensor shape, as u64.
pub(crate) fn numel(dims: &[usize]) -> u64 {
    dims.iter().map(|&d| d as u64).product()
}

/// Checks that `t` has `dims`, naming the tensor otherwise.
pub(crate) fn check_shape(name: &str, got: &[usize], want: &[usize]) -> Result<()> {
    if got != want {
        candle_core::bail!("tensor {name}: shape {got:?}, expected {want:?}");
    }
    Ok(())
}

#[allow(dead_code)]
fn _assert_send(m: Llama) -> Box<dyn CausalLm> {
    Box::new(m)
}
