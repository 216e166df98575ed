//! Fused element-wise steps of a decoder layer on the CPU: one pass over the activations
//! where candle would make two or three, in parallel over rows (candle's binary ops run
//! on one thread), vectorized like [`super::unary`]:
//! - [`swiglu`]: `silu(g) · u`, the gated MLP's activation (Llama, Mistral, Qwen2,
//!   Mixtral's experts);
//! - [`rms_norm`]: `x / sqrt(mean(x²) + eps) · α`, and [`add_rms_norm`]: the residual sum
//!   `x + a` and its norm in one pass (the sum is the next residual, the norm the next
//!   sub-layer's input);
//! - [`add`], [`add3`]: residual sums (candle's binary ops run on one thread);
//! - [`heads`]: the projection's `[rows, heads·head_dim]` output as `[heads, rows,
//!   head_dim]`, rotated on the way (rotary embeddings, either pairing) where asked:
//!   the same products as candle's `rope` / `rope_i`, so the same bits.
//!
//! The sum of squares runs over [`LANES`] fixed partial sums (the same bits whatever the
//! vector width, and whichever rows share the call: batch invariance holds); candle sums
//! a row left to right and torch in its own blocked order, so all three differ in the
//! last bits of a norm, about 1e-7 relative. f32 contiguous CPU tensors take these paths;
//! other dtypes and devices candle's own ops.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::unary::{self, Unary};

/// Fixed partial sums of a row's squares.
const LANES: usize = 16;

/// Rows per parallel task (of a 576-wide model: 36 KB of input).
const ROWS_PER_TASK: usize = 16;

/// `silu(gate) * up`, element-wise (same shapes).
pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    gated(Unary::Silu, gate, up)
}

/// `act(gate) * up`, element-wise (same shapes): SwiGLU (`Silu`), GeGLU (the GELUs:
/// Gemma's gated MLP), with [`super::unary`]'s functions.
pub fn gated(act: Unary, gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if fast(gate) && fast(up) && gate.shape() == up.shape() {
        let dims = gate.dims().to_vec();
        let width = *dims.last().unwrap_or(&1);
        let two_d = |t: &Tensor| -> Result<Tensor> {
            if rows_apart(t) {
                Ok(t.clone())
            } else {
                t.contiguous()?.reshape(((), width))
            }
        };
        return two_d(gate)?
            .apply_op2_no_bwd(&two_d(up)?, &Gated(act))?
            .reshape(dims);
    }
    unary::apply(gate, act)? * up
}

/// RMS norm over the last axis, scaled by `alpha` (`[hidden]`).
pub fn rms_norm(x: &Tensor, alpha: &Tensor, eps: f32) -> Result<Tensor> {
    if fast(x) && fast(alpha) {
        return x.contiguous()?.apply_op2_no_bwd(alpha, &Norm { eps });
    }
    candle_nn::ops::rms_norm(x, alpha, eps)
}

/// `(x + a, rms_norm(x + a, alpha, eps))`.
pub fn add_rms_norm(x: &Tensor, a: &Tensor, alpha: &Tensor, eps: f32) -> Result<(Tensor, Tensor)> {
    if fast(x) && fast(a) && fast(alpha) && x.shape() == a.shape() {
        let both = x
            .contiguous()?
            .apply_op3_no_bwd(&a.contiguous()?, alpha, &AddNorm { eps })?;
        return Ok((both.get(0)?, both.get(1)?));
    }
    let s = (x + a)?;
    let n = candle_nn::ops::rms_norm(&s, alpha, eps)?;
    Ok((s, n))
}

/// `x + a` (same shapes), rows in parallel.
pub fn add(x: &Tensor, a: &Tensor) -> Result<Tensor> {
    if fast(x) && fast(a) && x.shape() == a.shape() {
        let zero = Tensor::zeros(0, DType::F32, x.device())?;
        return x
            .contiguous()?
            .apply_op3_no_bwd(&a.contiguous()?, &zero, &Add3);
    }
    x + a
}

