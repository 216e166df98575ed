//! Bad model inputs fail with clear messages naming the file: missing file, truncated
//! GGUF, truncated safetensors, unsupported architecture.

use crate::support::model::*;
use candle_core::{DType, Device};
use evaluator::model::{self, export_hf::export_gguf_to_hf};

fn err(path: &std::path::Path) -> String {
    match model::load(path, &Device::Cpu, None) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("nope.gguf");
    let e = err(&p);
    println!("{e}");
    assert!(
        e.contains("nope.gguf") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn truncated_gguf() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(test_model()).unwrap();
    for keep in [2, 1000, bytes.len() / 2, bytes.len() - 1] {
        let p = tmp.path().join("cut.gguf");
        std::fs::write(&p, &bytes[..keep]).unwrap();
        let e = err(&p);
        println!("{keep} bytes: {e}");
        assert!(e.contains("cut.gguf"), "{e}");
        if keep > 1000 {
            assert!(e.contains("truncated"), "{e}");
        }
    }
}

#[test]
fn truncated_safetensors_and_bad_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hf");
    let st = export_gguf_to_hf(&test_model(), &dir, DType::BF16).unwrap();
    model::load(&dir, &Device::Cpu, None).unwrap();

    // Unsupported architecture: the message lists the supported ones.
    let cfg_path = dir.join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(
        &cfg_path,
        cfg.replace("LlamaForCausalLM", "FalconForCausalLM"),
    )
    .unwrap();
    let e = err(&dir);
    println!("{e}");
    assert!(
        e.contains("config.json")
            && e.contains("FalconForCausalLM")
            && e.contains(&model::SUPPORTED_HF_ARCHITECTURES.join(", ")),
        "{e}"
    );
    std::fs::write(&cfg_path, &cfg).unwrap();

    // No config.json.
    std::fs::rename(&cfg_path, dir.join("x.json")).unwrap();
    let e = err(&dir);
    println!("{e}");
    assert!(e.contains("config.json"), "{e}");
    std::fs::rename(dir.join("x.json"), &cfg_path).unwrap();

    // Truncated safetensors.
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() - 100]).unwrap();
    let e = err(&dir);
    println!("{e}");
    assert!(e.contains("model.safetensors"), "{e}");
    std::fs::write(&st, &bytes[..4]).unwrap();
    let e = err(&dir);
    println!("{e}");
    assert!(e.contains("model.safetensors"), "{e}");
}

#[test]
fn unsupported_gguf_architecture() {
    // Rewrite general.architecture of the test model's header ("llama" -> "llamx" keeps
    // every length), so everything else is a real GGUF.
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(test_model()).unwrap();
    let key = b"general.architecture";
    let pos = bytes.windows(key.len()).position(|w| w == key).unwrap();
    // key, then u32 type (8 = string), u64 length, value.
    let v = pos + key.len() + 4 + 8;
    assert_eq!(&bytes[v..v + 5], b"llama");
    bytes[v + 4] = b'x';
    let p = tmp.path().join("other.gguf");
    std::fs::write(&p, &bytes).unwrap();
    let e = err(&p);
    println!("{e}");
    assert!(
        e.contains("other.gguf") && e.contains("llamx") && e.contains("gemma3, llama, qwen2"),
        "{e}"
    );

    // `evaluator run` refuses the architecture before it reads the tokenizer: with the
    // tokenizer model also unknown (`gpt2` -> `gptx`), the message is still the
    // architecture's.
    let key = b"tokenizer.ggml.model";
    let pos = bytes.windows(key.len()).position(|w| w == key).unwrap();
    let v = pos + key.len() + 4 + 8;
    assert_eq!(&bytes[v..v + 4], b"gpt2");
    bytes[v + 3] = b'x';
    std::fs::write(&p, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evaluator"))
        .args(["run", "--model"])
        .arg(&p)
        .args(["--tasks", "winogrande", "--limit", "1", "--output"])
        .arg(tmp.path().join("results"))
        .env("LEADERBOARD_CACHE", tmp.path().join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "GGUF architecture \"llamx\" is not supported (supported: gemma, gemma2, gemma3, llama, qwen2)"
        )
            && !stderr.contains("tokenizer"),
        "{stderr}"
    );
}
