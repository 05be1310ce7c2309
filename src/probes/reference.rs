//! Reference irradiance: many cosine-weighted rays with several bounces of path tracing, the ground truth
//! for lighting-quality comparisons. Same voxel world, materials, sun, sky and emission as the probes; no
//! probe data is used. Deterministic in its seed.

use std::f32::consts::PI;

use glam::Vec3;

use crate::hash::{hash_words, Rng};
use crate::voxel::light::{hit_point, sky_radiance, sun_irradiance};
use crate::voxel::{Trace, VoxelGrid};

/// Settings of a reference estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReferenceSettings {
    /// Rays from the point (e.g. 4,096).
    pub rays: u32,
    /// Bounces after the first hit (1 = direct light at the first hit only).
    pub bounces: u32,
    /// Longest ray, metres.
    pub max_distance: f32,
    /// Seed of the sample sequence.
    pub seed: u64,
}

impl Default for ReferenceSettings {
    fn default() -> Self {
        ReferenceSettings { rays: 4096, bounces: 3, max_distance: 256.0, seed: 1 }
    }
}

/// A reference estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReferenceResult {
    /// Irradiance at the point for the normal.
    pub irradiance: Vec3,
    /// Fraction of primary rays that entered unstreamed space (their radiance counts as zero).
    pub unknown_fraction: f32,
    /// Relative standard error of the estimate's luminance (its own noise; 0 when it is zero).
    pub relative_error: f32,
}

/// Irradiance at `point` on a surface facing unit `normal`.
pub fn reference_irradiance(grid: &VoxelGrid, point: Vec3, normal: Vec3, s: &ReferenceSettings) -> ReferenceResult {
    let mut sum = Vec3::ZERO;
    let (mut lum_sum, mut lum_sq) = (0.0f64, 0.0f64);
    let mut unknown = 0u32;
    for i in 0..s.rays {
        let mut rng = Rng::new(hash_words(&[s.seed, u64::from(i), 0x5EF]));
        let dir = cosine_sample(normal, &mut rng);
        match radiance(grid, point, dir, s.bounces, s.max_distance, &mut rng) {
            Some(l) => {
                sum += l;
                let lum = f64::from(l.x + l.y + l.z) / 3.0;
                lum_sum += lum;
                lum_sq += lum * lum;
            }
            None => unknown += 1,
        }
    }
    let n = f64::from(s.rays.max(1));
    let mean = lum_sum / n;
    let var = (lum_sq / n - mean * mean).max(0.0);
    // Cosine-weighted sampling: E = pi / N * sum(L).
    ReferenceResult {
        irradiance: sum * (PI / s.rays.max(1) as f32),
        unknown_fraction: unknown as f32 / s.rays.max(1) as f32,
        relative_error: if mean > 0.0 { ((var / n).sqrt() / mean) as f32 } else { 0.0 },
    }
}

/// Radiance arriving at `origin` from `dir`; `None` for unstreamed space.
fn radiance(grid: &VoxelGrid, origin: Vec3, dir: Vec3, bounces: u32, max_distance: f32, rng: &mut Rng) -> Option<Vec3> {
    match grid.trace(origin, dir, max_distance) {
        Trace::Miss { .. } => Some(sky_radiance(grid, dir)),
        Trace::Unknown { .. } => None,
        Trace::Hit(h) => {
            let p = hit_point(grid, origin, dir, &h);
            let material = grid.material(h.voxel).unwrap_or(crate::voxel::PackedMaterial::EMPTY);
            let albedo = material.albedo();
            let mut e = sun_irradiance(grid, p, h.normal);
            if bounces > 1 {
                // One cosine-weighted bounce estimates the indirect irradiance: E = pi * L.
                let d2 = cosine_sample(h.normal, rng);
                e += radiance(grid, p, d2, bounces - 1, max_distance, rng).unwrap_or(Vec3::ZERO) * PI;
            }
            Some(grid.emissive.get(material.emissive_index()) + albedo * e / PI)
        }
    }
}

/// A cosine-weighted direction around unit `n`.
pub fn cosine_sample(n: Vec3, rng: &mut Rng) -> Vec3 {
    let (u1, u2) = (rng.next_f32(), rng.next_f32());
    let r = u1.sqrt();
    let phi = 2.0 * PI * u2;
    let (t, b) = n.any_orthonormal_pair();
    (t * (r * phi.cos()) + b * (r * phi.sin()) + n * (1.0 - u1).max(0.0).sqrt()).normalize()
}
