//! From a read `.vox` scene to lumon: models become assets, instances placements, animation a timeline,
//! cameras bookmarks, render settings the sun and sky.
//!
//! Coordinates: a model's voxel corners, relative to its pivot `floor(size / 2)`, go through the instance's pose
//! (MagicaVoxel frame, voxel units), then [`TO_LUMON`], then a whole-voxel offset that centres the scene over
//! the origin in X and Z and stands its lowest voxel on `y = 0`, then times the voxel size. Poses are signed
//! permutations with integer offsets, so every voxel lands exactly on a cell of the world's voxel grid (whose
//! origin is a whole number of voxels from the scene's); the voxeliser samples cell centres, so nothing is
//! resampled. A reflection becomes a placement scale of `-1` on Z after the rotation's Euler angles.
//!
//! Defaults for a bare file (all written down in docs/world-format.md):
//! - voxel size [`DEFAULT_VOXEL_SIZE`] (`--voxel-size`);
//! - a flat ground at `y = 0` under the lowest voxel, reaching a margin past the scene (a quarter of its
//!   widest extent, 2 to 32 m);
//! - region size: the scene's widest extent over 4, rounded up to a power of two, 4 to 64 m (a few regions
//!   across, so streaming still has something to do);
//! - probe spacing: the widest extent over 24, rounded to a power of two, at least 2.5 voxels and 0.25 m, at
//!   most 2 m (the finest clipmap level then spans the scene);
//! - bookmarks: `main` looks at the scene's centre from the south-west, 35 degrees down, far enough to frame
//!   its bounding sphere in a 60 degree view; each `rCAM` camera becomes `camera-<id>`;
//! - lights: the sun and sky from `rOBJ` (`_inf`: `_i` intensity, `_k` colour, `_angle` elevation and
//!   azimuth in degrees; `_uni`: sky `_i`, `_k`), else an afternoon sun and a soft sky; the ground's colour
//!   from `_ground`'s `_k`, else grey (albedo 0.35);
//! - animation: keyframes play at [`ANIMATION_FPS`] and loop until [`ANIMATION_SECONDS`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use glam::{Mat4, UVec3, Vec2, Vec3};

use super::materials::{palette_material, MaterialKind};
use super::parse::{parse, Dict, VoxFile};
use super::scene::{apply, mul, resolve, Pose, Rot, Scene};
use super::VoxError;
use crate::geom::euler_degrees_to_quat;
use crate::hash::{hash_bytes, hash_words};
use crate::streaming::{flags, Edit, Placement, PlacementPatch, ServerConfig, SimClock, Transform};
use crate::world::assets::{Asset, AssetModel, Material, ScenePart, VoxModel};
use crate::world::terrain::Terrain;
use crate::world::timeline::{expand, TimelineEvent};
use crate::world::{Bookmark, Lights, Sky, Sun, World, WorldError};

/// Metres per voxel of a `.vox` opened as a world, unless `--voxel-size` says otherwise.
pub const DEFAULT_VOXEL_SIZE: f32 = 0.1;
/// Animation frames per second.
pub const ANIMATION_FPS: f64 = 10.0;
/// An animation loops until this time, seconds.
pub const ANIMATION_SECONDS: f64 = 60.0;

/// MagicaVoxel's axes to lumon's: `(x, y, z) -> (x, z, -y)`.
pub const TO_LUMON: Rot = [[1, 0, 0], [0, 0, 1], [0, -1, 0]];
/// The inverse of [`TO_LUMON`].
const FROM_LUMON: Rot = [[1, 0, 0], [0, 0, -1], [0, 1, 0]];

/// How a `.vox` file becomes a world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VoxOptions {
    /// Metres per voxel.
    pub voxel_size: f32,
}

impl Default for VoxOptions {
    fn default() -> Self {
        VoxOptions { voxel_size: DEFAULT_VOXEL_SIZE }
    }
}

/// A `.vox` file read and resolved.
#[derive(Clone, Debug)]
pub struct VoxScene {
    /// The chunks.
    pub file: VoxFile,
    /// The instances.
    pub scene: Scene,
    /// Everything read differently from the file, one line each.
    pub warnings: Vec<String>,
}

