//! Loading a Llama-family model (Llama, Mistral, Mixtral, Qwen2) from a Hugging Face folder: `config.json` + `*.safetensors` (f32/f16/bf16).
//!
//! Weight files: `model.safetensors`, or the files named by `model.safetensors.index.json`'s
//! `weight_map` (sharded). Tensor names are Hugging Face's: `model.embed_tokens.weight`,
//! `model.layers.N.{input_layernorm, post_attention_layernorm}.weight`,
//! `model.layers.N.self_attn.{q,k,v,o}_proj.weight` (+ `{q,k,v}_proj.bias` for Qwen2),
//! `model.layers.N.mlp.{gate,up,down}_proj.weight` (Mixtral:
//! `model.layers.N.block_sparse_moe.gate.weight` and `…experts.E.{w1,w2,w3}.weight`),
//! `model.norm.weight`, `lm_head.weight` (absent when `tie_word_embeddings`).
//!
//! config.json keys read: `architectures`, `hidden_size`, `intermediate_size`,
//! `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`, `head_dim`,
//! `rms_norm_eps`, `rope_theta`, `rope_scaling`, `vocab_size`, `tie_word_embeddings`,
//! `max_position_embeddings` / `n_positions` / `n_ctx`, `bos_token_id`, `eos_token_id`,
//! `sliding_window` + `use_sliding_window` (Mistral / Mixtral / Qwen2), `num_local_experts` and
//! `num_experts_per_tok` (Mixtral). Files are memory-mapped and
//! must not change while the model is loaded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::quantized::QMatMul;
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};
use serde_json::Value;

use super::candle_msg;
use super::decoder::{Act, Ffn, Norm};
use super::llama::{
    check_shape, inv_freq, numel, Layer, Linear, Llama, LlamaConfig, Mlp, RopeScaling, RopeStyle,
    Weights,
};
use super::mixtral::SparseMoe;
use super::{precision_of_dtype, weights_sha256, CausalLm, ModelInfo, SUPPORTED_HF_ARCHITECTURES};

/// The parts of config.json that shape the model.
#[derive(Debug, Clone)]
pub struct HfConfig {
    pub architecture: String,
    pub cfg: LlamaConfig,
    pub tie_word_embeddings: bool,
    pub max_length: Option<usize>,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
    /// Mixtral: (`num_local_experts`, `num_experts_per_tok`).
    pub experts: Option<(usize, usize)>,
}

fn ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_u64())
            .map(|x| x as u32)
            .collect(),
        _ => vec![],
    }
}

