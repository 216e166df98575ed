//! Element-wise transcendental functions of the activations, vectorized for the CPU:
//! GELU (tanh and erf forms), tanh (soft-capping) and SiLU.
//!
//! candle computes these one scalar libm call at a time: on a 2048 × 1024 f32 tensor its
//! tanh-GELU took 22.6 ms on this project's 2-core machine, twice a 2048 × 1024 × 512
//! matrix product (11.1 ms), which made GELU architectures run at a third of Llama's
//! speed per parameter (`examples/arch_bench.rs`). Here each is a candle custom op over
//! contiguous f32 data, in parallel chunks, written as branch-free arithmetic the
//! compiler vectorizes (compiled for AVX-512 / AVX2 when the CPU has them, chosen once
//! per op), on top of [`super::softmax`]'s Cephes `expf` (relative error about 1e-7):
//! - `tanh(x) = sign(x) (1 − e) / (1 + e)`, `e = exp(−2|x|)`, and `x − x³/3 + 2x⁵/15` for
//!   `|x| < 0.0625` (no cancellation near 0): absolute error below 2e-7;
//! - tanh-GELU `x · σ(2u)`, `u = √(2/π)(x + 0.044715 x³)` (the same function as
//!   `0.5 x (1 + tanh u)`), σ from one `exp(−|2u|)`;
//! - erf-GELU `0.5 x (1 + erf(x/√2))` with Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7);
//! - SiLU `x · σ(x)`.
//!
//! Other dtypes and devices use candle's own ops (f16 / bf16 keep candle's rounding,
//! which is torch's). `tests` compare each with the libm formula.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::softmax::exp;

/// Which function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unary {
    GeluTanh,
    GeluErf,
    Tanh,
    Silu,
}

/// `f(x)` element-wise (see the module docs for the CPU f32 path).
pub fn apply(x: &Tensor, f: Unary) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return x.contiguous()?.apply_op1_no_bwd(&Op(f));
    }
    match f {
        Unary::GeluTanh => x.gelu(),
        Unary::GeluErf => x.gelu_erf(),
        Unary::Tanh => x.tanh(),
        Unary::Silu => candle_nn::ops::silu(x),
    }
}

struct Op(Unary);

/// Elements per parallel task.
const CHUNK: usize = 16 * 1024;

impl CustomOp1 for Op {
    fn name(&self) -> &'static str {
        match self.0 {
            Unary::GeluTanh => "fast-gelu-tanh",
            Unary::GeluErf => "fast-gelu-erf",
            Unary::Tanh => "fast-tanh",
            Unary::Silu => "fast-silu",
        }
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{} needs contiguous input", self.name());
        };
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("{} needs f32 input", self.name());
        };
        let input = &data[start..end];
        let mut out = vec![0f32; input.len()];
        let f = kernel(self.0);
        out.par_chunks_mut(CHUNK)
            .zip(input.par_chunks(CHUNK))
            .for_each(|(o, x)| f(x, o));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

pub(crate) type Kernel = fn(&[f32], &mut [f32]);

/// The widest compiled version of `f` this CPU runs.
pub(crate) fn kernel(f: Unary) -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY (all four): the CPU has the features the functions are compiled for.
            return match f {
                Unary::GeluTanh => |x, o| unsafe { avx512::gelu_tanh(x, o) },
                Unary::GeluErf => |x, o| unsafe { avx512::gelu_erf(x, o) },
                Unary::Tanh => |x, o| unsafe { avx512::tanh(x, o) },
                Unary::Silu => |x, o| unsafe { avx512::silu(x, o) },
            };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return match f {
                Unary::GeluTanh => |x, o| unsafe { avx2::gelu_tanh(x, o) },
                Unary::GeluErf => |x, o| unsafe { avx2::gelu_erf(x, o) },
                Unary::Tanh => |x, o| unsafe { avx2::tanh(x, o) },
                Unary::Silu => |x, o| unsafe { avx2::silu(x, o) },
            };
        }
    }
    match f {
        Unary::GeluTanh => generic::gelu_tanh,
        Unary::GeluErf => generic::gelu_erf,
        Unary::Tanh => generic::tanh,
        Unary::Silu => generic::silu,
    }
}

/// The scalar formulas, inlined into each compiled slice loop.
mod scalar {
    use super::exp;

    /// `1 / (1 + e^(−y))` from one `exp` of a non-positive argument.
    #[inline(always)]
    pub fn sigmoid(y: f32) -> f32 {
        let e = exp(-y.abs());
        let s = 1.0 / (1.0 + e);
        if y >= 0.0 {
            s
        } else {
            e * s
        }
    }

    #[inline(always)]
    pub fn tanh(x: f32) -> f32 {
        let a = x.abs();
        let e = exp(-2.0 * a);
        let big = (1.0 - e) / (1.0 + e);
        let a2 = a * a;
        let small = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0)));
        let t = if a < 0.0625 { small } else { big };
        t.copysign(x)
    }

    #[inline(always)]
    pub fn gelu_tanh(x: f32) -> f32 {
        const K: f32 = 0.797_884_6; // sqrt(2 / pi)
        let u = K * (x + 0.044_715 * x * x * x);
        x * sigmoid(2.0 * u)
    }

    #[inline(always)]
    pub fn erf(x: f32) -> f32 {
        // Abramowitz & Stegun 7.1.26.
        let a = x.abs();
        let t = 1.0 / (1.0 + 0.327_591_1 * a);
        let p = t
            * (0.254_829_6
                + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
        (1.0 - p * exp(-a * a)).copysign(x)
    }

    #[inline(always)]
    pub fn gelu_erf(x: f32) -> f32 {
        0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
    }

    #[inline(always)]
    pub fn silu(x: f32) -> f32 {
        x * sigmoid(x)
    }
}

