//! How right the probes' light is: irradiance read the way shading reads it, against the reference integrator
//! ([`crate::probes::reference`]), at a fixed, seeded set of surface points around the camera.
//!
//! - Points ([`accuracy_points`]): rays from the camera in seeded uniform directions; each hit within
//!   `max_distance` gives a point in open space near that surface: 3 voxels out along the face's normal, with
//!   no solid voxel within 3 voxels of it, facing the way the face does (the independent check the probe
//!   accuracy work started from used the same rule). The same world, camera and seed give the same points.
//! - Reference ([`reference_set`]): per point, `rays` cosine-weighted paths of up to `bounces` bounces through
//!   the same voxels, sun, sky and emission, on every core. Its own noise is its relative standard error,
//!   reported as `reference_noise` (the mean over points).
//! - Error ([`irradiance_error`]): per point the relative luminance error `(probe - reference) / reference`.
//!   Points where no level holds a usable probe count as zero light. A reference below 1 % of the mean over the
//!   points (a dark corner, a sealed room) is replaced by that floor in the denominator, so the metric stays a
//!   fraction of the scene's light. `mean_relative` is the mean of the absolute errors, `p90` their 90th
//!   percentile and `bias` the mean signed error.
//! - Flicker ([`flicker`]): the mean frame-to-frame change of each point's irradiance, relative to its mean
//!   over the frames.

use glam::Vec3;
use rayon::prelude::*;
use serde::Serialize;

use crate::hash::{hash_words, Rng};
use crate::probes::reference::{reference_irradiance, ReferenceSettings};
use crate::voxel::light::hit_point;
use crate::voxel::{Trace, VoxelGrid};

/// A point near a surface, and that surface's normal.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AccuracyPoint {
    /// Position, metres.
    pub position: Vec3,
    /// The surface's outward normal (unit).
    pub normal: Vec3,
}

/// Distance of a point from its surface, and its clearance from any other, in voxels.
pub const CLEARANCE_VOXELS: f32 = 3.0;

/// True when no solid voxel lies within [`CLEARANCE_VOXELS`] of `p` (voxel centres in a sphere).
fn clear(grid: &VoxelGrid, p: Vec3) -> bool {
    let r = CLEARANCE_VOXELS as i32;
    let v = grid.voxel_size;
    for z in -r..=r {
        for y in -r..=r {
            for x in -r..=r {
                let o = glam::IVec3::new(x, y, z).as_vec3();
                if o.length() <= CLEARANCE_VOXELS && grid.solid_at(p + o * v) {
                    return false;
                }
            }
        }
    }
    true
}

/// Up to `count` points near surfaces seen from `camera` within `max_distance` metres (seeded).
pub fn accuracy_points(
    grid: &VoxelGrid,
    camera: Vec3,
    count: usize,
    max_distance: f32,
    seed: u64,
) -> Vec<AccuracyPoint> {
    let mut out = Vec::with_capacity(count);
    let mut rng = Rng::new(hash_words(&[seed, 0xACC]));
    for _ in 0..count * 16 {
        if out.len() == count {
            break;
        }
        let z = rng.range_f32(-1.0, 1.0);
        let phi = rng.range_f32(0.0, std::f32::consts::TAU);
        let r = (1.0 - z * z).max(0.0).sqrt();
        let dir = Vec3::new(r * phi.cos(), z, r * phi.sin());
        if let Trace::Hit(h) = grid.trace(camera, dir, max_distance) {
            let position = hit_point(grid, camera, dir, &h) + h.normal * (CLEARANCE_VOXELS * grid.voxel_size);
            if clear(grid, position) {
                out.push(AccuracyPoint { position, normal: h.normal });
            }
        }
    }
    out
}

/// The reference irradiance at each point.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceSet {
    /// Per point.
    pub irradiance: Vec<Vec3>,
    /// Mean relative standard error of the estimates.
    pub noise: f32,
    /// Settings used.
    pub settings: ReferenceSettings,
}

/// Reference irradiance at every point, computed on every core (deterministic: each point has its own seed).
pub fn reference_set(grid: &VoxelGrid, points: &[AccuracyPoint], settings: ReferenceSettings) -> ReferenceSet {
    let results: Vec<_> = points
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let s = ReferenceSettings { seed: hash_words(&[settings.seed, i as u64]), ..settings };
            reference_irradiance(grid, p.position, p.normal, &s)
        })
        .collect();
    let noise = results.iter().map(|r| r.relative_error).sum::<f32>() / results.len().max(1) as f32;
    ReferenceSet { irradiance: results.iter().map(|r| r.irradiance).collect(), noise, settings }
}

