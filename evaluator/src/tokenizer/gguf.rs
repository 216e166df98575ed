//! Rebuilds a Hugging Face `tokenizer.json` from a GGUF file's `tokenizer.ggml.*` metadata.
//!
//! A GGUF file carries its tokenizer as metadata: the model kind
//! (`tokenizer.ggml.model`), the token strings, their types, the BPE merges,
//! the name of the pre-tokenizer (`tokenizer.ggml.pre`) and the special token
//! ids. This module turns those into the `tokenizer.json` document the
//! model's own Hugging Face tokenizer would have, so that the `tokenizers`
//! crate encodes exactly like it (checked against llama.cpp's test vectors for
//! SmolLM in `tests/it/tokenizer_gguf.rs`).
//!
//! Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE) with one of the
//! pre-tokenizer names in [`SUPPORTED_PRE`]. Each name stands for the
//! normalizer, pre-tokenizer and BPE options of the Hugging Face tokenizers of
//! that family (the names are llama.cpp's, from `convert_hf_to_gguf.py`).
//! Anything else fails with [`TokenizerError::Unsupported`], never silently
//! with a wrong tokenizer.
//!
//! Token types (llama.cpp's `llama_token_type`): 1 normal, 2 unknown,
//! 3 control, 4 user-defined, 5 unused, 6 byte. Control tokens become special
//! added tokens, user-defined ones non-special added tokens; both are matched
//! whole in the input text, as the Hugging Face tokenizer does.

use super::TokenizerError;
use candle_core::quantized::gguf_file::Value;
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;
use std::path::Path;

/// `tokenizer.ggml.pre` names this module knows how to rebuild.
pub const SUPPORTED_PRE: [&str; 7] = [
    "gpt2",
    "smollm",
    "starcoder",
    "refact",
    "llama-bpe",
    "llama3",
    "qwen2",
];

/// Llama 3's split regex (its `tokenizer.json` pre-tokenizer `Split`).
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's split regex: Llama 3's with single digits.
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const TYPE_CONTROL: i64 = 3;
const TYPE_USER_DEFINED: i64 = 4;

/// The special-token facts read next to the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialIds {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (the tokenizer's own default).
    pub add_bos: bool,
}

/// A `tokenizer.json` document plus the special ids, built from GGUF metadata.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub tokenizer_json: Json,
    pub special: SpecialIds,
    pub vocab_size: usize,
}

