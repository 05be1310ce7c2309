//! The `lumon` binary: parses arguments (clap) and calls into the library. Errors end here, printed with their
//! context and a non-zero exit.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use lumon::bench::gpu::{frames_csv, run_gpu, GpuBenchOptions};
use lumon::bench::path::CameraPath;
use lumon::bench::plot::write_plot;
use lumon::bench::{run_cpu, AccuracyOptions, BenchOptions};
use lumon::capture::CaptureOptions;
use lumon::probes::manager::ProbeConfig;
use lumon::probes::ReferenceSettings;
use lumon::render::{Camera, DebugView, FrameSettings, GiMode, GpuContext};
use lumon::stream_run::{run_stream, StreamOptions};
use lumon::world::{load_world_with, resolve_world, sample_worlds, DEFAULT_WORLD};

/// lumon: fly through streamed voxel worlds lit by world-space clipmap probes.
#[derive(Parser)]
#[command(name = "lumon", version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Open the viewer on this world (a sample's name, a world file or a MagicaVoxel .vox scene).
    world: Option<String>,
    #[command(flatten)]
    vox: VoxArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Open the viewer window (the default command).
    View(ViewArgs),
    /// List the sample worlds with their purpose.
    Worlds,
    /// Run a world's timeline on the streaming server in simulated time; write JSON lines to stdout.
    Stream(StreamArgs),
    /// Time the whole pipeline (GPU included, or --no-gpu) headless along a camera path; write a JSON report.
    Bench(BenchArgs),
    /// Render one image headless (in lockstep, after the probes converge) and write it as PNG.
    Capture(CaptureArgs),
    /// Compare the probes' lighting of a view with a path-traced reference: images into --out, metrics as
    /// JSON on stdout.
    Compare(CompareArgs),
    /// Describe a world file or a MagicaVoxel .vox scene: models, instances, voxels, bounds, materials,
    /// layers, cameras and every warning.
    Inspect(InspectArgs),
}

/// How a MagicaVoxel `.vox` scene becomes a world (world files ignore it).
#[derive(Args, Clone, Copy)]
struct VoxArgs {
    /// Metres per voxel of a .vox scene, 0.01..=16.
    #[arg(long, default_value_t = lumon::world::vox::DEFAULT_VOXEL_SIZE)]
    voxel_size: f32,
}

impl Default for VoxArgs {
    fn default() -> Self {
        VoxArgs { voxel_size: lumon::world::vox::DEFAULT_VOXEL_SIZE }
    }
}

impl VoxArgs {
    fn options(self) -> lumon::world::vox::VoxOptions {
        lumon::world::vox::VoxOptions { voxel_size: self.voxel_size }
    }
}

/// Resolves and loads a world argument (a sample's name or a path).
fn open_world(name: &str, vox: VoxArgs) -> Result<(PathBuf, lumon::world::World)> {
    let path = resolve_world(name)?;
    let world = load_world_with(&path, &vox.options())?;
    Ok((path, world))
}

#[derive(Args)]
struct InspectArgs {
    /// A sample world's name, a world file or a .vox scene.
    world: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vox: VoxArgs,
}

/// Options every command that runs the pipeline takes.
#[derive(Args, Default)]
struct RunArgs {
    /// Tracer threads (default: cores - 1, at least 1).
    #[arg(long)]
    threads: Option<usize>,
    /// Folder of the probe disk cache (default: the user's cache directory).
    #[arg(long, conflicts_with = "no_disk_cache")]
    cache_dir: Option<PathBuf>,
    /// Run without the probe disk cache.
    #[arg(long)]
    no_disk_cache: bool,
}

