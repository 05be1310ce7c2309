//! The frame loop every front end shares: the world's timeline committed to the streaming server in simulated
//! time, the streaming client's interest set around the camera, the voxel world's edits, and the probe
//! manager's step and upload list.
//!
//! [`Pipeline::step`] runs one frame for a camera at the current simulated time and advances the time by one
//! frame. In lockstep (headless bench and tests) it then waits for the frame's traces and disk answers, so the
//! next frame applies them and a run is a pure function of its inputs. In live mode (the viewer) it never
//! waits: finished traces are applied when they arrive, and the probes in flight are capped at what the pool
//! finishes in [`LIVE_FRAMES_IN_FLIGHT`] frames (measured as a moving average), so no backlog builds up when
//! tracing falls behind; probes over the cap stay queued, so no requested update is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use glam::Vec3;
use thiserror::Error;

use crate::probes::disk::{DiskCache, DiskConfig};
use crate::probes::gpu::GPU_PROBE_BYTES;
use crate::probes::manager::{ProbeConfig, ProbeManager, ProbeUpload, StepReport};
use crate::probes::tracer::TraceError;
use crate::streaming::{
    ChangeCause, ClientConfig, ClientStats, Cursor, RegionGrid, RegionId, ServerConfig, SimClock, StreamError,
    StreamServer, StreamingClient,
};
use crate::voxel::{VoxelGrid, VoxelStats, VoxelWorld};
use crate::world::World;

/// Simulated frame rate.
pub const FPS: f32 = 60.0;

/// Live mode keeps at most this many frames' worth of finished traces in flight.
pub const LIVE_FRAMES_IN_FLIGHT: f32 = 3.0;

/// Frames between pulls of world deltas from the server.
const PULL_EVERY_FRAMES: u64 = 15;

/// Why the pipeline could not start or step.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// The tracer pool could not start.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The streaming model refused something (a bug or a bad world).
    #[error("streaming: {0}")]
    Stream(#[from] StreamError),
}

/// Settings of a pipeline.
#[derive(Clone, Debug)]
pub struct PipelineOptions {
    /// Tracer threads.
    pub threads: usize,
    /// Disk cache folder (`None`: no persistence).
    pub cache_dir: Option<PathBuf>,
    /// Disk cache cap, bytes.
    pub disk_cap_bytes: u64,
    /// Probe settings.
    pub probes: ProbeConfig,
    /// Regions within this distance of the camera are streamed in, metres ([`INTEREST_RADIUS`] for the CPU
    /// bench and tests; [`view_radius`] for front ends that draw the world).
    pub interest_radius: f32,
}

/// The streaming interest radius of the CPU bench and tests, metres.
pub const INTEREST_RADIUS: f32 = 160.0;

/// Farthest distance the renderer's front ends stream in, metres.
pub const MAX_VIEW_RADIUS: f32 = 1024.0;

/// The interest radius that streams in a whole world from any point in it (its bounds' diagonal), at most
/// [`MAX_VIEW_RADIUS`]: the viewer and captures draw everything out to the far edge.
pub fn view_radius(world: &World) -> f32 {
    let (lo, hi) = world.bounds;
    (hi - lo).length().clamp(INTEREST_RADIUS, MAX_VIEW_RADIUS)
}

/// What one frame did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameReport {
    /// The probe manager's step.
    pub probes: StepReport,
    /// Render-thread milliseconds of the timeline commits and the streaming client (interest and pulls).
    pub stream_ms: f64,
    /// Render-thread milliseconds of applying the scene changes to the voxel world and taking its snapshot.
    pub voxel_ms: f64,
    /// Render-thread milliseconds of the probe step and upload list (waiting excluded).
    pub gi_ms: f64,
    /// Probe uploads handed out this frame.
    pub uploads: usize,
}

/// The streaming server and client, the voxel world and the probe manager, stepped together.
pub struct Pipeline {
    world: Arc<World>,
    server: StreamServer,
    client: StreamingClient,
    voxels: VoxelWorld,
    manager: ProbeManager,
    grid: Arc<VoxelGrid>,
    /// The next timeline event to commit.
    next_event: usize,
    frame: u64,
    timeline_running: bool,
    /// Simulated time is `origin_time + (frame - origin_frame) / FPS * speed`, or on the wall clock
    /// `origin_time + wall` (see [`Pipeline::use_wall_clock`]).
    origin_time: f32,
    origin_frame: u64,
    /// Simulated seconds since the origin on the wall clock (`None`: time follows frames); `f64`, so a long
    /// session's small steps are not lost to rounding.
    wall: Option<f64>,
    /// Simulated time of the last pull of deltas.
    pulled_at: f32,
    speed: f32,
    uploads: Vec<ProbeUpload>,
    upload_bytes: u64,
    /// Moving average of trace results applied per frame (live mode's in-flight cap).
    applied_per_frame: f32,
    regions: RegionGrid,
    interest_radius: f32,
    /// Simulated time of the latest world edit seen in each region (the viewer's region map).
    edited_at: BTreeMap<RegionId, f32>,
}

