//! The immutable voxel grid that tracers read: a dense array of chunks (4 x 4 x 4 bricks, 32^3 voxels) with a
//! 64-bit brick-occupancy mask each, and the bricks themselves. Shared with workers as `Arc<VoxelGrid>`; the
//! render thread edits a copy-on-write version (see [`super::VoxelWorld`]), so a trace never sees a torn edit.
//!
//! Traversal is a two-level DDA in voxel units: it steps brick by brick (8 voxels) and only descends to
//! voxel steps inside bricks that hold solid voxels, so open space costs one step per 8 voxels. A ray that
//! enters a brick column whose regions are not streamed in stops with [`Trace::Unknown`]: unstreamed space is
//! never mistaken for sky. Leaving the grid is a miss (nothing exists outside the world).

use std::sync::Arc;

use glam::{IVec2, IVec3, Vec3};

use super::brick::{mask_rank, mask_solid, Brick, Mask, BRICK};
use super::material::{EmissiveTable, PackedMaterial};
use crate::world::Lights;

/// Bricks per chunk edge.
pub const CHUNK_BRICKS: i32 = 4;
/// Voxels per chunk edge.
pub const CHUNK: i32 = BRICK * CHUNK_BRICKS;

/// 64 bricks: their masks inline (one 64-byte cache line each, so a traversal step costs at most one miss)
/// and their material arrays. Brick index `bx + 4 by + 16 bz`.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Chunk {
    /// Occupancy masks; all zero for a missing brick.
    pub masks: [Mask; 64],
    /// Materials of each existing brick's solid voxels, in rank order.
    pub materials: [Option<Arc<[PackedMaterial]>>; 64],
    /// Content hash of each existing brick ([`Brick::hash`]).
    pub hashes: [u64; 64],
    /// Bit `i` set when brick `i` exists.
    pub occupancy: u64,
}

impl Default for Chunk {
    fn default() -> Self {
        Chunk { masks: [[0; 8]; 64], materials: std::array::from_fn(|_| None), hashes: [0; 64], occupancy: 0 }
    }
}

impl Chunk {
    /// Puts a brick (or nothing) at index `i`; returns the old one's material array.
    pub fn set(&mut self, i: usize, brick: Option<Brick>) -> Option<Arc<[PackedMaterial]>> {
        let old = self.materials[i].take();
        match brick {
            Some(b) => {
                self.masks[i] = b.mask;
                self.materials[i] = Some(b.materials);
                self.hashes[i] = b.hash;
                self.occupancy |= 1 << i;
            }
            None => {
                self.masks[i] = [0; 8];
                self.hashes[i] = 0;
                self.occupancy &= !(1 << i);
            }
        }
        old
    }
}

/// Result of a ray.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trace {
    /// The ray hit a solid voxel.
    Hit(Hit),
    /// Nothing within the distance, or the ray left the world.
    Miss {
        /// True when the ray left the grid (it sees the sky); false when it ran out of distance inside it.
        escaped: bool,
    },
    /// The ray entered space that is not streamed in, at this distance (metres).
    Unknown {
        /// Distance travelled, metres.
        dist: f32,
    },
}

/// A ray hit. The material is looked up on demand ([`VoxelGrid::material`]), so occlusion rays never touch
/// material memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Distance from the origin, metres.
    pub dist: f32,
    /// The hit voxel (grid coordinates).
    pub voxel: IVec3,
    /// Outward normal of the face that was entered (axis-aligned, unit).
    pub normal: Vec3,
}

/// A snapshot of the voxel world.
#[derive(Clone, Debug)]
pub struct VoxelGrid {
    /// World position of voxel (0, 0, 0)'s minimum corner, metres.
    pub origin: Vec3,
    /// Voxel edge, metres.
    pub voxel_size: f32,
    /// Grid size in voxels (multiples of [`CHUNK`]).
    pub dims: IVec3,
    /// Grid size in chunks.
    pub chunk_dims: IVec3,
    pub(crate) chunks: Vec<Option<Arc<Chunk>>>,
    /// One bit per brick of the grid (`x + nbx (y + nby z)`): set when the brick exists. Traversal tests this
    /// dense set (tens of kilobytes, cache-resident) before touching any chunk.
    pub(crate) brick_bits: Vec<u64>,
    /// Brick columns `(x, z)` whose regions are all streamed in; `nbx * nbz` flags.
    pub(crate) column_loaded: Vec<bool>,
    /// Content hash of each chunk (0 for an empty chunk): stable across runs, so caches keyed by it survive
    /// restarts and notice any change of the voxels.
    pub(crate) chunk_hash: Vec<u64>,
    /// Emitted radiance by emissive index.
    pub emissive: Arc<EmissiveTable>,
    /// Sun and sky.
    pub lights: Lights,
    /// Increases with every edit.
    pub version: u64,
}

