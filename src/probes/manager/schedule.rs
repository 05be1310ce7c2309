//! Scheduling: aging valid probes into STALE, and picking each frame's work within the per-level budgets and
//! the global cap.

use super::*;

impl ProbeManager {
    /// Turns probes STALE once their last update is older than their level's age, and queues them for the
    /// spare budget. The queue holds one entry per probe; an entry that comes due for a probe updated since is
    /// re-armed for its new due frame.
    pub(super) fn age(&mut self) {
        self.settle();
        for l in 0..self.levels.len() {
            let age = self.config.stale_age_frames << l;
            while let Some((_, slot, coord)) = next_due(&mut self.levels[l].aging, self.frame) {
                let level = &mut self.levels[l];
                let s = &mut level.slots[slot];
                if s.coord != coord || !s.aging_queued {
                    continue; // the slot was recycled since
                }
                s.aging_queued = false;
                if matches!(s.work, Work::Tracing { .. }) || !level.payloads[slot].usable() {
                    continue; // the next result re-arms it
                }
                if s.last_update + age > self.frame {
                    s.aging_queued = true;
                    level.aging.push_back((s.last_update + age, slot as u32, coord));
                    continue;
                }
                let p = level.payloads[slot];
                let mut p = p;
                p.flags |= flags::STALE;
                self.set_payload(l, slot, p);
                self.push_work(l, slot, 2);
            }
        }
    }

    /// The settling checks that are due ([`ProbeConfig::bounce_settled`]): while its level's bounce light is
    /// still moving, an idle probe not traced for a snapshot cycle is queued (class 2, after new, dirty and
    /// cached-stale probes) to trace against the snapshot rebuilt meanwhile. Every usable probe is checked
    /// once per cycle, so a change that sets the bounce light moving again (a lamp switched on) reaches them.
    fn settle(&mut self) {
        let cycle = self.config.snapshot_cycle_frames();
        for l in 0..self.levels.len() {
            let moving = self.levels[l].bounce_moving();
            while let Some((due, slot, coord)) = next_due(&mut self.levels[l].settling, self.frame) {
                let level = &mut self.levels[l];
                let s = &mut level.slots[slot];
                if s.coord != coord || s.settle_due != due {
                    continue; // left over from before a recycle
                }
                s.settle_due = 0;
                if !level.payloads[slot].usable() {
                    continue; // its next result re-arms it
                }
                s.settle_due = self.frame + cycle;
                level.settling.push_back((s.settle_due, slot as u32, coord));
                if moving && matches!(s.work, Work::Idle) && s.last_update + cycle <= self.frame {
                    self.stats.settle_traces += 1;
                    self.push_work(l, slot, 2);
                }
            }
        }
    }

    /// Picks this frame's work and submits it. Budgets: level `L` takes at most `base_budget >> L` probes, and
    /// all levels together `global_budget`. Each level first gets its share of the global budget (in
    /// proportion to its own budget), then the levels take what is left in order, finest first: a level whose
    /// queue never empties (probes still converging) cannot starve the coarser ones.
    pub(super) fn schedule(&mut self, grid: &Arc<VoxelGrid>) -> usize {
        let mut global = self.config.global_budget as usize;
        if let Some(cap) = self.in_flight_cap {
            let in_flight: usize = self.levels.iter().map(|l| l.in_flight).sum();
            global = global.min(cap.saturating_sub(in_flight));
        }
        let own: Vec<usize> = (0..self.levels.len()).map(|l| (self.config.base_budget >> l) as usize).collect();
        let total: usize = own.iter().sum::<usize>().max(1);
        let mut taken = vec![0usize; self.levels.len()];
        let mut jobs = Vec::new();
        for l in 0..self.levels.len() {
            // Shares round up, so the last level's is cut to what the global cap has left.
            let share = (global * own[l]).div_ceil(total).min(own[l]).min(global.saturating_sub(jobs.len()));
            taken[l] = self.take_work(l, share, &mut jobs);
        }
        for l in 0..self.levels.len() {
            let left = global.saturating_sub(jobs.len());
            let more = (own[l] - taken[l]).min(left);
            if more > 0 {
                self.take_work(l, more, &mut jobs);
            }
        }
        let n = jobs.len();
        if n > 0 {
            self.pool.submit(grid.clone(), self.irradiance.clone(), jobs);
        }
        n
    }

    /// Moves up to `budget` probes of level `l` from its queue into `jobs` (marked in flight); returns how many.
    pub(super) fn take_work(&mut self, l: usize, budget: usize, jobs: &mut Vec<TraceJob>) -> usize {
        let spacing = self.levels[l].topo.spacing;
        let mut taken = 0;
        while taken < budget {
            let Some((slot, stamp)) = self.levels[l].queue.pop() else { break };
            if let Some(ahead) = self.levels[l].queue.peek_ahead(PREFETCH_AHEAD) {
                self.prefetch_slot(l, ahead as usize);
            }
            let level = &mut self.levels[l];
            let s = &mut level.slots[slot as usize];
            if s.stamp != stamp || !matches!(s.work, Work::Queued(_)) {
                continue; // superseded entry
            }
            let (generation, restart, coord) = (s.generation, s.dirty, s.coord);
            // (`restart`: an edit reached the probe since its last update; its history describes the old voxels.)
            level.set_work(slot as usize, Work::Tracing { again: false });
            level.in_flight += 1;
            level.payloads[slot as usize].flags |= flags::IN_FLIGHT;
            jobs.push(TraceJob {
                key: (l as u64) << 32 | u64::from(slot),
                generation: u64::from(generation),
                position: level.topo.position(coord),
                update_index: level.slots[slot as usize].updates,
                rays: self.config.rays_per_update,
                max_distance: self.config.ray_range(),
                ao_range: self.config.ao_range_probes * spacing,
                previous: level.payloads[slot as usize],
                blend: self.config.blend,
                restart,
            });
            taken += 1;
        }
        taken
    }
}

/// Pops the front entry of a `(due frame, slot, probe)` queue kept in due order, when it is due by `frame`.
fn next_due(queue: &mut VecDeque<(u64, u32, IVec3)>, frame: u64) -> Option<(u64, usize, IVec3)> {
    let &(due, slot, coord) = queue.front()?;
    if due > frame {
        return None;
    }
    queue.pop_front();
    Some((due, slot as usize, coord))
}
