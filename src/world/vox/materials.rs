//! MagicaVoxel materials (`MATL`) as lumon draws them.
//!
//! lumon draws opaque diffuse voxels that may emit. Per colour index:
//! - `_diffuse` (and an index without `MATL`): albedo = the palette colour, sRGB to linear.
//! - `_emit`: the same albedo, plus emitted radiance `L = colour * _emit * 4 * 2^_flux` (linear RGB, W/(m^2 sr)
//!   in lumon's units). `_emit` is MagicaVoxel's emission slider (0..1) and `_flux` its power slider (0..4):
//!   each power step doubles the light, as one photographic stop; the factor 4 makes `_emit 1, _flux 0` as
//!   bright as lumon's sample lamps (radiance 4 on a white lamp), so a lamp from MagicaVoxel lights a room as
//!   a lumon lamp does.
//! - `_metal`, `_glass`, `_blend`, `_media`, `_cloud` and unknown types: drawn as opaque diffuse at their
//!   colour, the nearest thing lumon draws (it has no specular reflection, transparency or participating
//!   media); each type used is named in a warning with its colour indices and voxel count.

use glam::Vec3;

use super::parse::VoxFile;
use crate::world::assets::srgb;

/// A material type of MagicaVoxel's render panel.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MaterialKind {
    /// `_diffuse` (or no `MATL`).
    Diffuse,
    /// `_emit`.
    Emit,
    /// Another type, drawn as diffuse: `_metal`, `_glass`, `_blend`, `_media`, `_cloud` or an unknown one.
    DrawnAsDiffuse(String),
}

impl MaterialKind {
    /// MagicaVoxel's name of the type.
    pub fn name(&self) -> &str {
        match self {
            MaterialKind::Diffuse => "_diffuse",
            MaterialKind::Emit => "_emit",
            MaterialKind::DrawnAsDiffuse(t) => t,
        }
    }

    /// Why lumon draws this type as diffuse.
    pub fn approximation(&self) -> Option<&'static str> {
        match self {
            MaterialKind::Diffuse | MaterialKind::Emit => None,
            MaterialKind::DrawnAsDiffuse(t) => Some(match t.as_str() {
                "_metal" => "drawn as diffuse at its colour: lumon has no specular reflection",
                "_glass" => "drawn as opaque diffuse at its colour: lumon has no transparency or refraction",
                "_blend" => "drawn as opaque diffuse at its colour: lumon has no blended or transparent surfaces",
                "_media" | "_cloud" => {
                    "drawn as opaque diffuse voxels: lumon has no participating media (fog, smoke, clouds)"
                }
                _ => "an unknown material type, drawn as diffuse at its colour",
            }),
        }
    }
}

/// What one colour index becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct PaletteMaterial {
    /// The type in the file.
    pub kind: MaterialKind,
    /// Linear albedo.
    pub albedo: Vec3,
    /// Emitted radiance, linear RGB.
    pub emissive: Vec3,
}

/// The material of colour index `index` (1..=255).
pub fn palette_material(file: &VoxFile, index: u8) -> PaletteMaterial {
    let c = file.palette.get(usize::from(index)).copied().unwrap_or([255, 255, 255, 255]);
    let albedo = srgb(c[0], c[1], c[2]);
    let m = file.materials.get(&i32::from(index));
    let num = |key: &str, default: f32| -> f32 {
        m.and_then(|d| d.get(key))
            .and_then(|v| v.trim().parse::<f32>().ok())
            .filter(|v| v.is_finite())
            .unwrap_or(default)
    };
    let kind = match m.and_then(|d| d.get("_type")) {
        None | Some("_diffuse") => MaterialKind::Diffuse,
        Some("_emit") => MaterialKind::Emit,
        Some(other) => MaterialKind::DrawnAsDiffuse(other.to_string()),
    };
    let emissive = if kind == MaterialKind::Emit {
        let emit = num("_emit", 1.0).clamp(0.0, 1.0);
        let flux = num("_flux", 0.0).clamp(0.0, 8.0);
        albedo * emit * 4.0 * flux.exp2()
    } else {
        Vec3::ZERO
    };
    PaletteMaterial { kind, albedo, emissive }
}
