//! Persistence: regions leaving the clipmap into the memory cache and to disk, checkpoints of converged
//! regions, and disk answers turned into payloads or work.

use super::*;

/// Region buffers kept for reuse.
pub(super) const SPARE_REGIONS: usize = 64;

/// An empty region of `r^3` probes, in a spare buffer when one fits.
pub(super) fn reuse_region(spare: &mut Vec<RegionData>, r: u32, content: u64) -> RegionData {
    match spare.pop() {
        Some(mut d) if d.payloads.len() == (r * r * r) as usize => {
            d.reset(content);
            d
        }
        _ => RegionData::empty(r, content),
    }
}

impl ProbeManager {
    /// Writes every converged region still resident (and the memory cache) to disk, and waits for the writes.
    pub fn flush_to_disk(&mut self, grid: &VoxelGrid) {
        if self.disk.is_none() {
            return;
        }
        let mut regions: FxHashMap<RegionKey, RegionData> = FxHashMap::default();
        for (key, d) in self.memory.drain() {
            regions.insert(key, d);
        }
        let r = self.config.region_probes as i32;
        let mut memo: FxHashMap<RegionKey, u64> = FxHashMap::default();
        for li in 0..self.levels.len() {
            let l = &self.levels[li];
            for (slot, s) in l.slots.iter().enumerate() {
                let p = l.payloads[slot];
                if !s.assigned() || s.dirty || !self.settled(&p) {
                    continue;
                }
                let key = RegionKey { level: li as u32, coord: s.coord.div_euclid(IVec3::splat(r)) };
                let content = *memo.entry(key).or_insert_with(|| region_content(&self.config, grid, key));
                let entry = regions.entry(key).or_insert_with(|| RegionData::empty(r as u32, content));
                if entry.content != content {
                    *entry = RegionData::empty(r as u32, content);
                }
                let i = local_index(s.coord, r);
                entry.payloads[i] = without_transient(p);
                entry.updates[i] = s.updates;
                entry.last_updated = self.frame;
            }
        }
        let mut keys: Vec<RegionKey> = regions.keys().copied().collect();
        keys.sort();
        for k in keys {
            if let Some(d) = regions.remove(&k) {
                self.store(k, d);
            }
        }
        if let Some(d) = self.disk.as_mut() {
            d.sync(&mut self.loaded);
        }
    }

    /// Counts regions evicted from the memory cache and writes them to disk (when persistence is on).
    pub(super) fn store_evicted(&mut self, evicted: Vec<(RegionKey, RegionData)>) {
        for (k, d) in evicted {
            self.levels[k.level as usize].stats.evictions += 1;
            self.store(k, d);
        }
    }

    /// Writes up to `checkpoint_regions_per_frame` resident regions: first those queued when their level
    /// converged, else round-robin over every level's regions (see `checkpoint_region`).
    pub(super) fn checkpoint(&mut self, grid: &VoxelGrid) {
        if self.disk.as_ref().is_none_or(|d| d.stats().disabled) {
            return;
        }
        let r = self.config.region_probes as i32;
        // A level that just converged queues all of its regions.
        for l in 0..self.levels.len() {
            let f = self.converged_fraction(l);
            let level = &mut self.levels[l];
            if !level.converged_flag && f >= 0.95 {
                level.converged_flag = true;
                let topo = level.topo;
                // Finest levels first: keep the queue ordered by level.
                let at =
                    self.checkpoint_due.iter().position(|k| k.level > l as u32).unwrap_or(self.checkpoint_due.len());
                for (j, coord) in topo.bounds().cells(r).iter().enumerate() {
                    self.checkpoint_due.insert(at + j, RegionKey { level: l as u32, coord });
                }
            } else if f < 0.9 {
                level.converged_flag = false;
            }
        }
        // Regions queued by a converged level go at twice the round-robin rate.
        let due = (2 * self.config.checkpoint_regions_per_frame).min(self.checkpoint_due.len());
        for _ in 0..due.max(self.config.checkpoint_regions_per_frame) {
            let key = match self.checkpoint_due.pop_front() {
                Some(k) => k,
                None => {
                    let (l, i) = self.checkpoint_cursor;
                    let regions = self.levels[l].topo.bounds().cells(r);
                    let n = regions.volume();
                    self.checkpoint_cursor = if i + 1 >= n { ((l + 1) % self.levels.len(), 0) } else { (l, i + 1) };
                    if n == 0 || !self.levels[l].initialised {
                        continue;
                    }
                    RegionKey { level: l as u32, coord: regions.at(i.min(n - 1)) }
                }
            };
            self.checkpoint_region(key, grid);
        }
    }

