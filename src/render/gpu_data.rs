//! Every `#[repr(C)]` struct that WGSL reads, with compile-time size checks, and the WGSL prelude generated
//! from the same Rust definitions (constants), so Rust and the shaders cannot drift. The prelude's struct
//! declarations are checked against these layouts by a naga test (`tests/render.rs`).

use bytemuck::{Pod, Zeroable};
use glam::{IVec3, Vec3};

use super::brick_sync::POOL_WORDS;
use crate::probes::payload::flags;
use crate::probes::sh::{SH_E0, SH_E1};

/// Most clipmap levels the shaders handle.
pub const MAX_LEVELS: usize = 8;
/// Words per probe record on the GPU: 6 words of SH (12 halves), AO, misc, tag.
pub const PROBE_WORDS: u32 = 9;
/// Bytes per probe record on the GPU.
pub const PROBE_RECORD_BYTES: usize = PROBE_WORDS as usize * 4;
/// Compute workgroup edge of the screen passes (8 x 8 threads).
pub const SCREEN_GROUP: u32 = 8;
/// Threads per workgroup of the scatter passes.
pub const SCATTER_GROUP: u32 = 64;
/// Longest sun shadow ray, metres.
pub const SHADOW_DISTANCE_M: f32 = crate::voxel::light::SHADOW_DISTANCE_M;
/// Emitter lights per shading point that get a shadow ray.
pub const SHADOWED_LIGHTS: usize = crate::voxel::emitter_light::SHADOWED_LIGHTS;
/// Shadow rays per shading point that estimate the other emitter lights' visibility.
pub const REMAINDER_RAYS: usize = crate::voxel::emitter_light::REMAINDER_RAYS;

/// GI modes (the `gi_mode` field of [`FrameUniform`]).
pub mod gi_mode {
    /// A flat ambient term instead of probes.
    pub const OFF: u32 = 0;
    /// Probe irradiance.
    pub const PROBES: u32 = 1;
    /// Indirect light alone.
    pub const INDIRECT: u32 = 2;
    /// Off on the left, probes on the right.
    pub const SPLIT: u32 = 3;
}

/// Debug views (the `view` field of [`FrameUniform`]).
pub mod view {
    /// The lit image.
    pub const LIT: u32 = 0;
    /// Level-0 probes as spheres shaded by their own SH, over the lit image.
    pub const PROBES: u32 = 1;
    /// The lit image tinted by the finest level that lights each pixel.
    pub const LEVELS: u32 = 2;
    /// The summed confidence of the probes that light each pixel.
    pub const CONFIDENCE: u32 = 3;
    /// The interpolated ShortRangeAO direction as a colour.
    pub const AO: u32 = 4;
    /// The state of the nearest probe of the finest level.
    pub const STATE: u32 = 5;
    /// Irradiance besides the sun (the probes and the emitters' direct light) / pi: the radiance of a white
    /// surface lit by it alone (HDR, no exposure).
    pub const IRRADIANCE: u32 = 6;
}

/// One clipmap level as WGSL sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuLevel {
    /// Minimum probe coordinate held (`anchor - N/2`), and the level index in `w`.
    pub lo: [i32; 4],
    /// Probes per axis, and the level's first record in the probe buffer in `w`.
    pub dims: [u32; 4],
    /// Spacing (metres), then 1 / spacing, then 1 when the lighting pass reads the level (0: turned off), then
    /// an unused word.
    pub spacing: [f32; 4],
}
const _: () = assert!(std::mem::size_of::<GpuLevel>() == 48);

/// Everything a frame's screen passes read.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FrameUniform {
    /// Eye position (metres), and `tan(fov_y / 2)`.
    pub eye: [f32; 4],
    /// Camera right axis, and the aspect ratio (width / height).
    pub right: [f32; 4],
    /// Camera up axis.
    pub up: [f32; 4],
    /// Camera forward axis.
    pub forward: [f32; 4],
    /// Unit vector towards the sun, and 1 when there is a sun (0 otherwise).
    pub sun_dir: [f32; 4],
    /// Sun irradiance at normal incidence (RGB).
    pub sun_radiance: [f32; 4],
    /// Sky radiance straight up.
    pub sky_zenith: [f32; 4],
    /// Sky radiance at the horizon.
    pub sky_horizon: [f32; 4],
    /// Radiance below the horizon.
    pub sky_ground: [f32; 4],
    /// Grid origin (metres), and the voxel edge (metres).
    pub grid_origin: [f32; 4],
    /// Grid size in voxels, and the number of clipmap levels in `w`.
    pub grid_dims: [i32; 4],
    /// Image width and height (pixels), GI mode, debug view.
    pub size: [u32; 4],
    /// Exposure, flat ambient scale (GI off), split position (0..1 of the width), cross-level blend band.
    pub params: [f32; 4],
    /// Emitter lights in their buffer, then three unused words.
    pub lights: [u32; 4],
    /// The clipmap levels (finest first).
    pub levels: [GpuLevel; MAX_LEVELS],
}
const _: () = assert!(std::mem::size_of::<FrameUniform>() == 14 * 16 + MAX_LEVELS * 48);

