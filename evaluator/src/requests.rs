//! Request and response types between the task layer and a model backend.
//!
//! A task turns each evaluated document into a [`DocRequests`]: the requests a
//! model must answer, in order, plus what is needed to score the answers
//! ([`Scoring`]). A backend answers every [`Request`] with a [`Response`] of
//! the same kind, in the same order; the task layer then turns the answers into
//! metric values and [`SampleDetail`]s. Nothing here knows about models.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One unit of model work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Score `continuation` given `context` (both raw strings; tokenization,
    /// trailing-whitespace move and truncation per spec §3 are the backend's). The
    /// choices of a question share one `context` allocation (a 10-shot HellaSwag
    /// context is ~3 KB; 40,168 requests would otherwise hold four copies of each).
    LogLikelihood {
        context: Arc<str>,
        continuation: String,
    },
    /// Greedy generation from `context` until one of `until` (or EOS) or
    /// `max_gen_toks` new tokens; the returned text is cut at the earliest stop
    /// string (spec §8.2). The backend adds the tokenizer's EOS itself.
    Generate {
        context: Arc<str>,
        until: Vec<String>,
        max_gen_toks: usize,
    },
}

impl Request {
    /// The context string the model conditions on.
    pub fn context(&self) -> &str {
        match self {
            Request::LogLikelihood { context, .. } | Request::Generate { context, .. } => context,
        }
    }
}

/// A backend's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// Summed log-probability of the continuation tokens, and whether every
    /// continuation token was the argmax.
    LogLikelihood { logprob: f64, is_greedy: bool },
    /// The generated text, already cut at the earliest stop string.
    Generate { text: String },
}

/// How a document's responses become metric values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scoring {
    /// One log-likelihood request per choice: `acc` and `acc_norm`.
    /// `choice_lens[i]` is the code-point length of choice i (without the
    /// leading space), used by acc_norm.
    MultipleChoice {
        gold: usize,
        choice_lens: Vec<usize>,
    },
    /// Winogrande: one request per option, same continuation: `acc` only.
    Partial { gold: usize },
    /// TruthfulQA: the first `mc1_count` requests are the mc1 choices (gold is
    /// the first), the next `mc2_labels.len()` the mc2 choices. `mc1_count` is
    /// 0 under lm-eval-0.4 (its truthfulqa_mc2 task makes only mc2 requests).
    TruthfulQa {
        mc1_count: usize,
        mc2_labels: Vec<u8>,
    },
    /// GSM8K: one generation request; `answer` is the full reference solution.
    Gsm8k { answer: String },
}

/// One document's work: its id (index in the evaluation split, dataset order),
/// its requests in order, and how to score the answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocRequests {
    /// Task id: `arc_challenge`, `hellaswag`, `mmlu_<subject>`, `truthfulqa_mc`,
    /// `winogrande` or `gsm8k`.
    pub task: String,
    /// Index of the document in its evaluation split (for MMLU: within the
    /// subject's test rows), in dataset order.
    pub doc_id: usize,
    /// Few-shot pool indices used for this document (dataset order of the pool;
    /// for MMLU the dev rows 0..k of the subject). Empty when 0-shot.
    pub fewshot: Vec<usize>,
    /// The requests, in order.
    pub requests: Vec<Request>,
    pub scoring: Scoring,
}

impl DocRequests {
    /// The prompt this document is identified by: the context of its first
    /// request (for Winogrande, the context with the first option).
    pub fn prompt(&self) -> &str {
        self.requests.first().map(Request::context).unwrap_or("")
    }

    /// Lower-case hex SHA-256 of [`Self::prompt`]'s UTF-8 bytes.
    pub fn prompt_sha256(&self) -> String {
        sha256_hex(self.prompt())
    }
}

/// Lower-case hex SHA-256 of a string's UTF-8 bytes.
pub fn sha256_hex(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Per-document result, for the details Parquet file (its format is the
/// format crate's).
pub use leaderboard_format::details::SampleDetail;
