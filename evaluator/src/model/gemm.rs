//! Dense f32 products with a layer's weight on the CPU, and the layout weights are kept
//! in for them.
//!
//! The gemm crate (candle's CPU matmul) computes `y = x·Wᵀ` as `yᵀ = W·xᵀ`, its
//! microkernel walking down 48 outputs at a time, one input feature after the other. A
//! weight stored as files hold it (`[out, in]`, row-major) is not in that order, so each
//! call first copies ("packs") the whole weight into it: for SmolLM2-135M 0.5 GB of
//! memory traffic per forward whatever the batch's size, most of the time of a forward
//! of a few tokens, and 5–25% of a large one's. [`for_gemm`] stores each weight once in
//! the kernel's order (`[in, out]` contiguous, seen as the same `[out, in]` tensor
//! through a transposed view), so no product packs it: at the model's shapes the
//! products run at 205–210 GFLOP/s instead of 150–205 (`examples/cpu_profile.rs`).
//! Same kernel, same order of additions over the input features: the same bits.
//!
//! [`linear`] calls gemm itself, with the strides of whatever views it is given (a
//! column block of a stacked weight reads in place), into an output it does not
//! zero-fill first (candle's matmul does: for the output layer of a 512-row block that
//! is 100 MB written twice).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::fused::{fast, output};

/// The weight `w` (`[out, in]`, f32 on the CPU, contiguous) as a view of a `[in, out]`
/// contiguous copy: what [`linear`] multiplies without packing. Anything else is
/// returned as it is.
pub fn for_gemm(w: &Tensor) -> Result<Tensor> {
    if !(fast(w) && w.rank() == 2 && w.is_contiguous()) {
        return Ok(w.clone());
    }
    w.apply_op1_no_bwd(&Transpose)?.t()
}

/// `x · wᵀ` for `x` `[rows, in]` and `w` `[out, in]`, or batch by batch for `x`
/// `[batch, rows, in]` and `w` `[batch, out, in]` (attention scores: queries times
/// keys), f32 on the CPU, any strides; None for other inputs (the caller takes candle's
/// path, which makes the same gemm calls after zero-filling the output).
pub fn linear(x: &Tensor, w: &Tensor) -> Result<Option<Tensor>> {
    if !(fast(x) && fast(w) && x.rank() == w.rank() && matches!(x.rank(), 2 | 3)) {
        return Ok(None);
    }
    x.apply_op2_no_bwd(w, &Linear { max_cols: MAX_COLS })
        .map(Some)
}

/// Rows `ids` (u32 `[n]`) of `table` (`[vocab, hidden]`): candle's `embedding` for a
/// contiguous table; for an f32 CPU table in the GEMM's order (a tied output layer's
/// [`for_gemm`] copy, which then serves as the embedding too, so the weight is not
/// stored twice) a gather over its strides. Exact values either way.
pub fn embedding(table: &Tensor, ids: &Tensor) -> Result<Tensor> {
    if table.is_contiguous() || !fast(table) || table.rank() != 2 {
        return table.embedding(ids);
    }
    ids.apply_op2_no_bwd(table, &Gather)
}

/// Rows of the transposed copy per parallel task.
const TILE: usize = 64;

struct Transpose;

