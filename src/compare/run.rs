//! `lumon compare`, headless: converge the view's probes as `capture` does, read back from the GPU the lit
//! image, the probes' indirect irradiance per pixel (the `irradiance` view) and the gbuffer's surfaces, then
//! refine the CPU reference at those surfaces pass by pass and compute the images and metrics.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use glam::Vec3;
use image::RgbImage;
use serde::Serialize;
use thiserror::Error;

use super::{compare_metrics, heatmap, relative_errors, side_by_side, tonemap, CompareMetrics, ReferenceImage};
use super::{ViewSurfaces, HEATMAP_FULL_SCALE};
use crate::capture::{converge, CaptureError, CaptureOptions, ConvergedView};
use crate::probes::ReferenceSettings;
use crate::render::{world_exposure, AdapterSummary, DebugView, FrameSettings, GiMode, GpuContext, RenderError};
use crate::world::World;

/// Rays per pixel per refinement pass.
pub const PASS_RAYS: u32 = 64;

/// Why a comparison failed.
#[derive(Debug, Error)]
pub enum CompareError {
    /// Converging the view failed.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A read-back failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Drawing an image failed.
    #[error("drawing the {0} image: {1}")]
    Image(&'static str, String),
}

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// The view, its convergence and its probe settings (the GI mode and view are set by the comparison).
    pub capture: CaptureOptions,
    /// The reference: rays per pixel, bounces, longest ray, seed.
    pub reference: ReferenceSettings,
}

/// What a comparison made.
pub struct CompareOutput {
    /// The probes' lit image.
    pub probes: RgbImage,
    /// The reference's lit image.
    pub reference: RgbImage,
    /// Indirect light alone (albedo x irradiance), probes and reference.
    pub indirect_probes: RgbImage,
    /// See `indirect_probes`.
    pub indirect_reference: RgbImage,
    /// Relative error of indirect irradiance per pixel, with its scale.
    pub heatmap: RgbImage,
    /// Probes, reference and heatmap in a row.
    pub side_by_side: RgbImage,
    /// The numbers.
    pub report: CompareReport,
}

/// The JSON `lumon compare` prints.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    /// World name.
    pub world: String,
    /// Adapter of the probe image.
    pub adapter: AdapterSummary,
    /// Image size.
    pub size: [u32; 2],
    /// The camera.
    pub camera: crate::render::Camera,
    /// Timeline time, seconds.
    pub time: f32,
    /// Within the frame limit, level 0 converged and the multi-bounce light settled (as `capture`).
    pub converged: bool,
    /// Frames stepped before the image (the timeline's and converging).
    pub frames: u64,
    /// Per clipmap level, finest first: the share of its probes (not inside solids) that had data, and that
    /// had converged, when the image was taken.
    pub levels_valid: Vec<f32>,
    /// See `levels_valid`.
    pub levels_converged: Vec<f32>,
    /// Reference rays asked for per pixel.
    pub rays: u32,
    /// Reference bounces.
    pub bounces: u32,
    /// False when the reference was stopped before it had its rays (the metrics are over what it had).
    pub complete: bool,
    /// Relative error at which the heatmap's scale tops out.
    pub heatmap_full_scale: f32,
    /// Seconds of the probes' convergence and of the reference.
    pub probe_seconds: f64,
    /// See `probe_seconds`.
    pub reference_seconds: f64,
    /// The metrics.
    #[serde(flatten)]
    pub metrics: CompareMetrics,
}

