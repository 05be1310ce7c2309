//! The emissive voxels of the grid, for next-event estimation: a probe samples points on emissive voxel faces
//! directly (with a shadow ray) instead of waiting for its random rays to hit a small lamp.
//!
//! The index keeps, per brick that holds emissive voxels with at least one face on empty space, those voxels
//! and the brick's emitted power. Where the grid publishes edits, every rebuilt brick and its six neighbours
//! are scanned again ([`scan`], [`Emitters::put`]), so a lamp switched on or off through the stream is seen
//! at once.
//!
//! [`Emitters::sample`] draws a point seen from `p`: a brick with probability proportional to its power over
//! its squared distance, a voxel of it in proportion to its radiance, one of the voxel's open faces (on empty
//! space) that turn towards `p` in proportion to its projected area, and a uniform point on that face. It
//! returns the direction, the distance and the probability density per solid angle, so a caller estimates
//! `integral of L_e(w) f(w) dw` as `L_e f(w) / pdf`. Deterministic: bricks are kept in index order.
//!
//! Each brick also keeps its open faces grouped into [`EmitterLight`]s (one per face direction and plane: a
//! lamp's side, a window pane), which shading lights surfaces with directly
//! ([`super::emitter_light`]).

use glam::{IVec3, Vec3};

use super::brick::{mask_solid, BRICK};
use super::grid::VoxelGrid;
use crate::hash::Rng;

/// One emissive voxel with an open face.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmitterVoxel {
    /// Voxel coordinate in the grid.
    pub voxel: IVec3,
    /// Its emissive index ([`super::material::EmissiveTable`]).
    pub emissive: u8,
    /// Luminance of its emitted radiance when indexed (sampling weight).
    pub weight: f32,
    /// Faces on empty space: bit `2 axis` for the positive side of the axis, `2 axis + 1` for the negative.
    pub open: u8,
}

/// The emissive voxels of one brick.
#[derive(Clone, Debug, PartialEq)]
pub struct EmitterBrick {
    /// Linear brick index in the grid.
    pub brick: u32,
    /// Centre of the brick's emissive voxels, grid units (voxels).
    pub center: Vec3,
    /// Sum of the voxels' weights.
    pub power: f32,
    /// The voxels.
    pub voxels: Vec<EmitterVoxel>,
    /// Their open faces grouped by direction and plane.
    pub lights: Vec<EmitterLight>,
}

/// The open faces of a brick's emissive voxels that share one direction and one plane, as one small area
/// light: its centroid, outward normal, area and mean radiance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmitterLight {
    /// Centroid of the faces, world metres (on their plane).
    pub center: Vec3,
    /// Face direction: `2 axis` for the positive side of the axis, `2 axis + 1` for the negative (as
    /// [`EmitterVoxel::open`]).
    pub face: u8,
    /// Total area of the faces, square metres.
    pub area: f32,
    /// Mean emitted radiance of the faces.
    pub radiance: Vec3,
}

impl EmitterLight {
    /// Unit outward normal of the faces.
    pub fn normal(&self) -> Vec3 {
        let axis = usize::from(self.face / 2);
        Vec3::AXES[axis] * if self.face % 2 == 0 { 1.0 } else { -1.0 }
    }
}

/// A sampled point on an emitter, seen from the query point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmitterSample {
    /// Unit direction from the query point to the sample.
    pub dir: Vec3,
    /// Distance to the sample, metres.
    pub dist: f32,
    /// Emitted radiance there.
    pub radiance: Vec3,
    /// Probability density of `dir` per steradian.
    pub pdf: f32,
}

/// Every brick with emissive voxels, in brick order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Emitters {
    bricks: Vec<EmitterBrick>,
}

impl Emitters {
    /// True when the grid has no emissive voxel with an open face.
    pub fn is_empty(&self) -> bool {
        self.bricks.is_empty()
    }

    /// Bricks holding emitters.
    pub fn bricks(&self) -> &[EmitterBrick] {
        &self.bricks
    }

