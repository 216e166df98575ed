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
use super::llama::{
    check_shape, inv_freq, numel, Layer, Linear, Llama, LlamaConfig, Mlp, RopeScaling, RopeStyle,
    Weights,
};
use super::mixtral::{Expert, SparseMoe};
use super::{precision_of_dtype, weights_sha256, ModelInfo, SUPPORTED_HF_ARCHITECTURES};

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
pub fn parse_config(json: &Value, path: &Path) -> Result<HfConfig> {
    let archs: Vec<&str> = json
        .get("architectures")
        .and_then(|a| a.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let architecture = match archs
        .iter()
        .find(|a| SUPPORTED_HF_ARCHITECTURES.contains(a))
    {
        Some(a) => a.to_string(),
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
    };
    let req = |k: &str| -> Result<usize> {
        json.get(k)
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
            .ok_or_else(|| {
                anyhow!(
                    "{}: key {k:?} is missing or not a non-negative integer",
                    path.display()
                )
            })
    };
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

/// Loads a Hugging Face folder. `dtype`: `None` computes in the stored dtype of
/// `model.embed_tokens.weight`; `Some(d)` casts every weight to `d`.
pub fn load(dir: &Path, device: &Device, dtype: Option<DType>) -> Result<Llama> {
    let config_path = dir.join("config.json");
    if !config_path.exists() {
        bail!("{}: no config.json in the model folder", dir.display());
    }
    let json = read_json(&config_path)?;
    let hf = parse_config(&json, &config_path)?;
    let files = weight_files(dir)?;
    // SAFETY: the files are memory-mapped read-only; the documented contract is that they
    // do not change while the model is loaded.
    let st = unsafe { MmapedSafetensors::multi(&files) }.map_err(|e| {
        anyhow!(
            "{}: not a readable safetensors file set: {}",
            dir.display(),
            candle_msg(&e)
        )
    })?;
    let file_of = |name: &str| -> String {
        let f = if files.len() == 1 {
            files[0].display().to_string()
        } else {
            format!("{} (sharded)", dir.display())
        };
        format!("{f}, tensor {name}")
    };
    let stored = st
        .get("model.embed_tokens.weight")
        .map_err(|e| {
            anyhow!(
                "{}: {}",
                file_of("model.embed_tokens.weight"),
                candle_msg(&e)
            )
        })?
        .dtype();
    let stored: DType = stored.try_into().map_err(|e| {
        anyhow!(
            "{}: unsupported dtype: {}",
            file_of("model.embed_tokens.weight"),
            candle_msg(&e)
        )
    })?;
    let act = dtype.unwrap_or(stored);
    if !matches!(act, DType::F32 | DType::F16 | DType::BF16) {
        bail!(
            "{}: weights are {stored:?}; supported: F32, F16, BF16",
            dir.display()
        );
    }
    let cfg = hf.cfg.clone();
    let mut params = 0u64;
    let mut get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let t = st
            .load(name, device)
            .map_err(|e| anyhow!("{}: {}", file_of(name), candle_msg(&e)))?;
        check_shape(name, t.dims(), shape)
            .map_err(|e| anyhow!("{}: {}", file_of(name), candle_msg(&e)))?;
        params += numel(shape);
        t.to_dtype(act)
            .map_err(|e| anyhow!("{}: {}", file_of(name), candle_msg(&e)))
    };
    let (h, hd, nh, nkv, ff) = (
        cfg.hidden_size,
        cfg.head_dim,
        cfg.n_heads,
        cfg.n_kv_heads,
        cfg.intermediate_size,
    );
    let qwen = hf.architecture == "Qwen2ForCausalLM";
    let embed_w = get("model.embed_tokens.weight", &[cfg.vocab_size, h])?;
    let mut layers = Vec::with_capacity(cfg.n_layers);
    for i in 0..cfg.n_layers {
        let p = |s: &str| format!("model.layers.{i}.{s}");
        let mut lin = |name: &str, out: usize, inp: usize, bias: bool| -> Result<Linear> {
            let w = get(&p(&format!("{name}.weight")), &[out, inp])?;
            let b = if bias {
                Some(get(&p(&format!("{name}.bias")), &[out])?)
            } else {
                None
            };
            Ok(Linear {
                weight: QMatMul::Tensor(w),
                bias: b,
            })
        };
        let q = lin("self_attn.q_proj", nh * hd, h, qwen)?;
        let k = lin("self_attn.k_proj", nkv * hd, h, qwen)?;
        let v = lin("self_attn.v_proj", nkv * hd, h, qwen)?;
        let o = lin("self_attn.o_proj", h, nh * hd, false)?;
        let mlp = match hf.experts {
            None => Mlp::Dense {
                gate: lin("mlp.gate_proj", ff, h, false)?,
                up: lin("mlp.up_proj", ff, h, false)?,
                down: lin("mlp.down_proj", h, ff, false)?,
            },
            Some((n, top_k)) => Mlp::Moe(SparseMoe {
                router: lin("block_sparse_moe.gate", n, h, false)?,
                experts: (0..n)
                    .map(|e| -> Result<Expert> {
                        let x = |w: &str| format!("block_sparse_moe.experts.{e}.{w}");
                        Ok(Expert {
                            w1: lin(&x("w1"), ff, h, false)?,
                            w2: lin(&x("w2"), h, ff, false)?,
                            w3: lin(&x("w3"), ff, h, false)?,
                        })
                    })
                    .collect::<Result<_>>()?,
                top_k,
            }),
        };
        let attn_norm = get(&p("input_layernorm.weight"), &[h])?;
        let ffn_norm = get(&p("post_attention_layernorm.weight"), &[h])?;
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
    let norm = get("model.norm.weight", &[h])?;
    let lm_head = if hf.tie_word_embeddings || st.get("lm_head.weight").is_err() {
        if !hf.tie_word_embeddings {
            bail!(
                "{}: lm_head.weight is missing and tie_word_embeddings is false",
                dir.display()
            );
        }
        QMatMul::Tensor(embed_w.clone())
    } else {
        QMatMul::Tensor(get("lm_head.weight", &[cfg.vocab_size, h])?)
    };
    let lm_head = Linear {
        weight: lm_head,
        bias: None,
    };
    let mut eos = hf.eos_token_ids.clone();
    let gen_cfg = dir.join("generation_config.json");
    if gen_cfg.exists() {
        for id in ids(read_json(&gen_cfg)?.get("eos_token_id")) {
            if !eos.contains(&id) {
                eos.push(id);
            }
        }
    }
    let max_length = match hf.max_length {
        Some(m) => m,
        None => tokenizer_max_length(dir)?.unwrap_or(2048),
    };
    let precision_detail = if act == stored {
        None
    } else {
        Some(format!("{act:?} cast from stored {stored:?}"))
    };
    let info = ModelInfo {
        architecture: hf.architecture.clone(),
        vocab_size: cfg.vocab_size,
        max_length,
        bos_token_id: hf.bos_token_id,
        eos_token_ids: eos,
        precision: precision_of_dtype(act),
        precision_detail,
        params,
        weights_sha256: weights_sha256(&files)?,
        source_path: dir.to_path_buf(),
    };
    let w = Weights {
        embed: QMatMul::Tensor(embed_w),
        layers,
        norm,
        lm_head,
    };
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
