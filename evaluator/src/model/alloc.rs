//! Keeps freed tensor buffers in the process heap (glibc), so the next forward reuses them.
//!
//! A forward pass allocates and frees many buffers of a few to tens of megabytes (MLP
//! activations, attention scores). glibc's malloc serves large requests with `mmap` and
//! returns them with `munmap`, so every buffer of every forward comes back as fresh pages
//! that the kernel must fault in and zero: on the 2-core test machine that was half of a
//! HellaSwag run's wall time. With the `mmap` threshold at its maximum (32 MiB) and heap
//! trimming raised, a freed buffer stays mapped and the next same-sized request reuses
//! it: 8 10-shot HellaSwag documents 104.0 s → 44.3 s, bit-identical log-likelihoods.
//! Buffers from 32 MiB up (a batch's logits, up to 100 MB) are still mapped and unmapped,
//! so their changing sizes are not carved from the heap between long-lived KV-cache
//! buffers: a whole TruthfulQA run peaked at 1,574,740 KB with `mmap` off altogether and
//! at 1,497,320 KB with this threshold, same scores.
//!
//! Other C libraries (musl, macOS) are left as they are, and so is glibc when the
//! environment sets `LEADERBOARD_SYSTEM_MALLOC=1` (to compare).

use std::sync::Once;

/// Allocations from this size on are served by `mmap` (glibc's maximum threshold on
/// 64-bit: `4 * 1024 * 1024 * sizeof(long)`).
const MMAP_THRESHOLD: i32 = 32 * 1024 * 1024;

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
        // Buffers below 32 MiB (glibc's largest threshold) come from the heap and are
        // reused; larger ones (a batch's logits block, up to 100 MB) are mapped and
        // unmapped, so they never leave holes between long-lived KV-cache buffers.
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        // Do not give the top of the heap back to the kernel after each free (default
        // 128 KiB, adjusted dynamically): keep up to 2 GiB of freed memory for reuse.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}
