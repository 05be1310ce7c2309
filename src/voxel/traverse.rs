//! Ray traversal of the voxel grid: a two-level slab march.
//!
//! A ray is walked along its major axis (the axis of its largest direction component), one slab at a time,
//! first in brick slabs (8 voxels thick), then, inside bricks that hold something, in voxel slabs. Because
//! the minor coordinates change by at most one cell per slab, the segment of the ray inside a slab touches
//! at most three cells, all inside the 2 x 2 rectangle spanned by the cells at the slab's two faces. Each slab
//! costs a few integer operations and one bit test against that rectangle; only when the rectangle holds
//! something are the (up to three) cells visited exactly, in ray order. This replaces the per-cell axis
//! choice of a classic DDA, whose unpredictable branches dominated its cost.
//!
//! - Minor coordinates at the slab faces come from exact 32.32 fixed-point lines (`u = a + k x`), so the
//!   cheap rectangle test needs no float-to-int conversion and never drifts.
//! - The brick level tests [`VoxelGrid::stop_bits`] (brick exists or column not streamed in). On the portable path a
//!   brick's mask cache line is prefetched as soon as the brick is known; its voxel slabs are then limited, in
//!   integers, to those of its solid voxels' box ([`Chunk::bounds`]), and it is skipped when the minor cells at
//!   those slabs' faces miss the box. Cells outside the brick read as empty, so the voxel level needs no clipping in
//!   floats, and a hit's distance is the exact entry plane of its voxel.
//! - The march is compiled once per major axis and direction sign, so the slab loops carry no direction
//!   branches; the voxel level and the exact cell resolution are separate functions, which keeps the brick
//!   loop's values in registers.
//! - On x86-64 CPUs with AVX-512 (detected at run time) the whole trace is compiled for it and the voxel level
//!   tests a brick's eight slabs at once (`traverse_wide.rs`); results are identical to the portable
//!   path ([`VoxelGrid::trace_portable`]). Entering AVX-512 code is this module's one `unsafe` operation (three
//!   times: the trace, the voxel level from inside it, and the batch march); each takes an [`Avx512`] proof,
//!   which only run-time detection makes.
//! - Unstreamed space returns [`Trace::Unknown`], leaving the grid is a miss (the ray sees the sky); hits
//!   carry the entry distance and the normal of the face the ray came through. A cell the ray only touches
//!   where it starts (an origin on a face of a voxel it moves away from) or reaches at its very end is not
//!   entered.
//! - [`VoxelGrid::trace_batch`] traces many rays; on CPUs with AVX-512 it marches sixteen at once with a voxel
//!   DDA (`traverse_batch.rs`) that follows the same rules, so its results are the per-ray ones except where a
//!   ray passes within float precision of a voxel edge (see [`VoxelGrid::trace_batch`]).
//!
//! [`Chunk::bounds`]: super::grid::Chunk::bounds

use glam::{IVec3, Vec3};

use super::avx512::Avx512;
use super::brick::{mask_solid, Mask, BRICK};
use super::grid::{Hit, Trace, VoxelGrid};

/// "No axis": the ray started inside the grid, so its first cell was not entered through a face.
const NO_AXIS: usize = 3;

/// A ray in grid voxel units, clipped to the grid box.
pub(super) struct Ray {
    pub(super) o: [f32; 3],
    pub(super) d: [f32; 3],
    pub(super) inv: [f32; 3],
    pub(super) t_in: f32,
    pub(super) t_end: f32,
    pub(super) entry_axis: usize,
    /// The proof that the wide voxel level may run (`None` on the portable path).
    pub(super) wide: Option<Avx512>,
}

