//! Loading a Llama-family model from a GGUF file (`llama` and `qwen2` metadata, quantized weights).
//!
//! Metadata read (`<a>` = `general.architecture`): `<a>.embedding_length`,
//! `<a>.feed_forward_length`, `<a>.block_count`, `<a>.attention.head_count`,
//! `<a>.attention.head_count_kv` (default: head_count), `<a>.attention.key_length`
//! (default: embedding_length / head_count), `<a>.attention.layer_norm_rms_epsilon`,
//! `<a>.rope.freq_base` (default 10000), `<a>.rope.scaling.type` / `.factor` (linear),
//! `<a>.context_length` (the max_length), `tokenizer.ggml.bos_token_id` / `eos_token_id`.
//! Tensors: `token_embd`, `blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
//! ffn_gate, ffn_up, ffn_down}.weight` (+ `attn_{q,k,v}.bias` for qwen2), `output_norm`,
//! `output` (absent when tied to `token_embd`), optional `rope_freqs` (Llama 3 scaling).
//!
//! `llama` GGUF files hold q/k rows permuted for interleaved rotary pairs (llama.cpp's
//! conversion), so they run with [`RopeStyle::Interleaved`]; `qwen2` uses the HF layout.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Tensor};
use leaderboard_format::schema::Precision;

use super::candle_msg;
use super::kernels::{Kernels, WeightsShape};
use super::llama::{
    check_shape, inv_freq, Layer, Linear, Llama, LlamaConfig, Mlp, RopeScaling, RopeStyle, Weights,
};
use super::{precision_of_dtype, weights_sha256, ModelInfo, SUPPORTED_GGUF_ARCHITECTURES};

/// An open GGUF file: its parsed header and a reader for tensor data.
pub struct GgufFile {
    pub path: std::path::PathBuf,
    pub content: Content,
    reader: BufReader<File>,
}

impl GgufFile {
    /// Opens and parses the header; a truncated or corrupt file is an error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        let f =
            File::open(path).with_context(|| format!("opening GGUF file {}", path.display()))?;
        let mut reader = BufReader::new(f);
        let content = Content::read(&mut reader).map_err(|e| {
            anyhow!(
                "{}: not a readable GGUF file: {}",
                path.display(),
                candle_msg(&e)
            )
        })?;
        let file_len = std::fs::metadata(path)?.len();
        // Every tensor's data must lie inside the file (a truncated download otherwise
        // fails late, or reads garbage).
        for (name, ti) in &content.tensor_infos {
            let n = ti.shape.elem_count();
            let bs = ti.ggml_dtype.block_size();
            let bytes = (n / bs * ti.ggml_dtype.type_size()) as u64;
            let end = content.tensor_data_offset + ti.offset + bytes;
            if end > file_len {
                bail!(
                    "{}: truncated GGUF file: tensor {name} needs bytes up to {end}, the file has {file_len}",
                    path.display()
                );
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            content,
            reader,
        })
    }

    /// A metadata value, or an error naming the key and file.
    pub fn meta(&self, key: &str) -> Result<&Value> {
        self.content.metadata.get(key).ok_or_else(|| {
            anyhow!(
                "{}: GGUF metadata key {key} is missing",
                self.path.display()
            )
        })
    }

    pub fn meta_u32(&self, key: &str) -> Result<u32> {
        let v = self.meta(key)?;
        value_u64(v).map(|x| x as u32).ok_or_else(|| {
            anyhow!(
                "{}: GGUF metadata {key} is {v:?}, expected an integer",
                self.path.display()
            )
        })
    }

    pub fn meta_opt_u32(&self, key: &str) -> Result<Option<u32>> {
        match self.content.metadata.get(key) {
            None => Ok(None),
            Some(_) => self.meta_u32(key).map(Some),
        }
    }

    pub fn meta_f32(&self, key: &str) -> Result<f32> {
        match self.meta(key)? {
            Value::F32(x) => Ok(*x),
            Value::F64(x) => Ok(*x as f32),
            v => value_u64(v).map(|x| x as f32).ok_or_else(|| {
                anyhow!(
                    "{}: GGUF metadata {key} is {v:?}, expected a number",
                    self.path.display()
                )
            }),
        }
    }

    pub fn meta_str(&self, key: &str) -> Result<&str> {
        match self.meta(key)? {
            Value::String(s) => Ok(s),
            v => bail!(
                "{}: GGUF metadata {key} is {v:?}, expected a string",
                self.path.display()
            ),
        }
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Reads one tensor (quantized as stored) onto `device`.
    pub fn tensor(&mut self, name: &str, device: &Device) -> Result<QTensor> {
        if !self.has_tensor(name) {
            bail!("{}: GGUF tensor {name} is missing", self.path.display());
        }
        self.content
            .tensor(&mut self.reader, name, device)
            .map_err(|e| {
                anyhow!(
                    "{}: reading GGUF tensor {name}: {}",
                    self.path.display(),
                    candle_msg(&e)
                )
            })
    }
}

fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::U8(x) => Some(*x as u64),
        Value::I8(x) => u64::try_from(*x).ok(),
        Value::U16(x) => Some(*x as u64),
        Value::I16(x) => u64::try_from(*x).ok(),
        Value::U32(x) => Some(*x as u64),
        Value::I32(x) => u64::try_from(*x).ok(),
        Value::U64(x) => Some(*x),
        Value::I64(x) => u64::try_from(*x).ok(),
        _ => None,
    }
}

/// The shape and token metadata of a `llama` / `qwen2` GGUF file.
#[derive(Debug, Clone)]
pub struct GgufHparams {
    pub arch: String,
    pub cfg: LlamaConfig,
    pub rope_theta: f32,
    pub context_length: usize,
    pub bos_token_id: Option<u32>,
    pub eos_token_id: Option<u32>,
    pub tied_embeddings: bool,
    pub has_qkv_bias: bool,
}

/// `general.architecture`, refused unless it is one of the supported ones (the message
/// lists them).
pub fn architecture(g: &GgufFile) -> Result<String> {
    let arch = g.meta_str("general.architecture")?.to_string();
    if !SUPPORTED_GGUF_ARCHITECTURES.contains(&arch.as_str()) {
        bail!(
            "{}: GGUF architecture {arch:?} is not supported (supported: {})",
            g.path.display(),
            SUPPORTED_GGUF_ARCHITECTURES.join(", ")
        );
    }
    Ok(arch)
}

/// Reads the hyper-parameters of a `llama` / `qwen2` file; other architectures fail
/// listing the supported ones.
pub fn hparams(g: &GgufFile) -> Result<GgufHparams> {
    let arch = architecture(g)?;
    if arch != "llama" && arch != "qwen2" {
        bail!(
            "{}: GGUF architecture {arch:?} is not of the Llama family",
            g.path.display()
        );
    }
    let k = |s: &str| format!("{arch}.{s}");
    let hidden = g.meta_u32(&k("embedding_length"))? as usize;
    let n_heads = g.meta_u32(&k("attention.head_count"))? as usize;
    let n_kv_heads = g
        .meta_opt_u32(&k("attention.head_count_kv"))?
        .map_or(n_heads, |x| x as usize);
    let head_dim = g
        .meta_opt_u32(&k("attention.key_length"))?
        .map_or(hidden / n_heads.max(1), |x| x as usize);
    let rope_theta = if g.content.metadata.contains_key(&k("rope.freq_base")) {
        g.meta_f32(&k("rope.freq_base"))?
    } else {
        10000.0
    };
    let scaling = match g.content.metadata.get(&k("rope.scaling.type")) {
        Some(Value::String(t)) if t == "linear" => RopeScaling::Linear {
            factor: g.meta_f32(&k("rope.scaling.factor"))?,
        },
        Some(Value::String(t)) if t == "none" => RopeScaling::None,
        Some(v) => bail!(
            "{}: GGUF rope scaling {v:?} is not supported (supported: none, linear, Llama 3 rope_freqs)",
            g.path.display()
        ),
        None => RopeScaling::None,
    };
    let mut freqs = inv_freq(head_dim, rope_theta, &scaling);
    if g.has_tensor("rope_freqs.weight") {
        // Llama 3.1 scaling, stored by llama.cpp as per-frequency divisors.
        let f = g
            .content
            .tensor_infos
            .get("rope_freqs.weight")
            .map(|t| t.shape.elem_count())
            .unwrap_or(0);
        if f != freqs.len() {
            bail!(
                "{}: rope_freqs.weight has {f} values, expected {}",
                g.path.display(),
                freqs.len()
            );
        }
    }
    let vocab_size = match g.content.tensor_infos.get("token_embd.weight") {
        Some(t) => t.shape.dims()[0],
        None => bail!(
            "{}: GGUF tensor token_embd.weight is missing",
            g.path.display()
        ),
    };
    let tied = !g.has_tensor("output.weight");
    let has_qkv_bias = g.has_tensor("blk.0.attn_q.bias");
    let rope_style = if arch == "qwen2" {
        RopeStyle::Half
    } else {
        RopeStyle::Interleaved
    };
    // Scaling divisors are applied by the caller once the tensor is read.
    freqs.shrink_to_fit();
    let cfg = LlamaConfig {
        hidden_size: hidden,
        intermediate_size: g.meta_u32(&k("feed_forward_length"))? as usize,
        n_layers: g.meta_u32(&k("block_count"))? as usize,
        n_heads,
        n_kv_heads,
        head_dim,
        rms_norm_eps: g.meta_f32(&k("attention.layer_norm_rms_epsilon"))? as f64,
        inv_freq: freqs,
        rope_style,
        sliding_window: None,
        vocab_size,
    };
    Ok(GgufHparams {
        context_length: g.meta_u32(&k("context_length"))? as usize,
        bos_token_id: g.meta_opt_u32("tokenizer.ggml.bos_token_id")?,
        eos_token_id: g.meta_opt_u32("tokenizer.ggml.eos_token_id")?,
        arch,
        cfg,
        rope_theta,
        tied_embeddings: tied,
        has_qkv_bias,
    })
}

