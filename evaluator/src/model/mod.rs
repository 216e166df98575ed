//! Causal language models run with candle: the model interface, loading by architecture, devices.
//!
//! A model is loaded from either
//! - a GGUF file (`general.architecture` `llama` or `qwen2`: see [`gguf`]; `gemma`,
//!   `gemma2`, `gemma3`: see [`gguf_gemma`]), its weights multiplied by the kernel path the
//!   run resolved ([`kernels`]: dequantized once to a float dtype, or kept quantized for
//!   [`candle_core::quantized::QMatMul`]);
//! - a Hugging Face folder: `config.json` plus `model.safetensors` or sharded
//!   `model.safetensors.index.json` (architectures `LlamaForCausalLM`, `MistralForCausalLM`,
//!   `MixtralForCausalLM`, `Qwen2ForCausalLM`, `GPT2LMHeadModel`, `GPTNeoXForCausalLM`,
//!   `GPTJForCausalLM`, `PhiForCausalLM`, `GemmaForCausalLM`, `Gemma2ForCausalLM`,
//!   `Gemma3ForCausalLM`, `OPTForCausalLM`,
//!   `CohereForCausalLM`, `BloomForCausalLM`; SmolLM is `LlamaForCausalLM`), in f32, f16 or bf16, see [`safetensors`].
//!
//! [`probe`] reads a model's header or config first (architecture, weight storage), so an
//! unsupported model is refused before anything else is read.
//!
//! The Llama family runs [`llama::Llama`] (Mixtral: with [`mixtral::SparseMoe`] as the
//! feed-forward block); GPT-2 ([`gpt2`]), GPT-NeoX ([`gpt_neox`]), GPT-J ([`gptj`]), Phi
//! ([`phi`]), Gemma ([`gemma`]; 2 and 3: [`gemma2`]), OPT ([`opt`]), Cohere ([`cohere`]) and Bloom ([`bloom`]) a [`decoder::Decoder`] assembled from
//! blocks. All share [`attention`]'s packed batch. It returns logits for every input
//! position (the harness scores every continuation token) and works on a [`KvCache`] that
//! the caller owns. [`CausalLm::forward_batch`] runs several sequences in one call, packed
//! (no padding), each with its own cache.
//!
//! Threads: candle's CPU kernels run on rayon / gemm thread pools, whose size is
//! `RAYON_NUM_THREADS` when set, else the number of CPUs.

mod attention;
pub mod bloom;
pub mod cohere;
pub mod decoder;
pub mod export_hf;
pub mod fused;
pub mod gemm;
pub mod gemma;
pub mod gemma2;
pub mod gguf;
pub mod gguf_gemma;
pub mod gpt2;
pub mod gpt_neox;
pub mod gptj;
pub mod kernels;
pub mod kv_cache;
pub mod llama;
pub mod mixtral;
pub mod opt;
pub mod phi;
pub mod safetensors;
pub mod softmax;
pub mod unary;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use candle_core::{DType, Device, Tensor};
use leaderboard_format::schema::Precision;

pub use kernels::Kernels;
pub use kv_cache::KvCache;

/// Hugging Face `config.json` architectures this crate can run (the one list is
/// `leaderboard_format::architectures`, which `leaderboard submit` reads too).
pub const SUPPORTED_HF_ARCHITECTURES: &[&str] = leaderboard_format::architectures::HF;
/// GGUF `general.architecture` values this crate can run.
pub const SUPPORTED_GGUF_ARCHITECTURES: &[&str] = leaderboard_format::architectures::GGUF;

/// What the results file records about a loaded model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// HF architecture name (`LlamaForCausalLM`, …); for GGUF the `general.architecture`
    /// value (`llama`, `qwen2`).
    pub architecture: String,
    /// Rows of the output layer (logits per position).
    pub vocab_size: usize,
    /// Spec §3 rule 5: `max_position_embeddings` (or `n_positions`, `n_ctx`) of the config;
    /// for GGUF `<arch>.context_length`; else the tokenizer's `model_max_length`; else 2048.
    pub max_length: usize,
    pub bos_token_id: Option<u32>,
    /// End-of-sequence ids: config.json `eos_token_id` (int or list) and
    /// generation_config.json's, or GGUF `tokenizer.ggml.eos_token_id`.
    pub eos_token_ids: Vec<u32>,
    /// In the leaderboard's terms (float32, float16, bfloat16, 8bit, 4bit).
    pub precision: Precision,
    /// Exact storage, e.g. GGUF tensor types `Q4_1,Q8_0,F32` (by falling parameter count).
    pub precision_detail: Option<String>,
    /// Number of parameters (tied embeddings counted once).
    pub params: u64,
    /// sha256 (hex) of the one GGUF file, else of the `sha256  name\n` lines of every
    /// weight file, sorted by name (see `leaderboard_format::schema::Run::weights_sha256`).
    pub weights_sha256: String,
    /// The file or folder the model was loaded from.
    pub source_path: PathBuf,
}

