//! The viewer: a winit window showing the world through the renderer, with the frame loop in live mode (it never
//! waits for tracer workers, the disk or the stream), a fly camera ([`fly`]) and keys for GI modes, debug views,
//! bookmarks and screenshots, and egui panels ([`ui`]) with probe, streaming and timing statistics and controls.
//!
//! Keys: W/A/S/D move, Q/E down and up, shift boosts, the right mouse button held turns, the wheel changes the
//! speed; G cycles GI modes, V debug views; 1-9 jump to the world's bookmarks (in name order); space pauses or
//! resumes the timeline; R starts and stops recording the camera path (a file `bench --path` and
//! `view --path` play back); P plays or stops the loaded path; Tab hides or shows the panels; F12 saves a
//! screenshot; Esc quits.

pub mod fly;
pub mod reference;
pub mod screenshot;
pub mod ui;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;
use winit::application::ApplicationHandler;
use winit::event::{DeviceEvent, ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop};
use winit::keyboard::{KeyCode, PhysicalKey};
use winit::window::{Window, WindowId};

use crate::bench::path::{CameraPath, PathRecorder};
use crate::pipeline::{Pipeline, PipelineError, PipelineOptions};
use crate::render::blit::Blit;
use crate::render::{Camera, DebugView, FrameSettings, GiMode, GpuContext, RenderError, Renderer};
use crate::world::World;
use fly::{FlyCamera, Held};
use ui::{FrameTimes, PanelData, TimingHistory, Tuning, UiState};

/// Why the viewer could not run.
#[derive(Debug, Error)]
pub enum AppError {
    /// No window system.
    #[error(
        "cannot open a window ({0}); on a machine without a display use `lumon capture` for images and \
         `lumon bench --no-gpu` for timings"
    )]
    NoDisplay(String),
    /// The GPU side failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The frame loop failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A screenshot could not be written.
    #[error("writing screenshot {path}: {reason}")]
    Screenshot {
        /// Where.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What the viewer shows.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
    /// The world.
    pub world: Arc<World>,
    /// Starting camera.
    pub camera: Camera,
    /// GI mode and view at the start.
    pub settings: FrameSettings,
    /// The frame loop's settings.
    pub pipeline: PipelineOptions,
    /// Wait for vertical sync.
    pub vsync: bool,
    /// Quit after this many frames (tests, scripted screenshots).
    pub exit_after_frames: Option<u64>,
    /// Where the F12 screenshot (and the one at `exit_after_frames`) goes; default `lumon-<frame>.png`.
    pub screenshot: Option<PathBuf>,
    /// A camera path played from the start (P replays it; moving the camera stops it).
    pub path: Option<CameraPath>,
    /// Where a recorded camera path (R) goes; default `lumon-path-<n>.json`.
    pub record_to: Option<PathBuf>,
    /// Window events injected before the given redraw (counted from 1): tests of the loop's resilience.
    pub inject: Vec<(u64, Injected)>,
    /// Start with the path-traced reference on: `Some(false)` in place, `Some(true)` split with the probes.
    pub reference: Option<bool>,
    /// How a `.vox` scene opened from the panel or dropped on the window becomes a world.
    pub vox: crate::world::vox::VoxOptions,
}

/// A window-system event a test injects into the loop, handled by the same code as the real one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Injected {
    /// 0 x 0: the window reports a zero size (minimised). Otherwise the window is asked for this size and
    /// the window system's answer arrives as a real resize.
    Resize(u32, u32),
    /// The surface reported itself lost at the next frame.
    SurfaceLost,
    /// A file dropped onto the window (a world file or a `.vox` scene).
    DroppedFile(&'static str),
}

/// How a viewer run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewerExit {
    /// Name of the world shown last.
    pub world: String,
    /// Frames drawn.
    pub frames: u64,
}

