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
    /// True when level 0 reached [`CONVERGED_FRACTION`] within the frame limit.
    pub converged: bool,
    /// Wall seconds of the whole capture.
    pub seconds: f64,
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

/// Runs the capture on `ctx` and returns the image and what happened.
pub fn capture(
    ctx: &GpuContext,
    world: Arc<World>,
    opts: &CaptureOptions,
) -> Result<(image::RgbaImage, CaptureReport), CaptureError> {
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
        converged = converged || pipeline.manager().converged_fraction(0) >= CONVERGED_FRACTION;
        let drained = pipeline.manager().pending_uploads() == 0 && renderer.pending_bricks() == 0;
        if (converged && drained) || pipeline.frame() >= max_frames + 64 {
            break;
        }
        if pipeline.frame() >= max_frames && drained {
            break;
        }
    }
    let img = renderer.read_image(ctx)?;
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
    };
    Ok((img, report))
}
