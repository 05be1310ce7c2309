//! The immutable voxel grid that tracers read: a dense array of chunks (4 x 4 x 4 bricks, 32^3 voxels) with a
//! 64-bit brick-occupancy mask each, and the bricks themselves. Shared with workers as `Arc<VoxelGrid>`; the
//! render thread edits a copy-on-write version (see [`super::VoxelWorld`]), so a trace never sees a torn edit.
//!
//! Besides the chunks the grid keeps dense per-brick bit sets (`brick_bits`: the brick exists; `stop_bits`:
//! a ray must stop and look, because the brick exists or its column is not streamed in) and per-column
//! streaming flags. Traversal lives in [`super::traverse`].

use std::sync::Arc;

use glam::{IVec2, IVec3, Vec3};

use super::brick::{mask_bounds, mask_rank, Brick, Mask, BRICK};
use super::emitters::Emitters;
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
    /// Box of each brick's solid voxels ([`mask_bounds`]).
    pub bounds: [u32; 64],
    /// Bit `i` set when brick `i` exists.
    pub occupancy: u64,
}

impl Default for Chunk {
    fn default() -> Self {
        Chunk {
            masks: [[0; 8]; 64],
            materials: std::array::from_fn(|_| None),
            hashes: [0; 64],
            bounds: [0; 64],
            occupancy: 0,
        }
    }
}

impl Chunk {
    /// Puts a brick (or nothing) at index `i`; returns the old one's material array.
    pub fn set(&mut self, i: usize, brick: Option<Brick>) -> Option<Arc<[PackedMaterial]>> {
        let old = self.materials[i].take();
        match brick {
            Some(b) => {
                self.masks[i] = b.mask;
                self.bounds[i] = mask_bounds(&b.mask);
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

use super::ray_index::RayIndex;
pub(crate) use super::ray_index::RAY_UNKNOWN;

/// A snapshot of the voxel world.
#[derive(Clone, Debug)]
pub struct VoxelGrid {
    /// World position of voxel (0, 0, 0)'s minimum corner, metres.
    pub origin: Vec3,
    /// Voxel edge, metres.
    pub voxel_size: f32,
    /// `1 / voxel_size`, so a trace starts without a division.
    pub(crate) inv_voxel_size: f32,
    /// Grid size in voxels (multiples of [`CHUNK`]).
    pub dims: IVec3,
    /// Grid size in chunks.
    pub chunk_dims: IVec3,
    pub(crate) chunks: Vec<Option<Arc<Chunk>>>,
    /// One bit per brick of the grid (`x + nbx (y + nby z)`): set when the brick exists. Traversal tests this
    /// dense set (tens of kilobytes, cache-resident) before touching any chunk.
    pub(crate) brick_bits: Vec<u64>,
    /// Where a ray must stop and look: one bit per brick (indexed like `brick_bits`), set when the brick
    /// exists or its column is not streamed in.
    pub(crate) stop_bits: Vec<u64>,
    /// Brick columns `(x, z)` whose regions are all streamed in; `nbx * nbz` flags.
    pub(crate) column_loaded: Vec<bool>,
    /// The batch tracer's index of the bricks (indexed like `brick_bits`).
    pub(crate) ray_index: RayIndex,
    /// Content hash of each chunk (0 for an empty chunk): stable across runs, so caches keyed by it survive
    /// restarts and notice any change of the voxels.
    pub(crate) chunk_hash: Vec<u64>,
    /// Emitted radiance by emissive index.
    pub emissive: Arc<EmissiveTable>,
    /// The emissive voxels, for next-event estimation (kept up to date by every edit).
    pub emitters: Arc<Emitters>,
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
            inv_voxel_size: 1.0 / voxel_size,
            dims: chunk_dims * CHUNK,
            chunk_dims,
            chunks: vec![None; n],
            brick_bits: vec![0; (n * 64).div_ceil(64)],
            stop_bits: vec![!0; (n * 64).div_ceil(64)],
            chunk_hash: vec![0; n],
            column_loaded: vec![false; cols],
            ray_index: RayIndex::new(n * 64),
            emissive: Arc::new(EmissiveTable::default()),
            emitters: Arc::new(Emitters::default()),
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
    pub(crate) fn chunk_of(&self, b: IVec3) -> Option<(&Chunk, usize)> {
        let chunk = self.chunks[self.chunk_index(b / CHUNK_BRICKS)].as_deref()?;
        let i = ((b.x & 3) + 4 * (b.y & 3) + 16 * (b.z & 3)) as usize;
        (chunk.occupancy >> i & 1 != 0).then_some((chunk, i))
    }

    /// The mask and solid box of the brick at brick coordinate `b` if its chunk exists (`b` inside the grid);
    /// a missing brick in an existing chunk reads as empty (all-zero mask). No occupancy read: callers have
    /// checked [`VoxelGrid::stop_bits`].
    #[inline(always)]
    pub(crate) fn brick_mask_bounds(&self, b: IVec3) -> Option<(&Mask, u32)> {
        let chunk = self.chunks[self.chunk_index(b >> 2)].as_deref()?;
        let i = ((b.x & 3) + 4 * (b.y & 3) + 16 * (b.z & 3)) as usize;
        Some((&chunk.masks[i], chunk.bounds[i]))
    }

    /// Brings brick `b`'s entry in the batch tracer's index up to date with the grid (its column's streaming
    /// flag and its mask).
    pub(crate) fn refresh_ray_slot(&mut self, b: IVec3) {
        let lin = self.brick_linear(b);
        // A missing brick (or chunk) reads as an all-zero mask.
        let mask = self.column_loaded(b.x, b.z).then(|| self.brick_mask_bounds(b).map_or([0; 8], |(m, _)| *m));
        self.ray_index.set(lin, mask);
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

    /// True when something solid lies within `max_dist` along the ray; unknown space counts as open.
    pub fn occluded(&self, origin: Vec3, dir: Vec3, max_dist: f32) -> bool {
        matches!(self.trace(origin, dir, max_dist), Trace::Hit(_))
    }

    /// Bytes of the batch tracer's index.
    pub(crate) fn ray_index_bytes(&self) -> usize {
        self.ray_index.bytes()
    }

    /// Number of existing bricks and solid voxels, and the bytes held (chunks, bricks, flags).
    pub fn memory(&self) -> GridMemory {
        let mut m = GridMemory {
            bytes: self.chunks.len() * std::mem::size_of::<Option<Arc<Chunk>>>() + self.column_loaded.len(),
            ..Default::default()
        };
        m.bytes += (self.brick_bits.len() + self.stop_bits.len()) * 8;
        m.bytes += self.ray_index_bytes();
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