#[derive(Args)]
struct ViewArgs {
    /// The world: a sample's name, a world file or a MagicaVoxel .vox scene (same as --world).
    #[arg(value_name = "WORLD", conflicts_with = "world")]
    world_arg: Option<String>,
    /// A sample world's name or a path to a world file or .vox scene.
    #[arg(long, default_value = DEFAULT_WORLD)]
    world: String,
    #[command(flatten)]
    vox: VoxArgs,
    /// GI mode at the start: off, probes, indirect, split (G cycles).
    #[arg(long, default_value = "probes")]
    gi: String,
    /// Debug view at the start: lit, probes, levels, confidence, ao, state (V cycles).
    #[arg(long, default_value = "lit")]
    view: String,
    /// Start at this bookmark (default: main).
    #[arg(long)]
    bookmark: Option<String>,
    #[command(flatten)]
    run: RunArgs,
    /// Wait for vertical sync: on or off.
    #[arg(long, default_value = "on")]
    vsync: String,
    /// Quit after this many frames.
    #[arg(long)]
    exit_after_frames: Option<u64>,
    /// Where screenshots go (F12, and at --exit-after-frames); default lumon-<frame>.png.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Play this camera path file from the start (P replays it; moving stops it).
    #[arg(long)]
    path: Option<PathBuf>,
    /// Where a camera path recorded with R goes; default lumon-path-<pid>-<n>.json.
    #[arg(long)]
    record_to: Option<PathBuf>,
    /// Start with the path-traced reference of the view on (F toggles it): "in-place" or "split" (reference
    /// on the left, probes on the right).
    #[arg(long)]
    reference: Option<String>,
}

impl Default for ViewArgs {
    fn default() -> Self {
        ViewArgs {
            world_arg: None,
            world: DEFAULT_WORLD.into(),
            vox: VoxArgs::default(),
            gi: "probes".into(),
            view: "lit".into(),
            bookmark: None,
            run: RunArgs::default(),
            vsync: "on".into(),
            exit_after_frames: None,
            screenshot: None,
            path: None,
            record_to: None,
            reference: None,
        }
    }
}

/// The world and camera of a headless image (`capture`, `compare`).
#[derive(Args)]
struct ViewPoint {
    /// A sample world's name or a path to a world file or .vox scene.
    #[arg(long, default_value = DEFAULT_WORLD)]
    world: String,
    #[command(flatten)]
    vox: VoxArgs,
    /// Camera at this bookmark (default: main).
    #[arg(long, conflicts_with = "camera")]
    bookmark: Option<String>,
    /// Camera as X,Y,Z,YAW,PITCH (metres, degrees).
    #[arg(long, allow_hyphen_values = true)]
    camera: Option<String>,
}

#[derive(Args)]
struct CaptureArgs {
    #[command(flatten)]
    at: ViewPoint,
    /// GI mode: off, probes, indirect, split.
    #[arg(long, default_value = "probes")]
    gi: String,
    /// Debug view: lit, probes, levels, confidence, ao, state.
    #[arg(long, default_value = "lit")]
    view: String,
    /// Most frames to wait for level 0 to converge and the multi-bounce light to settle (after the timeline
    /// reaches --time).
    #[arg(long, default_value_t = 3000)]
    converge_frames: u32,
    /// Timeline time of the image, seconds.
    #[arg(long, default_value_t = 0.0)]
    time: f32,
    /// Image size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720")]
    size: String,
    /// Exposure multiplier, on top of the world's own.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    exposure: f32,
    #[command(flatten)]
    run: RunArgs,
    /// Where to write the PNG.
    #[arg(long)]
    out: PathBuf,
    /// Also write the capture's JSON report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// After the image, time this many frames per mode (GI off and --gi, alternating); reported on stderr
    /// and in --report.
    #[arg(long, default_value_t = 0)]
    time_frames: u32,
}

