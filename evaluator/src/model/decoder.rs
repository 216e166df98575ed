//! A decoder assembled from blocks, for the architectures outside the Llama family
//! (GPT-2: [`super::gpt2`]; GPT-NeoX / Pythia: [`super::gpt_neox`]; GPT-J: [`super::gptj`];
//! Phi-1/1.5/2: [`super::phi`]; Gemma: [`super::gemma`]; OPT: [`super::opt`]; Cohere:
//! [`super::cohere`]; Bloom, with ALiBi: [`super::bloom`]; Gemma 2 and 3:
//! [`super::gemma2`]): token embeddings
//! (plus learned absolute positions where the architecture has them), then per layer a
//! norm, multi-head attention (optionally rotary on the first dimensions of each head,
//! optionally with per-head norms of queries and keys, a sliding window on "local" layers
//! with their own rotary frequencies, soft-capped scores) and a feed-forward block, either
//! in sequence (`x += attn(ln1 x); x += ffn(ln2 x)`), in parallel
//! (`x += attn(ln1 x) + ffn(ln2 x)`) or with norms on both sides of each (Gemma 2/3), then
//! a final norm and the output layer (optionally soft-capped).
//!
//! It shares with [`super::llama`] the packed batch, the caller-owned KV cache and the
//! attention itself ([`super::attention`]), so prefix sharing, packed batches, resume and
//! generation work the same. Linear layers are dense (`[out, in]`, optional bias), in the
//! activation dtype; norms are computed by candle's fused kernels.

use candle_core::quantized::QMatMul;
use candle_core::{DType, Device, Result, Tensor};

use super::attention::{
    attend, commit, forward_last_of_batch, last_rows, pack, rope_tables, AttnOpts, Packed, Span,
};
use super::fused;
use super::llama::{project, Fused, Linear, RopeStyle};
use super::unary::{self, Unary};
use super::{CausalLm, KvCache, ModelInfo, Seq};

/// A normalisation layer.
#[derive(Debug, Clone)]
pub enum Norm {
    /// LayerNorm with weight and bias.
    Layer { w: Tensor, b: Tensor, eps: f32 },
    /// RMSNorm.
    Rms { w: Tensor, eps: f32 },
    /// RMSNorm computed in f32 with an f32 weight, the result cast back (Gemma's, whose
    /// weight `1 + w` would lose bits in a 16-bit dtype).
    RmsF32 { w: Tensor, eps: f32 },
    /// LayerNorm computed in f32 with f32 weight and bias, the result cast back (Cohere's,
    /// which has no bias: zeros).
    LayerF32 { w: Tensor, b: Tensor, eps: f32 },
}

impl Norm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Norm::Layer { w, b, eps } => candle_nn::ops::layer_norm(x, w, b, *eps),
            Norm::Rms { w, eps } => fused::rms_norm(x, w, *eps),
            Norm::LayerF32 { w, b, eps } => {
                candle_nn::ops::layer_norm(&x.to_dtype(DType::F32)?, w, b, *eps)?
                    .to_dtype(x.dtype())
            }
            Norm::RmsF32 { w, eps } => {
                fused::rms_norm(&x.to_dtype(DType::F32)?, w, *eps)?.to_dtype(x.dtype())
            }
        }
    }
}

/// An activation function, by Hugging Face's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `gelu_new`, `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
    /// `gelu`: the exact erf form.
    GeluErf,
    Relu,
    Silu,
}

impl Act {
    /// The activation of config value `name`, if known.
    pub fn from_hf(name: &str) -> Option<Act> {
        Some(match name {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Act::GeluTanh,
            "gelu" => Act::GeluErf,
            "relu" => Act::Relu,
            "silu" | "swish" => Act::Silu,
            _ => return None,
        })
    }

    /// The [`super::unary`] function it is (ReLU is none).
    fn unary(self) -> Option<Unary> {
        match self {
            Act::GeluTanh => Some(Unary::GeluTanh),
            Act::GeluErf => Some(Unary::GeluErf),
            Act::Silu => Some(Unary::Silu),
            Act::Relu => None,
        }
    }

    /// GELUs by [`super::unary`] (vectorized on the CPU); SiLU by candle's op.
    fn forward(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Act::GeluTanh => unary::apply(x, Unary::GeluTanh),
            Act::GeluErf => unary::apply(x, Unary::GeluErf),
            Act::Relu => x.relu(),
            Act::Silu => candle_nn::ops::silu(x),
        }
    }
}

