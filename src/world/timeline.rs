//! Timelines: scripted edits in simulated time, plus generated "churn" traffic.
//!
//! A world's timeline is expanded once, at load, by simulating it on a scratch server: explicit events are
//! checked against the state they apply to (an update of a removed placement is a load error naming the
//! event), and churn ticks draw their edits from the state at their time. The result is a list of commits
//! with times that `lumon stream` and the viewer replay.

use std::sync::Arc;

use glam::{Vec2, Vec3};
use rustc_hash::FxHashSet;

use super::terrain::Terrain;
use crate::hash::{hash_words, Rng};
use crate::streaming::{Edit, Placement, PlacementId, PlacementPatch, StreamError, StreamServer};

/// One commit of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEvent {
    /// Simulated time, seconds.
    pub t: f64,
    /// Where it comes from in the world file (for error messages), e.g. `timeline[3]`.
    pub place: String,
    /// The edits, applied atomically.
    pub edits: Vec<Edit>,
}

/// A resolved churn generator.
#[derive(Clone, Debug)]
pub struct Churn {
    /// Place in the file, e.g. `timeline[7]`.
    pub place: String,
    /// First tick, seconds.
    pub start: f64,
    /// End, seconds (exclusive).
    pub end: f64,
    /// Seconds between ticks.
    pub interval: f64,
    /// Edits per tick.
    pub edits_per_tick: usize,
    /// Largest move, metres.
    pub max_move: f32,
    /// Only placements with this tag.
    pub tag: Option<String>,
    /// Seed mixed with the world's.
    pub seed: u64,
}

struct ChurnState {
    candidates: Option<Vec<PlacementId>>,
    removed: Vec<Arc<Placement>>,
}

/// Expands explicit events and churn generators into commits in time order, applying each to `server`.
/// Explicit events at the same time keep file order and come before churn ticks of that time.
pub fn expand(
    explicit: Vec<TimelineEvent>,
    churns: &[Churn],
    world_seed: u64,
    terrain: &Terrain,
    bounds: (Vec2, Vec2),
    server: &mut StreamServer,
) -> Result<Vec<TimelineEvent>, (String, StreamError)> {
    // (time, kind 0 = explicit / 1 = churn, index, tick)
    let mut order: Vec<(f64, u8, usize, u64)> = explicit.iter().enumerate().map(|(i, e)| (e.t, 0u8, i, 0u64)).collect();
    for (ci, c) in churns.iter().enumerate() {
        let mut k = 0u64;
        loop {
            let t = c.start + k as f64 * c.interval;
            if t >= c.end {
                break;
            }
            order.push((t, 1, ci, k));
            k += 1;
        }
    }
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
    let mut states: Vec<ChurnState> =
        churns.iter().map(|_| ChurnState { candidates: None, removed: Vec::new() }).collect();
    let mut out = Vec::with_capacity(order.len());
    for (t, kind, index, tick) in order {
        let event = if kind == 0 {
            explicit[index].clone()
        } else {
            let c = &churns[index];
            let edits = churn_tick(c, &mut states[index], tick, world_seed, terrain, bounds, server);
            TimelineEvent { t, place: format!("{} (churn tick {tick})", c.place), edits }
        };
        server.commit(event.edits.clone()).map_err(|e| (event.place.clone(), e))?;
        out.push(event);
    }
    Ok(out)
}

fn churn_tick(
    c: &Churn,
    state: &mut ChurnState,
    tick: u64,
    world_seed: u64,
    terrain: &Terrain,
    bounds: (Vec2, Vec2),
    server: &StreamServer,
) -> Vec<Edit> {
    let candidates = state.candidates.get_or_insert_with(|| {
        let mut ids: Vec<PlacementId> = server
            .placements()
            .filter(|p| c.tag.as_ref().is_none_or(|t| p.tags.contains(t)))
            .map(|p| p.placement_id.clone())
            .collect();
        ids.sort_unstable();
        ids
    });
    let mut rng = Rng::new(hash_words(&[world_seed, c.seed, tick, 0xC4u64]));
    let mut touched: FxHashSet<PlacementId> = FxHashSet::default();
    let mut edits = Vec::with_capacity(c.edits_per_tick.min(candidates.len() + state.removed.len()));
    for _ in 0..c.edits_per_tick {
        let roll = rng.below(100);
        if roll < 10 && !state.removed.is_empty() {
            let i = rng.below(state.removed.len() as u64) as usize;
            let p = state.removed.swap_remove(i);
            if touched.insert(p.placement_id.clone()) {
                candidates.push(p.placement_id.clone());
                edits.push(Edit::Add((*p).clone()));
            } else {
                state.removed.push(p);
            }
            continue;
        }
        if candidates.is_empty() {
            break;
        }
        let idx = rng.below(candidates.len() as u64) as usize;
        let id = candidates[idx].clone();
        let Some(p) = server.placement(&id) else {
            candidates.swap_remove(idx);
            continue;
        };
        if !touched.insert(id.clone()) {
            continue;
        }
        let patch = if roll < 55 {
            let old = p.transform.position;
            let step = Vec2::new(rng.range_f32(-c.max_move, c.max_move), rng.range_f32(-c.max_move, c.max_move));
            let xz = (Vec2::new(old.x, old.z) + step).clamp(bounds.0, bounds.1 - Vec2::splat(0.01));
            let lift = old.y - terrain.height(old.x, old.z).unwrap_or(0.0);
            let y = terrain.height(xz.x, xz.y).unwrap_or(0.0) + lift;
            PlacementPatch { position: Some(Vec3::new(xz.x, y, xz.y)), ..Default::default() }
        } else if roll < 75 {
            let tint = Vec3::new(rng.range_f32(0.3, 1.0), rng.range_f32(0.3, 1.0), rng.range_f32(0.3, 1.0));
            PlacementPatch { tint: Some(tint), ..Default::default() }
        } else if roll < 88 {
            PlacementPatch { emission: Some(if p.emission > 0.0 { 0.0 } else { 1.0 }), ..Default::default() }
        } else {
            state.removed.push(p.clone());
            candidates.swap_remove(idx);
            edits.push(Edit::Remove { id });
            continue;
        };
        edits.push(Edit::Update { id, patch });
    }
    edits
}
