//! The WGSL sources of every pass, composed from `shaders/`: the generated prelude ([`super::gpu_data::prelude`]),
//! the shared libraries a pass needs (`camera.wgsl`, `voxel_march.wgsl`, `probe_sample.wgsl`,
//! `emitter_light.wgsl`) and the pass's own file.

use super::gpu_data::prelude;

const CAMERA: &str = include_str!("../../shaders/camera.wgsl");
const VOXEL_MARCH: &str = include_str!("../../shaders/voxel_march.wgsl");
const PROBE_SAMPLE: &str = include_str!("../../shaders/probe_sample.wgsl");
const EMITTER_LIGHT: &str = include_str!("../../shaders/emitter_light.wgsl");

/// A compute pass with its own WGSL file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Primary rays into the gbuffer.
    Gbuffer,
    /// Shading into HDR.
    Lighting,
    /// HDR to sRGB bytes.
    Tonemap,
    /// Brick array writes.
    Scatter,
    /// Probe record uploads.
    ProbeScatter,
    /// The image onto a window (a render pass: `vs` and `fs`).
    Blit,
}

impl Pass {
    /// Every pass.
    pub const ALL: [Pass; 6] =
        [Pass::Gbuffer, Pass::Lighting, Pass::Tonemap, Pass::Scatter, Pass::ProbeScatter, Pass::Blit];

    /// The pass's name (its WGSL file's stem).
    pub fn name(self) -> &'static str {
        match self {
            Pass::Gbuffer => "gbuffer",
            Pass::Lighting => "lighting",
            Pass::Tonemap => "tonemap",
            Pass::Scatter => "scatter",
            Pass::ProbeScatter => "probe_scatter",
            Pass::Blit => "blit",
        }
    }

    fn own(self) -> &'static str {
        match self {
            Pass::Gbuffer => include_str!("../../shaders/gbuffer.wgsl"),
            Pass::Lighting => include_str!("../../shaders/lighting.wgsl"),
            Pass::Tonemap => include_str!("../../shaders/tonemap.wgsl"),
            Pass::Scatter => include_str!("../../shaders/scatter.wgsl"),
            Pass::ProbeScatter => include_str!("../../shaders/probe_scatter.wgsl"),
            Pass::Blit => include_str!("../../shaders/blit.wgsl"),
        }
    }

    /// The full WGSL source of the pass (the prelude, the libraries it needs, its own file).
    pub fn source(self) -> String {
        let mut s = prelude();
        if matches!(self, Pass::Gbuffer | Pass::Lighting) {
            s.push_str(CAMERA);
            s.push_str(VOXEL_MARCH);
            s.push_str(PROBE_SAMPLE);
            s.push_str(EMITTER_LIGHT);
        }
        s.push_str(self.own());
        s
    }
}

/// The prelude and the voxel and light libraries, without a pass (tests compile their own entry points against
/// it).
pub fn library_source() -> String {
    let mut s = prelude();
    s.push_str(VOXEL_MARCH);
    s.push_str(PROBE_SAMPLE);
    s.push_str(EMITTER_LIGHT);
    s
}