/// One sequence of a batched forward ([`CausalLm::forward_batch`]): `tokens` run after
/// what `cache` holds, logits wanted for the last `n_last` positions (0: none). With
/// `keep_cache` the cache is extended by the tokens; without, it is left as it was and
/// the sequence's keys and values live only while their layer runs (a leaf of the
/// prefix tree: no copy of its whole cache per sequence of the batch).
pub struct Seq<'a> {
    pub tokens: &'a [u32],
    pub n_last: usize,
    pub cache: &'a mut KvCache,
    pub keep_cache: bool,
}

/// A causal LM with a caller-owned KV cache.
pub trait CausalLm: Send {
    fn info(&self) -> &ModelInfo;

    /// The device the model's tensors live on.
    fn device(&self) -> &Device;

    /// An empty cache for this model.
    fn new_cache(&self) -> KvCache;

    /// Runs `tokens` after what `cache` holds; returns logits for every input position,
    /// shape `[tokens.len(), vocab]`, f32, and extends the cache. On error the cache is
    /// left as it was.
    fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> candle_core::Result<Tensor>;

    /// Like [`Self::forward`] but returns only the logits of the last `n_last` positions,
    /// `[n_last, vocab]` (skips the output layer for the others: faster scoring).
    fn forward_last(
        &self,
        tokens: &[u32],
        n_last: usize,
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let logits = self.forward(tokens, cache)?;
        let n = logits.dim(0)?;
        logits.narrow(0, n - n_last.min(n), n_last.min(n))
    }

    /// Bytes one position takes in a [`KvCache`] (keys and values of every layer). The
    /// default assumes a 32-layer, 4096-wide model in f32.
    fn kv_bytes_per_token(&self) -> u64 {
        2 * 32 * 4096 * 4
    }

    /// Bytes of activations one token takes in a forward (for sizing batches): about
    /// `4 * (4 hidden + 3 intermediate + vocab)` for a transformer in f32. The default
    /// assumes a 4096-wide model.
    fn activation_bytes_per_token(&self) -> u64 {
        4 * (4 * 4096 + 3 * 11008 + self.info().vocab_size as u64)
    }

    /// True when [`Self::forward_batch`] computes each sequence's logits rows and cache
    /// bit for bit the same whichever other sequences share the call, provided that each
    /// matrix product over the packed rows has either one row in both calls or at least
    /// two in both (one-row products may take another kernel: a vector product instead of
    /// a matrix one). A resumed run then forwards only the sequences it needs out of a
    /// planned batch ([`crate::schedule::steps`]); otherwise it reruns whole batches.
    /// The default is false.
    fn batch_invariant(&self) -> bool {
        false
    }

