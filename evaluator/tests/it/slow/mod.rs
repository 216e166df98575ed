//! The tests that run the test model through many forwards (minutes on two CPU cores
//! together): `evaluator run` end to end (local and from a local Hub, killed and
//! resumed), generation, the scheduler against the one-request path, batch invariance
//! and throughput. `cargo test -- --skip slow` leaves them out.

mod batch_invariance;
mod lm_eval_samples;
mod model_speed;
mod resume_kill9;
mod run_gemma3;
mod run_generate;
mod run_hub;
mod run_smollm;
mod schedule_equivalence;
mod shard_merge;
mod slurm_cluster;
mod verify_run;
mod work_queue;
