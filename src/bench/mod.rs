//! `lumon bench --no-gpu`: the whole CPU pipeline (streaming server and client, voxel edits, probe manager,
//! tracer) along a camera path at a simulated 60 Hz, in lockstep: jobs submitted in frame `f` are applied in
//! frame `f + 1` because the bench waits for them between frames (the viewer never waits). The run is a pure
//! function of world, path and settings; `payload_hash` proves it.
//!
//! After the path, an accuracy phase ([`AccuracyOptions`]) holds the camera at the path's end with the
//! timeline stopped (a still scene) for `settle_frames`, records the probes' irradiance at seeded surface
//! points over the last `flicker_frames` of them, and compares the last with the reference integrator
//! ([`accuracy`]): `irradiance_error` and `flicker` in the report.

pub mod accuracy;
pub mod baseline;
pub mod gpu;
pub mod path;
pub mod plot;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use thiserror::Error;

use crate::pipeline::{FrameReport, Pipeline, PipelineError, PipelineOptions};
use crate::probes::cache::MemoryCacheStats;
use crate::probes::disk::DiskStats;
use crate::probes::manager::{LevelStats, ProbeConfig, ProbeManager, ProbeStats};
use crate::probes::reference::{ReferenceSettings, TRUTH_BOUNCES};
use crate::probes::sample::LeakGuard;
use crate::streaming::ClientStats;
use crate::voxel::emitter_irradiance;
use crate::voxel::VoxelStats;
use crate::world::World;
use accuracy::{accuracy_points, flicker, irradiance_error, reference_set, AccuracyPoint, IrradianceError};
use glam::Vec3;
use path::CameraPath;

/// Frames at the end of the accuracy phase over which the still scene's remaining work is counted.
const STILL_TAIL_FRAMES: u32 = 600;

pub use crate::pipeline::FPS;

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Frames to simulate.
    pub frames: u32,
    /// Camera path.
    pub path: CameraPath,
    /// Tracer threads.
    pub threads: usize,
    /// Disk cache folder (`None`: no persistence).
    pub cache_dir: Option<PathBuf>,
    /// Disk cache cap, bytes.
    pub disk_cap_bytes: u64,
    /// Probe settings.
    pub probes: ProbeConfig,
    /// The accuracy phase after the path (`None`: skipped).
    pub accuracy: Option<AccuracyOptions>,
}

/// Settings of the accuracy phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccuracyOptions {
    /// Frames with the camera held and the timeline stopped before the comparison.
    pub settle_frames: u32,
    /// Last frames of the settle phase whose irradiance gives `flicker`.
    pub flicker_frames: u32,
    /// Surface points compared.
    pub points: usize,
    /// Reference integrator settings.
    pub reference: ReferenceSettings,
    /// Seed of the points.
    pub seed: u64,
}

impl Default for AccuracyOptions {
    fn default() -> Self {
        AccuracyOptions {
            settle_frames: 600,
            flicker_frames: 60,
            points: 64,
            reference: ReferenceSettings { rays: 4096, bounces: TRUTH_BOUNCES, max_distance: 256.0, seed: 1 },
            seed: 1,
        }
    }
}

/// Why a run failed.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The pipeline could not start or step.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The renderer failed (GPU bench).
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
}

/// Percentiles of a per-frame time, milliseconds (nearest rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Millis {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Worst frame.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Millis {
    /// Percentiles of samples (milliseconds).
    pub fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Millis::default();
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Millis {
            p50: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

/// Caches of the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheReport {
    /// Memory region cache.
    pub memory: MemoryCacheStats,
    /// Disk cache (`null` without persistence).
    pub disk: Option<DiskStats>,
}