impl CustomOp1 for Transpose {
    fn name(&self) -> &'static str {
        "gemm-layout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, cols) = l.shape().dims2()?;
        let (CpuStorage::F32(d), Some((a, b))) = (s, l.contiguous_offsets()) else {
            candle_core::bail!("gemm-layout needs a contiguous f32 matrix");
        };
        let src = &d[a..b];
        let mut out = output(rows * cols);
        huge_pages(&mut out);
        if rows > 0 {
            // Output row c (input column c), TILE of them per task.
            out.par_chunks_mut(TILE * rows)
                .enumerate()
                .for_each(|(t, o)| {
                    let c0 = t * TILE;
                    let nc = o.len() / rows;
                    // Blocks of 16 input rows (their TILE columns: 4 KB, in L1):
                    // each output row gets 16 consecutive values (a cache line) at once.
                    for r0 in (0..rows).step_by(16) {
                        let rb = (rows - r0).min(16);
                        let block = &src[r0 * cols..(r0 + rb) * cols];
                        for c in 0..nc {
                            let dst = &mut o[c * rows + r0..c * rows + r0 + rb];
                            for (d, row) in dst.iter_mut().zip(block.chunks_exact(cols)) {
                                *d = row[c0 + c];
                            }
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((cols, rows))))
    }
}

/// Outputs per GEMM call: a wider weight (an output layer) is multiplied in column
/// blocks of at most this many, evenly split, which runs at the narrower layers' speed
/// (at 49,152 outputs one call ran at 150–165 GFLOP/s, blocks of 6,144–12,288 at
/// 195–205, on the test machine). Each output element is still one kernel's sum over
/// the inputs in order: the same bits whatever the split.
const MAX_COLS: usize = 8192;

/// `(first, count)` of each column block of `n` outputs, blocks of at most `max` evenly
/// split (multiples of 48, the kernel's height, except the last).
fn column_blocks(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let per = n.div_ceil(n.div_ceil(max.max(1))).next_multiple_of(48);
    (0..n).step_by(per).map(move |c0| (c0, per.min(n - c0)))
}

struct Linear {
    max_cols: usize,
}

impl CustomOp2 for Linear {
    fn name(&self) -> &'static str {
        "gemm-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        // [batch,] rows, features: a 2-d operand is one batch.
        let split = |l: &Layout| -> Result<(usize, usize, usize, usize, [usize; 2])> {
            match (l.dims(), l.stride()) {
                (&[r, c], &[sr, sc]) => Ok((1, r, c, 0, [sr, sc])),
                (&[b, r, c], &[sb, sr, sc]) => Ok((b, r, c, sb, [sr, sc])),
                (d, _) => candle_core::bail!("linear: a {}-d operand", d.len()),
            }
        };
        let (b, m, k, xb, xs) = split(l1)?;
        let (b2, n, k2, wb, ws) = split(l2)?;
        if k != k2 || b != b2 || l1.dims().len() != l2.dims().len() {
            candle_core::bail!("linear: {:?} · {:?}ᵀ", l1.dims(), l2.dims());
        }
        let (CpuStorage::F32(x), CpuStorage::F32(w)) = (s1, s2) else {
            candle_core::bail!("linear needs f32 inputs");
        };
        // gemm takes raw pointers.
        check_in_buffer(l1, x.len(), "linear: input")?;
        check_in_buffer(l2, w.len(), "linear: weight")?;
        let mut out = output(b * m * n);
        let shape = if l1.dims().len() == 2 {
            Shape::from((m, n))
        } else {
            Shape::from((b, m, n))
        };
        if b == 0 || m == 0 || n == 0 || k == 0 {
            out.fill(0.0);
            return Ok((CpuStorage::F32(out), shape));
        }
        let threads = rayon::current_num_threads();
        let parallelism = if threads > 1 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        for (bi, (c0, c)) in
            (0..b).flat_map(|bi| column_blocks(n, self.max_cols).map(move |cb| (bi, cb)))
        {
            let x = &x[l1.start_offset() + bi * xb..];
            let w = &w[l2.start_offset() + bi * wb..];
            let out = &mut out[bi * m * n..];
            // SAFETY: the pointers and strides describe batch bi of the two views
            // (checked to lie in their buffers above; columns c0..c0 + c of the weight's
            // view) and columns c0..c0 + c of batch bi's m×n row-major output; read_dst
            // is false, so gemm writes every element of that block without reading it.
            unsafe {
                gemm::gemm(
                    m,
                    c,
                    k,
                    out.as_mut_ptr().add(c0),
                    1,
                    n as isize,
                    false,
                    x.as_ptr(),
                    xs[1] as isize,
                    xs[0] as isize,
                    // rhs[k_i, n_j] = w[n_j, k_i]
                    w.as_ptr().add(c0 * ws[0]),
                    ws[0] as isize,
                    ws[1] as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                )
            };
        }
        Ok((CpuStorage::F32(out), shape))
    }
}

struct Gather;

impl CustomOp2 for Gather {
    fn name(&self) -> &'static str {
        "gemm-gather"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::U32(ids), Some((a, b)), CpuStorage::F32(t)) =
            (s1, l1.contiguous_offsets(), s2)
        else {
            candle_core::bail!("gather: u32 contiguous ids and an f32 table");
        };
        let ids = &ids[a..b];
        let (vocab, hidden) = l2.shape().dims2()?;
        let (rs, cs) = (l2.stride()[0], l2.stride()[1]);
        check_in_buffer(l2, t.len(), "gather: table")?;
        let t = &t[l2.start_offset()..];
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= vocab) {
            candle_core::bail!("gather: id {bad} outside a table of {vocab} rows");
        }
        let mut out = output(ids.len() * hidden);
        if hidden > 0 {
            out.par_chunks_mut(TILE * hidden)
                .zip(ids.par_chunks(TILE))
                .for_each(|(o, ids)| {
                    for (row, &id) in o.chunks_exact_mut(hidden).zip(ids) {
                        let base = id as usize * rs;
                        for (h, v) in row.iter_mut().enumerate() {
                            *v = t[base + h * cs];
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((ids.len(), hidden))))
    }
}

/// Refuses a view `l` whose last element lies outside a buffer of `len` elements.
fn check_in_buffer(l: &Layout, len: usize, what: &str) -> Result<()> {
    let dims = l.dims();
    let last = l.start_offset()
        + dims
            .iter()
            .zip(l.stride())
            .map(|(d, s)| (d.max(&1) - 1) * s)
            .sum::<usize>();
    if dims.iter().all(|&d| d > 0) && last >= len {
        candle_core::bail!("{what} view out of its buffer");
    }
    Ok(())
}

/// Asks the kernel to back `v` with 2 MiB pages where it can (Linux, transparent huge
/// pages in `madvise` mode or `always`): the kernel reads a weight one input feature
/// after another, each a row of the `[in, out]` copy, so with 4 KiB pages a wide
/// weight (the output layer: 196 KB a row) costs a TLB miss per feature. Call before
/// the first write; a no-op elsewhere or when refused.
fn huge_pages(v: &mut [f32]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(v);
        let (a, b) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if b > a {
            // SAFETY: [a, b) lies inside v's allocation; MADV_HUGEPAGE changes how the
            // range is backed, not its contents (none written yet).
            unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn bits(t: Tensor) -> Result<Vec<u32>> {
        Ok(t.flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .map(|f| f.to_bits())
            .collect())
    }

    #[test]
    fn same_bits_as_candle_in_either_layout() -> Result<()> {
        let d = Device::Cpu;
        for (m, k, n) in [(7, 576, 960), (70, 1536, 576), (300, 96, 2000)] {
            let x = Tensor::randn(0f32, 1., (m, k), &d)?;
            let w = Tensor::randn(0f32, 1., (n, k), &d)?;
            let want = bits(x.matmul(&w.t()?)?)?;
            let wt = for_gemm(&w)?;
            assert_eq!(wt.dims(), w.dims());
            assert!(!wt.is_contiguous() && wt.t()?.is_contiguous());
            assert_eq!(wt.to_vec2::<f32>()?, w.to_vec2::<f32>()?);
            for w in [&w, &wt] {
                assert_eq!(bits(linear(&x, w)?.unwrap())?, want, "{m}x{k}x{n}");
            }
            // Any two rows of a batch alone: the same bits (one row alone goes to gemm's
            // vector kernel, in either layout).
            let two = linear(&x.narrow(0, 3, 2)?, &wt)?.unwrap();
            assert_eq!(bits(two)?, want[3 * n..5 * n], "two rows of {m}x{k}x{n}");
        }
        Ok(())
    }

    #[test]
    fn wide_outputs_in_column_blocks_give_the_same_bits() -> Result<()> {
        let b: Vec<_> = column_blocks(49152, MAX_COLS).collect();
        assert_eq!(b.len(), 6);
        assert!(b
            .windows(2)
            .all(|p| p[0].0 + p[0].1 == p[1].0 && p[0].1 % 48 == 0));
        assert_eq!(b[5].0 + b[5].1, 49152);
        assert_eq!(column_blocks(100, 8192).collect::<Vec<_>>(), [(0, 100)]);
        assert_eq!(
            column_blocks(100, 60).collect::<Vec<_>>(),
            [(0, 96), (96, 4)]
        );
        let d = Device::Cpu;
        let x = Tensor::randn(0f32, 1., (37, 576), &d)?;
        let w = for_gemm(&Tensor::randn(0f32, 1., (1000, 576), &d)?)?;
        let whole = x.apply_op2_no_bwd(&w, &Linear { max_cols: 1000 })?;
        let blocks = x.apply_op2_no_bwd(&w, &Linear { max_cols: 150 })?;
        assert_eq!(bits(whole)?, bits(blocks)?);
        Ok(())
    }

    #[test]
    fn embedding_rows_of_a_gemm_ordered_table_are_exact() -> Result<()> {
        let d = Device::Cpu;
        let w = Tensor::randn(0f32, 1., (1000, 72), &d)?;
        let ids = Tensor::new(&[0u32, 999, 5, 5, 731, 64, 65, 1, 2, 3][..], &d)?;
        let want = w.embedding(&ids)?.to_vec2::<f32>()?;
        let wg = for_gemm(&w)?;
        assert_eq!(embedding(&wg, &ids)?.to_vec2::<f32>()?, want);
        assert_eq!(embedding(&w, &ids)?.to_vec2::<f32>()?, want);
        let bad = Tensor::new(&[3u32, 1000][..], &d)?;
        assert!(embedding(&wg, &bad).is_err());
        Ok(())
    }

    #[test]
    fn batched_products_equal_candle_s() -> Result<()> {
        let d = Device::Cpu;
        // Queries [groups, rows, hd] times a key cache view [groups, keys, hd] (room
        // beyond the keys, as a cache buffer has).
        let q = Tensor::randn(0f32, 1., (3, 384, 64), &d)?;
        let cache = Tensor::randn(0f32, 1., (3, 900, 64), &d)?;
        let k = cache.narrow(1, 100, 700)?;
        let want = bits(q.matmul(&k.t()?)?)?;
        let got = linear(&q, &k)?.unwrap();
        assert_eq!(got.dims(), [3, 384, 700]);
        assert_eq!(bits(got)?, want);
        Ok(())
    }

    #[test]
    fn column_blocks_of_a_stacked_weight_read_in_place() -> Result<()> {
        let d = Device::Cpu;
        let x = Tensor::randn(0f32, 1., (33, 80), &d)?;
        let w = Tensor::randn(0f32, 1., (200, 80), &d)?;
        let wt = for_gemm(&w)?;
        let part = wt.narrow(0, 120, 50)?;
        let want = x.matmul(&w.narrow(0, 120, 50)?.t()?)?.to_vec2::<f32>()?;
        assert_eq!(linear(&x, &part)?.unwrap().to_vec2::<f32>()?, want);
        // A row-strided input (a column block of a wider activation).
        let wide = Tensor::randn(0f32, 1., (33, 100), &d)?;
        let xv = wide.narrow(1, 10, 80)?;
        let want = xv.contiguous()?.matmul(&w.t()?)?.to_vec2::<f32>()?;
        assert_eq!(linear(&xv, &wt)?.unwrap().to_vec2::<f32>()?, want);
        Ok(())
    }
}