struct State {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    ctx: GpuContext,
    renderer: Renderer,
    blit: Blit,
    pipeline: Pipeline,
    fly: FlyCamera,
    held: Held,
    settings: FrameSettings,
    last: Instant,
    frames: u64,
    /// Redraw requests handled (drawn or not).
    ticks: u64,
    /// The window is minimised (last resize was to zero): nothing is drawn.
    minimised: bool,
    /// The next frame behaves as if the surface were lost (injected).
    force_lost: bool,
    /// Timeline speed before the pause.
    resume_speed: f32,
    pipeline_opts: PipelineOptions,
    /// How a `.vox` scene opened from the panel or dropped on the window becomes a world.
    vox: crate::world::vox::VoxOptions,
    ui_state: UiState,
    path: Option<CameraPath>,
    playback: Option<Instant>,
    recorder: Option<(PathRecorder, Instant)>,
    recorded: u32,
    record_to: Option<PathBuf>,
    message: String,
    pending_seek: Option<f32>,
    pending_world: Option<String>,
    /// A screenshot of the window is due with the next frame, to this file.
    /// With whether a failure ends the viewer (the scripted one at `exit_after_frames`) or is only reported
    /// in the panel (F12).
    shot_due: Option<(PathBuf, bool)>,
    /// The surface can be copied from (window screenshots include the panels).
    copyable: bool,
    egui_ctx: egui::Context,
    egui_state: egui_winit::State,
    egui_renderer: egui_wgpu::Renderer,
    show_ui: bool,
    history: TimingHistory,
    panel: PanelData,
    refreshed: Instant,
    rays_at_refresh: u64,
    reference: reference::ReferenceView,
}

struct App {
    opts: ViewerOptions,
    state: Option<State>,
    error: Option<AppError>,
}

/// Opens the window and runs until it is closed (or `exit_after_frames`).
pub fn run(opts: ViewerOptions) -> Result<ViewerExit, AppError> {
    let mut builder = EventLoop::builder();
    // Any thread, so tests can drive the loop from the test harness's threads (the binary runs it on main).
    #[cfg(all(unix, not(target_os = "macos"), not(target_os = "android")))]
    {
        use winit::platform::wayland::EventLoopBuilderExtWayland;
        use winit::platform::x11::EventLoopBuilderExtX11;
        EventLoopBuilderExtX11::with_any_thread(&mut builder, true);
        EventLoopBuilderExtWayland::with_any_thread(&mut builder, true);
    }
    let event_loop = builder.build().map_err(|e| AppError::NoDisplay(e.to_string()))?;
    let mut app = App { opts, state: None, error: None };
    event_loop.run_app(&mut app).map_err(|e| AppError::NoDisplay(e.to_string()))?;
    match app.error {
        Some(e) => Err(e),
        None => Ok(match &app.state {
            Some(s) => ViewerExit { world: s.pipeline.world().name.clone(), frames: s.frames },
            None => ViewerExit { world: app.opts.world.name.clone(), frames: 0 },
        }),
    }
}

/// False on CPU adapters: once a context has drawn with render passes (the blit and the panels), lavapipe
/// returns timestamps around compute passes that miss the passes' work (0.1 ms for a 600 ms frame, measured
/// here), so the viewer shows no pass times there rather than wrong ones; `lumon bench`, which draws no render
/// passes, times lavapipe's passes correctly.
fn timing_trusted(ctx: &GpuContext) -> bool {
    ctx.summary.device_type != "Cpu"
}

fn cycle<T: Copy + PartialEq>(all: &[T], now: T) -> T {
    let i = all.iter().position(|x| *x == now).unwrap_or(0);
    all[(i + 1) % all.len()]
}

