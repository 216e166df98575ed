//! The Llama-family forward pass (Llama 1-3, Mistral, Qwen2 with q/k/v bias, SmolLM) from candle ops.
//!
//! Matches Hugging Face `modeling_llama` / `modeling_qwen2` (eager attention):
//! RMSNorm (computed in f32), rotary embeddings (HF "rotate half", or GGUF's interleaved
//! pairs for `llama` GGUF files whose q/k rows llama.cpp permuted), grouped-query
//! attention with a causal mask and softmax in f32, SwiGLU MLP, final norm, output layer;
//! logits are returned in f32 for every requested position.
//!
//! Weights are [`QMatMul`]s: quantized GGUF blocks (activations then go through candle's
//! quantized kernels, which quantize them to 8 bits like llama.cpp, or, with
//! [`Llama::set_dequantize_large`], an f32 product for large inputs) or dense tensors in
//! the activation dtype (on a CPU, GGUF weights are usually dequantized at load: see
//! [`super::gguf::load`]).
//!
//! A forward call runs a batch of independent sequences packed row after row (no
//! padding): linear layers and the MLP see all rows at once, rotary embeddings use each
//! row's own position, and attention runs per sequence against that sequence's own KV
//! cache under its own causal mask. Only requested rows reach the output layer.

use candle_core::quantized::QMatMul;
use candle_core::{DType, Device, Module, Result, Tensor};

use super::attention::{
    attend, commit, forward_last_of_batch, last_rows, pack, rope_tables, AttnOpts, Packed, Span,
};
use super::{fused, CausalLm, KvCache, ModelInfo, Seq};

/// How rotary embeddings pair the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Hugging Face: dimension i pairs with i + head_dim/2 (GGUF `qwen2` too).
    Half,
    /// llama.cpp `llama` GGUF: dimensions 2i and 2i+1 pair (q/k rows permuted at conversion).
    Interleaved,
}

impl RopeStyle {
    /// Rotates `x` `[batch, heads, rows, dims]` by the `[rows, dims/2]` tables.
    pub fn apply(self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        match self {
            RopeStyle::Half => candle_nn::rotary_emb::rope(x, cos, sin),
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(x, cos, sin),
        }
    }
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
    /// Mistral's sliding window: a query sees the last this many positions, itself
    /// included.
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

/// With [`Llama::set_dequantize_large`], from this many input rows on a quantized weight
/// is dequantized to f32 for the call and multiplied with candle's f32 GEMM instead of
/// its quantized vector-dot kernels (on CPU those have no SIMD for several formats, Q4_1
/// among them). That product is exact with the stored weights; the quantized kernels
/// round activations to 8 bits first, like llama.cpp.
pub const DEQUANTIZE_MIN_ROWS: usize = 16;

impl Linear {
    /// A dense layer without bias (an output layer tied to the embeddings: `[vocab, hidden]`).
    pub fn dense(w: Tensor) -> Linear {
        Linear {
            weight: QMatMul::Tensor(w),
            bias: None,
        }
    }

    /// Keeps a dense f32 CPU weight in the order the GEMM reads it ([`super::gemm`]).
    pub(crate) fn store_for_gemm(&mut self) -> Result<()> {
        if let QMatMul::Tensor(w) = &self.weight {
            self.weight = QMatMul::Tensor(super::gemm::for_gemm(w)?);
        }
        Ok(())
    }

    /// [`Self::store_for_gemm`] of an output layer that may be tied to `embed` (the
    /// same tensor): then `embed` becomes the GEMM-ordered copy too (looked up with
    /// [`super::gemm::embedding`]), so the weight is kept once.
    pub(crate) fn store_for_gemm_tied(&mut self, embed: &mut Tensor) -> Result<()> {
        let tied = matches!(&self.weight, QMatMul::Tensor(h) if h.id() == embed.id());
        self.store_for_gemm()?;
        if let (true, QMatMul::Tensor(h)) = (tied, &self.weight) {
            *embed = h.clone();
        }
        Ok(())
    }

