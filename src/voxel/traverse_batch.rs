//! Batch ray traversal with AVX-512 (x86-64 CPUs that have it, detected at run time): sixteen rays march at once,
//! one per 32-bit lane, through a voxel DDA over the grid's flat ray index (`ray_index.rs`: one slot per
//! brick, and 16-word masks).
//!
//! - Each step a lane looks up its current voxel with two gathers (the brick's slot, then the word holding the
//!   voxel's bit) and steps to the neighbour across the nearest cell face; a lane in an empty brick leaves the
//!   brick in one step instead. The plane times are recomputed from
//!   the integer cell at every step (`(plane - origin) / direction`), never accumulated, so a hit's distance
//!   is the exact entry plane of its voxel, as on the per-ray path.
//! - No decision of the march waits for the mask gather: every lane steps on regardless, and a lane's first hit
//!   (or unknown brick, or end) is recorded on the side. The gathers of successive steps therefore overlap, and
//!   a step is a fixed sequence of vector instructions with no data-dependent branch.
//! - Finished lanes are refilled from the batch once [`REFILL`] of them are free; a new ray's setup (clip
//!   to the grid, first cell, first plane times) is computed in its lane with the same float operations as
//!   the per-ray trace.
//! - A ray starts in the cell it occupies just after its start (on a face, the cell ahead) and ends before a
//!   cell it would enter at exactly its end, the per-ray path's rules, so results equal [`VoxelGrid::trace`]'s.
//!   Only a ray passing within float precision of a voxel edge can differ (the slab march orders such cells by
//!   fixed-point minor coordinates, this march by plane times; either neighbour is right to that precision).
//!   The test suite compares both on every ray it traces, edge cases included.

use std::arch::x86_64::*;

use glam::{IVec3, Vec3};

use super::avx512::Avx512;
use super::grid::{Hit, Trace, VoxelGrid, RAY_UNKNOWN};
use super::traverse::RayQuery;

/// Lanes are refilled once at least this many are free (measured on the `trace` bench: 4 is faster than 1, 2
/// or 8: each refill is a fixed cost, each idle lane a lost step).
const REFILL: u32 = 4;

/// Rays per kernel call: ray data is gathered with 32-bit element indices (7 floats per ray).
const CALL_RAYS: usize = 1 << 24;

/// A lane's recorded outcome.
const KIND_MISS: i32 = 0;
const KIND_UNKNOWN: i32 = 1;
const KIND_HIT: i32 = 2;
const KIND_ESCAPED: i32 = 3;

/// A direction component with its magnitude raised to at least 1e-12, sign kept (as the per-ray trace does).
#[inline(always)]
fn safe(d: f32) -> f32 {
    if d.abs() < 1e-12 {
        1e-12f32.copysign(d)
    } else {
        d
    }
}

