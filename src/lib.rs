//! lumon: a desktop viewer for streamed voxel worlds lit by world-space clipmap probes.
//!
//! Data flow (see `ARCHITECTURE` in the README): a world file and its timeline feed an in-process
//! [`streaming`] server; the streaming client pulls snapshots and deltas for the regions around the camera and
//! turns them into scene changes with boxes. Every module here except the renderer is pure CPU code.
//!
//! - [`geom`]: boxes and placement transforms.
//! - [`hash`]: deterministic hashing and random numbers.
//! - [`streaming`]: the region streaming model (types, cursors, server, client).
//! - [`world`]: world files, assets, terrain, scatter, timelines, sample worlds.
//! - [`probes`]: probe payload math (SH L1, octahedral AO), CPU trace jobs, reference integrator.
//! - [`voxel`]: the voxel world (bricks, edits from scene changes, DDA traversal, light at a hit).
//! - [`bench`]: headless runs of the CPU pipeline along camera paths (`lumon bench --no-gpu`).
//! - [`stream_run`]: the `lumon stream` runner (timeline in simulated time, JSON lines).

pub mod bench;
pub mod geom;
pub mod hash;
pub mod probes;
pub mod stream_run;
pub mod streaming;
pub mod voxel;
pub mod world;