    /// `(out, in)` features of the weight.
    fn dims(&self) -> Result<(usize, usize)> {
        match &self.weight {
            QMatMul::QTensor(q) => q.shape().dims2(),
            QMatMul::Tensor(w) | QMatMul::TensorF16(w) => w.dims2(),
        }
    }

    pub(crate) fn forward(&self, x: &Tensor, dequantize_large: bool) -> Result<Tensor> {
        let (out, inp) = self.dims()?;
        let flops = 2.0 * (rows(x) * inp * out) as f64;
        let y = crate::profile::time_with(
            || format!("matmul {inp}x{out}"),
            flops,
            || match &self.weight {
                QMatMul::QTensor(q) if dequantize_large && rows(x) >= DEQUANTIZE_MIN_ROWS => {
                    let w = q.dequantize(x.device())?;
                    x.matmul(&w.t()?)
                }
                QMatMul::Tensor(w) => match super::gemm::linear(x, w)? {
                    Some(y) => Ok(y),
                    None => self.weight.forward(x),
                },
                w => w.forward(x),
            },
        )?;
        match &self.bias {
            Some(b) => crate::profile::time("bias add", 0.0, || y.broadcast_add(b)),
            None => Ok(y),
        }
    }
}

/// Rows of a `[rows, features]` activation matrix (1 for anything else).
fn rows(x: &Tensor) -> usize {
    match x.dims() {
        [r, _] => *r,
        _ => 1,
    }
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
    pub mlp: Mlp,
}

/// A layer's feed-forward block.
#[derive(Debug, Clone)]
pub enum Mlp {
    /// SwiGLU: `down(silu(gate x) * up x)`.
    Dense {
        gate: Linear,
        up: Linear,
        down: Linear,
    },
    /// Mixtral's sparse mixture of SwiGLU experts.
    Moe(super::mixtral::SparseMoe),
}

impl Mlp {
    fn linears_mut(&mut self) -> Vec<&mut Linear> {
        match self {
            Mlp::Dense { gate, up, down } => vec![gate, up, down],
            Mlp::Moe(m) => m.linears_mut().collect(),
        }
    }
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
    /// Quantized weights: dequantize per call for large inputs ([`DEQUANTIZE_MIN_ROWS`]).
    dequantize_large: bool,
    /// Per layer, the projections that read the same input stacked into one weight
    /// (see [`fuse`]): q, k, v and gate, up.
    fused: Vec<Fused>,
}

/// A layer's stacked projections, where its weights allow ([`fuse`]).
#[derive(Debug, Clone)]
pub(crate) struct Fused {
    pub qkv: Option<Linear>,
    pub gate_up: Option<Linear>,
}

impl Fused {
    /// Readies one layer's weights for the CPU GEMM: stacks q, k, v and, for a gated
    /// MLP, gate and up ([`fuse`]), then keeps every weight given, `others` too, in the
    /// GEMM's order ([`Linear::store_for_gemm`]).
    pub(crate) fn new<'a>(
        mut qkv: [&'a mut Linear; 3],
        mut gate_up: Option<[&'a mut Linear; 2]>,
        others: impl IntoIterator<Item = &'a mut Linear>,
    ) -> Result<Self> {
        let fused = Fused {
            qkv: fuse(&mut qkv)?,
            gate_up: gate_up.as_mut().map(fuse).transpose()?.flatten(),
        };
        for lin in qkv
            .into_iter()
            .chain(gate_up.into_iter().flatten())
            .chain(others)
        {
            lin.store_for_gemm()?;
        }
        Ok(fused)
    }
}

/// Stacks dense f32 CPU weights that multiply the same input (`[out_i, in]` each) into
/// one `[Σ out_i, in]` weight, so one wide product replaces several narrow ones (the
/// GEMM runs nearer its peak: `examples/cpu_profile.rs`), and makes each part a view of
/// its rows (no second copy). Biases, when every part has one, are stacked too. None
/// (nothing changed) for quantized, 16-bit or non-CPU weights, or mixed biases.
fn fuse<const N: usize>(parts: &mut [&mut Linear; N]) -> Result<Option<Linear>> {
    let mut ws = Vec::with_capacity(parts.len());
    for p in parts.iter() {
        match &p.weight {
            QMatMul::Tensor(w) if w.device().is_cpu() && w.dtype() == DType::F32 => {
                ws.push(w.clone())
            }
            _ => return Ok(None),
        }
    }
    let with_bias = parts.iter().filter(|p| p.bias.is_some()).count();
    if with_bias != 0 && with_bias != parts.len() {
        return Ok(None);
    }
    let w = super::gemm::for_gemm(&Tensor::cat(&ws, 0)?)?;
    let bias = if with_bias > 0 {
        let bs: Vec<&Tensor> = parts.iter().filter_map(|p| p.bias.as_ref()).collect();
        Some(Tensor::cat(&bs, 0)?)
    } else {
        None
    };
    let mut row = 0;
    for (p, part) in parts.iter_mut().zip(&ws) {
        let n = part.dim(0)?;
        p.weight = QMatMul::Tensor(w.narrow(0, row, n)?);
        row += n;
    }
    Ok(Some(Linear {
        weight: QMatMul::Tensor(w),
        bias,
    }))
}

/// The products of `x` with each of `parts`: column blocks of the one product with
/// their `stacked` weight ([`fuse`]) when there is one (views, which [`fused`]'s ops read
/// in place), else one product each.
pub(crate) fn project<const N: usize>(
    stacked: Option<&Linear>,
    parts: [&Linear; N],
    x: &Tensor,
    dequantize_large: bool,
) -> Result<[Tensor; N]> {
    let ys: Vec<Tensor> = match stacked {
        None => parts
            .iter()
            .map(|p| p.forward(x, dequantize_large))
            .collect::<Result<_>>()?,
        Some(st) => {
            let y = st.forward(x, dequantize_large)?;
            let mut col = 0;
            parts
                .iter()
                .map(|p| {
                    let n = p.dims()?.0;
                    col += n;
                    y.narrow(1, col - n, n)
                })
                .collect::<Result<_>>()?
        }
    };
    Ok(ys.try_into().expect("one product per part"))
}

impl Llama {
    /// Assembles a model; norms are cast to `dtype`, the activation dtype. Also tunes the
    /// process allocator for tensor work ([`super::alloc`]).
    pub fn new(
        cfg: LlamaConfig,
        mut w: Weights,
        dtype: DType,
        device: Device,
        info: ModelInfo,
    ) -> Result<Self> {
        if !cfg.n_heads.is_multiple_of(cfg.n_kv_heads) {
            candle_core::bail!(
                "{} attention heads are not a multiple of {} key/value heads",
                cfg.n_heads,
                cfg.n_kv_heads
            );
        }
        if cfg.inv_freq.len() * 2 != cfg.head_dim {
            candle_core::bail!("rotary frequencies do not match head_dim {}", cfg.head_dim);
        }
        crate::alloc::keep_freed_buffers();
        w.norm = w.norm.to_dtype(dtype)?;
        for l in w.layers.iter_mut() {
            l.attn_norm = l.attn_norm.to_dtype(dtype)?;
            l.ffn_norm = l.ffn_norm.to_dtype(dtype)?;
            let mut linears = vec![&mut l.q, &mut l.k, &mut l.v, &mut l.o];
            linears.extend(l.mlp.linears_mut());
            for lin in linears {
                if let Some(b) = lin.bias.take() {
                    lin.bias = Some(b.to_dtype(dtype)?);
                }
            }
        }
        let mut fused = Vec::with_capacity(w.layers.len());
        for l in w.layers.iter_mut() {
            let (gate_up, others) = match &mut l.mlp {
                Mlp::Dense { gate, up, down } => (Some([gate, up]), vec![down]),
                Mlp::Moe(m) => (None, m.linears_mut().collect()),
            };
            fused.push(Fused::new(
                [&mut l.q, &mut l.k, &mut l.v],
                gate_up,
                others.into_iter().chain([&mut l.o]),
            )?);
        }
        match &mut w.embed {
            QMatMul::Tensor(e) => w.lm_head.store_for_gemm_tied(e)?,
            _ => w.lm_head.store_for_gemm()?,
        }
        // The parts' own buffers were freed for the stacked ones, the row-major weights
        // for their GEMM-ordered copies: hand their pages back.
        crate::alloc::release_free_pages();
        Ok(Self {
            cfg,
            w,
            dtype,
            device,
            info,
            dequantize_large: false,
            fused,
        })
    }

