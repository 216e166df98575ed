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
//! And `tokenizer.ggml.model = "llama"`: SentencePiece BPE (Llama 2, Mistral v0.1,
//! Gemma), rebuilt from the token scores ([`rebuild_spm`]; checked against llama.cpp's
//! tokenizer on Gemma 3 in `tests/it/tokenizer_gguf.rs`).
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
    match model {
        "gpt2" => rebuild_bpe(path, md),
        "llama" => rebuild_spm(path, md),
        _ => Err(TokenizerError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "tokenizer.ggml.model = {model:?}; only \"gpt2\" (byte-level BPE) and \"llama\" \
                 (SentencePiece BPE) can be rebuilt from GGUF metadata here. Pass the model's \
                 own tokenizer.json with --tokenizer"
            ),
        }),
    }
}

/// The vocabulary part every GGUF tokenizer has: token strings, their types (unique
/// strings checked), the special ids.
struct Vocab<'a> {
    tokens: Vec<&'a str>,
    types: Vec<i64>,
    special: SpecialIds,
}

fn read_vocab<'a>(
    path: &Path,
    md: &'a HashMap<String, Value>,
) -> Result<Vocab<'a>, TokenizerError> {
    let err = |msg: String| TokenizerError::Gguf {
        path: path.to_path_buf(),
        msg,
    };
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
        add_bos: get_bool(md, "tokenizer.ggml.add_bos_token", false).map_err(err)?,
    };
    Ok(Vocab {
        tokens,
        types,
        special,
    })
}

impl Vocab<'_> {
    /// The token → id map (a repeated token is an error: a BPE vocabulary needs unique
    /// tokens) and the added tokens: control tokens special, user-defined ones not.
    fn vocab_and_added(
        &self,
        path: &Path,
    ) -> Result<(Map<String, Json>, Vec<Json>), TokenizerError> {
        let mut vocab = Map::with_capacity(self.tokens.len());
        let mut added = Vec::new();
        for (id, (&tok, &ty)) in self.tokens.iter().zip(&self.types).enumerate() {
            if vocab.insert(tok.to_string(), json!(id)).is_some() {
                return Err(TokenizerError::Gguf {
                    path: path.to_path_buf(),
                    msg: format!(
                        "tokenizer.ggml.tokens[{id}] = {tok:?} repeats an earlier token; \
                         a BPE vocabulary needs unique tokens"
                    ),
                });
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
        Ok((vocab, added))
    }

    /// `inner` followed, when the tokenizer adds BOS by default, by a template that
    /// prepends it.
    fn post_processor(&self, path: &Path, inner: Option<Json>) -> Result<Json, TokenizerError> {
        match (self.special.add_bos, self.special.bos) {
            (true, Some(bos)) => {
                let bos_tok = self.tokens[bos as usize];
                let template = json!({
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
                });
                Ok(match inner {
                    Some(inner) => json!({"type": "Sequence", "processors": [inner, template]}),
                    None => template,
                })
            }
            (true, None) => Err(TokenizerError::Gguf {
                path: path.to_path_buf(),
                msg: "tokenizer.ggml.add_bos_token is true but there is no \
                      tokenizer.ggml.bos_token_id"
                    .into(),
            }),
            (false, _) => Ok(inner.unwrap_or(Json::Null)),
        }
    }
}

/// `tokenizer.ggml.model = "gpt2"`: byte-level BPE with the stored merges.
fn rebuild_bpe(path: &Path, md: &HashMap<String, Value>) -> Result<Rebuilt, TokenizerError> {
    let err = |msg: String| TokenizerError::Gguf {
        path: path.to_path_buf(),
        msg,
    };
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
    let v = read_vocab(path, md)?;
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
    let (vocab, added) = v.vocab_and_added(path)?;
    let byte_level_post = json!({
        "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true
    });
    let post_processor = v.post_processor(path, Some(byte_level_post))?;
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
        vocab_size: v.tokens.len(),
        special: v.special,
    })
}

