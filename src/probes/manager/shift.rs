//! Shifts and recycling: a level's anchor follows the camera; probes that leave are saved with their region,
//! their slots recycled for the probes that enter.

use super::*;

impl ProbeManager {
    pub(super) fn shift_level(
        &mut self,
        l: usize,
        camera: Vec3,
        grid: &VoxelGrid,
        memo: &mut FxHashMap<RegionKey, u64>,
    ) -> usize {
        let r = self.config.region_probes as i32;
        let (old, entered) = {
            let level = &mut self.levels[l];
            let old = level.topo.bounds();
            if !level.initialised {
                level.initialised = true;
                level.topo = LevelTopology::new(l as u32, self.config.dims, self.config.base_spacing, camera);
                (ProbeBox { lo: IVec3::ZERO, hi: IVec3::ZERO }, vec![level.topo.bounds()])
            } else {
                (old, level.topo.shift(camera))
            }
        };
        if entered.is_empty() {
            return 0;
        }
        let new = self.levels[l].topo.bounds();
        // Save the probes that leave into their regions' memory-cache entries, region block by region block.
        for b in old.subtract(&new) {
            for (coord, block) in region_blocks(b, r) {
                let key = RegionKey { level: l as u32, coord };
                let level = &self.levels[l];
                let cells: Vec<(u32, IVec3)> = block.iter().map(|g| (level.topo.slot(g) as u32, g)).collect();
                let items: Vec<(usize, ProbePayload, u32)> = cells
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &(slot, g))| {
                        if let Some((ahead, _)) = cells.get(k + PREFETCH_AHEAD) {
                            self.prefetch_slot(l, *ahead as usize);
                        }
                        let (s, p) = (&level.slots[slot as usize], &level.payloads[slot as usize]);
                        (s.assigned() && s.coord == g && !s.dirty && (p.usable() || p.flags & flags::DISABLED != 0))
                            .then(|| (local_index(g, r), without_transient(*p), s.updates))
                    })
                    .collect();
                if items.is_empty() {
                    continue;
                }
                let content = *memo.entry(key).or_insert_with(|| region_content(&self.config, grid, key));
                if self.memory.content_of(key).is_some_and(|c| c != content) {
                    if let Some(d) = self.memory.remove(key) {
                        self.recycle_region(d);
                    }
                }
                let frame = self.frame;
                let spare = &mut self.spare_regions;
                let evicted = self.memory.upsert(
                    key,
                    || reuse_region(spare, r as u32, content),
                    |d| {
                        for (i, p, u) in &items {
                            d.payloads[*i] = *p;
                            d.updates[*i] = *u;
                        }
                        d.last_updated = frame;
                    },
                );
                self.store_evicted(evicted);
            }
        }
        // Recycle the slots of the probes that enter, then look their regions up, block by block.
        let mut count = 0usize;
        let mut slots: Vec<(u32, IVec3)> = Vec::new();
        for b in &entered {
            for (coord, block) in region_blocks(*b, r) {
                slots.clear();
                slots.extend(block.iter().map(|g| (self.levels[l].topo.slot(g) as u32, g)));
                for k in 0..slots.len() {
                    if let Some((ahead, _)) = slots.get(k + PREFETCH_AHEAD) {
                        self.prefetch_slot(l, *ahead as usize);
                    }
                    let (slot, g) = (slots[k].0 as usize, slots[k].1);
                    let level = &mut self.levels[l];
                    if level.slots[slot].assigned() {
                        level.stats.recycles += 1;
                    } else {
                        level.resident += 1;
                    }
                    level.set_work(slot, Work::Idle);
                    let s = &mut level.slots[slot];
                    // A trace still running for the old probe is dropped by its generation when it arrives.
                    *s = Slot {
                        coord: g,
                        generation: s.generation.wrapping_add(1),
                        stamp: s.stamp.wrapping_add(1),
                        work: Work::Idle,
                        upload_queued: s.upload_queued,
                        ..Slot::default()
                    };
                    self.set_payload_packed(l, slot, ProbePayload::default(), self.empty_gpu);
                }
                count += slots.len();
                let key = RegionKey { level: l as u32, coord };
                let content = *memo.entry(key).or_insert_with(|| region_content(&self.config, grid, key));
                let hit = self.memory.get(key, content).map(|d| {
                    slots
                        .iter()
                        .map(|(_, g)| (d.payloads[local_index(*g, r)], d.updates[local_index(*g, r)]))
                        .collect::<Vec<_>>()
                });
                match hit {
                    Some(cached) => {
                        self.levels[l].stats.hits += 1;
                        for ((slot, _), c) in slots.iter().zip(cached) {
                            self.use_cached_or_queue(l, *slot as usize, Some(c));
                        }
                    }
                    None => match self.disk.as_mut() {
                        Some(disk) if !disk.stats().disabled => {
                            let list = self.awaiting.entry(key).or_default();
                            if list.is_empty() {
                                disk.request(key, content);
                            }
                            for (slot, g) in &slots {
                                self.levels[l].set_work(*slot as usize, Work::Disk);
                                list.push((*slot, *g));
                            }
                        }
                        _ => {
                            self.levels[l].stats.misses += 1;
                            for (slot, _) in &slots {
                                self.push_work(l, *slot as usize, 0);
                            }
                        }
                    },
                }
            }
        }
        self.memory.count_recycle(count as u64);
        count
    }
}
