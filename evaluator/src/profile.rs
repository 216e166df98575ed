//! Where an evaluation's time goes, by operation: a process-wide table of labelled
//! timings, off unless [`enable`]d (then each timed operation costs two clock reads and a
//! map update; off, one relaxed atomic load).
//!
//! Timed at the call site, on the thread that issues the operation: candle's CPU ops run
//! to completion before they return (their inner loops on rayon's pool), so an op's wall
//! time is its span. Labels name an operation kind (`rms_norm`, `attention softmax`, …);
//! matrix products are labelled by their weight's shape (`matmul 576x1536`) and carry
//! their FLOPs, so a report can give each shape's GFLOP/s. Labels starting with `└` time
//! steps inside a parallel loop (attention's, one sequence a thread): their seconds add
//! up over the threads and are part of the enclosing label's. `examples/cpu_profile.rs`
//! prints the table for real workloads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ON: AtomicBool = AtomicBool::new(false);
static TABLE: Mutex<BTreeMap<String, Entry>> = Mutex::new(BTreeMap::new());

/// The totals of one label.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Entry {
    pub calls: u64,
    pub seconds: f64,
    /// Floating-point operations (multiply and add counted apart), where known.
    pub flops: f64,
}

/// Turns timing on or off (the table is kept; see [`take`]).
pub fn enable(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// Whether timing is on.
#[inline]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The table so far, by label, and an empty one from now on.
pub fn take() -> Vec<(String, Entry)> {
    let mut t = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *t).into_iter().collect()
}

fn add(label: &str, flops: f64, seconds: f64) {
    let mut t = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let e = match t.get_mut(label) {
        Some(e) => e,
        None => t.entry(label.to_string()).or_default(),
    };
    e.calls += 1;
    e.seconds += seconds;
    e.flops += flops;
}

/// Runs `f`, adding its wall time (and `flops`) to `label` when timing is on.
#[inline]
pub fn time<T>(label: &str, flops: f64, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let t = Instant::now();
    let r = f();
    add(label, flops, t.elapsed().as_secs_f64());
    r
}

/// [`time`] with a label built only when timing is on.
#[inline]
pub fn time_with<T>(label: impl FnOnce() -> String, flops: f64, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let t = Instant::now();
    let r = f();
    add(&label(), flops, t.elapsed().as_secs_f64());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_add_up_by_label_only_when_enabled() {
        take();
        time("off", 1.0, || ());
        assert!(take().is_empty());
        enable(true);
        for _ in 0..3 {
            time("a", 2.0, || {
                std::thread::sleep(std::time::Duration::from_millis(1))
            });
        }
        time_with(|| "b".to_string(), 0.0, || ());
        enable(false);
        // (Other tests of this binary may time their own labels meanwhile.)
        let t: BTreeMap<String, Entry> = take().into_iter().collect();
        assert!(!t.contains_key("off"));
        assert_eq!((t["a"].calls, t["a"].flops), (3, 6.0));
        assert!(t["a"].seconds >= 0.003);
        assert_eq!(t["b"].calls, 1);
    }
}
