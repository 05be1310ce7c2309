//! The GPU tests' adapter: whatever exists (lavapipe here and in CI). Without one a test skips with a message,
//! unless `LUMON_REQUIRE_GPU=1`, which turns a missing adapter into a failure.

use lumon::render::{gpu_required, GpuContext};

/// The headless context, or `None` (after saying why) when the test should skip.
pub fn context() -> Option<GpuContext> {
    match GpuContext::headless() {
        Ok(c) => Some(c),
        Err(e) if gpu_required() => panic!("LUMON_REQUIRE_GPU=1 and no adapter: {e}"),
        Err(e) => {
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}
