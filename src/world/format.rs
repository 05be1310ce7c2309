//! The world file as written on disk (JSON, documented in the README). These types only describe syntax;
//! [`super::load`] checks meaning and builds a [`super::World`]. Unknown fields are errors, so a typo never
//! silently becomes a default.

use std::collections::BTreeMap;

use glam::{Vec2, Vec3};
use serde::Deserialize;

/// The newest world format this build reads.
pub const WORLD_FORMAT: u32 = 1;

/// Top level of a world file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorldFile {
    /// Format version, currently 1.
    pub format: u32,
    /// Short name (sample worlds use their file name).
    pub name: String,
    /// One line saying what the world is for.
    pub purpose: String,
    /// Seed of everything generated (terrain, scatter, generated timelines).
    pub seed: u64,
    /// Edge of a streaming region, metres.
    pub region_size: f32,
    /// Edge of a voxel, metres.
    pub voxel_size: f32,
    /// Spacing of the finest probe level, metres (default 1).
    #[serde(default)]
    pub probe_spacing: Option<f32>,
    /// XZ extent of the world, metres.
    pub bounds: BoundsSpec,
    /// Ground generation.
    #[serde(default)]
    pub terrain: TerrainSpec,
    /// Named materials used by terrain and shape assets.
    #[serde(default)]
    pub materials: BTreeMap<String, MaterialSpec>,
    /// The asset catalog: voxel models by id.
    pub assets: BTreeMap<String, AssetSpec>,
    /// Placements listed one by one.
    #[serde(default)]
    pub placements: Vec<PlacementSpec>,
    /// Placements generated from the seed.
    #[serde(default)]
    pub scatter: Vec<ScatterSpec>,
    /// Sun and sky.
    pub lights: LightsSpec,
    /// Named camera positions; `main` is required.
    pub bookmarks: BTreeMap<String, BookmarkSpec>,
    /// Scripted edits in simulated time.
    #[serde(default)]
    pub timeline: Vec<TimelineSpec>,
}

/// XZ rectangle, metres.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundsSpec {
    /// Minimum `[x, z]`.
    pub min: Vec2,
    /// Maximum `[x, z]`.
    pub max: Vec2,
}

/// Ground generation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum TerrainSpec {
    /// No ground at all.
    #[default]
    None,
    /// A flat ground at `height`.
    Flat {
        /// Ground level, metres.
        height: f32,
        /// Material of the ground.
        material: String,
    },
    /// Fractal noise heights from the world seed: `base + amplitude * fbm(frequency * xz)`.
    Noise {
        /// Mean ground level, metres.
        base_height: f32,
        /// Peak deviation, metres.
        amplitude: f32,
        /// Base frequency, 1/metres.
        frequency: f32,
        /// Octaves of the fractal sum (1..=8).
        octaves: u32,
        /// Material of the top layer.
        material: String,
        /// Material of steep slopes (above 45 degrees).
        slope_material: Option<String>,
    },
}

/// A material: linear RGB albedo in [0, 1] and emitted radiance (linear RGB, may exceed 1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialSpec {
    /// Diffuse reflectance.
    pub albedo: Vec3,
    /// Emitted radiance.
    #[serde(default)]
    pub emissive: Vec3,
}

/// A voxel model: either a MagicaVoxel file (`vox`) or shapes described in the file (`shapes`), not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetSpec {
    /// Path of a `.vox` file, relative to the world file.
    #[serde(default)]
    pub vox: Option<String>,
    /// Metres per model voxel of a `.vox` asset (default: the world's voxel size).
    #[serde(default)]
    pub voxel_size: Option<f32>,
    /// Emission of `.vox` palette entries, keyed by palette index `"1"..="255"`, linear RGB.
    #[serde(default)]
    pub emissive: BTreeMap<String, Vec3>,
    /// Shapes in the asset's local frame (metres, pivot at the origin), applied in order: a later shape
    /// overrides an earlier one where they overlap.
    #[serde(default)]
    pub shapes: Option<Vec<ShapeSpec>>,
}

/// One shape of a described asset. `material: null` carves empty space (doors, windows).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", rename_all_fields = "camelCase", tag = "shape")]
pub enum ShapeSpec {
    /// An axis-aligned box.
    Box {
        /// Minimum corner.
        min: Vec3,
        /// Maximum corner.
        max: Vec3,
        /// Material name, or `null` to carve.
        material: Option<String>,
    },
    /// A vertical cylinder standing on `base`.
    Cylinder {
        /// Centre of the bottom disc.
        base: Vec3,
        /// Radius, metres.
        radius: f32,
        /// Height, metres.
        height: f32,
        /// Material name, or `null` to carve.
        material: Option<String>,
    },
    /// A sphere.
    Sphere {
        /// Centre.
        center: Vec3,
        /// Radius, metres.
        radius: f32,
        /// Material name, or `null` to carve.
        material: Option<String>,
    },
}

/// Uniform or per-axis scale.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub enum ScaleSpec {
    /// The same factor on every axis.
    Uniform(f32),
    /// `[x, y, z]` factors.
    PerAxis(Vec3),
}

impl ScaleSpec {
    /// As a vector.
    pub fn vec(self) -> Vec3 {
        match self {
            ScaleSpec::Uniform(s) => Vec3::splat(s),
            ScaleSpec::PerAxis(v) => v,
        }
    }
}

