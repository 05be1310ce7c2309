//! Reading the clipmap's irradiance at a point, the way shading reads it: the level weights of
//! [`level_weights`] (finest level holding the point, blended towards the next within the border band, faded
//! outside the clipmap), per level the 8 probes around the point weighted trilinearly and by confidence (probes
//! that are not usable count zero), a leak guard, and one [`ShL1::irradiance`] evaluation of the weighted SH.
//!
//! Interpolating the SH first and evaluating once gives the same result as evaluating each probe for the
//! linear reconstruction, and for the non-linear one it reconstructs from the interpolated field (and costs one
//! evaluation, not eight).
//!
//! Leak guards ([`LeakGuard`]): `HalfSpace` drops probes behind the plane of the surface being lit (a hit point
//! on a wall is never lit by probes on the far side of that wall), at no tracing cost; `Visibility` drops every
//! probe that the point cannot see through the voxels, which also holds at corners and one-voxel walls (the
//! accuracy measurement's points in open space); `SurfaceVisibility` does both for a point on a surface (the
//! tracer's multi-bounce lookup, and what the renderer's lighting pass will do).

use glam::{IVec3, Vec3};

use super::clipmap::{level_weights, trilinear, LevelTopology};
use super::sh::ShL1;
use crate::voxel::{Trace, VoxelGrid};

/// One level of probe data as a sampler sees it.
pub trait ProbeLevel {
    /// The level's topology (where its probes are).
    fn topology(&self) -> &LevelTopology;
    /// Probe `g`'s raw SH and its shading weight (confidence), when the level holds it and it is usable.
    fn probe(&self, g: IVec3) -> Option<(ShL1, f32)>;
}

impl<T: ProbeLevel + ?Sized> ProbeLevel for std::sync::Arc<T> {
    fn topology(&self) -> &LevelTopology {
        (**self).topology()
    }

    #[inline]
    fn probe(&self, g: IVec3) -> Option<(ShL1, f32)> {
        (**self).probe(g)
    }
}

/// How probes that cannot light a point are kept out.
#[derive(Clone, Copy, Debug)]
pub enum LeakGuard<'a> {
    /// Probes behind the plane through the point with the given normal are skipped.
    HalfSpace,
    /// Probes hidden from the point by a solid voxel are skipped (a point in open space).
    Visibility(&'a VoxelGrid),
    /// For a point on a surface: probes behind its plane are skipped without a trace, the others when a solid
    /// voxel hides them.
    SurfaceVisibility(&'a VoxelGrid),
}

/// Irradiance at `pos` for unit `normal` (a surface's normal when `pos` lies on one), or `None` where no level
/// holds a usable probe. `band` is the cross-level blend band in probes.
pub fn sample<L: ProbeLevel>(levels: &[L], band: f32, pos: Vec3, normal: Vec3, guard: LeakGuard) -> Option<Vec3> {
    let mut topos = [LevelTopology::new(0, glam::UVec3::ONE, 1.0, Vec3::ZERO); 8];
    let n = levels.len().min(topos.len());
    for (t, l) in topos.iter_mut().zip(levels) {
        *t = *l.topology();
    }
    let mut sum = Vec3::ZERO;
    let mut wsum = 0.0;
    for (i, w) in level_weights(&topos[..n], pos, band) {
        if w <= 0.0 {
            continue;
        }
        if let Some((e, conf)) = sample_level(&levels[i], pos, normal, guard) {
            sum += e * w * conf;
            wsum += w * conf;
        }
    }
    (wsum > 1e-4).then(|| sum / wsum)
}

/// One level's irradiance at `pos` and the summed weight of the probes that gave it (at most 1).
fn sample_level<L: ProbeLevel>(level: &L, pos: Vec3, normal: Vec3, guard: LeakGuard) -> Option<(Vec3, f32)> {
    let topo = level.topology();
    let mut sh = ShL1::default();
    let mut wsum = 0.0;
    for (g, w) in trilinear(topo, pos) {
        if w <= 0.0 || !topo.bounds().contains(g) {
            continue;
        }
        let Some((psh, conf)) = level.probe(g) else { continue };
        if conf <= 0.0 || !visible(topo.position(g), pos, normal, guard) {
            continue;
        }
        let ww = w * conf;
        for (a, b) in sh.c.iter_mut().zip(psh.c) {
            *a += b * ww;
        }
        wsum += ww;
    }
    (wsum > 1e-4).then(|| (sh.scaled(1.0 / wsum).irradiance(normal), wsum.min(1.0)))
}

/// Whether a probe at `probe` may light `pos` under `guard`.
#[inline]
fn visible(probe: Vec3, pos: Vec3, normal: Vec3, guard: LeakGuard) -> bool {
    let d = probe - pos;
    match guard {
        LeakGuard::HalfSpace => d.dot(normal) >= 0.0,
        LeakGuard::Visibility(grid) => unblocked(grid, pos, d),
        LeakGuard::SurfaceVisibility(grid) => d.dot(normal) >= 0.0 && unblocked(grid, pos, d),
    }
}

/// True when no solid voxel lies on the segment from `pos` to `pos + d`.
#[inline]
fn unblocked(grid: &VoxelGrid, pos: Vec3, d: Vec3) -> bool {
    let len = d.length();
    if len <= 1e-6 {
        return true;
    }
    !matches!(grid.trace(pos, d / len, len), Trace::Hit(_))
}
