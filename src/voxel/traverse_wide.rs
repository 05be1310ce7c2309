//! The voxel level of the slab march with AVX-512 (x86-64 CPUs that have it, detected at run time): all eight
//! voxel slabs of a brick are tested at once, one 64-bit lane per slab, instead of one slab per loop step.
//!
//! Per lane the test is the scalar one of [`super::traverse`]: the 2 x 2 rectangle of minor cells spanned by the
//! slab's two faces, against the brick's mask. Lanes whose rectangle holds a solid voxel form an 8-bit set; its
//! slabs are resolved exactly in ray order. The test needs neither the brick's solid box nor a loop, so a brick
//! costs one mask load and a fixed, branch-free sequence (no prefetch: nothing precedes the load). Results are
//! identical to the portable path (a test compares both on every ray it traces).

use std::arch::x86_64::*;

use super::avx512::Avx512;
use super::brick::{Mask, BRICK};
use super::grid::{Hit, VoxelGrid};
use super::traverse::{Line, Ray};

impl VoxelGrid {
    /// The voxel level inside brick `b` for the voxel slabs between the planes `x_in` and `x_out` (the ray
    /// inside them during `[ta, tb]`); the same contract as the portable `march_brick`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn march_brick_wide<const M: usize, const U: usize, const W: usize, const POS: bool>(
        &self,
        _proof: Avx512,
        r: &Ray,
        mask: &Mask,
        b: [i32; 3],
        (x_in, x_out, ta, tb): (i32, i32, f32, f32),
        lu: Line,
        lw: Line,
    ) -> Option<Hit> {
        let base = [b[0] * BRICK, b[1] * BRICK, b[2] * BRICK];
        // The slabs of this brick the ray's brick slab covers, as a lane set.
        let (lo, hi) = if POS { (x_in - base[M], x_out - 1 - base[M]) } else { (x_out - base[M], x_in - 1 - base[M]) };
        let (lo, hi) = (lo.max(0), hi.min(BRICK - 1));
        if lo > hi {
            return None;
        }
        let range = (0xffu32 << lo) & (0xffu32 >> (BRICK - 1 - hi));
        // Minor cells (brick coordinates) at each slab's low and high face: the fixed-point lines at the
        // planes `base[M] + m` and `base[M] + m + 1`.
        let lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        let cells = |l: Line, base_minor: i32| {
            let a = l.a + l.k * i64::from(base[M]) - (i64::from(base_minor) << 32);
            let at_lo = _mm512_add_epi64(_mm512_set1_epi64(a), _mm512_mullo_epi64(_mm512_set1_epi64(l.k), lane));
            let at_hi = _mm512_add_epi64(at_lo, _mm512_set1_epi64(l.k));
            (_mm512_srai_epi64::<32>(at_lo), _mm512_srai_epi64::<32>(at_hi))
        };
        let (u_lo, u_hi) = cells(lu, base[U]);
        let (w_lo, w_hi) = cells(lw, base[W]);
        let eight = _mm512_set1_epi64(BRICK as i64);
        let inside = |c: __m512i| _mm512_cmplt_epu64_mask(c, eight);
        let one = _mm512_set1_epi64(1);
        let bit = |n: __m512i| _mm512_sllv_epi64(one, n);
        let times8 = |c: __m512i| _mm512_slli_epi64::<3>(c);
        let mv: __m512i = bytemuck::cast(*mask);
        // A mask word is row y (bit x + 8 z). Shift counts outside 0..64 give zero, so a minor cell outside the
        // brick on the axis that is multiplied by 8 drops out by itself (M = 0: w, M = 1: w); a minor axis that
        // is not multiplied is checked (M = 1: u, M = 2: u), and a minor axis that picks the word is masked in
        // the permute (M = 0: u, M = 2: w).
        let solid = match M {
            0 => {
                // x = m, y = u, z = w.
                let words = _mm512_or_si512(
                    _mm512_maskz_permutexvar_epi64(inside(u_lo), u_lo, mv),
                    _mm512_maskz_permutexvar_epi64(inside(u_hi), u_hi, mv),
                );
                let bits = _mm512_or_si512(
                    bit(_mm512_add_epi64(lane, times8(w_lo))),
                    bit(_mm512_add_epi64(lane, times8(w_hi))),
                );
                _mm512_test_epi64_mask(words, bits)
            }
            1 => {
                // x = u, y = m, z = w.
                let far = _mm512_set1_epi64(1 << 20);
                let ul = _mm512_mask_blend_epi64(inside(u_lo), far, u_lo);
                let uh = _mm512_mask_blend_epi64(inside(u_hi), far, u_hi);
                let (wl, wh) = (times8(w_lo), times8(w_hi));
                let bits = _mm512_or_si512(
                    _mm512_or_si512(bit(_mm512_add_epi64(ul, wl)), bit(_mm512_add_epi64(uh, wl))),
                    _mm512_or_si512(bit(_mm512_add_epi64(ul, wh)), bit(_mm512_add_epi64(uh, wh))),
                );
                _mm512_test_epi64_mask(mv, bits)
            }
            _ => {
                // x = u, y = w, z = m.
                let words = _mm512_or_si512(
                    _mm512_maskz_permutexvar_epi64(inside(w_lo), w_lo, mv),
                    _mm512_maskz_permutexvar_epi64(inside(w_hi), w_hi, mv),
                );
                let far = _mm512_set1_epi64(1 << 20);
                let m8 = times8(lane);
                let bits = _mm512_or_si512(
                    bit(_mm512_mask_blend_epi64(inside(u_lo), far, _mm512_add_epi64(u_lo, m8))),
                    bit(_mm512_mask_blend_epi64(inside(u_hi), far, _mm512_add_epi64(u_hi, m8))),
                );
                _mm512_test_epi64_mask(words, bits)
            }
        };
        let mut hits = u32::from(solid) & range;
        // Resolve the candidate slabs exactly, nearest first.
        let (bu, bw) = (base[U] - 1, base[W] - 1);
        let c = |v: i64, b: i32| (((v >> 32) as i32 - b) as u32).min(9) as usize;
        while hits != 0 {
            let m = if POS { hits.trailing_zeros() } else { 31 - hits.leading_zeros() };
            hits &= !(1 << m);
            let x_enter = base[M] + m as i32 + i32::from(!POS);
            let x_leave = x_enter + if POS { 1 } else { -1 };
            let ends = [c(lu.at(x_enter), bu), c(lu.at(x_leave), bu), c(lw.at(x_enter), bw), c(lw.at(x_leave), bw)];
            if let Some(h) = self.resolve::<M, U, W>(r, mask, base, m as i32, 0, x_enter, (ta, tb), ends) {
                return Some(h);
            }
        }
        None
    }
}