impl VoxelGrid {
    /// An empty grid (no chunks, nothing loaded).
    pub fn empty(origin: Vec3, voxel_size: f32, chunk_dims: IVec3, lights: Lights) -> Self {
        let n = (chunk_dims.x * chunk_dims.y * chunk_dims.z) as usize;
        let cols = (chunk_dims.x * CHUNK_BRICKS * chunk_dims.z * CHUNK_BRICKS) as usize;
        VoxelGrid {
            origin,
            voxel_size,
            dims: chunk_dims * CHUNK,
            chunk_dims,
            chunks: vec![None; n],
            brick_bits: vec![0; (n * 64).div_ceil(64)],
            chunk_hash: vec![0; n],
            column_loaded: vec![false; cols],
            emissive: Arc::new(EmissiveTable::default()),
            lights,
            version: 0,
        }
    }

    /// Brick columns along X and Z.
    pub fn brick_columns(&self) -> IVec2 {
        IVec2::new(self.chunk_dims.x * CHUNK_BRICKS, self.chunk_dims.z * CHUNK_BRICKS)
    }

    /// The voxel holding a world position (may be outside the grid).
    pub fn voxel_of(&self, p: Vec3) -> IVec3 {
        ((p - self.origin) / self.voxel_size).floor().as_ivec3()
    }

    /// World position of a voxel's centre.
    pub fn voxel_center(&self, v: IVec3) -> Vec3 {
        self.origin + (v.as_vec3() + 0.5) * self.voxel_size
    }

    /// True when the voxel lies inside the grid.
    pub fn in_grid(&self, v: IVec3) -> bool {
        v.cmpge(IVec3::ZERO).all() && v.cmplt(self.dims).all()
    }

    #[inline(always)]
    fn chunk_index(&self, c: IVec3) -> usize {
        (c.x + self.chunk_dims.x * (c.y + self.chunk_dims.y * c.z)) as usize
    }

    /// The chunk holding brick `b` and the brick's index in it (`b` must be inside the grid).
    #[inline(always)]
    fn chunk_of(&self, b: IVec3) -> Option<(&Chunk, usize)> {
        let chunk = self.chunks[self.chunk_index(b / CHUNK_BRICKS)].as_deref()?;
        let i = ((b.x & 3) + 4 * (b.y & 3) + 16 * (b.z & 3)) as usize;
        (chunk.occupancy >> i & 1 != 0).then_some((chunk, i))
    }

    /// The mask of the brick at brick coordinate `b`, if the brick exists (`b` must be inside the grid).
    #[inline(always)]
    pub fn brick_mask(&self, b: IVec3) -> Option<&Mask> {
        self.chunk_of(b).map(|(c, i)| &c.masks[i])
    }

    /// True when the brick column `(bx, bz)` is streamed in.
    #[inline(always)]
    pub fn column_loaded(&self, bx: i32, bz: i32) -> bool {
        self.column_loaded[(bx + bz * self.chunk_dims.x * CHUNK_BRICKS) as usize]
    }

    /// Material of a voxel, if solid.
    pub fn material(&self, v: IVec3) -> Option<PackedMaterial> {
        if !self.in_grid(v) {
            return None;
        }
        let (chunk, i) = self.chunk_of(v / BRICK)?;
        let r = mask_rank(&chunk.masks[i], v.x & 7, v.y & 7, v.z & 7)?;
        chunk.materials[i].as_ref().map(|m| m[r])
    }

    /// A hash of every voxel (and its material and emission) inside the world box `[lo, hi]`, at chunk
    /// granularity: equal hashes mean equal surroundings. Stable across runs.
    pub fn content_version(&self, lo: Vec3, hi: Vec3) -> u64 {
        let to_chunk = |p: Vec3| {
            (((p - self.origin) / (self.voxel_size * CHUNK as f32)).floor().as_ivec3())
                .clamp(IVec3::ZERO, self.chunk_dims - 1)
        };
        let (a, b) = (to_chunk(lo), to_chunk(hi));
        let mut h = crate::hash::hash_words(&[u64::from(a.x as u32), u64::from(a.y as u32), u64::from(a.z as u32)]);
        for z in a.z..=b.z {
            for y in a.y..=b.y {
                for x in a.x..=b.x {
                    h = crate::hash::mix64(h ^ self.chunk_hash[self.chunk_index(IVec3::new(x, y, z))]);
                }
            }
        }
        let lights = &self.lights;
        let light_words: Vec<u64> = lights
            .sun
            .iter()
            .flat_map(|s| s.direction.to_array().into_iter().chain(s.radiance.to_array()))
            .chain(lights.sky.zenith.to_array())
            .chain(lights.sky.horizon.to_array())
            .chain(lights.sky.ground.to_array())
            .map(|v| u64::from(v.to_bits()))
            .collect();
        crate::hash::mix64(h ^ crate::hash::hash_words(&light_words))
    }