/// One emitter light ([`crate::voxel::EmitterLight`]) as WGSL sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuEmitterLight {
    /// Centroid of the faces (metres), and the face direction code in `w` (`2 axis`, `+ 1` when negative).
    pub center: [f32; 4],
    /// Mean emitted radiance (RGB), and the faces' area (square metres) in `w`.
    pub radiance: [f32; 4],
}
const _: () = assert!(std::mem::size_of::<GpuEmitterLight>() == 32);

impl GpuEmitterLight {
    /// Packs a light.
    pub fn pack(l: &crate::voxel::EmitterLight) -> Self {
        GpuEmitterLight {
            center: [l.center.x, l.center.y, l.center.z, f32::from(l.face)],
            radiance: [l.radiance.x, l.radiance.y, l.radiance.z, l.area],
        }
    }
}

/// One probe upload: the slot's record index (level base + slot) and the record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ProbeUploadRecord {
    /// Record index in the probe buffer.
    pub index: u32,
    /// The record's words ([`PROBE_WORDS`]).
    pub words: [u32; PROBE_WORDS as usize],
}
const _: () = assert!(std::mem::size_of::<ProbeUploadRecord>() == 40);

/// The tag that says which probe a record belongs to among those that share its ring slot: the level and the
/// ring's wrap count per axis (`g div N`, 9 bits each), with the top bit set (so a cleared buffer never
/// matches). Probes sharing a slot differ by a multiple of `N` on some axis, so their tags differ (until a
/// wrap count differs by a multiple of 512). The shader computes the tag of the probe it wants and ignores a
/// record whose tag differs: a recycled slot never shows the evicted probe's data, not even for a frame.
pub fn probe_tag(level: u32, g: IVec3, dims: glam::UVec3) -> u32 {
    let w = g.div_euclid(dims.as_ivec3().max(IVec3::ONE));
    let b = |v: i32| (v as u32) & 511;
    1 << 31 | (level & 15) << 27 | b(w.x) << 18 | b(w.y) << 9 | b(w.z)
}

/// The record of a packed probe with its tag.
pub fn probe_record(p: &crate::probes::gpu::GpuProbe, tag: u32) -> [u32; PROBE_WORDS as usize] {
    let sh = |i: usize| u32::from(p.sh[2 * i]) | u32::from(p.sh[2 * i + 1]) << 16;
    [sh(0), sh(1), sh(2), sh(3), sh(4), sh(5), p.ao, p.misc, tag]
}

/// Sky radiance along a unit direction, as the shaders compute it (the world's [`crate::world::Sky`]).
pub fn sky_uniform(sky: &crate::world::Sky) -> [[f32; 4]; 3] {
    let v = |c: Vec3| [c.x, c.y, c.z, 0.0];
    [v(sky.zenith), v(sky.horizon), v(sky.ground)]
}

