//! `lumon inspect`: what a world file or a MagicaVoxel scene holds, counted after placement.
//!
//! Voxels are counted as the voxeliser lays them out at time 0: every placed asset's solid cells on the world's
//! voxel grid, overlaps counted once (the placement that wins there, in placement-id order, gives the
//! material), the terrain left out. Models whose placement is an exact quarter-turn rotation or reflection on
//! the world's grid (every `.vox` scene) are rasterised by their solid cells, anything else by sampling every
//! cell centre in the placement's box, as the voxeliser does. A `.vox` file is read again for what a world
//! does not keep: material types, layers, cameras, hidden instances.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use glam::{IVec3, Mat4, Vec3};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::world::assets::{Asset, AssetModel};
use crate::world::vox::materials::{palette_material, MaterialKind};
use crate::world::vox::{is_vox_path, read_scene, VoxScene};
use crate::world::World;

/// Placed voxels of one material type.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MaterialUse {
    /// Colour indices (`.vox`) or material names (world files) of this type that are placed.
    pub materials: Vec<String>,
    /// Placed voxels.
    pub voxels: u64,
    /// What lumon draws instead, when it cannot draw the type as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drawn_as: Option<String>,
}

/// A layer of a `.vox` scene.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerInfo {
    /// Id in the file.
    pub id: i32,
    /// Name (placement tag).
    pub name: String,
    /// Hidden layers' instances are left out.
    pub hidden: bool,
}

/// A box in metres.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bounds {
    /// Minimum corner.
    pub min: [f32; 3],
    /// Maximum corner.
    pub max: [f32; 3],
}

/// Everything `lumon inspect` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InspectReport {
    /// The file.
    pub file: String,
    /// `vox` or `world`.
    pub kind: &'static str,
    /// The world's name.
    pub name: String,
    /// Models (`.vox`: in the file; world files: assets).
    pub models: usize,
    /// Placements at time 0 (`.vox`: visible shape instances).
    pub instances: usize,
    /// `.vox` instances left out: hidden nodes plus hidden layers.
    pub hidden_instances: usize,
    /// Solid cells after placement at time 0, overlaps counted once, terrain left out.
    pub voxels: u64,
    /// Those of them that emit light.
    pub emissive_voxels: u64,
    /// Extent of the placed voxels, `[x, y, z]`, Y up.
    pub extent_voxels: [i64; 3],
    /// Box of the placed voxels, metres.
    pub bounds: Option<Bounds>,
    /// Metres per voxel.
    pub voxel_size: f32,
    /// Region edge, metres.
    pub region_size: f32,
    /// Spacing of the finest probe level, metres.
    pub probe_spacing: f32,
    /// Placed voxels by material type (`_diffuse`, `_emit`, `_metal`, ...; world files: `diffuse`, `emit`).
    pub materials: BTreeMap<String, MaterialUse>,
    /// `.vox` layers.
    pub layers: Vec<LayerInfo>,
    /// `.vox` cameras (`rCAM` ids), each a bookmark `camera-<id>`.
    pub cameras: Vec<i32>,
    /// Bookmarks.
    pub bookmarks: Vec<String>,
    /// Animation keyframes (`.vox`) and timeline events.
    pub keyframes: usize,
    /// Timeline events.
    pub timeline_events: usize,
    /// What was read differently from the file.
    pub warnings: Vec<String>,
}

