//! The evaluator library: the six Open LLM Leaderboard v1 benchmarks,
//! prompt-exact with lm-evaluation-harness (`evaluator/tests/fixtures/lm-eval-tasks.md`),
//! run on a causal LM. `main.rs` is a thin CLI over [`cmd`].
//!
//! Task layer: [`data`] (datasets) → [`tasks`] (prompts, few-shot draws per
//! [`suite`], using [`random`] and [`pystr`]) → [`requests`] (what a model
//! backend answers) → [`metrics`] (scores and standard errors).

pub mod alloc;
pub mod cmd;
pub mod config;
pub mod data;
/// The per-sample details format (defined in the format crate).
pub use leaderboard_format::details;
pub mod engine;
pub mod generate;
/// Hugging Face Hub access (the `leaderboard-hub` crate, shared with the site crate's `submit`).
pub use leaderboard_hub as hub;
pub mod metrics;
pub mod model;
pub mod profile;
pub mod progress;
pub mod pystr;
pub mod random;
pub mod requests;
pub mod schedule;
pub mod suite;
pub mod tasks;
pub mod tokenizer;
