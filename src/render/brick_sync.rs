//! The GPU's copy of the voxel bricks, kept in step with the voxel grid by diffing, on the CPU (no wgpu here).
//!
//! The GPU holds four arrays of `u32` that the ray march reads ([`BrickLayout`]):
//! - `chunk_count`: per chunk of the grid, the number of bricks the GPU holds in it (0 lets a ray skip the
//!   whole 32^3-voxel chunk);
//! - `brick_slot`: per brick of the grid, its entry in the pool (0 = no brick: empty or not streamed in);
//! - `pool`: [`POOL_WORDS`] words per entry: the occupancy mask as 16 words (word `2 y + z / 4`, bit
//!   `x + 8 (z % 4)`) and the offset of the brick's materials;
//! - `materials`: packed materials of every brick's solid voxels in mask-bit order (a voxel's material is at
//!   its rank among the solid bits), allocated in power-of-two blocks with a free list per size.
//!
//! [`BrickMirror::sync`] compares the grid's chunk hashes, then the changed chunks' brick hashes, with what
//! the GPU holds, queues the bricks that differ, and hands out writes for the nearest ones first within a byte
//! budget. The writes are `(word index, value)` pairs per array, which a compute pass scatters into place, so
//! a frame's upload is one buffer write and one dispatch per array, whatever the number of bricks. An edit
//! touches only the bricks it changed.

use std::collections::BTreeMap;

use glam::IVec3;

use crate::voxel::grid::CHUNK_BRICKS;
use crate::voxel::VoxelGrid;

/// Words per pool entry: 16 mask words and the material offset.
pub const POOL_WORDS: u32 = 17;

/// Sizes of the GPU arrays, in words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrickLayout {
    /// Chunks in the grid.
    pub chunks: u32,
    /// Bricks in the grid.
    pub bricks: u32,
    /// Pool entries in use or freed (entry 0 is never used).
    pub pool_entries: u32,
    /// Words of the material arena in use or freed.
    pub material_words: u32,
}

/// One frame's writes: `(word index, value)` pairs per GPU array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrickWrites {
    /// Into `chunk_count`.
    pub chunk_count: Vec<[u32; 2]>,
    /// Into `brick_slot`.
    pub brick_slot: Vec<[u32; 2]>,
    /// Into `pool`.
    pub pool: Vec<[u32; 2]>,
    /// Into `materials`.
    pub materials: Vec<[u32; 2]>,
}

impl BrickWrites {
    /// Empties the lists, keeping their memory.
    pub fn clear(&mut self) {
        self.chunk_count.clear();
        self.brick_slot.clear();
        self.pool.clear();
        self.materials.clear();
    }

    /// Bytes these writes upload.
    pub fn bytes(&self) -> usize {
        8 * (self.chunk_count.len() + self.brick_slot.len() + self.pool.len() + self.materials.len())
    }
}

/// Counters of the brick mirror.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BrickStats {
    /// Bricks the GPU holds.
    pub resident: u64,
    /// Bricks waiting to be uploaded (changed on the CPU, not yet on the GPU).
    pub pending: u64,
    /// Bricks uploaded since the start.
    pub uploaded: u64,
    /// Bricks removed since the start.
    pub removed: u64,
    /// Bytes of writes handed out since the start.
    pub bytes: u64,
    /// Bricks left off the GPU because its buffers are full (the farthest ones; retried when room frees up).
    pub deferred: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Held {
    hash: u64,
    entry: u32,
    offset: u32,
    class: u8,
}

/// What the GPU holds, and the allocators of its pool and material arena.
#[derive(Debug, Default)]
pub struct BrickMirror {
    chunk_dims: IVec3,
    chunk_hash: Vec<u64>,
    chunk_count: Vec<u32>,
    held: Vec<Option<Held>>,
    pending: BTreeMap<u32, ()>,
    /// Bricks that did not fit the GPU's buffers; back to `pending` when a brick is removed.
    deferred: BTreeMap<u32, ()>,
    /// Most pool entries and material words the GPU can hold.
    max_entries: u32,
    max_words: u32,
    free_entries: Vec<u32>,
    next_entry: u32,
    free_blocks: [Vec<u32>; 10],
    next_word: u32,
    stats: BrickStats,
}