impl Pipeline {
    /// A pipeline at time 0 with nothing streamed in yet.
    pub fn new(world: Arc<World>, opts: &PipelineOptions) -> Result<Self, PipelineError> {
        let server = world.server(ServerConfig::default(), Arc::new(SimClock::new()))?;
        let client_config = ClientConfig {
            interest_radius: opts.interest_radius,
            leave_margin: 32.0,
            max_region_loads: 32,
            count_bytes: false,
        };
        let client = StreamingClient::new(client_config, world.grid(), world.asset_bounds());
        let voxels = VoxelWorld::new(world.clone());
        let disk = opts.cache_dir.as_ref().map(|dir| {
            DiskCache::open(DiskConfig {
                dir: dir.clone(),
                cap_bytes: opts.disk_cap_bytes,
                world_seed: world.seed,
                world_name: world.name.clone(),
                spacing: opts.probes.base_spacing,
                region_probes: opts.probes.region_probes,
            })
        });
        let manager = ProbeManager::new(opts.probes.clone(), opts.threads, disk)?;
        let grid = voxels.snapshot();
        Ok(Pipeline {
            server,
            client,
            voxels,
            manager,
            grid,
            next_event: 0,
            frame: 0,
            timeline_running: true,
            origin_time: 0.0,
            origin_frame: 0,
            wall: None,
            pulled_at: 0.0,
            speed: 1.0,
            uploads: Vec::new(),
            upload_bytes: 0,
            applied_per_frame: 0.0,
            regions: world.grid(),
            interest_radius: opts.interest_radius,
            edited_at: BTreeMap::new(),
            world,
        })
    }

    /// Simulated seconds since the start: frames / [`FPS`] at speed 1 (as headless runs have it).
    pub fn time(&self) -> f32 {
        match self.wall {
            Some(w) => (f64::from(self.origin_time) + w) as f32,
            None => self.origin_time + (self.frame - self.origin_frame) as f32 / FPS * self.speed,
        }
    }

    /// Lets simulated time follow the wall clock (the viewer): [`Pipeline::advance`] moves it by the seconds
    /// each frame took, times the speed, and frames no longer do. Headless runs keep time in frames, so they
    /// stay a pure function of their inputs.
    pub fn use_wall_clock(&mut self) {
        self.origin_time = self.time();
        self.origin_frame = self.frame;
        self.wall = Some(0.0);
    }

    /// On the wall clock, moves simulated time on by `seconds` of wall time (at most 1 s a call, so a stall
    /// does not skip the timeline ahead) times the speed.
    pub fn advance(&mut self, seconds: f32) {
        if let Some(w) = &mut self.wall {
            *w += f64::from(seconds.clamp(0.0, 1.0) * self.speed);
        }
    }

    /// Timeline speed: simulated seconds per frame times [`FPS`] (1: real time at 60 Hz; 0: the clock
    /// stands still). Clamped to 0..=64.
    pub fn set_speed(&mut self, speed: f32) {
        self.origin_time = self.time();
        self.origin_frame = self.frame;
        self.wall = self.wall.map(|_| 0.0);
        self.speed = if speed.is_finite() { speed.clamp(0.0, 64.0) } else { 1.0 };
    }

    /// The timeline speed.
    pub fn speed(&self) -> f32 {
        self.speed
    }

    /// Jumps forward to simulated time `t`: every event due by then is committed at the next step. Returns
    /// false (and does nothing) when `t` is before now: the world cannot run backwards, so a front end that
    /// seeks back starts a new pipeline and seeks it forward.
    pub fn seek(&mut self, t: f32) -> bool {
        if !t.is_finite() || t < self.time() || f64::from(t) > crate::streaming::clock::MAX_SIM_SECONDS {
            return false;
        }
        self.origin_time = t;
        self.origin_frame = self.frame;
        self.wall = self.wall.map(|_| 0.0);
        true
    }

    /// Time of the world's last timeline event, seconds (0 without events).
    pub fn timeline_end(&self) -> f32 {
        self.world.timeline.last().map_or(0.0, |e| e.t as f32)
    }

