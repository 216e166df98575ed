//! The tokenizer rebuilt from the SmolLM2 GGUF gives the Hugging Face tokenizer's ids, and so does its tokenizer.json export.

use crate::support::fixture;
use crate::support::model::test_model;

use evaluator::tokenizer::Tokenizer;

/// llama.cpp's test vectors: cases separated by lines `__ggml_vocab_test__`,
/// each case the text between separators without its final newline; one
/// line of space-separated ids per case in the `.out` file.
fn vocab_cases() -> Vec<(String, Vec<u32>)> {
    let inp = std::fs::read_to_string(fixture("smollm_tokenizer_cases.inp"))
        .expect("reading smollm_tokenizer_cases.inp");
    let out = std::fs::read_to_string(fixture("smollm_tokenizer_cases.out"))
        .expect("reading smollm_tokenizer_cases.out");
    let mut texts: Vec<String> = inp
        .split("\n__ggml_vocab_test__\n")
        .map(str::to_string)
        .collect();
    assert_eq!(
        texts.pop().as_deref(),
        Some(""),
        "the .inp ends with a separator"
    );
    let ids: Vec<Vec<u32>> = out
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| t.parse().expect("token id"))
                .collect()
        })
        .collect();
    assert_eq!(texts.len(), ids.len(), "one .out line per .inp case");
    texts.into_iter().zip(ids).collect()
}

fn reference_items(file: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixture(file)).expect(file);
    let v: serde_json::Value = serde_json::from_str(&text).expect(file);
    v["items"].as_array().expect("items").clone()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("id array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn check_all(tok: &Tokenizer, what: &str) {
    let cases = vocab_cases();
    assert_eq!(cases.len(), 46);
    let mut failures = Vec::new();
    for (i, (text, want)) in cases.iter().enumerate() {
        let got = tok.encode(text).unwrap();
        if &got != want {
            failures.push(format!("case {i} {text:?}: got {got:?}, want {want:?}"));
        }
    }
    // The reference log-prob files: their Hugging Face tokenizer ids (which
    // match special-token text, as the harness's tokenizer does).
    for item in reference_items("smollm2_q4_1_dequant_f32_logprobs_transformers.json") {
        let text = item["text"].as_str().unwrap();
        let got = tok.encode(text).unwrap();
        if got != ids(&item["hf_tokenizer_ids"]) {
            failures.push(format!("reference text {text:?}: got {got:?}"));
        }
    }
    for item in reference_items("smollm2_q4_1_logprobs_llamacpp.json") {
        let text = item["text"].as_str().unwrap();
        if text.contains("<|im_start|>") {
            continue; // llama.cpp tokenized this one without parsing special tokens
        }
        let got = tok.encode(text).unwrap();
        if got != ids(&item["token_ids"]) {
            failures.push(format!("llama.cpp text {text:?}: got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn gguf_tokenizer_matches_the_hf_tokenizer_ids() {
    let tok = Tokenizer::from_gguf(&test_model()).unwrap();
    assert_eq!(tok.vocab_size(), 49152);
    assert_eq!(tok.bos_token_id, Some(1));
    assert_eq!(tok.eos_token_id, Some(2));
    assert_eq!(tok.eos_token.as_deref(), Some("<|im_end|>"));
    assert!(!tok.add_bos_default);
    check_all(&tok, "rebuilt from GGUF");
    // Decoding gives the text back.
    let text = "Ünïcödé: naïve café — 東京 🚀 1234567890";
    assert_eq!(tok.decode(&tok.encode(text).unwrap(), false).unwrap(), text);
}

#[test]
fn exported_tokenizer_json_gives_the_same_ids() {
    let tok = Tokenizer::from_gguf(&test_model()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    tok.write_hf_files(dir.path()).unwrap();
    let back = Tokenizer::for_model(dir.path()).unwrap();
    assert_eq!(back.bos_token_id, Some(1));
    assert_eq!(back.eos_token_id, Some(2));
    assert_eq!(back.eos_token.as_deref(), Some("<|im_end|>"));
    assert!(!back.add_bos_default);
    assert_eq!(back.vocab_size(), 49152);
    check_all(&back, "exported tokenizer.json");
    // The export is deterministic.
    let dir2 = tempfile::tempdir().unwrap();
    back.write_hf_files(dir2.path()).unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(dir2.path().join(f)).unwrap(),
            "{f} differs between two exports"
        );
    }
}

#[test]
fn vocab_mismatch_is_a_clear_error() {
    let tok = Tokenizer::from_gguf(&test_model()).unwrap();
    tok.check_fits_model(49152, "m.gguf".as_ref()).unwrap();
    tok.check_fits_model(49280, "m.gguf".as_ref()).unwrap(); // padded embedding is fine
    let err = tok
        .check_fits_model(32000, "m.gguf".as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not match the model") && err.contains("49151") && err.contains("32000"),
        "{err}"
    );
}

#[test]
fn unusable_gguf_files_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // Missing file.
    let missing = dir.path().join("missing.gguf");
    let err = Tokenizer::for_model(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.gguf"), "{err}");
    // Truncated inside the metadata.
    let bytes = std::fs::read(test_model()).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..200_000]).unwrap();
    let err = Tokenizer::for_model(&cut).unwrap_err().to_string();
    assert!(err.contains("cut.gguf") && err.contains("GGUF"), "{err}");
    // Not a GGUF at all.
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"not a gguf file").unwrap();
    let err = Tokenizer::for_model(&junk).unwrap_err().to_string();
    assert!(err.contains("junk.gguf"), "{err}");
}