/// Reads and resolves a `.vox` file's bytes.
pub fn read_scene(bytes: &[u8]) -> Result<VoxScene, VoxError> {
    let file = parse(bytes)?;
    let scene = resolve(&file)?;
    let mut warnings = file.warnings.clone();
    warnings.extend(scene.warnings.iter().cloned());
    if scene.hidden_instances > 0 {
        warnings.push(format!("{} hidden instance(s) left out", scene.hidden_instances));
    }
    if scene.hidden_layer_instances > 0 {
        warnings.push(format!("{} instance(s) on hidden layers left out", scene.hidden_layer_instances));
    }
    let mut vs = VoxScene { file, scene, warnings };
    let kinds = material_use(&vs);
    for (kind, (indices, voxels)) in kinds {
        if let Some(why) = kind.approximation() {
            let list: Vec<String> = indices.iter().map(u8::to_string).collect();
            vs.warnings.push(format!(
                "material {} (colour indices {}; {voxels} voxels in the models that use it): {why}",
                kind.name(),
                list.join(", ")
            ));
        }
    }
    Ok(vs)
}

/// Per material type used by a drawn model: its colour indices and voxel count (per model, not per instance).
pub fn material_use(vs: &VoxScene) -> BTreeMap<MaterialKind, (Vec<u8>, usize)> {
    let mut count = [0usize; 256];
    for m in used_models(vs) {
        for v in &vs.file.models[m].voxels {
            count[usize::from(v[3])] += 1;
        }
    }
    let mut out: BTreeMap<MaterialKind, (Vec<u8>, usize)> = BTreeMap::new();
    for (i, n) in count.iter().enumerate().skip(1) {
        if *n > 0 {
            let e = out.entry(palette_material(&vs.file, i as u8).kind).or_default();
            e.0.push(i as u8);
            e.1 += n;
        }
    }
    out
}

/// Models drawn by some instance at some frame, ascending.
pub fn used_models(vs: &VoxScene) -> Vec<usize> {
    let mut used: Vec<usize> = vs.scene.instances.iter().flat_map(|i| i.states.iter().map(|s| s.model)).collect();
    used.sort_unstable();
    used.dedup();
    used
}

/// A model's edge lengths in lumon's order (x, up, z).
fn lumon_size(file: &VoxFile, model: usize) -> [i32; 3] {
    let s = file.models[model].size;
    [s[0] as i32, s[2] as i32, s[1] as i32]
}

/// A model's pivot in lumon's cell coordinates: MagicaVoxel's `floor(size / 2)` moved by the axis change
/// (`y` becomes `-z`, so the pivot's distance from the far side is kept).
fn lumon_pivot(file: &VoxFile, model: usize) -> [i32; 3] {
    let s = file.models[model].size.map(|v| v as i32);
    [s[0] / 2, s[2] / 2, s[1] - s[1] / 2]
}

/// An instance's pose in lumon's frame: `TO_LUMON * rot * FROM_LUMON`, `TO_LUMON * t`.
pub fn lumon_pose(p: &Pose) -> Pose {
    Pose { rot: mul(&mul(&TO_LUMON, &p.rot), &FROM_LUMON), t: apply(&TO_LUMON, p.t) }
}

/// The box `[lo, hi)` of a model's solid voxels in lumon's cell order, relative to its pivot (an empty model:
/// its whole size).
fn solid_box(file: &VoxFile, model: usize) -> ([i32; 3], [i32; 3]) {
    let m = &file.models[model];
    let sy = m.size[1] as i32;
    let (mut lo, mut hi) = ([i32::MAX; 3], [i32::MIN; 3]);
    for v in &m.voxels {
        let c = [i32::from(v[0]), i32::from(v[2]), sy - 1 - i32::from(v[1])];
        for i in 0..3 {
            lo[i] = lo[i].min(c[i]);
            hi[i] = hi[i].max(c[i] + 1);
        }
    }
    if m.voxels.is_empty() {
        (lo, hi) = ([0; 3], lumon_size(file, model));
    }
    let p = lumon_pivot(file, model);
    ([0, 1, 2].map(|i| lo[i] - p[i]), [0, 1, 2].map(|i| hi[i] - p[i]))
}

/// The integer box `[lo, hi)` (voxels, lumon frame) that model `model`'s solid voxels cover under lumon pose
/// `p`.
fn posed_box(file: &VoxFile, model: usize, p: &Pose) -> ([i32; 3], [i32; 3]) {
    let (l, h) = solid_box(file, model);
    let a = apply(&p.rot, l);
    let b = apply(&p.rot, h);
    let lo = [0, 1, 2].map(|i| a[i].min(b[i]) + p.t[i]);
    let hi = [0, 1, 2].map(|i| a[i].max(b[i]) + p.t[i]);
    (lo, hi)
}

