//! The model architectures the evaluator runs: one list, read by the
//! evaluator (which refuses any other model before loading it), by
//! `leaderboard submit` (which refuses a request it could not run) and by
//! the site's Submit page. Adding an architecture to the evaluator means
//! adding it here; the evaluator's tests check the two agree.

/// Hugging Face `config.json` `architectures` values the evaluator runs.
pub const HF: &[&str] = &[
    "BloomForCausalLM",
    "CohereForCausalLM",
    "GemmaForCausalLM",
    "Gemma2ForCausalLM",
    "Gemma3ForCausalLM",
    "GPT2LMHeadModel",
    "GPTJForCausalLM",
    "GPTNeoXForCausalLM",
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "MixtralForCausalLM",
    "OPTForCausalLM",
    "PhiForCausalLM",
    "Qwen2ForCausalLM",
];

/// GGUF `general.architecture` values the evaluator runs.
pub const GGUF: &[&str] = &["gemma", "gemma2", "gemma3", "llama", "qwen2"];

/// Whether the evaluator runs the Hugging Face architecture `name`.
pub fn is_supported_hf(name: &str) -> bool {
    HF.contains(&name)
}