/// Reads only the metadata of the GGUF file at `path` and rebuilds its tokenizer.
pub fn rebuild_from_file(path: &Path) -> Result<Rebuilt, TokenizerError> {
    let file = std::fs::File::open(path).map_err(|e| TokenizerError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut reader = std::io::BufReader::new(file);
    let content = candle_core::quantized::gguf_file::Content::read(&mut reader).map_err(|e| {
        TokenizerError::Gguf {
            path: path.to_path_buf(),
            msg: format!("cannot read the GGUF header and metadata: {e}"),
        }
    })?;
    rebuild(path, &content.metadata)
}

/// Rebuilds the tokenizer from already-read GGUF metadata; `path` is for messages.
pub fn rebuild(path: &Path, md: &HashMap<String, Value>) -> Result<Rebuilt, TokenizerError> {
    let err = |msg: String| TokenizerError::Gguf {
        path: path.to_path_buf(),
        msg,
    };
    let model = get_str(md, "tokenizer.ggml.model").map_err(err)?;
    if model != "gpt2" {
        return Err(TokenizerError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "tokenizer.ggml.model = {model:?}; only \"gpt2\" (byte-level BPE) can be rebuilt \
                 from GGUF metadata here. Pass the model's own tokenizer.json with --tokenizer"
            ),
        });
    }
    let pre = match md.get("tokenizer.ggml.pre") {
        Some(v) => v
            .to_string()
            .map_err(|e| err(format!("tokenizer.ggml.pre: {e}")))?
            .clone(),
        None => "default".to_string(),
    };
    let (normalizer, pre_tokenizer, ignore_merges) =
        pre_tokenizer_for(&pre).ok_or_else(|| TokenizerError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "tokenizer.ggml.pre = {pre:?} is not a known pre-tokenizer (supported: {}). \
                 Pass the model's own tokenizer.json with --tokenizer",
                SUPPORTED_PRE.join(", ")
            ),
        })?;

    let tokens = get_array(md, "tokenizer.ggml.tokens").map_err(err)?;
    let tokens: Vec<&str> = tokens
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.as_str()),
            other => Err(err(format!(
                "tokenizer.ggml.tokens[{i}]: expected a string, got {:?}",
                other.value_type()
            ))),
        })
        .collect::<Result<_, _>>()?;
    if tokens.is_empty() {
        return Err(err("tokenizer.ggml.tokens is empty".into()));
    }
    let types: Vec<i64> = match md.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(|e| err(format!("tokenizer.ggml.token_type: {e}")))?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                int_value(v).ok_or_else(|| {
                    err(format!(
                        "tokenizer.ggml.token_type[{i}]: expected an integer, got {:?}",
                        v.value_type()
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        None => vec![1; tokens.len()],
    };
    if types.len() != tokens.len() {
        return Err(err(format!(
            "tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
            types.len(),
            tokens.len()
        )));
    }
    let merges = get_array(md, "tokenizer.ggml.merges").map_err(err)?;
    let mut merge_pairs = Vec::with_capacity(merges.len());
    for (i, m) in merges.iter().enumerate() {
        let Value::String(s) = m else {
            return Err(err(format!(
                "tokenizer.ggml.merges[{i}]: expected a string, got {:?}",
                m.value_type()
            )));
        };
        // llama.cpp splits at the first space after the first character.
        let cut = s
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == ' ')
            .map(|(p, _)| p)
            .ok_or_else(|| {
                err(format!(
                    "tokenizer.ggml.merges[{i}] = {s:?}: expected two tokens separated by a space"
                ))
            })?;
        merge_pairs.push(json!([&s[..cut], &s[cut + 1..]]));
    }

    let n = tokens.len();
    let id_key = |key: &str| -> Result<Option<u32>, TokenizerError> {
        match md.get(key) {
            None => Ok(None),
            Some(v) => {
                let id = int_value(v)
                    .ok_or_else(|| err(format!("{key}: expected an integer token id")))?;
                if id < 0 || id as usize >= n {
                    // llama.cpp writes -1 / out-of-range for "none" in a few files.
                    if id == -1 {
                        return Ok(None);
                    }
                    return Err(err(format!(
                        "{key} = {id} is outside the vocabulary of {n} tokens"
                    )));
                }
                Ok(Some(id as u32))
            }
        }
    };
    let special = SpecialIds {
        bos: id_key("tokenizer.ggml.bos_token_id")?,
        eos: id_key("tokenizer.ggml.eos_token_id")?,
        unk: id_key("tokenizer.ggml.unknown_token_id")?,
        pad: id_key("tokenizer.ggml.padding_token_id")?,
        add_bos: match md.get("tokenizer.ggml.add_bos_token") {
            Some(v) => v
                .to_bool()
                .map_err(|e| err(format!("tokenizer.ggml.add_bos_token: {e}")))?,
            None => false,
        },
    };

    let mut vocab = Map::with_capacity(n);
    let mut added = Vec::new();
    for (id, (&tok, &ty)) in tokens.iter().zip(&types).enumerate() {
        if vocab.insert(tok.to_string(), json!(id)).is_some() {
            return Err(err(format!(
                "tokenizer.ggml.tokens[{id}] = {tok:?} repeats an earlier token; \
                 a BPE vocabulary needs unique tokens"
            )));
        }
        if ty == TYPE_CONTROL || ty == TYPE_USER_DEFINED {
            let special = ty == TYPE_CONTROL;
            added.push(json!({
                "id": id,
                "content": tok,
                "single_word": false,
                "lstrip": false,
                "rstrip": false,
                "normalized": !special,
                "special": special,
            }));
        }
    }

    let byte_level_post = json!({
        "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true
    });
    let post_processor =
        match (special.add_bos, special.bos) {
            (true, Some(bos)) => {
                let bos_tok = tokens[bos as usize];
                json!({
                    "type": "Sequence",
                    "processors": [
                        byte_level_post,
                        {
                            "type": "TemplateProcessing",
                            "single": [
                                {"SpecialToken": {"id": bos_tok, "type_id": 0}},
                                {"Sequence": {"id": "A", "type_id": 0}}
                            ],
                            "pair": [
                                {"SpecialToken": {"id": bos_tok, "type_id": 0}},
                                {"Sequence": {"id": "A", "type_id": 0}},
                                {"SpecialToken": {"id": bos_tok, "type_id": 1}},
                                {"Sequence": {"id": "B", "type_id": 1}}
                            ],
                            "special_tokens": {
                                bos_tok: {"id": bos_tok, "ids": [bos], "tokens": [bos_tok]}
                            }
                        }
                    ]
                })
            }
            (true, None) => return Err(err(
                "tokenizer.ggml.add_bos_token is true but there is no tokenizer.ggml.bos_token_id"
                    .into(),
            )),
            (false, _) => byte_level_post,
        };

    let tokenizer_json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": ignore_merges,
            "vocab": vocab,
            "merges": merge_pairs,
        }
    });
    Ok(Rebuilt {
        tokenizer_json,
        special,
        vocab_size: n,
    })
}