/// Inspects a loaded world; `path` is the file it came from.
pub fn inspect(path: &Path, world: &World) -> InspectReport {
    // Read as `load_world_with` decides: by the name or by the bytes.
    let scene: Option<VoxScene> = std::fs::read(path)
        .ok()
        .filter(|b| is_vox_path(path) || b.starts_with(b"VOX "))
        .and_then(|b| read_scene(&b).ok());
    let placed = rasterise(world);
    let mut per_material: FxHashMap<u16, u64> = FxHashMap::default();
    let (mut lo, mut hi) = (IVec3::MAX, IVec3::MIN);
    let mut voxels = 0u64;
    for (b, cells) in &placed.bricks {
        for (i, c) in cells.iter().enumerate() {
            if *c == 0 {
                continue;
            }
            voxels += 1;
            *per_material.entry(*c - 1).or_default() += 1;
            let v = *b * 8 + IVec3::new(i as i32 & 7, (i as i32 >> 3) & 7, i as i32 >> 6);
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let mut materials: BTreeMap<String, MaterialUse> = BTreeMap::new();
    let mut emissive_voxels = 0u64;
    let mut ids: Vec<(&u16, &u64)> = per_material.iter().collect();
    ids.sort_unstable();
    for (id, n) in ids {
        let m = &world.materials[usize::from(*id)];
        if m.emissive.max_element() > 0.0 {
            emissive_voxels += n;
        }
        let index = m.name.rsplit_once('#').and_then(|(_, i)| i.parse::<u8>().ok());
        let (kind, label) = match (&scene, index) {
            (Some(s), Some(i)) => (palette_material(&s.file, i).kind, i.to_string()),
            _ => {
                let k = if m.emissive.max_element() > 0.0 { MaterialKind::Emit } else { MaterialKind::Diffuse };
                (k, m.name.clone())
            }
        };
        let key =
            if scene.is_some() { kind.name().to_string() } else { kind.name().trim_start_matches('_').to_string() };
        let e = materials.entry(key).or_default();
        e.materials.push(label);
        e.voxels += n;
        e.drawn_as = kind.approximation().map(str::to_string);
    }
    let vs = world.voxel_size;
    let (extent_voxels, bounds) = if voxels == 0 {
        ([0; 3], None)
    } else {
        let min = placed.origin + lo.as_vec3() * vs;
        let max = placed.origin + (hi + 1).as_vec3() * vs;
        let e = hi - lo + 1;
        ([i64::from(e.x), i64::from(e.y), i64::from(e.z)], Some(Bounds { min: min.to_array(), max: max.to_array() }))
    };
    let (models, hidden_instances, layers, cameras, keyframes) = match &scene {
        Some(s) => (
            s.file.models.len(),
            s.scene.hidden_instances + s.scene.hidden_layer_instances,
            s.scene
                .layers
                .iter()
                .map(|(id, (name, hidden))| LayerInfo { id: *id, name: name.clone(), hidden: *hidden })
                .collect(),
            s.file.cameras.keys().copied().collect(),
            s.scene.keyframes.len(),
        ),
        None => (world.assets.len(), 0, Vec::new(), Vec::new(), 0),
    };
    InspectReport {
        file: path.display().to_string(),
        kind: if scene.is_some() { "vox" } else { "world" },
        name: world.name.clone(),
        models,
        instances: world.placements.len(),
        hidden_instances,
        voxels,
        emissive_voxels,
        extent_voxels,
        bounds,
        voxel_size: vs,
        region_size: world.region_size,
        probe_spacing: world.probe_spacing,
        materials,
        layers,
        cameras,
        bookmarks: world.bookmarks.keys().cloned().collect(),
        keyframes,
        timeline_events: world.timeline.len(),
        warnings: world.warnings.clone(),
    }
}

/// Placed cells: per 8^3 brick, material id + 1 per cell.
struct Placed {
    origin: Vec3,
    bricks: FxHashMap<IVec3, Box<[u16; 512]>>,
}

impl Placed {
    fn set(&mut self, v: IVec3, material: u16) {
        let b = v.div_euclid(IVec3::splat(8));
        let l = v - b * 8;
        let cells = self.bricks.entry(b).or_insert_with(|| Box::new([0u16; 512]));
        cells[(l.x + 8 * l.y + 64 * l.z) as usize] = material + 1;
    }
}

fn rasterise(world: &World) -> Placed {
    let layout = crate::voxel::world::grid_layout(world);
    let mut placed = Placed { origin: layout.origin, bricks: FxHashMap::default() };
    let vs = world.voxel_size;
    for p in &world.placements {
        if p.flags & crate::streaming::flags::VISIBLE == 0 {
            continue;
        }
        let Some(asset) = world.assets.get(&p.asset_id) else { continue };
        let m = p.transform.matrix();
        if let AssetModel::Vox(model) = &asset.model {
            if exact_on_grid(&m, model.voxel_size, vs, placed.origin, model.pivot) {
                let origin = placed.origin;
                let to_cell = |c: Vec3| {
                    ((m.transform_point3((c + 0.5 - model.pivot) * model.voxel_size) - origin) / vs).floor().as_ivec3()
                };
                let s = model.size;
                for z in 0..s.z {
                    for y in 0..s.y {
                        for x in 0..s.x {
                            let v = model.cells[(x + s.x * (y + s.y * z)) as usize];
                            if v != 0 {
                                placed.set(to_cell(Vec3::new(x as f32, y as f32, z as f32)), v - 1);
                            }
                        }
                    }
                }
                continue;
            }
        }
        sample_box(&mut placed, asset, &m, vs);
    }
    placed
}

/// True when the transform maps the model's cell centres exactly onto the world grid's cell centres.
fn exact_on_grid(m: &Mat4, model_vs: f32, vs: f32, origin: Vec3, pivot: Vec3) -> bool {
    if (model_vs - vs).abs() > 1e-6 * vs {
        return false;
    }
    let cols = [m.x_axis.truncate(), m.y_axis.truncate(), m.z_axis.truncate()];
    let unit = cols.iter().all(|c| {
        let a = c.abs();
        (a.max_element() - 1.0).abs() < 1e-4 && a.element_sum() - a.max_element() < 1e-4
    });
    if !unit {
        return false;
    }
    let centre = (m.transform_point3((Vec3::splat(0.5) - pivot) * model_vs) - origin) / vs;
    (centre - centre.floor() - Vec3::splat(0.5)).abs().max_element() < 1e-2
}

fn sample_box(placed: &mut Placed, asset: &Asset, m: &Mat4, vs: f32) {
    let inv = m.inverse();
    let b = asset.bounds.transformed(m);
    let lo = ((b.min - placed.origin) / vs).floor().as_ivec3();
    let hi = ((b.max - placed.origin) / vs).ceil().as_ivec3();
    for z in lo.z..hi.z {
        for y in lo.y..hi.y {
            for x in lo.x..hi.x {
                let v = IVec3::new(x, y, z);
                let world = placed.origin + (v.as_vec3() + 0.5) * vs;
                if let Some(mat) = asset.sample(inv.transform_point3(world)) {
                    placed.set(v, mat);
                }
            }
        }
    }
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({} \"{}\")",
            self.file,
            if self.kind == "vox" { "MagicaVoxel scene" } else { "world file" },
            self.name
        )?;
        writeln!(f, "  models           {}", self.models)?;
        writeln!(f, "  instances        {} ({} hidden, left out)", self.instances, self.hidden_instances)?;
        writeln!(f, "  voxels           {} ({} emissive)", self.voxels, self.emissive_voxels)?;
        let e = self.extent_voxels;
        writeln!(f, "  extent           {} x {} x {} voxels (x, y up, z)", e[0], e[1], e[2])?;
        if let Some(b) = self.bounds {
            writeln!(
                f,
                "  bounds           [{:.2}, {:.2}, {:.2}] .. [{:.2}, {:.2}, {:.2}] m",
                b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]
            )?;
        }
        writeln!(
            f,
            "  voxel size       {} m; regions {} m; probe spacing {} m",
            self.voxel_size, self.region_size, self.probe_spacing
        )?;
        writeln!(f, "  materials")?;
        for (kind, m) in &self.materials {
            write!(f, "    {kind:<14} {:>10} voxels  [{}]", m.voxels, m.materials.join(", "))?;
            match &m.drawn_as {
                Some(d) => writeln!(f, "  {d}")?,
                None => writeln!(f)?,
            }
        }
        if !self.layers.is_empty() {
            writeln!(f, "  layers")?;
            for l in &self.layers {
                writeln!(f, "    {:>3} {}{}", l.id, l.name, if l.hidden { " (hidden)" } else { "" })?;
            }
        }
        if !self.cameras.is_empty() {
            let c: Vec<String> = self.cameras.iter().map(|c| format!("camera-{c}")).collect();
            writeln!(f, "  cameras          {}", c.join(", "))?;
        }
        writeln!(f, "  bookmarks        {}", self.bookmarks.join(", "))?;
        writeln!(f, "  animation        {} keyframes, {} timeline events", self.keyframes, self.timeline_events)?;
        if self.warnings.is_empty() {
            writeln!(f, "  warnings         none")?;
        } else {
            writeln!(f, "  warnings")?;
            for w in &self.warnings {
                writeln!(f, "    - {w}")?;
            }
        }
        Ok(())
    }
}