/// The JSON report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// World name.
    pub world: String,
    /// Camera path name.
    pub path: String,
    /// Frames simulated.
    pub frames: u32,
    /// Tracer threads.
    pub threads: usize,
    /// Rays traced over the run.
    pub rays_traced: u64,
    /// Rays per wall-clock second of the run.
    pub rays_per_second: f64,
    /// Probe updates applied.
    pub probe_updates: u64,
    /// Of those, traces of idle probes queued again because their level's bounce light had not settled.
    pub settle_traces: u64,
    /// Render-thread cost of the probe manager's step per frame (waiting excluded), milliseconds.
    pub gi_cpu_ms: Millis,
    /// The same, frame by frame.
    pub gi_cpu_ms_per_frame: Vec<f64>,
    /// Frames until 95 % of level-0 probes (not inside solids) are valid with confidence >= 0.9.
    pub converge_l0_frames: Option<u32>,
    /// Wall-clock seconds of the run until then.
    pub converge_l0_s: Option<f64>,
    /// Level 0's converged fraction after each frame.
    pub converged_l0_per_frame: Vec<f32>,
    /// Per level at the end.
    pub levels: Vec<LevelStats>,
    /// Caches at the end.
    pub cache: CacheReport,
    /// Hash of every probe payload at the end.
    pub payload_hash: String,
    /// Voxel world at the end.
    pub voxels: VoxelStats,
    /// Streaming client at the end.
    pub streaming: ClientStats,
    /// GPU bytes of probe uploads handed out over the run (within the per-frame budget).
    pub upload_bytes: u64,
    /// Wall-clock seconds of the path (the accuracy phase excluded).
    pub wall_s: f64,
    /// Seconds to read and check the world file (or `.vox` scene); set by the caller that loaded it.
    pub load_s: Option<f64>,
    /// Seconds from the pipeline's start to the end of its first frame: the first snapshot streamed in, its
    /// regions voxelised, the first probe step.
    pub first_frame_s: f64,
    /// The process's peak resident memory at the end of the run, bytes (Linux: `VmHWM`; `None` elsewhere).
    pub peak_rss_bytes: Option<u64>,
    /// Frames of the accuracy phase (camera held at the path's end, timeline stopped); 0 when skipped.
    pub settle_frames: u32,
    /// Level 0's converged fraction at the end of the accuracy phase.
    pub settled_converged_l0: Option<f32>,
    /// Probe updates applied in the accuracy phase's last 600 frames (at most), per frame: what a still
    /// scene keeps tracing (bounce light settling, stale probes).
    pub still_updates_per_frame: Option<f64>,
    /// Of those, settling traces per frame (idle probes queued again while their level's bounce light had
    /// not settled).
    pub still_settle_traces_per_frame: Option<f64>,
    /// The probes' irradiance, as shading reads it, against the reference at the end of the accuracy phase.
    pub irradiance_error: Option<IrradianceError>,
    /// Mean frame-to-frame relative change of that irradiance over the accuracy phase's last frames.
    pub flicker: Option<f32>,
    /// Every compared point: position, normal, the probes' and the reference's irradiance (RGB).
    pub irradiance_points: Vec<PointReport>,
}

/// One compared point of the accuracy phase.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PointReport {
    /// Position, metres.
    pub position: Vec3,
    /// Normal.
    pub normal: Vec3,
    /// The probes' irradiance (`null` where no level holds a usable probe).
    pub probes: Option<Vec3>,
    /// The reference's irradiance.
    pub reference: Vec3,
}

/// One frame of the path as the bench's per-frame hook sees it: the pipeline after its step, the frame's
/// index, what the step did, and the camera (position, yaw, pitch).
pub(crate) type FrameHook<'a> =
    dyn FnMut(&Pipeline, u32, &FrameReport, (Vec3, f32, f32)) -> Result<(), BenchError> + 'a;

/// Runs the CPU pipeline.
pub fn run_cpu(world: Arc<World>, opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    run_with(world, opts, crate::pipeline::INTEREST_RADIUS, &mut |_, _, _, _| Ok(()))
}

