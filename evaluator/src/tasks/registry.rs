//! Looking tasks up in the registry, [`TASKS`] (declared in `tasks/mod.rs`: one
//! line per task, naming its file, whose [`TaskSpec`] it lists). Everything else
//! (the data layer's counts and Hub sources, building, scoring) reads the specs
//! through these.

use super::spec::TaskSpec;
pub use super::TASKS;
use leaderboard_format::schema::Benchmark;

/// The task with id `id`.
pub fn find(id: &str) -> Option<&'static TaskSpec> {
    TASKS.iter().copied().find(|t| t.id == id)
}

/// The task that reports leaderboard column `b`.
pub fn of_benchmark(b: Benchmark) -> &'static TaskSpec {
    TASKS
        .iter()
        .copied()
        .find(|t| t.benchmark == b)
        .unwrap_or_else(|| panic!("no task reports {b:?}: add its spec to TASKS"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Suite;
    use crate::tasks::spec::Fewshot;

    /// The specs agree with the results format's facts about their columns.
    #[test]
    fn specs_agree_with_the_format_crate() {
        for b in Benchmark::ALL {
            let t = of_benchmark(b);
            assert_eq!(t.id, b.task());
            assert_eq!(find(t.id).map(|f| f.id), Some(t.id));
            let eval = t.split(t.eval_split).expect("eval split declared");
            assert_eq!(eval.count as i64, b.n_docs(), "{}", t.id);
            let shots = match t.fewshot {
                Fewshot::ZeroShot => 0,
                Fewshot::FirstN { pool, shots } | Fewshot::Random { pool, shots, .. } => {
                    assert!(t.split(pool).is_some(), "{}: pool {pool}", t.id);
                    shots
                }
            };
            assert_eq!(shots as i32, b.num_fewshot(), "{}", t.id);
            for suite in Suite::ALL {
                let h = (t.headline)(suite);
                assert!((t.metrics)(suite).contains(&h), "{} {suite}", t.id);
                assert!(b.headline_metrics().contains(&h), "{} {suite}", t.id);
            }
        }
        assert_eq!(TASKS.len(), Benchmark::ALL.len());
    }
}
