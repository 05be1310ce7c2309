//! The voxel world the probes trace: bricks, materials, edits from scene changes, ray traversal, light.
//!
//! - [`brick`]: 8^3 bricks with occupancy bitmasks and rank-compressed materials.
//! - [`material`]: 32-bit packed voxel materials and the emissive table.
//! - [`grid`]: the immutable, shareable grid (chunks of 4^3 bricks).
//! - [`traverse`]: ray traversal of the grid (two-level slab march); `traverse_wide`: its voxel level with
//!   AVX-512, chosen at run time; `traverse_batch`: batches of rays sixteen at a time with AVX-512.
//! - [`world`]: the editable world: terrain per streamed region, voxelised placements, brick rebuilds,
//!   copy-on-write publishing.
//! - [`emitters`]: the emissive voxels, for next-event estimation (sampling lamps directly), grouped into
//!   small area lights.
//! - [`emitter_light`]: the emitters' direct light at a shading point (with shadow rays).
//! - [`light`]: what a ray sees at a hit or a miss (sun with shadow ray, sky, emission, known irradiance).

mod avx512;
pub mod brick;
pub mod emitter_light;
pub mod emitters;
pub mod grid;
pub mod light;
pub mod material;
mod ray_index;
pub mod traverse;
#[cfg(target_arch = "x86_64")]
mod traverse_batch;
#[cfg(target_arch = "x86_64")]
mod traverse_wide;
pub mod world;

pub use brick::{Brick, BRICK};
pub use emitter_light::emitter_irradiance;
pub use emitters::{EmitterLight, EmitterSample, Emitters};
pub use grid::{GridMemory, Hit, Trace, VoxelGrid, CHUNK};
pub use light::{IrradianceSource, NoIrradiance};
pub use material::{EmissiveTable, PackedMaterial};
pub use traverse::{wide_voxel_level, RayQuery};
pub use world::{VoxelEdit, VoxelStats, VoxelWorld};
