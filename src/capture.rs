//! `lumon capture`: one image of a world, headless and in lockstep. The pipeline runs with the camera held
//! still; the timeline plays until time `T` and then stops; frames continue until level 0 has converged (or a
//! frame limit), every frame's probe uploads and brick changes go to the GPU as the viewer's would, and once
//! the GPU holds everything the CPU has, the frame is rendered and read back. Same arguments, same machine:
//! the same image.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use thiserror::Error;

use crate::pipeline::{Pipeline, PipelineError, PipelineOptions, FPS};
use crate::probes::manager::ProbeConfig;
use crate::render::{AdapterSummary, Camera, FrameSettings, GpuContext, RenderError, Renderer};
use crate::world::World;

/// Level-0 converged fraction at which a capture stops waiting.
pub const CONVERGED_FRACTION: f32 = 0.95;

/// Why a capture failed.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The camera is not usable.
    #[error("camera: {0}")]
    Camera(String),
    /// The pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The GPU side failed.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// What to capture.
#[derive(Clone, Debug)]
pub struct CaptureOptions {
    /// The camera.
    pub camera: Camera,
    /// GI mode, view, exposure.
    pub settings: FrameSettings,
    /// Most frames to wait for level 0 to converge.
    pub converge_frames: u32,
    /// Timeline time of the image, seconds.
    pub time: f32,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// Tracer threads.
    pub threads: usize,
    /// Disk cache folder (`None`: no persistence).
    pub cache_dir: Option<PathBuf>,
    /// Probe settings.
    pub probes: ProbeConfig,
    /// Frames to time after the image, alternating GI off and the requested mode (0: none).
    pub timed_frames: u32,
}

/// Frame times of the finished frame, rendered again and waited for.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct FrameTiming {
    /// Frames timed per mode.
    pub frames: u32,
    /// GPU frame time (submit to done) with the requested GI mode, milliseconds: median and 95th percentile.
    pub mode_ms_p50: f64,
    /// See `mode_ms_p50`.
    pub mode_ms_p95: f64,
    /// The same with GI off (flat ambient), milliseconds.
    pub off_ms_p50: f64,
    /// See `off_ms_p50`.
    pub off_ms_p95: f64,
    /// `mode_ms_p50 / off_ms_p50`: what the probe lighting costs on top of the rest of the frame.
    pub ratio_p50: f64,
}

/// What a capture did.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureReport {
    /// World name.
    pub world: String,
    /// The adapter.
    pub adapter: AdapterSummary,
    /// Image size.
    pub size: [u32; 2],
    /// GI mode and view.
    pub settings: FrameSettings,
    /// The camera.
    pub camera: Camera,
    /// Pipeline frames stepped.
    pub frames: u64,
    /// Timeline time of the image, seconds.
    pub time: f32,
    /// Level 0's converged fraction at the end.
    pub converged_l0: f32,
    /// True when, within the frame limit, level 0 reached [`CONVERGED_FRACTION`] and the multi-bounce light
    /// settled ([`crate::probes::manager::ProbeManager::bounce_settled`]).
    pub converged: bool,
    /// Wall seconds of the whole capture.
    pub seconds: f64,
    /// Frame times, when asked for.
    pub timing: Option<FrameTiming>,
    /// The renderer's last upload and its GPU storage.
    pub render: crate::render::RenderStats,
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Checks that a camera lies inside the world and has finite numbers.
pub fn check_camera(world: &World, camera: &Camera) -> Result<(), CaptureError> {
    let c = camera;
    if !c.position.is_finite() || !c.yaw.is_finite() || !c.pitch.is_finite() {
        return Err(CaptureError::Camera(format!("non-finite numbers in {:?}", c)));
    }
    let (lo, hi) = world.bounds;
    let p = c.position;
    if p.x < lo.x || p.x >= hi.x || p.z < lo.y || p.z >= hi.y {
        return Err(CaptureError::Camera(format!(
            "position ({}, {}, {}) is outside the world's bounds x {}..{}, z {}..{}",
            p.x, p.y, p.z, lo.x, hi.x, lo.y, hi.y
        )));
    }
    Ok(())
}

/// A view made ready to render: the pipeline stepped in lockstep until the timeline reached the capture's
/// time and level 0 converged (or the frame limit), and the GPU holding everything the CPU has.
pub struct ConvergedView {
    /// The renderer, its last frame prepared with the capture's camera and settings.
    pub renderer: Renderer,
    /// The pipeline, stopped at the capture's time.
    pub pipeline: Pipeline,
    /// True when, within the frame limit, level 0 reached [`CONVERGED_FRACTION`] and the multi-bounce light
    /// settled ([`crate::probes::manager::ProbeManager::bounce_settled`]).
    pub converged: bool,
    /// When the work began.
    pub start: Instant,
}