/// The WGSL prelude: constants shared with Rust, and the structs above. Prepended to every pass.
pub fn prelude() -> String {
    format!(
        "// Generated by src/render/gpu_data.rs: do not edit.\n\
const MAX_LEVELS: u32 = {MAX_LEVELS}u;\n\
const PROBE_WORDS: u32 = {PROBE_WORDS}u;\n\
const POOL_WORDS: u32 = {POOL_WORDS}u;\n\
const SCREEN_GROUP: u32 = {SCREEN_GROUP}u;\n\
const SCATTER_GROUP: u32 = {SCATTER_GROUP}u;\n\
const SHADOW_DISTANCE_M: f32 = {SHADOW_DISTANCE_M:?};\n\
const SHADOWED_LIGHTS: u32 = {SHADOWED_LIGHTS}u;\n\
const REMAINDER_RAYS: u32 = {REMAINDER_RAYS}u;\n\
const SH_E0: f32 = {SH_E0:?};\n\
const SH_E1: f32 = {SH_E1:?};\n\
const FLAG_VALID: u32 = {valid}u;\n\
const FLAG_SKY_ONLY: u32 = {sky_only}u;\n\
const FLAG_STALE: u32 = {stale}u;\n\
const FLAG_IN_FLIGHT: u32 = {in_flight}u;\n\
const FLAG_DISABLED: u32 = {disabled}u;\n\
const GI_OFF: u32 = {gi_off}u;\n\
const GI_PROBES: u32 = {gi_probes}u;\n\
const GI_INDIRECT: u32 = {gi_indirect}u;\n\
const GI_SPLIT: u32 = {gi_split}u;\n\
const VIEW_LIT: u32 = {v_lit}u;\n\
const VIEW_PROBES: u32 = {v_probes}u;\n\
const VIEW_LEVELS: u32 = {v_levels}u;\n\
const VIEW_CONFIDENCE: u32 = {v_conf}u;\n\
const VIEW_AO: u32 = {v_ao}u;\n\
const VIEW_STATE: u32 = {v_state}u;\n\
const VIEW_IRRADIANCE: u32 = {v_irradiance}u;\n\
\n\
struct GpuLevel {{\n    lo: vec4<i32>,\n    dims: vec4<u32>,\n    spacing: vec4<f32>,\n}}\n\
\n\
struct FrameUniform {{\n    eye: vec4<f32>,\n    right: vec4<f32>,\n    up: vec4<f32>,\n    forward: vec4<f32>,\n    \
sun_dir: vec4<f32>,\n    sun_radiance: vec4<f32>,\n    sky_zenith: vec4<f32>,\n    sky_horizon: vec4<f32>,\n    \
sky_ground: vec4<f32>,\n    grid_origin: vec4<f32>,\n    grid_dims: vec4<i32>,\n    size: vec4<u32>,\n    \
params: vec4<f32>,\n    lights: vec4<u32>,\n    levels: array<GpuLevel, {MAX_LEVELS}>,\n}}\n\
\n\
struct GpuEmitterLight {{\n    center: vec4<f32>,\n    radiance: vec4<f32>,\n}}\n\
\n\
struct ProbeUploadRecord {{\n    index: u32,\n    words: array<u32, {PROBE_WORDS}>,\n}}\n\n",
        valid = flags::VALID,
        sky_only = flags::SKY_ONLY,
        stale = flags::STALE,
        in_flight = flags::IN_FLIGHT,
        disabled = flags::DISABLED,
        gi_off = gi_mode::OFF,
        gi_probes = gi_mode::PROBES,
        gi_indirect = gi_mode::INDIRECT,
        gi_split = gi_mode::SPLIT,
        v_lit = view::LIT,
        v_probes = view::PROBES,
        v_levels = view::LEVELS,
        v_conf = view::CONFIDENCE,
        v_ao = view::AO,
        v_state = view::STATE,
        v_irradiance = view::IRRADIANCE,
    )
}

/// Sizes and alignments WGSL must give the prelude's structs (checked with naga's layouter in a test).
pub fn struct_sizes() -> [(&'static str, usize); 4] {
    [
        ("GpuLevel", std::mem::size_of::<GpuLevel>()),
        ("FrameUniform", std::mem::size_of::<FrameUniform>()),
        ("GpuEmitterLight", std::mem::size_of::<GpuEmitterLight>()),
        ("ProbeUploadRecord", std::mem::size_of::<ProbeUploadRecord>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_sharing_a_slot_have_different_tags() {
        let n = glam::UVec3::splat(32);
        for l in 0..4 {
            for g in [IVec3::ZERO, IVec3::new(-1, 5, 40), IVec3::new(-33, -64, 7)] {
                let t = probe_tag(l, g, n);
                assert_ne!(t, 0);
                for d in [IVec3::X, IVec3::Y, IVec3::Z, IVec3::NEG_ONE, IVec3::new(7, 0, -3)] {
                    assert_ne!(t, probe_tag(l, g + d * 32, n), "{g} + {d} * N");
                }
                assert_eq!(t, probe_tag(l, g.div_euclid(IVec3::splat(32)) * 32, n), "same wrap, same tag");
                assert_ne!(t, probe_tag(l + 1, g, n));
            }
        }
    }

    #[test]
    fn default_clipmap_fits_the_memory_goal() {
        let bytes = 4 * 32 * 32 * 32 * PROBE_RECORD_BYTES;
        assert!(bytes <= 8 << 20, "{bytes} bytes");
    }
}
