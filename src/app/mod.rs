//! The viewer: a winit window showing the world through the renderer, with the frame loop in live mode (it never
//! waits for tracer workers, the disk or the stream), a fly camera ([`fly`]) and keys for GI modes, debug views,
//! bookmarks and screenshots, and egui panels ([`ui`]) with probe, streaming and timing statistics and controls.
//!
//! Keys: W/A/S/D move, Q/E down and up, shift boosts, the right mouse button held turns, the wheel changes the
//! speed; G cycles GI modes, V debug views; 1-9 jump to the world's bookmarks (in name order); space pauses or
//! resumes the timeline; Tab hides or shows the panels; F12 saves a screenshot; Esc quits.

pub mod fly;
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

use crate::pipeline::{Pipeline, PipelineError, PipelineOptions};
use crate::render::blit::Blit;
use crate::render::{Camera, DebugView, FrameSettings, GiMode, GpuContext, RenderError, Renderer};
use crate::world::World;
use fly::{FlyCamera, Held};
use ui::{FrameTimes, PanelData, TimingHistory};

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
    timeline_running: bool,
    egui_ctx: egui::Context,
    egui_state: egui_winit::State,
    egui_renderer: egui_wgpu::Renderer,
    show_ui: bool,
    history: TimingHistory,
    panel: PanelData,
    refreshed: Instant,
    rays_at_refresh: u64,
}

struct App {
    opts: ViewerOptions,
    state: Option<State>,
    error: Option<AppError>,
}

/// Opens the window and runs until it is closed (or `exit_after_frames`).
pub fn run(opts: ViewerOptions) -> Result<(), AppError> {
    let event_loop = EventLoop::new().map_err(|e| AppError::NoDisplay(e.to_string()))?;
    let mut app = App { opts, state: None, error: None };
    event_loop.run_app(&mut app).map_err(|e| AppError::NoDisplay(e.to_string()))?;
    match app.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
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
        surface.configure(&ctx.device, &config);
        let renderer = Renderer::new(&ctx, w, h, &self.opts.pipeline.probes)?;
        let blit = Blit::new(&ctx, config.format);
        let pipeline = Pipeline::new(self.opts.world.clone(), &self.opts.pipeline)?;
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
            timeline_running: true,
            egui_ctx,
            egui_state,
            egui_renderer,
            show_ui: true,
            history: TimingHistory::default(),
            panel: PanelData::default(),
            refreshed: Instant::now(),
            rays_at_refresh: 0,
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
        if w == 0 || h == 0 {
            return Ok(()); // minimised: keep the old size, draw nothing
        }
        self.config.width = w;
        self.config.height = h;
        self.surface.configure(&self.ctx.device, &self.config);
        self.renderer.resize(&self.ctx, w, h)?;
        Ok(())
    }

    fn screenshot(&mut self, path: Option<&PathBuf>) -> Result<PathBuf, AppError> {
        let path = path.cloned().unwrap_or_else(|| PathBuf::from(format!("lumon-{}.png", self.frames)));
        let img = self.renderer.read_image(&self.ctx)?;
        img.save(&path).map_err(|e| AppError::Screenshot { path: path.clone(), reason: e.to_string() })?;
        log::info!("screenshot: {}", path.display());
        Ok(path)
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
            KeyCode::Tab => self.show_ui = !self.show_ui,
            KeyCode::F12 => {
                self.screenshot(shot)?;
            }
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
        self.timeline_running = !self.timeline_running;
        self.pipeline.set_timeline_running(self.timeline_running);
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
        self.panel.queue = probes.levels.iter().map(|l| l.dirty).sum();
        self.panel.probes = probes;
        self.panel.stream = self.pipeline.stream_stats().clone();
        self.panel.regions = self.pipeline.regions().clone();
        self.refreshed = now;
    }

    /// One frame: camera, the live pipeline step, uploads, passes, panels, present. Never waits for workers.
    fn frame(&mut self) -> Result<(), AppError> {
        let now = Instant::now();
        let dt = (now - self.last).as_secs_f32();
        self.last = now;
        self.fly.update(&self.held, dt);
        let cam = self.fly.camera;
        let report = self.pipeline.step(cam.position, false)?;
        let t_step = Instant::now();
        let topo = self.pipeline.manager().topologies();
        self.renderer.prepare(&self.ctx, self.pipeline.grid(), &topo, self.pipeline.uploads(), &cam, &self.settings)?;
        let t_upload = Instant::now();
        self.refresh_panel(t_upload);
        self.panel.render = self.renderer.stats();
        self.panel.time = self.pipeline.time();
        self.panel.camera = cam.position;
        let t_ui = Instant::now();
        let raw = self.egui_state.take_egui_input(&self.window);
        let show = self.show_ui;
        let (mut actions, mut settings) = (ui::UiActions::default(), self.settings);
        let world = self.pipeline.world().clone();
        let output = self.egui_ctx.run_ui(raw, |root| {
            if show {
                actions = ui::panels(root, &world, &self.panel, &self.history, &mut settings, self.timeline_running);
            }
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
        let paint = self.egui_ctx.tessellate(std::mem::take(&mut output.shapes), output.pixels_per_point);
        let ui_ms = t_ui.elapsed().as_secs_f32() * 1000.0;
        // egui's texture changes are drained every frame, drawn or not (an undrained delta is lost).
        for (id, deltas) in std::mem::take(&mut output.textures_delta.set) {
            for delta in &deltas {
                self.egui_renderer.update_texture(&self.ctx.device, &self.ctx.queue, id, delta);
            }
        }
        let freed = std::mem::take(&mut output.textures_delta.free);
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) | wgpu::CurrentSurfaceTexture::Suboptimal(t) => Some(t),
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
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
        self.blit.draw(&self.ctx, &mut enc, &mut self.renderer, &view);
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
        self.ctx.queue.submit(extra.into_iter().chain([enc.finish()]));
        self.renderer.finish_frame(&self.ctx);
        for id in &freed {
            self.egui_renderer.free_texture(id);
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
                let size = state.window.inner_size();
                if size.width == 0 || size.height == 0 {
                    Ok(())
                } else {
                    state.frame().and_then(|()| match exit_after {
                        Some(n) if state.frames >= n => {
                            if shot.is_some() {
                                state.screenshot(shot.as_ref())?;
                            }
                            el.exit();
                            Ok(())
                        }
                        _ => Ok(()),
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
