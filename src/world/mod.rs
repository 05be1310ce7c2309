//! Worlds: the files users load, and everything generated from them.
//!
//! A world file (JSON, see docs/world-format.md) is parsed into [`format`] types, checked and resolved by
//! [`load`] into a [`World`]: materials, the asset catalog ([`assets`]: MagicaVoxel models and scenes read by
//! [`vox`], or shapes), the terrain ([`terrain`]), initial placements (listed and [`scatter`]ed), lights,
//! camera bookmarks and the [`timeline`] expanded into timed commits. A MagicaVoxel `.vox` file is a world
//! too: [`vox`] turns its scene graph into placements, its animation into a timeline, its cameras into
//! bookmarks. [`samples`] finds the sample worlds.

pub mod assets;
pub mod error;
pub mod format;
pub mod load;
pub mod samples;
pub mod scatter;
pub mod terrain;
pub mod timeline;
pub mod vox;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use glam::{Vec2, Vec3};
use rustc_hash::FxHashMap;

pub use assets::{Asset, AssetModel, Material};
pub use error::WorldError;
pub use load::{load_world, load_world_str, load_world_with};
pub use samples::{resolve_world, sample_worlds, SampleWorld, DEFAULT_WORLD};
pub use terrain::Terrain;
pub use timeline::TimelineEvent;

use crate::geom::Aabb;
use crate::streaming::{Clock, Placement, RegionGrid, ServerConfig, StreamError, StreamServer};

/// A directional light.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sun {
    /// Unit vector towards the sun.
    pub direction: Vec3,
    /// Linear RGB colour times intensity.
    pub radiance: Vec3,
}

/// The sky: a gradient from horizon to zenith, a flat ground colour below the horizon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sky {
    /// Radiance straight up.
    pub zenith: Vec3,
    /// Radiance at the horizon.
    pub horizon: Vec3,
    /// Radiance below the horizon.
    pub ground: Vec3,
}

impl Sky {
    /// Sky radiance seen along a unit direction.
    pub fn radiance(&self, dir: Vec3) -> Vec3 {
        if dir.y < 0.0 {
            self.ground
        } else {
            self.horizon.lerp(self.zenith, dir.y.sqrt())
        }
    }
}

/// Sun and sky.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lights {
    /// The sun, if any.
    pub sun: Option<Sun>,
    /// The sky.
    pub sky: Sky,
}

/// A named camera position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bookmark {
    /// Eye position, metres.
    pub position: Vec3,
    /// Heading, degrees (0 looks along -Z).
    pub yaw: f32,
    /// Elevation, degrees.
    pub pitch: f32,
}

/// A loaded, checked world.
#[derive(Clone, Debug)]
pub struct World {
    /// Short name.
    pub name: String,
    /// One line saying what the world is for.
    pub purpose: String,
    /// Seed of everything generated.
    pub seed: u64,
    /// The file it came from.
    pub source: PathBuf,
    /// Hash of the file's bytes (goes into the stream epoch and cache keys).
    pub content_hash: u64,
    /// Edge of a streaming region, metres.
    pub region_size: f32,
    /// Edge of a voxel, metres.
    pub voxel_size: f32,
    /// Spacing of the finest probe level, metres.
    pub probe_spacing: f32,
    /// XZ extent `[min, max)`, metres.
    pub bounds: (Vec2, Vec2),
    /// Ground.
    pub terrain: Terrain,
    /// Material table; ids are indices.
    pub materials: Vec<Material>,
    /// Asset catalog by id.
    pub assets: BTreeMap<String, Arc<Asset>>,
    /// Placements at time 0 (listed and scattered), ordered by id.
    pub placements: Vec<Placement>,
    /// Sun and sky.
    pub lights: Lights,
    /// Camera bookmarks; `main` always exists.
    pub bookmarks: BTreeMap<String, Bookmark>,
    /// Timeline commits in time order.
    pub timeline: Vec<TimelineEvent>,
    /// What was read differently from the file (MagicaVoxel materials drawn as diffuse, hidden instances left
    /// out, chunks skipped), one line each.
    pub warnings: Vec<String>,
}

impl World {
    /// The region grid.
    pub fn grid(&self) -> RegionGrid {
        RegionGrid::covering(self.region_size, self.bounds.0, self.bounds.1)
    }

    /// Local box of every asset, for the streaming client's scene-change boxes.
    pub fn asset_bounds(&self) -> FxHashMap<String, Aabb> {
        self.assets.iter().map(|(k, a)| (k.clone(), a.bounds)).collect()
    }

    /// The `main` bookmark.
    pub fn main_bookmark(&self) -> Bookmark {
        self.bookmarks.get("main").copied().unwrap_or(Bookmark {
            position: Vec3::new(0.0, 10.0, 0.0),
            yaw: 0.0,
            pitch: 0.0,
        })
    }

    /// Time of the last timeline event, seconds (0 without a timeline).
    pub fn duration(&self) -> f64 {
        self.timeline.last().map_or(0.0, |e| e.t)
    }

    /// A streaming server holding the world at time 0 (seq 0), its timeline not yet applied. The epoch is
    /// derived from the world's name and content, so cursors of another world are recognised as foreign.
    pub fn server(&self, config: ServerConfig, clock: Arc<dyn Clock>) -> Result<StreamServer, StreamError> {
        let key = format!("{}:{:016x}", self.name, self.content_hash);
        let mut server = StreamServer::new(&key, self.grid(), self.assets.keys().cloned(), config, clock);
        server.load_initial(self.placements.clone())?;
        Ok(server)
    }
}