    /// Multiply quantized weights by dequantizing them per call when the input has at
    /// least [`DEQUANTIZE_MIN_ROWS`] rows (for quantized weights kept on a CPU because
    /// their f32 copy does not fit in memory).
    pub fn set_dequantize_large(&mut self, on: bool) {
        self.dequantize_large = on;
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Self-attention of every sequence of the batch. `x` holds the packed rows of all
    /// sequences; projections and rotary embeddings run on all rows at once, the
    /// attention itself per sequence, against that sequence's own cache.
    fn attention(
        &self,
        layer: &Layer,
        idx: usize,
        x: &Tensor,
        rope: (&Tensor, &Tensor),
        spans: &[Span],
        caches: &mut [KvCache],
    ) -> Result<Tensor> {
        let (cos, sin) = rope;
        let (nh, nkv, hd) = (self.cfg.n_heads, self.cfg.n_kv_heads, self.cfg.head_dim);
        let dq = self.dequantize_large;
        let [q, k, v] = project(
            self.fused[idx].qkv.as_ref(),
            [&layer.q, &layer.k, &layer.v],
            x,
            dq,
        )?;
        let (q, k, v) =
            crate::profile::time("heads (rotated) from q, k, v", 0.0, || -> Result<_> {
                let rot = || fused::Rotary {
                    cos,
                    sin,
                    half: self.cfg.rope_style == RopeStyle::Half,
                };
                let q = fused::heads(&q, nh, hd, Some(rot()))?;
                let k = fused::heads(&k, nkv, hd, Some(rot()))?;
                let v = fused::heads(&v, nkv, hd, None)?;
                Ok((q, k, v))
            })?;
        let opts = AttnOpts {
            window: self.cfg.sliding_window,
            ..AttnOpts::plain(hd)
        };
        let out = attend(&q, &k, &v, idx, spans, caches, self.dtype, nh, hd, &opts)?;
        layer.o.forward(&out, self.dequantize_large)
    }

    fn mlp(&self, layer: &Layer, idx: usize, x: &Tensor) -> Result<Tensor> {
        let dq = self.dequantize_large;
        match &layer.mlp {
            Mlp::Dense { gate, up, down } => {
                let [g, u] = project(self.fused[idx].gate_up.as_ref(), [gate, up], x, dq)?;
                let h = crate::profile::time("silu(gate) × up", 0.0, || fused::swiglu(&g, &u))?;
                down.forward(&h, dq)
            }
            Mlp::Moe(moe) => moe.forward(x, dq),
        }
    }

    /// Runs the decoder over every sequence of `batch` (each after its own cache, which
    /// is extended); returns the final hidden states of all rows, packed in batch order,
    /// `[total_tokens, hidden]`.
    fn hidden(&self, batch: &mut [Seq<'_>]) -> Result<Tensor> {
        let c = &self.cfg;
        let Packed {
            ids,
            positions,
            spans,
            mut work,
        } = pack(batch, c.n_layers, c.vocab_size)?;
        use crate::profile::time;
        let ids = Tensor::new(ids.as_slice(), &self.device)?;
        let mut x = time("embedding", 0.0, || {
            match &self.w.embed {
                QMatMul::Tensor(t) => super::gemm::embedding(t, &ids),
                q => q.embedding(&ids),
            }?
            .to_dtype(self.dtype)
        })?;
        let (cos, sin) = time("rotary tables", 0.0, || {
            rope_tables(&self.cfg.inv_freq, &positions, self.dtype, &self.device)
        })?;
        let eps = self.cfg.rms_norm_eps as f32;
        let layers = &self.w.layers;
        // Each residual sum is fused with the norm of the sub-layer after it.
        let mut h = match layers.first() {
            Some(l) => time("rms_norm", 0.0, || fused::rms_norm(&x, &l.attn_norm, eps))?,
            None => x.clone(),
        };
        for (i, layer) in layers.iter().enumerate() {
            let a = self.attention(layer, i, &h, (&cos, &sin), &spans, &mut work)?;
            (x, h) = time("residual add + rms_norm", 0.0, || {
                fused::add_rms_norm(&x, &a, &layer.ffn_norm, eps)
            })?;
            let m = self.mlp(layer, i, &h)?;
            match layers.get(i + 1) {
                Some(next) => {
                    (x, h) = time("residual add + rms_norm", 0.0, || {
                        fused::add_rms_norm(&x, &m, &next.attn_norm, eps)
                    })?
                }
                None => x = time("residual add", 0.0, || &x + m)?,
            }
        }
        time("kv cache commit", 0.0, || commit(batch, work, &spans));
        Ok(x)
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

    fn activation_bytes_per_token(&self) -> u64 {
        let c = &self.cfg;
        4 * (4 * c.hidden_size + 3 * c.intermediate_size + c.vocab_size) as u64
    }

    fn kv_bytes_per_token(&self) -> u64 {
        let c = &self.cfg;
        (2 * c.n_layers * c.n_kv_heads * c.head_dim * self.dtype.size_in_bytes()) as u64
    }

    /// True on a CPU with f32 activations and every linear weight a dense f32 tensor.
    /// Everything but the linear layers is per row (norms, rotary embeddings, the
    /// activation) or per sequence (attention, against the sequence's own cache and
    /// under its own mask). The linear layers are candle's f32 matrix product, i.e. the
    /// `gemm` crate, whose value for one output element does not depend on the number of
    /// rows once there are two or more: the depth is cut into blocks from the depth and
    /// the output width alone (never split across threads), each block is summed by
    /// fused multiply-adds in depth order into one accumulator whatever the tile, and
    /// the blocks are added in order (for outputs more than 64 wide: every layer of a
    /// real model). One row goes to a vector kernel instead, hence the
    /// proviso of [`CausalLm::batch_invariant`]. Quantized weights are not claimed:
    /// [`Llama::set_dequantize_large`] switches kernels on the row count, and on other
    /// devices the libraries choose algorithms by shape. Nor are mixtures of experts
    /// ([`super::mixtral`]): an expert's product sees the rows the batch routes to it.
    /// `tests/it/slow/batch_invariance.rs` checks it on the real model.
    fn batch_invariant(&self) -> bool {
        // (gemm treats products at most 64 wide in both dimensions apart.)
        let dense_f32 = |l: &Linear| {
            matches!(&l.weight, QMatMul::Tensor(w)
                if w.dtype() == DType::F32 && w.dims().first().is_some_and(|&n| n > 64))
        };
        self.device.is_cpu()
            && self.dtype == DType::F32
            && dense_f32(&self.w.lm_head)
            && self.w.layers.iter().all(|l| match &l.mlp {
                Mlp::Dense { gate, up, down } => [&l.q, &l.k, &l.v, &l.o, gate, up, down]
                    .into_iter()
                    .all(dense_f32),
                Mlp::Moe(_) => false,
            })
    }

    fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        self.forward_last(tokens, tokens.len(), cache)
    }

    fn forward_last(&self, tokens: &[u32], n_last: usize, cache: &mut KvCache) -> Result<Tensor> {
        forward_last_of_batch(self, tokens, n_last, cache)
    }

    fn forward_batch_hidden(&self, batch: &mut [Seq<'_>]) -> Result<Option<Tensor>> {
        let h = self.hidden(batch)?;
        crate::profile::time("select scored rows", 0.0, || {
            last_rows(h, batch, &self.device)
        })
    }

    fn logits_of_hidden(&self, hidden: &Tensor) -> Result<Tensor> {
        let h = crate::profile::time("rms_norm", 0.0, || {
            fused::rms_norm(hidden, &self.w.norm, self.cfg.rms_norm_eps as f32)
        })?;
        self.w
            .lm_head
            .forward(&h, self.dequantize_large)?
            .to_dtype(DType::F32)
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