fn size_class(len: usize) -> u8 {
    len.max(1).next_power_of_two().trailing_zeros() as u8
}

impl BrickMirror {
    /// A mirror for a grid of `chunk_dims` chunks that holds nothing yet.
    pub fn new(chunk_dims: IVec3) -> Self {
        let chunks = (chunk_dims.x * chunk_dims.y * chunk_dims.z).max(0) as usize;
        BrickMirror {
            chunk_dims,
            chunk_hash: vec![0; chunks],
            chunk_count: vec![0; chunks],
            held: vec![None; chunks * 64],
            next_entry: 1,
            max_entries: u32::MAX,
            max_words: u32::MAX,
            ..Default::default()
        }
    }

    /// Sizes the GPU arrays need to hold every write handed out so far.
    pub fn layout(&self) -> BrickLayout {
        BrickLayout {
            chunks: self.chunk_hash.len() as u32,
            bricks: self.held.len() as u32,
            pool_entries: self.next_entry,
            material_words: self.next_word,
        }
    }

    /// Counters.
    pub fn stats(&self) -> BrickStats {
        BrickStats { pending: self.pending.len() as u64, deferred: self.deferred.len() as u64, ..self.stats }
    }

    /// Caps the pool entries and material words (the GPU's buffer limits). Bricks that do not fit are deferred
    /// (nearest first means the farthest ones) and retried whenever a brick leaves.
    pub fn set_limits(&mut self, max_entries: u32, max_words: u32) {
        self.max_entries = max_entries;
        self.max_words = max_words;
    }

    /// Brick linear index (`x + nbx (y + nby z)`, as the grid and the shader index bricks).
    fn brick_index(&self, b: IVec3) -> u32 {
        let n = self.chunk_dims * CHUNK_BRICKS;
        (b.x + n.x * (b.y + n.y * b.z)) as u32
    }

    fn brick_of(&self, i: u32) -> IVec3 {
        let n = self.chunk_dims * CHUNK_BRICKS;
        let i = i as i32;
        IVec3::new(i % n.x, (i / n.x) % n.y, i / (n.x * n.y))
    }

    /// Compares the grid with what the GPU holds, then writes the nearest changed bricks to `out` (cleared
    /// first) until `budget_bytes` is spent (at least one brick per call, so any budget makes progress).
    /// `camera` is in world units. Returns the number of bricks written.
    pub fn sync(&mut self, grid: &VoxelGrid, camera: glam::Vec3, budget_bytes: usize, out: &mut BrickWrites) -> usize {
        out.clear();
        if grid.chunk_dims != self.chunk_dims {
            let (e, w) = (self.max_entries, self.max_words);
            *self = BrickMirror::new(grid.chunk_dims);
            self.set_limits(e, w);
        }
        for ci in 0..self.chunk_hash.len() {
            if grid.chunk_hash[ci] == self.chunk_hash[ci] {
                continue;
            }
            self.chunk_hash[ci] = grid.chunk_hash[ci];
            let c = ci as i32;
            let d = self.chunk_dims;
            let chunk = IVec3::new(c % d.x, (c / d.x) % d.y, c / (d.x * d.y));
            let data = grid.chunks[ci].as_deref();
            for bi in 0..64usize {
                let local = IVec3::new((bi & 3) as i32, ((bi >> 2) & 3) as i32, (bi >> 4) as i32);
                let b = chunk * CHUNK_BRICKS + local;
                let lin = self.brick_index(b);
                let want = data.filter(|ch| ch.occupancy >> bi & 1 != 0).map_or(0, |ch| ch.hashes[bi]);
                let have = self.held[lin as usize].map_or(0, |h| h.hash);
                self.deferred.remove(&lin);
                if want != have {
                    self.pending.insert(lin, ());
                } else {
                    self.pending.remove(&lin);
                }
            }
        }
        if self.pending.is_empty() {
            return 0;
        }
        let cam_brick = grid.voxel_of(camera) / crate::voxel::brick::BRICK;
        let mut order: Vec<(i64, u32)> = self
            .pending
            .keys()
            .map(|&i| {
                let d = self.brick_of(i) - cam_brick;
                (i64::from(d.x).pow(2) + i64::from(d.y).pow(2) + i64::from(d.z).pow(2), i)
            })
            .collect();
        order.sort_unstable();
        let mut written = 0;
        for (_, lin) in order {
            if written > 0 && out.bytes() >= budget_bytes {
                break;
            }
            self.pending.remove(&lin);
            self.write_brick(grid, lin, out);
            written += 1;
        }
        // One write per touched chunk, with its final count (parallel scatters of one index would race).
        let mut touched: Vec<u32> = out.brick_slot.iter().map(|[lin, _]| self.chunk_of_brick(*lin)).collect();
        touched.sort_unstable();
        touched.dedup();
        out.chunk_count.extend(touched.into_iter().map(|c| [c, self.chunk_count[c as usize]]));
        self.stats.bytes += out.bytes() as u64;
        written
    }