macro_rules! slice_fns {
    ($($attr:meta)?) => {
        $(#[$attr])?
        pub unsafe fn gelu_tanh(x: &[f32], o: &mut [f32]) {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = crate::model::unary::scalar::gelu_tanh(x);
            }
        }
        $(#[$attr])?
        pub unsafe fn gelu_erf(x: &[f32], o: &mut [f32]) {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = crate::model::unary::scalar::gelu_erf(x);
            }
        }
        $(#[$attr])?
        pub unsafe fn tanh(x: &[f32], o: &mut [f32]) {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = crate::model::unary::scalar::tanh(x);
            }
        }
        $(#[$attr])?
        pub unsafe fn silu(x: &[f32], o: &mut [f32]) {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = crate::model::unary::scalar::silu(x);
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    slice_fns!(target_feature(enable = "avx512f"));
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    slice_fns!(target_feature(enable = "avx2,fma"));
}

mod generic {
    pub fn gelu_tanh(x: &[f32], o: &mut [f32]) {
        // SAFETY: no target features.
        unsafe { inner::gelu_tanh(x, o) }
    }
    pub fn gelu_erf(x: &[f32], o: &mut [f32]) {
        // SAFETY: as above.
        unsafe { inner::gelu_erf(x, o) }
    }
    pub fn tanh(x: &[f32], o: &mut [f32]) {
        // SAFETY: as above.
        unsafe { inner::tanh(x, o) }
    }
    pub fn silu(x: &[f32], o: &mut [f32]) {
        // SAFETY: as above.
        unsafe { inner::silu(x, o) }
    }
    mod inner {
        slice_fns!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn reference(f: Unary, x: f64) -> f64 {
        match f {
            Unary::GeluTanh => {
                0.5 * x
                    * (1.0
                        + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
            }
            Unary::GeluErf => 0.5 * x * (1.0 + libm_erf(x / std::f64::consts::SQRT_2)),
            Unary::Tanh => x.tanh(),
            Unary::Silu => x / (1.0 + (-x).exp()),
        }
    }

    /// erf in f64: its Taylor series up to |x| = 3 (terms below 1e4: no cancellation to
    /// speak of), beyond it 1 − the asymptotic series of erfc (error below 1e-8).
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let v = if a <= 3.0 {
            let (mut sum, mut term) = (0.0, a);
            for n in 0..120 {
                sum += term / (2 * n + 1) as f64;
                term *= -a * a / (n + 1) as f64;
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            let z2 = a * a;
            let series = 1.0 - 1.0 / (2.0 * z2) + 3.0 / (4.0 * z2 * z2) - 15.0 / (8.0 * z2.powi(3))
                + 105.0 / (16.0 * z2.powi(4));
            1.0 - (-z2).exp() / (a * std::f64::consts::PI.sqrt()) * series
        };
        v.copysign(x)
    }

    #[test]
    fn each_function_is_within_a_few_1e_7_of_the_formula() {
        let xs: Vec<f32> = (-200_000..=200_000).map(|i| i as f32 * 6e-5).collect();
        let n = xs.len();
        let t = Tensor::from_vec(xs.clone(), n, &Device::Cpu).unwrap();
        for f in [Unary::GeluTanh, Unary::GeluErf, Unary::Tanh, Unary::Silu] {
            let got: Vec<f32> = apply(&t, f).unwrap().to_vec1().unwrap();
            let mut worst = 0f64;
            for (&x, &g) in xs.iter().zip(&got) {
                let want = reference(f, x as f64);
                // Absolute error, relative to the size of the value past 1.
                let err = (g as f64 - want).abs() / want.abs().max(1.0);
                worst = worst.max(err);
            }
            assert!(worst < 6e-7, "{f:?}: largest error {worst}");
        }
        // Far tails and zero.
        let t = Tensor::new(&[-100f32, -20.0, 0.0, 20.0, 100.0], &Device::Cpu).unwrap();
        let g: Vec<f32> = apply(&t, Unary::GeluTanh).unwrap().to_vec1().unwrap();
        assert!(g[0].abs() < 1e-30 && g[1].abs() < 1e-30, "{g:?}");
        assert_eq!(&g[2..], &[0.0, 20.0, 100.0]);
        let g: Vec<f32> = apply(&t, Unary::Tanh).unwrap().to_vec1().unwrap();
        assert_eq!(g, vec![-1.0, -1.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn half_precision_uses_candle_s_ops() {
        let t = Tensor::new(&[-1.5f32, 0.25, 2.0], &Device::Cpu)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        let a = apply(&t, Unary::GeluTanh).unwrap();
        let b = t.gelu().unwrap();
        assert_eq!(
            a.to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap(),
            b.to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap()
        );
    }
}
