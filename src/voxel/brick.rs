//! Bricks: 8 x 8 x 8 voxels with a 512-bit occupancy mask and the packed materials of the solid voxels only,
//! stored in bit order (a voxel's material is found by the rank of its bit). In the grid, masks live inline in
//! their chunk (one cache line each) and materials in a shared array per brick, fetched only at hits: a brick
//! costs 64 bytes of mask plus 4 bytes per solid voxel.
//!
//! Bit layout: voxel `(x, y, z)` (each 0..8) is bit `x + 8 z` of word `y`: each word is a horizontal slab, so
//! traversal can skip a whole empty slab (open air above terrain) in one step. Dense bricks use index
//! `x + 8 y + 64 z`.

use std::sync::Arc;

use super::material::{EmissiveTable, PackedMaterial};
use crate::hash::mix64;

/// Voxels per brick edge.
pub const BRICK: i32 = 8;
/// Voxels per brick.
pub const BRICK_VOXELS: usize = 512;

/// A brick's occupancy: word `y`, bit `x + 8 z`.
pub type Mask = [u64; 8];

/// True when voxel `(x, y, z)` (local, each in 0..8) is solid.
#[inline(always)]
pub fn mask_solid(mask: &Mask, x: i32, y: i32, z: i32) -> bool {
    mask[(y & 7) as usize] >> ((x + 8 * z) & 63) & 1 != 0
}

/// Index of a solid voxel among the brick's solid voxels (its material's index), `None` when empty.
#[inline]
pub fn mask_rank(mask: &Mask, x: i32, y: i32, z: i32) -> Option<usize> {
    let bit = ((x + 8 * z) & 63) as u32;
    let y = (y & 7) as usize;
    let word = mask[y];
    if word >> bit & 1 == 0 {
        return None;
    }
    let below: u32 = mask[..y].iter().map(|w| w.count_ones()).sum();
    Some((below + (word & ((1u64 << bit) - 1)).count_ones()) as usize)
}

/// A compressed brick: its mask and the materials of its solid voxels in rank order. Immutable once built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brick {
    /// Occupancy.
    pub mask: Mask,
    /// Materials of the solid voxels, in bit order (word by word).
    pub materials: Arc<[PackedMaterial]>,
    /// Content hash: occupancy, albedo and emitted radiance (by value, not by table index, since indices
    /// depend on interning order). Stable across runs; probe caches key on it.
    pub hash: u64,
}

impl Brick {
    /// Compresses a dense brick (index `x + 8 y + 64 z`, [`PackedMaterial::EMPTY`] for empty) and hashes its
    /// content, reading emission from `emissive`. `None` if empty.
    pub fn from_dense(dense: &[PackedMaterial; BRICK_VOXELS], emissive: &EmissiveTable) -> Option<Brick> {
        let mut mask = [0u64; 8];
        let mut materials = Vec::new();
        let mut hash = 0x6A09_E667_F3BC_C908u64;
        for (y, word) in mask.iter_mut().enumerate() {
            for z in 0..8 {
                for x in 0..8 {
                    let m = dense[x + 8 * y + 64 * z];
                    if !m.is_empty() {
                        *word |= 1 << (x + 8 * z);
                        materials.push(m);
                        let e = emissive.get(m.emissive_index());
                        let radiance = e.x.to_bits() ^ e.y.to_bits().rotate_left(11) ^ e.z.to_bits().rotate_left(22);
                        hash = mix64(hash ^ (u64::from(m.0 & 0x00FF_FFFF) | u64::from(radiance) << 24));
                    }
                }
            }
            hash = mix64(hash ^ *word);
        }
        (!materials.is_empty()).then(|| Brick { mask, materials: materials.into(), hash })
    }

    /// Number of solid voxels.
    pub fn solid_count(&self) -> usize {
        self.materials.len()
    }

    /// Bytes of the material array (the mask lives in its chunk).
    pub fn material_bytes(&self) -> usize {
        16 + self.materials.len() * std::mem::size_of::<PackedMaterial>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec3;

    #[test]
    fn masks_and_rank_lookup_match_the_dense_brick() {
        let mut dense = [PackedMaterial::EMPTY; BRICK_VOXELS];
        for i in (0..BRICK_VOXELS).step_by(7) {
            dense[i] = PackedMaterial::new(Vec3::splat((i % 255) as f32 / 255.0), (i % 3) as u8);
        }
        let b = Brick::from_dense(&dense, &EmissiveTable::default()).unwrap();
        for z in 0..8 {
            for y in 0..8 {
                for x in 0..8 {
                    let i = (x + 8 * y + 64 * z) as usize;
                    assert_eq!(mask_solid(&b.mask, x, y, z), !dense[i].is_empty());
                    let material = mask_rank(&b.mask, x, y, z).map(|r| b.materials[r]);
                    assert_eq!(material, (!dense[i].is_empty()).then_some(dense[i]));
                }
            }
        }
        assert!(Brick::from_dense(&[PackedMaterial::EMPTY; BRICK_VOXELS], &EmissiveTable::default()).is_none());
    }
}
