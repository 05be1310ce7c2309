//! What a frame shows: the camera, the GI mode, the debug view and the display settings. Pure data; names
//! parse from the command line.

use std::fmt;
use std::str::FromStr;

use glam::Vec3;
use serde::Serialize;

use super::gpu_data::{gi_mode, view};

/// How indirect light is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GiMode {
    /// A flat ambient term (the sky's irradiance, unoccluded).
    Off,
    /// Probe irradiance.
    #[default]
    Probes,
    /// Indirect light alone (albedo times probe irradiance).
    Indirect,
    /// Off on the left, probes on the right, with a divider.
    Split,
}

/// Debug views.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DebugView {
    /// The lit image.
    #[default]
    Lit,
    /// Level-0 probes as spheres shaded by their own SH.
    Probes,
    /// Tint by the finest level lighting each pixel.
    Levels,
    /// Summed probe confidence.
    Confidence,
    /// ShortRangeAO direction as a colour.
    Ao,
    /// Nearest probe's state: valid green, stale yellow, in flight blue, disabled red, no data dark.
    State,
    /// Irradiance besides the sun (probes and emitters) as it lights a white surface (what `lumon compare`
    /// measures).
    Irradiance,
}

/// An unknown GI mode or view name.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} '{name}' (expected one of: {expected})")]
pub struct UnknownName {
    kind: &'static str,
    name: String,
    expected: &'static str,
}

impl GiMode {
    /// Every mode.
    pub const ALL: [GiMode; 4] = [GiMode::Off, GiMode::Probes, GiMode::Indirect, GiMode::Split];

    /// The mode's name.
    pub fn name(self) -> &'static str {
        match self {
            GiMode::Off => "off",
            GiMode::Probes => "probes",
            GiMode::Indirect => "indirect",
            GiMode::Split => "split",
        }
    }

    /// The shader's code.
    pub fn code(self) -> u32 {
        match self {
            GiMode::Off => gi_mode::OFF,
            GiMode::Probes => gi_mode::PROBES,
            GiMode::Indirect => gi_mode::INDIRECT,
            GiMode::Split => gi_mode::SPLIT,
        }
    }
}

impl DebugView {
    /// Every view.
    pub const ALL: [DebugView; 7] = [
        DebugView::Lit,
        DebugView::Probes,
        DebugView::Levels,
        DebugView::Confidence,
        DebugView::Ao,
        DebugView::State,
        DebugView::Irradiance,
    ];

    /// The view's name.
    pub fn name(self) -> &'static str {
        match self {
            DebugView::Lit => "lit",
            DebugView::Probes => "probes",
            DebugView::Levels => "levels",
            DebugView::Confidence => "confidence",
            DebugView::Ao => "ao",
            DebugView::State => "state",
            DebugView::Irradiance => "irradiance",
        }
    }

    /// The shader's code.
    pub fn code(self) -> u32 {
        match self {
            DebugView::Lit => view::LIT,
            DebugView::Probes => view::PROBES,
            DebugView::Levels => view::LEVELS,
            DebugView::Confidence => view::CONFIDENCE,
            DebugView::Ao => view::AO,
            DebugView::State => view::STATE,
            DebugView::Irradiance => view::IRRADIANCE,
        }
    }
}

impl FromStr for GiMode {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GiMode::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| UnknownName {
            kind: "GI mode",
            name: s.into(),
            expected: "off, probes, indirect, split",
        })
    }
}

impl FromStr for DebugView {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DebugView::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| UnknownName {
            kind: "view",
            name: s.into(),
            expected: "lit, probes, levels, confidence, ao, state, irradiance",
        })
    }
}

impl fmt::Display for GiMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for DebugView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A camera: eye position, heading and elevation in degrees (yaw 0 looks along -Z, positive yaw turns
/// towards -X, as the world files' bookmarks), vertical field of view in degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Camera {
    /// Eye position, metres.
    pub position: Vec3,
    /// Heading, degrees.
    pub yaw: f32,
    /// Elevation, degrees.
    pub pitch: f32,
    /// Vertical field of view, degrees.
    pub fov_y: f32,
}

impl Camera {
    /// A camera with the default 60-degree field of view.
    pub fn new(position: Vec3, yaw: f32, pitch: f32) -> Self {
        Camera { position, yaw, pitch, fov_y: 60.0 }
    }

    /// Unit forward, right and up axes.
    pub fn basis(&self) -> (Vec3, Vec3, Vec3) {
        let (y, p) = (self.yaw.to_radians(), self.pitch.clamp(-89.9, 89.9).to_radians());
        let forward = Vec3::new(-y.sin() * p.cos(), p.sin(), -y.cos() * p.cos());
        let right = forward.cross(Vec3::Y).normalize();
        let up = right.cross(forward);
        (forward, right, up)
    }
}

/// Display settings of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FrameSettings {
    /// GI mode.
    pub gi: GiMode,
    /// Debug view.
    pub view: DebugView,
    /// Exposure multiplier before the tonemapper, on top of the world's own ([`super::renderer::world_exposure`]).
    pub exposure: f32,
    /// Scale of the flat ambient term (GI off), times the sky's unoccluded irradiance (never below a dim grey).
    pub ambient: f32,
    /// Divider position of the split mode, 0..1 of the width.
    pub split: f32,
    /// Clipmap levels the lighting pass reads, one bit per level (bit 0: the finest). A level turned off is
    /// skipped and the next coarser one that is on takes its place; the probe manager still updates it.
    pub levels_on: u32,
}

impl Default for FrameSettings {
    fn default() -> Self {
        FrameSettings {
            gi: GiMode::Probes,
            view: DebugView::Lit,
            exposure: 1.0,
            ambient: 0.5,
            split: 0.5,
            levels_on: u32::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_say_what_is_expected() {
        for m in GiMode::ALL {
            assert_eq!(m.name().parse::<GiMode>().ok(), Some(m));
        }
        for v in DebugView::ALL {
            assert_eq!(v.name().parse::<DebugView>().ok(), Some(v));
        }
        let e = "bright".parse::<GiMode>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("bright") && e.contains("probes"), "{e}");
    }

    #[test]
    fn camera_basis_follows_the_bookmark_convention() {
        let (f, r, u) = Camera::new(Vec3::ZERO, 0.0, 0.0).basis();
        assert!((f - Vec3::NEG_Z).length() < 1e-6 && (r - Vec3::X).length() < 1e-6 && (u - Vec3::Y).length() < 1e-6);
        let (f, ..) = Camera::new(Vec3::ZERO, 90.0, 0.0).basis();
        assert!((f - Vec3::NEG_X).length() < 1e-6, "{f}");
    }
}