/// Parses config.json (`path` is only used in messages).
/// The supported architecture config.json names (`architectures`), or an error naming
/// what it says and the supported list.
pub fn architecture(json: &Value, path: &Path) -> Result<String> {
    let archs: Vec<&str> = json
        .get("architectures")
        .and_then(|a| a.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    match archs
        .iter()
        .find(|a| SUPPORTED_HF_ARCHITECTURES.contains(a))
    {
        Some(a) => Ok(a.to_string()),
        None => bail!(
            "{}: architecture {} is not supported (supported: {})",
            path.display(),
            if archs.is_empty() {
                "(none given in \"architectures\")".to_string()
            } else {
                format!("{archs:?}")
            },
            SUPPORTED_HF_ARCHITECTURES.join(", ")
        ),
    }
}

/// Parses a Llama-family config.json (`path` is only used in messages).
pub fn parse_config(json: &Value, path: &Path) -> Result<HfConfig> {
    let architecture = architecture(json, path)?;
    let req = |k: &str| config_usize(json, k, path);
    let opt = |k: &str| json.get(k).and_then(|v| v.as_u64()).map(|v| v as usize);
    let hidden = req("hidden_size")?;
    let n_heads = req("num_attention_heads")?;
    let n_kv_heads = opt("num_key_value_heads").unwrap_or(n_heads);
    let head_dim = opt("head_dim").unwrap_or(hidden / n_heads.max(1));
    let theta = json
        .get("rope_theta")
        .and_then(|v| v.as_f64())
        .unwrap_or(10000.0) as f32;
    let scaling = match json.get("rope_scaling") {
        None | Some(Value::Null) => RopeScaling::None,
        Some(s) => {
            let ty = s
                .get("rope_type")
                .or_else(|| s.get("type"))
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let f = |k: &str| -> Result<f32> {
                s.get(k)
                    .and_then(|v| v.as_f64())
                    .map(|v| v as f32)
                    .ok_or_else(|| anyhow!("{}: rope_scaling.{k} is missing", path.display()))
            };
            match ty {
                "default" => RopeScaling::None,
                "linear" => RopeScaling::Linear {
                    factor: f("factor")?,
                },
                "llama3" => RopeScaling::Llama3 {
                    factor: f("factor")?,
                    low_freq_factor: f("low_freq_factor")?,
                    high_freq_factor: f("high_freq_factor")?,
                    original_max_position_embeddings: f("original_max_position_embeddings")?,
                },
                other => bail!(
                    "{}: rope_scaling type {other:?} is not supported (supported: linear, llama3)",
                    path.display()
                ),
            }
        }
    };
    let use_sw = json
        .get("use_sliding_window")
        .and_then(|v| v.as_bool())
        .unwrap_or(architecture == "MistralForCausalLM" || architecture == "MixtralForCausalLM");
    let sliding_window = if use_sw { opt("sliding_window") } else { None };
    let rms = json
        .get("rms_norm_eps")
        .and_then(|v| v.as_f64())
        .unwrap_or(1e-6);
    let cfg = LlamaConfig {
        hidden_size: hidden,
        intermediate_size: req("intermediate_size")?,
        n_layers: req("num_hidden_layers")?,
        n_heads,
        n_kv_heads,
        head_dim,
        rms_norm_eps: rms,
        inv_freq: inv_freq(head_dim, theta, &scaling),
        rope_style: RopeStyle::Half,
        sliding_window,
        vocab_size: req("vocab_size")?,
    };
    let experts = if architecture == "MixtralForCausalLM" {
        let (n, k) = (req("num_local_experts")?, req("num_experts_per_tok")?);
        if k == 0 || k > n {
            bail!(
                "{}: num_experts_per_tok {k} must be between 1 and num_local_experts {n}",
                path.display()
            );
        }
        Some((n, k))
    } else {
        None
    };
    Ok(HfConfig {
        experts,
        tie_word_embeddings: json
            .get("tie_word_embeddings")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        max_length: ["n_positions", "max_position_embeddings", "n_ctx"]
            .iter()
            .find_map(|k| opt(k)),
        bos_token_id: ids(json.get("bos_token_id")).first().copied(),
        eos_token_ids: ids(json.get("eos_token_id")),
        architecture,
        cfg,
    })
}

/// config.json key `k`, a non-negative integer (`path` for messages).
pub(crate) fn config_usize(json: &Value, k: &str, path: &Path) -> Result<usize> {
    json.get(k)
        .and_then(|v| v.as_u64())
        .map(|v| v as usize)
        .ok_or_else(|| {
            anyhow!(
                "{}: key {k:?} is missing or not a non-negative integer",
                path.display()
            )
        })
}

/// config.json key `k` as a non-negative integer, if present.
pub(crate) fn config_opt_usize(json: &Value, k: &str) -> Option<usize> {
    json.get(k).and_then(|v| v.as_u64()).map(|v| v as usize)
}

/// config.json key `k` as a number, else `default`.
pub(crate) fn config_f64(json: &Value, k: &str, default: f64) -> f64 {
    json.get(k).and_then(|v| v.as_f64()).unwrap_or(default)
}

/// config.json key `k` as a boolean, else `default`.
pub(crate) fn config_flag(json: &Value, k: &str, default: bool) -> bool {
    json.get(k).and_then(|v| v.as_bool()).unwrap_or(default)
}

/// The activation named by the first of `keys` that config.json has, else `default`;
/// refused when unknown.
pub(crate) fn config_act(json: &Value, keys: &[&str], default: &str, path: &Path) -> Result<Act> {
    let (key, name) = keys
        .iter()
        .find_map(|k| json.get(*k).and_then(|v| v.as_str()).map(|v| (*k, v)))
        .unwrap_or((keys[0], default));
    Act::from_hf(name).ok_or_else(|| anyhow!("{}: {key} {name:?} is not supported", path.display()))
}

/// `hidden` must split into `heads` equal heads.
pub(crate) fn check_heads(hidden: usize, heads: usize, path: &Path) -> Result<()> {
    if heads == 0 || !hidden.is_multiple_of(heads) {
        bail!(
            "{}: hidden size {hidden} is not a multiple of the {heads} attention heads",
            path.display()
        );
    }
    Ok(())
}

pub fn read_json(path: &Path) -> Result<Value> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&s).with_context(|| format!("{}: invalid JSON", path.display()))
}

