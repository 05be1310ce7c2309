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
use crate::voxel::{PackedMaterial, RayQuery, Trace, VoxelGrid, BRICK};

/// Bounces at which the reference stands for the truth (the bench, `compare` and the viewer's reference use
/// it): the probes' multi-bounce light has no bounce limit, and at `cornell`'s white (albedo 0.73) a
/// 4-bounce reference of its view was 12 % darker than a 16-bounce one; after 16 bounces at most 0.78^16 =
/// 1.9 % of the light of the brightest sample material's path is left.
pub const TRUTH_BOUNCES: u32 = 16;

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
    /// Per shadow ray (towards the sun or a point on an emitter): its path and the radiance it adds when
    /// nothing blocks it.
    sun: Vec<(u32, Vec3)>,
    paths: Vec<Path>,
    /// Emitter selection weights of the current vertex.
    weights: Vec<f32>,
}

/// A point on an emitter drawn from `p` on a surface facing `n`: the shadow ray towards it and the irradiance
/// it brings when nothing blocks that ray (`L_e cos / pdf`, one sample's estimate). `None` (no light) where no
/// emitter is in reach, or the draw finds no face turned towards `p`, or the point lies behind the surface.
fn emitter_sample(
    grid: &VoxelGrid,
    p: Vec3,
    n: Vec3,
    max_distance: f32,
    weights: &mut Vec<f32>,
    rng: &mut Rng,
) -> Option<(RayQuery, Vec3)> {
    let e = &grid.emitters;
    if e.is_empty() {
        return None;
    }
    let total = e.weights(grid, p, max_distance + BRICK as f32 * grid.voxel_size, weights);
    let sample = e.sample(grid, p, weights, total, rng)?;
    let cos = n.dot(sample.dir);
    (cos > 0.0).then(|| {
        let ray = RayQuery { origin: p, dir: sample.dir, max_dist: (sample.dist - 0.02 * grid.voxel_size).max(0.0) };
        (ray, sample.radiance * (cos / sample.pdf))
    })
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
        w.shadow.clear();
        w.sun.clear();
        for i in first..first.saturating_add(count) {
            let mut rng = Rng::new(hash_words(&[s.seed, u64::from(i), 0x5EF]));
            let dir = cosine_sample(normal, &mut rng);
            // Emitters are sampled directly at every vertex (next-event estimation), so a ray that hits one
            // does not count its emission.
            if let Some((ray, e)) = emitter_sample(grid, point, normal, s.max_distance, &mut w.weights, &mut rng) {
                w.sun.push((w.paths.len() as u32, e / PI));
                w.shadow.push(ray);
            }
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
            if bounce > 1 {
                w.shadow.clear();
                w.sun.clear();
            }
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
                        let weight = path.throughput * albedo / PI;
                        if let Some(r) = sun_ray(grid, p, h.normal) {
                            w.sun.push((k as u32, weight * sun_unshadowed(grid, h.normal)));
                            w.shadow.push(r);
                        }
                        if bounce < bounces {
                            // The emitters' light at this vertex stands for the emission the next ray would
                            // hit: sampled only where the path goes on, so `bounces` counts the same segments
                            // as without emitter sampling.
                            let lamp = emitter_sample(grid, p, h.normal, s.max_distance, &mut w.weights, &mut path.rng);
                            if let Some((r, e)) = lamp {
                                w.sun.push((k as u32, weight * e));
                                w.shadow.push(r);
                            }
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
            let lamp = lamp_irradiance(grid, point, normal, s.max_distance, &mut rng);
            match radiance(grid, point, dir, s.bounces, s.max_distance, &mut rng) {
                Some(l) => sum += l + lamp / PI,
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
                    e += lamp_irradiance(grid, p, h.normal, max, rng);
                    let d2 = cosine_sample(h.normal, rng);
                    e += radiance(grid, p, d2, bounces - 1, max, rng).unwrap_or(Vec3::ZERO) * PI;
                }
                // Emission is not counted here: every vertex samples the emitters itself.
                Some(albedo * e / PI)
            }
        }
    }

    /// One emitter sample's irradiance at `p` facing `n`, its shadow ray traced alone.
    fn lamp_irradiance(grid: &VoxelGrid, p: Vec3, n: Vec3, max: f32, rng: &mut Rng) -> Vec3 {
        match emitter_sample(grid, p, n, max, &mut Vec::new(), rng) {
            Some((r, e)) if !grid.occluded(r.origin, r.dir, r.max_dist) => e,
            _ => Vec3::ZERO,
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

    /// Plain cosine sampling, emission counted where a ray hits it: no emitter sampling at all.
    fn plain(grid: &VoxelGrid, origin: Vec3, dir: Vec3, bounces: u32, max: f32, rng: &mut Rng) -> Vec3 {
        match grid.trace(origin, dir, max) {
            Trace::Miss { .. } => sky_radiance(grid, dir),
            Trace::Unknown { .. } => Vec3::ZERO,
            Trace::Hit(h) => {
                let p = hit_point(grid, origin, dir, &h);
                let material = grid.material(h.voxel).unwrap_or(PackedMaterial::EMPTY);
                let mut e = sun_irradiance(grid, p, h.normal);
                if bounces > 1 {
                    e += plain(grid, p, cosine_sample(h.normal, rng), bounces - 1, max, rng) * PI;
                }
                grid.emissive.get(material.emissive_index()) + material.albedo() * e / PI
            }
        }
    }

    #[test]
    fn sampling_the_emitters_changes_the_noise_not_the_mean() {
        // Lamp-lit worlds, where the emitters carry most of the light; points facing several ways.
        for (name, lift) in [("cornell", 0.0), ("village-night", 0.0), ("village-night", -1.2)] {
            let w = std::sync::Arc::new(load_world(&resolve_world(name).unwrap()).unwrap());
            let mut vw = VoxelWorld::new(w.clone());
            vw.load_everything();
            let grid = vw.snapshot();
            let p = w.main_bookmark().position + Vec3::Y * lift;
            for n in [Vec3::Y, Vec3::NEG_Y, Vec3::X, Vec3::NEG_Z] {
                let rays = 40_000u32;
                let (mut sum, mut sq) = (0.0f64, 0.0f64);
                for i in 0..rays {
                    let mut rng = Rng::new(hash_words(&[77, u64::from(i)]));
                    let d = cosine_sample(n, &mut rng);
                    let l = plain(&grid, p, d, 3, 64.0, &mut rng);
                    let y = f64::from(l.x + l.y + l.z) / 3.0 * f64::from(PI);
                    sum += y;
                    sq += y * y;
                }
                let mean = sum / f64::from(rays);
                let sigma = ((sq / f64::from(rays) - mean * mean).max(0.0) / f64::from(rays)).sqrt();
                let s = ReferenceSettings { rays: 8192, bounces: 3, max_distance: 64.0, seed: 5 };
                let r = reference_irradiance(&grid, p, n, &s);
                let e = f64::from(r.irradiance.x + r.irradiance.y + r.irradiance.z) / 3.0;
                let sigma_r = f64::from(r.relative_error) * e;
                let tol = 4.0 * (sigma * sigma + sigma_r * sigma_r).sqrt() + 1e-6;
                assert!((e - mean).abs() <= tol, "{name} at {p} facing {n}: {e} against plain {mean} +- {sigma}");
                assert!(mean > 0.0, "{name}: light arrives");
            }
        }
    }
}