    /// [`Self::forward_batch`] up to the output layer: the requested rows' final hidden
    /// states, in the same order, for a caller that turns them into logits a block of
    /// rows at a time with [`Self::logits_of_hidden`] (a batch of 2,048 scored rows of a
    /// 128k vocabulary would be 1 GB of logits at once). Same caches, same errors.
    ///
    /// The default runs the sequences one by one with [`Self::forward_last`] and returns
    /// their logits rows (with [`Self::logits_of_hidden`] the identity); a model that
    /// packs a batch overrides both.
    fn forward_batch_hidden(&self, batch: &mut [Seq<'_>]) -> candle_core::Result<Option<Tensor>> {
        let mut work: Vec<KvCache> = batch.iter().map(|s| s.cache.clone()).collect();
        let mut parts = Vec::new();
        for (s, c) in batch.iter().zip(work.iter_mut()) {
            let t = self.forward_last(s.tokens, s.n_last.max(1), c)?;
            if s.n_last > 0 {
                parts.push(t);
            }
        }
        for (s, c) in batch.iter_mut().zip(work) {
            if s.keep_cache {
                *s.cache = c;
            }
        }
        if parts.is_empty() {
            Ok(None)
        } else {
            Tensor::cat(&parts, 0).map(Some)
        }
    }

    /// The logits (`[n, vocab]`, f32) of `n` rows of [`Self::forward_batch_hidden`]'s
    /// output; each row's logits depend on that row alone (final norm, output layer), so
    /// blocks of two or more rows give the rows of the whole product bit for bit where
    /// [`Self::batch_invariant`] holds.
    fn logits_of_hidden(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        Ok(hidden.clone())
    }

    /// Runs several independent sequences in one call (packed: no padding; every
    /// sequence attends only to its own cache and tokens, under its own causal mask).
    /// Returns the requested logits rows of all sequences, in batch order, as one
    /// `[sum of n_last, vocab]` f32 tensor (None when no row is requested). On error
    /// every cache is left as it was: [`Self::forward_batch_hidden`], then
    /// [`Self::logits_of_hidden`] on all its rows at once.
    ///
    /// Numbers equal one-sequence calls up to float rounding (the matrix shapes differ).
    fn forward_batch(&self, batch: &mut [Seq<'_>]) -> candle_core::Result<Option<Tensor>> {
        match self.forward_batch_hidden(batch)? {
            Some(h) => self.logits_of_hidden(&h).map(Some),
            None => Ok(None),
        }
    }
}

/// What the files of a model say before it loads: its architecture (checked against the
/// supported ones, so an unsupported model is refused before its tokenizer is read) and
/// the shape of its weights (for [`kernels::resolve`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The folder or file to load (a `config.json` path is turned into its folder).
    pub path: PathBuf,
    /// HF `architectures` entry, or GGUF `general.architecture`.
    pub architecture: String,
    pub weights: kernels::WeightsShape,
}

/// Reads `path`'s header or `config.json`: see [`Probe`].
pub fn probe(path: &Path) -> anyhow::Result<Probe> {
    if !path.exists() {
        bail!(
            "model path {} does not exist (expected a .gguf file or a folder with config.json and *.safetensors)",
            path.display()
        );
    }
    let folder = if path.is_dir() {
        Some(path)
    } else if path.file_name().and_then(|n| n.to_str()) == Some("config.json") && !is_gguf(path)? {
        path.parent()
    } else {
        None
    };
    if let Some(dir) = folder {
        let config_path = dir.join("config.json");
        if !config_path.exists() {
            bail!("{}: no config.json in the model folder", dir.display());
        }
        let architecture =
            safetensors::architecture(&safetensors::read_json(&config_path)?, &config_path)?;
        return Ok(Probe {
            path: dir.to_path_buf(),
            architecture,
            weights: kernels::WeightsShape {
                gguf: false,
                quantized: false,
                elements: 0,
            },
        });
    }
    if !is_gguf(path)? {
        bail!(
            "{}: not a GGUF file (no 'GGUF' magic) and not a folder; expected a .gguf file or a Hugging Face folder with config.json and *.safetensors",
            path.display()
        );
    }
    let g = gguf::GgufFile::open(path)?;
    let architecture = gguf::architecture(&g)?;
    if architecture == "llama" || architecture == "qwen2" {
        gguf::hparams(&g)?;
    }
    Ok(Probe {
        path: path.to_path_buf(),
        architecture,
        weights: gguf::weights_shape(&g),
    })
}

/// Loads a probed model with a resolved kernel path. `dtype`: for GGUF, the dtype the
/// weights are dequantized to (see [`gguf::load`]); for safetensors, `None` computes in the
/// stored dtype, `Some(dtype)` casts to it.
pub fn load_probed(
    p: &Probe,
    device: &Device,
    dtype: Option<DType>,
    kernels: Kernels,
) -> anyhow::Result<Box<dyn CausalLm>> {
    Ok(if p.weights.gguf {
        match p.architecture.as_str() {
            "gemma" | "gemma2" | "gemma3" => {
                Box::new(gguf_gemma::load(&p.path, device, dtype, kernels)?)
            }
            _ => Box::new(gguf::load(&p.path, device, dtype, kernels)?),
        }
    } else {
        safetensors::load(&p.path, device, dtype)?
    })
}

/// Loads `path` (a `.gguf` file or a Hugging Face folder) with the kernel path
/// [`kernels::resolve`] picks by default: the probe, the rule and the load in one call,
/// for tools and tests. `evaluator run` resolves the path itself and records it.
pub fn load(
    path: &Path,
    device: &Device,
    dtype: Option<DType>,
) -> anyhow::Result<Box<dyn CausalLm>> {
    let p = probe(path)?;
    let (k, _) = kernels::resolve(&p.weights, device, dtype, None, available_memory(), path)?;
    load_probed(&p, device, dtype, k)
}

fn is_gguf(path: &Path) -> anyhow::Result<bool> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 4];
    match f.read_exact(&mut magic) {
        Ok(()) => Ok(&magic == b"GGUF"),
        Err(_) => Ok(false),
    }
}

