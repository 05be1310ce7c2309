//! MagicaVoxel scenes: a `.vox` file read whole (models, scene graph, layers, palette, materials, cameras,
//! render settings) and turned into a lumon [`World`](super::World) or a scene asset.
//!
//! - [`parse`] reads the chunks, checking every length; [`scene`] resolves the graph into instances with
//!   exact poses per animation frame; [`materials`] maps `MATL` types to what lumon draws; [`build`] turns it
//!   all into assets, placements, a timeline, bookmarks and lights; [`write`] writes `.vox` files (tests and the
//!   example scenes use it).
//! - MagicaVoxel is Z-up, lumon Y-up: [`build::TO_LUMON`] converts once, `(x, y, z) -> (x, z, -y)`, a proper
//!   rotation, so a scene looks in lumon as it does in MagicaVoxel.
//! - Every error names the chunk (with its byte offset) or the node, and the reason.

pub mod build;
pub mod materials;
pub mod parse;
pub mod scene;
pub mod write;

use std::path::Path;

use thiserror::Error;

pub use build::{read_scene, world_from_vox, VoxOptions, VoxScene, DEFAULT_VOXEL_SIZE};

/// Why a `.vox` file cannot be read: the place (a chunk and its byte offset, or a node) and the reason.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{place}: {reason}")]
pub struct VoxError {
    /// Chunk or node, e.g. `chunk XYZI at byte 1234` or `nTRN node 5`.
    pub place: String,
    /// What is wrong.
    pub reason: String,
}

impl VoxError {
    /// An error at `place`.
    pub fn new(place: impl Into<String>, reason: impl Into<String>) -> Self {
        VoxError { place: place.into(), reason: reason.into() }
    }
}

/// True when `path` names a MagicaVoxel file (by its extension, any case).
pub fn is_vox_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("vox"))
}
