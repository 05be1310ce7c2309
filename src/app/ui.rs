//! The viewer's egui panels. They only read plain stats structs (probe manager, streaming client, renderer),
//! refreshed four times a second rather than every frame, and the frame-time history kept here; the controls
//! write the frame settings and return [`UiActions`] (timeline, budgets, world, camera path) for the app.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::probes::manager::ProbeStats;
use crate::render::{DebugView, FrameSettings, GiMode, GpuPassTimes, RenderStats};
use crate::streaming::{ClientStats, RegionId};
use crate::world::World;

/// Frames of history in the timing plot.
pub const HISTORY: usize = 300;

/// One frame's timings, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameTimes {
    /// Whole frame, wall clock between frames.
    pub frame_ms: f32,
    /// Timeline commits and the streaming client.
    pub stream_ms: f32,
    /// Scene changes into the voxel world.
    pub voxel_ms: f32,
    /// The probe step and its upload list.
    pub probes_ms: f32,
    /// Uploads (bricks, probes, uniforms).
    pub upload_ms: f32,
    /// Panels, encoding the passes and presenting.
    pub encode_ms: f32,
    /// Of which the panels (egui layout and tessellation).
    pub ui_ms: f32,
    /// GPU time per pass of the latest frame whose timestamps came back (`None` without timestamp queries).
    pub gpu: Option<GpuPassTimes>,
}

/// What the panels show, refreshed a few times a second.
#[derive(Clone, Debug, Default)]
pub struct PanelData {
    /// The path-traced reference of the view.
    pub reference: super::reference::ReferenceStatus,
    /// Probe manager counters.
    pub probes: ProbeStats,
    /// Streaming client counters.
    pub stream: ClientStats,
    /// Regions the client holds.
    pub regions: BTreeSet<RegionId>,
    /// Renderer counters.
    pub render: RenderStats,
    /// Probe rays per second over the last refresh.
    pub rays_per_second: f64,
    /// Probe work queued, all levels.
    pub queue: usize,
    /// Simulated time, seconds.
    pub time: f32,
    /// Camera position.
    pub camera: glam::Vec3,
    /// The streaming client's cursor.
    pub cursor: Option<String>,
    /// Regions within the interest radius of the camera.
    pub interest: BTreeSet<RegionId>,
    /// The interest radius, metres.
    pub interest_radius: f32,
    /// Simulated time of the latest edit seen per region.
    pub edited_at: BTreeMap<RegionId, f32>,
    /// Timeline speed (0: paused).
    pub speed: f32,
    /// Time of the world's last timeline event, seconds.
    pub timeline_end: f32,
    /// Probe budgets and hysteresis in use.
    pub tuning: Tuning,
    /// Keyframes recorded so far, while recording a camera path.
    pub recording: Option<usize>,
    /// Seconds played and the path's length, while playing a camera path.
    pub playing: Option<(f32, f32)>,
    /// A camera path is loaded (`--path`) and can be played.
    pub has_path: bool,
    /// The latest message for the user (a saved file, a failed world load).
    pub message: String,
}

/// The probe manager's runtime controls.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tuning {
    /// Level 0's probe updates per frame (level `L` gets this `>> L`).
    pub base_budget: u32,
    /// Probe updates per frame over all levels.
    pub global_budget: u32,
    /// The blend's hysteresis.
    pub hysteresis: f32,
}

/// Panel state that lives across frames.
#[derive(Clone, Debug, Default)]
pub struct UiState {
    /// The time the seek slider points at, seconds.
    pub seek_to: f32,
    /// The path typed into the world picker's "Open..." field.
    pub open_path: String,
}

/// What the controls changed this frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UiActions {
    /// Toggle the timeline.
    pub toggle_timeline: bool,
    /// Jump to a bookmark (index in name order).
    pub bookmark: Option<usize>,
    /// New timeline speed.
    pub speed: Option<f32>,
    /// Jump to this simulated time, seconds.
    pub seek: Option<f32>,
    /// New probe budgets and hysteresis.
    pub tuning: Option<Tuning>,
    /// Open this world: a sample's name, a world file or a `.vox` scene.
    pub world: Option<String>,
    /// Start or stop recording the camera path.
    pub toggle_record: bool,
    /// Start or stop playing the loaded camera path.
    pub toggle_playback: bool,
    /// Turn the path-traced reference on or off.
    pub reference: Option<bool>,
    /// Show the reference beside the probes (true) or in place.
    pub reference_split: Option<bool>,
    /// Trace the reference again (the world changed).
    pub reference_restart: bool,
}

