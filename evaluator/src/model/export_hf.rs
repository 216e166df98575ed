//! Writes a GGUF model, dequantized, as a Hugging Face folder (config.json + model.safetensors).
//!
//! Every weight is expanded from its GGUF blocks to f32 and then cast to the requested
//! dtype (f32, f16 or bf16). `llama` GGUF q/k rows are permuted back from llama.cpp's
//! interleaved-rotary layout to Hugging Face's ("rotate half"), so the folder runs with
//! `LlamaForCausalLM` semantics. The tokenizer (tokenizer.json) is not written here.
//! Files are written to temporary names in the folder and renamed into place.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use serde_json::json;

use super::candle_msg;
use super::gguf::{hparams, GgufFile};

/// Inverse of llama.cpp's `permute` of q/k rows: `[heads, hd/2, 2, in]` to `[heads, 2, hd/2, in]`.
fn unpermute(w: &Tensor, heads: usize) -> Result<Tensor> {
    let (out, inp) = w.dims2()?;
    let hd = out / heads;
    Ok(w.reshape((heads, hd / 2, 2, inp))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, inp))?)
}

/// Dequantizes `gguf` into the Hugging Face folder `out_dir` (created if needed), with
/// weights in `dtype`. Returns the path of the written model.safetensors.
pub fn export_gguf_to_hf(gguf: &Path, out_dir: &Path, dtype: DType) -> Result<std::path::PathBuf> {
    if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
        bail!("export: dtype {dtype:?} not supported (f32, f16, bf16)");
    }
    let mut g = GgufFile::open(gguf)?;
    let hp = hparams(&g)?;
    if g.has_tensor("rope_freqs.weight") {
        bail!(
            "{}: export of rope_freqs (Llama 3 scaling) is not supported",
            gguf.display()
        );
    }
    let cfg = &hp.cfg;
    let llama = hp.arch == "llama";
    let dev = Device::Cpu;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut put = |g: &mut GgufFile, from: &str, to: &str, heads: Option<usize>| -> Result<()> {
        let t = g.tensor(from, &dev)?.dequantize(&dev)?;
        let t = match heads {
            Some(h) if llama => unpermute(&t, h)?,
            _ => t,
        };
        tensors.insert(to.to_string(), t.to_dtype(dtype)?);
        Ok(())
    };
    put(
        &mut g,
        "token_embd.weight",
        "model.embed_tokens.weight",
        None,
    )?;
    for i in 0..cfg.n_layers {
        let b = |s: &str| format!("blk.{i}.{s}");
        let m = |s: &str| format!("model.layers.{i}.{s}");
        put(
            &mut g,
            &b("attn_norm.weight"),
            &m("input_layernorm.weight"),
            None,
        )?;
        put(
            &mut g,
            &b("attn_q.weight"),
            &m("self_attn.q_proj.weight"),
            Some(cfg.n_heads),
        )?;
        put(
            &mut g,
            &b("attn_k.weight"),
            &m("self_attn.k_proj.weight"),
            Some(cfg.n_kv_heads),
        )?;
        put(
            &mut g,
            &b("attn_v.weight"),
            &m("self_attn.v_proj.weight"),
            None,
        )?;
        if hp.has_qkv_bias {
            put(&mut g, &b("attn_q.bias"), &m("self_attn.q_proj.bias"), None)?;
            put(&mut g, &b("attn_k.bias"), &m("self_attn.k_proj.bias"), None)?;
            put(&mut g, &b("attn_v.bias"), &m("self_attn.v_proj.bias"), None)?;
        }
        put(
            &mut g,
            &b("attn_output.weight"),
            &m("self_attn.o_proj.weight"),
            None,
        )?;
        put(
            &mut g,
            &b("ffn_norm.weight"),
            &m("post_attention_layernorm.weight"),
            None,
        )?;
        put(
            &mut g,
            &b("ffn_gate.weight"),
            &m("mlp.gate_proj.weight"),
            None,
        )?;
        put(&mut g, &b("ffn_up.weight"), &m("mlp.up_proj.weight"), None)?;
        put(
            &mut g,
            &b("ffn_down.weight"),
            &m("mlp.down_proj.weight"),
            None,
        )?;
    }
    put(&mut g, "output_norm.weight", "model.norm.weight", None)?;
    if !hp.tied_embeddings {
        put(&mut g, "output.weight", "lm_head.weight", None)?;
    }
    let (arch, model_type) = if llama {
        ("LlamaForCausalLM", "llama")
    } else {
        ("Qwen2ForCausalLM", "qwen2")
    };
    let torch_dtype = match dtype {
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
        _ => "float32",
    };
    let config = json!({
        "architectures": [arch],
        "model_type": model_type,
        "hidden_act": "silu",
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": hp.rope_theta,
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": hp.context_length,
        "tie_word_embeddings": hp.tied_embeddings,
        "attention_bias": hp.has_qkv_bias,
        "bos_token_id": hp.bos_token_id,
        "eos_token_id": hp.eos_token_id,
        "torch_dtype": torch_dtype,
    });
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let st_path = out_dir.join("model.safetensors");
    let st_tmp = out_dir.join(".model.safetensors.tmp");
    candle_core::safetensors::save(&tensors, &st_tmp)
        .map_err(|e| anyhow!("writing {}: {}", st_tmp.display(), candle_msg(&e)))?;
    std::fs::rename(&st_tmp, &st_path)
        .with_context(|| format!("renaming to {}", st_path.display()))?;
    let cfg_path = out_dir.join("config.json");
    let cfg_tmp = out_dir.join(".config.json.tmp");
    std::fs::write(&cfg_tmp, serde_json::to_string_pretty(&config)? + "\n")
        .with_context(|| format!("writing {}", cfg_tmp.display()))?;
    std::fs::rename(&cfg_tmp, &cfg_path)
        .with_context(|| format!("renaming to {}", cfg_path.display()))?;
    Ok(st_path)
}
