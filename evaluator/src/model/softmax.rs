//! Causal softmax of attention scores: scale, mask and softmax in one pass over f32 rows.
//!
//! Attention scores `[groups, rows, keys]` come from a block of `block` consecutive query
//! positions (the row axis holds several query heads of a group, `rows = heads × block`,
//! head-major). Query `i` of the block sits at position `first + i` and sees keys
//! `0..=first + i`: the softmax of row `r` runs over those keys only and writes exact
//! zeros after them, as adding a `-inf` mask before the softmax would. With a sliding
//! `window` w, query position p sees only keys `p - w + 1 ..= p` (Mistral, Gemma 2/3's
//! local layers: a key j is masked when `p - j >= w`), zeros before them too.
//!
//! On a CPU this is one candle custom op ([`causal_softmax`]): masked keys are never
//! exponentiated, the exponential is a branch-free polynomial the compiler vectorizes
//! (Cephes `expf`: relative error about 1e-7, against glibc's ~0.5 ulp), sums use 16
//! fixed partial accumulators (the same bits whatever the vector width), and rows run in
//! parallel (rayon). On other devices it is the mask-then-softmax composition of candle
//! ops. `tests` compares the two.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Softmax over the last axis of `scores` (`[groups, rows, keys]`, f32) under a causal
/// mask: row `r` is query `r % block` of a block whose first query has position `first`;
/// it sees keys `0..=first + r % block` (with a `window` w, only the last w of them).
/// Scores are multiplied by `scale` first.
pub fn causal_softmax(
    scores: &Tensor,
    block: usize,
    first: usize,
    scale: f64,
    window: Option<usize>,
) -> Result<Tensor> {
    let (_, rows, keys) = scores.dims3()?;
    if scores.dtype() != DType::F32 {
        candle_core::bail!("causal_softmax takes f32 scores, got {:?}", scores.dtype());
    }
    check_fit(rows, block, first, keys)?;
    if window == Some(0) {
        candle_core::bail!("causal_softmax: a window of 0 keys");
    }
    if scores.device().is_cpu() {
        let op = CausalSoftmax {
            block,
            first,
            scale: scale as f32,
            window: window.unwrap_or(usize::MAX),
            alibi: None,
        };
        scores.contiguous()?.apply_op1_no_bwd(&op)
    } else {
        reference(scores, block, first, scale, window)
    }
}

/// [`causal_softmax`] of f32 CPU scores with ALiBi (Bloom): group g's scores (one head
/// a group) become `x · scale + slopes[g] · (key0 + j)` for key j before the mask and
/// the softmax, the same f32 operations as scaling, then adding the `slope · position`
/// bias tensor, then `causal_softmax` with scale 1 (so the same bits), in one pass.
pub fn causal_softmax_alibi(
    scores: &Tensor,
    block: usize,
    first: usize,
    scale: f64,
    slopes: &[f32],
    key0: usize,
) -> Result<Tensor> {
    let (groups, rows, keys) = scores.dims3()?;
    if !scores.device().is_cpu() || scores.dtype() != DType::F32 || slopes.len() != groups {
        candle_core::bail!(
            "causal_softmax_alibi takes f32 CPU scores and a slope per group ({groups}), got {:?} and {}",
            scores.dtype(),
            slopes.len()
        );
    }
    check_fit(rows, block, first, keys)?;
    let op = CausalSoftmax {
        block,
        first,
        scale: scale as f32,
        window: usize::MAX,
        alibi: Some((slopes.to_vec(), key0, rows)),
    };
    scores.contiguous()?.apply_op1_no_bwd(&op)
}

/// Refuses a score shape that blocks of `block` queries from position `first` do not fit.
fn check_fit(rows: usize, block: usize, first: usize, keys: usize) -> Result<()> {
    if block == 0 || !rows.is_multiple_of(block) || first + block > keys {
        candle_core::bail!(
            "causal_softmax: {rows} rows, block {block}, first query {first}, {keys} keys do not fit"
        );
    }
    Ok(())
}