impl App {
    fn start(&mut self, el: &ActiveEventLoop) -> Result<(), AppError> {
        let attrs = Window::default_attributes()
            .with_title(format!("lumon: {}", self.opts.world.name))
            .with_inner_size(winit::dpi::LogicalSize::new(1280.0, 720.0));
        let window = Arc::new(el.create_window(attrs).map_err(|e| AppError::NoDisplay(e.to_string()))?);
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let surface = instance
            .create_surface(window.clone())
            .map_err(|e| AppError::Render(RenderError::NoAdapter(format!("no surface for the window: {e}"))))?;
        let ctx = GpuContext::with_instance(&instance, Some(&surface))?;
        let size = window.inner_size();
        let (w, h) = (size.width.max(1), size.height.max(1));
        let mut config = surface
            .get_default_config(&ctx.adapter, w, h)
            .ok_or_else(|| RenderError::NoAdapter("the adapter cannot present to this window".into()))?;
        let caps = surface.get_capabilities(&ctx.adapter);
        if let Some(f) = caps.formats.iter().find(|f| !f.is_srgb()) {
            config.format = *f;
        }
        config.present_mode =
            if self.opts.vsync { wgpu::PresentMode::AutoVsync } else { wgpu::PresentMode::AutoNoVsync };
        // Screenshots copy the surface (the image with the panels) where the surface allows it.
        let copyable = caps.usages.contains(wgpu::TextureUsages::COPY_SRC) && screenshot::readable(config.format);
        if copyable {
            config.usage |= wgpu::TextureUsages::COPY_SRC;
        }
        surface.configure(&ctx.device, &config);
        let mut renderer = Renderer::new(&ctx, w, h, &self.opts.pipeline.probes)?;
        renderer.set_gpu_timing(timing_trusted(&ctx));
        let blit = Blit::new(&ctx, config.format);
        let mut pipeline = Pipeline::new(self.opts.world.clone(), &self.opts.pipeline)?;
        pipeline.use_wall_clock();
        let speed = (3.0 * self.opts.world.probe_spacing).max(2.0);
        let egui_ctx = egui::Context::default();
        let egui_state = egui_winit::State::new(
            egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(ctx.device.limits().max_texture_dimension_2d as usize),
        );
        let egui_renderer = egui_wgpu::Renderer::new(&ctx.device, config.format, egui_wgpu::RendererOptions::default());
        let state = State {
            window,
            surface,
            config,
            ctx,
            renderer,
            blit,
            pipeline,
            fly: FlyCamera::new(self.opts.camera, speed),
            held: Held::default(),
            settings: self.opts.settings,
            last: Instant::now(),
            frames: 0,
            ticks: 0,
            minimised: false,
            force_lost: false,
            resume_speed: 1.0,
            pipeline_opts: self.opts.pipeline.clone(),
            ui_state: UiState::default(),
            vox: self.opts.vox,
            playback: self.opts.path.as_ref().map(|_| Instant::now()),
            path: self.opts.path.clone(),
            recorder: None,
            recorded: 0,
            record_to: self.opts.record_to.clone(),
            message: String::new(),
            pending_seek: None,
            pending_world: None,
            shot_due: None,
            copyable,
            egui_ctx,
            egui_state,
            egui_renderer,
            show_ui: true,
            history: TimingHistory::default(),
            panel: PanelData::default(),
            refreshed: Instant::now(),
            rays_at_refresh: 0,
            reference: reference::ReferenceView::starting(self.opts.reference),
        };
        state.update_title();
        self.state = Some(state);
        Ok(())
    }

    fn fail(&mut self, el: &ActiveEventLoop, e: AppError) {
        self.error = Some(e);
        el.exit();
    }
}

impl State {
    fn update_title(&self) {
        let s = &self.ctx.summary;
        self.window.set_title(&format!(
            "lumon: {} ({} / {}) on {} ({})",
            self.pipeline.world().name,
            self.settings.gi,
            self.settings.view,
            s.name,
            s.backend
        ));
    }

    fn resize(&mut self, w: u32, h: u32) -> Result<(), AppError> {
        self.minimised = w == 0 || h == 0;
        if self.minimised {
            return Ok(()); // keep the old size, draw nothing until the window comes back
        }
        self.config.width = w;
        self.config.height = h;
        self.surface.configure(&self.ctx.device, &self.config);
        self.renderer.resize(&self.ctx, w, h)?;
        Ok(())
    }

    /// Asks for a screenshot of the window with the next frame (the image alone where the surface cannot be
    /// copied, written at once). Only a `fatal` (scripted) screenshot's failure is an error; F12's is shown in
    /// the panel.
    fn screenshot(&mut self, path: Option<&PathBuf>, fatal: bool) -> Result<(), AppError> {
        let path = path.cloned().unwrap_or_else(|| PathBuf::from(format!("lumon-{}.png", self.frames)));
        if self.copyable {
            self.shot_due = Some((path, fatal));
            return Ok(());
        }
        let written = self.renderer.read_image(&self.ctx).map_err(AppError::from);
        let written = written.and_then(|img| self.write_shot(&img, path));
        self.shot_result(written, fatal)
    }

