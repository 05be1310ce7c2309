//! L1 spherical harmonics for RGB irradiance, and the one reconstruction that shading uses.
//!
//! Basis (real SH, band 0 and 1): `Y = (0.282095, 0.488603 y, 0.488603 z, 0.488603 x)`. A probe stores the
//! radiance projection `L_i = integral of L(w) Y_i(w) dw`; the clamped-cosine convolution gives the linear
//! irradiance `E(n) = 0.886227 L00 + 1.023328 (L1 . n)` with `L1 = (L_x, L_y, L_z)`.
//!
//! Shading evaluates [`ShL1::irradiance`]: Graham Hazel's non-linear L1 reconstruction, per channel. With
//! `R0 = 0.886227 L00` (the mean irradiance over all normals) and `R1 = 0.5 * 1.023328 L1`, `r = |R1| / R0`
//! (at most 1, reached by a single direction of light), `q = (1 + n . R1 / |R1|) / 2`, `p = 1 + 2 r` and
//! `a = (1 - r) / (1 + r)`: `E(n) = R0 (a + (1 - a) (p + 1) q^p)`. It keeps the mean, is never negative, is
//! exact at the peak of light from one direction (where the deringed linear form reaches half), and falls off
//! behind a small bright source instead of ringing; for light from a whole hemisphere it gives 17 % too much
//! facing it (the linear form is exact there). It was chosen over the deringed linear form
//! ([`ShL1::irradiance_deringed`]: L1 scaled so that `|L1| <= 0.866 L00`) and a blend of the two by measuring
//! all three against the reference integrator: see the README's accuracy section. The renderer's WGSL will
//! evaluate the same formula.

use glam::Vec3;

/// `Y_00`.
pub const SH_Y0: f32 = 0.282_095;
/// Factor of `Y_1m`.
pub const SH_Y1: f32 = 0.488_603;
/// Irradiance weight of `L00` (`pi * Y_00`).
pub const SH_E0: f32 = 0.886_227;
/// Irradiance weight of `L1` (`2 pi / 3 * Y_1`).
pub const SH_E1: f32 = 1.023_328;
/// Largest `|L1| / L00` with non-negative irradiance everywhere (`SH_E0 / SH_E1`, about 0.866).
pub const SH_DERING_RATIO: f32 = SH_E0 / SH_E1;

/// RGB L1 coefficients: `c[0]` is `L00`, then the `y`, `z`, `x` bands (the basis order above).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShL1 {
    /// Coefficients, RGB each.
    pub c: [Vec3; 4],
}

impl ShL1 {
    /// The basis evaluated in direction `d` (unit).
    #[inline]
    pub fn basis(d: Vec3) -> [f32; 4] {
        [SH_Y0, SH_Y1 * d.y, SH_Y1 * d.z, SH_Y1 * d.x]
    }

    /// Adds `weight * radiance * Y(dir)` (one Monte Carlo sample with weight `4 pi / N` for uniform sphere
    /// sampling).
    #[inline]
    pub fn add_sample(&mut self, dir: Vec3, radiance: Vec3, weight: f32) {
        let y = Self::basis(dir);
        for (c, yi) in self.c.iter_mut().zip(y) {
            *c += radiance * (yi * weight);
        }
    }

    /// `self * s`.
    pub fn scaled(&self, s: f32) -> ShL1 {
        ShL1 { c: self.c.map(|c| c * s) }
    }

    /// `self - other`, coefficient by coefficient.
    pub fn minus(&self, other: &ShL1) -> ShL1 {
        let mut out = *self;
        for (o, b) in out.c.iter_mut().zip(other.c) {
            *o -= b;
        }
        out
    }

    /// `self + (other - self) * t`.
    pub fn lerp(&self, other: &ShL1, t: f32) -> ShL1 {
        let mut out = *self;
        for (o, b) in out.c.iter_mut().zip(other.c) {
            *o = o.lerp(b, t);
        }
        out
    }

    /// The L1 vector `(x, y, z)` of one channel (0 = red).
    pub fn l1(&self, channel: usize) -> Vec3 {
        Vec3::new(self.c[3][channel], self.c[1][channel], self.c[2][channel])
    }

    /// A copy whose L1 is scaled per channel so that `|L1| <= 0.866 L00` (and `L00 >= 0`).
    pub fn deringed(&self) -> ShL1 {
        let mut out = *self;
        for ch in 0..3 {
            let l0 = self.c[0][ch].max(0.0);
            out.c[0][ch] = l0;
            let len = self.l1(ch).length();
            let max = SH_DERING_RATIO * l0;
            if len > max {
                let s = if len > 0.0 { max / len } else { 0.0 };
                for i in 1..4 {
                    out.c[i][ch] *= s;
                }
            }
        }
        out
    }

    /// Irradiance without deringing (may be negative; for tests and analysis).
    pub fn irradiance_raw(&self, n: Vec3) -> Vec3 {
        self.c[0] * SH_E0 + (self.c[3] * n.x + self.c[1] * n.y + self.c[2] * n.z) * SH_E1
    }

    /// Linear irradiance for unit normal `n` after deringing: never negative (the reconstruction shading used
    /// before [`ShL1::irradiance`]; kept for comparisons).
    pub fn irradiance_deringed(&self, n: Vec3) -> Vec3 {
        self.deringed().irradiance_raw(n).max(Vec3::ZERO)
    }