/// The feed-forward block: `down(act(up x))`, or gated `down(act(gate x) * up x)`.
#[derive(Debug, Clone)]
pub struct Ffn {
    pub gate: Option<Linear>,
    pub up: Linear,
    pub down: Linear,
    pub act: Act,
}

impl Ffn {
    /// `x` `[rows, hidden]` → `[rows, hidden]` (`dequantize_large`: see [`Linear`]).
    pub fn forward(&self, x: &Tensor, dequantize_large: bool) -> Result<Tensor> {
        self.forward_with(x, dequantize_large, None)
    }

    /// [`Self::forward`], the gate and up products taken from `gate_up`, their weights
    /// stacked (`super::llama::fuse`), when given.
    fn forward_with(&self, x: &Tensor, dq: bool, gate_up: Option<&Linear>) -> Result<Tensor> {
        let h = match (&self.gate, gate_up) {
            (None, _) => self.act.forward(&self.up.forward(x, dq)?)?,
            (Some(g), gu) => {
                let [g, u] = project(gu, [g, &self.up], x, dq)?;
                match self.act.unary() {
                    Some(f) => fused::gated(f, &g, &u)?,
                    None => (self.act.forward(&g)? * u)?,
                }
            }
        };
        self.down.forward(&h, dq)
    }
}

/// One decoder layer.
#[derive(Debug, Clone)]
pub struct Block {
    /// Norms of each query and key head (over `head_dim`) before the rotary embedding
    /// (Gemma 3's `q_norm`, `k_norm`).
    pub qk_norm: Option<(Norm, Norm)>,
    /// A local layer: attention within [`DecoderConfig::sliding_window`], rotary by
    /// [`DecoderConfig::local_rotary`] where set.
    pub sliding: bool,
    pub ln1: Norm,
    pub residual: Residual,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub ffn: Ffn,
}

/// How a layer adds its attention and feed-forward outputs to the residual stream.
#[derive(Debug, Clone)]
pub enum Residual {
    /// `x += attn(ln1 x); x += ffn(ln2 x)`: the norm is `ln2`.
    Sequential(Norm),
    /// `x + attn(ln1 x) + ffn(ln2 x)` (GPT-NeoX's `use_parallel_residual`).
    Parallel(Norm),
    /// `x + attn(ln1 x) + ffn(ln1 x)`: one norm per layer (GPT-J, Phi, Cohere).
    ParallelShared,
    /// `x += post_attn(attn(ln1 x)); x += post_ffn(ffn(pre_ffn x))` (Gemma 2 and 3).
    Sandwich {
        post_attn: Norm,
        pre_ffn: Norm,
        post_ffn: Norm,
    },
}

/// Rotary embeddings on the first `dims` dimensions of each head.
#[derive(Debug, Clone)]
pub struct Rotary {
    pub dims: usize,
    /// `dims / 2` inverse frequencies.
    pub inv_freq: Vec<f32>,
    pub style: RopeStyle,
}

/// The shape of a decoder.
#[derive(Debug, Clone)]
pub struct DecoderConfig {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub rotary: Option<Rotary>,
    /// Learned absolute positions: how many (a longer sequence is refused).
    pub max_positions: Option<usize>,
    /// Row of the position table for position 0 (OPT: 2).
    pub position_offset: usize,
    /// Token embeddings multiplied by this (Gemma: sqrt(hidden), in the activation dtype).
    pub embed_scale: Option<f64>,
    /// Logits multiplied by this (Cohere's `logit_scale`), in the activation dtype.
    pub logit_scale: Option<f64>,
    /// ALiBi position biases instead of positions (Bloom).
    pub alibi: bool,
    /// Attention scores scaled by this instead of 1/sqrt(head_dim) (Gemma 2/3:
    /// `query_pre_attn_scalar^-0.5`).
    pub attn_scale: Option<f64>,
    /// Attention scores soft-capped: `c · tanh(s / c)` (Gemma 2's `attn_logit_softcapping`).
    pub attn_softcap: Option<f64>,
    /// Logits soft-capped the same way (Gemma 2's `final_logit_softcapping`).
    pub final_softcap: Option<f64>,
    /// The window of the blocks marked [`Block::sliding`].
    pub sliding_window: Option<usize>,
    /// Rotary embeddings of the sliding blocks, when they differ (Gemma 3's
    /// `rope_local_base_freq`).
    pub local_rotary: Option<Rotary>,
}

