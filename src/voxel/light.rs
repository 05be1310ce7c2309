//! What a ray sees: at a miss the sky; at a hit the voxel's emission plus its diffuse response
//! (`albedo / pi * E`) to the sun (tested with a shadow ray) and to irradiance already known at that point
//! (the probes' current irradiance, which makes the next update one bounce deeper: multi-bounce).
//! Units: radiance for sky and emission, irradiance for the sun (`colour * intensity` at normal incidence).

use std::f32::consts::PI;

use glam::Vec3;

use super::grid::{Hit, VoxelGrid};
use super::material::PackedMaterial;

/// Longest shadow ray towards the sun, metres. Rays leave the grid through its top long before in most worlds.
pub const SHADOW_DISTANCE_M: f32 = 256.0;

/// Irradiance already known at a point (the probe manager feeds its probes here).
pub trait IrradianceSource: Send + Sync {
    /// Irradiance arriving at `pos` on a surface facing `normal`, if known.
    fn irradiance(&self, pos: Vec3, normal: Vec3) -> Option<Vec3>;
}

/// Knows nothing: single-bounce lighting (sun, sky, emission).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIrradiance;

impl IrradianceSource for NoIrradiance {
    fn irradiance(&self, _pos: Vec3, _normal: Vec3) -> Option<Vec3> {
        None
    }
}

/// A point just outside the hit face, for shadow rays and irradiance lookups.
pub fn hit_point(grid: &VoxelGrid, origin: Vec3, dir: Vec3, hit: &Hit) -> Vec3 {
    origin + dir * hit.dist + hit.normal * (0.05 * grid.voxel_size)
}

/// Direct sun irradiance at a surface point (zero when shadowed or facing away).
pub fn sun_irradiance(grid: &VoxelGrid, point: Vec3, normal: Vec3) -> Vec3 {
    match grid.lights.sun {
        Some(sun) => {
            let ndl = normal.dot(sun.direction);
            if ndl <= 0.0 || grid.occluded(point, sun.direction, SHADOW_DISTANCE_M) {
                Vec3::ZERO
            } else {
                sun.radiance * ndl
            }
        }
        None => Vec3::ZERO,
    }
}

/// Radiance leaving a hit back along the ray: emission + albedo / pi * (sun + known irradiance).
pub fn hit_radiance(grid: &VoxelGrid, origin: Vec3, dir: Vec3, hit: &Hit, indirect: &dyn IrradianceSource) -> Vec3 {
    let point = hit_point(grid, origin, dir, hit);
    let material = grid.material(hit.voxel).unwrap_or(PackedMaterial::EMPTY);
    let emitted = grid.emissive.get(material.emissive_index());
    let e = sun_irradiance(grid, point, hit.normal) + indirect.irradiance(point, hit.normal).unwrap_or(Vec3::ZERO);
    emitted + material.albedo() * e * (1.0 / PI)
}

/// Radiance of the sky seen along `dir`.
pub fn sky_radiance(grid: &VoxelGrid, dir: Vec3) -> Vec3 {
    grid.lights.sky.radiance(dir)
}