    fn write_shot(&mut self, img: &image::RgbaImage, path: PathBuf) -> Result<(), AppError> {
        screenshot::save(img, &path).map_err(|reason| AppError::Screenshot { path: path.clone(), reason })?;
        log::info!("screenshot: {}", path.display());
        self.message = format!("screenshot saved to {}", path.display());
        Ok(())
    }

    /// A screenshot's outcome: a failure ends the viewer when `fatal`, else it is logged and shown.
    fn shot_result(&mut self, r: Result<(), AppError>, fatal: bool) -> Result<(), AppError> {
        match r {
            Err(e) if !fatal => {
                log::error!("{e}");
                self.message = e.to_string();
                Ok(())
            }
            r => r,
        }
    }

    fn key(
        &mut self,
        code: KeyCode,
        pressed: bool,
        el: &ActiveEventLoop,
        shot: Option<&PathBuf>,
    ) -> Result<(), AppError> {
        let h = &mut self.held;
        match code {
            KeyCode::KeyW => h.forward = pressed,
            KeyCode::KeyS => h.back = pressed,
            KeyCode::KeyA => h.left = pressed,
            KeyCode::KeyD => h.right = pressed,
            KeyCode::KeyE => h.up = pressed,
            KeyCode::KeyQ => h.down = pressed,
            KeyCode::ShiftLeft | KeyCode::ShiftRight => h.boost = pressed,
            _ if !pressed => {}
            KeyCode::Escape => el.exit(),
            KeyCode::KeyG => {
                self.settings.gi = cycle(&GiMode::ALL, self.settings.gi);
                self.update_title();
            }
            KeyCode::KeyV => {
                self.settings.view = cycle(&DebugView::ALL, self.settings.view);
                self.update_title();
            }
            KeyCode::Space => self.toggle_timeline(),
            KeyCode::KeyR => self.toggle_record(),
            KeyCode::KeyP => self.toggle_playback(),
            KeyCode::KeyF => {
                let on = !self.reference.on();
                self.reference.set_on(on);
            }
            KeyCode::Tab => self.show_ui = !self.show_ui,
            KeyCode::F12 => self.screenshot(shot, false)?,
            _ => {
                let digits = [
                    KeyCode::Digit1,
                    KeyCode::Digit2,
                    KeyCode::Digit3,
                    KeyCode::Digit4,
                    KeyCode::Digit5,
                    KeyCode::Digit6,
                    KeyCode::Digit7,
                    KeyCode::Digit8,
                    KeyCode::Digit9,
                ];
                if let Some(i) = digits.iter().position(|d| *d == code) {
                    if let Some(b) = self.pipeline.world().bookmarks.values().nth(i) {
                        self.fly.camera =
                            Camera { position: b.position, yaw: b.yaw, pitch: b.pitch, ..self.fly.camera };
                    }
                }
            }
        }
        Ok(())
    }

    fn toggle_timeline(&mut self) {
        if self.pipeline.speed() > 0.0 {
            self.resume_speed = self.pipeline.speed();
            self.pipeline.set_speed(0.0);
        } else {
            self.pipeline.set_speed(self.resume_speed.max(0.05));
        }
    }

    /// Jumps to simulated time `t`; back in time the stream and the probes start again (the world cannot
    /// run backwards), forward the due events are committed at once.
    fn seek(&mut self, t: f32) -> Result<(), AppError> {
        if !self.pipeline.seek(t) {
            self.restart(self.pipeline.world().clone())?;
            self.pipeline.seek(t);
        }
        self.message = format!("jumped to t = {t:.1} s");
        Ok(())
    }

