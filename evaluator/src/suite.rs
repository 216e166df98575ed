//! The two task suites and everything that differs between them (spec §11):
//! `openllm-v1` (OLD, harness b281b09, what the v1 leaderboard names) and
//! `lm-eval-0.4` (NEW, the 0.4.x YAML harness, reference v0.4.9.2).
//!
//! | | `openllm-v1` | `lm-eval-0.4` |
//! |---|---|---|
//! | doc order | `Random(42).shuffle(docs)`, `--limit` after the shuffle | dataset order |
//! | few-shot RNG | the same `Random(42)`, continuing after the shuffle | `Random(1234)` |
//! | draws | k (k+1-then-drop only for a pool equal to the eval split) | k+1 for standalone hellaswag/winogrande ([`DrawMode::Standalone`]), k in the `openllm` group ([`DrawMode::Group`]) |
//! | BOS | never | tokenizer default (v0.4.9.2+) |
//! | GSM8K stops | `:`, `Question:`, `Question` (+EOS) | `Question:`, `</s>`, `<\|im_end\|>` (+EOS) |
//! | GSM8K metric | `acc` (regex, comma removal, string match) | `exact_match_strict` / `exact_match_flexible` |
//! | TruthfulQA | mc1 + mc2 requests; `mc1`, `mc2` (split-at-first-0 formula) | mc2 requests only; `mc2` (v3 mask formula) |
//! | MMLU k > 5 | capped at the 5 dev rows | error |
//!
//! `lm-eval-0.4` follows v0.4.9.2 (the spec's reference): prompt strings are
//! those of every 0.4.x release except v0.4.2–v0.4.3, whose MMLU description
//! ends in one `\n` instead of two (spec §9); that variant is not modelled.
//! `--limit` applies per task, and each MMLU subject is a task.

use std::fmt;
use std::str::FromStr;

/// Whether the tokenizer adds BOS to contexts (spec §3, "Special tokens").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BosPolicy {
    /// `add_special_tokens=False`: never a BOS token (OLD; NEW before v0.4.9.2).
    Never,
    /// The tokenizer's own default (NEW v0.4.9.2+): BOS for Llama/Mistral-style
    /// tokenizers, skipped when the string already starts with the BOS text.
    TokenizerDefault,
}

/// Few-shot draw count for the NEW suite's hellaswag and winogrande (spec §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrawMode {
    /// The task run on its own (`--tasks hellaswag`): `fewshot_split` None ==
    /// `test_split` None, so k+1 docs are drawn and the eval doc dropped.
    #[default]
    Standalone,
    /// Inside the `openllm` group (`fewshot_split: train`): k docs drawn.
    Group,
}

impl DrawMode {
    /// The name `--fewshot-draws` takes and the run configuration records.
    pub fn name(self) -> &'static str {
        match self {
            DrawMode::Standalone => "standalone",
            DrawMode::Group => "group",
        }
    }
}

impl FromStr for DrawMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standalone" => Ok(DrawMode::Standalone),
            "group" => Ok(DrawMode::Group),
            _ => Err(format!("expected standalone or group, got {s:?}")),
        }
    }
}

/// A task suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// Harness commit b281b09 (OLD in the spec).
    OpenLlmV1,
    /// lm-evaluation-harness 0.4.x (NEW in the spec).
    LmEval04,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::OpenLlmV1, Suite::LmEval04];

    /// The name used on the command line and in `Provenance.suite`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::OpenLlmV1 => "openllm-v1",
            Suite::LmEval04 => "lm-eval-0.4",
        }
    }

    /// Seed of the task's `random.Random` (spec §2.2).
    pub fn seed(self) -> u64 {
        match self {
            Suite::OpenLlmV1 => 42,
            Suite::LmEval04 => 1234,
        }
    }

    /// OLD shuffles the eval docs with the few-shot RNG before anything else.
    pub fn shuffles_docs(self) -> bool {
        self == Suite::OpenLlmV1
    }

    /// BOS policy for D's tokenization.
    pub fn bos(self) -> BosPolicy {
        match self {
            Suite::OpenLlmV1 => BosPolicy::Never,
            Suite::LmEval04 => BosPolicy::TokenizerDefault,
        }
    }

    /// GSM8K stop strings, before the backend adds the tokenizer's EOS string.
    pub fn gsm8k_until(self) -> Vec<String> {
        let v: &[&str] = match self {
            Suite::OpenLlmV1 => &[":", "Question:", "Question"],
            Suite::LmEval04 => &["Question:", "</s>", "<|im_end|>"],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    /// GSM8K `max_gen_toks` (both suites).
    pub fn gsm8k_max_gen_toks(self) -> usize {
        256
    }

    /// Number of tokens of each stop string the early-stop check decodes,
    /// given the stop string's own token count (spec §8.2; the final text is the
    /// same either way).
    pub fn stop_lookback(self, stop_tokens: usize) -> usize {
        match self {
            Suite::OpenLlmV1 => stop_tokens,
            Suite::LmEval04 => stop_tokens + 2,
        }
    }

    /// Whether TruthfulQA also scores the mc1 choices (OLD's `truthfulqa_mc`).
    pub fn truthfulqa_mc1(self) -> bool {
        self == Suite::OpenLlmV1
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Suite::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| format!("expected a suite, one of openllm-v1, lm-eval-0.4; got {s:?}"))
    }
}
