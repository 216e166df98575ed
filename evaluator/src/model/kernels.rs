//! Which kernels multiply a model's weights: part of a run's identity, since each path
//! rounds differently. Resolved once ([`resolve`]) from the model's files, the device, the
//! dtype and `--kernels`, before the model loads; the loaders take the resolved value and
//! decide nothing themselves.
//!
//! | path | weights in memory | products | when `auto` picks it |
//! |---|---|---|---|
//! | `dense` | float tensors as stored (or cast to `--dtype`) | float GEMM | safetensors folders, GGUF files stored in a float type |
//! | `dequantized` | a float copy of every quantized GGUF weight, made once at load | float GEMM, exact products with the stored weights | GGUF on a CPU when the f32 copy fits a quarter of the available memory; always with `--dtype` |
//! | `quantized` | the stored blocks | candle's quantized kernels (activations rounded to 8 bits, like llama.cpp) | GGUF on a GPU |
//! | `quantized-dequantize-large` | the stored blocks | inputs of 32 rows or more: the weight dequantized to f32 for that product, then f32 GEMM; fewer rows: quantized kernels | GGUF on a CPU when the f32 copy does not fit |
//!
//! candle's CPU kernels for several quantized formats (Q4_1 among them) have no SIMD path
//! and run many times slower than its f32 GEMM, hence the CPU default.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::{DType, Device};

/// A kernel path (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kernels {
    Dense,
    Dequantized,
    Quantized,
    QuantizedDequantizeLarge,
}

impl Kernels {
    /// The name on the command line and in the run configuration.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Dense => "dense",
            Kernels::Dequantized => "dequantized",
            Kernels::Quantized => "quantized",
            Kernels::QuantizedDequantizeLarge => "quantized-dequantize-large",
        }
    }
}

impl std::fmt::Display for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`resolve`] needs to know of the model's files (see [`super::probe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsShape {
    /// A GGUF file (else a Hugging Face folder).
    pub gguf: bool,
    /// Some matrix is stored in a quantized type.
    pub quantized: bool,
    /// Parameters (elements of every tensor).
    pub elements: u64,
}

/// The kernel path for a model: `requested` (`--kernels`) when given and possible, else
/// the `auto` rule of the module docs. Returns the path and why it was chosen.
pub fn resolve(
    w: &WeightsShape,
    device: &Device,
    dtype: Option<DType>,
    requested: Option<Kernels>,
    available_memory: Option<u64>,
    path: &Path,
) -> Result<(Kernels, String)> {
    let f32_copy = w.elements * 4;
    if !w.gguf || !w.quantized {
        return match requested {
            None | Some(Kernels::Dense) => Ok((
                Kernels::Dense,
                "the weights are stored as floats".to_string(),
            )),
            Some(k) => bail!(
                "--kernels {k}: {} stores no quantized weights; only `dense` applies",
                path.display()
            ),
        };
    }
    if let Some(d) = dtype {
        return match requested {
            None | Some(Kernels::Dequantized) => Ok((
                Kernels::Dequantized,
                format!("--dtype {}", dtype_name(d)),
            )),
            Some(k) => bail!(
                "--kernels {k} with --dtype {}: a --dtype dequantizes every weight; drop one of the two",
                dtype_name(d)
            ),
        };
    }
    match requested {
        Some(Kernels::Dense) => bail!(
            "--kernels dense: {} stores quantized weights; use dequantized, quantized or quantized-dequantize-large",
            path.display()
        ),
        Some(k) => Ok((k, "--kernels".to_string())),
        None if !device.is_cpu() => Ok((
            Kernels::Quantized,
            "auto: quantized GGUF on a GPU".to_string(),
        )),
        None => match available_memory {
            Some(avail) if f32_copy <= avail / 4 => Ok((
                Kernels::Dequantized,
                format!(
                    "auto: the f32 copy ({}) fits a quarter of the available memory ({})",
                    gib(f32_copy),
                    gib(avail)
                ),
            )),
            avail => Ok((
                Kernels::QuantizedDequantizeLarge,
                format!(
                    "auto: the f32 copy ({}) does not fit a quarter of the available memory ({})",
                    gib(f32_copy),
                    avail.map_or("unknown".to_string(), gib)
                ),
            )),
        },
    }
}

/// `f32`, `f16` or `bf16`.
pub fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        _ => "f32",
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(elements: u64) -> WeightsShape {
        WeightsShape {
            gguf: true,
            quantized: true,
            elements,
        }
    }

    #[test]
    fn auto_follows_the_documented_rule() {
        let p = Path::new("m.gguf");
        let cpu = Device::Cpu;
        let r = |w: &WeightsShape, d, k, m| resolve(w, &cpu, d, k, m, p).map(|x| x.0);
        assert_eq!(
            r(&q(100), None, None, Some(1600)).unwrap(),
            Kernels::Dequantized
        );
        assert_eq!(
            r(&q(101), None, None, Some(1600)).unwrap(),
            Kernels::QuantizedDequantizeLarge
        );
        assert_eq!(
            r(&q(1), None, None, None).unwrap(),
            Kernels::QuantizedDequantizeLarge
        );
        assert_eq!(
            r(&q(100), None, Some(Kernels::Quantized), Some(1600)).unwrap(),
            Kernels::Quantized
        );
        assert_eq!(
            r(&q(100), Some(DType::F16), None, None).unwrap(),
            Kernels::Dequantized
        );
        assert!(r(&q(100), Some(DType::F16), Some(Kernels::Quantized), None).is_err());
        assert!(r(&q(100), None, Some(Kernels::Dense), None).is_err());
        let float = WeightsShape {
            gguf: false,
            quantized: false,
            elements: 10,
        };
        assert_eq!(r(&float, None, None, None).unwrap(), Kernels::Dense);
        assert!(r(&float, None, Some(Kernels::Quantized), None).is_err());
    }
}