    /// A fresh pipeline and renderer for `world`, keeping the timeline speed.
    fn restart(&mut self, world: Arc<World>) -> Result<(), AppError> {
        let speed = self.pipeline.speed();
        self.pipeline_opts.probes.base_spacing = world.probe_spacing;
        self.pipeline_opts.interest_radius = crate::pipeline::view_radius(&world);
        let tuning = self.pipeline.manager().config().clone();
        let (w, h) = self.renderer.size();
        // The old pipeline's converged regions go to disk, and its IO thread is idle, before the new one opens
        // the same cache folder (a user's explicit jump or world change: the one place the viewer waits on disk).
        let grid = self.pipeline.grid().clone();
        self.pipeline.manager_mut().flush_to_disk(&grid);
        self.rays_at_refresh = 0;
        self.pipeline = Pipeline::new(world, &self.pipeline_opts)?;
        self.pipeline.use_wall_clock();
        self.pipeline.manager_mut().set_tuning(tuning.base_budget, tuning.global_budget, tuning.blend.hysteresis);
        self.pipeline.set_speed(speed);
        self.renderer = Renderer::new(&self.ctx, w, h, &self.pipeline_opts.probes)?;
        self.renderer.set_gpu_timing(timing_trusted(&self.ctx));
        self.reference.restart();
        Ok(())
    }

    /// A file dropped onto the window opens at the next frame, as if picked in the panel.
    fn open_dropped(&mut self, path: &std::path::Path) {
        self.pending_world = Some(path.to_string_lossy().into_owned());
    }

    /// Opens a sample world at its main bookmark (a failure is shown in the panel; the old world stays).
    fn open_world(&mut self, name: &str) -> Result<(), AppError> {
        let vox = self.vox;
        let loaded = crate::world::resolve_world(name).and_then(|p| crate::world::load_world_with(&p, &vox));
        match loaded {
            Ok(world) => {
                let b = world.main_bookmark();
                self.restart(Arc::new(world))?;
                self.fly.camera = Camera { position: b.position, yaw: b.yaw, pitch: b.pitch, ..self.fly.camera };
                self.fly.speed = (3.0 * self.pipeline.world().probe_spacing).max(2.0);
                self.playback = None;
                self.message = format!("opened {name}");
                self.update_title();
            }
            Err(e) => self.message = format!("cannot open {name}: {e}"),
        }
        Ok(())
    }

    fn toggle_record(&mut self) {
        match self.recorder.take() {
            None => {
                self.recorder = Some((PathRecorder::default(), Instant::now()));
                self.message = "recording the camera path (R stops)".into();
            }
            Some((rec, _)) => {
                self.recorded += 1;
                let file = self.record_to.clone().unwrap_or_else(|| {
                    PathBuf::from(format!("lumon-path-{}-{}.json", std::process::id(), self.recorded))
                });
                self.message = match rec.finish(&self.pipeline.world().name) {
                    None => "nothing recorded".into(),
                    Some(path) => match path.save(&file) {
                        Ok(()) => {
                            let n = path.keyframes().len();
                            let msg = format!(
                                "saved {n} keyframes ({:.1} s) to {}: play with `lumon view --path` or time with \
                                 `lumon bench --path`",
                                path.duration(),
                                file.display()
                            );
                            log::info!("{msg}");
                            self.path = Some(path);
                            msg
                        }
                        Err(e) => format!("{e}"),
                    },
                };
            }
        }
    }

    fn toggle_playback(&mut self) {
        if self.playback.take().is_none() && self.path.is_some() {
            self.playback = Some(Instant::now());
        }
    }

    /// Moves the camera along the playing path, or records it; user movement stops a playback.
    fn drive_camera(&mut self, now: Instant) {
        if let (Some(start), Some(path)) = (self.playback, &self.path) {
            let h = &self.held;
            let moving = h.forward || h.back || h.left || h.right || h.up || h.down || h.look;
            let t = (now - start).as_secs_f32();
            if moving || t > path.duration() {
                self.playback = None;
            } else {
                let first = path.keyframes().first().map_or(0.0, |k| k.t);
                let (p, yaw, pitch) = path.sample(first + t);
                self.fly.camera = Camera { position: p, yaw, pitch, ..self.fly.camera };
            }
        }
        if let Some((rec, start)) = &mut self.recorder {
            let c = self.fly.camera;
            rec.push((now - *start).as_secs_f32(), c.position, c.yaw, c.pitch);
        }
    }

