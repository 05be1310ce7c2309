//! What a ray sees: at a miss the sky; at a hit the voxel's emission plus its diffuse response
//! (`albedo / pi * E`) to the sun (tested with a shadow ray) and to irradiance already known at that point
//! (the probes' current irradiance, which makes the next update one bounce deeper: multi-bounce).
//! Units: radiance for sky and emission, irradiance for the sun (`colour * intensity` at normal incidence).

use std::f32::consts::PI;

use glam::Vec3;

use super::grid::{Hit, VoxelGrid};
use super::material::PackedMaterial;
use super::traverse::RayQuery;

/// Longest shadow ray towards the sun, metres. Rays leave the grid through its top long before in most worlds.
pub const SHADOW_DISTANCE_M: f32 = 256.0;

/// Irradiance already known at a point (the probe manager feeds its probes here).
pub trait IrradianceSource: Send + Sync {
    /// Irradiance arriving at `pos` on a surface facing `normal` in `grid`'s voxels, if known.
    fn irradiance(&self, grid: &VoxelGrid, pos: Vec3, normal: Vec3) -> Option<Vec3>;
}

/// Knows nothing: single-bounce lighting (sun, sky, emission).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIrradiance;

impl IrradianceSource for NoIrradiance {
    fn irradiance(&self, _grid: &VoxelGrid, _pos: Vec3, _normal: Vec3) -> Option<Vec3> {
        None
    }
}

/// A point just outside the hit face, for shadow rays and irradiance lookups.
pub fn hit_point(grid: &VoxelGrid, origin: Vec3, dir: Vec3, hit: &Hit) -> Vec3 {
    origin + dir * hit.dist + hit.normal * (0.05 * grid.voxel_size)
}

/// The shadow ray towards the sun from a surface point facing `normal`; `None` where no sunlight can arrive
/// (no sun, or the surface faces away from it).
pub fn sun_ray(grid: &VoxelGrid, point: Vec3, normal: Vec3) -> Option<RayQuery> {
    let sun = grid.lights.sun?;
    (normal.dot(sun.direction) > 0.0).then_some(RayQuery {
        origin: point,
        dir: sun.direction,
        max_dist: SHADOW_DISTANCE_M,
    })
}

/// Sun irradiance on a surface facing `normal` where its shadow ray is not blocked.
pub fn sun_unshadowed(grid: &VoxelGrid, normal: Vec3) -> Vec3 {
    grid.lights.sun.map_or(Vec3::ZERO, |sun| sun.radiance * normal.dot(sun.direction).max(0.0))
}

/// Direct sun irradiance at a surface point (zero when shadowed or facing away).
pub fn sun_irradiance(grid: &VoxelGrid, point: Vec3, normal: Vec3) -> Vec3 {
    match sun_ray(grid, point, normal) {
        Some(r) if !grid.occluded(r.origin, r.dir, r.max_dist) => sun_unshadowed(grid, normal),
        _ => Vec3::ZERO,
    }
}

/// Radiance leaving a hit back along the ray, in two parts: direct (emission, unless `emission` is false
/// because the caller samples emitters itself, + albedo / pi x sun) and bounce (albedo / pi x the irradiance
/// already known there), where `point` is the hit's [`hit_point`] and `sun` the sun irradiance arriving there
/// ([`sun_irradiance`], or [`sun_unshadowed`] after a batch of [`sun_ray`]s).
pub fn hit_radiance(
    grid: &VoxelGrid,
    point: Vec3,
    hit: &Hit,
    sun: Vec3,
    indirect: &dyn IrradianceSource,
    emission: bool,
) -> (Vec3, Vec3) {
    let material = grid.material(hit.voxel).unwrap_or(PackedMaterial::EMPTY);
    let emitted = if emission { grid.emissive.get(material.emissive_index()) } else { Vec3::ZERO };
    let albedo = material.albedo() * (1.0 / PI);
    let known = indirect.irradiance(grid, point, hit.normal).unwrap_or(Vec3::ZERO);
    (emitted + albedo * sun, albedo * known)
}

/// Radiance of the sky seen along `dir`.
pub fn sky_radiance(grid: &VoxelGrid, dir: Vec3) -> Vec3 {
    grid.lights.sky.radiance(dir)
}