/// The weight files of a folder: `model.safetensors` or the shards of the index.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let j = read_json(&index)?;
        let map = j
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| anyhow!("{}: no \"weight_map\" object", index.display()))?;
        let mut files = BTreeSet::new();
        for (name, f) in map {
            let f = f.as_str().ok_or_else(|| {
                anyhow!("{}: weight_map[{name:?}] is not a string", index.display())
            })?;
            if f.contains('/') || f.contains('\\') || f == ".." {
                bail!(
                    "{}: weight_map[{name:?}] = {f:?} leaves the folder",
                    index.display()
                );
            }
            files.insert(f.to_string());
        }
        let files: Vec<PathBuf> = files.into_iter().map(|f| dir.join(f)).collect();
        for f in &files {
            if !f.exists() {
                bail!("{}: shard {} is missing", index.display(), f.display());
            }
        }
        return Ok(files);
    }
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    bail!(
        "{}: no model.safetensors or model.safetensors.index.json",
        dir.display()
    )
}

/// The tensors of a folder's safetensors files, read by name with their shape checked
/// and cast to the activation dtype; counts the parameters read.
pub(crate) struct Tensors {
    dir: PathBuf,
    files: Vec<PathBuf>,
    st: MmapedSafetensors,
    device: Device,
    /// The activation dtype every tensor is cast to.
    pub act: DType,
    /// The dtype the embeddings are stored in.
    pub stored: DType,
    pub params: u64,
}

impl Tensors {
    /// Opens `dir`'s weight files. `embed`: the embedding tensor's possible names (the
    /// first present is read), whose stored dtype is the default activation dtype
    /// (`dtype` `None`); `Some(d)` casts to `d`.
    pub fn open(dir: &Path, device: &Device, dtype: Option<DType>, embed: &[&str]) -> Result<Self> {
        let files = weight_files(dir)?;
        // SAFETY: the files are memory-mapped read-only; the documented contract is that
        // they do not change while the model is loaded.
        let st = unsafe { MmapedSafetensors::multi(&files) }.map_err(|e| {
            anyhow!(
                "{}: not a readable safetensors file set: {}",
                dir.display(),
                candle_msg(&e)
            )
        })?;
        let mut t = Tensors {
            dir: dir.to_path_buf(),
            files,
            st,
            device: device.clone(),
            act: DType::F32,
            stored: DType::F32,
            params: 0,
        };
        let embed = embed.iter().find(|n| t.has(n)).copied().unwrap_or(embed[0]);
        let stored =
            t.st.get(embed)
                .map_err(|e| anyhow!("{}: {}", t.file_of(embed), candle_msg(&e)))?
                .dtype();
        t.stored = stored.try_into().map_err(|e| {
            anyhow!(
                "{}: unsupported dtype: {}",
                t.file_of(embed),
                candle_msg(&e)
            )
        })?;
        t.act = dtype.unwrap_or(t.stored);
        if !matches!(t.act, DType::F32 | DType::F16 | DType::BF16) {
            bail!(
                "{}: weights are {:?}; supported: F32, F16, BF16",
                dir.display(),
                t.stored
            );
        }
        Ok(t)
    }

