//! The viewer's reference mode: a path-traced reference of the current view, refined on worker threads
//! while the viewer runs, shown in place of the image or beside the live probes (split), with the error
//! metrics of `lumon compare` updated after every pass.
//!
//! The render thread only starts and cancels jobs and takes finished passes from a channel; it never waits.
//! A job traces the view at a quarter of the window's size on the CPU ([`ViewSurfaces::trace`]), reads the
//! probes' irradiance at each surface from the manager's snapshot (the CPU's shading read), then refines the
//! reference pass by pass ([`ReferenceImage::refine`], on rayon's pool) until it has its rays. Moving the
//! camera cancels the job; a new one starts once the camera has been still for [`SETTLE`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use glam::Vec3;
use rayon::prelude::*;

use crate::compare::{compare_metrics, tonemap, CompareMetrics, ReferenceImage, ViewSurfaces};
use crate::probes::irradiance::ClipmapIrradiance;
use crate::probes::reference::TRUTH_BOUNCES;
use crate::probes::ReferenceSettings;
use crate::render::Camera;
use crate::voxel::VoxelGrid;

/// How long the camera must stay still before a reference starts.
pub const SETTLE: Duration = Duration::from_millis(300);
/// Rays per pixel a reference refines to.
pub const TARGET_RAYS: u32 = 4096;
/// The reference's resolution: the window's divided by this.
pub const DOWNSCALE: u32 = 4;

/// One finished pass of a reference.
pub struct Pass {
    /// The reference's lit image, tonemapped with the viewer's exposure.
    pub image: egui::ColorImage,
    /// Metrics of the probes' indirect irradiance against it.
    pub metrics: CompareMetrics,
    /// Seconds since the job started.
    pub seconds: f32,
}

struct Job {
    camera: Camera,
    size: (u32, u32),
    cancel: Arc<AtomicBool>,
    rx: Receiver<Pass>,
    /// The probes go on converging while the reference refines: each pass is measured against the newest
    /// snapshot sent here.
    probes: Sender<Arc<ClipmapIrradiance>>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Job {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        // Not joined: the worker stops at its next chunk of pixels and nobody waits for it.
        drop(self.handle.take());
    }
}

/// What the panel shows of the reference.
#[derive(Clone, Debug, Default)]
pub struct ReferenceStatus {
    /// The mode is on.
    pub on: bool,
    /// Shown beside the probes rather than in place.
    pub split: bool,
    /// A job is refining (or waiting for the camera to settle).
    pub running: bool,
    /// Metrics of the latest pass.
    pub metrics: Option<CompareMetrics>,
    /// Rays per pixel asked for.
    pub target: u32,
    /// Seconds the latest pass took from the job's start.
    pub seconds: f32,
    /// Reference resolution.
    pub size: (u32, u32),
}

/// The reference mode's state on the render thread.
pub struct ReferenceView {
    on: bool,
    split: bool,
    job: Option<Job>,
    /// Camera and when it last changed.
    moved: Option<(Camera, Instant)>,
    texture: Option<egui::TextureHandle>,
    latest: Option<(CompareMetrics, f32)>,
    /// The probe snapshot last sent to the job.
    sent: Arc<ClipmapIrradiance>,
}

impl ReferenceView {
    /// Off (`None`), or on in place (`Some(false)`) or split with the probes (`Some(true)`).
    pub fn starting(mode: Option<bool>) -> Self {
        ReferenceView {
            on: mode.is_some(),
            split: mode == Some(true),
            job: None,
            moved: None,
            texture: None,
            latest: None,
            sent: Arc::new(ClipmapIrradiance { levels: Vec::new(), band: 0.0 }),
        }
    }

