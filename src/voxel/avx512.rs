//! The proof of AVX-512 that the tracer's wide paths take (`traverse_wide.rs`, `traverse_batch.rs`): code
//! compiled for AVX-512F and DQ is entered only with an [`Avx512`] in hand, and only run-time detection makes
//! one, so no path reaches it on a CPU without those features.

/// Proof that this CPU has AVX-512F and AVX-512DQ. Its field is private: [`Avx512::detect`] is the only way
/// to get one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Avx512 {
    _detected: (),
}

impl Avx512 {
    /// The proof, when this CPU has the features (never on other architectures).
    #[inline(always)]
    pub(crate) fn detect() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
            return Some(Avx512 { _detected: () });
        }
        None
    }
}