/// Runs the pipeline along the path, calling `on_frame` after each frame's step (the GPU bench renders
/// there), then the accuracy phase.
pub(crate) fn run_with(
    world: Arc<World>,
    opts: &BenchOptions,
    interest_radius: f32,
    on_frame: &mut FrameHook<'_>,
) -> Result<BenchReport, BenchError> {
    let opened = Instant::now();
    let mut pipe = Pipeline::new(
        world.clone(),
        &PipelineOptions {
            threads: opts.threads,
            cache_dir: opts.cache_dir.clone(),
            disk_cap_bytes: opts.disk_cap_bytes,
            probes: opts.probes.clone(),
            interest_radius,
        },
    )?;
    let mut gi_ms = Vec::with_capacity(opts.frames as usize);
    let mut first_frame_s = 0.0;
    let mut converged: Option<(u32, f64)> = None;
    let mut l0 = Vec::with_capacity(opts.frames as usize);
    let start = Instant::now();
    for f in 0..opts.frames {
        let view = opts.path.sample(pipe.time());
        let frame = pipe.step(view.0, true)?;
        on_frame(&pipe, f, &frame, view)?;
        if f == 0 {
            first_frame_s = opened.elapsed().as_secs_f64();
        }
        gi_ms.push(frame.gi_ms);
        let fraction = pipe.manager().converged_fraction(0);
        l0.push(fraction);
        if converged.is_none() && fraction >= 0.95 {
            converged = Some((f + 1, start.elapsed().as_secs_f64()));
        }
    }
    let wall_s = start.elapsed().as_secs_f64();
    let at_end = pipe.manager().stats();
    let payload_hash = format!("{:016x}", pipe.manager().payload_hash());
    let upload_bytes = pipe.upload_bytes();
    let mut accuracy = None;
    let mut point_reports = Vec::new();
    if let Some(a) = opts.accuracy {
        // A still scene: the camera stays at the path's end and no timeline event is committed any more.
        let (camera, _, _) = opts.path.sample(opts.frames as f32 / FPS);
        pipe.set_timeline_running(false);
        let points = accuracy_points(pipe.grid(), camera, a.points, opts.probes.trace_range(0), a.seed);
        let mut frames = Vec::with_capacity(a.flicker_frames as usize);
        let tail_start = a.settle_frames.saturating_sub(STILL_TAIL_FRAMES);
        let mut tail_from = (pipe.manager().stats().probe_updates, pipe.manager().stats().settle_traces);
        for f in 0..a.settle_frames {
            if f == tail_start {
                tail_from = (pipe.manager().stats().probe_updates, pipe.manager().stats().settle_traces);
            }
            pipe.step(camera, true)?;
            if f + a.flicker_frames >= a.settle_frames {
                frames.push(read_points(pipe.manager(), pipe.grid(), &points));
            }
        }
        // The results of the last frame's traces.
        pipe.step(camera, true)?;
        let last = read_points(pipe.manager(), pipe.grid(), &points);
        let reference = reference_set(pipe.grid(), &points, a.reference);
        point_reports = points
            .iter()
            .zip(&last)
            .zip(&reference.irradiance)
            .map(|((p, e), r)| PointReport { position: p.position, normal: p.normal, probes: *e, reference: *r })
            .collect();
        let s = pipe.manager().stats();
        let tail = f64::from((a.settle_frames - tail_start).max(1));
        let still = ((s.probe_updates - tail_from.0) as f64 / tail, (s.settle_traces - tail_from.1) as f64 / tail);
        accuracy =
            Some((irradiance_error(&last, &reference), flicker(&frames), pipe.manager().converged_fraction(0), still));
    }
    let grid = pipe.grid().clone();
    pipe.manager_mut().flush_to_disk(&grid);
    let stats = ProbeStats { disk: pipe.manager().stats().disk, ..at_end };
    Ok(BenchReport {
        load_s: None,
        first_frame_s,
        peak_rss_bytes: peak_rss_bytes(),
        world: world.name.clone(),
        path: opts.path.name.clone(),
        frames: opts.frames,
        threads: opts.threads,
        rays_traced: stats.rays_traced,
        rays_per_second: stats.rays_traced as f64 / wall_s.max(1e-9),
        probe_updates: stats.probe_updates,
        settle_traces: stats.settle_traces,
        gi_cpu_ms: Millis::of(&gi_ms),
        gi_cpu_ms_per_frame: gi_ms,
        converge_l0_frames: converged.map(|c| c.0),
        converge_l0_s: converged.map(|c| c.1),
        converged_l0_per_frame: l0,
        levels: stats.levels,
        cache: CacheReport { memory: stats.memory, disk: stats.disk },
        payload_hash,
        voxels: pipe.voxel_stats(),
        streaming: pipe.stream_stats().clone(),
        upload_bytes,
        wall_s,
        settle_frames: opts.accuracy.map_or(0, |a| a.settle_frames),
        settled_converged_l0: accuracy.map(|a| a.2),
        still_updates_per_frame: accuracy.map(|a| a.3 .0),
        still_settle_traces_per_frame: accuracy.map(|a| a.3 .1),
        irradiance_error: accuracy.map(|a| a.0),
        irradiance_points: point_reports,
        flicker: accuracy.map(|a| a.1),
    })
}

/// The irradiance at each point as shading reads it: the probes' (with the visibility leak guard) plus the
/// emitters' direct light (`None` where no level holds a usable probe).
fn read_points(manager: &ProbeManager, grid: &crate::voxel::VoxelGrid, points: &[AccuracyPoint]) -> Vec<Option<Vec3>> {
    points
        .iter()
        .map(|p| {
            let probes = manager.irradiance_at(p.position, p.normal, LeakGuard::Visibility(grid))?;
            Some(probes + emitter_irradiance(grid, p.position, p.normal))
        })
        .collect()
}

/// The process's peak resident set, bytes, from `/proc/self/status` (`None` where that does not exist).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}
