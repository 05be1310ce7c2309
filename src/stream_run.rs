//! `lumon stream`: runs a world's timeline on the streaming server in simulated time and writes JSON lines.
//!
//! Time advances in steps of `step` seconds from 0 to `until`. At each boundary `t_k = k * step` the server
//! commits the timeline events with `t <= t_k` (one commit per event). The consumer starts at boundary 0 with a
//! world snapshot at the head (or, with `--from`, at that cursor as soon as the log has reached it), writes one
//! world delta per later boundary, and ends with a world snapshot at the final cursor. Snapshots are stamped
//! with simulated time, so the output is the same bytes on every run. With `--retain N` the server keeps only
//! N commits, which makes an old `--from` cursor expire exactly as it would for a late client.

use std::io::Write;
use std::sync::Arc;

use thiserror::Error;

use crate::streaming::{
    Cursor, GetWorldDeltaInput, GetWorldSnapshotInput, RegionStreamingService, ServerConfig, SimClock, StreamError,
    StreamMessage,
};
use crate::world::World;

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    /// Simulated seconds to run.
    pub until: f64,
    /// Seconds between deltas.
    pub step: f64,
    /// Region ids to include (all when `None`).
    pub regions: Option<Vec<String>>,
    /// Cursor to start from (the head at time 0 when `None`).
    pub from: Option<String>,
    /// Commits the server retains (all when `None`).
    pub retain: Option<usize>,
}

/// What a run wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamSummary {
    /// Snapshot lines.
    pub snapshots: usize,
    /// Delta lines.
    pub deltas: usize,
    /// Commits applied on the server.
    pub commits: usize,
    /// Placement changes across all deltas (added + updated + removed).
    pub changes: usize,
    /// First cursor written.
    pub start: Option<Cursor>,
    /// Last cursor written.
    pub end: Option<Cursor>,
}

/// Why a run failed.
#[derive(Debug, Error)]
pub enum StreamRunError {
    /// Options out of range.
    #[error("invalid option: {0}")]
    Options(String),
    /// A streaming call refused.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// A timeline commit failed (the world changed under the run).
    #[error("timeline {place}: {source}")]
    Timeline { place: String, source: StreamError },
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the timeline and writes JSON lines to `out`.
pub fn run_stream(world: &World, opts: &StreamOptions, out: &mut dyn Write) -> Result<StreamSummary, StreamRunError> {
    if !(opts.step.is_finite() && opts.step > 0.0) {
        return Err(StreamRunError::Options(format!("--step {} must be a positive number of seconds", opts.step)));
    }
    if !(opts.until.is_finite() && opts.until >= 0.0) {
        return Err(StreamRunError::Options(format!("--until {} must be a finite number of seconds >= 0", opts.until)));
    }
    if opts.until > crate::streaming::clock::MAX_SIM_SECONDS || opts.step > crate::streaming::clock::MAX_SIM_SECONDS {
        return Err(StreamRunError::Options(format!(
            "--until {} and --step {} must be at most {} seconds (about 31 years of simulated time)",
            opts.until,
            opts.step,
            crate::streaming::clock::MAX_SIM_SECONDS
        )));
    }
    if opts.until / opts.step > 1.0e6 {
        return Err(StreamRunError::Options("more than 1,000,000 steps".into()));
    }
    if opts.retain == Some(0) {
        return Err(StreamRunError::Options("--retain must keep at least one commit".into()));
    }
    let clock = Arc::new(SimClock::new());
    let mut server = world.server(ServerConfig { retention: opts.retain, instance: 0 }, clock.clone())?;
    let grid = server.grid();
    if let Some(ids) = &opts.regions {
        for id in ids {
            grid.parse(id)?;
        }
    }
    let from: Option<Cursor> = match &opts.from {
        None => None,
        Some(text) => {
            let c: Cursor = text.parse()?;
            if c.epoch != server.epoch() {
                return Err(StreamError::ForeignCursor { cursor: c, found: c.epoch, expected: server.epoch() }.into());
            }
            Some(c)
        }
    };

    let steps = (opts.until / opts.step).ceil() as u64;
    let mut summary = StreamSummary::default();
    let mut events = world.timeline.iter().peekable();
    let mut consumer: Option<Cursor> = None;
    for k in 0..=steps {
        let t = (k as f64 * opts.step).min(opts.until);
        while let Some(e) = events.next_if(|e| e.t <= t) {
            server
                .commit(e.edits.clone())
                .map_err(|source| StreamRunError::Timeline { place: e.place.clone(), source })?;
            summary.commits += 1;
        }
        clock.set_seconds(t);
        match consumer {
            None => {
                let start = match from {
                    Some(c) if c.seq > server.head().seq => continue,
                    Some(c) => c,
                    None => server.head(),
                };
                let snap = server.get_world_snapshot(&GetWorldSnapshotInput {
                    cursor: Some(start.to_string()),
                    region_ids: opts.regions.clone(),
                })?;
                write_line(out, &StreamMessage::WorldSnapshot(snap))?;
                summary.snapshots += 1;
                summary.start = Some(start);
                consumer = Some(start);
            }
            Some(c) => {
                let delta = server.get_world_delta(&GetWorldDeltaInput {
                    from_cursor: c.to_string(),
                    to_cursor: None,
                    region_ids: opts.regions.clone(),
                })?;
                summary.changes +=
                    delta.regions.iter().map(|r| r.added.len() + r.updated.len() + r.removed.len()).sum::<usize>();
                consumer = Some(delta.to_cursor);
                write_line(out, &StreamMessage::WorldDelta(delta))?;
                summary.deltas += 1;
            }
        }
    }
    let Some(end) = consumer else {
        let c = from.unwrap_or(server.head());
        return Err(StreamError::CursorAhead { cursor: c, head: server.head() }.into());
    };
    let snap = server.get_world_snapshot(&GetWorldSnapshotInput {
        cursor: Some(end.to_string()),
        region_ids: opts.regions.clone(),
    })?;
    write_line(out, &StreamMessage::WorldSnapshot(snap))?;
    summary.snapshots += 1;
    summary.end = Some(end);
    out.flush()?;
    Ok(summary)
}

fn write_line(out: &mut dyn Write, msg: &StreamMessage) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, msg)?;
    out.write_all(b"\n")
}