impl DecoderConfig {
    /// Multi-head attention (as many key/value heads as query heads), no positions
    /// (set `rotary`, `max_positions` or `alibi`), no scales.
    pub fn new(n_heads: usize, head_dim: usize, vocab_size: usize) -> Self {
        DecoderConfig {
            n_heads,
            n_kv_heads: n_heads,
            head_dim,
            vocab_size,
            rotary: None,
            max_positions: None,
            position_offset: 0,
            embed_scale: None,
            logit_scale: None,
            alibi: false,
            attn_scale: None,
            attn_softcap: None,
            final_softcap: None,
            sliding_window: None,
            local_rotary: None,
        }
    }
}

/// A decoder's weights.
#[derive(Debug, Clone)]
pub struct DecoderWeights {
    /// `[vocab, hidden]`.
    pub embed: Tensor,
    /// `[max_positions, hidden]` (GPT-2's `wpe`).
    pub positions: Option<Tensor>,
    /// A norm right after the embeddings (Bloom's `word_embeddings_layernorm`).
    pub embed_norm: Option<Norm>,
    pub blocks: Vec<Block>,
    pub final_norm: Norm,
    pub lm_head: Linear,
}

/// A loaded decoder.
pub struct Decoder {
    cfg: DecoderConfig,
    w: DecoderWeights,
    dtype: DType,
    device: Device,
    info: ModelInfo,
    /// Hidden width and feed-forward width, for the memory estimates.
    widths: (usize, usize),
    /// ALiBi slopes per head, `[n_heads]` f32.
    alibi: Option<Tensor>,
    /// Per block, q, k, v and gate, up stacked into one weight each where they allow.
    fused: Vec<Fused>,
}

impl Decoder {
    /// [`Decoder::new`] with the weights and `info` read by `t`, errors naming `dir`.
    pub(crate) fn load(
        dir: &std::path::Path,
        cfg: DecoderConfig,
        w: DecoderWeights,
        t: &super::safetensors::Tensors,
        info: ModelInfo,
    ) -> anyhow::Result<Self> {
        Decoder::new(cfg, w, t.act, t.device().clone(), info)
            .map_err(|e| anyhow::anyhow!("{}: {}", dir.display(), super::candle_msg(&e)))
    }

    pub fn new(
        cfg: DecoderConfig,
        w: DecoderWeights,
        dtype: DType,
        device: Device,
        info: ModelInfo,
    ) -> Result<Self> {
        if cfg.n_kv_heads == 0 || !cfg.n_heads.is_multiple_of(cfg.n_kv_heads) {
            candle_core::bail!(
                "{} attention heads are not a multiple of {} key/value heads",
                cfg.n_heads,
                cfg.n_kv_heads
            );
        }
        for r in cfg.rotary.iter().chain(&cfg.local_rotary) {
            if r.dims > cfg.head_dim || r.dims % 2 != 0 || r.inv_freq.len() * 2 != r.dims {
                candle_core::bail!(
                    "rotary dimensions {} do not fit head_dim {}",
                    r.dims,
                    cfg.head_dim
                );
            }
        }
        let hidden = w.embed.dim(1)?;
        let ff = w
            .blocks
            .first()
            .map(|b| match &b.ffn.up.weight {
                QMatMul::Tensor(t) => t.dim(0),
                _ => Ok(4 * hidden),
            })
            .transpose()?
            .unwrap_or(4 * hidden);
        let alibi = if cfg.alibi {
            Some(Tensor::new(alibi_slopes(cfg.n_heads).as_slice(), &device)?)
        } else {
            None
        };
        crate::alloc::keep_freed_buffers();
        let mut w = w;
        let mut fused = Vec::with_capacity(w.blocks.len());
        for b in w.blocks.iter_mut() {
            let Ffn { gate, up, down, .. } = &mut b.ffn;
            let (gate_up, others) = match gate {
                Some(g) => (Some([g, up]), vec![down, &mut b.o]),
                None => (None, vec![up, down, &mut b.o]),
            };
            fused.push(Fused::new([&mut b.q, &mut b.k, &mut b.v], gate_up, others)?);
        }
        w.lm_head.store_for_gemm_tied(&mut w.embed)?;
        crate::alloc::release_free_pages();
        Ok(Self {
            alibi,
            fused,
            cfg,
            w,
            dtype,
            device,
            info,
            widths: (hidden, ff),
        })
    }