    fn file_of(&self, name: &str) -> String {
        let f = if self.files.len() == 1 {
            self.files[0].display().to_string()
        } else {
            format!("{} (sharded)", self.dir.display())
        };
        format!("{f}, tensor {name}")
    }

    /// The device tensors are loaded to.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether the files hold tensor `name`.
    pub fn has(&self, name: &str) -> bool {
        self.st.get(name).is_ok()
    }

    /// Tensor `name`, which must have `shape`, in the activation dtype.
    pub fn get(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.get_stored(name, shape)?
            .to_dtype(self.act)
            .map_err(|e| anyhow!("{}: {}", self.file_of(name), candle_msg(&e)))
    }

    /// Tensor `name`, which must have `shape`, in the dtype it is stored in.
    pub fn get_stored(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self
            .st
            .load(name, &self.device)
            .map_err(|e| anyhow!("{}: {}", self.file_of(name), candle_msg(&e)))?;
        check_shape(name, t.dims(), shape)
            .map_err(|e| anyhow!("{}: {}", self.file_of(name), candle_msg(&e)))?;
        self.params += numel(shape);
        Ok(t)
    }

    /// Linear layer `<name>.weight` `[out, inp]` (+ `<name>.bias` `[out]`).
    pub fn linear(&mut self, name: &str, out: usize, inp: usize, bias: bool) -> Result<Linear> {
        let w = self.get(&format!("{name}.weight"), &[out, inp])?;
        let b = if bias {
            Some(self.get(&format!("{name}.bias"), &[out])?)
        } else {
            None
        };
        Ok(Linear {
            weight: QMatMul::Tensor(w),
            bias: b,
        })
    }

    /// LayerNorm `<name>.weight` and `<name>.bias`, `[h]` each.
    pub fn layer_norm(&mut self, name: &str, h: usize, eps: f32) -> Result<Norm> {
        Ok(Norm::Layer {
            w: self.get(&format!("{name}.weight"), &[h])?,
            b: self.get(&format!("{name}.bias"), &[h])?,
            eps,
        })
    }

    /// A gated MLP `<prefix>.{gate,up,down}_proj.weight` (no biases).
    pub fn gated_mlp(&mut self, prefix: &str, ff: usize, h: usize, act: Act) -> Result<Ffn> {
        Ok(Ffn {
            gate: Some(self.linear(&format!("{prefix}.gate_proj"), ff, h, false)?),
            up: self.linear(&format!("{prefix}.up_proj"), ff, h, false)?,
            down: self.linear(&format!("{prefix}.down_proj"), h, ff, false)?,
            act,
        })
    }

    /// A fused `[3 * nh * hd, h]` projection `<name>.weight` (+ `.bias`) whose output rows
    /// are laid out per head as (q, k, v) (GPT-NeoX, Bloom), split into q, k and v.
    pub fn fused_qkv_per_head(
        &mut self,
        name: &str,
        nh: usize,
        hd: usize,
        h: usize,
        bias: bool,
    ) -> Result<[Linear; 3]> {
        let w = self.get(&format!("{name}.weight"), &[3 * nh * hd, h])?;
        let b = if bias {
            Some(self.get(&format!("{name}.bias"), &[3 * nh * hd])?)
        } else {
            None
        };
        let part = |j: usize| -> candle_core::Result<Linear> {
            let wj = w
                .reshape((nh, 3, hd, h))?
                .narrow(1, j, 1)?
                .reshape((nh * hd, h))?;
            let bj = match &b {
                Some(b) => Some(b.reshape((nh, 3, hd))?.narrow(1, j, 1)?.reshape(nh * hd)?),
                None => None,
            };
            Ok(Linear {
                weight: QMatMul::Tensor(wj.contiguous()?),
                bias: bj.map(|b| b.contiguous()).transpose()?,
            })
        };
        let part = |j| part(j).map_err(|e| anyhow!("{}: {}", self.file_of(name), candle_msg(&e)));
        Ok([part(0)?, part(1)?, part(2)?])
    }