    /// Jumps to the `i`-th bookmark in name order.
    fn jump(&mut self, i: usize) {
        if let Some(b) = self.pipeline.world().bookmarks.values().nth(i) {
            self.fly.camera = Camera { position: b.position, yaw: b.yaw, pitch: b.pitch, ..self.fly.camera };
        }
    }

    /// Refreshes the panels' data four times a second (the stats read locks and counters, not every probe).
    fn refresh_panel(&mut self, now: Instant) {
        let dt = (now - self.refreshed).as_secs_f64();
        if dt < 0.25 && self.frames > 0 {
            return;
        }
        let probes = self.pipeline.manager().stats();
        self.panel.rays_per_second = (probes.rays_traced.saturating_sub(self.rays_at_refresh)) as f64 / dt.max(1e-3);
        self.rays_at_refresh = probes.rays_traced;
        self.panel.queue = probes.levels.iter().map(|l| l.queued).sum();
        self.panel.probes = probes;
        self.panel.stream = self.pipeline.stream_stats().clone();
        self.panel.regions = self.pipeline.regions().clone();
        let radius = self.pipeline.interest_radius();
        let cam = glam::Vec2::new(self.fly.camera.position.x, self.fly.camera.position.z);
        self.panel.interest =
            self.pipeline.region_grid().regions_within(cam, radius).into_iter().map(|(_, r)| r).collect();
        self.panel.interest_radius = radius;
        self.panel.edited_at = self.pipeline.edited_at().clone();
        self.panel.cursor = self.pipeline.cursor().map(|c| c.to_string());
        self.panel.timeline_end = self.pipeline.timeline_end();
        let c = self.pipeline.manager().config();
        self.panel.tuning =
            Tuning { base_budget: c.base_budget, global_budget: c.global_budget, hysteresis: c.blend.hysteresis };
        self.refreshed = now;
    }

