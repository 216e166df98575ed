//! Keeps freed tensor buffers in the process heap (glibc), so the next forward reuses them.
//!
//! A forward pass allocates and frees many buffers of a few to tens of megabytes (MLP
//! activations, attention scores). glibc's malloc serves large requests with `mmap` and
//! returns them with `munmap`, so every buffer of every forward comes back as fresh pages
//! that the kernel must fault in and zero: on the 2-core test machine that was half of a
//! HellaSwag run's wall time. With the `mmap` threshold at its maximum (32 MiB) and heap
//! trimming raised, a freed buffer stays mapped and the next same-sized request reuses
//! it: 8 10-shot HellaSwag documents 104.0 s → 44.3 s, bit-identical log-likelihoods.
//! Larger buffers (a batch's logits blocks, up to 192 MiB; a large model's MLP
//! activations) come from the heap too (`M_MMAP_MAX` 0): mapped afresh, each was faulted
//! in and zeroed again, which cost the output layer of the 200-document HellaSwag
//! profile (`examples/cpu_profile.rs`) 15% of its speed (151–171 → 181 GFLOP/s; the run
//! 21.8 s → 20.2 s). Peak memory did not grow with it: 400 TruthfulQA documents peaked at
//! 1,637,836 KB with those buffers mapped and 1,632,728 KB from the heap, same scores.
//!
//! Kept buffers must not pile up either: KV caches of ever-changing lengths are freed and
//! allocated all through a run, and the holes they leave between live buffers fit the next
//! ones only in part, so a heap that is never trimmed grows over hours. So the scheduler
//! calls [`release_free_pages_if_due`] after each batch: at most every
//! [`RELEASE_EVERY`], glibc's `malloc_trim(0)` hands the pages of every free chunk back to
//! the kernel (the address space stays; a page is faulted in again when reused). Resident
//! memory then follows what is live, not what the heap's layout has spread over.
//!
//! Other C libraries (musl, macOS) are left as they are, and so is glibc when the
//! environment sets `LEADERBOARD_SYSTEM_MALLOC=1` (to compare).

use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

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
        // Buffers come from the heap and are reused, whatever their size: no `mmap`
        // (the threshold raised too, for allocators that ignore M_MMAP_MAX).
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        // Do not give the top of the heap back to the kernel after each free (default
        // 128 KiB, adjusted dynamically): keep up to 2 GiB of freed memory for reuse.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}

/// Least time between two releases by [`release_free_pages_if_due`].
pub const RELEASE_EVERY: Duration = Duration::from_secs(10);

/// Returns the pages of freed heap memory to the kernel if [`RELEASE_EVERY`] has passed
/// since the last release (glibc only; nothing elsewhere or with
/// `LEADERBOARD_SYSTEM_MALLOC=1`). Cheap to call after every batch.
pub fn release_free_pages_if_due() {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if last.is_some_and(|t| t.elapsed() < RELEASE_EVERY) {
        return;
    }
    *last = Some(Instant::now());
    release_free_pages();
}

/// Returns the pages of freed heap memory to the kernel now (e.g. between tasks).
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os(SYSTEM_MALLOC).is_none_or(|v| v != "1") {
        // SAFETY: malloc_trim only releases free memory of the allocator's own arenas.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// A field of `/proc/self/status` in kB, e.g. `"VmHWM:"` (peak resident) or `"VmRSS:"`;
/// None where there is no such file or field (not Linux).
pub fn status_kb(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// This process's memory now, in bytes: resident set (Linux) and, under glibc, the heap
/// bytes allocated and not yet freed (all arenas, plus `mmap`ped blocks). Their gap is
/// freed memory the allocator keeps for reuse. Shown on progress lines.
pub fn memory_now() -> (Option<u64>, Option<u64>) {
    (resident_bytes(), heap_in_use())
}

#[cfg(target_os = "linux")]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as u64)
}

#[cfg(not(target_os = "linux"))]
fn resident_bytes() -> Option<u64> {
    None
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use() -> Option<u64> {
    // SAFETY: mallinfo2 only reads allocator statistics (glibc 2.33 and later).
    let m = unsafe { libc::mallinfo2() };
    Some((m.uordblks + m.hblkhd) as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use() -> Option<u64> {
    None
}
