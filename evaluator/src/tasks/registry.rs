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

/// The task that reports leaderboard column `b` (every column has one: the
/// registry's test checks it).
pub fn of_benchmark(b: Benchmark) -> &'static TaskSpec {
    TASKS
        .iter()
        .copied()
        .find(|t| t.benchmark == Some(b))
        .unwrap_or_else(|| panic!("no task reports {b:?}: add its spec to TASKS"))
}

/// A leaderboard column names its task: `tasks::build(Benchmark::Arc, ..)`.
impl From<Benchmark> for &'static TaskSpec {
    fn from(b: Benchmark) -> &'static TaskSpec {
        of_benchmark(b)
    }
}

/// The leaderboard's tasks (those reporting one of the six columns), in column
/// order: what `--tasks all` runs and what a comparable run holds.
pub fn leaderboard() -> Vec<&'static TaskSpec> {
    Benchmark::ALL.into_iter().map(of_benchmark).collect()
}

/// The position of `task` in [`TASKS`] (the order runs and reports use).
pub fn position(task: &TaskSpec) -> usize {
    TASKS
        .iter()
        .position(|t| t.id == task.id)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Suite;
    use crate::tasks::spec::Fewshot;

    /// The specs agree with the results format's facts about their columns;
    /// each column has exactly one task, and ids are unique and well-formed.
    #[test]
    fn specs_agree_with_the_format_crate() {
        for (i, t) in TASKS.iter().enumerate() {
            assert_eq!(position(t), i, "{}: ids must be unique", t.id);
            assert_eq!(
                leaderboard_format::schema::check_task_id(t.id),
                Ok(()),
                "{}",
                t.id
            );
        }
        for b in Benchmark::ALL {
            let t = of_benchmark(b);
            let reporting = TASKS.iter().filter(|t| t.benchmark == Some(b)).count();
            assert_eq!(reporting, 1, "{b:?}: one task per column");
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
    }
}
