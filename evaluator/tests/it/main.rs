//! The evaluator's integration tests, in one binary: one module per subject, helpers in
//! [`support`], and the tests that run the test model through many forwards (whole
//! `evaluator run`s, scheduler equivalence, throughput) under [`slow`], so that
//! `cargo test -- --skip slow` is the quick run. Data come from the repository's
//! `data/benchmarks`, reference outputs and the task spec from `tests/fixtures`.
//!
//! Tests that change process-wide state or measure the process's memory run in a
//! process of their own ([`support::in_own_process`]).

mod alloc_release;
mod check_cli;
mod hub_datasets;
mod hub_env;
mod hub_models;
mod model_architectures;
mod model_errors;
mod model_kv_cache;
mod model_llama_cpp;
mod model_qmatmul;
mod model_reference;
mod model_safetensors;
mod slow;
mod support;
mod tasks_cli;
mod tasks_cpython_crosscheck;
mod tasks_data_errors;
mod tasks_fewshot;
mod tasks_lm_eval_samples;
mod tasks_metrics;
mod tasks_prompts;
mod tasks_random;
mod tasks_render_all;
mod tokenizer_gguf;
mod tokenizer_harness;