#[derive(Args)]
struct CompareArgs {
    #[command(flatten)]
    at: ViewPoint,
    /// Timeline time of the view, seconds.
    #[arg(long, default_value_t = 0.0)]
    time: f32,
    /// Image size, WIDTHxHEIGHT.
    #[arg(long, default_value = "320x180")]
    size: String,
    /// Reference rays per pixel (cosine-weighted), 1..=1048576.
    #[arg(long, default_value_t = 1024)]
    rays: u32,
    /// Reference bounces (1: light that reaches the surface after one hit), 1..=16; fewer is faster and
    /// darker than the truth.
    #[arg(long, default_value_t = lumon::probes::reference::TRUTH_BOUNCES)]
    bounces: u32,
    /// Most frames to wait for level 0 to converge and the multi-bounce light to settle.
    #[arg(long, default_value_t = 3000)]
    converge_frames: u32,
    /// Exposure multiplier of the images, on top of the world's own.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    exposure: f32,
    #[command(flatten)]
    run: RunArgs,
    /// Folder for the images (created when missing).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct BenchArgs {
    /// Run the CPU pipeline only (streaming, voxels, probe manager, tracer): no adapter needed.
    #[arg(long)]
    no_gpu: bool,
    /// A sample world's name or a path to a world file or .vox scene.
    #[arg(long, default_value = DEFAULT_WORLD)]
    world: String,
    #[command(flatten)]
    vox: VoxArgs,
    /// Frames at a simulated 60 Hz.
    #[arg(long, default_value_t = 600)]
    frames: u32,
    /// A camera path file (default: the world's `main` bookmark flight).
    #[arg(long)]
    path: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    /// Hold the camera at this bookmark instead of following a path.
    #[arg(long, conflicts_with = "path")]
    bookmark: Option<String>,
    /// Frames of the accuracy phase after the path (camera held, timeline stopped); 0 skips it.
    #[arg(long, default_value_t = 600)]
    settle_frames: u32,
    /// Surface points of the accuracy comparison.
    #[arg(long, default_value_t = 64)]
    accuracy_points: usize,
    /// Rays per point of the reference integrator.
    #[arg(long, default_value_t = 4096)]
    reference_rays: u32,
    /// Where to write the JSON report.
    #[arg(long)]
    out: PathBuf,
    /// Leading frames left out of the frame percentiles (GPU bench; counted in --frames). Default: a fifth of
    /// --frames, at most 60.
    #[arg(long, conflicts_with = "no_gpu")]
    warmup: Option<u32>,
    /// Image size, WIDTHxHEIGHT (GPU bench).
    #[arg(long, default_value = "1280x720", conflicts_with = "no_gpu")]
    size: String,
    /// GI mode: off, probes, indirect, split (GPU bench).
    #[arg(long, default_value = "probes", conflicts_with = "no_gpu")]
    gi: String,
    /// Debug view: lit, probes, levels, confidence, ao, state (GPU bench).
    #[arg(long, default_value = "lit", conflicts_with = "no_gpu")]
    view: String,
    /// Also write one CSV row per timed frame here (GPU bench).
    #[arg(long, conflicts_with = "no_gpu")]
    csv: Option<PathBuf>,
    /// Also draw the frame time and its phases per frame into this PNG (GPU bench).
    #[arg(long, conflicts_with = "no_gpu")]
    plot: Option<PathBuf>,
    /// Compare with this earlier report: print the changes, fail when frame_ms.p95 regressed too much.
    #[arg(long, conflicts_with = "no_gpu")]
    baseline: Option<PathBuf>,
    /// Largest frame_ms.p95 growth over --baseline that still passes, percent.
    #[arg(long, default_value_t = 10.0, requires = "baseline", allow_hyphen_values = true)]
    max_regression: f64,
}

#[derive(Args)]
struct StreamArgs {
    /// A sample world's name (see `lumon worlds`) or a path to a world file or .vox scene.
    #[arg(long, default_value = DEFAULT_WORLD)]
    world: String,
    #[command(flatten)]
    vox: VoxArgs,
    /// Simulated seconds to run.
    #[arg(long, default_value_t = 10.0)]
    until: f64,
    /// Seconds between deltas.
    #[arg(long, default_value_t = 1.0)]
    step: f64,
    /// Only these regions (comma-separated ids such as r0_0,r-1_2).
    #[arg(long, value_delimiter = ',')]
    regions: Option<Vec<String>>,
    /// Start from this cursor (from an earlier run's output) instead of the start.
    #[arg(long)]
    from: Option<String>,
    /// Keep only this many commits in the server's log (older cursors expire).
    #[arg(long)]
    retain: Option<usize>,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => view(ViewArgs {
            world: cli.world.unwrap_or_else(|| DEFAULT_WORLD.into()),
            vox: cli.vox,
            ..ViewArgs::default()
        }),
        Some(Command::Inspect(a)) => inspect(a),
        Some(Command::View(a)) => view(a),
        Some(Command::Worlds) => list_worlds(),
        Some(Command::Stream(a)) => stream(a),
        Some(Command::Bench(a)) => bench(a),
        Some(Command::Capture(a)) => capture(a),
        Some(Command::Compare(a)) => compare(a),
    }
}