    /// True when the world position lies in a solid voxel.
    pub fn solid_at(&self, p: Vec3) -> bool {
        self.material(self.voxel_of(p)).is_some()
    }

    /// True when the world position lies in streamed-in space inside the grid.
    pub fn known_at(&self, p: Vec3) -> bool {
        let v = self.voxel_of(p);
        self.in_grid(v) && self.column_loaded(v.x >> 3, v.z >> 3)
    }

    /// Linear index of a brick in [`VoxelGrid::brick_bits`].
    #[inline(always)]
    pub(crate) fn brick_linear(&self, b: IVec3) -> usize {
        let n = self.dims / BRICK;
        (b.x + n.x * (b.y + n.y * b.z)) as usize
    }

    /// Traces a ray from `origin` along unit `dir` for at most `max_dist` metres.
    pub fn trace(&self, origin: Vec3, dir: Vec3, max_dist: f32) -> Trace {
        let inv_vs = 1.0 / self.voxel_size;
        let ov = (origin - self.origin) * inv_vs;
        let limit = max_dist * inv_vs;
        let safe = |d: f32| if d.abs() < 1e-12 { 1e-12f32.copysign(d) } else { d };
        let dv = Vec3::new(safe(dir.x), safe(dir.y), safe(dir.z));
        let iv = dv.recip();
        let ta = -ov * iv;
        let tb = (self.dims.as_vec3() - ov) * iv;
        let t_in = ta.min(tb).max_element().max(0.0);
        let t_box = ta.max(tb).min_element();
        if t_in >= t_box || t_in >= limit {
            return Trace::Miss { escaped: t_in < limit };
        }
        let t_end = t_box.min(limit);
        let escaped_at_end = t_box <= limit;

        let o = ov.to_array();
        let d = dv.to_array();
        let inv = iv.to_array();
        let step = [sgn(d[0]), sgn(d[1]), sgn(d[2])];
        let nb = (self.dims / BRICK).to_array();
        let bsize = BRICK as f32;
        let mut b = [0i32; 3];
        let mut t_next = [0f32; 3];
        let mut t_delta = [0f32; 3];
        for a in 0..3 {
            b[a] = ffloor((o[a] + d[a] * t_in) / bsize).clamp(0, nb[a] - 1);
            t_next[a] = ((b[a] + i32::from(step[a] > 0)) as f32 * bsize - o[a]) * inv[a];
            t_delta[a] = (inv[a] * bsize).abs();
        }
        let (sx, sy, sz) = (1usize, nb[0] as usize, (nb[0] * nb[1]) as usize);
        let stride = [sx as isize * step[0] as isize, sy as isize * step[1] as isize, sz as isize * step[2] as isize];
        let mut lin = b[0] as usize * sx + b[1] as usize * sy + b[2] as usize * sz;
        let mut t = t_in;
        let mut entry_axis = if t_in > 0.0 { major_entry_axis(ta, tb) } else { NO_AXIS };
        loop {
            if !self.column_loaded[(b[0] + b[2] * nb[0]) as usize] {
                return Trace::Unknown { dist: t * self.voxel_size };
            }
            let axis = min_axis(t_next);
            let t_leave = t_next[axis].min(t_end);
            if self.brick_bits[lin >> 6] >> (lin & 63) & 1 != 0 {
                if let Some(mask) = self.brick_mask(IVec3::from_array(b)) {
                    if let Some(hit) = self.brick_dda(mask, b, &o, &d, &inv, &step, t, t_leave, entry_axis) {
                        return Trace::Hit(hit);
                    }
                }
            }
            if t_next[axis] >= t_end {
                return Trace::Miss { escaped: escaped_at_end };
            }
            b[axis] += step[axis];
            if b[axis] < 0 || b[axis] >= nb[axis] {
                return Trace::Miss { escaped: true };
            }
            lin = (lin as isize + stride[axis]) as usize;
            t = t_next[axis];
            t_next[axis] += t_delta[axis];
            entry_axis = axis;
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn brick_dda(
        &self,
        mask: &Mask,
        b: [i32; 3],
        o: &[f32; 3],
        d: &[f32; 3],
        inv: &[f32; 3],
        step: &[i32; 3],
        t_start: f32,
        t_leave: f32,
        entry_axis: usize,
    ) -> Option<Hit> {
        let mut v = [0i32; 3];
        let mut t_next = [0f32; 3];
        let mut t_delta = [0f32; 3];
        for a in 0..3 {
            let base = b[a] * BRICK;
            v[a] = if a == entry_axis {
                // Pinned to the entered face.
                if step[a] > 0 {
                    0
                } else {
                    BRICK - 1
                }
            } else {
                (ffloor(o[a] + d[a] * t_start) - base).clamp(0, BRICK - 1)
            };
            t_next[a] = ((base + v[a] + i32::from(step[a] > 0)) as f32 - o[a]) * inv[a];
            t_delta[a] = inv[a].abs();
        }
        let mut t = t_start;
        let mut axis_in = entry_axis;
        loop {
            if mask[(v[1] & 7) as usize] == 0 {
                // The whole horizontal slab is empty: go straight to where the ray leaves it.
                let t_slab = t_next[1];
                if t_slab >= t_leave {
                    return None;
                }
                for a in [0, 2] {
                    while t_next[a] < t_slab {
                        v[a] += step[a];
                        t_next[a] += t_delta[a];
                    }
                }
                v[1] += step[1];
                if (v[0] as u32 | v[1] as u32 | v[2] as u32) >= BRICK as u32 {
                    return None;
                }
                t = t_slab;
                t_next[1] += t_delta[1];
                axis_in = 1;
                continue;
            }
            if mask_solid(mask, v[0], v[1], v[2]) {
                let normal = if axis_in < 3 {
                    let mut n = [0f32; 3];
                    n[axis_in] = -(step[axis_in] as f32);
                    Vec3::from_array(n)
                } else {
                    -major_dir(Vec3::from_array(*d))
                };
                let voxel = IVec3::new(b[0] * BRICK + v[0], b[1] * BRICK + v[1], b[2] * BRICK + v[2]);
                return Some(Hit { dist: t * self.voxel_size, voxel, normal });
            }
            let a = min_axis(t_next);
            if t_next[a] >= t_leave {
                return None;
            }
            v[a] += step[a];
            if v[a] as u32 >= BRICK as u32 {
                return None;
            }
            t = t_next[a];
            t_next[a] += t_delta[a];
            axis_in = a;
        }
    }

    /// True when something solid lies within `max_dist` along the ray; unknown space counts as open.
    pub fn occluded(&self, origin: Vec3, dir: Vec3, max_dist: f32) -> bool {
        matches!(self.trace(origin, dir, max_dist), Trace::Hit(_))
    }

    /// Number of existing bricks and solid voxels, and the bytes held (chunks, bricks, flags).
    pub fn memory(&self) -> GridMemory {
        let mut m = GridMemory {
            bytes: self.chunks.len() * std::mem::size_of::<Option<Arc<Chunk>>>() + self.column_loaded.len(),
            ..Default::default()
        };
        m.bytes += self.brick_bits.len() * 8;
        for c in self.chunks.iter().flatten() {
            m.chunks += 1;
            m.bytes += std::mem::size_of::<Chunk>();
            for mats in c.materials.iter().flatten() {
                m.bricks += 1;
                m.solid_voxels += mats.len() as u64;
                m.bytes += 16 + mats.len() * std::mem::size_of::<PackedMaterial>();
            }
        }
        m
    }
}

/// Memory held by a grid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GridMemory {
    /// Chunks allocated.
    pub chunks: usize,
    /// Bricks allocated.
    pub bricks: usize,
    /// Solid voxels.
    pub solid_voxels: u64,
    /// Bytes resident (grid, chunks, bricks).
    pub bytes: usize,
}

/// `floor` as an integer without a libm call (baseline x86-64 has no rounding instruction).
#[inline(always)]
fn ffloor(x: f32) -> i32 {
    let i = x as i32;
    i - i32::from((i as f32) > x)
}

/// "No axis": the ray started inside the brick.
const NO_AXIS: usize = 3;

#[inline(always)]
fn sgn(x: f32) -> i32 {
    if x < 0.0 {
        -1
    } else {
        1
    }
}

#[inline(always)]
fn min_axis(t: [f32; 3]) -> usize {
    if t[0] < t[1] {
        if t[0] < t[2] {
            0
        } else {
            2
        }
    } else if t[1] < t[2] {
        1
    } else {
        2
    }
}

/// The axis of the slab the ray entered the grid box through.
fn major_entry_axis(ta: Vec3, tb: Vec3) -> usize {
    let t = ta.min(tb);
    if t.x >= t.y && t.x >= t.z {
        0
    } else if t.y >= t.z {
        1
    } else {
        2
    }
}

fn major_dir(d: Vec3) -> Vec3 {
    let a = d.abs();
    if a.x >= a.y && a.x >= a.z {
        Vec3::new(d.x.signum(), 0.0, 0.0)
    } else if a.y >= a.z {
        Vec3::new(0.0, d.y.signum(), 0.0)
    } else {
        Vec3::new(0.0, 0.0, d.z.signum())
    }
}
