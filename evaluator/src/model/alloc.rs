//! Keeps freed tensor buffers in the process heap (glibc), so the next forward reuses them.
//!
//! A forward pass allocates and frees many buffers of a few to tens of megabytes (MLP
//! activations, attention scores). glibc's malloc serves large requests with `mmap` and
//! returns them with `munmap`, so every buffer of every forward comes back as fresh pages
//! that the kernel must fault in and zero: on the 2-core test machine that was half of a
//! HellaSwag run's wall time. With `mmap` switched off for allocations and heap trimming
//! raised, a freed buffer stays mapped and the next same-sized request reuses it. Peak
//! resident memory does not grow (the plan bounds the largest batch; freed memory is
//! reused, not added to): measured 1,046,900 KB before and 1,058,360 KB after on 8
//! 10-shot HellaSwag documents, 104.0 s → 44.3 s, bit-identical log-likelihoods.
//!
//! Other C libraries (musl, macOS) are left as they are, and so is glibc when the
//! environment sets `LEADERBOARD_SYSTEM_MALLOC=1` (to compare).

use std::sync::Once;

/// Environment variable: `1` leaves glibc's allocator settings alone.
pub const SYSTEM_MALLOC: &str = "LEADERBOARD_SYSTEM_MALLOC";

/// Applies the settings once per process (later calls do nothing). Called when a
/// model is assembled ([`super::llama::Llama::new`]); a program that builds models by other means can call it itself.
pub fn keep_freed_buffers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(apply);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
    if std::env::var_os(SYSTEM_MALLOC).is_some_and(|v| v == "1") {
        return;
    }
    // SAFETY: mallopt only changes glibc allocator parameters; it is safe to call at any
    // time, from any thread.
    unsafe {
        // No mmap-backed allocations: large buffers come from the heap and are reused.
        libc::mallopt(libc::M_MMAP_MAX, 0);
        // Do not give the top of the heap back to the kernel after each free (default
        // 128 KiB, adjusted dynamically): keep up to 2 GiB of freed memory for reuse.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}