/// Fails unless `path` (when given) can be written: its folder exists and a file there can be opened for
/// writing. Checked before any work starts, so a long run never ends on an output it cannot write. A file that
/// did not exist is removed again; an existing one is left as it is.
fn writable_file(flag: &str, path: Option<&std::path::Path>) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    if path.is_dir() {
        anyhow::bail!("{flag} {}: is a folder, not a file", path.display());
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !folder.is_dir() {
        anyhow::bail!("{flag} {}: the folder {} does not exist", path.display(), folder.display());
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("{flag} {}: cannot be written", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Creates the folder `path` when missing and fails unless a file can be written in it.
fn writable_folder(flag: &str, path: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("{flag} {}: cannot create the folder", path.display()))?;
    let probe = path.join(format!(".lumon-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| format!("{flag} {}: cannot write in the folder", path.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Most frames any command runs (about 4.6 hours at 60 Hz).
const MAX_FRAMES: u32 = 1_000_000;

fn default_threads(arg: Option<usize>) -> Result<usize> {
    let threads =
        arg.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)));
    if threads == 0 || threads > 256 {
        anyhow::bail!("--threads must be between 1 and 256");
    }
    Ok(threads)
}

fn cache_dir(no_disk_cache: bool, dir: &Option<PathBuf>) -> Option<PathBuf> {
    if no_disk_cache {
        return None;
    }
    Some(
        dir.clone()
            .unwrap_or_else(|| dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("lumon").join("probes")),
    )
}

fn parse_size(s: &str) -> Result<(u32, u32)> {
    let parse = || {
        let (w, h) = s.split_once(['x', 'X'])?;
        Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
    };
    match parse() {
        Some((w, h)) if w > 0 && h > 0 && w <= 16384 && h <= 16384 => Ok((w, h)),
        _ => anyhow::bail!("--size {s:?}: expected WIDTHxHEIGHT with each within 1..=16384, such as 1280x720"),
    }
}

fn bookmark_camera(world: &lumon::world::World, name: Option<&str>) -> Result<Camera> {
    let name = name.unwrap_or("main");
    let mark = world.bookmarks.get(name).copied().ok_or_else(|| {
        let names: Vec<&str> = world.bookmarks.keys().map(String::as_str).collect();
        anyhow::anyhow!("world {} has no bookmark {name:?} (it has: {})", world.name, names.join(", "))
    })?;
    Ok(Camera::new(mark.position, mark.yaw, mark.pitch))
}

fn view(a: ViewArgs) -> Result<()> {
    let (_, world) = open_world(a.world_arg.as_deref().unwrap_or(&a.world), a.vox)?;
    let world = Arc::new(world);
    let gi: GiMode = a.gi.parse()?;
    let view: DebugView = a.view.parse()?;
    let vsync = match a.vsync.as_str() {
        "on" => true,
        "off" => false,
        v => anyhow::bail!("--vsync {v:?}: expected on or off"),
    };
    let camera = bookmark_camera(&world, a.bookmark.as_deref())?;
    writable_file("--screenshot", a.screenshot.as_deref())?;
    writable_file("--record-to", a.record_to.as_deref())?;
    let probes = ProbeConfig { base_spacing: world.probe_spacing, ..ProbeConfig::default() };
    let interest_radius = lumon::pipeline::view_radius(&world);
    let opts = lumon::app::ViewerOptions {
        world,
        camera,
        settings: FrameSettings { gi, view, ..FrameSettings::default() },
        pipeline: lumon::pipeline::PipelineOptions {
            threads: default_threads(a.run.threads)?,
            cache_dir: cache_dir(a.run.no_disk_cache, &a.run.cache_dir),
            disk_cap_bytes: 2 << 30,
            probes,
            interest_radius,
        },
        vsync,
        exit_after_frames: a.exit_after_frames,
        screenshot: a.screenshot,
        path: a.path.as_deref().map(CameraPath::load).transpose()?,
        record_to: a.record_to,
        inject: Vec::new(),
        vox: a.vox.options(),
        reference: match a.reference.as_deref() {
            None => None,
            Some("in-place") => Some(false),
            Some("split") => Some(true),
            Some(other) => anyhow::bail!("--reference {other:?}: expected in-place or split"),
        },
    };
    lumon::app::run(opts)?;
    Ok(())
}

/// The camera of `--camera X,Y,Z,YAW,PITCH` or `--bookmark NAME` (default: the main bookmark).
fn view_camera(world: &lumon::world::World, camera: Option<&str>, bookmark: Option<&str>) -> Result<Camera> {
    Ok(match (camera, bookmark) {
        (Some(c), _) => {
            let v: Vec<f32> = c
                .split(',')
                .map(|x| x.trim().parse::<f32>())
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("--camera {c:?}: {e}; expected X,Y,Z,YAW,PITCH (metres, degrees)"))?;
            let [x, y, z, yaw, pitch] = v[..] else {
                anyhow::bail!("--camera {c:?}: expected 5 numbers X,Y,Z,YAW,PITCH, got {}", v.len());
            };
            Camera::new(glam::Vec3::new(x, y, z), yaw, pitch)
        }
        (None, b) => {
            let name = b.unwrap_or("main");
            let mark = world.bookmarks.get(name).copied().ok_or_else(|| {
                let names: Vec<&str> = world.bookmarks.keys().map(String::as_str).collect();
                anyhow::anyhow!("world {} has no bookmark {name:?} (it has: {})", world.name, names.join(", "))
            })?;
            Camera::new(mark.position, mark.yaw, mark.pitch)
        }
    })
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {percent} %, {elapsed} (eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}

fn compare(a: CompareArgs) -> Result<()> {
    let (_, world) = open_world(&a.at.world, a.at.vox)?;
    let world = Arc::new(world);
    if a.converge_frames > MAX_FRAMES {
        anyhow::bail!("--converge-frames must be at most {MAX_FRAMES}");
    }
    if !a.time.is_finite() || a.time < 0.0 || f64::from(a.time) > lumon::streaming::clock::MAX_SIM_SECONDS {
        anyhow::bail!("--time {} must be within 0..={} seconds", a.time, lumon::streaming::clock::MAX_SIM_SECONDS);
    }
    if a.rays == 0 || a.rays > 1 << 20 || a.bounces == 0 || a.bounces > 16 {
        anyhow::bail!("--rays must be within 1..=1048576 and --bounces within 1..=16");
    }
    if !a.exposure.is_finite() || a.exposure <= 0.0 {
        anyhow::bail!("--exposure must be a finite number above 0");
    }
    let (width, height) = parse_size(&a.size)?;
    let camera = view_camera(&world, a.at.camera.as_deref(), a.at.bookmark.as_deref())?;
    lumon::capture::check_camera(&world, &camera)?;
    writable_folder("--out", &a.out)?;
    let opts = lumon::compare::CompareOptions {
        capture: CaptureOptions {
            camera,
            settings: FrameSettings { exposure: a.exposure, ..FrameSettings::default() },
            converge_frames: a.converge_frames,
            time: a.time,
            width,
            height,
            threads: default_threads(a.run.threads)?,
            cache_dir: cache_dir(a.run.no_disk_cache, &a.run.cache_dir),
            probes: ProbeConfig { base_spacing: world.probe_spacing, ..ProbeConfig::default() },
            timed_frames: 0,
        },
        reference: ReferenceSettings { rays: a.rays, bounces: a.bounces, ..ReferenceSettings::default() },
    };
    // Ctrl-C stops the reference at the next chunk of pixels; what it finished is written. A second Ctrl-C
    // while it stops ends the process at once.
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = cancel.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("stopping the reference; writing what it finished (Ctrl-C again to quit at once)");
    })
    .context("installing the Ctrl-C handler")?;
    let ctx = GpuContext::headless()?;
    let bar = progress_bar(0, "reference");
    let out = lumon::compare::compare(&ctx, world, &opts, &cancel, &|done, total| {
        if bar.length() != Some(total) {
            bar.set_length(total);
        }
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    for (name, img) in [
        ("probes.png", &out.probes),
        ("reference.png", &out.reference),
        ("indirect-probes.png", &out.indirect_probes),
        ("indirect-reference.png", &out.indirect_reference),
        ("error-heatmap.png", &out.heatmap),
        ("side-by-side.png", &out.side_by_side),
    ] {
        let p = a.out.join(name);
        img.save(&p).with_context(|| format!("writing {}", p.display()))?;
    }
    let r = &out.report;
    println!("{}", serde_json::to_string_pretty(r)?);
    eprintln!(
        "{}: {}x{}, reference {} of {} rays x {} bounces per pixel in {:.1} s{}: mean relative error {:.1} % \
         (reference noise {:.1} %), FLIP {:.3}; images in {}",
        r.world,
        width,
        height,
        r.metrics.reference_rays,
        r.rays,
        r.bounces,
        r.reference_seconds,
        if r.complete { "" } else { " (stopped early)" },
        r.metrics.mean_relative_error * 100.0,
        r.metrics.reference_noise * 100.0,
        r.metrics.flip.unwrap_or(0.0),
        a.out.display()
    );
    Ok(())
}

fn capture(a: CaptureArgs) -> Result<()> {
    let (_, world) = open_world(&a.at.world, a.at.vox)?;
    let world = Arc::new(world);
    if a.converge_frames > MAX_FRAMES || a.time_frames > MAX_FRAMES {
        anyhow::bail!("--converge-frames and --time-frames must be at most {MAX_FRAMES}");
    }
    if !a.time.is_finite() || a.time < 0.0 || f64::from(a.time) > lumon::streaming::clock::MAX_SIM_SECONDS {
        anyhow::bail!("--time {} must be within 0..={} seconds", a.time, lumon::streaming::clock::MAX_SIM_SECONDS);
    }
    let gi: GiMode = a.gi.parse()?;
    let view: DebugView = a.view.parse()?;
    let (width, height) = parse_size(&a.size)?;
    if !a.exposure.is_finite() || a.exposure <= 0.0 {
        anyhow::bail!("--exposure must be a finite number above 0");
    }
    let camera = view_camera(&world, a.at.camera.as_deref(), a.at.bookmark.as_deref())?;
    lumon::capture::check_camera(&world, &camera)?;
    writable_file("--out", Some(&a.out))?;
    writable_file("--report", a.report.as_deref())?;
    let opts = CaptureOptions {
        camera,
        settings: FrameSettings { gi, view, exposure: a.exposure, ..FrameSettings::default() },
        converge_frames: a.converge_frames,
        time: a.time,
        width,
        height,
        threads: default_threads(a.run.threads)?,
        cache_dir: cache_dir(a.run.no_disk_cache, &a.run.cache_dir),
        probes: ProbeConfig { base_spacing: world.probe_spacing, ..ProbeConfig::default() },
        timed_frames: a.time_frames,
    };
    let ctx = GpuContext::headless()?;
    let (img, report) = lumon::capture::capture(&ctx, world, &opts)?;
    img.save(&a.out).with_context(|| format!("writing {}", a.out.display()))?;
    if let Some(r) = &a.report {
        std::fs::write(r, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", r.display()))?;
    }
    eprintln!(
        "{}: {}x{} {} / {} on {} ({}): {} frames, L0 converged {:.0} %{}, {:.1} s; image in {}",
        report.world,
        width,
        height,
        gi,
        view,
        report.adapter.name,
        report.adapter.backend,
        report.frames,
        report.converged_l0 * 100.0,
        if report.converged { "" } else { " (frame limit reached first)" },
        report.seconds,
        a.out.display()
    );
    if let Some(t) = report.timing {
        eprintln!(
            "frame time over {} frames: {gi} p50 {:.2} ms p95 {:.2} ms; GI off p50 {:.2} ms p95 {:.2} ms; ratio {:.2}",
            t.frames, t.mode_ms_p50, t.mode_ms_p95, t.off_ms_p50, t.off_ms_p95, t.ratio_p50
        );
    }
    Ok(())
}

fn bench(a: BenchArgs) -> Result<()> {
    if a.frames == 0 || a.frames > MAX_FRAMES || a.settle_frames > MAX_FRAMES {
        anyhow::bail!("--frames must be within 1..={MAX_FRAMES} and --settle-frames within 0..={MAX_FRAMES}");
    }
    if a.accuracy_points == 0 || a.accuracy_points > 100_000 || a.reference_rays == 0 || a.reference_rays > 1 << 24 {
        anyhow::bail!("--accuracy-points must be within 1..=100000 and --reference-rays within 1..=16777216");
    }
    let warmup = a.warmup.unwrap_or((a.frames / 5).min(60));
    if !a.no_gpu && warmup >= a.frames {
        anyhow::bail!("--warmup {warmup} must be below --frames {} (warmup frames are not timed)", a.frames);
    }
    if !a.max_regression.is_finite() || a.max_regression < 0.0 {
        anyhow::bail!("--max-regression must be a finite percentage >= 0");
    }
    // Read the baseline first: a bad path fails before a long run.
    let baseline = match &a.baseline {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading the baseline {}", p.display()))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{}: not a JSON report", p.display()))?;
            Some(v)
        }
        None => None,
    };
    writable_file("--out", Some(&a.out))?;
    writable_file("--csv", a.csv.as_deref())?;
    writable_file("--plot", a.plot.as_deref())?;
    let load_start = std::time::Instant::now();
    let (_, world) = open_world(&a.world, a.vox)?;
    let load_s = load_start.elapsed().as_secs_f64();
    let world = Arc::new(world);
    let camera = match (&a.path, &a.bookmark) {
        (Some(p), _) => CameraPath::load(p)?,
        (None, Some(b)) => {
            let mark = world.bookmarks.get(b).copied().ok_or_else(|| {
                let names: Vec<&str> = world.bookmarks.keys().map(String::as_str).collect();
                anyhow::anyhow!("world {} has no bookmark {b:?} (it has: {})", world.name, names.join(", "))
            })?;
            CameraPath::still(b, mark)
        }
        (None, None) => CameraPath::bookmark_flight(
            world.main_bookmark(),
            3.0 * world.probe_spacing,
            a.frames as f32 / lumon::bench::FPS + 1.0,
        ),
    };
    let threads = default_threads(a.run.threads)?;
    let cache_dir = cache_dir(a.run.no_disk_cache, &a.run.cache_dir);
    let opts = BenchOptions {
        frames: a.frames,
        path: camera,
        threads,
        cache_dir,
        disk_cap_bytes: 2 << 30,
        probes: ProbeConfig { base_spacing: world.probe_spacing, ..ProbeConfig::default() },
        accuracy: (a.settle_frames > 0).then(|| {
            let d = AccuracyOptions::default();
            AccuracyOptions {
                settle_frames: a.settle_frames,
                flicker_frames: d.flicker_frames.min(a.settle_frames),
                points: a.accuracy_points,
                reference: ReferenceSettings { rays: a.reference_rays, ..d.reference },
                ..d
            }
        }),
    };
    let report = if a.no_gpu {
        let mut report = run_cpu(world, &opts)?;
        report.load_s = Some(load_s);
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(&a.out, json + "\n").with_context(|| format!("writing {}", a.out.display()))?;
        report
    } else {
        let (width, height) = parse_size(&a.size)?;
        let settings = FrameSettings { gi: a.gi.parse()?, view: a.view.parse()?, ..FrameSettings::default() };
        let ctx = GpuContext::headless()?;
        let gopts = GpuBenchOptions { cpu: opts, warmup, width, height, settings };
        let bar = indicatif::ProgressBar::new(u64::from(a.frames));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} frames, {elapsed} (eta {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("{} on {}", world.name, ctx.summary.name));
        let mut report = run_gpu(&ctx, world, &gopts, &mut |done, _| bar.set_position(u64::from(done)))?;
        report.cpu.load_s = Some(load_s);
        bar.finish_and_clear();
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(&a.out, json + "\n").with_context(|| format!("writing {}", a.out.display()))?;
        if let Some(csv) = &a.csv {
            std::fs::write(csv, frames_csv(&report.samples)).with_context(|| format!("writing {}", csv.display()))?;
        }
        if let Some(plot) = &a.plot {
            let title = format!(
                "{}: {}x{} {} on {} ({})",
                report.cpu.world, width, height, settings.gi, report.adapter.name, report.backend
            );
            write_plot(plot, &title, &report.samples).map_err(anyhow::Error::msg)?;
        }
        let f = report.frame_ms;
        eprintln!(
            "{}: {}x{} on {} ({}): {} timed frames: frame_ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
            report.cpu.world,
            width,
            height,
            report.adapter.name,
            report.backend,
            report.timed_frames,
            f.p50,
            f.p95,
            f.p99,
            f.max
        );
        let p = report.cpu_phases_ms;
        eprintln!(
            "  p50 ms: stream {:.3}, voxel {:.3}, probes {:.3}, upload {:.3}, encode {:.3}, GPU wait {:.2}",
            p.stream.p50, p.voxel.p50, p.probes.p50, p.upload.p50, p.encode.p50, report.gpu_wait_ms.p50
        );
        match &report.gpu_passes_ms {
            Some(passes) => {
                let list: Vec<String> = passes.iter().map(|(k, m)| format!("{k} {:.2}", m.p50)).collect();
                eprintln!("  GPU passes p50 ms (timestamp queries): {}", list.join(", "));
            }
            None => eprintln!("  GPU passes: this adapter has no timestamp queries"),
        }
        if let Some(old) = &baseline {
            let new = serde_json::to_value(&report)?;
            let cmp = lumon::bench::baseline::compare(old, &new);
            eprint!("{}", cmp.table());
            if cmp.regressed(a.max_regression) {
                anyhow::bail!(
                    "frame_ms.p95 regressed by {} against {} (limit {} %)",
                    cmp.gate_percent
                        .map_or("an unknown amount (the baseline has no frame_ms.p95)".into(), |p| format!(
                            "{p:+.1} %"
                        )),
                    a.baseline.as_ref().map_or(String::new(), |p| p.display().to_string()),
                    a.max_regression
                );
            }
            eprintln!(
                "frame_ms.p95 within {} % of the baseline ({:+.1} %)",
                a.max_regression,
                cmp.gate_percent.unwrap_or(0.0)
            );
        }
        report.cpu
    };
    eprintln!(
        "{}: {} frames, {} threads: gi_cpu_ms p50 {:.3} p95 {:.3} max {:.3}; L0 converged after {} frames ({} s); \
         {:.2} M rays/s; report in {}",
        report.world,
        report.frames,
        report.threads,
        report.gi_cpu_ms.p50,
        report.gi_cpu_ms.p95,
        report.gi_cpu_ms.max,
        report.converge_l0_frames.map_or("never".into(), |f| f.to_string()),
        report.converge_l0_s.map_or("-".into(), |s| format!("{s:.2}")),
        report.rays_per_second / 1e6,
        a.out.display()
    );
    if let (Some(e), Some(f)) = (report.irradiance_error, report.flicker) {
        eprintln!(
            "{}: after {} still frames: irradiance error mean {:.1} %, p90 {:.1} %, bias {:+.1} % over {} points \
             (reference noise {:.1} %); flicker {:.2} % per frame; L0 converged {:.0} %",
            report.world,
            report.settle_frames,
            e.mean_relative * 100.0,
            e.p90 * 100.0,
            e.bias * 100.0,
            e.points,
            e.reference_noise * 100.0,
            f * 100.0,
            report.settled_converged_l0.unwrap_or(0.0) * 100.0
        );
    }
    Ok(())
}

fn list_worlds() -> Result<()> {
    let worlds = sample_worlds()?;
    let width = worlds.iter().map(|w| w.name.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for w in worlds {
        let default = if w.name == DEFAULT_WORLD { " (default)" } else { "" };
        writeln!(out, "{:width$}  {}{default}", w.name, w.purpose)?;
    }
    Ok(())
}

fn stream(a: StreamArgs) -> Result<()> {
    let (path, world) = open_world(&a.world, a.vox)?;
    let opts = StreamOptions { until: a.until, step: a.step, regions: a.regions, from: a.from, retain: a.retain };
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 20, stdout);
    let summary = run_stream(&world, &opts, &mut out).with_context(|| format!("streaming world {}", path.display()))?;
    log::info!(
        "{}: {} commits, {} deltas, {} placement changes, cursors {:?} .. {:?}",
        world.name,
        summary.commits,
        summary.deltas,
        summary.changes,
        summary.start,
        summary.end
    );
    Ok(())
}

fn inspect(a: InspectArgs) -> Result<()> {
    let (path, world) = open_world(&a.world, a.vox)?;
    let report = lumon::inspect::inspect(&path, &world);
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{report}")?;
    }
    Ok(())
}
