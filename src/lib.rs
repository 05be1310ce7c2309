//! lumon: a desktop viewer for streamed voxel worlds lit by world-space clipmap probes.
//!
//! Data flow (see the README and `ARCHITECTURE.md`): a world file and its timeline feed an in-process
//! [`streaming`] server; the streaming client pulls snapshots and deltas for the regions around the camera and
//! turns them into scene changes with boxes; the [`voxel`] world applies them (rebuilding only touched bricks)
//! and reports the edited boxes; the [`probes`] manager keeps camera-centred clipmap levels of irradiance
//! probes, traces them on a thread pool, caches them in memory and on disk, and hands out upload lists; the
//! [`render`] module draws the frame with wgpu compute passes, and [`app`] is the viewer window. Every other
//! module is pure CPU code.
//!
//! - [`geom`]: boxes and placement transforms.
//! - [`hash`]: deterministic hashing and random numbers.
//! - [`streaming`]: the region streaming model (types, cursors, server, client).
//! - [`world`]: world files, assets, terrain, scatter, timelines, sample worlds.
//! - [`probes`]: probe payload math, CPU trace jobs, reference integrator, clipmap topology and the manager
//!   (scheduling, region caches, disk persistence, invalidation).
//! - [`voxel`]: the voxel world (bricks, edits from scene changes, slab-march traversal, light at a hit).
//! - [`pipeline`]: the frame loop every front end shares (timeline, streaming, voxel edits, probe step).
//! - [`bench`]: headless runs of the pipeline along camera paths (`lumon bench`, with or without the GPU).
//! - [`render`]: the renderer (wgpu context, buffers, passes, GPU timing) and [`capture`] (`lumon capture`).
//! - [`compare`]: the probes' lighting against a path-traced reference per pixel (`lumon compare`, and the
//!   viewer's reference mode).
//! - [`app`]: the viewer (winit loop, fly camera, egui panels).
//! - [`stream_run`]: the `lumon stream` runner (timeline in simulated time, JSON lines).

pub mod app;
pub mod bench;
pub mod capture;
pub mod compare;
pub mod geom;
pub mod hash;
pub mod inspect;
pub mod pipeline;
pub mod prefetch;
pub mod probes;
pub mod render;
pub mod stream_run;
pub mod streaming;
pub mod voxel;
pub mod world;