/// A placement written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlacementSpec {
    /// Unique id.
    pub id: String,
    /// Asset id from the catalog.
    pub asset: String,
    /// Position of the asset's pivot, metres. With `onTerrain`, `y` is a height above the ground.
    pub position: Vec3,
    /// Euler degrees `[x, y, z]`.
    #[serde(default)]
    pub rotation: Option<Vec3>,
    /// Scale (default 1).
    #[serde(default)]
    pub scale: Option<ScaleSpec>,
    /// Albedo multiplier (default `[1, 1, 1]`).
    #[serde(default)]
    pub tint: Option<Vec3>,
    /// Emission multiplier (default 1).
    #[serde(default)]
    pub emission: Option<f32>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Casts no shadow when false (default true).
    #[serde(default)]
    pub casts_shadow: Option<bool>,
    /// Stand on the terrain: `position.y` is added to the ground height.
    #[serde(default)]
    pub on_terrain: bool,
    /// Optional region id; when given it must be the region of `position`.
    #[serde(default)]
    pub region: Option<String>,
}

/// Placements generated from the seed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScatterSpec {
    /// Ids are `<idPrefix>-<index, 6 digits>`.
    pub id_prefix: String,
    /// Assets drawn uniformly.
    pub assets: Vec<String>,
    /// How many to place (`random` layout) or the fill probability's cap (`grid`).
    pub count: usize,
    /// XZ area, metres.
    pub area: BoundsSpec,
    /// `random` (uniform) or `grid` (one per `cell`, jittered).
    #[serde(default)]
    pub layout: ScatterLayout,
    /// Grid cell, metres (grid layout).
    #[serde(default)]
    pub cell: Option<f32>,
    /// Mixed with the world seed.
    #[serde(default)]
    pub seed: u64,
    /// Uniform scale range `[lo, hi]`.
    #[serde(default)]
    pub scale: Option<Vec2>,
    /// Random rotation about Y.
    #[serde(default)]
    pub random_yaw: bool,
    /// Stand on the terrain.
    #[serde(default)]
    pub on_terrain: bool,
    /// Random tint range per channel `[lo, hi]` (default none).
    #[serde(default)]
    pub tint: Option<Vec2>,
    /// Tags of every generated placement.
    #[serde(default)]
    pub tags: Vec<String>,
    /// XZ rectangles kept free.
    #[serde(default)]
    pub avoid: Vec<BoundsSpec>,
}

/// How scatter positions are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScatterLayout {
    /// Uniform random positions.
    #[default]
    Random,
    /// One candidate per grid cell with jitter; `count` caps the total.
    Grid,
}

/// Sun and sky.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LightsSpec {
    /// The sun, or `null` for none.
    pub sun: Option<SunSpec>,
    /// The sky dome.
    pub sky: SkySpec,
}

/// A directional light.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SunSpec {
    /// Direction towards the sun (normalised on load).
    pub direction: Vec3,
    /// Linear RGB colour.
    pub color: Vec3,
    /// Irradiance multiplier.
    pub intensity: f32,
}

/// A sky gradient from horizon to zenith, and a ground colour below the horizon.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkySpec {
    /// Radiance straight up.
    pub zenith: Vec3,
    /// Radiance at the horizon.
    pub horizon: Vec3,
    /// Radiance below the horizon.
    pub ground: Vec3,
}

/// A named camera position.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookmarkSpec {
    /// Eye position, metres.
    pub position: Vec3,
    /// Heading in degrees (0 looks along -Z, 90 along -X).
    pub yaw: f32,
    /// Elevation in degrees (positive looks up).
    pub pitch: f32,
}

/// Fields an update may set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSpec {
    /// New asset.
    pub asset: Option<String>,
    /// New position (absolute).
    pub position: Option<Vec3>,
    /// New rotation.
    pub rotation: Option<Vec3>,
    /// New scale.
    pub scale: Option<ScaleSpec>,
    /// New tint.
    pub tint: Option<Vec3>,
    /// New emission multiplier (0 switches lamps off).
    pub emission: Option<f32>,
    /// New tags.
    pub tags: Option<Vec<String>>,
}

/// One timeline entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", rename_all_fields = "camelCase", tag = "op")]
pub enum TimelineSpec {
    /// Adds a placement at time `t`.
    Add {
        /// Seconds of simulated time.
        t: f64,
        /// The new placement.
        placement: PlacementSpec,
    },
    /// Changes fields of a placement at time `t`.
    Update {
        /// Seconds of simulated time.
        t: f64,
        /// Placement id.
        id: String,
        /// Fields to change.
        set: UpdateSpec,
    },
    /// Removes a placement at time `t`.
    Remove {
        /// Seconds of simulated time.
        t: f64,
        /// Placement id.
        id: String,
    },
    /// Generated busy traffic: every `interval` seconds in `[start, end)`, `editsPerTick` random edits (moves,
    /// recolours, lamp switches, removals and re-additions) on placements carrying `tag` (any when absent).
    Churn {
        /// First tick, seconds.
        start: f64,
        /// End, seconds (exclusive).
        end: f64,
        /// Seconds between ticks.
        interval: f64,
        /// Edits per tick.
        edits_per_tick: usize,
        /// Largest move per edit, metres (moves may cross region borders).
        max_move: f32,
        /// Only placements with this tag.
        #[serde(default)]
        tag: Option<String>,
        /// Mixed with the world seed.
        #[serde(default)]
        seed: u64,
    },
}