    /// What the results record about the model: `config` is the parsed config.json.
    pub fn info(&self, architecture: &str, vocab_size: usize, config: &Value) -> Result<ModelInfo> {
        let mut eos = ids(config.get("eos_token_id"));
        let gen_cfg = self.dir.join("generation_config.json");
        if gen_cfg.exists() {
            for id in ids(read_json(&gen_cfg)?.get("eos_token_id")) {
                if !eos.contains(&id) {
                    eos.push(id);
                }
            }
        }
        let max_length = match ["n_positions", "max_position_embeddings", "n_ctx"]
            .iter()
            .find_map(|k| config.get(*k).and_then(|v| v.as_u64()))
        {
            Some(m) => m as usize,
            None => tokenizer_max_length(&self.dir)?.unwrap_or(2048),
        };
        Ok(ModelInfo {
            architecture: architecture.to_string(),
            vocab_size,
            max_length,
            bos_token_id: ids(config.get("bos_token_id")).first().copied(),
            eos_token_ids: eos,
            precision: precision_of_dtype(self.act),
            precision_detail: (self.act != self.stored)
                .then(|| format!("{:?} cast from stored {:?}", self.act, self.stored)),
            params: self.params,
            weights_sha256: weights_sha256(&self.files)?,
            source_path: self.dir.clone(),
        })
    }
}

/// Loads a Hugging Face folder. `dtype`: `None` computes in the stored dtype of the
/// embeddings; `Some(d)` casts every weight to `d`.
pub fn load(dir: &Path, device: &Device, dtype: Option<DType>) -> Result<Box<dyn CausalLm>> {
    let config_path = dir.join("config.json");
    if !config_path.exists() {
        bail!("{}: no config.json in the model folder", dir.display());
    }
    let json = read_json(&config_path)?;
    let arch = architecture(&json, &config_path)?;
    Ok(match arch.as_str() {
        "GPT2LMHeadModel" => Box::new(super::gpt2::load(dir, device, dtype, &json)?),
        "GPTNeoXForCausalLM" => Box::new(super::gpt_neox::load(dir, device, dtype, &json)?),
        "GPTJForCausalLM" => Box::new(super::gptj::load(dir, device, dtype, &json)?),
        "PhiForCausalLM" => Box::new(super::phi::load(dir, device, dtype, &json)?),
        "GemmaForCausalLM" => Box::new(super::gemma::load(dir, device, dtype, &json)?),
        "Gemma2ForCausalLM" | "Gemma3ForCausalLM" => {
            Box::new(super::gemma2::load(dir, device, dtype, &json, &arch)?)
        }
        "OPTForCausalLM" => Box::new(super::opt::load(dir, device, dtype, &json)?),
        "CohereForCausalLM" => Box::new(super::cohere::load(dir, device, dtype, &json)?),
        "BloomForCausalLM" => Box::new(super::bloom::load(dir, device, dtype, &json)?),
        _ => Box::new(load_llama(dir, device, dtype, &json, &config_path)?),
    })
}