/// `tokenizer.ggml.model = "llama"`: a SentencePiece BPE model (Llama 2, Mistral v0.1,
/// Gemma) as llama.cpp runs it: spaces become `▁` (with `tokenizer.ggml.add_space_prefix`,
/// default true, one more in front of the text), then, starting from single characters,
/// the adjacent pair whose concatenation is the vocabulary token of highest
/// `tokenizer.ggml.scores` value merges first (the leftmost on a tie); a character outside
/// the vocabulary becomes its UTF-8 bytes' `<0xXX>` tokens.
///
/// As a `tokenizer.json` that is what transformers' slow-to-fast conversion builds: a BPE
/// model with byte fallback and no pre-tokenizer, whose merges are every pair of tokens
/// that concatenate to a token, ranked by that token's score (highest first; for one
/// token its splits by the ids of their halves).
fn rebuild_spm(path: &Path, md: &HashMap<String, Value>) -> Result<Rebuilt, TokenizerError> {
    let err = |msg: String| TokenizerError::Gguf {
        path: path.to_path_buf(),
        msg,
    };
    let v = read_vocab(path, md)?;
    let scores: Vec<f32> = get_array(md, "tokenizer.ggml.scores")
        .map_err(err)?
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::F32(f) => Ok(*f),
            Value::F64(f) => Ok(*f as f32),
            other => Err(err(format!(
                "tokenizer.ggml.scores[{i}]: expected a number, got {:?}",
                other.value_type()
            ))),
        })
        .collect::<Result<_, _>>()?;
    if scores.len() != v.tokens.len() {
        return Err(err(format!(
            "tokenizer.ggml.scores has {} entries but tokenizer.ggml.tokens has {}",
            scores.len(),
            v.tokens.len()
        )));
    }
    let add_space_prefix = get_bool(md, "tokenizer.ggml.add_space_prefix", true).map_err(err)?;
    let (vocab, added) = v.vocab_and_added(path)?;
    // Every split of every token into two tokens, ranked as transformers ranks them.
    let ids: HashMap<&str, usize> = v.tokens.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut merges: Vec<(f32, usize, usize, usize)> = Vec::new();
    for (id, tok) in v.tokens.iter().enumerate() {
        for (cut, _) in tok.char_indices().skip(1) {
            if let (Some(&l), Some(&r)) = (ids.get(&tok[..cut]), ids.get(&tok[cut..])) {
                merges.push((scores[id], id, l, r));
            }
        }
    }
    // Highest score first; then (as a stable sort of transformers' per-token lists)
    // by the merged token's id, then by the halves' ids.
    merges.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then((a.2, a.3).cmp(&(b.2, b.3)))
    });
    let merge_pairs: Vec<Json> = merges
        .iter()
        .map(|&(_, _, l, r)| json!([v.tokens[l], v.tokens[r]]))
        .collect();
    let replace = json!({"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"});
    let normalizer = if add_space_prefix {
        json!({"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u{2581}"},
            replace
        ]})
    } else {
        replace
    };
    let mut decoders = vec![
        json!({"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "}),
        json!({"type": "ByteFallback"}),
        json!({"type": "Fuse"}),
    ];
    if add_space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    let unk = v.special.unk.map(|id| v.tokens[id as usize]);
    let post_processor = v.post_processor(path, None)?;
    let tokenizer_json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": null,
        "post_processor": post_processor,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": unk,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": true,
            "byte_fallback": true,
            "ignore_merges": false,
            "vocab": vocab,
            "merges": merge_pairs,
        }
    });
    Ok(Rebuilt {
        tokenizer_json,
        vocab_size: v.tokens.len(),
        special: v.special,
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

fn get_bool(md: &HashMap<String, Value>, key: &str, default: bool) -> Result<bool, String> {
    match md.get(key) {
        None => Ok(default),
        Some(v) => v.to_bool().map_err(|e| format!("{key}: {e}")),
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

    /// A SentencePiece vocabulary: the highest-scoring pair merges first, a space is
    /// `▁`, a character outside the vocabulary falls back to its bytes.
    fn spm(add_space_prefix: bool) -> HashMap<String, Value> {
        let s = |x: &str| Value::String(x.to_string());
        let toks = [
            ("<unk>", 2, 0.0),
            ("<s>", 3, 0.0),
            ("</s>", 3, 0.0),
            ("\u{2581}", 1, -5.0),
            ("a", 1, -6.0),
            ("b", 1, -7.0),
            ("ab", 1, -1.0),
            ("\u{2581}ab", 1, -2.0),
            ("\u{2581}a", 1, -3.0),
            ("<0x21>", 6, 0.0),
        ];
        let mut m = HashMap::new();
        m.insert("tokenizer.ggml.model".into(), s("llama"));
        let col =
            |f: &dyn Fn(&(&str, i32, f32)) -> Value| Value::Array(toks.iter().map(f).collect());
        m.insert("tokenizer.ggml.tokens".into(), col(&|t| s(t.0)));
        m.insert(
            "tokenizer.ggml.token_type".into(),
            col(&|t| Value::I32(t.1)),
        );
        m.insert("tokenizer.ggml.scores".into(), col(&|t| Value::F32(t.2)));
        m.insert("tokenizer.ggml.bos_token_id".into(), Value::U32(1));
        m.insert("tokenizer.ggml.unknown_token_id".into(), Value::U32(0));
        m.insert("tokenizer.ggml.add_bos_token".into(), Value::Bool(true));
        m.insert(
            "tokenizer.ggml.add_space_prefix".into(),
            Value::Bool(add_space_prefix),
        );
        m
    }

    #[test]
    fn sentencepiece_vocabularies_merge_by_score() {
        let t = load(&spm(false));
        // a b ▁ a b ! → ab ▁ ab ! (ab scores -1) → ab ▁ab ! (-2; ▁a at -3 loses).
        let ids = t.encode_fast("ab ab!", false).unwrap().get_ids().to_vec();
        assert_eq!(ids, vec![6, 7, 9]);
        assert_eq!(t.encode_fast("ab", true).unwrap().get_ids(), &[1, 6]);
        assert_eq!(t.decode(&[6, 7, 9], false).unwrap(), "ab ab!");
        let t = load(&spm(true));
        let ids = t.encode_fast("ab ab!", false).unwrap().get_ids().to_vec();
        assert_eq!(ids, vec![7, 7, 9]);
        assert_eq!(t.decode(&[7, 7, 9], false).unwrap(), "ab ab!");
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
        let err = rebuild(Path::new("t.gguf"), &md("bert", "default"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokenizer.ggml.model = \"bert\""), "{err}");
        let err = rebuild(Path::new("t.gguf"), &md("llama", "default"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokenizer.ggml.scores is missing"), "{err}");
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
