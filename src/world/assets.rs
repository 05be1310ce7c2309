//! Assets (voxel models) and materials, resolved from the world file.
//!
//! Every asset lives in its own local frame: metres, Y up, pivot at the origin (bottom centre for `.vox`
//! models). A MagicaVoxel model is Z-up; it is turned into Y-up by `local = (x, z, -y)`, so a model looks in
//! lumon as it does in MagicaVoxel. Palette colours are sRGB and become linear albedo; palette entries listed
//! under `emissive` in the world file (or with a MagicaVoxel `_emit` material) also emit light.

use std::path::Path;

use glam::{UVec3, Vec3};

use crate::geom::Aabb;

/// A material: what a voxel reflects and emits. Ids index [`super::World::materials`].
#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    /// Name (world materials) or `<asset>#<palette index>` (`.vox` palette entries).
    pub name: String,
    /// Linear RGB diffuse reflectance in [0, 1].
    pub albedo: Vec3,
    /// Emitted radiance, linear RGB.
    pub emissive: Vec3,
}

/// A primitive of a described asset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ShapeKind {
    /// Axis-aligned box.
    Box {
        /// Minimum corner.
        min: Vec3,
        /// Maximum corner.
        max: Vec3,
    },
    /// Vertical cylinder standing on `base`.
    Cylinder {
        /// Centre of the bottom disc.
        base: Vec3,
        /// Radius.
        radius: f32,
        /// Height.
        height: f32,
    },
    /// Sphere.
    Sphere {
        /// Centre.
        center: Vec3,
        /// Radius.
        radius: f32,
    },
}

impl ShapeKind {
    /// True when the local point lies inside.
    pub fn contains(&self, p: Vec3) -> bool {
        match *self {
            ShapeKind::Box { min, max } => p.cmpge(min).all() && p.cmplt(max).all(),
            ShapeKind::Cylinder { base, radius, height } => {
                let d = p - base;
                d.y >= 0.0 && d.y < height && d.x * d.x + d.z * d.z <= radius * radius
            }
            ShapeKind::Sphere { center, radius } => (p - center).length_squared() <= radius * radius,
        }
    }

    /// The shape's box.
    pub fn bounds(&self) -> Aabb {
        match *self {
            ShapeKind::Box { min, max } => Aabb { min, max },
            ShapeKind::Cylinder { base, radius, height } => {
                Aabb { min: base - Vec3::new(radius, 0.0, radius), max: base + Vec3::new(radius, height, radius) }
            }
            ShapeKind::Sphere { center, radius } => {
                Aabb { min: center - Vec3::splat(radius), max: center + Vec3::splat(radius) }
            }
        }
    }
}

/// A shape with its material; `None` carves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Geometry.
    pub kind: ShapeKind,
    /// Material id, or `None` to carve empty space.
    pub material: Option<u16>,
}

/// A dense voxel model in local Y-up order.
#[derive(Clone, Debug, PartialEq)]
pub struct VoxModel {
    /// Cells along local X, Y (up), Z.
    pub size: UVec3,
    /// Metres per cell.
    pub voxel_size: f32,
    /// Material id + 1 per cell, 0 = empty; index `x + size.x * (y + size.y * z)`.
    pub cells: Vec<u16>,
}

impl VoxModel {
    /// The material at a local point (metres), if the cell there is solid.
    pub fn sample(&self, p: Vec3) -> Option<u16> {
        let half = Vec3::new(self.size.x as f32, 0.0, self.size.z as f32) * 0.5;
        let c = (p / self.voxel_size + half).floor();
        if c.min_element() < 0.0 {
            return None;
        }
        let (x, y, z) = (c.x as u32, c.y as u32, c.z as u32);
        if x >= self.size.x || y >= self.size.y || z >= self.size.z {
            return None;
        }
        let v = self.cells[(x + self.size.x * (y + self.size.y * z)) as usize];
        (v != 0).then(|| v - 1)
    }

    /// Local box of the model.
    pub fn bounds(&self) -> Aabb {
        let e = self.size.as_vec3() * self.voxel_size;
        Aabb { min: Vec3::new(-e.x * 0.5, 0.0, -e.z * 0.5), max: Vec3::new(e.x * 0.5, e.y, e.z * 0.5) }
    }
}

/// How an asset's voxels are defined.
#[derive(Clone, Debug, PartialEq)]
pub enum AssetModel {
    /// Shapes applied in order.
    Shapes(Vec<Shape>),
    /// A `.vox` model.
    Vox(VoxModel),
}

/// One catalog entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Asset {
    /// Asset id.
    pub id: String,
    /// Geometry and materials.
    pub model: AssetModel,
    /// Local box of every solid voxel, metres.
    pub bounds: Aabb,
}

impl Asset {
    /// The material at a local point, if solid.
    pub fn sample(&self, p: Vec3) -> Option<u16> {
        match &self.model {
            AssetModel::Shapes(shapes) => shapes.iter().rev().find(|s| s.kind.contains(p)).and_then(|s| s.material),
            AssetModel::Vox(m) => m.sample(p),
        }
    }
}

