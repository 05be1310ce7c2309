//! Invalidation: edited boxes drop the cached regions they reach and mark the probes within trace range dirty,
//! a bounded number per frame.

use super::*;

/// Content version of the voxels a region's probes can reach (their trace range).
pub fn region_content(config: &ProbeConfig, grid: &VoxelGrid, key: RegionKey) -> u64 {
    let s = config.spacing(key.level);
    let r = config.region_probes as i32;
    let range = config.trace_range(key.level);
    let lo = (key.coord * r).as_vec3() * s - Vec3::splat(range);
    let hi = ((key.coord + 1) * r).as_vec3() * s + Vec3::splat(range);
    grid.content_version(lo, hi)
}

impl ProbeManager {
    /// Edits whose probes are still being marked dirty.
    pub fn pending_invalidations(&self) -> usize {
        self.pending_dirty.len()
    }

    /// An edit of the voxels in `b`: every region whose probes can reach it leaves the memory cache at once
    /// (written to disk under the content version it was made for, where it stays valid for that state; the new
    /// content version never matches it), and the marking of those probes as dirty is queued, finest level
    /// first (see `mark_dirty`).
    pub(super) fn invalidate(&mut self, b: &Aabb) {
        if b.is_empty() {
            return;
        }
        let r = self.config.region_probes as i32;
        for l in 0..self.levels.len() {
            if !self.levels[l].initialised {
                continue;
            }
            let spacing = self.levels[l].topo.spacing;
            let range = self.config.trace_range(l as u32);
            // The bounding box, in probe coordinates, of the probe centres within `range` of the box.
            let lo = ((b.min - range) / spacing - 0.5).ceil().as_ivec3();
            let hi = ((b.max + range) / spacing - 0.5).floor().as_ivec3() + 1;
            let reach = ProbeBox { lo, hi };
            if reach.is_empty() {
                continue;
            }
            for c in reach.cells(r).iter() {
                let key = RegionKey { level: l as u32, coord: c };
                if let Some(d) = self.memory.remove(key) {
                    self.store(key, d);
                }
            }
            // Only probes resident now are marked: those entering later are traced, or read from a cache keyed
            // by content.
            let reach = reach.intersect(&self.levels[l].topo.bounds());
            if !reach.is_empty() {
                self.pending_dirty.push_back(PendingDirty { level: l, b: *b, range, reach, next: 0 });
            }
        }
    }

    /// Marks dirty the probes of pending edits, examining at most `visits` probe coordinates; returns how many
    /// probes were dirtied. A probe is dirtied when its centre lies within its level's trace range of the box
    /// (Euclidean distance); one in flight has its result dropped and is traced again.
    pub(super) fn mark_dirty(&mut self, mut visits: usize) -> usize {
        let mut dirtied = 0;
        while visits > 0 {
            let Some(job) = self.pending_dirty.front_mut() else { break };
            let (l, b, range, reach) = (job.level, job.b, job.range, job.reach);
            let total = reach.volume();
            let start = job.next;
            let end = (start + visits).min(total);
            job.next = end;
            visits -= end - start;
            if end == total {
                self.pending_dirty.pop_front();
            }
            let topo = self.levels[l].topo;
            let bounds = topo.bounds();
            for i in start..end {
                let g = reach.at(i);
                if !bounds.contains(g) {
                    continue;
                }
                let p = topo.position(g);
                if (p - p.clamp(b.min, b.max)).length() > range {
                    continue;
                }
                let slot = topo.slot(g);
                let level = &mut self.levels[l];
                let s = &mut level.slots[slot];
                if s.coord != g || !s.assigned() {
                    continue;
                }
                if matches!(s.work, Work::Tracing { .. }) {
                    // Its result is computed for the old voxels: drop it when it arrives; trace it again now.
                    s.generation = s.generation.wrapping_add(1);
                    level.set_work(slot, Work::Idle);
                    level.payloads[slot].flags &= !flags::IN_FLIGHT;
                }
                level.slots[slot].dirty = true;
                dirtied += 1;
                self.push_work(l, slot, 0);
            }
        }
        dirtied
    }
}