/// Frame-time history.
#[derive(Clone, Debug, Default)]
pub struct TimingHistory {
    frames: VecDeque<FrameTimes>,
}

impl TimingHistory {
    /// Adds a frame, dropping the oldest past [`HISTORY`].
    pub fn push(&mut self, t: FrameTimes) {
        if self.frames.len() == HISTORY {
            self.frames.pop_front();
        }
        self.frames.push_back(t);
    }

    /// Median of one series.
    pub fn median(&self, f: impl Fn(&FrameTimes) -> f32) -> f32 {
        let mut v: Vec<f32> = self.frames.iter().map(f).collect();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    }

    fn series(&self, f: impl Fn(&FrameTimes) -> f32) -> PlotPoints<'static> {
        self.frames.iter().enumerate().map(|(i, t)| [i as f64, f64::from(f(t))]).collect()
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Draws the panels into the root `ui`; returns what the controls asked for.
pub fn panels(
    root: &mut egui::Ui,
    world: &World,
    data: &PanelData,
    history: &TimingHistory,
    settings: &mut FrameSettings,
    state: &mut UiState,
) -> UiActions {
    let mut actions = UiActions::default();
    // About 340 pixels wide, resizable by its edge; text wraps and the levels table scrolls sideways, so no line
    // widens the panel past its size.
    egui::Panel::left("lumon").default_size(340.0).size_range(240.0..=720.0).show(root, |ui| {
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Wrap);
        egui::ScrollArea::vertical().auto_shrink([false, true]).show(ui, |ui| {
            ui.heading(format!("lumon: {}", world.name));
            ui.label(format!(
                "t = {:.1} s, camera ({:.1}, {:.1}, {:.1}); Tab hides this panel",
                data.time, data.camera.x, data.camera.y, data.camera.z
            ));
            if !data.message.is_empty() {
                ui.colored_label(egui::Color32::from_rgb(230, 200, 90), &data.message);
            }
            egui::CollapsingHeader::new("Controls").default_open(true).show(ui, |ui| {
                controls(ui, world, data, settings, state, &mut actions);
            });
            egui::CollapsingHeader::new("Timeline").default_open(true).show(ui, |ui| {
                timeline(ui, data, state, &mut actions);
            });
            egui::CollapsingHeader::new("Reference").default_open(true).show(ui, |ui| {
                reference(ui, data, &mut actions);
            });
            egui::CollapsingHeader::new("Timing").default_open(true).show(ui, |ui| timing(ui, history));
            egui::CollapsingHeader::new("Probes").default_open(true).show(ui, |ui| probes(ui, data));
            egui::CollapsingHeader::new("Streaming").default_open(false).show(ui, |ui| streaming(ui, world, data));
        });
    });
    actions
}

fn reference(ui: &mut egui::Ui, data: &PanelData, actions: &mut UiActions) {
    let r = &data.reference;
    let mut on = r.on;
    if ui.checkbox(&mut on, "path-traced reference of this view (F)").changed() {
        actions.reference = Some(on);
    }
    if !r.on {
        return;
    }
    ui.horizontal(|ui| {
        if ui.radio(!r.split, "in place").clicked() {
            actions.reference_split = Some(false);
        }
        if ui.radio(r.split, "split: reference | probes").clicked() {
            actions.reference_split = Some(true);
        }
        if ui.button("restart").on_hover_text("trace again (after the world changed)").clicked() {
            actions.reference_restart = true;
        }
    });
    match &r.metrics {
        None => {
            ui.label("starts when the camera stays still; moving restarts it");
        }
        Some(m) => {
            ui.label(format!(
                "{}x{}, {} of {} rays per pixel, {:.1} s{}",
                r.size.0,
                r.size.1,
                m.reference_rays,
                r.target,
                r.seconds,
                if r.running { ", refining" } else { "" }
            ));
            ui.label(format!(
                "indirect error: mean {:.1} %, bias {:+.1} %, over 25 %: {:.1} % of pixels",
                m.mean_relative_error * 100.0,
                m.bias * 100.0,
                m.over_25_percent * 100.0
            ));
            ui.label(format!("the reference's own noise: {:.1} %", m.reference_noise * 100.0));
        }
    }
}

