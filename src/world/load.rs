//! Parsing and checking world files. Syntax errors carry line and column (serde_json) and the JSON path
//! (serde_path_to_error); meaning errors carry the path of the offending value (`placements[12].scale`).
//! Nothing is defaulted silently: unknown fields, unknown names and non-finite or out-of-range numbers are
//! errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Smallest voxel edge (world and `.vox` assets), metres.
pub const MIN_VOXEL_SIZE: f32 = 0.01;
/// Largest voxel edge, metres.
pub const MAX_VOXEL_SIZE: f32 = 16.0;
/// Most voxels across the world's bounds on either axis.
pub const MAX_VOXELS_ACROSS: u32 = 16_384;
/// Smallest placement scale on any axis.
pub const MIN_SCALE: f32 = 0.001;
/// Largest placement scale on any axis.
pub const MAX_SCALE: f32 = 1000.0;
/// Most edits one churn tick may make.
pub const MAX_CHURN_EDITS_PER_TICK: usize = 10_000;
/// Most edits one churn may make over its whole span.
pub const MAX_CHURN_EDITS: usize = 10_000_000;

use glam::{Vec2, Vec3};
use rustc_hash::FxHashSet;

use super::assets::{load_vox, Asset, AssetModel, Material, Shape, ShapeKind};
use super::error::WorldError;
use super::format::*;
use super::scatter::Scatter;
use super::terrain::{NoiseTerrain, Terrain};
use super::timeline::{expand, Churn, TimelineEvent};
use super::vox::{is_vox_path, world_from_vox, VoxOptions};
use super::{Bookmark, Lights, Sky, Sun, World};
use crate::hash::hash_bytes;
use crate::streaming::{flags, Edit, Placement, PlacementPatch, ServerConfig, SimClock, Transform};

/// Loads and checks a world: a world file (JSON), or a MagicaVoxel `.vox` scene with default options.
pub fn load_world(path: &Path) -> Result<World, WorldError> {
    load_world_with(path, &VoxOptions::default())
}

/// Loads and checks a world; `vox` says how a `.vox` scene becomes one (world files ignore it). A file is a
/// `.vox` scene when its name ends in `.vox` or its bytes start with `VOX `. Each warning (what was read
/// differently from the file) is logged and kept in [`World::warnings`].
pub fn load_world_with(path: &Path, vox: &VoxOptions) -> Result<World, WorldError> {
    let bytes = std::fs::read(path).map_err(|e| WorldError::Io { file: path.to_path_buf(), reason: e.to_string() })?;
    let world = if is_vox_path(path) || bytes.starts_with(b"VOX ") {
        world_from_vox(path, &bytes, vox)?
    } else {
        let text = String::from_utf8(bytes).map_err(|e| WorldError::Io {
            file: path.to_path_buf(),
            reason: format!(
                "not a world file (JSON text) nor a MagicaVoxel .vox file: byte {} is not UTF-8",
                e.utf8_error().valid_up_to()
            ),
        })?;
        load_world_str(&text, path)?
    };
    for w in &world.warnings {
        log::warn!("{}: {w}", path.display());
    }
    Ok(world)
}

/// Loads a world from text; `path` names it in errors and anchors relative asset paths.
pub fn load_world_str(text: &str, path: &Path) -> Result<World, WorldError> {
    let file = path.to_path_buf();
    let mut de = serde_json::Deserializer::from_str(text);
    let spec: WorldFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        WorldError::Parse {
            file: file.clone(),
            line: inner.line(),
            column: inner.column(),
            path,
            reason: strip_position(&inner.to_string()),
        }
    })?;
    if let Err(e) = de.end() {
        return Err(WorldError::Parse {
            file,
            line: e.line(),
            column: e.column(),
            path: ".".into(),
            reason: strip_position(&e.to_string()),
        });
    }
    Checker { file, dir: path.parent().map(Path::to_path_buf).unwrap_or_default() }
        .world(spec, hash_bytes(text.as_bytes()))
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

struct Checker {
    file: PathBuf,
    dir: PathBuf,
}

type R<T> = Result<T, WorldError>;

impl Checker {
    fn err(&self, place: impl Into<String>, reason: impl Into<String>) -> WorldError {
        WorldError::Invalid { file: self.file.clone(), place: place.into(), reason: reason.into() }
    }