    /// Rotary embeddings `r` on the first `dims` of the last axis of `x`
    /// `[1, heads, rows, hd]`.
    fn rotate(&self, x: Tensor, r: &Rotary, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let hd = self.cfg.head_dim;
        if r.dims == hd {
            return r.style.apply(&x, cos, sin);
        }
        let rot = r
            .style
            .apply(&x.narrow(3, 0, r.dims)?.contiguous()?, cos, sin)?;
        let pass = x.narrow(3, r.dims, hd - r.dims)?;
        Tensor::cat(&[rot, pass], 3)?.contiguous()
    }

    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        b: &Block,
        idx: usize,
        x: &Tensor,
        rope: Option<(&Rotary, &(Tensor, Tensor))>,
        spans: &[Span],
        caches: &mut [KvCache],
    ) -> Result<Tensor> {
        let (nh, nkv, hd) = (self.cfg.n_heads, self.cfg.n_kv_heads, self.cfg.head_dim);
        let [q, k, v] = project(self.fused[idx].qkv.as_ref(), [&b.q, &b.k, &b.v], x, false)?;
        let (q, k) = match rope {
            // Rotary straight after the projection: one fused pass per tensor.
            Some((r, (cos, sin))) if b.qk_norm.is_none() => {
                let rot = || fused::Rotary {
                    cos,
                    sin,
                    half: r.style == RopeStyle::Half,
                };
                (
                    fused::heads(&q, nh, hd, Some(rot()))?,
                    fused::heads(&k, nkv, hd, Some(rot()))?,
                )
            }
            _ => {
                let mut q = fused::heads(&q, nh, hd, None)?.unsqueeze(0)?;
                let mut k = fused::heads(&k, nkv, hd, None)?.unsqueeze(0)?;
                if let Some((qn, kn)) = &b.qk_norm {
                    q = qn.forward(&q)?;
                    k = kn.forward(&k)?;
                }
                if let Some((r, (cos, sin))) = rope {
                    q = self.rotate(q, r, cos, sin)?;
                    k = self.rotate(k, r, cos, sin)?;
                }
                (q.squeeze(0)?, k.squeeze(0)?)
            }
        };
        let v = fused::heads(&v, nkv, hd, None)?;
        let out = attend(
            &q,
            &k,
            &v,
            idx,
            spans,
            caches,
            self.dtype,
            nh,
            hd,
            &AttnOpts {
                scale: self.cfg.attn_scale.unwrap_or(1.0 / (hd as f64).sqrt()),
                alibi: self.alibi.as_ref(),
                window: if b.sliding {
                    self.cfg.sliding_window
                } else {
                    None
                },
                softcap: self.cfg.attn_softcap,
            },
        )?;
        b.o.forward(&out, false)
    }

    fn hidden(&self, batch: &mut [Seq<'_>]) -> Result<Tensor> {
        let Packed {
            ids,
            positions,
            spans,
            mut work,
        } = pack(batch, self.w.blocks.len(), self.cfg.vocab_size)?;
        let ids_t = Tensor::new(ids.as_slice(), &self.device)?;
        let mut x = super::gemm::embedding(&self.w.embed, &ids_t)?;
        if let Some(scale) = self.cfg.embed_scale {
            // (`affine` multiplies by the scale in the activation dtype, as Gemma's
            // normalizer is.)
            x = x.affine(scale, 0.0)?;
        }
        if let Some(n) = &self.w.embed_norm {
            x = n.forward(&x)?;
        }
        if let Some(wpe) = &self.w.positions {
            let max = self.cfg.max_positions.unwrap_or(0);
            if let Some(p) = positions.iter().find(|p| **p >= max) {
                candle_core::bail!("position {p} is beyond the model's {max} learned positions");
            }
            let off = self.cfg.position_offset;
            let pos: Vec<u32> = positions.iter().map(|p| (p + off) as u32).collect();
            let pos = Tensor::new(pos.as_slice(), &self.device)?;
            x = (x + wpe.embedding(&pos)?)?;
        }
        let tables = |r: &Option<Rotary>| -> Result<Option<(Tensor, Tensor)>> {
            r.as_ref()
                .map(|r| rope_tables(&r.inv_freq, &positions, self.dtype, &self.device))
                .transpose()
        };
        let (rope, local_rope) = (tables(&self.cfg.rotary)?, tables(&self.cfg.local_rotary)?);
        for (i, b) in self.w.blocks.iter().enumerate() {
            let h = b.ln1.forward(&x)?;
            let rotary = match (&self.cfg.local_rotary, &local_rope) {
                (Some(r), Some(t)) if b.sliding => Some((r, t)),
                _ => self.cfg.rotary.as_ref().zip(rope.as_ref()),
            };
            let a = self.attention(b, i, &h, rotary, &spans, &mut work)?;
            let gu = self.fused[i].gate_up.as_ref();
            x = match &b.residual {
                Residual::Sequential(ln2) => {
                    let x = fused::add(&x, &a)?;
                    fused::add(&x, &b.ffn.forward_with(&ln2.forward(&x)?, false, gu)?)?
                }
                Residual::Parallel(ln2) => {
                    let m = b.ffn.forward_with(&ln2.forward(&x)?, false, gu)?;
                    fused::add3(&x, &a, &m)?
                }
                Residual::ParallelShared => {
                    fused::add3(&x, &a, &b.ffn.forward_with(&h, false, gu)?)?
                }
                Residual::Sandwich {
                    post_attn,
                    pre_ffn,
                    post_ffn,
                } => {
                    let x = fused::add(&x, &post_attn.forward(&a)?)?;
                    let m = b.ffn.forward_with(&pre_ffn.forward(&x)?, false, gu)?;
                    fused::add(&x, &post_ffn.forward(&m)?)?
                }
            };
        }
        commit(batch, work, &spans);
        Ok(x)
    }
}