    /// Replaces the entry of brick `lin` (or removes it).
    pub fn put(&mut self, lin: u32, entry: Option<EmitterBrick>) {
        match (self.bricks.binary_search_by_key(&lin, |e| e.brick), entry) {
            (Ok(i), Some(e)) => self.bricks[i] = e,
            (Ok(i), None) => {
                self.bricks.remove(i);
            }
            (Err(i), Some(e)) => self.bricks.insert(i, e),
            (Err(_), None) => {}
        }
    }

    /// Fills `weights` with each brick's selection weight from world point `p` (bricks farther than
    /// `max_dist` metres get 0) and returns their sum.
    pub fn weights(&self, grid: &VoxelGrid, p: Vec3, max_dist: f32, weights: &mut Vec<f32>) -> f32 {
        weights.clear();
        let mut sum = 0.0;
        let half = BRICK as f32 * 0.5;
        let p = (p - grid.origin) / grid.voxel_size;
        let max_dist = max_dist / grid.voxel_size;
        for e in &self.bricks {
            let d2 = (e.center - p).length_squared();
            let w = if d2 > max_dist * max_dist { 0.0 } else { e.power / d2.max(half * half) };
            sum += w;
            weights.push(w);
        }
        sum
    }

    /// Draws a point on an emitter seen from world point `p` (`weights` from [`Emitters::weights`] for `p`,
    /// summing to `total`), or `None` when no face turns towards `p`.
    pub fn sample(
        &self,
        grid: &VoxelGrid,
        p: Vec3,
        weights: &[f32],
        total: f32,
        rng: &mut Rng,
    ) -> Option<EmitterSample> {
        if total <= 0.0 {
            return None;
        }
        let (bi, pb) = pick_by(weights, total, |w| *w, rng.next_f32())?;
        let e = &self.bricks[bi];
        let (vi, pv) = pick_by(&e.voxels, e.power, |v| v.weight, rng.next_f32())?;
        let v = e.voxels[vi];
        let voxel_size = grid.voxel_size;
        // The faces of the voxel's cube that turn towards p, with their projected areas (unit faces).
        let lo = grid.origin + v.voxel.as_vec3() * voxel_size;
        let c = lo + Vec3::splat(0.5 * voxel_size);
        let to_p = p - c;
        let mut faces = [(Vec3::ZERO, 0.0f32); 3];
        let mut area = 0.0;
        for (axis, f) in faces.iter_mut().enumerate() {
            let s = to_p[axis].signum();
            let bit = 2 * axis + usize::from(s < 0.0);
            if v.open >> bit & 1 == 0 {
                continue; // against another solid voxel: never seen
            }
            let n = Vec3::AXES[axis] * s;
            let face_center = c + n * (0.5 * voxel_size);
            let cos = n.dot((p - face_center).normalize_or_zero());
            if cos > 0.0 && to_p[axis] != 0.0 {
                *f = (n, cos);
                area += cos;
            }
        }
        let (fi, pf) = pick_by(&faces, area, |f| f.1, rng.next_f32())?;
        let n = faces[fi].0;
        let axis = n.abs().max_position();
        let (u_axis, v_axis) = ((axis + 1) % 3, (axis + 2) % 3);
        let mut q = c + n * (0.5 * voxel_size);
        q[u_axis] = lo[u_axis] + rng.next_f32() * voxel_size;
        q[v_axis] = lo[v_axis] + rng.next_f32() * voxel_size;
        let d = q - p;
        let dist = d.length();
        let dir = d / dist.max(1e-12);
        let cos_light = (-dir).dot(n);
        if cos_light <= 1e-6 || dist <= 1e-6 {
            return None;
        }
        // Density per area on the face, turned into density per solid angle at p.
        let pdf_area = pb * pv * pf / (voxel_size * voxel_size);
        Some(EmitterSample {
            dir,
            dist,
            radiance: grid.emissive.get(v.emissive),
            pdf: pdf_area * dist * dist / cos_light,
        })
    }
}

/// An index drawn with probability `weight(item) / total` by the uniform number `u`, and that probability.
fn pick_by<T>(items: &[T], total: f32, weight: impl Fn(&T) -> f32, u: f32) -> Option<(usize, f32)> {
    if total <= 0.0 {
        return None;
    }
    let target = u * total;
    let mut acc = 0.0;
    let mut last = None;
    for (i, it) in items.iter().enumerate() {
        let w = weight(it);
        if w <= 0.0 {
            continue;
        }
        acc += w;
        last = Some((i, w / total));
        if target < acc {
            return last;
        }
    }
    last
}