impl VoxelGrid {
    /// Traces `rays` into `out` (same length) sixteen at a time.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn trace_batch_wide(&self, _proof: Avx512, rays: &[RayQuery], out: &mut [Trace]) {
        for (r, o) in rays.chunks(CALL_RAYS).zip(out.chunks_mut(CALL_RAYS)) {
            self.march_lanes(r, o);
        }
    }

    /// The sixteen-lane march over at most [`CALL_RAYS`] rays.
    #[target_feature(enable = "avx512f,avx512dq")]
    fn march_lanes(&self, rays: &[RayQuery], out: &mut [Trace]) {
        let n = rays.len();
        let ps = |v: f32| _mm512_set1_ps(v);
        let pi = |v: i32| _mm512_set1_epi32(v);
        let zero = _mm512_setzero_si512();
        let one = pi(1);
        let nb = (self.dims / super::BRICK).to_array();
        let dims = self.dims.to_array().map(pi);
        let dims_f = self.dims.as_vec3().to_array().map(ps);
        let dims_hi = self.dims.to_array().map(|d| pi(d - 1));
        let grid_o = self.origin.to_array().map(ps);
        let inv_vs = ps(self.inv_voxel_size);
        let (slot_words, mask_words) = self.ray_index.raw();
        let slots = slot_words.as_ptr().cast::<i32>();
        let masks = mask_words.as_ptr().cast::<i32>();
        let ray_words = rays.as_ptr().cast::<f32>();
        let iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);

        let fz = _mm512_setzero_ps();
        let (mut o, mut inv, mut tm) = ([fz; 3], [fz; 3], [fz; 3]);
        let (mut c, mut s, mut p) = ([zero; 3], [zero; 3], [zero; 3]);
        let (mut tcur, mut tend) = (fz, fz);
        let (mut axis, mut idx, mut end_kind) = (zero, zero, zero);
        let (mut rec_t, mut rec_c, mut rec_axis, mut rec_kind) = (fz, [zero; 3], zero, zero);
        // `live`: the lane holds a ray whose result is not written yet; `fin`: its result is recorded.
        let (mut live, mut fin): (__mmask16, __mmask16) = (0, 0);
        let mut next = 0usize;
        loop {
            let free = !live | fin;
            let pending = n - next;
            let refill = pending > 0 && free.count_ones() >= REFILL.min(pending as u32);
            if refill || (pending == 0 && live & !fin == 0) {
                self.write_lanes(rays, out, live & fin, idx, rec_kind, rec_t, rec_c, rec_axis);
                live &= !fin;
                if pending == 0 {
                    return;
                }
                // The next rays, in order, into the free lanes.
                let mut k: __mmask16 = !live;
                while k.count_ones() as usize > pending {
                    k &= !(1 << (15 - k.leading_zeros()));
                }
                let ids = _mm512_maskz_expand_epi32(k, _mm512_add_epi32(pi(next as i32), iota));
                idx = _mm512_mask_mov_epi32(idx, k, ids);
                let at = _mm512_mullo_epi32(ids, pi(7));
                // SAFETY (all gathers below): only lanes in `k` load, at `7 i + w` with `i < n` and `w < 7`,
                // inside `rays` (7 floats each, `repr(C)`).
                let word =
                    |w: i32| unsafe { _mm512_mask_i32gather_ps::<4>(fz, k, _mm512_add_epi32(at, pi(w)), ray_words) };
                let max = word(6);
                let limit = _mm512_mul_ps(max, inv_vs);
                let mut ov = [fz; 3];
                let mut dv = [fz; 3];
                let mut iv = [fz; 3];
                let mut ta = [fz; 3];
                let mut tb = [fz; 3];
                for a in 0..3 {
                    ov[a] = _mm512_mul_ps(_mm512_sub_ps(word(a as i32), grid_o[a]), inv_vs);
                    let d = word(3 + a as i32);
                    let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_abs_ps(d), ps(1e-12));
                    let signed = _mm512_or_ps(_mm512_and_ps(d, ps(-0.0)), ps(1e-12));
                    dv[a] = _mm512_mask_mov_ps(d, tiny, signed);
                    iv[a] = _mm512_div_ps(ps(1.0), dv[a]);
                    ta[a] = _mm512_mul_ps(_mm512_xor_ps(ov[a], ps(-0.0)), iv[a]);
                    tb[a] = _mm512_mul_ps(_mm512_sub_ps(dims_f[a], ov[a]), iv[a]);
                }
                let near = [0, 1, 2].map(|a| _mm512_min_ps(ta[a], tb[a]));
                let far = [0, 1, 2].map(|a| _mm512_max_ps(ta[a], tb[a]));
                let t_in = _mm512_max_ps(_mm512_max_ps(_mm512_max_ps(near[0], near[1]), near[2]), fz);
                let t_box = _mm512_min_ps(_mm512_min_ps(far[0], far[1]), far[2]);
                let ge = |a: __m512, b: __m512| _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, b);
                let gt = |a: __m512, b: __m512| _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b);
                let outside = ge(t_in, t_box) | ge(t_in, limit);
                let t_end = _mm512_min_ps(t_box, limit);
                // The axis the ray entered the grid through, or (starting inside) its major axis; either
                // gives a hit in the first cell its normal.
                let pick = |v: [__m512; 3]| {
                    let x = ge(v[0], v[1]) & ge(v[0], v[2]);
                    let y = !x & ge(v[1], v[2]);
                    _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(pi(2), y, one), x, zero)
                };
                let major = pick(dv.map(|d| _mm512_abs_ps(d)));
                let entered = _mm512_mask_mov_epi32(major, gt(t_in, fz), pick(near));
                axis = _mm512_mask_mov_epi32(axis, k, entered);
                for a in 0..3 {
                    let pos = gt(dv[a], fz);
                    // The cell the ray is in just after `t_in`: on a face, the one ahead.
                    let at = _mm512_add_ps(ov[a], _mm512_mul_ps(dv[a], t_in));
                    let below = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(at);
                    let ahead = _mm512_roundscale_ps::<{ _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC }>(at);
                    let start = _mm512_mask_mov_ps(_mm512_sub_ps(ahead, ps(1.0)), pos, below);
                    let cell = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(start), zero), dims_hi[a]);
                    o[a] = _mm512_mask_mov_ps(o[a], k, ov[a]);
                    inv[a] = _mm512_mask_mov_ps(inv[a], k, iv[a]);
                    c[a] = _mm512_mask_mov_epi32(c[a], k, cell);
                    s[a] = _mm512_mask_mov_epi32(s[a], k, _mm512_mask_mov_epi32(pi(-1), pos, one));
                    p[a] = _mm512_mask_mov_epi32(p[a], k, _mm512_maskz_mov_epi32(pos, one));
                    let plane = _mm512_cvtepi32_ps(_mm512_add_epi32(c[a], p[a]));
                    tm[a] = _mm512_mask_mov_ps(tm[a], k, _mm512_mul_ps(_mm512_sub_ps(plane, o[a]), inv[a]));
                }
                tcur = _mm512_mask_mov_ps(tcur, k, t_in);
                // A ray that misses the grid (or has no length) is finished at once and never steps.
                tend = _mm512_mask_mov_ps(tend, k, _mm512_mask_mov_ps(t_end, outside, ps(f32::NEG_INFINITY)));
                let escaped_at_end = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(t_box, limit);
                end_kind = _mm512_mask_mov_epi32(
                    end_kind,
                    k,
                    _mm512_mask_mov_epi32(pi(KIND_MISS), escaped_at_end, pi(KIND_ESCAPED)),
                );
                let escaped_now = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(t_in, limit);
                let outside_kind = _mm512_mask_mov_epi32(pi(KIND_MISS), escaped_now, pi(KIND_ESCAPED));
                rec_kind = _mm512_mask_mov_epi32(rec_kind, k & outside, outside_kind);
                live |= k;
                fin = (fin & !k) | (k & outside);
                next += k.count_ones() as usize;
            }
            // Look up every live lane's voxel (lanes outside the grid load nothing and finish).
            let lt = |m: __mmask16, a: usize| _mm512_mask_cmplt_epu32_mask(m, c[a], dims[a]);
            let inside = lt(lt(lt(live, 0), 1), 2);
            let brick = |a: usize| _mm512_srli_epi32::<3>(c[a]);
            let lin = _mm512_add_epi32(
                brick(0),
                _mm512_mullo_epi32(pi(nb[0]), _mm512_add_epi32(brick(1), _mm512_mullo_epi32(pi(nb[1]), brick(2)))),
            );
            // SAFETY: `lin` is a brick of the grid for lanes inside it, and the ray index has one slot per brick
            // (`ray_index_fits`, checked before the march).
            let slot = unsafe { _mm512_mask_i32gather_epi32::<4>(zero, inside, lin, slots) };
            let word_index = _mm512_add_epi32(
                _mm512_slli_epi32::<4>(slot),
                _mm512_add_epi32(
                    _mm512_slli_epi32::<1>(_mm512_and_si512(c[1], pi(7))),
                    _mm512_and_si512(_mm512_srli_epi32::<2>(c[2]), one),
                ),
            );
            // SAFETY: every slot indexes a mask the ray index holds (its invariant; 16 words each) and the word
            // offset is below 16.
            let word = unsafe { _mm512_mask_i32gather_epi32::<4>(zero, inside, word_index, masks) };
            let bit =
                _mm512_add_epi32(_mm512_and_si512(c[0], pi(7)), _mm512_slli_epi32::<3>(_mm512_and_si512(c[2], pi(3))));
            let solid = _mm512_mask_test_epi32_mask(inside, word, _mm512_sllv_epi32(one, bit));
            let unknown = _mm512_mask_cmpeq_epi32_mask(inside, slot, pi(RAY_UNKNOWN as i32));
            let tmin = _mm512_min_ps(tm[0], _mm512_min_ps(tm[1], tm[2]));
            let ending = _mm512_mask_cmp_ps_mask::<_CMP_GE_OQ>(live, tmin, tend);
            // Record the lanes that finish at this cell; the march below does not wait for this.
            let found = (solid | unknown | (live & !inside)) & !fin;
            let kind = _mm512_mask_mov_epi32(
                _mm512_mask_mov_epi32(pi(KIND_ESCAPED), unknown, pi(KIND_UNKNOWN)),
                solid,
                pi(KIND_HIT),
            );
            let ended = ending & !(fin | found);
            let recorded = found | ended;
            rec_kind = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(rec_kind, found, kind), ended, end_kind);
            rec_t = _mm512_mask_mov_ps(rec_t, recorded, tcur);
            for a in 0..3 {
                rec_c[a] = _mm512_mask_mov_epi32(rec_c[a], recorded, c[a]);
            }
            rec_axis = _mm512_mask_mov_epi32(rec_axis, recorded, axis);
            fin |= recorded;
            let mut go = live & !ending;
            let le = |m: __mmask16, a: __m512, b: __m512| _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(m, a, b);
            // Lanes in an empty brick (streamed in, nothing solid) leave it in one step, through its nearest
            // face; the cell on the other axes is where the ray is then, kept inside the brick. A lane whose
            // length ends inside the brick is finished. (This decision waits for the slot gather, not
            // for the mask gather; it made rays of 64 to 256 voxels 1.4 times faster, short ones no slower.)
            let empty = _mm512_mask_cmpeq_epi32_mask(go & inside, slot, zero);
            let base = c.map(|v| _mm512_andnot_si512(pi(7), v));
            let exit_plane = [0, 1, 2].map(|a| _mm512_add_epi32(base[a], _mm512_slli_epi32::<3>(p[a])));
            let te = [0, 1, 2].map(|a| _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(exit_plane[a]), o[a]), inv[a]));
            let t_exit = _mm512_min_ps(te[0], _mm512_min_ps(te[1], te[2]));
            let beyond = _mm512_mask_cmp_ps_mask::<_CMP_GE_OQ>(empty, t_exit, tend);
            let end_here = beyond & !fin;
            rec_kind = _mm512_mask_mov_epi32(rec_kind, end_here, end_kind);
            fin |= end_here;
            let jump = empty & !beyond;
            let jx = le(le(jump, te[0], te[1]), te[0], te[2]);
            let jy = le(jump & !jx, te[1], te[2]);
            let through = [jx, jy, jump & !jx & !jy];
            for a in 0..3 {
                let along = _mm512_add_ps(o[a], _mm512_mul_ps(_mm512_div_ps(ps(1.0), inv[a]), t_exit));
                let floor = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(along);
                let clamp =
                    |v: __m512i| _mm512_min_epi32(_mm512_max_epi32(v, base[a]), _mm512_add_epi32(base[a], pi(7)));
                let guess = clamp(_mm512_cvttps_epi32(floor));
                // The position is only as exact as a float; the cell's own plane times decide: one cell on if
                // the ray left the guess before `t_exit`, one back if it entered the guess after.
                let time = |plane: __m512i| _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(plane), o[a]), inv[a]);
                let leaves = time(_mm512_add_epi32(guess, p[a]));
                let enters = time(_mm512_sub_epi32(_mm512_add_epi32(guess, p[a]), s[a]));
                let early = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(leaves, t_exit);
                let late = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(enters, t_exit);
                let inner =
                    clamp(_mm512_mask_sub_epi32(_mm512_mask_add_epi32(guess, early, guess, s[a]), late, guess, s[a]));
                let across = _mm512_sub_epi32(exit_plane[a], _mm512_sub_epi32(one, p[a]));
                c[a] = _mm512_mask_mov_epi32(c[a], jump, _mm512_mask_mov_epi32(inner, through[a], across));
                let plane = _mm512_cvtepi32_ps(_mm512_add_epi32(c[a], p[a]));
                tm[a] = _mm512_mask_mov_ps(tm[a], jump, _mm512_mul_ps(_mm512_sub_ps(plane, o[a]), inv[a]));
                axis = _mm512_mask_mov_epi32(axis, through[a], pi(a as i32));
            }
            tcur = _mm512_mask_mov_ps(tcur, jump, _mm512_max_ps(t_exit, tcur));
            go &= !(beyond | jump);
            // Step every lane that has length left across its nearest face (ties: x, then y).
            let mx = le(le(go, tm[0], tm[1]), tm[0], tm[2]);
            let my = le(go & !mx, tm[1], tm[2]);
            let step = [mx, my, go & !mx & !my];
            for a in 0..3 {
                c[a] = _mm512_mask_add_epi32(c[a], step[a], c[a], s[a]);
                let plane = _mm512_cvtepi32_ps(_mm512_add_epi32(c[a], p[a]));
                tm[a] = _mm512_mask_mov_ps(tm[a], step[a], _mm512_mul_ps(_mm512_sub_ps(plane, o[a]), inv[a]));
                axis = _mm512_mask_mov_epi32(axis, step[a], pi(a as i32));
            }
            // Time never runs backwards (a first cell's plane can lie a rounding error behind `t_in`).
            tcur = _mm512_mask_mov_ps(tcur, go, _mm512_max_ps(tmin, tcur));
        }
    }

    /// Writes the recorded results of the lanes in `done` to `out`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn write_lanes(
        &self,
        rays: &[RayQuery],
        out: &mut [Trace],
        done: __mmask16,
        idx: __m512i,
        kind: __m512i,
        t: __m512,
        cell: [__m512i; 3],
        axis: __m512i,
    ) {
        if done == 0 {
            return;
        }
        let ints = |v: __m512i| -> [i32; 16] { bytemuck::cast(v) };
        let (idx, kind, axis) = (ints(idx), ints(kind), ints(axis));
        let cell = cell.map(ints);
        let t: [f32; 16] = bytemuck::cast(t);
        let mut lanes = done;
        while lanes != 0 {
            let l = lanes.trailing_zeros() as usize;
            lanes &= lanes - 1;
            let i = idx[l] as usize;
            out[i] = match kind[l] {
                KIND_MISS => Trace::Miss { escaped: false },
                KIND_ESCAPED => Trace::Miss { escaped: true },
                KIND_UNKNOWN => Trace::Unknown { dist: t[l] * self.voxel_size },
                _ => {
                    let a = axis[l] as usize;
                    let mut n = [0f32; 3];
                    n[a] = if safe(rays[i].dir[a]) > 0.0 { -1.0 } else { 1.0 };
                    Trace::Hit(Hit {
                        dist: t[l] * self.voxel_size,
                        voxel: IVec3::new(cell[0][l], cell[1][l], cell[2][l]),
                        normal: Vec3::from_array(n),
                    })
                }
            };
        }
    }
}
