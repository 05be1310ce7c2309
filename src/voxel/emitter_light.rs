//! The direct light of the emissive voxels at a surface point, computed per shading point as the sun's is: the
//! probes' L1 SH cannot hold the shape of a small bright source (a lamp seen side-on spills its lobe onto
//! upward-facing ground; its `1/d^2` falloff does not survive interpolation between probes a metre apart), so
//! shading takes the emitters' light here and the probes' irradiance without it (see
//! [`crate::probes::payload::ProbePayload::emitted`]).
//!
//! Every [`EmitterLight`] (a brick's open emissive faces of one direction and plane) counts as a small area
//! light at its centroid: `E = L A cos_r cos_e / (d^2 + A / pi)`, the irradiance of a disk of area `A`,
//! exact on its axis and never infinite close up. Visibility, with at most [`SHADOWED_LIGHTS`] +
//! [`REMAINDER_RAYS`] shadow rays:
//! - the [`SHADOWED_LIGHTS`] lights that bring the point the most light get a shadow ray each;
//! - the others (in a village, hundreds of window faces, many of them behind walls) are estimated together:
//!   [`REMAINDER_RAYS`] of them are picked in proportion to their light by stratified positions along the sum
//!   of their light, in light order, from an offset drawn per voxel face ([`face_offset`]), and the remainder's
//!   light counts in the proportion of those picks that arrive. The estimate is unbiased; where part of the
//!   remainder is hidden it is noisy from one voxel face to the next, and where all of it arrives (or none) it
//!   is exact.
//!
//! Deterministic: lights are visited in brick order, ties keep the earlier light, and the offset depends only
//! on the point's voxel and the normal's direction. The renderer's WGSL (`shaders/emitter_light.wgsl`)
//! evaluates the same sum in the same order with the same hash.

use std::f32::consts::PI;

use glam::Vec3;

use super::emitters::EmitterLight;
use super::grid::VoxelGrid;

/// Lights per shading point that get a shadow ray each.
pub const SHADOWED_LIGHTS: usize = 8;
/// Shadow rays that estimate the visibility of the other lights.
pub const REMAINDER_RAYS: usize = 8;

/// Unshadowed irradiance of one light at `p` on a surface facing unit `n`.
#[inline]
pub fn light_irradiance(light: &EmitterLight, p: Vec3, n: Vec3) -> Vec3 {
    let w = light.center - p;
    let d2 = w.length_squared();
    if d2 <= 1e-12 {
        return Vec3::ZERO;
    }
    let dir = w / d2.sqrt();
    let cos_r = n.dot(dir);
    let cos_e = -light.normal().dot(dir);
    if cos_r <= 0.0 || cos_e <= 0.0 {
        return Vec3::ZERO;
    }
    light.radiance * (light.area * cos_r * cos_e / (d2 + light.area / PI))
}

fn luminance(e: Vec3) -> f32 {
    (e.x + e.y + e.z) / 3.0
}

/// PCG's 32-bit output permutation of an LCG step (as `pcg_hash` in the WGSL).
#[inline]
fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The stratification offset in `[0, 1)` of a shading point: a hash of the voxel `p` lies in and of the
/// normal's main direction, so it is the same all over one voxel face and on CPU and GPU alike.
pub fn face_offset(grid: &VoxelGrid, p: Vec3, n: Vec3) -> f32 {
    let v = ((p - grid.origin) / grid.voxel_size).floor().as_ivec3();
    let axis = n.abs().max_position() as u32;
    let code = axis * 2 + u32::from(n[axis as usize] < 0.0);
    let h = pcg(v.x as u32 ^ pcg(v.y as u32 ^ pcg(v.z as u32 ^ pcg(code))));
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// True when nothing solid lies between `p` and the light's centroid.
fn arrives(grid: &VoxelGrid, p: Vec3, light: &EmitterLight) -> bool {
    let w = light.center - p;
    let d = w.length();
    !grid.occluded(p, w / d, (d - 0.02 * grid.voxel_size).max(0.0))
}

/// Direct irradiance of every emitter light of `grid` at `p` on a surface facing unit `n` (module docs).
/// `p` should lie just off the surface (shadow rays start there).
pub fn emitter_irradiance(grid: &VoxelGrid, p: Vec3, n: Vec3) -> Vec3 {
    let lights: Vec<&EmitterLight> = grid.emitters.bricks().iter().flat_map(|b| &b.lights).collect();
    let mut total = Vec3::ZERO;
    // The brightest lights, brightest first: (luminance, light index).
    let mut top = [(0.0f32, 0usize); SHADOWED_LIGHTS];
    let mut kept = 0;
    for (i, light) in lights.iter().enumerate() {
        let e = light_irradiance(light, p, n);
        let lum = luminance(e);
        if lum <= 0.0 {
            continue;
        }
        total += e;
        if kept == SHADOWED_LIGHTS && lum <= top[kept - 1].0 {
            continue;
        }
        let mut j = kept.min(SHADOWED_LIGHTS - 1);
        while j > 0 && top[j - 1].0 < lum {
            top[j] = top[j - 1];
            j -= 1;
        }
        top[j] = (lum, i);
        kept = (kept + 1).min(SHADOWED_LIGHTS);
    }
    if kept == 0 {
        return Vec3::ZERO;
    }
    let top = &top[..kept];
    let sum = luminance(total);
    let mut arrived: f32 = top.iter().filter(|t| arrives(grid, p, lights[t.1])).map(|t| t.0).sum();
    let rest = sum - top.iter().map(|t| t.0).sum::<f32>();
    if rest > 1e-6 * sum {
        // Stratified picks along the remainder's running sum of light, in light order: pick `k` goes to the
        // light whose share holds `(k + u0) / REMAINDER_RAYS` of it.
        let u0 = face_offset(grid, p, n);
        let (mut acc, mut pick, mut seen) = (0.0f32, 0usize, 0usize);
        let mut last: Option<(usize, Option<bool>)> = None;
        for (i, light) in lights.iter().enumerate() {
            if pick == REMAINDER_RAYS {
                break;
            }
            if top.iter().any(|t| t.1 == i) {
                continue;
            }
            let lum = luminance(light_irradiance(light, p, n));
            if lum <= 0.0 {
                continue;
            }
            acc += lum;
            let mut visible = None;
            while pick < REMAINDER_RAYS && (pick as f32 + u0) / REMAINDER_RAYS as f32 * rest < acc {
                let v = *visible.get_or_insert_with(|| arrives(grid, p, light));
                seen += usize::from(v);
                pick += 1;
            }
            last = Some((i, visible));
        }
        // Rounding can leave the last picks past the running sum's end: the last light takes them.
        if let (true, Some((i, visible))) = (pick < REMAINDER_RAYS, last) {
            let v = visible.unwrap_or_else(|| arrives(grid, p, lights[i]));
            seen += usize::from(v) * (REMAINDER_RAYS - pick);
        }
        arrived += rest * seen as f32 / REMAINDER_RAYS as f32;
    }
    total * (arrived / sum)
}