    fn chunk_of_brick(&self, lin: u32) -> u32 {
        let c = self.brick_of(lin) / CHUNK_BRICKS;
        (c.x + self.chunk_dims.x * (c.y + self.chunk_dims.y * c.z)) as u32
    }

    fn write_brick(&mut self, grid: &VoxelGrid, lin: u32, out: &mut BrickWrites) {
        let b = self.brick_of(lin);
        let ci = self.chunk_of_brick(lin) as usize;
        let old = self.held[lin as usize].take();
        if let Some(h) = old {
            self.free_entries.push(h.entry);
            self.free_blocks[usize::from(h.class)].push(h.offset);
            self.chunk_count[ci] -= 1;
            self.stats.removed += 1;
        }
        if old.is_some() && !self.deferred.is_empty() {
            let back = std::mem::take(&mut self.deferred);
            self.pending.extend(back);
        }
        let brick = grid.chunk_of(b).map(|(chunk, i)| (chunk.masks[i], chunk.materials[i].clone(), chunk.hashes[i]));
        let fits = |m: &Self, len: usize| {
            let class = size_class(len);
            (!m.free_entries.is_empty() || m.next_entry < m.max_entries)
                && (!m.free_blocks[usize::from(class)].is_empty()
                    || u64::from(m.next_word) + (1u64 << class) <= u64::from(m.max_words))
        };
        match brick {
            Some((mask, Some(mats), _)) if mask != [0; 8] && !fits(self, mats.len()) => {
                out.brick_slot.push([lin, 0]);
                self.deferred.insert(lin, ());
            }
            Some((mask, Some(mats), hash)) if mask != [0; 8] => {
                let entry = self.free_entries.pop().unwrap_or_else(|| {
                    self.next_entry += 1;
                    self.next_entry - 1
                });
                let class = size_class(mats.len());
                let offset = self.free_blocks[usize::from(class)].pop().unwrap_or_else(|| {
                    self.next_word += 1 << class;
                    self.next_word - (1 << class)
                });
                let base = entry * POOL_WORDS;
                for (w, word) in (0..16).map(|i| (mask[i / 2] >> (32 * (i % 2))) as u32).enumerate() {
                    out.pool.push([base + w as u32, word]);
                }
                out.pool.push([base + 16, offset]);
                for (k, m) in mats.iter().enumerate() {
                    out.materials.push([offset + k as u32, m.0]);
                }
                out.brick_slot.push([lin, entry]);
                self.held[lin as usize] = Some(Held { hash, entry, offset, class });
                self.chunk_count[ci] += 1;
                self.stats.uploaded += 1;
            }
            _ => out.brick_slot.push([lin, 0]),
        }
        self.stats.resident = self.stats.uploaded - self.stats.removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies writes to plain arrays, as the scatter pass does on the GPU.
    fn apply(writes: &BrickWrites, gpu: &mut [Vec<u32>; 4], layout: BrickLayout) {
        gpu[0].resize(layout.chunks as usize, 0);
        gpu[1].resize(layout.bricks as usize, 0);
        gpu[2].resize((layout.pool_entries * POOL_WORDS) as usize, 0);
        gpu[3].resize(layout.material_words as usize, 0);
        for (a, list) in [&writes.chunk_count, &writes.brick_slot, &writes.pool, &writes.materials].iter().enumerate() {
            for [i, v] in list.iter() {
                gpu[a][*i as usize] = *v;
            }
        }
    }

    /// A sample world's grid after a few lockstep frames at its main bookmark.
    pub(crate) fn test_grid(name: &str) -> std::sync::Arc<VoxelGrid> {
        use crate::pipeline::{Pipeline, PipelineOptions, INTEREST_RADIUS};
        let path = crate::world::resolve_world(name).expect("sample world");
        let world = std::sync::Arc::new(crate::world::load_world(&path).expect("sample world loads"));
        let cam = world.bookmarks.get("main").map_or(glam::Vec3::ZERO, |b| b.position);
        let probes =
            crate::probes::manager::ProbeConfig { levels: 1, dims: glam::UVec3::splat(4), ..Default::default() };
        let opts = PipelineOptions {
            threads: 1,
            cache_dir: None,
            disk_cap_bytes: 0,
            probes,
            interest_radius: INTEREST_RADIUS,
        };
        let mut p = Pipeline::new(world, &opts).expect("pipeline");
        for _ in 0..4 {
            p.step(cam, true).expect("step");
        }
        p.grid().clone()
    }

    #[test]
    fn bricks_beyond_the_gpu_limits_are_deferred_not_lost() {
        let grid = test_grid("cornell");
        let mut full = BrickMirror::new(grid.chunk_dims);
        let mut w = BrickWrites::default();
        while full.sync(&grid, glam::Vec3::ZERO, 1 << 30, &mut w) > 0 {}
        let all = full.stats().resident;
        let mut m = BrickMirror::default();
        m.set_limits(u32::MAX, full.layout().material_words / 2);
        while m.sync(&grid, glam::Vec3::ZERO, 1 << 30, &mut w) > 0 {}
        let s = m.stats();
        assert!(s.resident > 0 && s.deferred > 0, "{s:?}");
        assert_eq!(s.resident + s.deferred, all, "every brick is held or deferred");
        assert!(m.layout().material_words <= full.layout().material_words / 2);
        assert_eq!(s.pending, 0, "deferred bricks do not count as pending");
    }

    #[test]
    fn size_classes_round_up_to_powers_of_two() {
        assert_eq!(size_class(0), 0);
        assert_eq!(size_class(1), 0);
        assert_eq!(size_class(3), 2);
        assert_eq!(size_class(512), 9);
    }

    #[test]
    fn mirror_matches_grid_after_sync_and_edit() {
        let grid = test_grid("cornell");
        let mut m = BrickMirror::new(grid.chunk_dims);
        let mut gpu: [Vec<u32>; 4] = Default::default();
        let mut w = BrickWrites::default();
        let mut rounds = 0;
        while m.sync(&grid, glam::Vec3::ZERO, 64 << 10, &mut w) > 0 {
            apply(&w, &mut gpu, m.layout());
            rounds += 1;
        }
        assert!(rounds > 1, "the budget spreads the upload over frames");
        // Every voxel of the grid reads back the same from the GPU arrays.
        let n = grid.dims;
        let mut solid = 0;
        for z in 0..n.z {
            for y in 0..n.y {
                for x in 0..n.x {
                    let v = IVec3::new(x, y, z);
                    let b = v / 8;
                    let entry = gpu[1][m.brick_index(b) as usize];
                    let got = (entry != 0).then(|| {
                        let base = (entry * POOL_WORDS) as usize;
                        let (l, word) = ((v.x & 7) + 8 * ((v.z & 7) % 4), 2 * (v.y & 7) + (v.z & 7) / 4);
                        let w = gpu[2][base + word as usize];
                        (w >> l & 1 != 0).then(|| {
                            let below: u32 = (0..word as usize).map(|k| gpu[2][base + k].count_ones()).sum();
                            let rank = below + (w & ((1u32 << l) - 1)).count_ones();
                            gpu[3][(gpu[2][base + 16] + rank) as usize]
                        })
                    });
                    let want = grid.material(v).map(|m| m.0);
                    assert_eq!(got.flatten(), want, "voxel {v}");
                    solid += u32::from(want.is_some());
                }
            }
        }
        assert!(solid > 1000);
        let chunks_with_bricks = gpu[0].iter().filter(|c| **c > 0).count();
        assert!(chunks_with_bricks > 0);
        assert_eq!(m.stats().resident, grid.memory().bricks as u64);
        // Nothing changed: nothing to write.
        assert_eq!(m.sync(&grid, glam::Vec3::ZERO, 64 << 10, &mut w), 0);
    }
}
