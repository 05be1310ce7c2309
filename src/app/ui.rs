//! The viewer's egui panels. They only read plain stats structs (probe manager, streaming client, renderer),
//! refreshed four times a second rather than every frame, and the frame-time history kept here; the controls
//! write the frame settings and the timeline switch.

use std::collections::{BTreeSet, VecDeque};

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
}

/// What the controls changed this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UiActions {
    /// Toggle the timeline.
    pub toggle_timeline: bool,
    /// Jump to a bookmark (index in name order).
    pub bookmark: Option<usize>,
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
    timeline_running: bool,
) -> UiActions {
    let mut actions = UiActions::default();
    egui::Panel::left("lumon").default_size(340.0).show(root, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading(format!("lumon: {}", world.name));
            ui.label(format!(
                "t = {:.1} s, camera ({:.1}, {:.1}, {:.1}); Tab hides this panel",
                data.time, data.camera.x, data.camera.y, data.camera.z
            ));
            egui::CollapsingHeader::new("Controls").default_open(true).show(ui, |ui| {
                controls(ui, world, settings, timeline_running, &mut actions);
            });
            egui::CollapsingHeader::new("Timing").default_open(true).show(ui, |ui| timing(ui, history));
            egui::CollapsingHeader::new("Probes").default_open(true).show(ui, |ui| probes(ui, data));
            egui::CollapsingHeader::new("Streaming").default_open(false).show(ui, |ui| streaming(ui, world, data));
        });
    });
    actions
}

fn controls(
    ui: &mut egui::Ui,
    world: &World,
    settings: &mut FrameSettings,
    timeline_running: bool,
    actions: &mut UiActions,
) {
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
    let label = if timeline_running { "pause timeline (space)" } else { "play timeline (space)" };
    if ui.button(label).clicked() {
        actions.toggle_timeline = true;
    }
    ui.horizontal_wrapped(|ui| {
        for (i, name) in world.bookmarks.keys().enumerate().take(9) {
            if ui.button(format!("{} {name}", i + 1)).clicked() {
                actions.bookmark = Some(i);
            }
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
        let pass = |i: usize| history.median(move |t| t.gpu.map_or(0.0, |g| g.named()[i].1 as f32));
        ui.label(format!(
            "median GPU ms (timestamp queries): upload {:.2}, gbuffer {:.2}, lighting {:.2}, tonemap {:.2}",
            pass(0),
            pass(1),
            pass(2),
            pass(3)
        ));
    } else {
        ui.small("GPU pass times: this adapter has no timestamp queries.");
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
    egui::Grid::new("levels").striped(true).show(ui, |ui| {
        for h in ["level", "resident", "dirty", "flight", "valid", "conv.", "hits", "miss", "evict", "recyc."] {
            ui.strong(h);
        }
        ui.end_row();
        for l in &p.levels {
            ui.label(format!("{} ({} m)", l.level, l.spacing));
            ui.label(l.resident.to_string());
            ui.label(l.dirty.to_string());
            ui.label(l.in_flight.to_string());
            ui.label(format!("{:.0} %", l.valid_fraction * 100.0));
            ui.label(format!("{:.0} %", l.converged_fraction * 100.0));
            ui.label(l.hits.to_string());
            ui.label(l.misses.to_string());
            ui.label(l.evictions.to_string());
            ui.label(l.recycles.to_string());
            ui.end_row();
        }
    });
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
        "GPU: probes {}, voxels {} ({} bricks, {} pending, {} left off: buffers full); last frame {} probe and {} \
         brick uploads",
        mib(r.probe_storage_bytes),
        mib(r.voxel_storage_bytes),
        r.bricks.resident,
        r.bricks.pending,
        r.bricks.deferred,
        r.probes_written,
        r.bricks_written
    ));
}

fn streaming(ui: &mut egui::Ui, world: &World, data: &PanelData) {
    let s = &data.stream;
    ui.label(format!(
        "snapshots {} (regions {}), deltas {}, resyncs {}",
        s.snapshots, s.region_snapshots, s.deltas, s.resyncs
    ));
    ui.label(format!(
        "placements +{} ~{} -{}; regions loaded {} dropped {}; {} bytes",
        s.placements_added, s.placements_updated, s.placements_removed, s.regions_loaded, s.regions_dropped, s.bytes
    ));
    let grid = world.grid();
    let size = egui::vec2(ui.available_width().min(300.0), 200.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(20));
    // 400 m across, centred on the camera.
    let span = 400.0;
    let scale = rect.width().min(rect.height()) / span;
    let centre = rect.center();
    let to_screen = |x: f32, z: f32| centre + egui::vec2((x - data.camera.x) * scale, (z - data.camera.z) * scale);
    for r in &data.regions {
        let (lo, hi) = grid.region_rect(*r);
        let a = to_screen(lo.x, lo.y);
        let b = to_screen(hi.x, hi.y);
        let cell = egui::Rect::from_two_pos(a, b).shrink(0.5);
        if cell.intersects(rect) {
            painter.rect_filled(cell, 0.0, egui::Color32::from_rgb(40, 110, 60));
        }
    }
    painter.circle_filled(centre, 4.0, egui::Color32::WHITE);
    painter.circle_stroke(centre, 160.0 * scale, egui::Stroke::new(1.0, egui::Color32::from_gray(150)));
    ui.small("loaded regions (green), the camera (white) and the interest radius (circle); 400 m across");
}