/// `(x + a) + b` (same shapes), rounded as the two additions in that order.
pub fn add3(x: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if fast(x) && fast(a) && fast(b) && x.shape() == a.shape() && x.shape() == b.shape() {
        return x
            .contiguous()?
            .apply_op3_no_bwd(&a.contiguous()?, &b.contiguous()?, &Add3);
    }
    (x + a)? + b
}

/// `x + a (+ b)`; an empty `b` is left out.
struct Add3;

impl CustomOp3 for Add3 {
    fn name(&self) -> &'static str {
        "fused-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let a = f32_slice(s2, l2, self.name())?;
        let b = f32_slice(s3, l3, self.name())?;
        if a.len() != x.len() || !(b.is_empty() || b.len() == x.len()) {
            candle_core::bail!("add: {:?} + {:?} + {:?}", l1.dims(), l2.dims(), l3.dims());
        }
        let mut out = output(x.len());
        const CHUNK: usize = 16 * 1024;
        if b.is_empty() {
            out.par_chunks_mut(CHUNK)
                .zip(x.par_chunks(CHUNK).zip(a.par_chunks(CHUNK)))
                .for_each(|(o, (x, a))| {
                    for ((o, &x), &a) in o.iter_mut().zip(x).zip(a) {
                        *o = x + a;
                    }
                });
        } else {
            out.par_chunks_mut(CHUNK)
                .zip(
                    x.par_chunks(CHUNK)
                        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK))),
                )
                .for_each(|(o, (x, (a, b)))| {
                    for (((o, &x), &a), &b) in o.iter_mut().zip(x).zip(a).zip(b) {
                        *o = (x + a) + b;
                    }
                });
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// How [`heads`] rotates: the `[rows, d / 2]` cos and sin tables (the first d ≤ head_dim
/// dimensions of each head are rotated, the rest pass unchanged: GPT-NeoX, Phi) and whether
/// dimension i pairs with i + head_dim/2 (`half`, Hugging Face) or 2i with 2i+1.
pub struct Rotary<'a> {
    pub cos: &'a Tensor,
    pub sin: &'a Tensor,
    pub half: bool,
}

/// `x` `[rows, n·hd]` as `[n, rows, hd]` (contiguous), rotated by `rotary` when given.
pub fn heads(x: &Tensor, n: usize, hd: usize, rotary: Option<Rotary<'_>>) -> Result<Tensor> {
    let rows = x.dim(0)?;
    let tables_fast = rotary.as_ref().is_none_or(|r| fast(r.cos) && fast(r.sin));
    if fast(x) && tables_fast && hd.is_multiple_of(2) {
        let x = if rows_apart(x) {
            x.clone()
        } else {
            x.contiguous()?
        };
        return match rotary {
            Some(r) => x.apply_op3_no_bwd(
                &r.cos.contiguous()?,
                &r.sin.contiguous()?,
                &Heads {
                    n,
                    hd,
                    half: r.half,
                },
            ),
            None => {
                let dummy = Tensor::zeros(0, DType::F32, x.device())?;
                x.apply_op3_no_bwd(&dummy, &dummy, &Heads { n, hd, half: false })
            }
        };
    }
    let t = x.reshape((1, rows, n, hd))?.transpose(1, 2)?.contiguous()?;
    let Some(r) = rotary else {
        return t.squeeze(0);
    };
    let rope = |t: &Tensor| {
        if r.half {
            candle_nn::rotary_emb::rope(t, r.cos, r.sin)
        } else {
            candle_nn::rotary_emb::rope_i(t, r.cos, r.sin)
        }
    };
    let dims = 2 * r.cos.dim(1)?;
    let t = if dims == hd {
        rope(&t)?
    } else {
        let rot = rope(&t.narrow(3, 0, dims)?.contiguous()?)?;
        Tensor::cat(&[rot, t.narrow(3, dims, hd - dims)?], 3)?.contiguous()?
    };
    t.squeeze(0)
}

