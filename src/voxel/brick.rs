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

/// The box of a mask's solid voxels, packed 3 bits per bound: `lo.x, lo.y, lo.z, hi.x, hi.y, hi.z` (inclusive)
/// from bit 0 up. An empty mask gives `lo = 7, hi = 0`.
pub fn mask_bounds(mask: &Mask) -> u32 {
    let words = mask.iter().fold(0u64, |a, w| a | w);
    if words == 0 {
        return 7 | 7 << 3 | 7 << 6;
    }
    let ys = mask.iter().enumerate().filter(|(_, w)| **w != 0).map(|(y, _)| y as u32);
    let (y0, y1) = (ys.clone().min().unwrap_or(0), ys.max().unwrap_or(0));
    let xs = (0..8).fold(0u8, |a, z| a | (words >> (8 * z)) as u8);
    let zs = (0..8).fold(0u8, |a, z| a | u8::from((words >> (8 * z)) as u8 != 0) << z);
    let (x0, x1) = (xs.trailing_zeros(), 7 - xs.leading_zeros());
    let (z0, z1) = (zs.trailing_zeros(), 7 - zs.leading_zeros());
    x0 | y0 << 3 | z0 << 6 | x1 << 9 | y1 << 12 | z1 << 15
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

    #[test]
    fn bounds_are_the_box_of_the_solid_voxels() {
        let mut mask = [0u64; 8];
        for (x, y, z) in [(2, 1, 5), (6, 4, 3), (3, 6, 7)] {
            mask[y] |= 1 << (x + 8 * z);
        }
        let b = mask_bounds(&mask);
        let field = |i: u32| b >> (3 * i) & 7;
        assert_eq!((field(0), field(1), field(2)), (2, 1, 3), "low corner");
        assert_eq!((field(3), field(4), field(5)), (6, 6, 7), "high corner");
        let full = mask_bounds(&[!0; 8]);
        assert_eq!(full, 7 << 9 | 7 << 12 | 7 << 15);
    }
}