/// The storage of a GGUF file's tensors and the leaderboard precision it is recorded as.
///
/// The detail lists the tensor types by falling parameter count and the mean bits per
/// weight actually stored, e.g. `Q4_1,Q8_0,F32 (4.53 bits/weight)`. **The rule**: a file
/// whose tensors are all float types is recorded as the type holding most parameters
/// (`float32`, `float16`, `bfloat16`); any other file by its mean stored bits per weight
/// (block scales included, over every tensor), as the nearer of v1's two quantized labels:
/// below 6 bits `4bit`, else `8bit`. So Q2_K…Q5_K_M files are `4bit`, Q6_K and Q8_0 `8bit`,
/// whichever type holds the most parameters (a Q4_K_M file keeps some matrices in Q5_0 or
/// Q6_K).
pub fn precision(g: &GgufFile) -> (Precision, String) {
    let tensors: Vec<(GgmlDType, u64)> = g
        .content
        .tensor_infos
        .values()
        .map(|t| (t.ggml_dtype, t.shape.elem_count() as u64))
        .collect();
    precision_of(&tensors)
}

/// [`precision`] of tensors given as (type, parameter count).
pub fn precision_of(tensors: &[(GgmlDType, u64)]) -> (Precision, String) {
    let mut by_type: HashMap<String, (u64, GgmlDType)> = HashMap::new();
    let (mut elements, mut bits) = (0u64, 0f64);
    for &(t, n) in tensors {
        let e = by_type.entry(format!("{t:?}")).or_insert((0, t));
        e.0 += n;
        elements += n;
        bits += n as f64 * bits_per_weight(t);
    }
    let mut types: Vec<(String, u64, GgmlDType)> =
        by_type.into_iter().map(|(k, (n, t))| (k, n, t)).collect();
    types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mean_bits = bits / elements.max(1) as f64;
    let detail = format!(
        "{} ({mean_bits:.2} bits/weight)",
        types
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let is_float = |t: GgmlDType| matches!(t, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16);
    let precision = if types.iter().all(|t| is_float(t.2)) {
        match types.first().map(|t| t.2) {
            Some(GgmlDType::F16) => Precision::Float16,
            Some(GgmlDType::BF16) => Precision::BFloat16,
            _ => Precision::Float32,
        }
    } else if mean_bits < 6.0 {
        Precision::Int4
    } else {
        Precision::Int8
    };
    (precision, detail)
}

/// Stored bits per weight of a GGUF tensor type (block scales included).
fn bits_per_weight(t: GgmlDType) -> f64 {
    t.type_size() as f64 * 8.0 / t.block_size() as f64
}

/// What [`super::kernels::resolve`] needs to know of a GGUF file.
pub fn weights_shape(g: &GgufFile) -> WeightsShape {
    let infos = g.content.tensor_infos.values();
    WeightsShape {
        gguf: true,
        quantized: infos.clone().any(|t| {
            !matches!(
                t.ggml_dtype,
                GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16
            )
        }),
        elements: infos.map(|t| t.shape.elem_count() as u64).sum(),
    }
}

/// Loads a GGUF model with the given kernel path (see [`super::kernels`]; resolve it with
/// [`super::kernels::resolve`]). `dtype`: the activation dtype, and with
/// [`Kernels::Dequantized`] the dtype every weight is dequantized to (default f32); a
/// `dtype` records precision `dtype`, else the quantized precision is recorded (the model
/// is the quantized one; only the products are exact in f32).
pub fn load(path: &Path, device: &Device, dtype: Option<DType>, kernels: Kernels) -> Result<Llama> {
    let mut g = GgufFile::open(path)?;
    let weights_dtype = weights_dtype(kernels, dtype);
    let hp = hparams(&g)?;
    let mut cfg = hp.cfg.clone();
    let act = dtype.unwrap_or(DType::F32);
    let (precision, precision_detail) = recorded_precision(&g, dtype);
    if g.has_tensor("rope_freqs.weight") {
        let f: Vec<f32> = g
            .tensor("rope_freqs.weight", &Device::Cpu)?
            .dequantize(&Device::Cpu)?
            .flatten_all()?
            .to_vec1()?;
        for (x, d) in cfg.inv_freq.iter_mut().zip(f) {
            *x /= d;
        }
    }
    let (h, hd, nh, nkv, ff) = (
        cfg.hidden_size,
        cfg.head_dim,
        cfg.n_heads,
        cfg.n_kv_heads,
        cfg.intermediate_size,
    );
    let mut params = 0u64;
    let mut mat = |g: &mut GgufFile, name: &str, shape: &[usize]| -> Result<QMatMul> {
        let t = g.tensor(name, device)?;
        check_shape(name, t.shape().dims(), shape)
            .map_err(|e| anyhow!("{}: {}", path.display(), candle_msg(&e)))?;
        params += super::llama::numel(shape);
        to_matmul(t, weights_dtype, name, path)
    };
    let embed_q = Arc::new(g.tensor("token_embd.weight", device)?);
    check_shape(
        "token_embd.weight",
        embed_q.shape().dims(),
        &[cfg.vocab_size, h],
    )?;
    let embed = to_matmul_arc(embed_q.clone(), weights_dtype, "token_embd.weight", path)?;
    let mut layers = Vec::with_capacity(cfg.n_layers);
    for i in 0..cfg.n_layers {
        let p = |s: &str| format!("blk.{i}.{s}");
        let bias = |g: &mut GgufFile, name: &str, n: usize| -> Result<Option<Tensor>> {
            if !hp.has_qkv_bias {
                return Ok(None);
            }
            let t = g.tensor(name, device)?.dequantize(device)?;
            check_shape(name, t.dims(), &[n])?;
            Ok(Some(t))
        };
        let q = Linear {
            weight: mat(&mut g, &p("attn_q.weight"), &[nh * hd, h])?,
            bias: bias(&mut g, &p("attn_q.bias"), nh * hd)?,
        };
        let k = Linear {
            weight: mat(&mut g, &p("attn_k.weight"), &[nkv * hd, h])?,
            bias: bias(&mut g, &p("attn_k.bias"), nkv * hd)?,
        };
        let v = Linear {
            weight: mat(&mut g, &p("attn_v.weight"), &[nkv * hd, h])?,
            bias: bias(&mut g, &p("attn_v.bias"), nkv * hd)?,
        };
        let o = Linear {
            weight: mat(&mut g, &p("attn_output.weight"), &[h, nh * hd])?,
            bias: None,
        };
        let gate = Linear {
            weight: mat(&mut g, &p("ffn_gate.weight"), &[ff, h])?,
            bias: None,
        };
        let up = Linear {
            weight: mat(&mut g, &p("ffn_up.weight"), &[ff, h])?,
            bias: None,
        };
        let down = Linear {
            weight: mat(&mut g, &p("ffn_down.weight"), &[h, ff])?,
            bias: None,
        };
        let attn_norm = g
            .tensor(&p("attn_norm.weight"), device)?
            .dequantize(device)?;
        let ffn_norm = g
            .tensor(&p("ffn_norm.weight"), device)?
            .dequantize(device)?;
        check_shape(&p("attn_norm.weight"), attn_norm.dims(), &[h])?;
        check_shape(&p("ffn_norm.weight"), ffn_norm.dims(), &[h])?;
        layers.push(Layer {
            attn_norm,
            q,
            k,
            v,
            o,
            ffn_norm,
            mlp: Mlp::Dense { gate, up, down },
        });
    }
    let norm = g.tensor("output_norm.weight", device)?.dequantize(device)?;
    check_shape("output_norm.weight", norm.dims(), &[h])?;
    let lm_head = if hp.tied_embeddings {
        Linear {
            weight: embed.clone(),
            bias: None,
        }
    } else {
        Linear {
            weight: mat(&mut g, "output.weight", &[cfg.vocab_size, h])?,
            bias: None,
        }
    };
    // Norms, biases and the embedding count too.
    params +=
        super::llama::numel(&[cfg.vocab_size, h]) + (h as u64) * (2 * cfg.n_layers as u64 + 1);
    if hp.has_qkv_bias {
        params += ((nh + 2 * nkv) * hd * cfg.n_layers) as u64;
    }
    cfg.sliding_window = None;
    let info = ModelInfo {
        architecture: hp.arch.clone(),
        vocab_size: cfg.vocab_size,
        max_length: hp.context_length,
        bos_token_id: hp.bos_token_id,
        eos_token_ids: hp.eos_token_id.into_iter().collect(),
        precision,
        precision_detail: Some(precision_detail),
        params,
        weights_sha256: weights_sha256(&[path.to_path_buf()])?,
        source_path: path.to_path_buf(),
    };
    let w = Weights {
        embed,
        layers,
        norm,
        lm_head,
    };
    let mut m = Llama::new(cfg, w, act, device.clone(), info)
        .map_err(|e| anyhow!("{}: {}", path.display(), candle_msg(&e)))?;
    m.set_dequantize_large(kernels == Kernels::QuantizedDequantizeLarge);
    Ok(m)
}

pub(crate) fn to_matmul(
    t: QTensor,
    dtype: Option<DType>,
    name: &str,
    path: &Path,
) -> Result<QMatMul> {
    to_matmul_arc(Arc::new(t), dtype, name, path)
}

/// Quantized weights stay quantized (`dtype` None) unless stored as a float type; with
/// `Some(d)` they are dequantized to f32 and cast to `d`.
/// The dtype the matrices are dequantized to under `kernels` (None: kept as stored).
pub(crate) fn weights_dtype(kernels: Kernels, dtype: Option<DType>) -> Option<DType> {
    match kernels {
        Kernels::Dequantized => Some(dtype.unwrap_or(DType::F32)),
        Kernels::Dense => dtype,
        Kernels::Quantized | Kernels::QuantizedDequantizeLarge => None,
    }
}

/// The precision a run of `g` records: the stored one ([`precision`]), or with an
/// explicit `dtype` that dtype, the detail saying what it was dequantized from.
pub(crate) fn recorded_precision(g: &GgufFile, dtype: Option<DType>) -> (Precision, String) {
    let (q_precision, detail) = precision(g);
    match dtype {
        None => (q_precision, detail),
        Some(d) => (
            precision_of_dtype(d),
            format!("{d:?} dequantized from GGUF {detail}"),
        ),
    }
}

pub(crate) fn to_matmul_arc(
    t: Arc<QTensor>,
    dtype: Option<DType>,
    name: &str,
    path: &Path,
) -> Result<QMatMul> {
    let ctx =
        |e: candle_core::Error| anyhow!("{}: tensor {name}: {}", path.display(), candle_msg(&e));
    match dtype {
        None => match t.dtype() {
            GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => {
                Ok(QMatMul::Tensor(t.dequantize(&t.device()).map_err(ctx)?))
            }
            _ => Ok(QMatMul::QTensor(t)),
        },
        Some(d) => {
            let w = t
                .dequantize(&t.device())
                .map_err(ctx)?
                .to_dtype(d)
                .map_err(ctx)?;
            Ok(QMatMul::Tensor(w))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_follows_the_stored_bits_per_weight() {
        use GgmlDType::*;
        let p = |t: &[(GgmlDType, u64)]| precision_of(t);
        // A Q4_K_M-like mix whose largest type is Q5_0 (5.5 bits): 4bit, not 8bit.
        let (q, d) = p(&[(Q5_0, 170), (Q4K, 100), (Q6K, 30), (F32, 1)]);
        assert_eq!(
            (q, d.as_str()),
            (Precision::Int4, "Q5_0,Q4K,Q6K,F32 (5.36 bits/weight)")
        );
        assert_eq!(p(&[(Q4_1, 1000), (Q8_0, 100), (F32, 1)]).0, Precision::Int4);
        assert_eq!(p(&[(Q6K, 100), (F32, 1)]).0, Precision::Int8);
        assert_eq!(p(&[(Q8_0, 100), (F32, 1)]).0, Precision::Int8);
        assert_eq!(p(&[(F16, 100), (F32, 1)]).0, Precision::Float16);
        assert_eq!(p(&[(BF16, 100), (F32, 1)]).0, Precision::BFloat16);
        assert_eq!(p(&[(F32, 100)]).0, Precision::Float32);
    }
}
