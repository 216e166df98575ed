//! The model's tokenizer: a Hugging Face `tokenizer.json` or one rebuilt from GGUF metadata.
//!
//! [`Tokenizer::for_model`] finds the tokenizer of a model path: `tokenizer.json`
//! (plus `tokenizer_config.json` for the BOS/EOS strings and `add_bos_token`)
//! in a Hugging Face folder, or the `tokenizer.ggml.*` metadata of a `.gguf`
//! file ([`gguf`]). Encoding never adds special tokens by itself: the harness
//! calls `encode(s, add_special_tokens=False)` and decides BOS per suite
//! (spec §3), which [`crate::tokenizer::harness`] does.

pub mod gguf;
pub mod harness;

use std::path::{Path, PathBuf};

/// Why a tokenizer could not be loaded or does not fit the model.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a usable tokenizer.json: {msg}", path.display())]
    Json { path: PathBuf, msg: String },
    #[error("{}: bad GGUF tokenizer metadata: {msg}", path.display())]
    Gguf { path: PathBuf, msg: String },
    #[error("{}: unsupported tokenizer: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error(
        "tokenizer {tokenizer} does not match the model {model}: the tokenizer has token ids up \
         to {max_id} but the model's embedding has only {model_vocab} rows"
    )]
    VocabMismatch {
        tokenizer: String,
        model: String,
        max_id: u32,
        model_vocab: usize,
    },
    #[error("tokenizer {source_name}: {msg}")]
    Encode { source_name: String, msg: String },
}

/// A loaded tokenizer and the special-token facts the harness needs.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Where it came from (for messages and results provenance).
    pub source: PathBuf,
    pub bos_token_id: Option<u32>,
    pub eos_token_id: Option<u32>,
    /// The EOS token's text (the harness adds it to GSM8K's stop strings).
    pub eos_token: Option<String>,
    /// Whether the tokenizer adds BOS by default (`add_bos_token`); used by
    /// suites that follow the tokenizer's default (lm-eval ≥ 0.4.9.2).
    pub add_bos_default: bool,
    /// transformers' `clean_up_tokenization_spaces` applied by
    /// [`Tokenizer::decode_text`]: `tokenizer_config.json`'s value, true when
    /// it is absent (the transformers 4.x default); false for GGUF (llama.cpp
    /// does not clean up, and the flag is not stored in GGUF).
    pub clean_up_tokenization_spaces: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("source", &self.source)
            .field("vocab_size", &self.vocab_size())
            .field("bos_token_id", &self.bos_token_id)
            .field("eos_token_id", &self.eos_token_id)
            .field("add_bos_default", &self.add_bos_default)
            .finish()
    }
}

