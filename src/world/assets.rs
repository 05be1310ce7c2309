//! Assets (voxel models) and materials, resolved from the world file.
//!
//! Every asset lives in its own local frame: metres, Y up, pivot at the origin (bottom centre for `.vox`
//! models). A MagicaVoxel model is Z-up; it is turned into Y-up by `local = (x, z, -y)`, so a model looks in
//! lumon as it does in MagicaVoxel. Palette colours are sRGB and become linear albedo; palette entries listed
//! under `emissive` in the world file (or with a MagicaVoxel `_emit` material) also emit light.

use std::path::Path;
use std::sync::Arc;

use glam::{Mat4, UVec3, Vec3};

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
    /// The cell coordinates (corners, may be half-way) that sit at the local origin.
    pub pivot: Vec3,
    /// One flag per [`OCCUPANCY_BLOCK`]^3 block of cells: set when the block holds a solid cell.
    occupied: Vec<bool>,
}

/// Edge of an occupancy block of a [`VoxModel`], cells.
pub const OCCUPANCY_BLOCK: u32 = 8;

impl VoxModel {
    /// A model from its cells (`x + size.x * (y + size.y * z)`, material id + 1, 0 empty).
    pub fn new(size: UVec3, voxel_size: f32, cells: Vec<u16>, pivot: Vec3) -> Self {
        let blocks = (size + OCCUPANCY_BLOCK - 1) / OCCUPANCY_BLOCK;
        let mut occupied = vec![false; (blocks.x * blocks.y * blocks.z) as usize];
        for z in 0..size.z {
            for y in 0..size.y {
                for x in 0..size.x {
                    if cells[(x + size.x * (y + size.y * z)) as usize] != 0 {
                        let b = UVec3::new(x, y, z) / OCCUPANCY_BLOCK;
                        occupied[(b.x + blocks.x * (b.y + blocks.y * b.z)) as usize] = true;
                    }
                }
            }
        }
        VoxModel { size, voxel_size, cells, pivot, occupied }
    }

    /// False only when no solid cell lies in the cell range `lo..=hi` (clamped to the model): lets the
    /// voxeliser skip a brick that maps onto empty space without sampling its cells.
    pub fn may_be_solid(&self, lo: glam::IVec3, hi: glam::IVec3) -> bool {
        let max = self.size.as_ivec3() - 1;
        let (lo, hi) = (lo.max(glam::IVec3::ZERO), hi.min(max));
        if lo.cmpgt(hi).any() {
            return false;
        }
        let blocks = (self.size + OCCUPANCY_BLOCK - 1) / OCCUPANCY_BLOCK;
        let (bl, bh) = (lo.as_uvec3() / OCCUPANCY_BLOCK, hi.as_uvec3() / OCCUPANCY_BLOCK);
        for z in bl.z..=bh.z {
            for y in bl.y..=bh.y {
                for x in bl.x..=bh.x {
                    if self.occupied[(x + blocks.x * (y + blocks.y * z)) as usize] {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The material at a local point (metres), if the cell there is solid.
    pub fn sample(&self, p: Vec3) -> Option<u16> {
        self.cell((p / self.voxel_size + self.pivot).floor().as_ivec3())
    }

    /// The material of cell `c`, if it lies in the model and is solid.
    pub fn cell(&self, c: glam::IVec3) -> Option<u16> {
        if c.min_element() < 0 {
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
        Aabb { min: -self.pivot * self.voxel_size, max: (self.size.as_vec3() - self.pivot) * self.voxel_size }
    }

    /// Solid cells.
    pub fn solid(&self) -> usize {
        self.cells.iter().filter(|c| **c != 0).count()
    }
}

/// One instance of a scene asset: a shared model under a fixed transform.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenePart {
    /// The model (shared by every part that draws it).
    pub model: Arc<VoxModel>,
    /// Asset frame to the model's frame.
    pub to_model: Mat4,
    /// The part's box in the asset's frame.
    pub bounds: Aabb,
}

/// How an asset's voxels are defined.
#[derive(Clone, Debug, PartialEq)]
pub enum AssetModel {
    /// Shapes applied in order.
    Shapes(Vec<Shape>),
    /// A `.vox` model.
    Vox(VoxModel),
    /// A MagicaVoxel scene's instances; a later part wins where parts overlap.
    Scene(Vec<ScenePart>),
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
            AssetModel::Scene(parts) => parts
                .iter()
                .rev()
                .filter(|part| p.cmpge(part.bounds.min).all() && p.cmple(part.bounds.max).all())
                .find_map(|part| part.model.sample(part.to_model.transform_point3(p))),
        }
    }
}

/// A `.vox` file read as one asset of a world file: a single model without a scene graph stands with its
/// bottom centre at the origin (half-voxel pivots for odd sizes, as lumon always read them); a file with a
/// scene graph or several instances becomes a [`AssetModel::Scene`] laid out as `vox::build::layout` says.
/// Palette entries listed in `emissive` (colour index, linear RGB) override the file's own emission. Returns
/// the model and the file's warnings; errors are plain reasons (the caller adds the file and asset).
pub fn load_vox(
    path: &Path,
    voxel_size: f32,
    emissive: &[(u8, Vec3)],
    asset_id: &str,
    materials: &mut Vec<Material>,
) -> Result<(AssetModel, Vec<String>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let vs = super::vox::read_scene(&bytes).map_err(|e| e.to_string())?;
    if vs.scene.instances.is_empty() {
        return Err("every instance of the scene is hidden: nothing to draw".into());
    }
    super::vox::build::check_model_volume(&vs)?;
    let mut by_index: Vec<Option<u16>> = vec![None; 256];
    let mut material_of = |i: u8| -> Result<u16, String> {
        if let Some(id) = by_index[usize::from(i)] {
            return Ok(id);
        }
        let pm = super::vox::materials::palette_material(&vs.file, i);
        let listed = emissive.iter().find(|(k, _)| *k == i).map(|(_, e)| *e);
        let id = u16::try_from(materials.len()).map_err(|_| "more than 65535 materials in the world".to_string())?;
        materials.push(Material {
            name: format!("{asset_id}#{i}"),
            albedo: pm.albedo,
            emissive: listed.unwrap_or(pm.emissive),
        });
        by_index[usize::from(i)] = Some(id);
        Ok(id)
    };
    let single = vs.file.nodes.is_empty()
        || (vs.scene.instances.len() == 1 && vs.scene.instances[0].states.len() == 1 && {
            let s = vs.scene.instances[0].states[0];
            s.pose == super::vox::scene::Pose::IDENTITY
        });
    let model = if single {
        let model = vs.scene.instances[0].states[0].model;
        let mut m = super::vox::build::model_cells(&vs.file, model, voxel_size, &mut material_of)?;
        m.pivot = Vec3::new(m.size.x as f32 * 0.5, 0.0, m.size.z as f32 * 0.5);
        AssetModel::Vox(m)
    } else {
        AssetModel::Scene(super::vox::build::scene_parts(&vs, voxel_size, &mut material_of)?)
    };
    Ok((model, vs.warnings))
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