/// Inputs x `[rows, n·hd]`, cos and sin `[rows, d/2]` (both empty: no rotation): the
/// first d ≤ hd dimensions of each head are rotated, the others copied.
struct Heads {
    n: usize,
    hd: usize,
    half: bool,
}

impl CustomOp3 for Heads {
    fn name(&self) -> &'static str {
        "fused-heads"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, stride) = row_strided(s1, l1, self.name())?;
        let cos = f32_slice(s2, l2, self.name())?;
        let sin = f32_slice(s3, l3, self.name())?;
        let (n, hd) = (self.n, self.hd);
        let width = n * hd;
        let (rows, w) = l1.shape().dims2()?;
        if width == 0 || w != width {
            candle_core::bail!("heads: {:?} is not [rows, {n}·{hd}]", l1.dims());
        }
        let rotate = !cos.is_empty();
        let h2 = cos.len().checked_div(rows).unwrap_or(0);
        if rotate && (cos.len() != rows * h2 || sin.len() != rows * h2 || 2 * h2 > hd) {
            candle_core::bail!(
                "heads: rotary tables of {} for {rows} rows of {h2}",
                cos.len()
            );
        }
        let mut out = output(rows * width);
        // One task per head and block of rows.
        let block = ROWS_PER_TASK * 4;
        if rows == 0 {
            return Ok((CpuStorage::F32(out), Shape::from((n, 0, hd))));
        }
        let tasks = out
            .par_chunks_mut(rows * hd)
            .enumerate()
            .flat_map(|(h, oh)| {
                oh.par_chunks_mut(block * hd)
                    .enumerate()
                    .map(move |(b, o)| (h, b, o))
            });
        tasks.for_each(|(h, b, o)| {
            let r0 = b * block;
            for (i, o) in o.chunks_exact_mut(hd).enumerate() {
                let r = r0 + i;
                let src = &x[r * stride + h * hd..r * stride + (h + 1) * hd];
                if !rotate {
                    o.copy_from_slice(src);
                    continue;
                }
                let (c, s) = (&cos[r * h2..(r + 1) * h2], &sin[r * h2..(r + 1) * h2]);
                let (src, pass) = src.split_at(2 * h2);
                let (o, o_pass) = o.split_at_mut(2 * h2);
                o_pass.copy_from_slice(pass);
                if self.half {
                    let (x1, x2) = src.split_at(h2);
                    let (o1, o2) = o.split_at_mut(h2);
                    for j in 0..h2 {
                        o1[j] = x1[j] * c[j] - x2[j] * s[j];
                        o2[j] = x1[j] * s[j] + x2[j] * c[j];
                    }
                } else {
                    for j in 0..h2 {
                        let (a, b) = (src[2 * j], src[2 * j + 1]);
                        o[2 * j] = a * c[j] - b * s[j];
                        o[2 * j + 1] = a * s[j] + b * c[j];
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((n, rows, hd))))
    }
}

/// An output buffer of `n` values, not zeroed: zeroing it would be one more pass over
/// memory, on one thread, before the parallel pass that writes it.
/// An output buffer of `n` uninitialized f32s, for an op that writes every element.
pub(crate) fn output(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: f32 has no invalid bit patterns, and every op that calls this (here and
    // in `super::gemm`) writes each element of its output before the tensor made from
    // it is read (candle's own CPU ops allocate their outputs the same way).
    #[allow(clippy::uninit_vec)]
    unsafe {
        v.set_len(n)
    };
    v
}

/// An f32 tensor on the CPU: what the ops of this module (and `super::gemm`) take.
pub(crate) fn fast(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{op} needs contiguous input");
    };
    match s {
        CpuStorage::F32(d) => Ok(&d[a..b]),
        _ => candle_core::bail!("{op} needs f32 input"),
    }
}

/// A `[rows, width]` f32 matrix whose rows are contiguous, possibly apart (a column
/// block of a wider product: `narrow` on the last axis): `(data from its first element,
/// row stride)`.
fn row_strided<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<(&'a [f32], usize)> {
    let CpuStorage::F32(d) = s else {
        candle_core::bail!("{op} needs f32 input");
    };
    match (l.dims(), l.stride()) {
        (&[_, w], &[rs, 1]) if rs >= w => Ok((&d[l.start_offset()..], rs)),
        (&[_, w], _) if l.is_contiguous() => Ok((&d[l.start_offset()..], w)),
        _ => candle_core::bail!("{op} needs rows of contiguous values, got {:?}", l.dims()),
    }
}

/// Whether `t` is a matrix [`row_strided`] reads without a copy.
fn rows_apart(t: &Tensor) -> bool {
    let l = t.layout();
    matches!((l.dims(), l.stride()), (&[_, w], &[rs, 1]) if rs >= w)
}

struct Gated(Unary);

impl CustomOp2 for Gated {
    fn name(&self) -> &'static str {
        "fused-gated"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, gs) = row_strided(s1, l1, self.name())?;
        let (u, us) = row_strided(s2, l2, self.name())?;
        let (rows, w) = l1.shape().dims2()?;
        if l2.dims() != [rows, w] {
            candle_core::bail!("gated: {:?} against {:?}", l1.dims(), l2.dims());
        }
        let mut out = output(rows * w);
        if w == 0 {
            return Ok((CpuStorage::F32(out), l1.shape().clone()));
        }
        let act = unary::kernel(self.0);
        out.par_chunks_mut(w * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(t, o)| {
                for (i, o) in o.chunks_exact_mut(w).enumerate() {
                    let r = t * ROWS_PER_TASK + i;
                    // The row is in cache for the second pass.
                    act(&g[r * gs..r * gs + w], o);
                    for (o, &u) in o.iter_mut().zip(&u[r * us..r * us + w]) {
                        *o *= u;
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

struct Norm {
    eps: f32,
}

impl CustomOp2 for Norm {
    fn name(&self) -> &'static str {
        "fused-rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, alpha) = (
            f32_slice(s1, l1, self.name())?,
            f32_slice(s2, l2, self.name())?,
        );
        let h = alpha.len();
        if h == 0 || l1.dims().last() != Some(&h) {
            candle_core::bail!("rms-norm: rows of {:?} against a scale of {h}", l1.dims());
        }
        let mut out = output(x.len());
        let f = norm_row_fn();
        out.par_chunks_mut(h * ROWS_PER_TASK)
            .zip(x.par_chunks(h * ROWS_PER_TASK))
            .for_each(|(o, x)| {
                for (o, x) in o.chunks_exact_mut(h).zip(x.chunks_exact(h)) {
                    f(x, alpha, self.eps, o);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Inputs x and a (same shape), α; output `[2, …]`: the sum, then its norm.
struct AddNorm {
    eps: f32,
}

impl CustomOp3 for AddNorm {
    fn name(&self) -> &'static str {
        "fused-add-rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let a = f32_slice(s2, l2, self.name())?;
        let alpha = f32_slice(s3, l3, self.name())?;
        let h = alpha.len();
        if h == 0 || l1.dims().last() != Some(&h) || x.len() != a.len() {
            candle_core::bail!(
                "add-rms-norm: {:?} + {:?} against a scale of {h}",
                l1.dims(),
                l2.dims()
            );
        }
        let n = x.len();
        let mut out = output(2 * n);
        let (sum, norm) = out.split_at_mut(n);
        let f = norm_row_fn();
        let step = h * ROWS_PER_TASK;
        sum.par_chunks_mut(step)
            .zip(norm.par_chunks_mut(step))
            .zip(x.par_chunks(step).zip(a.par_chunks(step)))
            .for_each(|((s, o), (x, a))| {
                for (((s, o), x), a) in s
                    .chunks_exact_mut(h)
                    .zip(o.chunks_exact_mut(h))
                    .zip(x.chunks_exact(h))
                    .zip(a.chunks_exact(h))
                {
                    for ((s, &x), &a) in s.iter_mut().zip(x).zip(a) {
                        *s = x + a;
                    }
                    f(s, alpha, self.eps, o);
                }
            });
        let mut dims = vec![2];
        dims.extend_from_slice(l1.dims());
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

/// The norm's row kernel, compiled for the widest vector unit the CPU has (chosen per
/// call of an op, not per row).
fn norm_row_fn() -> fn(&[f32], &[f32], f32, &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function is compiled for.
            return |x, al, e, o| unsafe { norm_avx512(x, al, e, o) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above.
            return |x, al, e, o| unsafe { norm_avx2(x, al, e, o) };
        }
    }
    norm_row
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn norm_avx512(x: &[f32], alpha: &[f32], eps: f32, o: &mut [f32]) {
    norm_row(x, alpha, eps, o)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn norm_avx2(x: &[f32], alpha: &[f32], eps: f32, o: &mut [f32]) {
    norm_row(x, alpha, eps, o)
}

/// `o = x / sqrt(mean(x²) + eps) · α` for one row, the squares summed over [`LANES`]
/// partial sums.
#[inline(always)]
fn norm_row(x: &[f32], alpha: &[f32], eps: f32, o: &mut [f32]) {
    let mut acc = [0f32; LANES];
    let mut xs = x.chunks_exact(LANES);
    for c in &mut xs {
        for l in 0..LANES {
            acc[l] += c[l] * c[l];
        }
    }
    for (l, &v) in xs.remainder().iter().enumerate() {
        acc[l] += v * v;
    }
    let sum: f32 = acc.iter().sum();
    let r = 1.0 / (sum / x.len() as f32 + eps).sqrt();
    for ((o, &x), &a) in o.iter_mut().zip(x).zip(alpha) {
        *o = x * r * a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        let mut r = crate::random::PyRandom::new(seed as u64);
        (0..n)
            .map(|_| (r.next_u32() as f32 / u32::MAX as f32 - 0.5) * 8.0)
            .collect()
    }

    #[test]
    fn fused_ops_match_candles_composition() -> Result<()> {
        let d = Device::Cpu;
        let (rows, h) = (37, 100);
        let x = Tensor::from_vec(data(rows * h, 1), (rows, h), &d)?;
        let a = Tensor::from_vec(data(rows * h, 2), (rows, h), &d)?;
        let alpha = Tensor::from_vec(data(h, 3), h, &d)?;
        let max_rel = |got: &Tensor, want: &Tensor| -> Result<f32> {
            let diff = (got - want)?.abs()?;
            let scale = want.abs()?.affine(1.0, 1e-3)?;
            (diff / scale)?.flatten_all()?.max(0)?.to_scalar::<f32>()
        };
        let want = (candle_nn::ops::silu(&x)? * &a)?;
        assert!(max_rel(&swiglu(&x, &a)?, &want)? < 1e-5);
        let want = (unary::apply(&x, Unary::GeluTanh)? * &a)?;
        assert_eq!(
            gated(Unary::GeluTanh, &x, &a)?.to_vec2::<f32>()?,
            want.to_vec2::<f32>()?
        );
        let xa = Tensor::cat(&[&x, &a], 1)?;
        let (g, u) = (xa.narrow(1, 0, h)?, xa.narrow(1, h, h)?);
        assert_eq!(
            swiglu(&g, &u)?.to_vec2::<f32>()?,
            swiglu(&x, &a)?.to_vec2::<f32>()?
        );
        let want = candle_nn::ops::rms_norm(&x, &alpha, 1e-5)?;
        assert!(max_rel(&rms_norm(&x, &alpha, 1e-5)?, &want)? < 1e-5);
        let (s, n) = add_rms_norm(&x, &a, &alpha, 1e-6)?;
        let want_s = (&x + &a)?;
        assert_eq!(s.to_vec2::<f32>()?, want_s.to_vec2::<f32>()?);
        let want_n = candle_nn::ops::rms_norm(&want_s, &alpha, 1e-6)?;
        assert!(max_rel(&n, &want_n)? < 1e-5);
        assert!(s.is_contiguous() && n.is_contiguous());
        assert_eq!(add(&x, &a)?.to_vec2::<f32>()?, want_s.to_vec2::<f32>()?);
        let want3 = ((&x + &a)? + &want_s)?;
        assert_eq!(
            add3(&x, &a, &want_s)?.to_vec2::<f32>()?,
            want3.to_vec2::<f32>()?
        );
        // Rows do not depend on which other rows share the call.
        let part = add_rms_norm(&x.narrow(0, 5, 3)?, &a.narrow(0, 5, 3)?, &alpha, 1e-6)?.1;
        assert_eq!(part.to_vec2::<f32>()?, n.narrow(0, 5, 3)?.to_vec2::<f32>()?);
        Ok(())
    }

    #[test]
    fn heads_rotate_as_candle_does_bit_for_bit() -> Result<()> {
        let d = Device::Cpu;
        let (rows, n, hd) = (70, 3, 8);
        let x = Tensor::from_vec(data(rows * n * hd, 4), (rows, n * hd), &d)?;
        let cos = Tensor::from_vec(data(rows * hd / 2, 5), (rows, hd / 2), &d)?;
        let sin = Tensor::from_vec(data(rows * hd / 2, 6), (rows, hd / 2), &d)?;
        let t = x.reshape((1, rows, n, hd))?.transpose(1, 2)?.contiguous()?;
        for half in [true, false] {
            let want = if half {
                candle_nn::rotary_emb::rope(&t, &cos, &sin)?
            } else {
                candle_nn::rotary_emb::rope_i(&t, &cos, &sin)?
            };
            let r = Rotary {
                cos: &cos,
                sin: &sin,
                half,
            };
            let got = heads(&x, n, hd, Some(r))?;
            assert_eq!(got.dims(), &[n, rows, hd]);
            assert_eq!(
                got.flatten_all()?.to_vec1::<f32>()?,
                want.flatten_all()?.to_vec1::<f32>()?
            );
        }
        let got = heads(&x, n, hd, None)?;
        assert_eq!(
            got.flatten_all()?.to_vec1::<f32>()?,
            t.flatten_all()?.to_vec1::<f32>()?
        );
        // Partial rotary (the first 4 of 8 dimensions), against rope on that part.
        let (c4, s4) = (
            cos.narrow(1, 0, 2)?.contiguous()?,
            sin.narrow(1, 0, 2)?.contiguous()?,
        );
        let rot = candle_nn::rotary_emb::rope(&t.narrow(3, 0, 4)?.contiguous()?, &c4, &s4)?;
        let want = Tensor::cat(&[rot, t.narrow(3, 4, 4)?], 3)?.squeeze(0)?;
        let r = Rotary {
            cos: &c4,
            sin: &s4,
            half: true,
        };
        let got = heads(&x, n, hd, Some(r))?;
        assert_eq!(
            got.flatten_all()?.to_vec1::<f32>()?,
            want.flatten_all()?.to_vec1::<f32>()?
        );
        // A column block of a wider matrix is read in place, with the same result.
        let x2 = x.affine(2.0, 1.0)?;
        let wide = Tensor::cat(&[&x, &x2], 1)?;
        let rot = || Rotary {
            cos: &cos,
            sin: &sin,
            half: true,
        };
        let got = heads(&wide.narrow(1, n * hd, n * hd)?, n, hd, Some(rot()))?;
        let want = heads(&x2, n, hd, Some(rot()))?;
        assert_eq!(
            got.flatten_all()?.to_vec1::<f32>()?,
            want.flatten_all()?.to_vec1::<f32>()?
        );
        Ok(())
    }
}