    fn finite(&self, place: &str, v: Vec3) -> R<Vec3> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.err(place, format!("{v} is not finite")))
        }
    }

    fn positive(&self, place: &str, v: f32) -> R<f32> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.err(place, format!("{v} must be a positive finite number")))
        }
    }

    fn within(&self, place: &str, v: f32, lo: f32, hi: f32) -> R<f32> {
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.err(place, format!("{v} must be within {lo}..={hi}")))
        }
    }

    fn colour(&self, place: &str, v: Vec3, max: f32) -> R<Vec3> {
        if v.is_finite() && v.min_element() >= 0.0 && v.max_element() <= max {
            Ok(v)
        } else {
            Err(self.err(place, format!("{v} must have finite components in [0, {max}]")))
        }
    }

    fn world(&self, spec: WorldFile, content_hash: u64) -> R<World> {
        if spec.format != WORLD_FORMAT {
            return Err(self
                .err("format", format!("format {} is not supported (this build reads {WORLD_FORMAT})", spec.format)));
        }
        if spec.name.trim().is_empty() {
            return Err(self.err("name", "the name is empty"));
        }
        let region_size = self.positive("regionSize", spec.region_size)?;
        let voxel_size = self.within("voxelSize", spec.voxel_size, MIN_VOXEL_SIZE, MAX_VOXEL_SIZE)?;
        let probe_spacing = self.within("probeSpacing", spec.probe_spacing.unwrap_or(1.0), 0.05, 64.0)?;
        let bounds = self.bounds("bounds", &spec.bounds)?;
        let across = ((bounds.1 - bounds.0) / voxel_size).max_element();
        if across > MAX_VOXELS_ACROSS as f32 {
            return Err(self.err(
                "voxelSize",
                format!("{across} voxels across the bounds is more than {MAX_VOXELS_ACROSS}; use larger voxels"),
            ));
        }
        if region_size < voxel_size {
            return Err(self.err("regionSize", "a region must be at least one voxel wide"));
        }
        let cells = ((bounds.1 - bounds.0) / region_size).ceil();
        if cells.x * cells.y > 4.0e6 {
            return Err(
                self.err("regionSize", format!("{} regions is too many; use larger regions", cells.x * cells.y))
            );
        }

        let mut materials = Vec::new();
        let mut material_ids = BTreeMap::new();
        for (name, m) in &spec.materials {
            let place = format!("materials.{name}");
            let albedo = self.colour(&format!("{place}.albedo"), m.albedo, 1.0)?;
            let emissive = self.colour(&format!("{place}.emissive"), m.emissive, 1.0e4)?;
            material_ids.insert(name.clone(), materials.len() as u16);
            materials.push(Material { name: name.clone(), albedo, emissive });
        }
        let material = |place: &str, name: &str| -> R<u16> {
            material_ids.get(name).copied().ok_or_else(|| {
                self.err(place, format!("unknown material \"{name}\" (known: {})", join(material_ids.keys())))
            })
        };

        let terrain = match &spec.terrain {
            TerrainSpec::None => Terrain::None,
            TerrainSpec::Flat { height, material: m } => {
                if !height.is_finite() {
                    return Err(self.err("terrain.height", "not finite"));
                }
                Terrain::Flat { height: *height, material: material("terrain.material", m)? }
            }
            TerrainSpec::Noise { base_height, amplitude, frequency, octaves, material: m, slope_material } => {
                if !base_height.is_finite() || !amplitude.is_finite() || *amplitude < 0.0 {
                    return Err(self.err("terrain", "baseHeight must be finite and amplitude finite and >= 0"));
                }
                // Beyond 10 cycles per metre the noise is finer than any voxel, and far beyond it the noise
                // library's lattice coordinates overflow.
                let frequency = self.within("terrain.frequency", *frequency, 1e-6, 10.0)?;
                if !(1..=8).contains(octaves) {
                    return Err(self.err("terrain.octaves", format!("{octaves} is outside 1..=8")));
                }
                let top = material("terrain.material", m)?;
                let slope = match slope_material {
                    Some(s) => material("terrain.slopeMaterial", s)?,
                    None => top,
                };
                Terrain::Noise(NoiseTerrain::new(spec.seed, *base_height, *amplitude, frequency, *octaves, top, slope))
            }
        };

        let mut assets = BTreeMap::new();
        let mut warnings = Vec::new();
        for (id, a) in &spec.assets {
            let asset = self.asset(id, a, voxel_size, &material, &mut materials, &mut warnings)?;
            assets.insert(id.clone(), Arc::new(asset));
        }

        let sun = match &spec.lights.sun {
            None => None,
            Some(s) => {
                let d = self.finite("lights.sun.direction", s.direction)?;
                if d.length_squared() < 1e-12 {
                    return Err(self.err("lights.sun.direction", "the direction is zero"));
                }
                let c = self.colour("lights.sun.color", s.color, 1.0e4)?;
                if !s.intensity.is_finite() || s.intensity < 0.0 {
                    return Err(self.err("lights.sun.intensity", "must be finite and >= 0"));
                }
                Some(Sun { direction: d.normalize(), radiance: c * s.intensity })
            }
        };
        let sky = Sky {
            zenith: self.colour("lights.sky.zenith", spec.lights.sky.zenith, 1.0e4)?,
            horizon: self.colour("lights.sky.horizon", spec.lights.sky.horizon, 1.0e4)?,
            ground: self.colour("lights.sky.ground", spec.lights.sky.ground, 1.0e4)?,
        };

        let mut bookmarks = BTreeMap::new();
        for (name, b) in &spec.bookmarks {
            let place = format!("bookmarks.{name}");
            let position = self.finite(&format!("{place}.position"), b.position)?;
            if !b.yaw.is_finite() || !b.pitch.is_finite() || b.pitch.abs() > 90.0 || b.yaw.abs() > 1e6 {
                return Err(self.err(place, "yaw must be within +-1e6 degrees and pitch within [-90, 90]"));
            }
            let (lo, hi) = bounds;
            if position.x < lo.x || position.x >= hi.x || position.z < lo.y || position.z >= hi.y {
                return Err(self.err(
                    format!("{place}.position"),
                    format!("{position} is outside the bounds x {}..{}, z {}..{}", lo.x, hi.x, lo.y, hi.y),
                ));
            }
            if position.y.abs() > 1e5 {
                return Err(self.err(format!("{place}.position"), format!("height {} is beyond +-1e5 m", position.y)));
            }
            bookmarks.insert(name.clone(), Bookmark { position, yaw: b.yaw, pitch: b.pitch });
        }
        if !bookmarks.contains_key("main") {
            return Err(self.err("bookmarks", "every world needs a bookmark named \"main\""));
        }

        let grid = crate::streaming::RegionGrid::covering(region_size, bounds.0, bounds.1);
        let mut placements = Vec::with_capacity(spec.placements.len());
        for (i, p) in spec.placements.iter().enumerate() {
            placements.push(self.placement(&format!("placements[{i}]"), p, &assets, &terrain, &grid)?);
        }
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        for (i, p) in placements.iter().enumerate() {
            if !seen.insert(&p.placement_id) {
                return Err(
                    self.err(format!("placements[{i}].id"), format!("duplicate placement id \"{}\"", p.placement_id))
                );
            }
        }
        drop(seen);
        for (i, s) in spec.scatter.iter().enumerate() {
            let scatter = self.scatter(&format!("scatter[{i}]"), s, &assets, bounds)?;
            let before = placements.len();
            placements.extend(scatter.generate(spec.seed, &terrain));
            let mut ids: FxHashSet<&str> = placements[..before].iter().map(|p| p.placement_id.as_str()).collect();
            for p in &placements[before..] {
                if !ids.insert(&p.placement_id) {
                    return Err(self.err(
                        format!("scatter[{i}].idPrefix"),
                        format!("generated id \"{}\" collides with another placement", p.placement_id),
                    ));
                }
            }
        }
        placements.sort_unstable_by(|a, b| a.placement_id.cmp(&b.placement_id));

        let mut world = World {
            name: spec.name.clone(),
            purpose: spec.purpose.clone(),
            seed: spec.seed,
            source: self.file.clone(),
            content_hash,
            region_size,
            voxel_size,
            probe_spacing,
            bounds,
            terrain,
            materials,
            assets,
            placements,
            lights: Lights { sun, sky },
            bookmarks,
            timeline: Vec::new(),
            warnings,
        };
        let mut server = world
            .server(ServerConfig::default(), Arc::new(SimClock::new()))
            .map_err(|e| self.err("placements", e.to_string()))?;
        let (explicit, churns) = self.timeline(&spec.timeline, &world)?;
        world.timeline = expand(explicit, &churns, world.seed, &world.terrain, world.bounds, &mut server)
            .map_err(|(place, e)| self.err(place, e.to_string()))?;
        if let Some(why) = crate::voxel::world::grid_layout(&world).over_limit {
            return Err(self.err("terrain, placements and timeline", format!("{why}; keep the world lower")));
        }
        Ok(world)
    }

    fn bounds(&self, place: &str, b: &BoundsSpec) -> R<(Vec2, Vec2)> {
        if !b.min.is_finite() || !b.max.is_finite() || b.min.cmpge(b.max).any() {
            return Err(self.err(place, format!("min {} must be finite and below max {} on both axes", b.min, b.max)));
        }
        Ok((b.min, b.max))
    }

    fn asset(
        &self,
        id: &str,
        a: &AssetSpec,
        world_voxel: f32,
        material: &dyn Fn(&str, &str) -> R<u16>,
        materials: &mut Vec<Material>,
        warnings: &mut Vec<String>,
    ) -> R<Asset> {
        let place = format!("assets.{id}");
        let model = match (&a.vox, &a.shapes) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(self.err(place, "an asset needs exactly one of \"vox\" (a file) or \"shapes\""))
            }
            (Some(vox), None) => {
                let voxel_size = match a.voxel_size {
                    Some(v) => self.within(&format!("{place}.voxelSize"), v, MIN_VOXEL_SIZE, MAX_VOXEL_SIZE)?,
                    None => world_voxel,
                };
                let mut emissive = Vec::new();
                for (k, v) in &a.emissive {
                    let index: u8 =
                        k.parse().ok().filter(|i| *i >= 1).ok_or_else(|| {
                            self.err(format!("{place}.emissive.{k}"), "keys are palette indices 1..=255")
                        })?;
                    emissive.push((index, self.colour(&format!("{place}.emissive.{k}"), *v, 1.0e4)?));
                }
                let path = self.dir.join(vox);
                let (m, notes) = load_vox(&path, voxel_size, &emissive, id, materials)
                    .map_err(|reason| self.err(format!("{place}.vox"), format!("{}: {reason}", path.display())))?;
                warnings.extend(notes.into_iter().map(|n| format!("{place}.vox ({}): {n}", path.display())));
                m
            }
            (None, Some(shapes)) => {
                if a.voxel_size.is_some() || !a.emissive.is_empty() {
                    return Err(self.err(place, "\"voxelSize\" and \"emissive\" apply to .vox assets only"));
                }
                if shapes.is_empty() {
                    return Err(self.err(format!("{place}.shapes"), "an asset needs at least one shape"));
                }
                let mut out = Vec::with_capacity(shapes.len());
                for (i, s) in shapes.iter().enumerate() {
                    out.push(self.shape(&format!("{place}.shapes[{i}]"), s, material)?);
                }
                if out.iter().all(|s| s.material.is_none()) {
                    return Err(self.err(format!("{place}.shapes"), "every shape carves: the asset would be empty"));
                }
                AssetModel::Shapes(out)
            }
        };
        let bounds = match &model {
            AssetModel::Vox(m) => m.bounds(),
            AssetModel::Scene(parts) => parts.iter().fold(crate::geom::Aabb::EMPTY, |b, p| b.union(&p.bounds)),
            AssetModel::Shapes(s) => s
                .iter()
                .filter(|s| s.material.is_some())
                .fold(crate::geom::Aabb::EMPTY, |b, s| b.union(&s.kind.bounds())),
        };
        Ok(Asset { id: id.to_string(), model, bounds })
    }

    fn shape(&self, place: &str, s: &ShapeSpec, material: &dyn Fn(&str, &str) -> R<u16>) -> R<Shape> {
        let mat = |m: &Option<String>| -> R<Option<u16>> {
            m.as_deref().map(|n| material(&format!("{place}.material"), n)).transpose()
        };
        let (kind, m) = match s {
            ShapeSpec::Box { min, max, material: m } => {
                let (min, max) =
                    (self.finite(&format!("{place}.min"), *min)?, self.finite(&format!("{place}.max"), *max)?);
                if min.cmpge(max).any() {
                    return Err(self.err(place, format!("min {min} must be below max {max} on every axis")));
                }
                (ShapeKind::Box { min, max }, m)
            }
            ShapeSpec::Cylinder { base, radius, height, material: m } => (
                ShapeKind::Cylinder {
                    base: self.finite(&format!("{place}.base"), *base)?,
                    radius: self.positive(&format!("{place}.radius"), *radius)?,
                    height: self.positive(&format!("{place}.height"), *height)?,
                },
                m,
            ),
            ShapeSpec::Sphere { center, radius, material: m } => (
                ShapeKind::Sphere {
                    center: self.finite(&format!("{place}.center"), *center)?,
                    radius: self.positive(&format!("{place}.radius"), *radius)?,
                },
                m,
            ),
        };
        Ok(Shape { kind, material: mat(m)? })
    }

    fn placement(
        &self,
        place: &str,
        p: &PlacementSpec,
        assets: &BTreeMap<String, Arc<Asset>>,
        terrain: &Terrain,
        grid: &crate::streaming::RegionGrid,
    ) -> R<Placement> {
        if p.id.is_empty() {
            return Err(self.err(format!("{place}.id"), "the id is empty"));
        }
        if !assets.contains_key(&p.asset) {
            return Err(self.err(
                format!("{place}.asset"),
                format!("unknown asset \"{}\" (known: {})", p.asset, join(assets.keys())),
            ));
        }
        let mut position = self.finite(&format!("{place}.position"), p.position)?;
        if p.on_terrain {
            position.y += terrain.height(position.x, position.z).unwrap_or(0.0);
        }
        let transform = Transform {
            position,
            rotation: self.finite(&format!("{place}.rotation"), p.rotation.unwrap_or(Vec3::ZERO))?,
            scale: p.scale.map_or(Vec3::ONE, ScaleSpec::vec),
        };
        if let Some(reason) = transform.invalid_reason() {
            return Err(self.err(format!("{place}.scale"), reason));
        }
        if transform.scale.max_element() > MAX_SCALE || transform.scale.min_element() < MIN_SCALE {
            return Err(self.err(
                format!("{place}.scale"),
                format!("{} must be within {MIN_SCALE}..={MAX_SCALE} on every axis", transform.scale),
            ));
        }
        let tint = self.colour(&format!("{place}.tint"), p.tint.unwrap_or(Vec3::ONE), 16.0)?;
        let emission = p.emission.unwrap_or(1.0);
        if !emission.is_finite() || emission < 0.0 {
            return Err(self.err(format!("{place}.emission"), format!("{emission} must be finite and >= 0")));
        }
        let region = grid.region_of(position).ok_or_else(|| {
            self.err(
                format!("{place}.position"),
                format!("{position} lies outside the world's regions {}", grid.describe()),
            )
        })?;
        if let Some(r) = &p.region {
            let named = grid.parse(r).map_err(|e| self.err(format!("{place}.region"), e.to_string()))?;
            if named != region {
                return Err(
                    self.err(format!("{place}.region"), format!("says {named} but the position lies in {region}"))
                );
            }
        }
        let mut tags = p.tags.clone();
        tags.sort_unstable();
        tags.dedup();
        Ok(Placement {
            placement_id: p.id.clone(),
            asset_id: p.asset.clone(),
            region_id: region,
            transform,
            tags,
            tint,
            emission,
            flags: if p.casts_shadow == Some(false) { flags::VISIBLE } else { flags::DEFAULT },
            is_valid: true,
            has_warnings: false,
        })
    }

    fn scatter(
        &self,
        place: &str,
        s: &ScatterSpec,
        assets: &BTreeMap<String, Arc<Asset>>,
        world: (Vec2, Vec2),
    ) -> R<Scatter> {
        if s.id_prefix.is_empty() {
            return Err(self.err(format!("{place}.idPrefix"), "the prefix is empty"));
        }
        if s.assets.is_empty() {
            return Err(self.err(format!("{place}.assets"), "at least one asset is needed"));
        }
        for (i, a) in s.assets.iter().enumerate() {
            if !assets.contains_key(a) {
                return Err(self.err(format!("{place}.assets[{i}]"), format!("unknown asset \"{a}\"")));
            }
        }
        if s.count > 5_000_000 {
            return Err(self.err(format!("{place}.count"), "at most 5,000,000 placements per scatter"));
        }
        let area = self.bounds(&format!("{place}.area"), &s.area)?;
        if area.0.cmplt(world.0).any() || area.1.cmpgt(world.1).any() {
            return Err(self.err(format!("{place}.area"), "the area must lie inside the world's bounds"));
        }
        let grid_cell = match s.layout {
            ScatterLayout::Random => None,
            ScatterLayout::Grid => Some(self.positive(
                &format!("{place}.cell"),
                s.cell.ok_or_else(|| self.err(format!("{place}.cell"), "the grid layout needs a cell size"))?,
            )?),
        };
        let scale = s.scale.unwrap_or(Vec2::ONE);
        if !scale.is_finite() || scale.x <= 0.0 || scale.y < scale.x {
            return Err(self.err(format!("{place}.scale"), "the scale range must be finite with 0 < lo <= hi"));
        }
        if let Some(t) = s.tint {
            if !t.is_finite() || t.x < 0.0 || t.y < t.x {
                return Err(self.err(format!("{place}.tint"), "the tint range must be finite with 0 <= lo <= hi"));
            }
        }
        let mut avoid = Vec::new();
        for (i, a) in s.avoid.iter().enumerate() {
            avoid.push(self.bounds(&format!("{place}.avoid[{i}]"), a)?);
        }
        Ok(Scatter {
            id_prefix: s.id_prefix.clone(),
            assets: s.assets.clone(),
            count: s.count,
            area,
            grid_cell,
            seed: s.seed,
            scale,
            random_yaw: s.random_yaw,
            on_terrain: s.on_terrain,
            tint: s.tint,
            tags: s.tags.clone(),
            avoid,
        })
    }

    fn timeline(&self, specs: &[TimelineSpec], world: &World) -> R<(Vec<TimelineEvent>, Vec<Churn>)> {
        let grid = world.grid();
        let time = |place: &str, t: f64| -> R<f64> {
            if t.is_finite() && t >= 0.0 {
                Ok(t)
            } else {
                Err(self.err(format!("{place}.t"), format!("{t} must be a finite time >= 0 seconds")))
            }
        };
        let mut explicit = Vec::new();
        let mut churns = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let place = format!("timeline[{i}]");
            match s {
                TimelineSpec::Add { t, placement } => {
                    let p =
                        self.placement(&format!("{place}.placement"), placement, &world.assets, &world.terrain, &grid)?;
                    explicit.push(TimelineEvent { t: time(&place, *t)?, place, edits: vec![Edit::Add(p)] });
                }
                TimelineSpec::Update { t, id, set } => {
                    let patch = self.patch(&format!("{place}.set"), set, world)?;
                    explicit.push(TimelineEvent {
                        t: time(&place, *t)?,
                        place,
                        edits: vec![Edit::Update { id: id.clone(), patch }],
                    });
                }
                TimelineSpec::Remove { t, id } => {
                    explicit.push(TimelineEvent {
                        t: time(&place, *t)?,
                        place,
                        edits: vec![Edit::Remove { id: id.clone() }],
                    });
                }
                TimelineSpec::Churn { start, end, interval, edits_per_tick, max_move, tag, seed } => {
                    let start = time(&place, *start)?;
                    let end = time(&place, *end)?;
                    if !interval.is_finite() || *interval < 0.01 {
                        return Err(self.err(format!("{place}.interval"), "must be at least 0.01 seconds"));
                    }
                    if (end - start) / interval > 100_000.0 {
                        return Err(self.err(place, "more than 100,000 ticks"));
                    }
                    if *edits_per_tick > MAX_CHURN_EDITS_PER_TICK {
                        return Err(self.err(
                            format!("{place}.editsPerTick"),
                            format!("{edits_per_tick} is more than {MAX_CHURN_EDITS_PER_TICK}"),
                        ));
                    }
                    let ticks = ((end - start) / interval).max(0.0) + 1.0;
                    if ticks * *edits_per_tick as f64 > MAX_CHURN_EDITS as f64 {
                        return Err(self.err(
                            place,
                            format!("ticks times editsPerTick is more than {MAX_CHURN_EDITS} edits in all"),
                        ));
                    }
                    if !max_move.is_finite() || *max_move < 0.0 {
                        return Err(self.err(format!("{place}.maxMove"), "must be finite and >= 0"));
                    }
                    churns.push(Churn {
                        place,
                        start,
                        end,
                        interval: *interval,
                        edits_per_tick: *edits_per_tick,
                        max_move: *max_move,
                        tag: tag.clone(),
                        seed: *seed,
                    });
                }
            }
        }
        Ok((explicit, churns))
    }

    fn patch(&self, place: &str, s: &UpdateSpec, world: &World) -> R<PlacementPatch> {
        if let Some(a) = &s.asset {
            if !world.assets.contains_key(a) {
                return Err(self.err(format!("{place}.asset"), format!("unknown asset \"{a}\"")));
            }
        }
        let opt = |name: &str, v: Option<Vec3>| v.map(|v| self.finite(&format!("{place}.{name}"), v)).transpose();
        Ok(PlacementPatch {
            asset_id: s.asset.clone(),
            position: opt("position", s.position)?,
            rotation: opt("rotation", s.rotation)?,
            scale: opt("scale", s.scale.map(ScaleSpec::vec))?,
            tint: opt("tint", s.tint)?,
            emission: s.emission,
            tags: s.tags.clone(),
            flags: None,
        })
    }
}

fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