impl Tokenizer {
    /// The tokenizer of the model at `path`: a `.gguf` file (rebuilt from its
    /// metadata) or a Hugging Face folder (its `tokenizer.json`).
    pub fn for_model(path: &Path) -> Result<Self, TokenizerError> {
        if path.is_dir() {
            let tj = path.join("tokenizer.json");
            if !tj.is_file() {
                return Err(TokenizerError::Unsupported {
                    path: path.to_path_buf(),
                    what: "the model folder has no tokenizer.json (only fast tokenizers are \
                           supported); pass one with --tokenizer"
                        .into(),
                });
            }
            Self::from_tokenizer_json(&tj)
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            Self::from_gguf(path)
        } else if path.exists() {
            Self::from_tokenizer_json(path)
        } else {
            Err(TokenizerError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            })
        }
    }

    /// Rebuilds the tokenizer stored in a GGUF file's metadata.
    pub fn from_gguf(path: &Path) -> Result<Self, TokenizerError> {
        let rebuilt = gguf::rebuild_from_file(path)?;
        let text = rebuilt.tokenizer_json.to_string();
        let inner: tokenizers::Tokenizer = text.parse().map_err(|e| TokenizerError::Gguf {
            path: path.to_path_buf(),
            msg: format!("the rebuilt tokenizer does not load: {e}"),
        })?;
        let eos_token = rebuilt.special.eos.and_then(|id| inner.id_to_token(id));
        Ok(Tokenizer {
            inner,
            source: path.to_path_buf(),
            bos_token_id: rebuilt.special.bos,
            eos_token_id: rebuilt.special.eos,
            eos_token,
            add_bos_default: rebuilt.special.add_bos,
            clean_up_tokenization_spaces: false,
        })
    }

    /// Loads a `tokenizer.json`; BOS/EOS come from a `tokenizer_config.json`
    /// beside it when there is one.
    pub fn from_tokenizer_json(path: &Path) -> Result<Self, TokenizerError> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenizerError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let inner: tokenizers::Tokenizer = text.parse().map_err(|e| TokenizerError::Json {
            path: path.to_path_buf(),
            msg: format!("{e}"),
        })?;
        let mut tok = Tokenizer {
            inner,
            source: path.to_path_buf(),
            bos_token_id: None,
            eos_token_id: None,
            eos_token: None,
            add_bos_default: false,
            clean_up_tokenization_spaces: true,
        };
        let config = path.with_file_name("tokenizer_config.json");
        if config.is_file() {
            tok.apply_tokenizer_config(&config)?;
        }
        Ok(tok)
    }

    /// Reads `bos_token`, `eos_token` and `add_bos_token` from a
    /// `tokenizer_config.json` (strings or `{"content": …}` objects).
    fn apply_tokenizer_config(&mut self, path: &Path) -> Result<(), TokenizerError> {
        let bad = |msg: String| TokenizerError::Json {
            path: path.to_path_buf(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| TokenizerError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let token_text = |key: &str| -> Option<String> {
            match v.get(key)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
                _ => None,
            }
        };
        if let Some(bos) = token_text("bos_token") {
            self.bos_token_id = Some(self.inner.token_to_id(&bos).ok_or_else(|| {
                bad(format!(
                    "bos_token {bos:?} is not in the tokenizer's vocabulary"
                ))
            })?);
        }
        if let Some(eos) = token_text("eos_token") {
            self.eos_token_id = Some(self.inner.token_to_id(&eos).ok_or_else(|| {
                bad(format!(
                    "eos_token {eos:?} is not in the tokenizer's vocabulary"
                ))
            })?);
            self.eos_token = Some(eos);
        }
        match v.get("clean_up_tokenization_spaces") {
            Some(serde_json::Value::Bool(b)) => self.clean_up_tokenization_spaces = *b,
            Some(serde_json::Value::Null) | None => {}
            Some(other) => {
                return Err(bad(format!(
                    "clean_up_tokenization_spaces: expected a bool, got {other}"
                )))
            }
        }
        match v.get("add_bos_token") {
            Some(serde_json::Value::Bool(b)) => self.add_bos_default = *b,
            Some(serde_json::Value::Null) | None => {
                // No explicit flag: the post-processor decides (Llama-style templates add BOS).
                self.add_bos_default = self.bos_token_id.is_some_and(|bos| {
                    self.inner
                        .encode_fast("a", true)
                        .map(|e| e.get_ids().first() == Some(&bos))
                        .unwrap_or(false)
                });
            }
            Some(other) => return Err(bad(format!("add_bos_token: expected a bool, got {other}"))),
        }
        Ok(())
    }

    /// Token ids of `text`, no special tokens added (special-token strings in
    /// the text are still matched, as in Hugging Face tokenizers).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        self.inner
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| self.encode_error(e))
    }

    /// Text of `ids`; `skip_special` drops special tokens (the harness decodes
    /// generations with `skip_special_tokens=True`).
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, TokenizerError> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| self.encode_error(e))
    }

    /// Text of generated `ids` as transformers' `decode(ids,
    /// skip_special_tokens=True)` gives it: special tokens skipped, then the
    /// tokenization-space clean-up when the tokenizer asks for it.
    pub fn decode_text(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let text = self.decode(ids, true)?;
        Ok(if self.clean_up_tokenization_spaces {
            clean_up_tokenization(&text)
        } else {
            text
        })
    }

    /// Number of tokens, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The highest token id the tokenizer can produce.
    pub fn max_token_id(&self) -> u32 {
        let vocab_max = self.inner.get_vocab(true).values().copied().max();
        vocab_max.unwrap_or(0)
    }

    /// Fails unless every id of the tokenizer indexes a row of a model
    /// embedding with `model_vocab` rows (models may pad their embedding, so
    /// a larger model vocabulary is fine).
    pub fn check_fits_model(&self, model_vocab: usize, model: &Path) -> Result<(), TokenizerError> {
        let max_id = self.max_token_id();
        if max_id as usize >= model_vocab {
            return Err(TokenizerError::VocabMismatch {
                tokenizer: self.source.display().to_string(),
                model: model.display().to_string(),
                max_id,
                model_vocab,
            });
        }
        Ok(())
    }

    /// The id of a token's exact text, if it is one token.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The tokenizer as a Hugging Face `tokenizer.json` document (as the
    /// `tokenizers` crate serializes it: vocabulary in id order).
    pub fn to_tokenizer_json(&self) -> Result<String, TokenizerError> {
        self.inner.to_string(true).map_err(|e| self.encode_error(e))
    }

    /// Writes `tokenizer.json` and a `tokenizer_config.json` carrying the
    /// BOS/EOS strings and `add_bos_token` into `dir`, so that
    /// [`Tokenizer::for_model`] on `dir` gives this tokenizer back.
    pub fn write_hf_files(&self, dir: &Path) -> Result<(), TokenizerError> {
        let io = |path: PathBuf| move |e| TokenizerError::Io { path, source: e };
        let tj = dir.join("tokenizer.json");
        std::fs::write(&tj, self.to_tokenizer_json()?).map_err(io(tj.clone()))?;
        let name = |id: Option<u32>| id.and_then(|i| self.inner.id_to_token(i));
        let config = serde_json::json!({
            "add_bos_token": self.add_bos_default,
            "add_eos_token": false,
            "bos_token": name(self.bos_token_id),
            "eos_token": self.eos_token,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "tokenizer_class": "PreTrainedTokenizerFast",
        });
        let tc = dir.join("tokenizer_config.json");
        let text = serde_json::to_string_pretty(&config).expect("JSON value serializes");
        std::fs::write(&tc, text + "\n").map_err(io(tc.clone()))?;
        Ok(())
    }

    /// The wrapped `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    fn encode_error(&self, e: tokenizers::Error) -> TokenizerError {
        TokenizerError::Encode {
            source_name: self.source.display().to_string(),
            msg: e.to_string(),
        }
    }
}

/// transformers' `PreTrainedTokenizerBase.clean_up_tokenization`.
pub fn clean_up_tokenization(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}