/// `(normalizer, pre_tokenizer, ignore_merges)` of the Hugging Face tokenizers
/// that llama.cpp names `pre`.
fn pre_tokenizer_for(pre: &str) -> Option<(Json, Json, bool)> {
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let split = |regex: &str| json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false});
    Some(match pre {
        // GPT-2 and its copies: the byte-level regex only.
        "gpt2" => (Json::Null, byte_level(true), false),
        // StarCoder / SmolLM family: every digit on its own, then GPT-2's regex.
        "smollm" | "starcoder" | "refact" => (
            Json::Null,
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true},
                byte_level(true)
            ]}),
            false,
        ),
        // Llama 3: one regex, then byte-level without its own regex; merges ignored
        // for whole-word vocabulary hits.
        "llama-bpe" | "llama3" => (
            Json::Null,
            json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(false)]}),
            true,
        ),
        // Qwen2 / Qwen2.5: NFC, then single digits and the Llama-3-like regex.
        "qwen2" => (
            json!({"type": "NFC"}),
            json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(false)]}),
            false,
        ),
        _ => return None,
    })
}

fn get_str<'a>(md: &'a HashMap<String, Value>, key: &str) -> Result<&'a str, String> {
    match md.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(format!(
            "{key}: expected a string, got {:?}",
            v.value_type()
        )),
        None => Err(format!(
            "{key} is missing: the file carries no tokenizer; pass one with --tokenizer"
        )),
    }
}

fn get_array<'a>(md: &'a HashMap<String, Value>, key: &str) -> Result<&'a [Value], String> {
    match md.get(key) {
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(format!(
            "{key}: expected an array, got {:?}",
            v.value_type()
        )),
        None => Err(format!("{key} is missing")),
    }
}

fn int_value(v: &Value) -> Option<i64> {
    Some(match *v {
        Value::U8(x) => x as i64,
        Value::I8(x) => x as i64,
        Value::U16(x) => x as i64,
        Value::I16(x) => x as i64,
        Value::U32(x) => x as i64,
        Value::I32(x) => x as i64,
        Value::U64(x) => i64::try_from(x).ok()?,
        Value::I64(x) => x,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(model: &str, pre: &str) -> HashMap<String, Value> {
        let s = |x: &str| Value::String(x.to_string());
        let tokens = ["<|endoftext|>", "a", "b", "ab", "Ġ", "Ġab", "1", "2"];
        let mut m = HashMap::new();
        m.insert("tokenizer.ggml.model".into(), s(model));
        m.insert("tokenizer.ggml.pre".into(), s(pre));
        m.insert(
            "tokenizer.ggml.tokens".into(),
            Value::Array(tokens.iter().map(|t| s(t)).collect()),
        );
        m.insert(
            "tokenizer.ggml.token_type".into(),
            Value::Array(
                (0..tokens.len())
                    .map(|i| Value::I32(if i == 0 { 3 } else { 1 }))
                    .collect(),
            ),
        );
        m.insert(
            "tokenizer.ggml.merges".into(),
            Value::Array(vec![s("a b"), s("Ġ ab")]),
        );
        m.insert("tokenizer.ggml.eos_token_id".into(), Value::U32(0));
        m
    }

    fn load(m: &HashMap<String, Value>) -> tokenizers::Tokenizer {
        let r = rebuild(Path::new("t.gguf"), m).unwrap();
        r.tokenizer_json.to_string().parse().unwrap()
    }

    #[test]
    fn every_known_pre_tokenizer_builds_a_working_tokenizer() {
        for pre in SUPPORTED_PRE {
            let t = load(&md("gpt2", pre));
            let ids = t.encode_fast("ab ab", false).unwrap().get_ids().to_vec();
            assert_eq!(ids, vec![3, 5], "{pre}");
            let ids = t
                .encode_fast("<|endoftext|>12", false)
                .unwrap()
                .get_ids()
                .to_vec();
            assert_eq!(ids, vec![0, 6, 7], "{pre}");
        }
    }

    #[test]
    fn add_bos_token_makes_the_default_add_bos() {
        let mut m = md("gpt2", "llama-bpe");
        m.insert("tokenizer.ggml.bos_token_id".into(), Value::U32(0));
        m.insert("tokenizer.ggml.add_bos_token".into(), Value::Bool(true));
        let t = load(&m);
        assert_eq!(t.encode_fast("ab", true).unwrap().get_ids(), &[0, 3]);
        assert_eq!(t.encode_fast("ab", false).unwrap().get_ids(), &[3]);
    }

    #[test]
    fn unknown_tokenizers_fail_clearly() {
        let err = rebuild(Path::new("t.gguf"), &md("gpt2", "default"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.gguf") && err.contains("\"default\"") && err.contains("smollm"),
            "{err}"
        );
        let err = rebuild(Path::new("t.gguf"), &md("llama", "default"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokenizer.ggml.model = \"llama\""), "{err}");
        let mut m = md("gpt2", "gpt2");
        m.remove("tokenizer.ggml.merges");
        let err = rebuild(Path::new("t.gguf"), &m).unwrap_err().to_string();
        assert!(err.contains("tokenizer.ggml.merges is missing"), "{err}");
        let mut m = md("gpt2", "gpt2");
        m.insert("tokenizer.ggml.eos_token_id".into(), Value::U32(99));
        let err = rebuild(Path::new("t.gguf"), &m).unwrap_err().to_string();
        assert!(err.contains("outside the vocabulary"), "{err}");
    }
}
