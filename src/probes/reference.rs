//! Reference irradiance: many cosine-weighted rays with several bounces of path tracing, the ground truth
//! for lighting-quality comparisons. Same voxel world, materials, sun, sky and emission as the probes; no
//! probe data is used. Deterministic in its seed: ray `i` draws all its numbers from its own generator, so
//! an estimate can be built in parts ([`ReferenceSum::add_rays`]) and gives the same sum whatever the parts.
//!
//! The paths are traced as a wavefront: all rays of a part advance one bounce at a time, each bounce's rays
//! (and their shadow rays towards the sun) traced together through the batch tracer
//! ([`VoxelGrid::trace_batch`]), which marches sixteen at once where the CPU can.

use std::f32::consts::PI;

use glam::Vec3;

use crate::hash::{hash_words, Rng};
use crate::voxel::light::{hit_point, sky_radiance, sun_ray, sun_unshadowed};
use crate::voxel::{PackedMaterial, RayQuery, Trace, VoxelGrid};

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
    let mut sum = ReferenceSum::default();
    let mut scratch = Wavefront::default();
    let mut first = 0;
    while first < s.rays {
        let n = (s.rays - first).min(WAVEFRONT_RAYS);
        sum.add_rays(grid, point, normal, s, first, n, &mut scratch);
        first += n;
    }
    sum.result()
}

/// Rays traced together per wavefront.
pub const WAVEFRONT_RAYS: u32 = 256;

/// Running sums of a reference estimate, built ray range by ray range.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReferenceSum {
    /// Sum of the rays' radiance.
    pub radiance: Vec3,
    /// Sum and sum of squares of the rays' luminance (mean of RGB).
    pub lum: f64,
    /// See `lum`.
    pub lum_sq: f64,
    /// Rays traced.
    pub rays: u32,
    /// Primary rays that entered unstreamed space.
    pub unknown: u32,
}

/// Per-path state of a wavefront, reused between calls.
#[derive(Default)]
pub struct Wavefront {
    rays: Vec<RayQuery>,
    next: Vec<RayQuery>,
    hits: Vec<Trace>,
    shadow: Vec<RayQuery>,
    shadow_hits: Vec<Trace>,
    /// Per shadow ray: its path and the radiance the sun adds when nothing blocks it.
    sun: Vec<(u32, Vec3)>,
    paths: Vec<Path>,
}

const FINISHED: u32 = u32::MAX;

#[derive(Clone)]
struct Path {
    /// Product of the albedos met so far.
    throughput: Vec3,
    radiance: Vec3,
    rng: Rng,
    /// Index of the path's ray in this bounce's batch ([`FINISHED`] when it has ended).
    ray: u32,
    /// The primary ray entered unstreamed space.
    unknown: bool,
}