/// The emitters of the grid's brick `b`: its emissive voxels with at least one face on empty space (or on
/// space not streamed in). Neighbours in other bricks are looked up in the grid, so call this once the grid
/// holds every rebuilt brick, for the rebuilt bricks and their neighbours.
pub fn scan(grid: &VoxelGrid, b: IVec3) -> Option<EmitterBrick> {
    let nb = grid.dims / BRICK;
    if b.cmplt(IVec3::ZERO).any() || b.cmpge(nb).any() {
        return None;
    }
    let (chunk, i) = grid.chunk_of(b)?;
    let mask = &chunk.masks[i];
    let materials = chunk.materials[i].as_ref()?;
    if materials.iter().all(|m| m.emissive_index() == 0) {
        return None;
    }
    let solid = |v: IVec3| {
        let l = v - b * BRICK;
        if l.cmpge(IVec3::ZERO).all() && l.cmplt(IVec3::splat(BRICK)).all() {
            mask_solid(mask, l.x, l.y, l.z)
        } else {
            grid.material(v).is_some()
        }
    };
    let mut voxels = Vec::new();
    let mut r = 0usize;
    for y in 0..BRICK {
        let mut bits = mask[y as usize];
        while bits != 0 {
            let bit = bits.trailing_zeros() as i32;
            bits &= bits - 1;
            let m = materials[r];
            r += 1;
            let e = m.emissive_index();
            let radiance = grid.emissive.get(e);
            let weight = (radiance.x + radiance.y + radiance.z) / 3.0;
            if e == 0 || weight <= 0.0 {
                continue;
            }
            let v = b * BRICK + IVec3::new(bit % 8, y, bit / 8);
            let open = [IVec3::X, IVec3::NEG_X, IVec3::Y, IVec3::NEG_Y, IVec3::Z, IVec3::NEG_Z]
                .iter()
                .enumerate()
                .fold(0u8, |acc, (i, d)| acc | u8::from(!solid(v + *d)) << i);
            if open != 0 {
                voxels.push(EmitterVoxel { voxel: v, emissive: e, weight, open });
            }
        }
    }
    if voxels.is_empty() {
        return None;
    }
    let power: f32 = voxels.iter().map(|v| v.weight).sum();
    let center = voxels.iter().map(|v| (v.voxel.as_vec3() + 0.5) * v.weight).sum::<Vec3>() / power;
    let lights = lights_of(grid, &voxels);
    Some(EmitterBrick { brick: grid.brick_linear(b) as u32, center, power, voxels, lights })
}

/// The open faces of `voxels` grouped by direction and plane ([`EmitterLight`]), in a fixed order (by
/// direction, then plane, as first met).
fn lights_of(grid: &VoxelGrid, voxels: &[EmitterVoxel]) -> Vec<EmitterLight> {
    // Per group: face bit, plane (voxel coordinate of the face along its axis), faces, sum of radiance, sum of
    // face centres (voxel units).
    let mut groups: Vec<(u8, i32, u32, Vec3, Vec3)> = Vec::new();
    for face in 0..6u8 {
        let axis = usize::from(face / 2);
        let positive = face % 2 == 0;
        for v in voxels.iter().filter(|v| v.open >> face & 1 == 1) {
            let plane = v.voxel[axis] + i32::from(positive);
            let mut centre = v.voxel.as_vec3() + 0.5;
            centre[axis] = plane as f32;
            let radiance = grid.emissive.get(v.emissive);
            match groups.iter_mut().find(|g| g.0 == face && g.1 == plane) {
                Some(g) => {
                    g.2 += 1;
                    g.3 += radiance;
                    g.4 += centre;
                }
                None => groups.push((face, plane, 1, radiance, centre)),
            }
        }
    }
    let face_area = grid.voxel_size * grid.voxel_size;
    groups
        .into_iter()
        .map(|(face, _, n, radiance, centre)| EmitterLight {
            center: grid.origin + centre / n as f32 * grid.voxel_size,
            face,
            area: n as f32 * face_area,
            radiance: radiance / n as f32,
        })
        .collect()
}