fn controls(
    ui: &mut egui::Ui,
    world: &World,
    data: &PanelData,
    settings: &mut FrameSettings,
    ui_state: &mut UiState,
    actions: &mut UiActions,
) {
    egui::ComboBox::from_label("world").selected_text(world.name.as_str()).show_ui(ui, |ui| {
        for name in crate::world::samples::SAMPLE_NAMES {
            if ui.selectable_label(world.name == name, name).clicked() && world.name != name {
                actions.world = Some(name.to_string());
            }
        }
    });
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut ui_state.open_path)
                .hint_text("scene.vox or world.json")
                .desired_width(170.0),
        );
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let open = ui.button("Open...").on_hover_text("open a .vox scene or a world file (or drop one on the window)");
        if (entered || open.clicked()) && !ui_state.open_path.trim().is_empty() {
            actions.world = Some(ui_state.open_path.trim().to_string());
        }
    });
    egui::ComboBox::from_label("GI mode (G)").selected_text(settings.gi.name()).show_ui(ui, |ui| {
        for m in GiMode::ALL {
            ui.selectable_value(&mut settings.gi, m, m.name());
        }
    });
    egui::ComboBox::from_label("view (V)").selected_text(settings.view.name()).show_ui(ui, |ui| {
        for v in DebugView::ALL {
            ui.selectable_value(&mut settings.view, v, v.name());
        }
    });
    ui.add(egui::Slider::new(&mut settings.exposure, 0.1..=8.0).logarithmic(true).text("exposure"));
    if settings.gi == GiMode::Split {
        ui.add(egui::Slider::new(&mut settings.split, 0.0..=1.0).text("split"));
    }
    if settings.gi == GiMode::Off {
        ui.add(egui::Slider::new(&mut settings.ambient, 0.0..=2.0).text("ambient"));
    }
    ui.horizontal(|ui| {
        ui.label("levels lit:");
        for l in &data.probes.levels {
            let bit = 1u32 << l.level;
            let mut on = settings.levels_on & bit != 0;
            if ui.checkbox(&mut on, format!("L{}", l.level)).changed() {
                settings.levels_on ^= bit;
            }
        }
    });
    let mut t = data.tuning;
    let mut changed = ui
        .add(egui::Slider::new(&mut t.base_budget, 16..=16_384).logarithmic(true).text("L0 budget / frame"))
        .changed();
    changed |= ui
        .add(egui::Slider::new(&mut t.global_budget, 16..=16_384).logarithmic(true).text("global budget / frame"))
        .changed();
    changed |= ui.add(egui::Slider::new(&mut t.hysteresis, 0.5..=0.995).text("hysteresis")).changed();
    if changed {
        actions.tuning = Some(t);
    }
    ui.horizontal_wrapped(|ui| {
        for (i, name) in world.bookmarks.keys().enumerate().take(9) {
            if ui.button(format!("{} {name}", i + 1)).clicked() {
                actions.bookmark = Some(i);
            }
        }
    });
    ui.horizontal(|ui| {
        let rec = match data.recording {
            Some(n) => format!("stop recording (R), {n} keys"),
            None => "record camera path (R)".into(),
        };
        if ui.button(rec).clicked() {
            actions.toggle_record = true;
        }
        if data.has_path {
            let play = match data.playing {
                Some((t, len)) => format!("stop path (P) {t:.1}/{len:.1} s"),
                None => "play path (P)".into(),
            };
            if ui.button(play).clicked() {
                actions.toggle_playback = true;
            }
        }
    });
}