/// The smaller of two finite floats: one `minss`, where `f32::min`'s NaN handling costs several instructions.
#[inline(always)]
fn fmin(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// The larger of two finite floats (see [`fmin`]).
#[inline(always)]
fn fmax(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// `x` limited to `lo..=hi`.
#[inline(always)]
fn iclamp(x: i32, lo: i32, hi: i32) -> i32 {
    x.max(lo).min(hi)
}

/// A minor coordinate as an exact function of the major one, in 32.32 fixed point: `u(X) = a + k X`. The slope
/// is the float slope rounded to the nearest fixed-point value; the intercept puts the line through the ray's
/// origin with that slope (so the line is exact where the ray starts and drifts by at most half a step per
/// voxel away from it), rounded towards the side the ray moves to: an origin exactly on a cell face lies in
/// the cell ahead, however small the ray's component across the face. (`f64::round` and `f64::ceil` are
/// library calls on baseline x86-64, a measurable share of a short ray's cost, so the rounding is written out.)
#[derive(Clone, Copy)]
pub(super) struct Line {
    pub(super) a: i64,
    pub(super) k: i64,
}

impl Line {
    #[inline(always)]
    fn new(o_u: f32, d_u: f32, o_m: f32, d_m: f32) -> Line {
        const ONE: f64 = 4294967296.0;
        // The fractions below are exact while |v| < 2^20 voxels, far beyond any grid.
        let x = f64::from(d_u) / f64::from(d_m) * ONE;
        let t = x as i64;
        let frac = x - t as f64;
        let k = t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5);
        let v = f64::from(o_u) * ONE - k as f64 * f64::from(o_m);
        let t = v as i64;
        let ceil = t + i64::from((t as f64) < v);
        // Moving up: the smallest step at or above the exact value; moving down: the largest step below it.
        let a = if d_u > 0.0 { ceil } else { ceil - 1 };
        Line { a, k }
    }

    #[inline(always)]
    pub(super) fn at(self, x: i32) -> i64 {
        self.a + self.k * i64::from(x)
    }
}

/// `1 << x` for x in 0..8, zero one step outside (index `x + 1`).
const BIT: [u64; 10] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 0];
/// `1 << 8 z` for z in 0..8, zero one step outside (index `z + 1`).
const ROW: [u64; 10] = [0, 1, 1 << 8, 1 << 16, 1 << 24, 1 << 32, 1 << 40, 1 << 48, 1 << 56, 0];

/// Up to three cells a slab's segment crosses, in ray order: `(cu, cw, t_enter)`; returns how many.
/// `(ua, wa)` is the cell at the slab's start (`out[0]`, filled by the caller), `(ub, wb)` at its end;
/// `tu`/`tw` are the times of the minor crossings (only read when the cell changes on that axis).
#[inline(always)]
fn order(ua: i32, ub: i32, wa: i32, wb: i32, tu: f32, tw: f32, out: &mut [(i32, i32, f32); 3]) -> usize {
    match (ua != ub, wa != wb) {
        (false, false) => 1,
        (true, false) => {
            out[1] = (ub, wa, tu);
            2
        }
        (false, true) => {
            out[1] = (ua, wb, tw);
            2
        }
        (true, true) => {
            if tu < tw {
                out[1] = (ub, wa, tu);
                out[2] = (ub, wb, tw);
            } else {
                out[1] = (ua, wb, tw);
                out[2] = (ub, wb, tu);
            }
            3
        }
    }
}

/// One ray of a batch ([`VoxelGrid::trace_batch`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RayQuery {
    /// Start, world space.
    pub origin: Vec3,
    /// Unit direction.
    pub dir: Vec3,
    /// Longest distance, metres.
    pub max_dist: f32,
}

// The batch march gathers a ray's seven floats at `7 i + w`.
const _: () = assert!(std::mem::size_of::<RayQuery>() == 28);