/// Accuracy of the probes' irradiance against the reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct IrradianceError {
    /// Mean absolute relative error.
    pub mean_relative: f32,
    /// 90th percentile of the absolute relative error.
    pub p90: f32,
    /// Mean signed relative error (negative: the probes are too dark).
    pub bias: f32,
    /// Points measured.
    pub points: usize,
    /// Points where no level held a usable probe (counted as zero light).
    pub uncovered: usize,
    /// Rays per point of the reference.
    pub reference_rays: u32,
    /// Bounces of the reference.
    pub reference_bounces: u32,
    /// Mean relative standard error of the reference itself.
    pub reference_noise: f32,
}

fn luminance(e: Vec3) -> f32 {
    (e.x + e.y + e.z) / 3.0
}

/// Compares probe irradiance (`None`: no usable probe) with the reference, point by point.
pub fn irradiance_error(probes: &[Option<Vec3>], reference: &ReferenceSet) -> IrradianceError {
    let n = probes.len().min(reference.irradiance.len());
    if n == 0 {
        return IrradianceError::default();
    }
    let mean_ref = reference.irradiance[..n].iter().map(|e| luminance(*e)).sum::<f32>() / n as f32;
    let floor = (0.01 * mean_ref).max(1e-9);
    let errors: Vec<f32> = probes[..n]
        .iter()
        .zip(&reference.irradiance)
        .map(|(p, r)| (luminance(p.unwrap_or(Vec3::ZERO)) - luminance(*r)) / luminance(*r).max(floor))
        .collect();
    let mut abs: Vec<f32> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f32::total_cmp);
    IrradianceError {
        mean_relative: abs.iter().sum::<f32>() / n as f32,
        p90: abs[((n - 1) as f32 * 0.9).round() as usize],
        bias: errors.iter().sum::<f32>() / n as f32,
        points: n,
        uncovered: probes[..n].iter().filter(|p| p.is_none()).count(),
        reference_rays: reference.settings.rays,
        reference_bounces: reference.settings.bounces,
        reference_noise: reference.noise,
    }
}

/// Mean frame-to-frame relative change of each point's irradiance (`frames[f][point]`), relative to the
/// point's mean luminance over the frames; points without light in some frame are skipped.
pub fn flicker(frames: &[Vec<Option<Vec3>>]) -> f32 {
    let Some(first) = frames.first() else { return 0.0 };
    let (mut sum, mut count) = (0.0f64, 0usize);
    for p in 0..first.len() {
        let series: Option<Vec<f32>> = frames.iter().map(|f| f.get(p).copied().flatten().map(luminance)).collect();
        let Some(series) = series else { continue };
        let mean = series.iter().sum::<f32>() / series.len() as f32;
        if series.len() < 2 || mean <= 0.0 {
            continue;
        }
        for w in series.windows(2) {
            sum += f64::from((w[1] - w[0]).abs() / mean);
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_relative_to_the_reference_with_a_floor() {
        let reference = ReferenceSet {
            irradiance: vec![Vec3::splat(1.0), Vec3::splat(2.0), Vec3::ZERO],
            noise: 0.01,
            settings: ReferenceSettings::default(),
        };
        let e = irradiance_error(&[Some(Vec3::splat(1.1)), None, Some(Vec3::splat(0.01))], &reference);
        // +10 %, -100 % (no probe), and 0.01 against a floor of 1 % of the mean (0.01): +100 %.
        assert!((e.mean_relative - 0.7).abs() < 1e-5, "{e:?}");
        assert!((e.bias - (0.1 - 1.0 + 1.0) / 3.0).abs() < 1e-5, "{e:?}");
        assert_eq!(e.uncovered, 1);
        assert!((e.p90 - 1.0).abs() < 1e-5);
    }

    #[test]
    fn flicker_is_the_mean_relative_step() {
        let frames: Vec<Vec<Option<Vec3>>> =
            [1.0, 1.02, 1.0, 1.02].iter().map(|v| vec![Some(Vec3::splat(*v)), Some(Vec3::ONE)]).collect();
        let f = flicker(&frames);
        assert!((f - 0.02 / 1.01 / 2.0).abs() < 1e-5, "{f}");
    }
}
