//! Injected clocks for `createdAt`: output must not depend on the wall clock unless the caller asks for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Gives the time stamped on snapshots.
pub trait Clock: Send + Sync {
    /// The current time as RFC 3339 UTC with milliseconds.
    fn now_rfc3339(&self) -> String;
}

/// Simulated time: a start instant plus a settable offset. `lumon stream` stamps snapshots with simulated time,
/// so its output is the same on every run.
#[derive(Clone, Debug)]
pub struct SimClock {
    start_unix_s: u64,
    offset_ms: Arc<AtomicU64>,
}

/// Longest simulated time, seconds (about 31.7 years): `createdAt` stays a four-digit year, which RFC 3339
/// requires (past year 9999 formatting is impossible). `lumon stream --until` refuses more; the clock clamps.
pub const MAX_SIM_SECONDS: f64 = 1.0e9;

/// The simulated start of every world: 2000-01-01T00:00:00Z.
pub const SIM_START_UNIX_S: u64 = 946_684_800;

impl SimClock {
    /// A clock at the simulated start.
    pub fn new() -> Self {
        SimClock { start_unix_s: SIM_START_UNIX_S, offset_ms: Arc::new(AtomicU64::new(0)) }
    }

    /// Sets the simulated time, seconds since the start (negative or non-finite values clamp to 0, values
    /// beyond [`MAX_SIM_SECONDS`] to it).
    pub fn set_seconds(&self, t: f64) {
        let ms = if t.is_finite() && t > 0.0 { (t.min(MAX_SIM_SECONDS) * 1000.0).round() as u64 } else { 0 };
        self.offset_ms.store(ms, Ordering::Relaxed);
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SimClock {
    fn now_rfc3339(&self) -> String {
        let t = UNIX_EPOCH
            + Duration::from_secs(self.start_unix_s)
            + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed));
        humantime::format_rfc3339_millis(t).to_string()
    }
}

/// The machine's wall clock, for interactive use.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_rfc3339(&self) -> String {
        humantime::format_rfc3339_millis(SystemTime::now()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_future_times_clamp_instead_of_panicking() {
        let c = SimClock::new();
        c.set_seconds(3.0e11);
        assert_eq!(c.now_rfc3339(), "2031-09-09T01:46:40.000Z");
    }

    #[test]
    fn sim_clock_is_deterministic() {
        let c = SimClock::new();
        assert_eq!(c.now_rfc3339(), "2000-01-01T00:00:00.000Z");
        c.set_seconds(61.25);
        assert_eq!(c.now_rfc3339(), "2000-01-01T00:01:01.250Z");
    }
}
