//! The per-slot state machine: queueing work, setting payloads (with the level's counters), and applying a
//! finished trace (dropped when its generation is stale).

use super::*;

/// Updates per priority tier (a probe needs at least `min_rays`, 16 updates of 64 rays by default, to converge).
pub(super) const UPDATES_PER_TIER: u32 = 16;

/// Priority tier of a probe by its updates: 0 without data, then one tier per [`UPDATES_PER_TIER`] updates.
/// Within a tier the nearest probes come first, so the probes near the camera converge first and a probe that
/// takes long to converge does not hold back the rest (the bounce light, which every probe's updates carry a
/// step further, keeps moving everywhere).
pub(super) fn update_tier(updates: u32) -> u32 {
    if updates == 0 {
        0
    } else {
        1 + (updates - 1) / UPDATES_PER_TIER
    }
}

impl ProbeManager {
    /// Queues a probe for tracing with `class`, unless it is already queued at that class or better. A probe
    /// being traced is queued again when its result arrives; one waiting for the disk is left to the answer,
    /// which queues it when it is dirty or the cache has nothing.
    pub(super) fn push_work(&mut self, l: usize, slot: usize, class: u8) {
        let level = &mut self.levels[l];
        let s = &mut level.slots[slot];
        match s.work {
            Work::Empty | Work::Disk => return,
            Work::Tracing { .. } => {
                s.work = Work::Tracing { again: true };
                return;
            }
            Work::Queued(queued) if queued <= class => return,
            Work::Queued(_) | Work::Idle => {}
        }
        level.set_work(slot, Work::Queued(class));
        let s = &mut level.slots[slot];
        s.stamp = s.stamp.wrapping_add(1);
        let d = s.coord - level.topo.anchor;
        let dist2 = (d.x * d.x + d.y * d.y + d.z * d.z) as u32;
        // A probe an edit reached is traced as soon as one without data.
        let tier = if s.dirty { 0 } else { update_tier(s.updates) };
        level.queue.push(class, tier, dist2, slot as u32, s.stamp);
    }

    pub(super) fn set_payload(&mut self, l: usize, slot: usize, p: ProbePayload) {
        self.set_payload_packed(l, slot, p, GpuProbe::pack(&p));
    }

    pub(super) fn set_payload_packed(&mut self, l: usize, slot: usize, p: ProbePayload, gpu: GpuProbe) {
        let conv = self.config.converged_confidence;
        let level = &mut self.levels[l];
        let old = level.payloads[slot];
        let status =
            |q: &ProbePayload| (q.usable(), q.usable() && q.confidence >= conv, q.flags & flags::DISABLED != 0);
        let (ov, oc, od) = status(&old);
        let (nv, nc, nd) = status(&p);
        level.valid = level.valid + usize::from(nv) - usize::from(ov);
        level.converged = level.converged + usize::from(nc) - usize::from(oc);
        level.disabled = level.disabled + usize::from(nd) - usize::from(od);
        level.payloads[slot] = p;
        level.gpu[slot] = gpu;
        if !level.slots[slot].upload_queued {
            level.slots[slot].upload_queued = true;
            self.uploads.push_back((l as u32, slot as u32));
        }
    }

    /// Starts loading a slot's state, payload and GPU record (see [`crate::prefetch`]).
    #[inline(always)]
    pub(super) fn prefetch_slot(&self, l: usize, slot: usize) {
        if let Some(level) = self.levels.get(l) {
            if slot < level.slots.len() {
                prefetch(&level.slots[slot]);
                prefetch(&level.payloads[slot]);
                prefetch(&level.gpu[slot]);
            }
        }
    }

    /// Applies a finished trace, or drops it when the slot's generation moved on since it was submitted (the
    /// slot was recycled, or an edit reached the probe: the slot's state already belongs to what came after).
    pub(super) fn apply_result(&mut self, r: &TraceResult, report: &mut StepReport) {
        let l = (r.key >> 32) as usize;
        let slot = (r.key & 0xFFFF_FFFF) as usize;
        let Some(level) = self.levels.get_mut(l) else { return };
        level.in_flight = level.in_flight.saturating_sub(1);
        let Some(s) = level.slots.get(slot) else { return };
        let again = match s.work {
            Work::Tracing { again } if r.generation == u64::from(s.generation) => again,
            _ => {
                report.dropped += 1;
                self.stats.results_dropped += 1;
                return;
            }
        };
        let new = r.payload;
        level.set_work(slot, Work::Idle);
        let s = &mut level.slots[slot];
        s.updates += 1;
        s.last_update = self.frame;
        s.dirty = false;
        if !s.aging_queued {
            s.aging_queued = true;
            level.aging.push_back((self.frame + (self.config.stale_age_frames << l), slot as u32, s.coord));
        }
        if new.usable() && s.settle_due == 0 {
            s.settle_due = self.frame + self.config.snapshot_cycle_frames();
            level.settling.push_back((s.settle_due, slot as u32, s.coord));
        }
        self.set_payload_packed(l, slot, new, r.gpu);
        report.applied += 1;
        self.stats.probe_updates += 1;
        self.stats.rays_traced += u64::from(r.rays);
        if again || (new.usable() && new.confidence < self.config.converged_confidence) {
            self.push_work(l, slot, 0);
        }
    }
}