/// The same with candle ops: scale, add a `-inf` mask, softmax (any device).
pub fn reference(
    scores: &Tensor,
    block: usize,
    first: usize,
    scale: f64,
    window: Option<usize>,
) -> Result<Tensor> {
    let (groups, rows, keys) = scores.dims3()?;
    let w = window.unwrap_or(usize::MAX);
    let mask: Vec<f32> = (0..block)
        .flat_map(|i| {
            (0..keys).map(move |j| {
                if j > first + i || first + i - j >= w {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    let mask = Tensor::from_vec(mask, (block, keys), scores.device())?;
    let att = (scores * scale)?
        .reshape((groups, rows / block, block, keys))?
        .broadcast_add(&mask)?
        .reshape((groups, rows, keys))?;
    candle_nn::ops::softmax_last_dim(&att)
}

struct CausalSoftmax {
    block: usize,
    first: usize,
    scale: f32,
    /// Keys a query sees, itself included (`usize::MAX`: all before it).
    window: usize,
    /// ALiBi: a slope per group, the position of key 0, rows per group.
    alibi: Option<(Vec<f32>, usize, usize)>,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("causal-softmax needs contiguous scores");
        };
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("causal-softmax needs f32 scores");
        };
        let input = &data[start..end];
        let keys = *layout.dims().last().unwrap_or(&1);
        // Every element is written below: the row's keys by its softmax, the masked
        // ones as zeros.
        let mut out = super::fused::output(input.len());
        let row = softmax_row_fn();
        out.par_chunks_mut(keys)
            .zip(input.par_chunks(keys))
            .enumerate()
            .for_each_init(Vec::new, |biased, (r, (o, x))| {
                let seen = self.first + r % self.block + 1;
                let from = seen.saturating_sub(self.window);
                o[..from].fill(0.0);
                o[seen..].fill(0.0);
                match &self.alibi {
                    None => row(&x[from..seen], &mut o[from..seen], self.scale),
                    Some((slopes, key0, rows)) => {
                        let slope = slopes[r / rows];
                        biased.clear();
                        biased.extend(
                            (from..seen).map(|j| x[j] * self.scale + slope * (key0 + j) as f32),
                        );
                        row(biased, &mut o[from..seen], 1.0);
                    }
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// `out = softmax(x * scale)` (`x` and `out` of the same, non-zero length), compiled for
/// the widest vector unit this CPU has; chosen once per op, not per row.
fn softmax_row_fn() -> fn(&[f32], &mut [f32], f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function is compiled for.
            return |x, o, s| unsafe { softmax_row_avx512(x, o, s) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return |x, o, s| unsafe { softmax_row_avx2(x, o, s) };
        }
    }
    softmax_row_generic
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn softmax_row_avx512(x: &[f32], out: &mut [f32], scale: f32) {
    softmax_row_generic(x, out, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn softmax_row_avx2(x: &[f32], out: &mut [f32], scale: f32) {
    softmax_row_generic(x, out, scale)
}

/// Lanes of the partial sums: fixed, so the result does not depend on the vector width.
const LANES: usize = 16;

#[inline(always)]
fn softmax_row_generic(x: &[f32], out: &mut [f32], scale: f32) {
    let mut lane_max = [f32::NEG_INFINITY; LANES];
    let mut xs = x.chunks_exact(LANES);
    for xc in &mut xs {
        for l in 0..LANES {
            lane_max[l] = lane_max[l].max(xc[l] * scale);
        }
    }
    for (l, &v) in xs.remainder().iter().enumerate() {
        lane_max[l] = lane_max[l].max(v * scale);
    }
    let max = lane_max.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut acc = [0f32; LANES];
    let mut xs = x.chunks_exact(LANES);
    let mut os = out.chunks_exact_mut(LANES);
    for (xc, oc) in (&mut xs).zip(&mut os) {
        for l in 0..LANES {
            let e = exp(xc[l] * scale - max);
            oc[l] = e;
            acc[l] += e;
        }
    }
    for (l, (&v, o)) in xs.remainder().iter().zip(os.into_remainder()).enumerate() {
        let e = exp(v * scale - max);
        *o = e;
        acc[l] += e;
    }
    let sum: f32 = acc.iter().sum();
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// `(log Σ exp(row), index of the first maximum)`: the normalizer of a log-softmax over
/// a vocabulary row and its greedy token (torch's argmax tie rule). The exponentials are
/// [`exp`] in f32 (vectorized, compiled for the widest unit the CPU has), summed in f64
/// over [`LANES`] fixed partial sums, so the bits do not depend on the vector width;
/// against an all-f64 sum the result moves by about 1e-7 nats. A row whose maximum is
/// not finite (all `-inf`, or `+inf`) falls back to the plain f64 formula.
pub fn log_sum_exp_argmax(row: &[f32]) -> (f64, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { lse_avx512(row) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { lse_avx2(row) };
        }
    }
    lse_generic(row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lse_avx512(row: &[f32]) -> (f64, usize) {
    lse_generic(row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lse_avx2(row: &[f32]) -> (f64, usize) {
    lse_generic(row)
}

#[inline(always)]
fn lse_generic(row: &[f32]) -> (f64, usize) {
    let mut lane_max = [f32::NEG_INFINITY; LANES];
    let mut xs = row.chunks_exact(LANES);
    for xc in &mut xs {
        for l in 0..LANES {
            lane_max[l] = lane_max[l].max(xc[l]);
        }
    }
    for (l, &v) in xs.remainder().iter().enumerate() {
        lane_max[l] = lane_max[l].max(v);
    }
    let max = lane_max.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let argmax = row.iter().position(|&v| v == max).unwrap_or(0);
    if !max.is_finite() {
        let m = max as f64;
        let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        return (m + s.ln(), argmax);
    }
    let mut acc = [0f64; LANES];
    let mut xs = row.chunks_exact(LANES);
    for xc in &mut xs {
        for l in 0..LANES {
            acc[l] += exp(xc[l] - max) as f64;
        }
    }
    for (l, &v) in xs.remainder().iter().enumerate() {
        acc[l] += exp(v - max) as f64;
    }
    let sum: f64 = acc.iter().sum();
    (max as f64 + sum.ln(), argmax)
}

/// `e^x` for `x <= 0` (softmax arguments), Cephes `expf`: `x = n ln2 + r`, a degree-5
/// polynomial in `r`, `2^n` built in the exponent bits. Relative error about 1e-7; inputs
/// below -87.3 give 2^-126 instead of underflowing (no effect on a sum that holds 1).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.336_55, 0.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // The integer n sits in t's low mantissa bits (offset by 2^22).
    let n_int = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let two_n = f32::from_bits(((n_int + 127) << 23) as u32);
    p * two_n
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn log_sum_exp_agrees_with_the_f64_formula() {
        let mut rng = crate::random::PyRandom::new(7);
        for len in [1usize, 15, 16, 17, 1000, 49_152] {
            let row: Vec<f32> = (0..len)
                .map(|_| (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 40.0)
                .collect();
            let (lse, argmax) = log_sum_exp_argmax(&row);
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let first = row.iter().position(|&v| v == m).unwrap();
            let exact = m as f64
                + row
                    .iter()
                    .map(|&v| (v as f64 - m as f64).exp())
                    .sum::<f64>()
                    .ln();
            assert_eq!(argmax, first, "len {len}");
            assert!((lse - exact).abs() < 1e-6, "len {len}: {lse} vs {exact}");
        }
        // Ties: the first maximum; rows without a finite maximum use the f64 formula.
        assert_eq!(log_sum_exp_argmax(&[1.0, 3.0, 3.0, 2.0]).1, 1);
        let (lse, i) = log_sum_exp_argmax(&[f32::NEG_INFINITY; 3]);
        assert_eq!(i, 0);
        assert!(lse.is_nan() || lse == f64::NEG_INFINITY);
    }

    #[test]
    fn alibi_in_the_op_equals_bias_then_softmax_bit_for_bit() -> Result<()> {
        let (groups, block, keys, first) = (3, 4, 9, 5);
        let vals: Vec<f32> = (0..groups * block * keys)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.37)
            .collect();
        let scores = Tensor::from_vec(vals, (groups, block, keys), &Device::Cpu)?;
        let slopes = [0.5f32, 0.25, 0.125];
        let (scale, key0) = (0.3, 2usize);
        let got = causal_softmax_alibi(&scores, block, first, scale, &slopes, key0)?;
        let j = Tensor::arange(key0 as u32, (key0 + keys) as u32, &Device::Cpu)?
            .to_dtype(DType::F32)?
            .reshape((1, 1, keys))?;
        let bias = Tensor::new(&slopes, &Device::Cpu)?
            .reshape((groups, 1, 1))?
            .broadcast_mul(&j)?;
        let want = causal_softmax(
            &(scores * scale)?.broadcast_add(&bias)?,
            block,
            first,
            1.0,
            None,
        )?;
        assert_eq!(
            got.flatten_all()?.to_vec1::<f32>()?,
            want.flatten_all()?.to_vec1::<f32>()?
        );
        Ok(())
    }

    #[test]
    fn exp_matches_std_to_a_few_ulps() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.001_3;
        }
        assert!(worst < 4e-7, "largest relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-200.0) < 1.2e-38);
        assert!(exp(f32::NEG_INFINITY) < 1.2e-38);
    }

    #[test]
    fn cpu_op_equals_mask_then_softmax() {
        let dev = Device::Cpu;
        // 3 groups, 2 heads x block 5, 9 keys: queries at positions 4..=8.
        let (groups, heads, block, keys, first) = (3, 2, 5, 9, 4);
        let n = groups * heads * block * keys;
        let vals: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let s = Tensor::from_vec(vals, (groups, heads * block, keys), &dev).unwrap();
        let a = causal_softmax(&s, block, first, 0.125, None).unwrap();
        let b = reference(&s, block, first, 0.125, None).unwrap();
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        let mut worst = 0f32;
        for (r, (ra, rb)) in a.chunks(keys).zip(b.chunks(keys)).enumerate() {
            let seen = first + r % block + 1;
            for j in 0..keys {
                if j >= seen {
                    assert_eq!(ra[j], 0.0, "row {r} key {j} is masked");
                    assert_eq!(rb[j], 0.0);
                }
                worst = worst.max((ra[j] - rb[j]).abs());
            }
            let sum: f32 = ra.iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "row {r} sums to {sum}");
        }
        assert!(worst < 1e-6, "largest difference {worst}");
        // Rows longer than the 16 accumulators, one key more than a multiple.
        let keys = 16 * 9 + 1;
        let vals: Vec<f32> = (0..keys).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
        let s = Tensor::from_vec(vals, (1, 1, keys), &dev).unwrap();
        let a = causal_softmax(&s, 1, keys - 1, 1.0, None).unwrap();
        let b = reference(&s, 1, keys - 1, 1.0, None).unwrap();
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-7);
    }

    #[test]
    fn sliding_window_masks_keys_before_it() {
        let dev = Device::Cpu;
        // 2 heads x block 4, 11 keys, queries at positions 7..=10, window 3.
        let (heads, block, keys, first, w) = (2, 4, 11, 7, 3);
        let vals: Vec<f32> = (0..heads * block * keys)
            .map(|i| ((i * 29 % 53) as f32 - 26.0) / 5.0)
            .collect();
        let s = Tensor::from_vec(vals, (1, heads * block, keys), &dev).unwrap();
        let a = causal_softmax(&s, block, first, 0.5, Some(w)).unwrap();
        let b = reference(&s, block, first, 0.5, Some(w)).unwrap();
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        for (r, (ra, rb)) in a.chunks(keys).zip(b.chunks(keys)).enumerate() {
            let p = first + r % block;
            for j in 0..keys {
                let seen = j <= p && p - j < w;
                assert_eq!(ra[j] == 0.0, !seen, "row {r} key {j}");
                assert!((ra[j] - rb[j]).abs() < 1e-6, "row {r} key {j}");
            }
        }
    }

    #[test]
    fn bad_shapes_are_refused() {
        let s = Tensor::zeros((1, 6, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(causal_softmax(&s, 4, 0, 1.0, None).is_err()); // 6 rows, block 4
        assert!(causal_softmax(&s, 3, 2, 1.0, None).is_err()); // keys 2..=4 > 4 keys
        assert!(causal_softmax(&s, 3, 0, 1.0, Some(0)).is_err()); // an empty window
        assert!(causal_softmax(&s.to_dtype(DType::F16).unwrap(), 3, 0, 1.0, None).is_err());
    }
}