    /// One frame: camera, the live pipeline step, uploads, passes, panels, present. Never waits for workers.
    fn frame(&mut self) -> Result<(), AppError> {
        if let Some(name) = self.pending_world.take() {
            self.open_world(&name)?;
        }
        if let Some(t) = self.pending_seek.take() {
            self.seek(t)?;
        }
        let now = Instant::now();
        let dt = (now - self.last).as_secs_f32();
        self.last = now;
        self.fly.update(&self.held, dt);
        self.drive_camera(now);
        self.pipeline.advance(dt);
        let cam = self.fly.camera;
        let report = self.pipeline.step(cam.position, false)?;
        let t_step = Instant::now();
        let topo = self.pipeline.manager().topologies();
        self.renderer.prepare(&self.ctx, self.pipeline.grid(), &topo, self.pipeline.uploads(), &cam, &self.settings)?;
        let t_upload = Instant::now();
        self.refresh_panel(t_upload);
        let exposure = self.settings.exposure * crate::render::world_exposure(&self.pipeline.grid().lights);
        let snapshot = self.pipeline.manager().irradiance_snapshot();
        let size = (self.config.width, self.config.height);
        self.reference.update(&self.egui_ctx, now, cam, size, self.pipeline.grid(), &snapshot, exposure);
        self.panel.reference = self.reference.status();
        self.panel.render = self.renderer.stats();
        self.panel.time = self.pipeline.time();
        self.panel.camera = cam.position;
        self.panel.speed = self.pipeline.speed();
        self.panel.recording = self.recorder.as_ref().map(|(r, _)| r.len());
        self.panel.has_path = self.path.is_some();
        self.panel.playing = match (self.playback, &self.path) {
            (Some(start), Some(p)) => Some(((now - start).as_secs_f32(), p.duration())),
            _ => None,
        };
        self.panel.message.clone_from(&self.message);
        let t_ui = Instant::now();
        let raw = self.egui_state.take_egui_input(&self.window);
        let show = self.show_ui;
        let (mut actions, mut settings) = (ui::UiActions::default(), self.settings);
        let world = self.pipeline.world().clone();
        let ui_state = &mut self.ui_state;
        let (panel, history, reference) = (&self.panel, &self.history, &self.reference);
        let output = self.egui_ctx.run_ui(raw, |root| {
            if show {
                actions = ui::panels(root, &world, panel, history, &mut settings, ui_state);
            }
            let visible = root.available_rect_before_wrap();
            reference.paint(root.ctx(), visible);
        });
        let mut output = output;
        self.egui_state.handle_platform_output(&self.window, std::mem::take(&mut output.platform_output));
        if settings.gi != self.settings.gi || settings.view != self.settings.view {
            self.settings = settings;
            self.update_title();
        }
        self.settings = settings;
        if actions.toggle_timeline {
            self.toggle_timeline();
        }
        if let Some(i) = actions.bookmark {
            self.jump(i);
        }
        if let Some(v) = actions.speed {
            self.pipeline.set_speed(v);
        }
        if let Some(t) = actions.tuning {
            self.pipeline.manager_mut().set_tuning(t.base_budget, t.global_budget, t.hysteresis);
        }
        if actions.toggle_record {
            self.toggle_record();
        }
        if actions.toggle_playback {
            self.toggle_playback();
        }
        if let Some(on) = actions.reference {
            self.reference.set_on(on);
        }
        if let Some(split) = actions.reference_split {
            self.reference.set_split(split);
        }
        if actions.reference_restart {
            self.reference.restart();
        }
        // Applied at the start of the next frame: they replace the pipeline and renderer this frame drew with.
        self.pending_seek = actions.seek.or(self.pending_seek);
        self.pending_world = actions.world.or(self.pending_world.take());
        let paint = self.egui_ctx.tessellate(std::mem::take(&mut output.shapes), output.pixels_per_point);
        let ui_ms = t_ui.elapsed().as_secs_f32() * 1000.0;
        // egui's texture changes are drained every frame, drawn or not (an undrained delta is lost).
        for (id, deltas) in std::mem::take(&mut output.textures_delta.set) {
            for delta in &deltas {
                self.egui_renderer.update_texture(&self.ctx.device, &self.ctx.queue, id, delta);
            }
        }
        let freed = std::mem::take(&mut output.textures_delta.free);
        let status = if std::mem::take(&mut self.force_lost) {
            wgpu::CurrentSurfaceTexture::Lost
        } else {
            self.surface.get_current_texture()
        };
        let frame = match status {
            wgpu::CurrentSurfaceTexture::Success(t) | wgpu::CurrentSurfaceTexture::Suboptimal(t) => Some(t),
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                log::info!("surface lost or outdated: reconfigured");
                self.surface.configure(&self.ctx.device, &self.config);
                None
            }
            _ => None,
        };
        let Some(frame) = frame else {
            for id in &freed {
                self.egui_renderer.free_texture(id);
            }
            return Ok(());
        };
        let view = frame.texture.create_view(&wgpu::TextureViewDescriptor::default());
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("frame") });
        self.renderer.record(&self.ctx, &mut enc);
        self.blit.draw(&self.ctx, &mut enc, &self.renderer, &view);
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [self.config.width, self.config.height],
            pixels_per_point: output.pixels_per_point,
        };
        let extra = self.egui_renderer.update_buffers(&self.ctx.device, &self.ctx.queue, &mut enc, &paint, &screen);
        {
            let pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("egui"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations { load: wgpu::LoadOp::Load, store: wgpu::StoreOp::Store },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            self.egui_renderer.render(&mut pass.forget_lifetime(), &paint, &screen);
        }
        let shot = self.shot_due.take().map(|due| (due, screenshot::record(&self.ctx, &mut enc, &frame.texture)));
        self.ctx.queue.submit(extra.into_iter().chain([enc.finish()]));
        self.renderer.finish_frame(&self.ctx);
        for id in &freed {
            self.egui_renderer.free_texture(id);
        }
        if let Some(((path, fatal), pending)) = shot {
            let written = pending.read(&self.ctx).map_err(AppError::from);
            let written = written.and_then(|img| self.write_shot(&img, path));
            self.shot_result(written, fatal)?;
        }
        self.window.pre_present_notify();
        self.ctx.queue.present(frame);
        let done = Instant::now();
        self.history.push(FrameTimes {
            frame_ms: dt * 1000.0,
            stream_ms: report.stream_ms as f32,
            voxel_ms: report.voxel_ms as f32,
            probes_ms: report.gi_ms as f32,
            upload_ms: (t_upload - t_step).as_secs_f32() * 1000.0,
            encode_ms: (done - t_upload).as_secs_f32() * 1000.0,
            ui_ms,
            gpu: self.renderer.gpu_pass_times(),
        });
        self.frames += 1;
        Ok(())
    }
}