    /// Irradiance for unit normal `n`: Hazel's non-linear L1 reconstruction (module docs). Never negative.
    #[inline]
    pub fn irradiance(&self, n: Vec3) -> Vec3 {
        let r0 = self.c[0] * SH_E0;
        let r1 = [self.l1(0), self.l1(1), self.l1(2)].map(|v| v * (0.5 * SH_E1));
        Vec3::new(nonlinear(r0.x, r1[0], n), nonlinear(r0.y, r1[1], n), nonlinear(r0.z, r1[2], n))
    }

    /// Mean luminance-like magnitude (`L00` averaged over channels), for change detection.
    pub fn level(&self) -> f32 {
        (self.c[0].x + self.c[0].y + self.c[0].z) / 3.0
    }
}

/// One channel of Hazel's reconstruction: mean irradiance `r0`, half the linear gradient `r1`, unit normal `n`.
#[inline]
fn nonlinear(r0: f32, r1: Vec3, n: Vec3) -> f32 {
    if r0 <= 0.0 {
        return 0.0;
    }
    let len = r1.length();
    if len <= 1e-6 * r0 {
        return r0;
    }
    let r = (len / r0).min(1.0);
    let q = (0.5 * (1.0 + n.dot(r1) / len)).clamp(0.0, 1.0);
    let p = 1.0 + 2.0 * r;
    let a = (1.0 - r) / (1.0 + r);
    r0 * (a + (1.0 - a) * (p + 1.0) * q.powf(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    fn fibonacci(n: u32) -> impl Iterator<Item = Vec3> {
        let ga = PI * (3.0 - 5f32.sqrt());
        (0..n).map(move |i| {
            let z = 1.0 - (2 * i + 1) as f32 / n as f32;
            let r = (1.0 - z * z).max(0.0).sqrt();
            let phi = i as f32 * ga;
            Vec3::new(r * phi.cos(), z, r * phi.sin())
        })
    }

    #[test]
    fn uniform_sky_gives_constant_irradiance() {
        let n = 4096;
        let mut sh = ShL1::default();
        let l = Vec3::new(0.5, 0.7, 1.0);
        for d in fibonacci(n) {
            sh.add_sample(d, l, 4.0 * PI / n as f32);
        }
        for nrm in fibonacci(64) {
            for e in [sh.irradiance(nrm), sh.irradiance_deringed(nrm)] {
                assert!((e - l * PI).abs().max_element() < 2e-3, "E({nrm}) = {e}, want {}", l * PI);
            }
        }
    }

    #[test]
    fn one_directional_light_gives_the_known_l1_lobe() {
        // Irradiance E0 arriving from `d`: the raw L1 reconstruction is E0 (1/4 + 1/2 cos).
        let d = Vec3::new(0.3, 0.8, -0.52).normalize();
        let mut sh = ShL1::default();
        sh.add_sample(d, Vec3::ONE, 1.0);
        for nrm in fibonacci(32) {
            let want = 0.25 + 0.5 * nrm.dot(d);
            let got = sh.irradiance_raw(nrm).x;
            assert!((got - want).abs() < 1e-4, "raw E = {got}, want {want}");
            // Deringed evaluation never goes negative and peaks towards the light.
            assert!(sh.irradiance_deringed(nrm).x >= 0.0);
        }
        assert!(sh.irradiance_deringed(d).x > sh.irradiance_deringed(-d).x);
        let behind = sh.irradiance_deringed(-d).x;
        assert!(behind.abs() < 1e-6, "dering bound: zero opposite the light, {behind}");
    }

    #[test]
    fn the_nonlinear_reconstruction_keeps_the_mean_and_the_peak_of_one_light() {
        // Irradiance 1 from direction d: true E(n) = max(0, n . d), mean over normals 1/4.
        let d = Vec3::new(-0.2, 0.9, 0.4).normalize();
        let mut sh = ShL1::default();
        sh.add_sample(d, Vec3::ONE, 1.0);
        let peak = sh.irradiance(d).x;
        assert!((peak - 1.0).abs() < 1e-3, "peak {peak}, want 1 (the linear form gives 0.75, deringed 0.5)");
        assert!(sh.irradiance(-d).x >= 0.0 && sh.irradiance(-d).x < 1e-6);
        let normals: Vec<Vec3> = fibonacci(20_000).collect();
        let mean = normals.iter().map(|n| sh.irradiance(*n).x).sum::<f32>() / normals.len() as f32;
        assert!((mean - 0.25).abs() < 1e-3, "mean {mean}, want 1/4");
        for n in normals.iter().step_by(97) {
            let e = sh.irradiance(*n);
            assert!(e.min_element() >= 0.0, "negative at {n}");
        }
    }

    #[test]
    fn the_nonlinear_reconstruction_is_close_to_the_linear_one_for_soft_light() {
        // Uniform light plus a weak gradient: both forms agree closely; no gradient: exactly the mean.
        let mut sh = ShL1::default();
        sh.c[0] = Vec3::new(1.0, 0.5, 0.25);
        for n in fibonacci(64) {
            assert_eq!(sh.irradiance(n), sh.c[0] * SH_E0);
        }
        sh.c[1] = sh.c[0] * 0.02;
        for n in fibonacci(64) {
            let (a, b) = (sh.irradiance(n), sh.irradiance_raw(n));
            assert!(((a - b) / b).abs().max_element() < 2e-3, "{a} vs {b} at {n}");
        }
    }

    #[test]
    fn deringing_leaves_soft_lighting_alone() {
        let mut sh = ShL1::default();
        sh.c[0] = Vec3::splat(1.0);
        sh.c[1] = Vec3::splat(0.3);
        assert_eq!(sh.deringed(), sh);
    }
}
