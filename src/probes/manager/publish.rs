//! Publishing: the GPU upload list within its byte budget, and the multi-bounce irradiance snapshot copied a
//! slice per frame.

use super::*;

/// Largest contraction per snapshot cycle assumed for the multi-bounce iteration (a gap of 19 last steps).
const MAX_CONTRACTION: f64 = 0.95;

impl ProbeManager {
    /// Probe uploads queued and not yet handed out.
    pub fn pending_uploads(&self) -> usize {
        self.uploads.len()
    }

    /// Moves the queued probe uploads that fit in the per-frame byte budget into `out` (cleared first; the
    /// caller keeps the buffer from frame to frame).
    pub fn take_uploads(&mut self, out: &mut Vec<ProbeUpload>) {
        out.clear();
        let max = self.config.upload_budget_bytes / GPU_PROBE_BYTES;
        while out.len() < max {
            let Some((l, s)) = self.uploads.pop_front() else { break };
            let level = &mut self.levels[l as usize];
            level.slots[s as usize].upload_queued = false;
            out.push(ProbeUpload {
                level: l,
                slot: s,
                coord: level.slots[s as usize].coord,
                probe: level.gpu[s as usize],
            });
        }
    }

    /// Copies a slice of one level into the next irradiance snapshot; swaps it in when the level is complete.
    pub(super) fn build_irradiance(&mut self) {
        let per_frame = self.config.irradiance_slots_per_frame.max(1);
        let (l, mut snap) = match self.building.take() {
            Some(b) => b,
            None => {
                // Levels in turn (a copy takes a whole number of frames, so the frame count would not do).
                let l = self.next_irradiance_level;
                self.next_irradiance_level = (l + 1) % self.levels.len();
                let topo = self.levels[l].topo;
                // Reuse a retired copy that no worker holds any more.
                let reusable = self.retired.iter().position(|a| Arc::strong_count(a) == 1);
                let snap = match reusable.map(|i| self.retired.swap_remove(i)).and_then(|a| Arc::try_unwrap(a).ok()) {
                    Some(mut s) => {
                        s.reset(topo);
                        s
                    }
                    None => LevelIrradiance::with_capacity(topo),
                };
                (l, snap)
            }
        };
        let level = &self.levels[l];
        snap.copy_next(per_frame, |i| level.slots[i].coord, &level.payloads);
        if snap.len() == level.topo.len() {
            snap.topo = level.topo;
            let level = &mut self.levels[l];
            // The bounce light's share of all light: unlike the sums, it does not grow as probes get data.
            let share = if snap.light_sum > 0.0 { snap.bounce_sum / snap.light_sum } else { 0.0 };
            // The iteration closes a share `1 - c` of its remaining gap per cycle, so the gap is about the
            // last step times c / (1 - c), c estimated from the last two steps.
            let step = level.snapshot_bounce.map(|before| share - before);
            let gap = match (step, level.snapshot_step) {
                (Some(s), Some(prev)) if prev.abs() > 1e-12 => {
                    // Steps of opposite signs are noise, not an iteration on its way.
                    let c = if s * prev > 0.0 { (s / prev).min(MAX_CONTRACTION) } else { 0.0 };
                    s.abs() * (1.0 + c / (1.0 - c))
                }
                (Some(s), _) => s.abs(),
                (None, _) => share,
            };
            let moving = gap > f64::from(self.config.bounce_settled);
            level.snapshot_bounce = Some(share);
            level.snapshot_step = step;
            level.quiet_snapshots = if moving { 0 } else { level.quiet_snapshots.saturating_add(1) };
            let mut irr = (*self.irradiance).clone();
            let old = std::mem::replace(&mut irr.levels[l], Arc::new(snap));
            if self.retired.len() < 2 * self.levels.len() {
                self.retired.push(old);
            }
            self.irradiance = Arc::new(irr);
        } else {
            self.building = Some((l, snap));
        }
    }
}