impl ApplicationHandler for App {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.state.is_none() {
            if let Err(e) = self.start(el) {
                self.fail(el, e);
            }
        }
    }

    fn window_event(&mut self, el: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let shot = self.opts.screenshot.clone();
        let exit_after = self.opts.exit_after_frames;
        let Some(state) = self.state.as_mut() else { return };
        let consumed = state.egui_state.on_window_event(&state.window, &event).consumed;
        let input = matches!(
            event,
            WindowEvent::KeyboardInput { .. } | WindowEvent::MouseInput { .. } | WindowEvent::MouseWheel { .. }
        );
        if consumed && input {
            return;
        }
        let result = match event {
            WindowEvent::CloseRequested => {
                el.exit();
                Ok(())
            }
            WindowEvent::Resized(size) => state.resize(size.width, size.height),
            WindowEvent::DroppedFile(path) => {
                state.open_dropped(&path);
                Ok(())
            }
            WindowEvent::KeyboardInput { event, .. } => match event.physical_key {
                PhysicalKey::Code(code) => state.key(code, event.state == ElementState::Pressed, el, shot.as_ref()),
                PhysicalKey::Unidentified(_) => Ok(()),
            },
            WindowEvent::MouseInput { state: s, button: MouseButton::Right, .. } => {
                state.held.look = s == ElementState::Pressed;
                Ok(())
            }
            WindowEvent::MouseWheel { delta, .. } => {
                let lines = match delta {
                    MouseScrollDelta::LineDelta(_, y) => y,
                    MouseScrollDelta::PixelDelta(p) => (p.y / 40.0) as f32,
                };
                state.fly.wheel(lines);
                Ok(())
            }
            WindowEvent::RedrawRequested => {
                state.ticks += 1;
                let injected: Vec<Injected> =
                    self.opts.inject.iter().filter(|(at, _)| *at == state.ticks).map(|(_, e)| *e).collect();
                let mut result = Ok(());
                for e in injected {
                    result = result.and_then(|()| match e {
                        Injected::Resize(0, _) | Injected::Resize(_, 0) => state.resize(0, 0),
                        Injected::Resize(w, h) => {
                            match state.window.request_inner_size(winit::dpi::PhysicalSize::new(w, h)) {
                                Some(size) => state.resize(size.width, size.height),
                                None => Ok(()),
                            }
                        }
                        Injected::SurfaceLost => {
                            state.force_lost = true;
                            Ok(())
                        }
                        Injected::DroppedFile(path) => {
                            state.open_dropped(std::path::Path::new(path));
                            Ok(())
                        }
                    });
                }
                let size = state.window.inner_size();
                if result.is_err() {
                    result
                } else if state.minimised || size.width == 0 || size.height == 0 {
                    Ok(())
                } else {
                    let last = exit_after.is_some_and(|n| state.frames + 1 >= n);
                    let asked = if last && shot.is_some() { state.screenshot(shot.as_ref(), true) } else { Ok(()) };
                    asked.and_then(|()| state.frame()).and_then(|()| {
                        if !last {
                            return Ok(());
                        }
                        // The last frame had no surface to copy from: the image alone, rather than nothing.
                        if let Some((path, _)) = state.shot_due.take() {
                            let img = state.renderer.read_image(&state.ctx)?;
                            state.write_shot(&img, path)?;
                        }
                        el.exit();
                        Ok(())
                    })
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.fail(el, e);
        }
    }

    fn device_event(&mut self, _el: &ActiveEventLoop, _id: winit::event::DeviceId, event: DeviceEvent) {
        if let (Some(state), DeviceEvent::MouseMotion { delta }) = (self.state.as_mut(), event) {
            state.egui_state.on_mouse_motion(delta);
            state.fly.look(&state.held, delta.0, delta.1);
        }
    }

    fn about_to_wait(&mut self, _el: &ActiveEventLoop) {
        if let Some(state) = &self.state {
            state.window.request_redraw();
        }
    }
}