    /// Writes one resident region if it has settled probes and was not yet written for its current content
    /// version, or when notably more of its probes have settled since.
    pub(super) fn checkpoint_region(&mut self, key: RegionKey, grid: &VoxelGrid) {
        let r = self.config.region_probes as i32;
        let level = &self.levels[key.level as usize];
        let block = ProbeBox { lo: key.coord * r, hi: (key.coord + 1) * r }.intersect(&level.topo.bounds());
        let settled = block
            .iter()
            .filter(|g| {
                let slot = level.topo.slot(*g);
                let s = &level.slots[slot];
                s.coord == *g && !s.dirty && self.settled(&level.payloads[slot])
            })
            .count();
        if settled == 0 {
            return;
        }
        let content = region_content(&self.config, grid, key);
        if let Some(&(c, before)) = self.written.get(&key) {
            if c == content && settled <= before + before / 8 {
                return;
            }
        }
        let mut data = reuse_region(&mut self.spare_regions, r as u32, content);
        data.last_updated = self.frame;
        for g in block.iter() {
            let slot = level.topo.slot(g);
            if level.slots[slot].dirty {
                continue;
            }
            let i = local_index(g, r);
            data.payloads[i] = without_transient(level.payloads[slot]);
            data.updates[i] = level.slots[slot].updates;
        }
        if self.written.len() > 1 << 16 {
            self.written.clear();
        }
        self.written.insert(key, (content, settled));
        self.store(key, data);
    }

    /// Worth persisting: converged, or known to be inside solid voxels.
    pub(super) fn settled(&self, p: &ProbePayload) -> bool {
        (p.usable() && p.confidence >= self.config.converged_confidence) || p.flags & flags::DISABLED != 0
    }

    pub(super) fn store(&mut self, key: RegionKey, mut d: RegionData) {
        let Some(disk) = &self.disk else {
            self.recycle_region(d);
            return;
        };
        let mut any = false;
        for p in d.payloads.iter_mut() {
            if self.settled(p) {
                *p = without_transient(*p);
                any = true;
            } else {
                *p = ProbePayload::default();
            }
        }
        if any {
            disk.store(key, d);
        } else {
            self.recycle_region(d);
        }
    }

    /// Keeps a region buffer for reuse (up to [`SPARE_REGIONS`]).
    pub(super) fn recycle_region(&mut self, d: RegionData) {
        if self.spare_regions.len() < SPARE_REGIONS {
            self.spare_regions.push(d);
        }
    }

    pub(super) fn apply_loaded(&mut self, a: Loaded) {
        let Some(list) = self.awaiting.remove(&a.key) else { return };
        let l = a.key.level as usize;
        let r = self.config.region_probes as i32;
        match &a.data {
            Some(_) => self.levels[l].stats.hits += 1,
            None => self.levels[l].stats.misses += 1,
        }
        for (slot, g) in list {
            let slot = slot as usize;
            let s = self.levels[l].slots[slot];
            if s.coord != g || s.work != Work::Disk {
                continue;
            }
            self.levels[l].set_work(slot, Work::Idle);
            let cached = a.data.as_ref().map(|d| (d.payloads[local_index(g, r)], d.updates[local_index(g, r)]));
            self.use_cached_or_queue(l, slot, cached);
        }
        if let Some(d) = a.data {
            let evicted = self.memory.upsert(a.key, || d, |_| {});
            self.store_evicted(evicted);
        }
    }

    /// Gives an entering probe its cached payload, or queues it. A probe an edit reached while its region was
    /// looked up is traced: the cache describes the voxels before the edit.
    pub(super) fn use_cached_or_queue(&mut self, l: usize, slot: usize, cached: Option<(ProbePayload, u32)>) {
        let cached = cached.filter(|_| !self.levels[l].slots[slot].dirty);
        match cached {
            Some((p, _)) if p.flags & flags::DISABLED != 0 => self.set_payload(l, slot, p),
            Some((p, updates)) if p.usable() => {
                self.levels[l].slots[slot].updates = updates;
                let near = (l as u32) < self.config.near_levels;
                let mut p = p;
                if near {
                    p.flags |= flags::STALE;
                }
                self.set_payload(l, slot, p);
                if near {
                    self.push_work(l, slot, 1);
                }
            }
            _ => self.push_work(l, slot, 0),
        }
    }
}