/// Where the scene sits: the whole-voxel offset that centres the box of its frame-0 solid voxels in X and Z over
/// the origin and stands its lowest voxel on `y = 0`, and the box of every frame after that offset (voxels,
/// lumon frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Added to every instance's lumon translation.
    pub offset: [i32; 3],
    /// Box of frame 0, after the offset.
    pub still: ([i32; 3], [i32; 3]),
    /// Box of every frame, after the offset.
    pub all: ([i32; 3], [i32; 3]),
}

/// The layout of a scene.
pub fn layout(vs: &VoxScene) -> Layout {
    let mut still = ([i32::MAX; 3], [i32::MIN; 3]);
    let mut all = still;
    let grow = |b: &mut ([i32; 3], [i32; 3]), (lo, hi): ([i32; 3], [i32; 3])| {
        for i in 0..3 {
            b.0[i] = b.0[i].min(lo[i]);
            b.1[i] = b.1[i].max(hi[i]);
        }
    };
    for inst in &vs.scene.instances {
        for (k, s) in inst.states.iter().enumerate() {
            let pose = lumon_pose(&s.pose);
            let b = posed_box(&vs.file, s.model, &pose);
            if k == 0 {
                grow(&mut still, b);
            }
            grow(&mut all, b);
            // The pivot too: a placement's region is its pivot's, which may lie outside its solid voxels.
            grow(&mut all, (pose.t, pose.t.map(|c| c + 1)));
        }
    }
    if vs.scene.instances.is_empty() {
        still = ([0; 3], [0; 3]);
        all = still;
    }
    let offset = [-(still.0[0] + still.1[0]).div_euclid(2), -still.0[1], -(still.0[2] + still.1[2]).div_euclid(2)];
    let shift =
        |b: ([i32; 3], [i32; 3])| ([0, 1, 2].map(|i| b.0[i] + offset[i]), [0, 1, 2].map(|i| b.1[i] + offset[i]));
    Layout { offset, still: shift(still), all: shift(all) }
}

/// Most cells (solid or not) the models a scene draws may hold together: lumon stores each model densely,
/// two bytes a cell, so this caps that at 2 GiB.
pub const MAX_MODEL_CELLS: u64 = 1 << 30;

/// Refuses a scene whose drawn models hold more than [`MAX_MODEL_CELLS`] cells together.
pub fn check_model_volume(vs: &VoxScene) -> Result<(), String> {
    let cells: u64 =
        used_models(vs).iter().map(|m| vs.file.models[*m].size.iter().map(|s| u64::from(*s)).product::<u64>()).sum();
    if cells > MAX_MODEL_CELLS {
        return Err(format!(
            "the models drawn hold {cells} cells together, more than {MAX_MODEL_CELLS} (lumon stores models densely)"
        ));
    }
    Ok(())
}

/// Model `model` as lumon cells, its colours interned through `material_of` (colour index -> material id).
pub fn model_cells(
    file: &VoxFile,
    model: usize,
    voxel_size: f32,
    material_of: &mut dyn FnMut(u8) -> Result<u16, String>,
) -> Result<VoxModel, String> {
    let m = &file.models[model];
    let [sx, sy, sz] = m.size;
    let size = UVec3::new(sx, sz, sy);
    let mut cells = vec![0u16; (size.x * size.y * size.z) as usize];
    for v in &m.voxels {
        let (x, y, z) = (u32::from(v[0]), u32::from(v[1]), u32::from(v[2]));
        let (lx, ly, lz) = (x, z, sy - 1 - y);
        cells[(lx + size.x * (ly + size.y * lz)) as usize] = material_of(v[3])? + 1;
    }
    let p = lumon_pivot(file, model);
    Ok(VoxModel::new(size, voxel_size, cells, Vec3::new(p[0] as f32, p[1] as f32, p[2] as f32)))
}