    /// Turns the mode on or off (off cancels the job and forgets the image).
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
        if !on {
            self.job = None;
            self.texture = None;
            self.latest = None;
        }
    }

    /// True when the mode is on.
    pub fn on(&self) -> bool {
        self.on
    }

    /// Shows the reference beside the probes (left half reference) or in place.
    pub fn set_split(&mut self, split: bool) {
        self.split = split;
    }

    /// Drops the current reference (the world changed); a new one starts once the camera is still.
    pub fn restart(&mut self) {
        self.job = None;
        self.texture = None;
        self.latest = None;
        self.moved = None;
    }

    /// Per frame: cancels a job whose camera moved, starts one once the camera is still, takes finished
    /// passes into the texture. Never waits.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        egui_ctx: &egui::Context,
        now: Instant,
        camera: Camera,
        window: (u32, u32),
        grid: &Arc<VoxelGrid>,
        probes: &Arc<ClipmapIrradiance>,
        exposure: f32,
    ) {
        if !self.on {
            return;
        }
        let size = ((window.0 / DOWNSCALE).max(8), (window.1 / DOWNSCALE).max(8));
        match self.moved {
            Some((c, _)) if c == camera => {}
            _ => self.moved = Some((camera, now)),
        }
        let stale = self.job.as_ref().is_some_and(|j| j.camera != camera || j.size != size);
        if stale {
            self.job = None;
            self.texture = None;
            self.latest = None;
        }
        let still = self.moved.is_some_and(|(_, t)| now.duration_since(t) >= SETTLE);
        if self.job.is_none() && still {
            self.job = Some(start(camera, size, grid.clone(), probes.clone(), exposure));
            self.sent = probes.clone();
        }
        if let Some(job) = &self.job {
            if !Arc::ptr_eq(&self.sent, probes) {
                self.sent = probes.clone();
                let _ = job.probes.send(probes.clone());
            }
            if let Some(pass) = job.rx.try_iter().last() {
                self.latest = Some((pass.metrics, pass.seconds));
                match &mut self.texture {
                    Some(t) => t.set(pass.image, egui::TextureOptions::LINEAR),
                    None => {
                        self.texture =
                            Some(egui_ctx.load_texture("reference", pass.image, egui::TextureOptions::LINEAR))
                    }
                }
            }
        }
    }

    /// What the panel shows.
    pub fn status(&self) -> ReferenceStatus {
        ReferenceStatus {
            on: self.on,
            split: self.split,
            running: self.on && self.job.as_ref().is_none_or(|j| j.handle.as_ref().is_some_and(|h| !h.is_finished())),
            metrics: self.latest.as_ref().map(|(m, _)| m.clone()),
            target: TARGET_RAYS,
            seconds: self.latest.as_ref().map_or(0.0, |(_, s)| *s),
            size: self.job.as_ref().map_or((0, 0), |j| j.size),
        }
    }

    /// Paints the reference over the 3D image (behind the panels): the whole view, or, split, the left half
    /// of `visible` (the part of the window the panels leave free) beside the probes, with a divider and
    /// captions.
    pub fn paint(&self, ctx: &egui::Context, visible: egui::Rect) {
        let Some(t) = &self.texture else { return };
        let painter = ctx.layer_painter(egui::LayerId::background());
        let screen = ctx.content_rect();
        let white = egui::Color32::WHITE;
        if self.split {
            let mid = visible.center().x;
            let left = egui::Rect::from_min_max(egui::pos2(visible.min.x, screen.min.y), egui::pos2(mid, screen.max.y));
            let u = |x: f32| (x - screen.min.x) / screen.width().max(1.0);
            let uv = egui::Rect::from_min_max(egui::pos2(u(left.min.x), 0.0), egui::pos2(u(mid), 1.0));
            painter.image(t.id(), left, uv, white);
            painter.line_segment([egui::pos2(mid, screen.min.y), egui::pos2(mid, screen.max.y)], (2.0, white));
            let font = egui::FontId::proportional(16.0);
            let y = screen.max.y - 24.0;
            painter.text(egui::pos2(mid - 8.0, y), egui::Align2::RIGHT_TOP, "reference", font.clone(), white);
            painter.text(egui::pos2(mid + 8.0, y), egui::Align2::LEFT_TOP, "probes", font, white);
        } else {
            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
            painter.image(t.id(), screen, uv, white);
        }
    }
}

fn start(camera: Camera, size: (u32, u32), grid: Arc<VoxelGrid>, probes: Arc<ClipmapIrradiance>, exposure: f32) -> Job {
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = crossbeam_channel::unbounded();
    let (probes_tx, probes_rx) = crossbeam_channel::unbounded();
    let flag = cancel.clone();
    let handle = std::thread::Builder::new()
        .name("lumon-reference".into())
        .spawn(move || refine(camera, size, &grid, probes, &probes_rx, exposure, &flag, &tx))
        .map_err(|e| log::warn!("the reference thread could not start: {e}"))
        .ok();
    Job { camera, size, cancel, rx, probes: probes_tx, handle }
}

/// The irradiance at each surface of `view` besides the sun, as the CPU's shading read gives it (the probes,
/// zero without data, and the emitters' direct light).
fn probe_irradiance(view: &ViewSurfaces, grid: &VoxelGrid, probes: &ClipmapIrradiance) -> Vec<Option<Vec3>> {
    view.surfaces.par_iter().map(|s| s.map(|s| probes.shading_irradiance(grid, s.point, s.normal))).collect()
}

/// The worker: passes of growing size (16 rays per pixel first, so a first image comes quickly) until the
/// target, each sent as it finishes, measured against the newest probe snapshot.
#[allow(clippy::too_many_arguments)]
fn refine(
    camera: Camera,
    (w, h): (u32, u32),
    grid: &VoxelGrid,
    mut probes: Arc<ClipmapIrradiance>,
    newer: &Receiver<Arc<ClipmapIrradiance>>,
    exposure: f32,
    cancel: &AtomicBool,
    tx: &Sender<Pass>,
) {
    let start = Instant::now();
    let view = ViewSurfaces::trace(grid, &camera, w, h);
    let mut probe_e = probe_irradiance(&view, grid, &probes);
    let settings = ReferenceSettings { rays: TARGET_RAYS, bounces: TRUTH_BOUNCES, ..ReferenceSettings::default() };
    let mut reference = ReferenceImage::new(view.len(), settings);
    let mut rays = 16;
    while !reference.finished(&view) {
        if !reference.refine(grid, &view, rays, cancel, &|_| {}) {
            return;
        }
        rays = (rays * 2).min(256);
        if let Some(p) = newer.try_iter().last() {
            probes = p;
            probe_e = probe_irradiance(&view, grid, &probes);
        }
        let e = reference.irradiance(&view);
        let metrics = compare_metrics(&probe_e, &e, &reference.noise(&view), reference.rays_done(&view));
        let img = tonemap(&view.shade(grid, &e, false), exposure, w, h);
        let image = egui::ColorImage::from_rgb([w as usize, h as usize], img.as_raw());
        if tx.send(Pass { image, metrics, seconds: start.elapsed().as_secs_f32() }).is_err() {
            return;
        }
    }
}
