//! The probe record as uploaded to the GPU: 32 bytes, so the default clipmap (4 levels of 32^3 probes) takes
//! 4 MiB. The renderer's WGSL reads the same layout.
//!
//! - `sh`: 12 half floats, coefficient-major (`L00.rgb, L1y.rgb, L1z.rgb, L1x.rgb`): what shading reads
//!   ([`ProbePayload::shading_sh`], without the emitters' direct light), reconstructed with
//!   [`super::sh::ShL1::irradiance`] (never negative).
//! - `ao`: octahedral AO direction as 2 x 12 bits, then `ln(1 + mean hit distance)` in 8 bits (1/32 steps).
//! - `misc`: confidence, AO confidence, sky visibility (8 bits each, [0, 1]) and the flags byte.

use bytemuck::{Pod, Zeroable};
use glam::{Vec2, Vec3};
use half::f16;

use super::octa;
use super::payload::ProbePayload;

/// One probe on the GPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuProbe {
    /// SH coefficients as `f16` bits.
    pub sh: [u16; 12],
    /// AO direction (2 x 12 bits) and log distance (8 bits).
    pub ao: u32,
    /// confidence | ao confidence << 8 | sky visibility << 16 | flags << 24.
    pub misc: u32,
}

/// Bytes of one probe on the GPU.
pub const GPU_PROBE_BYTES: usize = 32;
const _: () = assert!(std::mem::size_of::<GpuProbe>() == GPU_PROBE_BYTES);

fn unorm8(v: f32) -> u32 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u32
}

impl GpuProbe {
    /// Packs a payload.
    pub fn pack(p: &ProbePayload) -> Self {
        let sh = p.shading_sh();
        let mut out = [0u16; 12];
        for (i, c) in sh.c.iter().enumerate() {
            for (j, v) in c.to_array().into_iter().enumerate() {
                out[i * 3 + j] = f16::from_f32(v).to_bits();
            }
        }
        let e = octa::encode(p.ao_direction());
        let q = |c: f32| ((c.clamp(-1.0, 1.0) * 0.5 + 0.5) * 4095.0 + 0.5) as u32;
        let dist = (p.mean_log_distance.max(0.0) * 32.0 + 0.5).min(255.0) as u32;
        GpuProbe {
            sh: out,
            ao: q(e.x) | q(e.y) << 12 | dist << 24,
            misc: unorm8(p.confidence)
                | unorm8(p.ao_confidence) << 8
                | unorm8(p.sky_visibility) << 16
                | (p.flags & 0xFF) << 24,
        }
    }

    /// The SH coefficients as floats.
    pub fn sh(&self) -> [Vec3; 4] {
        std::array::from_fn(|i| {
            Vec3::new(
                f16::from_bits(self.sh[i * 3]).to_f32(),
                f16::from_bits(self.sh[i * 3 + 1]).to_f32(),
                f16::from_bits(self.sh[i * 3 + 2]).to_f32(),
            )
        })
    }

    /// The AO direction.
    pub fn ao_direction(&self) -> Vec3 {
        let d = |q: u32| (q & 0xFFF) as f32 / 4095.0 * 2.0 - 1.0;
        octa::decode(Vec2::new(d(self.ao), d(self.ao >> 12)))
    }

    /// Confidence in [0, 1].
    pub fn confidence(&self) -> f32 {
        (self.misc & 0xFF) as f32 / 255.0
    }

    /// Flags byte.
    pub fn flags(&self) -> u32 {
        self.misc >> 24
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::payload::flags;
    use crate::probes::sh::ShL1;

    #[test]
    fn packing_keeps_what_shading_needs() {
        let mut sh = ShL1::default();
        sh.c[0] = Vec3::new(1.5, 0.75, 0.25);
        sh.c[1] = Vec3::new(0.2, 0.1, 0.05);
        let p = ProbePayload {
            sh,
            ao_dir: octa::pack(Vec3::new(0.3, 0.9, -0.3).normalize()),
            ao_confidence: 0.4,
            mean_log_distance: 2.0,
            sky_visibility: 0.5,
            confidence: 1.0,
            flags: flags::VALID | flags::STALE,
            rays: 64.0,
            noise: 0.5,
            ..Default::default()
        };
        let g = GpuProbe::pack(&p);
        for (a, b) in g.sh().iter().zip(sh.c) {
            assert!((*a - b).abs().max_element() < 2e-3, "{a} vs {b}");
        }
        assert!((g.ao_direction() - p.ao_direction()).length() < 2e-3);
        assert_eq!(g.confidence(), 1.0);
        assert_eq!(g.flags(), flags::VALID | flags::STALE);
        assert_eq!(4 * 32 * 32 * 32 * GPU_PROBE_BYTES, 4 << 20, "default clipmap is 4 MiB");
    }
}