impl CausalLm for Decoder {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.w.blocks.len())
    }

    fn activation_bytes_per_token(&self) -> u64 {
        let (h, ff) = self.widths;
        4 * (5 * h + 2 * ff + self.cfg.vocab_size) as u64
    }

    fn kv_bytes_per_token(&self) -> u64 {
        let c = &self.cfg;
        (2 * self.w.blocks.len() * c.n_kv_heads * c.head_dim * self.dtype.size_in_bytes()) as u64
    }

    fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        self.forward_last(tokens, tokens.len(), cache)
    }

    fn forward_last(&self, tokens: &[u32], n_last: usize, cache: &mut KvCache) -> Result<Tensor> {
        forward_last_of_batch(self, tokens, n_last, cache)
    }

    fn forward_batch_hidden(&self, batch: &mut [Seq<'_>]) -> Result<Option<Tensor>> {
        let h = self.hidden(batch)?;
        last_rows(h, batch, &self.device)
    }

    fn logits_of_hidden(&self, h: &Tensor) -> Result<Tensor> {
        let h = self.w.final_norm.forward(h)?;
        let mut logits = self.w.lm_head.forward(&h, false)?;
        if let Some(scale) = self.cfg.logit_scale {
            logits = logits.affine(scale, 0.0)?;
        }
        if let Some(cap) = self.cfg.final_softcap {
            logits = (unary::apply(&logits.affine(1.0 / cap, 0.0)?, Unary::Tanh)? * cap)?;
        }
        logits.to_dtype(DType::F32)
    }
}

/// ALiBi's per-head slopes (Press et al.; Bloom's `build_alibi_tensor`): for the largest
/// power of two p <= n heads, `b^1 … b^p` with `b = 2^(-8/p)`, then for the remaining
/// heads the odd powers of `2^(-4/p)`.
pub fn alibi_slopes(n: usize) -> Vec<f32> {
    let p = 1usize << (usize::BITS - 1 - n.max(1).leading_zeros());
    let base = 2f32.powf(-(2f32.powf(-((p as f32).log2() - 3.0))));
    let mut s: Vec<f32> = (1..=p).map(|i| base.powi(i as i32)).collect();
    if p != n {
        let extra = 2f32.powf(-(2f32.powf(-((2.0 * p as f32).log2() - 3.0))));
        let rest = (n - p).min(p);
        s.extend((0..rest).map(|i| extra.powi(2 * i as i32 + 1)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::alibi_slopes;

    #[test]
    fn alibi_slopes_are_bloom_s() {
        // transformers' build_alibi_tensor: 8 heads (a power of two), and 6 (four from
        // 2^-2, then the odd powers of 2^-1).
        let s8: Vec<f32> = (1..=8).map(|i| 0.5f32.powi(i)).collect();
        assert_eq!(alibi_slopes(8), s8);
        assert_eq!(
            alibi_slopes(6),
            vec![0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]
        );
    }
}