/// True when [`VoxelGrid::trace`] takes the wide voxel level on this CPU (x86-64 with AVX-512F and DQ).
pub fn wide_voxel_level() -> bool {
    #[cfg(target_arch = "x86_64")]
    return super::avx512::Avx512::detect().is_some();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

impl VoxelGrid {
    /// Traces a ray from `origin` along unit `dir` for at most `max_dist` metres.
    pub fn trace(&self, origin: Vec3, dir: Vec3, max_dist: f32) -> Trace {
        #[cfg(target_arch = "x86_64")]
        if let Some(proof) = Avx512::detect() {
            // SAFETY: `trace_wide` needs AVX-512F and DQ, which `proof` shows this CPU has.
            return unsafe { self.trace_wide(proof, origin, dir, max_dist) };
        }
        self.trace_with::<false>(origin, dir, max_dist, None)
    }

    /// True when [`VoxelGrid::trace_batch`] marches sixteen rays at once on this grid: the CPU has AVX-512F and
    /// DQ (x86-64), and the grid's ray index matches its size.
    pub fn batch_lanes(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return Avx512::detect().is_some() && self.ray_index_fits();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Traces every ray of `rays`; `out` is cleared and receives their results in order. Where the CPU can
    /// ([`VoxelGrid::batch_lanes`]), sixteen rays march at once (`traverse_batch.rs`), elsewhere each ray is traced with
    /// [`VoxelGrid::trace`]. A ray's result does not depend on the other rays of its batch. Both paths give the
    /// same results but where a ray passes within float precision of a voxel edge: the slab march orders the
    /// cells there by fixed-point coordinates, the DDA by plane times, so one may enter the neighbour the other
    /// does not (either is right to that precision). The test suite's edge-case rays agree exactly; in
    /// 600 frames of `valley` probes 28 of 27.5 M rays differed, all long rays far from their origin.
    pub fn trace_batch(&self, rays: &[RayQuery], out: &mut Vec<Trace>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(proof) = Avx512::detect().filter(|_| self.ray_index_fits()) {
            out.clear();
            out.resize(rays.len(), Trace::Miss { escaped: false });
            // SAFETY: `trace_batch_wide` needs AVX-512F and DQ, which `proof` shows this CPU has.
            unsafe { self.trace_batch_wide(proof, rays, out) };
            return;
        }
        self.trace_batch_per_ray(rays, out);
    }

    /// True when the ray index matches the grid's size and its indices fit the batch march's 32-bit gathers
    /// (the batch march reads it unchecked; `dims` is a public field, so this is checked on every batch).
    #[cfg(target_arch = "x86_64")]
    fn ray_index_fits(&self) -> bool {
        let d = self.dims;
        let bricks = (d / BRICK).as_uvec3().as_u64vec3().element_product();
        d.cmpgt(IVec3::ZERO).all()
            && (d % BRICK).cmpeq(IVec3::ZERO).all()
            && self.ray_index.bricks() as u64 == bricks
            && bricks <= i32::MAX as u64
            && self.ray_index.masks() <= 1 << 27
    }

    /// [`VoxelGrid::trace_batch`] one ray at a time with [`VoxelGrid::trace`], whatever the CPU: for tests and
    /// comparisons.
    pub fn trace_batch_per_ray(&self, rays: &[RayQuery], out: &mut Vec<Trace>) {
        out.clear();
        out.extend(rays.iter().map(|r| self.trace(r.origin, r.dir, r.max_dist)));
    }

    /// [`VoxelGrid::trace`] on the portable path (no wide voxel level), whatever the CPU: for tests and
    /// comparisons.
    pub fn trace_portable(&self, origin: Vec3, dir: Vec3, max_dist: f32) -> Trace {
        self.trace_with::<false>(origin, dir, max_dist, None)
    }

    /// [`VoxelGrid::trace`] compiled for AVX-512, with the wide voxel level.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn trace_wide(&self, proof: Avx512, origin: Vec3, dir: Vec3, max_dist: f32) -> Trace {
        self.trace_with::<true>(origin, dir, max_dist, Some(proof))
    }

    /// The trace; `WIDE` with a `proof`: the voxel level tests a brick's eight slabs at once.
    #[inline(always)]
    fn trace_with<const WIDE: bool>(&self, origin: Vec3, dir: Vec3, max_dist: f32, proof: Option<Avx512>) -> Trace {
        let inv_vs = self.inv_voxel_size;
        let ov = (origin - self.origin) * inv_vs;
        let limit = max_dist * inv_vs;
        let safe = |d: f32| if d.abs() < 1e-12 { 1e-12f32.copysign(d) } else { d };
        let dv = Vec3::new(safe(dir.x), safe(dir.y), safe(dir.z));
        let iv = dv.recip();
        let ta = -ov * iv;
        let tb = (self.dims.as_vec3() - ov) * iv;
        let t_near = ta.min(tb);
        let t_in = fmax(t_near.max_element(), 0.0);
        let t_box = ta.max(tb).min_element();
        if t_in >= t_box || t_in >= limit {
            return Trace::Miss { escaped: t_in < limit };
        }
        let t_end = fmin(t_box, limit);
        let escaped_at_end = t_box <= limit;
        let entry_axis = if t_in > 0.0 {
            if t_near.x >= t_near.y && t_near.x >= t_near.z {
                0
            } else if t_near.y >= t_near.z {
                1
            } else {
                2
            }
        } else {
            NO_AXIS
        };
        let ray = Ray { o: ov.to_array(), d: dv.to_array(), inv: iv.to_array(), t_in, t_end, entry_axis, wide: proof };
        let a = dv.abs();
        let r = if a.x >= a.y && a.x >= a.z {
            if dv.x > 0.0 {
                self.march::<0, 1, 2, true, WIDE>(&ray)
            } else {
                self.march::<0, 1, 2, false, WIDE>(&ray)
            }
        } else if a.y >= a.z {
            if dv.y > 0.0 {
                self.march::<1, 0, 2, true, WIDE>(&ray)
            } else {
                self.march::<1, 0, 2, false, WIDE>(&ray)
            }
        } else if dv.z > 0.0 {
            self.march::<2, 0, 1, true, WIDE>(&ray)
        } else {
            self.march::<2, 0, 1, false, WIDE>(&ray)
        };
        r.unwrap_or(Trace::Miss { escaped: escaped_at_end })
    }

    /// The brick level: one brick slab (8 voxels along the major axis) per step. `POS`: the ray runs towards
    /// +M.
    #[inline(always)]
    fn march<const M: usize, const U: usize, const W: usize, const POS: bool, const WIDE: bool>(
        &self,
        r: &Ray,
    ) -> Option<Trace> {
        let nb = (self.dims / BRICK).to_array();
        let stride = [1usize, nb[0] as usize, (nb[0] * nb[1]) as usize];
        let bs = BRICK as f32;
        let step = if POS { 1 } else { -1 };
        // The voxel slab the ray starts in: the first brick slab is walked from its face only.
        let vx0 = iclamp((r.o[M] + r.d[M] * r.t_in) as i32, 0, nb[M] * BRICK - 1);
        let mut bm = vx0 >> 3;
        // The time the ray leaves brick slab `bm`, exact (never accumulated, so an unknown brick's distance is
        // its exact entry plane).
        let exit_time = |bm: i32| ((bm + i32::from(POS)) as f32 * bs - r.o[M]) * r.inv[M];
        let mut t_exit = exit_time(bm);
        let mut ta = r.t_in;
        let stop = |lin: usize| self.stop_bits[lin >> 6] >> (lin & 63) & 1;
        let lu = Line::new(r.o[U], r.d[U], r.o[M], r.d[M]);
        let lw = Line::new(r.o[W], r.d[W], r.o[M], r.d[M]);
        let (bu_max, bw_max) = (nb[U] - 1, nb[W] - 1);
        let mut x_in = vx0 + i32::from(!POS);
        // The far face of the voxel slab the ray ends in: the last brick slab is walked to it only.
        let vx1 = iclamp((r.o[M] + r.d[M] * r.t_end) as i32, 0, nb[M] * BRICK - 1);
        let x_last = vx1 + i32::from(POS);
        let b_last = vx1 >> 3;
        let (mut u_in, mut w_in) = (lu.at(x_in), lw.at(x_in));
        loop {
            let x_out = if bm == b_last {
                x_last
            } else if POS {
                bm * BRICK + BRICK
            } else {
                bm * BRICK
            };
            let tb = fmin(t_exit, r.t_end);
            let (u_out, w_out) = (lu.at(x_out), lw.at(x_out));
            let ua = iclamp((u_in >> 35) as i32, 0, bu_max);
            let ub = iclamp((u_out >> 35) as i32, 0, bu_max);
            let wa = iclamp((w_in >> 35) as i32, 0, bw_max);
            let wb = iclamp((w_out >> 35) as i32, 0, bw_max);
            let lin = bm as usize * stride[M] + ua as usize * stride[U] + wa as usize * stride[W];
            let du = (ub - ua) as isize * stride[U] as isize;
            let dw = (wb - wa) as isize * stride[W] as isize;
            let l = |d: isize| (lin as isize + d) as usize;
            if stop(lin) | stop(l(du)) | stop(l(dw)) | stop(l(du + dw)) != 0 {
                let tu = (ua.max(ub) as f32 * bs - r.o[U]) * r.inv[U];
                let tw = (wa.max(wb) as f32 * bs - r.o[W]) * r.inv[W];
                let mut cells = [(ua, wa, ta); 3];
                let n = order(ua, ub, wa, wb, tu, tw, &mut cells);
                for i in 0..n {
                    let (cu, cw, t0) = cells[i];
                    let t1 = if i + 1 < n { cells[i + 1].2 } else { tb };
                    let t0 = fmax(t0, ta);
                    let t1 = fmin(t1, tb);
                    let mut b = [0i32; 3];
                    b[M] = bm;
                    b[U] = cu;
                    b[W] = cw;
                    let lin = b[0] as usize * stride[0] + b[1] as usize * stride[1] + b[2] as usize * stride[2];
                    if stop(lin) == 0 || t0 >= t1 {
                        continue;
                    }
                    if !self.column_loaded[(b[0] + b[2] * nb[0]) as usize] {
                        return Some(Trace::Unknown { dist: t0 * self.voxel_size });
                    }
                    let Some((mask, bounds)) = self.brick_mask_bounds(IVec3::from_array(b)) else {
                        continue;
                    };
                    let slab = (x_in, x_out, ta, tb);
                    #[cfg(target_arch = "x86_64")]
                    if let (true, Some(proof)) = (WIDE, r.wide) {
                        // SAFETY: `march_brick_wide` needs AVX-512F and DQ, which `proof` shows this CPU has.
                        let hit = unsafe { self.march_brick_wide::<M, U, W, POS>(proof, r, mask, b, slab, lu, lw) };
                        if let Some(h) = hit {
                            return Some(Trace::Hit(h));
                        }
                        continue;
                    }
                    crate::prefetch::prefetch(mask);
                    if let Some(h) = self.march_brick::<M, U, W, POS>(r, mask, bounds, b, slab, lu, lw) {
                        return Some(Trace::Hit(h));
                    }
                }
            }
            if t_exit >= r.t_end {
                return None;
            }
            bm += step;
            if bm < 0 || bm >= nb[M] {
                return Some(Trace::Miss { escaped: true });
            }
            ta = t_exit;
            t_exit = exit_time(bm);
            x_in = x_out;
            (u_in, w_in) = (u_out, w_out);
        }
    }

    /// The voxel level inside brick `b`, for the voxel slabs between the planes `x_in` and `x_out` (the ray
    /// inside them during `[ta, tb]`). The slabs are first limited, in integers, to those of the brick's solid
    /// box; cells outside the brick read as empty, so slabs where the ray is in a neighbouring brick cost a
    /// bit test each and never hit.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn march_brick<const M: usize, const U: usize, const W: usize, const POS: bool>(
        &self,
        r: &Ray,
        mask: &Mask,
        bounds: u32,
        b: [i32; 3],
        (x_in, x_out, ta, tb): (i32, i32, f32, f32),
        lu: Line,
        lw: Line,
    ) -> Option<Hit> {
        let base = [b[0] * BRICK, b[1] * BRICK, b[2] * BRICK];
        let lo = |a: usize| (bounds >> (3 * a) & 7) as i32;
        let hi = |a: usize| (bounds >> (3 * a + 9) & 7) as i32;
        let step = if POS { 1 } else { -1 };
        // The first and last voxel slab (brick coordinates), in ray order, inside the solid box.
        let (vm0, vm1) = if POS {
            ((x_in - base[M]).max(lo(M)), (x_out - 1 - base[M]).min(hi(M)))
        } else {
            ((x_in - 1 - base[M]).min(hi(M)), (x_out - base[M]).max(lo(M)))
        };
        if (vm1 - vm0) * step < 0 {
            return None;
        }
        // The minor cells at the faces of those slabs must overlap the solid box.
        let x0 = base[M] + vm0 + i32::from(!POS);
        let x1 = base[M] + vm1 + i32::from(POS);
        let cell = |v: i64, b: i32| (v >> 32) as i32 - b;
        let (u0, u1) = (cell(lu.at(x0), base[U]), cell(lu.at(x1), base[U]));
        let (w0, w1) = (cell(lw.at(x0), base[W]), cell(lw.at(x1), base[W]));
        if u0.max(u1) < lo(U) || u0.min(u1) > hi(U) || w0.max(w1) < lo(W) || w0.min(w1) > hi(W) {
            return None;
        }
        let n = (vm1 - vm0) * step + 1;
        let (bu, bw) = (base[U] - 1, base[W] - 1);
        let c = |v: i64, b: i32| (((v >> 32) as i32 - b) as u32).min(9) as usize;
        let mut g = [0u64; 10];
        if M != 1 {
            g[1..9].copy_from_slice(mask);
        }
        // One slab at a time: a cheap test of the 2 x 2 minor rectangle the segment spans, and the exact
        // cells in ray order only where that rectangle holds a solid voxel.
        let (ku, kw) = (lu.k * i64::from(step), lw.k * i64::from(step));
        let (mut u, mut w) = (lu.at(x0), lw.at(x0));
        let (mut ua, mut wa) = (c(u, bu), c(w, bw));
        for j in 0..n {
            u += ku;
            w += kw;
            let (ub, wb) = (c(u, bu), c(w, bw));
            let vm = (vm0 + j * step) as usize & 7;
            let any = match M {
                1 => mask[vm] & ((BIT[ua] | BIT[ub]) * (ROW[wa] | ROW[wb])),
                0 => (g[ua] | g[ub]) & ((ROW[wa] | ROW[wb]) << vm),
                _ => (g[wa] | g[wb]) & ((BIT[ua] | BIT[ub]) << (8 * vm)),
            };
            if any != 0 {
                if let Some(h) = self.resolve::<M, U, W>(r, mask, base, vm as i32, j, x0, (ta, tb), [ua, ub, wa, wb]) {
                    return Some(h);
                }
            }
            ua = ub;
            wa = wb;
        }
        None
    }

    /// The first solid voxel among the (up to three) cells a slab's segment crosses, in ray order; `(t0, t1)`
    /// is the ray's interval inside the brick slab.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn resolve<const M: usize, const U: usize, const W: usize>(
        &self,
        r: &Ray,
        mask: &Mask,
        base: [i32; 3],
        vm: i32,
        j: i32,
        x0: i32,
        (t0, t1): (f32, f32),
        c: [usize; 4],
    ) -> Option<Hit> {
        let pos = r.d[M] > 0.0;
        let step = if pos { 1 } else { -1 };
        let x_in = x0 + j * step;
        let x_out = x_in + step;
        let [ua, ub, wa, wb] = c.map(|v| v as i32 - 1);
        let ta = fmax((x_in as f32 - r.o[M]) * r.inv[M], t0);
        let tb = fmin((x_out as f32 - r.o[M]) * r.inv[M], t1);
        let tu = ((base[U] + ua.max(ub)) as f32 - r.o[U]) * r.inv[U];
        let tw = ((base[W] + wa.max(wb)) as f32 - r.o[W]) * r.inv[W];
        let mut cells = [(ua, wa, ta); 3];
        let k = order(ua, ub, wa, wb, tu, tw, &mut cells);
        for (i, &(cu, cw, t)) in cells[..k].iter().enumerate() {
            let t = fmax(t, ta);
            let t_leave = if i + 1 < k { fmin(cells[i + 1].2, tb) } else { tb };
            // Cells outside the brick, cells the ray passed before this slab, cells it only touches where it starts
            // (an origin on a face or edge of a voxel it moves away from) and cells it reaches at its very end are
            // not entered.
            if (cu as u32 | cw as u32) >= BRICK as u32 || t > t_leave || t_leave <= r.t_in || t >= r.t_end {
                continue;
            }
            let mut v = [0i32; 3];
            v[M] = vm;
            v[U] = cu;
            v[W] = cw;
            if !mask_solid(mask, v[0], v[1], v[2]) {
                continue;
            }
            // Where the ray entered this voxel, exactly: its last entry plane (or where the ray starts or
            // enters the grid, for the voxel it starts in).
            let (mut t, mut axis) = (r.t_in, r.entry_axis);
            for a in 0..3 {
                let plane = (base[a] + v[a] + i32::from(r.d[a] < 0.0)) as f32;
                let ta = (plane - r.o[a]) * r.inv[a];
                if ta > t {
                    t = ta;
                    axis = a;
                }
            }
            let mut n = [0f32; 3];
            if axis < 3 {
                n[axis] = if r.d[axis] > 0.0 { -1.0 } else { 1.0 };
            } else {
                n[M] = if pos { -1.0 } else { 1.0 };
            }
            return Some(Hit {
                dist: t * self.voxel_size,
                voxel: IVec3::new(base[0] + v[0], base[1] + v[1], base[2] + v[2]),
                normal: Vec3::from_array(n),
            });
        }
        None
    }
}