/// Steps a fresh pipeline and renderer for `opts` until the view is ready to render ([`ConvergedView`]).
pub fn converge(ctx: &GpuContext, world: Arc<World>, opts: &CaptureOptions) -> Result<ConvergedView, CaptureError> {
    check_camera(&world, &opts.camera)?;
    if !opts.time.is_finite() || opts.time < 0.0 {
        return Err(CaptureError::Camera(format!("time {} must be a finite number of seconds >= 0", opts.time)));
    }
    let start = Instant::now();
    let mut renderer = Renderer::new(ctx, opts.width, opts.height, &opts.probes)?;
    let popts = PipelineOptions {
        threads: opts.threads,
        cache_dir: opts.cache_dir.clone(),
        disk_cap_bytes: 1 << 30,
        probes: opts.probes.clone(),
        interest_radius: crate::pipeline::view_radius(&world),
    };
    let mut pipeline = Pipeline::new(world.clone(), &popts)?;
    let cam = opts.camera;
    let timeline_frames = (opts.time * FPS).ceil() as u64;
    let max_frames = timeline_frames + u64::from(opts.converge_frames.max(1));
    let mut converged = false;
    loop {
        if pipeline.frame() >= timeline_frames {
            pipeline.set_timeline_running(false);
        }
        pipeline.step(cam.position, true)?;
        let topo = pipeline.manager().topologies();
        renderer.prepare(ctx, pipeline.grid(), &topo, pipeline.uploads(), &cam, &opts.settings)?;
        if pipeline.frame() < timeline_frames {
            continue;
        }
        converged = converged
            || (pipeline.manager().converged_fraction(0) >= CONVERGED_FRACTION && pipeline.manager().bounce_settled());
        let drained = pipeline.manager().pending_uploads() == 0 && renderer.pending_bricks() == 0;
        if (converged && drained) || pipeline.frame() >= max_frames + 64 {
            break;
        }
        if pipeline.frame() >= max_frames && drained {
            break;
        }
    }
    Ok(ConvergedView { renderer, pipeline, converged, start })
}

/// Runs the capture on `ctx` and returns the image and what happened.
pub fn capture(
    ctx: &GpuContext,
    world: Arc<World>,
    opts: &CaptureOptions,
) -> Result<(image::RgbaImage, CaptureReport), CaptureError> {
    let ConvergedView { mut renderer, pipeline, converged, start } = converge(ctx, world.clone(), opts)?;
    let cam = opts.camera;
    let timeline_frames = (opts.time * FPS).ceil() as u64;
    let img = renderer.read_image(ctx)?;
    let timing = (opts.timed_frames > 0)
        .then(|| -> Result<FrameTiming, CaptureError> {
            let topo = pipeline.manager().topologies();
            let off = FrameSettings { gi: crate::render::GiMode::Off, ..opts.settings };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..opts.timed_frames {
                renderer.prepare(ctx, pipeline.grid(), &topo, &[], &cam, &off)?;
                b.push(renderer.render_and_wait(ctx)?);
                renderer.prepare(ctx, pipeline.grid(), &topo, &[], &cam, &opts.settings)?;
                a.push(renderer.render_and_wait(ctx)?);
            }
            let (m50, m95) = (percentile(&mut a, 0.5), percentile(&mut a, 0.95));
            let (o50, o95) = (percentile(&mut b, 0.5), percentile(&mut b, 0.95));
            Ok(FrameTiming {
                frames: opts.timed_frames,
                mode_ms_p50: m50,
                mode_ms_p95: m95,
                off_ms_p50: o50,
                off_ms_p95: o95,
                ratio_p50: m50 / o50.max(1e-9),
            })
        })
        .transpose()?;
    let report = CaptureReport {
        world: world.name.clone(),
        adapter: ctx.summary.clone(),
        size: [opts.width, opts.height],
        settings: opts.settings,
        camera: cam,
        frames: pipeline.frame(),
        time: timeline_frames as f32 / FPS,
        converged_l0: pipeline.manager().converged_fraction(0),
        converged,
        seconds: start.elapsed().as_secs_f64(),
        timing,
        render: renderer.stats(),
    };
    Ok((img, report))
}
