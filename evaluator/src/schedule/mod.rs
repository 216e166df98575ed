//! Shared-prefix scheduling: every distinct token prefix of a task's log-likelihood requests is forwarded once.
//!
//! lm-evaluation-harness forwards each request's whole input on its own (reusing logits
//! only for identical inputs). Here a task's requests, tokenized per spec §3, go into a
//! radix tree ([`trie`]); [`plan`] groups its nodes into packed batches, depth first;
//! [`steps`] picks the forwards a (resumed) run needs and [`mod@execute`] runs them,
//! forwarding each edge once after a clone of its parent's KV cache and scoring every
//! continuation token on that edge. An MMLU subject's 5-shot prefix is thus run once for
//! all its questions, one forward of a question scores all four " A".." D", and the
//! choices of ARC, HellaSwag and TruthfulQA share their context. [`answer`] ties this to the task layer, the
//! resumable [`crate::schedule::journal`] and a progress bar; [`generation`] runs a
//! task's generation requests in groups.
//!
//! Numerics: a prefix run in one chunk and its continuation run after the cache give the
//! same logits as one forward of the whole input up to float rounding (different matmul
//! shapes); so do sequences packed into one batched forward ([`plan::plan`]).
//! `tests/schedule_equivalence.rs` states and checks the tolerance on the real model.
//! The batches are a pure function of the trie and the batch budget, which is part of a
//! resumable run's key; a resumed run forwards only the unanswered requests' part of each
//! batch and computes bit-identical scores (see [`steps`]).

pub mod answer;
pub mod execute;
pub mod generation;
pub mod journal;
pub mod plan;
pub mod resume;
mod shard;
pub mod steps;
#[cfg(test)]
mod testing;
pub mod trie;

pub use answer::{answer_task, AnswerOptions, AnswerStats, Answered, Backend};
pub use execute::{execute, execute_unshared, Done, ExecStats};
pub use plan::{cache_peak, CachePeak};
pub use trie::{Counts, Trie};