/// The placement transform (metres) of a lumon pose plus `offset` voxels.
pub fn transform_of(p: &Pose, offset: [i32; 3], voxel_size: f32) -> Transform {
    let d = det(&p.rot);
    // M = Q * S with S = diag(1, 1, det M): Q is a proper rotation.
    let q = if d < 0 { mul(&p.rot, &[[1, 0, 0], [0, 1, 0], [0, 0, -1]]) } else { p.rot };
    let position = Vec3::new(
        (p.t[0] + offset[0]) as f32 * voxel_size,
        (p.t[1] + offset[1]) as f32 * voxel_size,
        (p.t[2] + offset[2]) as f32 * voxel_size,
    );
    Transform { position, rotation: euler_of(&q), scale: Vec3::new(1.0, 1.0, d as f32) }
}

fn det(m: &Rot) -> i32 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Euler degrees (lumon's order, see [`crate::geom`]) of a proper signed-permutation rotation: the first of the
/// quarter-turn triples whose matrix rounds to it (every one of the 24 has one).
fn euler_of(q: &Rot) -> Vec3 {
    const STEPS: [f32; 4] = [0.0, 90.0, 180.0, -90.0];
    for x in STEPS {
        for y in STEPS {
            for z in STEPS {
                let e = Vec3::new(x, y, z);
                let m = Mat4::from_quat(euler_degrees_to_quat(e));
                let cols = [m.x_axis, m.y_axis, m.z_axis];
                let same = (0..3).all(|r| (0..3).all(|c| (cols[c][r] - q[r][c] as f32).abs() < 1e-3));
                if same {
                    return e;
                }
            }
        }
    }
    Vec3::ZERO
}

/// A scene as one asset of a world file (`"vox": "scene.vox"` naming a file with a scene graph or several
/// models): its instances at frame 0 become parts sharing their models, laid out as [`layout`] says (centred
/// in X and Z, standing on `y = 0` of the asset's frame).
pub fn scene_parts(
    vs: &VoxScene,
    voxel_size: f32,
    material_of: &mut dyn FnMut(u8) -> Result<u16, String>,
) -> Result<Vec<ScenePart>, String> {
    let l = layout(vs);
    let mut models: BTreeMap<usize, Arc<VoxModel>> = BTreeMap::new();
    let mut parts = Vec::with_capacity(vs.scene.instances.len());
    for inst in &vs.scene.instances {
        let s = inst.states[0];
        let model = match models.get(&s.model) {
            Some(m) => m.clone(),
            None => {
                let m = Arc::new(model_cells(&vs.file, s.model, voxel_size, material_of)?);
                models.insert(s.model, m.clone());
                m
            }
        };
        let t = transform_of(&lumon_pose(&s.pose), l.offset, voxel_size);
        let m = t.matrix();
        parts.push(ScenePart { bounds: model.bounds().transformed(&m), to_model: m.inverse(), model });
    }
    Ok(parts)
}

/// Opens a `.vox` file's bytes as a world.
pub fn world_from_vox(path: &Path, bytes: &[u8], opts: &VoxOptions) -> Result<World, WorldError> {
    let err = |place: String, reason: String| WorldError::Invalid { file: path.to_path_buf(), place, reason };
    let voxel = opts.voxel_size;
    if !(voxel.is_finite()
        && (crate::world::load::MIN_VOXEL_SIZE..=crate::world::load::MAX_VOXEL_SIZE).contains(&voxel))
    {
        return Err(err(
            "--voxel-size".into(),
            format!(
                "{voxel} must be within {}..={} metres",
                crate::world::load::MIN_VOXEL_SIZE,
                crate::world::load::MAX_VOXEL_SIZE
            ),
        ));
    }
    let vs = read_scene(bytes).map_err(|e| err(e.place, e.reason))?;
    if vs.scene.instances.is_empty() {
        return Err(err("scene graph".into(), "every instance is hidden: nothing to draw".into()));
    }
    let l = layout(&vs);

    // Materials: 0 is the ground, then each colour index as first met.
    let ground = vs.file.render.iter().find(|d| d.get("_type") == Some("_ground")).and_then(|d| colour(d, "_k"));
    let mut materials =
        vec![Material { name: "ground".into(), albedo: ground.unwrap_or(Vec3::splat(0.35)), emissive: Vec3::ZERO }];
    let mut by_index: Vec<Option<u16>> = vec![None; 256];
    let stem = path.file_stem().map_or_else(|| "scene".to_string(), |s| s.to_string_lossy().into_owned());
    let mut material_of = |i: u8| -> Result<u16, String> {
        if let Some(id) = by_index[usize::from(i)] {
            return Ok(id);
        }
        let pm = palette_material(&vs.file, i);
        let id = u16::try_from(materials.len()).map_err(|_| "more than 65535 materials".to_string())?;
        materials.push(Material { name: format!("{stem}#{i}"), albedo: pm.albedo, emissive: pm.emissive });
        by_index[usize::from(i)] = Some(id);
        Ok(id)
    };
    check_model_volume(&vs).map_err(|r| err("models".into(), r))?;
    let mut assets = BTreeMap::new();
    for m in used_models(&vs) {
        let model = model_cells(&vs.file, m, voxel, &mut material_of).map_err(|r| err(format!("model {m}"), r))?;
        let id = format!("model-{m}");
        let bounds = model.bounds();
        assets.insert(id.clone(), Arc::new(Asset { id, model: AssetModel::Vox(model), bounds }));
    }

    // Bounds: the scene's box over every frame plus a margin, in whole voxels.
    let (lo, hi) = l.all;
    let widest = (hi[0] - lo[0]).max(hi[2] - lo[2]).max(hi[1] - lo[1]).max(1) as f32 * voxel;
    let margin = ((0.25 * widest).clamp(2.0, 32.0) / voxel).ceil() as i32;
    let mut bookmarks = BTreeMap::from([("main".to_string(), main_bookmark(&l, voxel))]);
    for (id, d) in &vs.file.cameras {
        if let Some(b) = camera_bookmark(d, l.offset, voxel) {
            bookmarks.insert(format!("camera-{id}"), b);
        }
    }
    // The ground reaches every bookmark (the loader's rule: a bookmark stands inside the bounds).
    let (mut cam_lo, mut cam_hi) = (Vec2::splat(f32::INFINITY), Vec2::splat(f32::NEG_INFINITY));
    for b in bookmarks.values() {
        cam_lo = cam_lo.min(Vec2::new(b.position.x, b.position.z));
        cam_hi = cam_hi.max(Vec2::new(b.position.x, b.position.z));
    }
    let cam_lo = (cam_lo / voxel).floor() - 1.0;
    let cam_hi = (cam_hi / voxel).ceil() + 1.0;
    let bmin = Vec2::new(((lo[0] - margin) as f32).min(cam_lo.x), ((lo[2] - margin) as f32).min(cam_lo.y)) * voxel;
    let bmax = Vec2::new(((hi[0] + margin) as f32).max(cam_hi.x), ((hi[2] + margin) as f32).max(cam_hi.y)) * voxel;
    let across = ((bmax - bmin) / voxel).max_element();
    if across > crate::world::load::MAX_VOXELS_ACROSS as f32 {
        return Err(err(
            "--voxel-size".into(),
            format!(
                "the scene and its ground are {across} voxels across, more than {}",
                crate::world::load::MAX_VOXELS_ACROSS
            ),
        ));
    }
    let region_size = (widest / 4.0).max(1.0).log2().ceil().exp2().clamp(4.0, 64.0).max(8.0 * voxel);
    let finest = (2.5 * voxel).max(0.25);
    let probe_spacing = (widest / 24.0).max(0.01).log2().round().exp2().clamp(finest, finest.max(2.0));

    let grid = crate::streaming::RegionGrid::covering(region_size, bmin, bmax);
    let mut placements = Vec::with_capacity(vs.scene.instances.len());
    for inst in &vs.scene.instances {
        let s = inst.states[0];
        let mut tags: Vec<String> = inst.layer.iter().cloned().collect();
        if let Some(n) = &inst.name {
            tags.push(format!("name:{n}"));
        }
        tags.sort_unstable();
        tags.dedup();
        let transform = transform_of(&lumon_pose(&s.pose), l.offset, voxel);
        let region_id = grid
            .region_of(transform.position)
            .ok_or_else(|| err(format!("instance {}", inst.id), "its pivot lies outside the world's regions".into()))?;
        placements.push(Placement {
            placement_id: inst.id.clone(),
            asset_id: format!("model-{}", s.model),
            region_id,
            transform,
            tags,
            tint: Vec3::ONE,
            emission: 1.0,
            flags: flags::DEFAULT,
            is_valid: true,
            has_warnings: false,
        });
    }
    placements.sort_unstable_by(|a, b| a.placement_id.cmp(&b.placement_id));

    let mut world = World {
        name: stem.clone(),
        purpose: format!("MagicaVoxel scene {}", path.file_name().map_or(stem.clone(), |f| f.to_string_lossy().into()))
            .replace('\n', " "),
        seed: 0,
        source: path.to_path_buf(),
        content_hash: hash_words(&[hash_bytes(bytes), u64::from(voxel.to_bits())]),
        region_size,
        voxel_size: voxel,
        probe_spacing,
        bounds: (bmin, bmax),
        terrain: Terrain::Flat { height: 0.0, material: 0 },
        materials,
        assets,
        placements,
        lights: lights(&vs.file.render),
        bookmarks,
        timeline: Vec::new(),
        warnings: vs.warnings.clone(),
    };
    let events = animation(&vs, &l, voxel);
    let mut server = world
        .server(ServerConfig::default(), Arc::new(SimClock::new()))
        .map_err(|e| err("instances".into(), e.to_string()))?;
    world.timeline = expand(events, &[], 0, &world.terrain, world.bounds, &mut server)
        .map_err(|(place, e)| err(place, e.to_string()))?;
    if let Some(why) = crate::voxel::world::grid_layout(&world).over_limit {
        return Err(err("scene".into(), format!("{why}; use a smaller --voxel-size")));
    }
    Ok(world)
}

/// The timeline of an animated scene: at each keyframe where an instance changes, one update per changed
/// instance (its model and pose); the cycle loops until [`ANIMATION_SECONDS`].
fn animation(vs: &VoxScene, l: &Layout, voxel_size: f32) -> Vec<TimelineEvent> {
    let Some(&last) = vs.scene.keyframes.last() else { return Vec::new() };
    if vs.scene.instances.iter().all(|i| i.states.len() < 2) {
        return Vec::new();
    }
    let cycle = f64::from(last + 1) / ANIMATION_FPS;
    let mut by_frame: BTreeMap<u32, Vec<Edit>> = BTreeMap::new();
    for inst in &vs.scene.instances {
        for w in inst.states.windows(2) {
            by_frame.entry(w[1].frame).or_default().push(update(&inst.id, &w[0], &w[1], l, voxel_size));
        }
        // Back to frame 0's state at the end of each cycle.
        if let (Some(first), Some(end)) = (inst.states.first(), inst.states.last()) {
            if inst.states.len() > 1 {
                by_frame.entry(last + 1).or_default().push(update(&inst.id, end, first, l, voxel_size));
            }
        }
    }
    let mut events = Vec::new();
    let mut k = 0u32;
    loop {
        let start = f64::from(k) * cycle;
        if start >= ANIMATION_SECONDS {
            break;
        }
        for (frame, edits) in &by_frame {
            let t = start + f64::from(*frame) / ANIMATION_FPS;
            if t > ANIMATION_SECONDS {
                break;
            }
            events.push(TimelineEvent {
                t,
                place: format!("animation frame {frame} (cycle {k})"),
                edits: edits.clone(),
            });
        }
        k += 1;
    }
    events
}

fn update(id: &str, from: &super::scene::State, to: &super::scene::State, l: &Layout, voxel_size: f32) -> Edit {
    let (a, b) = (
        transform_of(&lumon_pose(&from.pose), l.offset, voxel_size),
        transform_of(&lumon_pose(&to.pose), l.offset, voxel_size),
    );
    let patch = PlacementPatch {
        asset_id: (from.model != to.model).then(|| format!("model-{}", to.model)),
        position: (a.position != b.position).then_some(b.position),
        rotation: (a.rotation != b.rotation).then_some(b.rotation),
        scale: (a.scale != b.scale).then_some(b.scale),
        ..PlacementPatch::default()
    };
    Edit::Update { id: id.to_string(), patch }
}

/// The default view: the scene's centre from the south-west, 35 degrees down, its bounding sphere framed in a
/// 60 degree view.
fn main_bookmark(l: &Layout, voxel_size: f32) -> Bookmark {
    let (lo, hi) = l.still;
    let lo = Vec3::new(lo[0] as f32, lo[1] as f32, lo[2] as f32) * voxel_size;
    let hi = Vec3::new(hi[0] as f32, hi[1] as f32, hi[2] as f32) * voxel_size;
    let centre = (lo + hi) * 0.5;
    let radius = ((hi - lo).length() * 0.5).max(voxel_size);
    let distance = radius / (30.0f32.to_radians().sin()) * 1.05;
    let (yaw, pitch) = (225.0f32, -35.0f32);
    let (y, p) = (yaw.to_radians(), pitch.to_radians());
    let forward = Vec3::new(-y.sin() * p.cos(), p.sin(), -y.cos() * p.cos());
    Bookmark { position: centre - forward * distance, yaw, pitch }
}

fn floats(d: &Dict, key: &str) -> Option<Vec<f32>> {
    let v: Option<Vec<f32>> =
        d.get(key)?.split_whitespace().map(|s| s.parse::<f32>().ok().filter(|f| f.is_finite())).collect();
    v.filter(|v| !v.is_empty())
}

/// A saved camera (`rCAM`): it looks at `_focus` (scene voxels, MagicaVoxel frame) from `_radius` voxels away;
/// `_angle` is pitch, yaw and roll in degrees (yaw about the up axis, roll ignored).
fn camera_bookmark(d: &Dict, offset: [i32; 3], voxel_size: f32) -> Option<Bookmark> {
    let focus = floats(d, "_focus").filter(|v| v.len() == 3)?;
    let angle = floats(d, "_angle").filter(|v| v.len() >= 2)?;
    let radius = floats(d, "_radius").and_then(|v| v.first().copied()).unwrap_or(64.0).abs();
    let f = Vec3::new(focus[0], focus[2], -focus[1]);
    let target = (f + Vec3::new(offset[0] as f32, offset[1] as f32, offset[2] as f32)) * voxel_size;
    let (pitch, yaw) = (-angle[0].clamp(-89.0, 89.0), angle[1]);
    let (y, p) = (yaw.to_radians(), pitch.to_radians());
    let forward = Vec3::new(-y.sin() * p.cos(), p.sin(), -y.cos() * p.cos());
    let position = target - forward * radius * voxel_size;
    position.is_finite().then_some(Bookmark { position, yaw, pitch })
}

fn colour(d: &Dict, key: &str) -> Option<Vec3> {
    let v = floats(d, key).filter(|v| v.len() >= 3)?;
    Some(crate::world::assets::srgb(
        v[0].clamp(0.0, 255.0) as u8,
        v[1].clamp(0.0, 255.0) as u8,
        v[2].clamp(0.0, 255.0) as u8,
    ))
}

/// Sun and sky from `rOBJ`, else an afternoon sun and a soft sky.
fn lights(render: &[Dict]) -> Lights {
    let of_type = |t: &str| render.iter().find(|d| d.get("_type") == Some(t));
    let sun = match of_type("_inf") {
        Some(d) => {
            let i = floats(d, "_i").and_then(|v| v.first().copied()).unwrap_or(0.7).max(0.0);
            let k = colour(d, "_k").unwrap_or(Vec3::ONE);
            let a = floats(d, "_angle").unwrap_or_else(|| vec![50.0, 50.0]);
            let (elev, azim) = (a[0].clamp(-90.0, 90.0).to_radians(), a.get(1).copied().unwrap_or(0.0).to_radians());
            // MagicaVoxel's direction towards the sun, Z up, then lumon's axes.
            let mv = Vec3::new(elev.cos() * azim.cos(), elev.cos() * azim.sin(), elev.sin());
            let dir = Vec3::new(mv.x, mv.z, -mv.y).normalize_or(Vec3::Y);
            Some(Sun { direction: dir, radiance: k * i * 5.0 })
        }
        None => {
            Some(Sun { direction: Vec3::new(0.55, 0.6, 0.45).normalize(), radiance: Vec3::new(1.0, 0.92, 0.8) * 3.5 })
        }
    };
    let sky = match of_type("_uni") {
        Some(d) => {
            let i = floats(d, "_i").and_then(|v| v.first().copied()).unwrap_or(0.7).max(0.0);
            let k = colour(d, "_k").unwrap_or(Vec3::ONE) * i;
            Sky { zenith: k, horizon: k, ground: k * 0.3 }
        }
        None => Sky {
            zenith: Vec3::new(0.25, 0.45, 0.95),
            horizon: Vec3::new(0.75, 0.85, 1.0),
            ground: Vec3::new(0.25, 0.22, 0.18),
        },
    };
    Lights { sun, sky }
}
