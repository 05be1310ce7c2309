//! The `lumon` binary: parses arguments (clap) and calls into the library. Errors end here, printed with their
//! context and a non-zero exit.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use lumon::bench::path::CameraPath;
use lumon::bench::{run_cpu, AccuracyOptions, BenchOptions};
use lumon::probes::manager::ProbeConfig;
use lumon::probes::ReferenceSettings;
use lumon::stream_run::{run_stream, StreamOptions};
use lumon::world::{load_world, resolve_world, sample_worlds, DEFAULT_WORLD};

/// lumon: fly through streamed voxel worlds lit by world-space clipmap probes.
#[derive(Parser)]
#[command(name = "lumon", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List the sample worlds with their purpose.
    Worlds,
    /// Run a world's timeline on the streaming server in simulated time; write JSON lines to stdout.
    Stream(StreamArgs),
    /// Run the pipeline headless along a camera path and write a JSON timing report.
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// Run the CPU pipeline only (streaming, voxels, probe manager, tracer). Required until the renderer lands.
    #[arg(long)]
    no_gpu: bool,
    /// A sample world's name or a path to a world file.
    #[arg(long, default_value = DEFAULT_WORLD)]
    world: String,
    /// Frames at a simulated 60 Hz.
    #[arg(long, default_value_t = 600)]
    frames: u32,
    /// A camera path file (default: the world's `main` bookmark flight).
    #[arg(long)]
    path: Option<PathBuf>,
    /// Tracer threads (default: cores - 1, at least 1).
    #[arg(long)]
    threads: Option<usize>,
    /// Folder of the probe disk cache (default: the user's cache directory).
    #[arg(long, conflicts_with = "no_disk_cache")]
    cache_dir: Option<PathBuf>,
    /// Run without the probe disk cache.
    #[arg(long)]
    no_disk_cache: bool,
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
}

#[derive(Args)]
struct StreamArgs {
    /// A sample world's name (see `lumon worlds`) or a path to a world file.
    #[arg(long, default_value = DEFAULT_WORLD)]
    world: String,
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
        None => {
            eprintln!(
                "lumon: the viewer is not built yet; `lumon worlds` lists the sample worlds and `lumon stream` \
                 streams one (see README.md)."
            );
            list_worlds()
        }
        Some(Command::Worlds) => list_worlds(),
        Some(Command::Stream(a)) => stream(a),
        Some(Command::Bench(a)) => bench(a),
    }
}

fn bench(a: BenchArgs) -> Result<()> {
    if !a.no_gpu {
        anyhow::bail!("the GPU bench needs the renderer, which is not built yet: run `lumon bench --no-gpu ...`");
    }
    let path = resolve_world(&a.world)?;
    let world = Arc::new(load_world(&path)?);
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
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)));
    if threads == 0 || threads > 256 {
        anyhow::bail!("--threads must be between 1 and 256");
    }
    let cache_dir = if a.no_disk_cache {
        None
    } else {
        Some(
            a.cache_dir
                .clone()
                .unwrap_or_else(|| dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("lumon").join("probes")),
        )
    };
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
    if a.accuracy_points == 0 || a.accuracy_points > 100_000 || a.reference_rays == 0 || a.reference_rays > 1 << 24 {
        anyhow::bail!("--accuracy-points must be within 1..=100000 and --reference-rays within 1..=16777216");
    }
    let report = run_cpu(world, &opts)?;
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&a.out, json + "\n").with_context(|| format!("writing {}", a.out.display()))?;
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
    let path = resolve_world(&a.world)?;
    let world = load_world(&path)?;
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
