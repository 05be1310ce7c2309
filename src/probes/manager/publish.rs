//! Publishing: the GPU upload list within its byte budget, and the multi-bounce irradiance snapshot copied a
//! slice per frame.

use super::*;

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
