//! The `lumon` binary: parses arguments (clap) and calls into the library. Errors end here, printed with their
//! context and a non-zero exit.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

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
    }
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