/// Runs the comparison. `progress(done, total)` counts reference work in pixel-passes; setting `cancel` stops
/// the reference at the next chunk of pixels, and the output is built from the passes it finished.
pub fn compare(
    ctx: &GpuContext,
    world: Arc<World>,
    opts: &CompareOptions,
    cancel: &AtomicBool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<CompareOutput, CompareError> {
    let lit = FrameSettings { gi: GiMode::Probes, view: DebugView::Lit, ..opts.capture.settings };
    let copts = CaptureOptions { settings: lit, timed_frames: 0, ..opts.capture.clone() };
    let ConvergedView { mut renderer, pipeline, converged, start } = converge(ctx, world.clone(), &copts)?;
    let probe_seconds = start.elapsed().as_secs_f64();
    let level_stats = pipeline.manager().stats().levels;
    let (w, h, cam) = (copts.width, copts.height, copts.camera);
    let grid = pipeline.grid().clone();
    let topo = pipeline.manager().topologies();
    let probe_hdr = renderer.read_hdr(ctx)?;
    let hits = renderer.read_surfaces(ctx)?;
    let irradiance_view = FrameSettings { view: DebugView::Irradiance, ..lit };
    renderer.prepare(ctx, &grid, &topo, &[], &cam, &irradiance_view)?;
    let white = renderer.read_hdr(ctx)?;
    let view = ViewSurfaces::from_gbuffer(&cam, w, h, &hits, grid.voxel_size);
    let probe_e: Vec<Option<Vec3>> =
        view.surfaces.iter().zip(&white).map(|(s, v)| s.map(|_| *v * std::f32::consts::PI)).collect();

    let started = Instant::now();
    let mut reference = ReferenceImage::new(view.len(), opts.reference);
    let surfaces = view.surfaces.iter().filter(|s| s.is_some()).count() as u64;
    let passes = u64::from(opts.reference.rays.div_ceil(PASS_RAYS));
    let done = std::sync::atomic::AtomicU64::new(0);
    let total = surfaces.max(1) * passes;
    let report_chunk = |n: usize| {
        let d = done.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed) + n as u64;
        progress(d.min(total), total);
    };
    while !reference.finished(&view) {
        if !reference.refine(&grid, &view, PASS_RAYS, cancel, &report_chunk) {
            break;
        }
    }
    let reference_seconds = started.elapsed().as_secs_f64();
    let ref_e = reference.irradiance(&view);
    let mut metrics = compare_metrics(&probe_e, &ref_e, &reference.noise(&view), reference.rays_done(&view));

    let exposure = lit.exposure * world_exposure(&grid.lights);
    let probes_img = tonemap(&probe_hdr, exposure, w, h);
    let reference_img = tonemap(&view.shade(&grid, &ref_e, false), exposure, w, h);
    let indirect_probes = tonemap(&view.shade(&grid, &probe_e, true), exposure, w, h);
    let indirect_reference = tonemap(&view.shade(&grid, &ref_e, true), exposure, w, h);
    let errors = relative_errors(&probe_e, &ref_e);
    let heat = heatmap(&errors, w, h).map_err(|e| CompareError::Image("heatmap", e))?;
    let flip_a = nv_flip::FlipImageRgb8::with_data(w, h, reference_img.as_raw());
    let flip_b = nv_flip::FlipImageRgb8::with_data(w, h, probes_img.as_raw());
    let flip = nv_flip::flip(flip_a, flip_b, nv_flip::DEFAULT_PIXELS_PER_DEGREE);
    metrics.flip = Some(f64::from(nv_flip::FlipPool::from_image(&flip).mean()));
    let side = side_by_side(&[
        ("probes", &probes_img),
        ("reference (path traced)", &reference_img),
        ("indirect error (relative)", &heat),
    ])
    .map_err(|e| CompareError::Image("side-by-side", e))?;
    let report = CompareReport {
        world: world.name.clone(),
        adapter: ctx.summary.clone(),
        size: [w, h],
        camera: cam,
        time: copts.time,
        converged,
        frames: pipeline.frame(),
        levels_valid: level_stats.iter().map(|l| l.valid_fraction).collect(),
        levels_converged: level_stats.iter().map(|l| l.converged_fraction).collect(),
        rays: opts.reference.rays,
        bounces: opts.reference.bounces,
        complete: reference.finished(&view),
        heatmap_full_scale: HEATMAP_FULL_SCALE,
        probe_seconds,
        reference_seconds,
        metrics,
    };
    Ok(CompareOutput {
        probes: probes_img,
        reference: reference_img,
        indirect_probes,
        indirect_reference,
        heatmap: heat,
        side_by_side: side,
        report,
    })
}