/// Largest accepted `.vox` model edge, cells (MagicaVoxel's own limit).
pub const MAX_VOX_EDGE: u32 = 256;

/// Reads a `.vox` file into a model, appending its palette entries to `materials`. Errors are plain reasons;
/// the caller adds the file and asset.
pub fn load_vox(
    path: &Path,
    voxel_size: f32,
    emissive: &[(u8, Vec3)],
    asset_id: &str,
    materials: &mut Vec<Material>,
) -> Result<VoxModel, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let data = dot_vox::load_bytes(&bytes).map_err(|e| format!("not a valid MagicaVoxel file: {e}"))?;
    let model = match data.models.as_slice() {
        [] => return Err("the file holds no model".into()),
        [m] => m,
        many => return Err(format!("the file holds {} models; lumon reads files with exactly one", many.len())),
    };
    let s = model.size;
    if s.x == 0 || s.y == 0 || s.z == 0 {
        return Err(format!("model size {}x{}x{} is empty", s.x, s.y, s.z));
    }
    if s.x > MAX_VOX_EDGE || s.y > MAX_VOX_EDGE || s.z > MAX_VOX_EDGE {
        return Err(format!("model size {}x{}x{} exceeds {MAX_VOX_EDGE} on an axis", s.x, s.y, s.z));
    }
    let emit_of = |index: usize| -> Vec3 {
        let listed = emissive.iter().find(|(i, _)| usize::from(*i) == index + 1).map(|(_, e)| *e);
        let from_file = data.materials.iter().find(|m| m.id as usize == index + 1).and_then(|m| {
            (m.properties.get("_type").map(String::as_str) == Some("_emit")).then(|| {
                let w: f32 = m.properties.get("_emit").and_then(|v| v.parse().ok()).unwrap_or(1.0);
                let p = data.palette.get(index).copied().unwrap_or(dot_vox::Color { r: 255, g: 255, b: 255, a: 255 });
                srgb(p.r, p.g, p.b) * w * 4.0
            })
        });
        listed.or(from_file).unwrap_or(Vec3::ZERO)
    };
    // Local grid is (x, z, y) of the file with y flipped.
    let size = UVec3::new(s.x, s.z, s.y);
    let mut cells = vec![0u16; (size.x * size.y * size.z) as usize];
    let mut palette_material: Vec<Option<u16>> = vec![None; 256];
    for v in &model.voxels {
        let (x, y, z) = (u32::from(v.x), u32::from(v.y), u32::from(v.z));
        if x >= s.x || y >= s.y || z >= s.z {
            return Err(format!("voxel ({x}, {y}, {z}) lies outside the model size {}x{}x{}", s.x, s.y, s.z));
        }
        let index = usize::from(v.i);
        let Some(colour) = data.palette.get(index) else {
            return Err(format!(
                "voxel ({x}, {y}, {z}) uses palette index {} but the palette has {} entries",
                index + 1,
                data.palette.len()
            ));
        };
        let material = match palette_material[index] {
            Some(m) => m,
            None => {
                let id =
                    u16::try_from(materials.len()).map_err(|_| "more than 65535 materials in the world".to_string())?;
                materials.push(Material {
                    name: format!("{asset_id}#{}", index + 1),
                    albedo: srgb(colour.r, colour.g, colour.b),
                    emissive: emit_of(index),
                });
                palette_material[index] = Some(id);
                id
            }
        };
        let (lx, ly, lz) = (x, z, s.y - 1 - y);
        cells[(lx + size.x * (ly + size.y * lz)) as usize] = material + 1;
    }
    Ok(VoxModel { size, voxel_size, cells })
}

/// sRGB 8-bit to linear.
pub fn srgb(r: u8, g: u8, b: u8) -> Vec3 {
    let f = |c: u8| {
        let c = f32::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    Vec3::new(f(r), f(g), f(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_later_override_and_carve() {
        let wall = Shape { kind: ShapeKind::Box { min: Vec3::ZERO, max: Vec3::new(4.0, 3.0, 0.5) }, material: Some(2) };
        let door = Shape {
            kind: ShapeKind::Box { min: Vec3::new(1.0, 0.0, -1.0), max: Vec3::new(2.0, 2.0, 1.0) },
            material: None,
        };
        let asset = Asset { id: "w".into(), model: AssetModel::Shapes(vec![wall, door]), bounds: wall.kind.bounds() };
        assert_eq!(asset.sample(Vec3::new(0.5, 1.0, 0.25)), Some(2));
        assert_eq!(asset.sample(Vec3::new(1.5, 1.0, 0.25)), None);
        assert_eq!(asset.sample(Vec3::new(1.5, 2.5, 0.25)), Some(2));
    }

    #[test]
    fn srgb_end_points() {
        assert_eq!(srgb(0, 0, 0), Vec3::ZERO);
        assert!((srgb(255, 255, 255) - Vec3::ONE).abs().max_element() < 1e-6);
    }
}