/// The device named `cpu`, `cuda`, `cuda:N`, `metal` or `metal:N`. CUDA and Metal need the
/// evaluator's `cuda` / `metal` cargo features.
pub fn device(name: &str) -> anyhow::Result<Device> {
    let (kind, ordinal) = match name.split_once(':') {
        Some((k, n)) => (
            k,
            n.parse::<usize>()
                .with_context(|| format!("device {name:?}: ordinal {n:?} is not a number"))?,
        ),
        None => (name, 0),
    };
    match kind {
        "cpu" => Ok(Device::Cpu),
        "cuda" => {
            if !candle_core::utils::cuda_is_available() {
                bail!("device {name:?}: this evaluator was built without CUDA support (rebuild with `--features cuda`)");
            }
            Device::new_cuda(ordinal).with_context(|| format!("opening CUDA device {ordinal}"))
        }
        "metal" => {
            if !candle_core::utils::metal_is_available() {
                bail!("device {name:?}: this evaluator was built without Metal support (rebuild with `--features metal`)");
            }
            Device::new_metal(ordinal).with_context(|| format!("opening Metal device {ordinal}"))
        }
        other => bail!("unknown device {other:?}: expected cpu, cuda, cuda:N, metal or metal:N"),
    }
}

/// The weights hash recorded in `Run.weights_sha256`: one definition, in
/// `crate::hub::weights`, for local and Hub models alike.
pub use crate::hub::weights_sha256;

/// Calls `f` with the values of `t` (f32, any shape, row-major): borrowed from CPU
/// storage when `t` is contiguous there, else copied out (another device, or a view).
pub fn with_f32_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (candle_core::Storage::Cpu(cpu), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            if let Ok(all) = cpu.as_slice::<f32>() {
                return Ok(f(&all[a..b]));
            }
        }
    }
    let v: Vec<f32> = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    Ok(f(&v))
}

/// `MemAvailable` from /proc/meminfo, in bytes (None where there is no such file).
pub fn available_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The leaderboard precision for a float dtype.
pub fn precision_of_dtype(dtype: DType) -> Precision {
    match dtype {
        DType::F16 => Precision::Float16,
        DType::BF16 => Precision::BFloat16,
        _ => Precision::Float32,
    }
}

/// A candle error's message without the backtrace candle attaches when `RUST_BACKTRACE`
/// is set.
pub fn candle_msg(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => candle_msg(inner),
        candle_core::Error::WithPath { inner, path } => {
            format!("{}: {}", path.display(), candle_msg(inner))
        }
        candle_core::Error::Context { inner, context } => {
            format!("{context}: {}", candle_msg(inner))
        }
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_values_borrowed_or_copied_in_row_major_order() {
        let t = Tensor::arange(0f32, 12., &Device::Cpu)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let all = with_f32_values(&t, |v| v.to_vec()).unwrap();
        assert_eq!(all, (0..12).map(|i| i as f32).collect::<Vec<_>>());
        // A contiguous view at an offset: rows 1..3.
        let rows = t.narrow(0, 1, 2).unwrap();
        assert_eq!(
            with_f32_values(&rows, |v| v.to_vec()).unwrap(),
            (4..12).map(|i| i as f32).collect::<Vec<_>>()
        );
        // Not contiguous (transposed): copied out in row-major order of the view.
        let tt = t.t().unwrap();
        assert_eq!(
            with_f32_values(&tt, |v| v.to_vec()).unwrap(),
            tt.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }
}
