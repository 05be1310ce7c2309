//! A cache prefetch hint. Loops that walk scattered per-probe state (results applied to slots, queue entries
//! turned into jobs, probes leaving or entering the clipmap) ask for the memory of an item a few steps ahead,
//! so its cache misses overlap the work on the current one instead of adding up. The portable ray traversal asks
//! for a brick's mask as soon as it knows the ray will enter the brick, before limiting the search to its solid
//! box.

/// Asks the CPU to start loading the cache line holding `value`. A hint only: it has no effect on any result.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes nothing a program can observe; the address comes from a live
    // reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast())
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