    /// Frames stepped.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// Stops (or resumes) committing timeline events: a still scene.
    pub fn set_timeline_running(&mut self, running: bool) {
        self.timeline_running = running;
    }

    /// One frame for `camera`: timeline events due by now, streaming, voxel edits, the probe step and the
    /// upload list; then, when `lockstep`, waits for the traces and disk answers it started.
    pub fn step(&mut self, camera: Vec3, lockstep: bool) -> Result<FrameReport, PipelineError> {
        let t_stream = Instant::now();
        let t = f64::from(self.time());
        while self.timeline_running {
            let Some(e) = self.world.timeline.get(self.next_event).filter(|e| e.t <= t) else { break };
            self.server.commit(e.edits.clone())?;
            self.next_event += 1;
        }
        let mut changes = self.client.update_interest(&self.server, camera)?;
        // Every 15 frames; on the wall clock also every quarter of a simulated second (a slow frame rate must
        // not delay the stream's changes by 15 frames).
        let due = self.wall.is_some() && self.time() - self.pulled_at >= 0.25;
        if self.frame.is_multiple_of(PULL_EVERY_FRAMES) || due {
            self.pulled_at = self.time();
            changes.extend(self.client.pull(&self.server)?);
        }
        let now = self.time();
        for c in changes.iter().filter(|c| c.cause == ChangeCause::Edited) {
            let b = c.dirty_box();
            if let Some(r) = self.regions.region_of((b.min + b.max) * 0.5) {
                self.edited_at.insert(r, now);
            }
        }
        let t_voxel = Instant::now();
        let loaded: BTreeSet<RegionId> = self.client.regions().clone();
        let edit = self.voxels.apply(&changes, &loaded);
        self.grid = self.voxels.snapshot();
        let t0 = Instant::now();
        let cap = (!lockstep).then(|| {
            let floor = (self.manager.config().global_budget / 4).max(16) as f32;
            (self.applied_per_frame * LIVE_FRAMES_IN_FLIGHT).max(floor) as usize
        });
        self.manager.set_in_flight_cap(cap);
        let probes = self.manager.step(camera, &self.grid, &edit.edited);
        self.applied_per_frame = 0.9 * self.applied_per_frame + 0.1 * probes.applied as f32;
        self.manager.take_uploads(&mut self.uploads);
        let gi_ms = t0.elapsed().as_secs_f64() * 1000.0;
        self.upload_bytes += (self.uploads.len() * GPU_PROBE_BYTES) as u64;
        if lockstep {
            self.manager.wait_idle();
        }
        self.frame += 1;
        Ok(FrameReport {
            probes,
            stream_ms: (t_voxel - t_stream).as_secs_f64() * 1000.0,
            voxel_ms: (t0 - t_voxel).as_secs_f64() * 1000.0,
            gi_ms,
            uploads: self.uploads.len(),
        })
    }

    /// The world.
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// The voxel grid as of the last step.
    pub fn grid(&self) -> &Arc<VoxelGrid> {
        &self.grid
    }

    /// The probe manager.
    pub fn manager(&self) -> &ProbeManager {
        &self.manager
    }

    /// The probe manager, mutably (flushing the disk cache at the end of a run).
    pub fn manager_mut(&mut self) -> &mut ProbeManager {
        &mut self.manager
    }

    /// The last frame's probe uploads.
    pub fn uploads(&self) -> &[ProbeUpload] {
        &self.uploads
    }

    /// Probe upload bytes handed out since the start.
    pub fn upload_bytes(&self) -> u64 {
        self.upload_bytes
    }

    /// The regions the streaming client holds.
    pub fn regions(&self) -> &BTreeSet<RegionId> {
        self.client.regions()
    }

    /// The streaming client's cursor (`None` before the first snapshot).
    pub fn cursor(&self) -> Option<Cursor> {
        self.client.cursor()
    }

    /// The world's region grid.
    pub fn region_grid(&self) -> &RegionGrid {
        &self.regions
    }

    /// Regions within this distance of the camera are streamed in, metres.
    pub fn interest_radius(&self) -> f32 {
        self.interest_radius
    }

    /// Simulated time of the latest world edit seen in each region.
    pub fn edited_at(&self) -> &BTreeMap<RegionId, f32> {
        &self.edited_at
    }

    /// The streaming client's counters.
    pub fn stream_stats(&self) -> &ClientStats {
        self.client.stats()
    }

    /// The voxel world's counters.
    pub fn voxel_stats(&self) -> VoxelStats {
        self.voxels.stats()
    }
}
