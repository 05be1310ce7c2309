//! Region streaming: the seed's snapshot/delta contract made real.
//!
//! - [`types`]: the contract types (JSON names as in the seed) and service inputs.
//! - [`cursor`]: epoch-tagged, fixed-width, ordered cursors.
//! - [`grid`]: regions as cells of the world's XZ grid.
//! - [`server`]: state + change log with retention and compaction; implements [`RegionStreamingService`].
//! - [`apply`]: applying deltas to snapshots (strict).
//! - [`client`]: interest set around the camera, scene replica, scene changes with boxes, stats.
//! - [`clock`]: injected clocks for `createdAt`.
//!
//! The laws of `spec/streaming.md` are property tests in `tests/streaming_laws.rs`.

pub mod apply;
pub mod client;
pub mod clock;
pub mod cursor;
pub mod error;
pub mod grid;
pub mod server;
pub mod service;
pub mod types;

pub use apply::{apply_region_delta, apply_world_delta};
pub use client::{ChangeCause, ClientConfig, ClientStats, SceneChange, SceneChangeKind, SceneEntry, StreamingClient};
pub use clock::{Clock, SimClock, SystemClock};
pub use cursor::Cursor;
pub use error::StreamError;
pub use grid::RegionGrid;
pub use server::{Edit, PlacementPatch, ServerConfig, StreamServer};
pub use service::RegionStreamingService;
pub use types::*;