impl ReferenceSum {
    /// Adds rays `first..first + count` of the estimate `s` at `point` facing unit `normal`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_rays(
        &mut self,
        grid: &VoxelGrid,
        point: Vec3,
        normal: Vec3,
        s: &ReferenceSettings,
        first: u32,
        count: u32,
        w: &mut Wavefront,
    ) {
        w.paths.clear();
        w.rays.clear();
        for i in first..first.saturating_add(count) {
            let mut rng = Rng::new(hash_words(&[s.seed, u64::from(i), 0x5EF]));
            let dir = cosine_sample(normal, &mut rng);
            w.paths.push(Path {
                throughput: Vec3::ONE,
                radiance: Vec3::ZERO,
                rng,
                ray: w.rays.len() as u32,
                unknown: false,
            });
            w.rays.push(RayQuery { origin: point, dir, max_dist: s.max_distance });
        }
        let bounces = s.bounces.max(1);
        for bounce in 1..=bounces {
            if w.rays.is_empty() {
                break;
            }
            grid.trace_batch(&w.rays, &mut w.hits);
            w.shadow.clear();
            w.sun.clear();
            w.next.clear();
            for (k, path) in w.paths.iter_mut().enumerate() {
                if path.ray == FINISHED {
                    continue;
                }
                let (ray, hit) = (w.rays[path.ray as usize], w.hits[path.ray as usize]);
                path.ray = FINISHED;
                match hit {
                    Trace::Miss { .. } => path.radiance += path.throughput * sky_radiance(grid, ray.dir),
                    // Unstreamed space: a primary ray counts as unknown, a bounce ray brings nothing.
                    Trace::Unknown { .. } => path.unknown |= bounce == 1,
                    Trace::Hit(h) => {
                        let p = hit_point(grid, ray.origin, ray.dir, &h);
                        let material = grid.material(h.voxel).unwrap_or(PackedMaterial::EMPTY);
                        let albedo = material.albedo();
                        path.radiance += path.throughput * grid.emissive.get(material.emissive_index());
                        if let Some(r) = sun_ray(grid, p, h.normal) {
                            w.sun.push((k as u32, path.throughput * albedo / PI * sun_unshadowed(grid, h.normal)));
                            w.shadow.push(r);
                        }
                        if bounce < bounces {
                            // A cosine-weighted bounce: albedo / pi x (pi x L) = albedo x L.
                            path.throughput *= albedo;
                            let dir = cosine_sample(h.normal, &mut path.rng);
                            path.ray = w.next.len() as u32;
                            w.next.push(RayQuery { origin: p, dir, max_dist: s.max_distance });
                        }
                    }
                }
            }
            grid.trace_batch(&w.shadow, &mut w.shadow_hits);
            for (&(k, sun), t) in w.sun.iter().zip(&w.shadow_hits) {
                if !matches!(t, Trace::Hit(_)) {
                    w.paths[k as usize].radiance += sun;
                }
            }
            std::mem::swap(&mut w.rays, &mut w.next);
        }
        for path in &w.paths {
            if path.unknown {
                self.unknown += 1;
                continue;
            }
            let l = path.radiance;
            self.radiance += l;
            let lum = f64::from(l.x + l.y + l.z) / 3.0;
            self.lum += lum;
            self.lum_sq += lum * lum;
        }
        self.rays += count;
    }

    /// The estimate from the rays added so far.
    pub fn result(&self) -> ReferenceResult {
        let n = f64::from(self.rays.max(1));
        let mean = self.lum / n;
        let var = (self.lum_sq / n - mean * mean).max(0.0);
        // Cosine-weighted sampling: E = pi / N * sum(L).
        ReferenceResult {
            irradiance: self.radiance * (PI / self.rays.max(1) as f32),
            unknown_fraction: self.unknown as f32 / self.rays.max(1) as f32,
            relative_error: if mean > 0.0 { ((var / n).sqrt() / mean) as f32 } else { 0.0 },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voxel::light::sun_irradiance;
    use crate::voxel::VoxelWorld;
    use crate::world::{load_world, resolve_world};

    /// The estimator written as a recursion, one ray at a time: the wavefront must give the same numbers.
    fn recursive(grid: &VoxelGrid, point: Vec3, normal: Vec3, s: &ReferenceSettings) -> (Vec3, u32) {
        let (mut sum, mut unknown) = (Vec3::ZERO, 0);
        for i in 0..s.rays {
            let mut rng = Rng::new(hash_words(&[s.seed, u64::from(i), 0x5EF]));
            let dir = cosine_sample(normal, &mut rng);
            match radiance(grid, point, dir, s.bounces, s.max_distance, &mut rng) {
                Some(l) => sum += l,
                None => unknown += 1,
            }
        }
        (sum * (PI / s.rays as f32), unknown)
    }

    /// Radiance arriving at `origin` from `dir`; `None` for unstreamed space.
    fn radiance(grid: &VoxelGrid, origin: Vec3, dir: Vec3, bounces: u32, max: f32, rng: &mut Rng) -> Option<Vec3> {
        match grid.trace(origin, dir, max) {
            Trace::Miss { .. } => Some(sky_radiance(grid, dir)),
            Trace::Unknown { .. } => None,
            Trace::Hit(h) => {
                let p = hit_point(grid, origin, dir, &h);
                let material = grid.material(h.voxel).unwrap_or(PackedMaterial::EMPTY);
                let albedo = material.albedo();
                let mut e = sun_irradiance(grid, p, h.normal);
                if bounces > 1 {
                    let d2 = cosine_sample(h.normal, rng);
                    e += radiance(grid, p, d2, bounces - 1, max, rng).unwrap_or(Vec3::ZERO) * PI;
                }
                Some(grid.emissive.get(material.emissive_index()) + albedo * e / PI)
            }
        }
    }

    #[test]
    fn the_wavefront_gives_the_recursive_estimate() {
        for name in ["cornell", "village-night", "valley"] {
            let w = std::sync::Arc::new(load_world(&resolve_world(name).unwrap()).unwrap());
            let mut vw = VoxelWorld::new(w.clone());
            vw.load_everything();
            let grid = vw.snapshot();
            let p = w.main_bookmark().position;
            for (k, n) in [Vec3::Y, Vec3::NEG_Y, Vec3::X, Vec3::new(0.3, 0.5, -0.8).normalize()].iter().enumerate() {
                let s = ReferenceSettings { rays: 600, bounces: 3, max_distance: 64.0, seed: k as u64 };
                let (want, unknown) = recursive(&grid, p, *n, &s);
                let got = reference_irradiance(&grid, p, *n, &s);
                // Equal but where the batch march and the single-ray march differ within float precision at
                // a voxel edge (see `VoxelGrid::trace_batch`): a ray or two of 600 at most.
                let d = (got.irradiance - want).abs().max_element();
                assert!(d <= 1e-4 + 0.01 * want.max_element(), "{name} {n}: {got:?} against {want}");
                assert!(want.max_element() > 0.0, "{name}: light arrives");
                assert_eq!((got.unknown_fraction * 600.0).round() as u32, unknown);
            }
        }
    }
}
