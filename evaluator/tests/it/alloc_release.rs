//! `model::alloc`: with freed buffers kept in the heap, resident memory stays up after a
//! free; `release_free_pages` hands the pages back (glibc on Linux only). Measured in a
//! process of its own: other tests' allocations would move its resident size.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn released_pages_leave_the_resident_set() {
    if !crate::support::in_own_process("alloc_release::released_pages_leave_the_resident_set") {
        return;
    }
    use evaluator::alloc;
    alloc::keep_freed_buffers();
    let rss = || alloc::memory_now().0.expect("resident size on Linux");
    // 256 buffers of 1 MiB (heap, below the mmap threshold), every page touched; the last
    // one stays live so the heap's top cannot simply shrink.
    let mut bufs: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8 | 1; 1 << 20]).collect();
    let keep = bufs.pop().unwrap();
    let full = rss();
    drop(bufs);
    let after_free = rss();
    alloc::release_free_pages();
    let after_release = rss();
    eprintln!("resident: {full} full, {after_free} after free, {after_release} after release");
    assert!(
        full - after_free.min(full) < 64 << 20,
        "freed buffers stay resident until released"
    );
    assert!(
        after_free - after_release.min(after_free) > 200 << 20,
        "release returned under 200 MiB of 255 MiB freed"
    );
    let (_, heap) = alloc::memory_now();
    assert!(heap.expect("glibc heap statistics") >= 1 << 20);
    assert_eq!(keep[0], 255);
}