/// A Llama-family folder (Llama, Mistral, Mixtral, Qwen2).
fn load_llama(
    dir: &Path,
    device: &Device,
    dtype: Option<DType>,
    json: &Value,
    config_path: &Path,
) -> Result<Llama> {
    let hf = parse_config(json, config_path)?;
    let mut t = Tensors::open(dir, device, dtype, &["model.embed_tokens.weight"])?;
    let cfg = hf.cfg.clone();
    let (h, hd, nh, nkv, ff) = (
        cfg.hidden_size,
        cfg.head_dim,
        cfg.n_heads,
        cfg.n_kv_heads,
        cfg.intermediate_size,
    );
    let qwen = hf.architecture == "Qwen2ForCausalLM";
    let embed_w = t.get("model.embed_tokens.weight", &[cfg.vocab_size, h])?;
    let mut layers = Vec::with_capacity(cfg.n_layers);
    for i in 0..cfg.n_layers {
        let p = |s: &str| format!("model.layers.{i}.{s}");
        let q = t.linear(&p("self_attn.q_proj"), nh * hd, h, qwen)?;
        let k = t.linear(&p("self_attn.k_proj"), nkv * hd, h, qwen)?;
        let v = t.linear(&p("self_attn.v_proj"), nkv * hd, h, qwen)?;
        let o = t.linear(&p("self_attn.o_proj"), h, nh * hd, false)?;
        let mlp = match hf.experts {
            None => Mlp::Dense {
                gate: t.linear(&p("mlp.gate_proj"), ff, h, false)?,
                up: t.linear(&p("mlp.up_proj"), ff, h, false)?,
                down: t.linear(&p("mlp.down_proj"), h, ff, false)?,
            },
            Some((n, top_k)) => Mlp::Moe(SparseMoe {
                router: t.linear(&p("block_sparse_moe.gate"), n, h, false)?,
                experts: (0..n)
                    .map(|e| -> Result<Ffn> {
                        let x = |w: &str| p(&format!("block_sparse_moe.experts.{e}.{w}"));
                        Ok(Ffn {
                            gate: Some(t.linear(&x("w1"), ff, h, false)?),
                            up: t.linear(&x("w3"), ff, h, false)?,
                            down: t.linear(&x("w2"), h, ff, false)?,
                            act: Act::Silu,
                        })
                    })
                    .collect::<Result<_>>()?,
                top_k,
            }),
        };
        let attn_norm = t.get(&p("input_layernorm.weight"), &[h])?;
        let ffn_norm = t.get(&p("post_attention_layernorm.weight"), &[h])?;
        layers.push(Layer {
            attn_norm,
            q,
            k,
            v,
            o,
            ffn_norm,
            mlp,
        });
    }
    let norm = t.get("model.norm.weight", &[h])?;
    let lm_head = if hf.tie_word_embeddings || !t.has("lm_head.weight") {
        if !hf.tie_word_embeddings {
            bail!(
                "{}: lm_head.weight is missing and tie_word_embeddings is false",
                dir.display()
            );
        }
        QMatMul::Tensor(embed_w.clone())
    } else {
        QMatMul::Tensor(t.get("lm_head.weight", &[cfg.vocab_size, h])?)
    };
    let lm_head = Linear {
        weight: lm_head,
        bias: None,
    };
    let info = t.info(&hf.architecture, cfg.vocab_size, json)?;
    let w = Weights {
        embed: QMatMul::Tensor(embed_w),
        layers,
        norm,
        lm_head,
    };
    let act = t.act;
    Llama::new(cfg, w, act, device.clone(), info)
        .map_err(|e| anyhow!("{}: {}", dir.display(), candle_msg(&e)))
}

/// tokenizer_config.json `model_max_length`, unless absent or the "infinite" sentinel
/// (spec §3 rule 5: then 2048).
fn tokenizer_max_length(dir: &Path) -> Result<Option<usize>> {
    let p = dir.join("tokenizer_config.json");
    if !p.exists() {
        return Ok(None);
    }
    let j = read_json(&p)?;
    Ok(j.get("model_max_length")
        .and_then(|v| v.as_f64())
        .filter(|&v| v < 1e18)
        .map(|v| v as usize))
}