fn timeline(ui: &mut egui::Ui, data: &PanelData, state: &mut UiState, actions: &mut UiActions) {
    ui.horizontal(|ui| {
        let label = if data.speed > 0.0 { "pause (space)" } else { "play (space)" };
        if ui.button(label).clicked() {
            actions.toggle_timeline = true;
        }
        ui.label(format!("t = {:.1} s; last event at {:.1} s", data.time, data.timeline_end));
    });
    let mut speed = data.speed;
    if ui.add(egui::Slider::new(&mut speed, 0.0..=16.0).text("speed (x real time)")).changed() {
        actions.speed = Some(speed);
    }
    let end = data.timeline_end.max(data.time).max(1.0) * 1.1;
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut state.seek_to, 0.0..=end).text("s"));
        if ui.button("jump").on_hover_text("back in time restarts the stream and the probes").clicked() {
            actions.seek = Some(state.seek_to);
        }
    });
}

fn timing(ui: &mut egui::Ui, history: &TimingHistory) {
    let med = |f: fn(&FrameTimes) -> f32| history.median(f);
    ui.label(format!(
        "median ms: frame {:.1}; CPU: stream {:.2}, voxel {:.2}, probes {:.2}, upload {:.2}, encode {:.2} \
         (panels {:.2})",
        med(|t| t.frame_ms),
        med(|t| t.stream_ms),
        med(|t| t.voxel_ms),
        med(|t| t.probes_ms),
        med(|t| t.upload_ms),
        med(|t| t.encode_ms),
        med(|t| t.ui_ms),
    ));
    let has_gpu = history.frames.iter().any(|t| t.gpu.is_some());
    if has_gpu {
        let pass = |i: usize| {
            let mut v: Vec<f32> = history.frames.iter().filter_map(|t| t.gpu.map(|g| g.named()[i].1 as f32)).collect();
            v.sort_by(f32::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        ui.label(format!(
            "median GPU ms (timestamp queries): upload {:.2}, gbuffer {:.2}, lighting {:.2}, tonemap {:.2}",
            pass(0),
            pass(1),
            pass(2),
            pass(3)
        ));
    } else {
        ui.small(
            "GPU pass times: none on this adapter (no timestamp queries, or a CPU adapter such as lavapipe, whose \
             timestamps are wrong once render passes run; `lumon bench` times its passes).",
        );
    }
    Plot::new("frame times").height(150.0).legend(Legend::default()).show(ui, |plot| {
        plot.line(Line::new("frame", history.series(|t| t.frame_ms)));
        if has_gpu {
            plot.line(Line::new("GPU passes", history.series(|t| t.gpu.map_or(0.0, |g| g.total() as f32))));
        }
        plot.line(Line::new("stream + voxel", history.series(|t| t.stream_ms + t.voxel_ms)));
        plot.line(Line::new("probes", history.series(|t| t.probes_ms)));
        plot.line(Line::new("upload", history.series(|t| t.upload_ms)));
        plot.line(Line::new("encode", history.series(|t| t.encode_ms)));
    });
}

fn probes(ui: &mut egui::Ui, data: &PanelData) {
    let p = &data.probes;
    ui.label(format!(
        "{:.2} M rays/s, {} queued, {} results dropped",
        data.rays_per_second / 1e6,
        data.queue,
        p.results_dropped
    ));
    egui::ScrollArea::horizontal().id_salt("levels scroll").show(ui, |ui| levels_table(ui, p));
    let m = &p.memory;
    ui.label(format!(
        "memory cache: {} regions, {}; hits {}, misses {}, evictions {}, recycles {}",
        m.regions,
        mib(m.bytes as u64),
        m.hits,
        m.misses,
        m.evictions,
        m.recycles
    ));
    match &p.disk {
        Some(d) if d.disabled => ui.label("disk cache: turned off (the folder could not be used; see the log)"),
        Some(d) => ui.label(format!(
            "disk cache: hits {}, misses {}, writes {}, corrupt files {}, evictions {}, {}",
            d.hits,
            d.misses,
            d.writes,
            d.corrupt,
            d.evictions,
            mib(d.bytes)
        )),
        None => ui.label("disk cache: off"),
    };
    let r = &data.render;
    ui.label(format!(
        "GPU: probes {}, voxels {} ({} bricks, {} pending, {} left off: buffers full), {} emitter lights; last \
         frame {} probe and {} brick uploads",
        mib(r.probe_storage_bytes),
        mib(r.voxel_storage_bytes),
        r.bricks.resident,
        r.bricks.pending,
        r.bricks.deferred,
        r.emitter_lights,
        r.probes_written,
        r.bricks_written
    ));
}

fn streaming(ui: &mut egui::Ui, world: &World, data: &PanelData) {
    let s = &data.stream;
    ui.label(format!(
        "cursor {}; {} regions in interest ({:.0} m), {} loaded",
        data.cursor.as_deref().unwrap_or("-"),
        data.interest.len(),
        data.interest_radius,
        data.regions.len()
    ));
    ui.label(format!(
        "snapshots {} (regions {}), deltas {}, resyncs {}",
        s.snapshots, s.region_snapshots, s.deltas, s.resyncs
    ));
    ui.label(format!(
        "placements +{} ~{} -{}; regions loaded {} dropped {}; {} bytes",
        s.placements_added, s.placements_updated, s.placements_removed, s.regions_loaded, s.regions_dropped, s.bytes
    ));
    let grid = world.grid();
    let size = egui::vec2(ui.available_width().min(300.0), 220.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(20));
    // Twice the interest radius across (at least 200 m), centred on the camera.
    let span = (data.interest_radius * 2.2).max(200.0);
    let scale = rect.width().min(rect.height()) / span;
    let centre = rect.center();
    let to_screen = |x: f32, z: f32| centre + egui::vec2((x - data.camera.x) * scale, (z - data.camera.z) * scale);
    for r in data.interest.union(&data.regions) {
        let (lo, hi) = grid.region_rect(*r);
        let cell = egui::Rect::from_two_pos(to_screen(lo.x, lo.y), to_screen(hi.x, hi.y)).shrink(0.5);
        if !cell.intersects(rect) {
            continue;
        }
        let fill = if data.regions.contains(r) {
            egui::Color32::from_rgb(40, 110, 60)
        } else {
            egui::Color32::from_rgb(60, 60, 90)
        };
        painter.rect_filled(cell, 0.0, fill);
        // Edited in the last 10 simulated seconds: an orange mark that fades.
        if let Some(t) = data.edited_at.get(r) {
            let age = (data.time - t).max(0.0);
            if age < RECENT_SECONDS {
                let a = (255.0 * (1.0 - age / RECENT_SECONDS)) as u8;
                let mark = egui::Color32::from_rgba_unmultiplied(255, 150, 40, a);
                painter.rect_stroke(cell.shrink(1.0), 0.0, egui::Stroke::new(2.0, mark), egui::StrokeKind::Inside);
            }
        }
    }
    painter.circle_filled(centre, 4.0, egui::Color32::WHITE);
    painter.circle_stroke(centre, data.interest_radius * scale, egui::Stroke::new(1.0, egui::Color32::from_gray(150)));
    ui.small(format!(
        "loaded (green), in interest but not loaded yet (blue), edited in the last {RECENT_SECONDS:.0} s (orange \
         outline), the camera (white) and the interest radius (circle); {span:.0} m across"
    ));
}

/// Seconds an edited region stays marked on the map.
const RECENT_SECONDS: f32 = 10.0;

/// The per-level table of the probes panel (scrolled sideways by its caller, so it never widens the panel).
fn levels_table(ui: &mut egui::Ui, p: &ProbeStats) {
    egui::Grid::new("levels").striped(true).show(ui, |ui| {
        for h in [
            "level", "resident", "queued", "disk", "flight", "valid", "conv.", "bounce", "hits", "miss", "evict",
            "recyc.",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        for l in &p.levels {
            ui.label(format!("{} ({} m)", l.level, l.spacing));
            ui.label(l.resident.to_string());
            ui.label(l.queued.to_string());
            ui.label(l.awaiting_disk.to_string());
            ui.label(l.in_flight.to_string());
            ui.label(format!("{:.0} %", l.valid_fraction * 100.0));
            ui.label(format!("{:.0} %", l.converged_fraction * 100.0));
            let state = if l.bounce_settled { "" } else { " settling" };
            ui.label(format!("{:.0} %{state}", l.bounce_share * 100.0));
            ui.label(l.hits.to_string());
            ui.label(l.misses.to_string());
            ui.label(l.evictions.to_string());
            ui.label(l.recycles.to_string());
            ui.end_row();
        }
    });
}
