//! The viewer's side of streaming: an interest set of regions around the camera, a replica of their
//! placements, and the scene changes (with world boxes) that the voxel world and the probes react to.
//!
//! - Regions within `interest_radius` of the camera enter the set nearest first, at most
//!   `max_region_loads` per update, each with a snapshot at the client's cursor (never a delta); regions
//!   farther than `interest_radius + leave_margin` leave it and their placements leave the scene.
//! - [`StreamingClient::pull`] asks for the world delta of its regions from its cursor to the head and applies it.
//!   A delta that does not start at the cursor is a gap error; one already applied is a no-op.
//! - A cursor the server no longer retains (`CursorExpired`) is answered by re-snapshotting every held region at
//!   the head and diffing the scene (a resync), so nothing is lost.
//! - A placement that moves between two held regions arrives as removed-then-added and leaves as one update.

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;

use glam::{Vec2, Vec3};
use rustc_hash::{FxHashMap, FxHashSet};

use super::cursor::Cursor;
use super::error::StreamError;
use super::grid::RegionGrid;
use super::service::RegionStreamingService;
use super::types::*;
use crate::geom::Aabb;

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Regions closer than this to the camera (XZ, metres) are streamed in.
    pub interest_radius: f32,
    /// Extra distance before a held region is dropped, so regions do not flicker at the border (metres).
    pub leave_margin: f32,
    /// Most regions snapshotted per [`StreamingClient::update_interest`] call (bounds the per-frame cost).
    pub max_region_loads: usize,
    /// Count the JSON size of everything received (what it would cost on a wire).
    pub count_bytes: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig { interest_radius: 160.0, leave_margin: 32.0, max_region_loads: 8, count_bytes: true }
    }
}

/// What the client did, for the streaming panel and reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// World snapshots received (region loads and resyncs).
    pub snapshots: u64,
    /// Region snapshots received inside them.
    pub region_snapshots: u64,
    /// Deltas applied.
    pub deltas: u64,
    /// Deltas ignored because they were already applied.
    pub duplicate_deltas: u64,
    /// Placements that entered the scene.
    pub placements_added: u64,
    /// Placements changed in place (including moves between held regions).
    pub placements_updated: u64,
    /// Placements that left the scene (removals and dropped regions).
    pub placements_removed: u64,
    /// Regions that entered the interest set.
    pub regions_loaded: u64,
    /// Regions that left it.
    pub regions_dropped: u64,
    /// Full re-snapshots after an expired cursor.
    pub resyncs: u64,
    /// JSON bytes received (when counted).
    pub bytes: u64,
}

/// Why a scene change happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ChangeCause {
    /// The world was edited (a delta, or a resync that may hide edits).
    #[default]
    Edited,
    /// A region entered or left the interest set: the world did not change, only what is held of it.
    Streamed,
}

/// One change of the scene with the world boxes it touches.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneChange {
    /// Edit or streaming.
    pub cause: ChangeCause,
    /// The placement before the change (`None` when it was added).
    pub before: Option<Arc<Placement>>,
    /// The placement after the change (`None` when it was removed).
    pub after: Option<Arc<Placement>>,
    /// World box of `before`.
    pub before_box: Option<Aabb>,
    /// World box of `after`.
    pub after_box: Option<Aabb>,
}

/// What a scene change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SceneChangeKind {
    /// Entered the scene.
    Added,
    /// Changed in place.
    Updated,
    /// Left the scene.
    Removed,
}

impl SceneChange {
    /// What happened.
    pub fn kind(&self) -> SceneChangeKind {
        match (&self.before, &self.after) {
            (None, _) => SceneChangeKind::Added,
            (Some(_), Some(_)) => SceneChangeKind::Updated,
            (Some(_), None) => SceneChangeKind::Removed,
        }
    }

    /// The placement's id.
    pub fn id(&self) -> &str {
        self.after.as_ref().or(self.before.as_ref()).map(|p| p.placement_id.as_str()).unwrap_or_default()
    }

    /// Everything whose voxels may have changed: the union of both boxes.
    pub fn dirty_box(&self) -> Aabb {
        self.before_box.unwrap_or(Aabb::EMPTY).union(&self.after_box.unwrap_or(Aabb::EMPTY))
    }
}

/// A placement of the scene replica with its world box (computed once, when it arrives).
#[derive(Clone, Debug, PartialEq)]
pub struct SceneEntry {
    /// The placement.
    pub placement: Arc<Placement>,
    /// Its world box.
    pub bbox: Aabb,
}

/// Streams regions around a camera into a scene replica.
#[derive(Clone)]
pub struct StreamingClient {
    config: ClientConfig,
    grid: RegionGrid,
    asset_bounds: FxHashMap<String, Aabb>,
    cursor: Option<Cursor>,
    regions: BTreeSet<RegionId>,
    scene: FxHashMap<PlacementId, SceneEntry>,
    stats: ClientStats,
}

impl StreamingClient {
    /// A client over the world's region grid; `asset_bounds` gives each asset's local box (metres, pivot space).
    pub fn new(config: ClientConfig, grid: RegionGrid, asset_bounds: FxHashMap<String, Aabb>) -> Self {
        StreamingClient {
            config,
            grid,
            asset_bounds,
            cursor: None,
            regions: BTreeSet::new(),
            scene: FxHashMap::default(),
            stats: ClientStats::default(),
        }
    }

    /// The position the scene shows, once anything was loaded.
    pub fn cursor(&self) -> Option<Cursor> {
        self.cursor
    }

    /// Regions in the interest set.
    pub fn regions(&self) -> &BTreeSet<RegionId> {
        &self.regions
    }

    /// The scene replica: every placement of the held regions, by id.
    pub fn scene(&self) -> &FxHashMap<PlacementId, SceneEntry> {
        &self.scene
    }

    /// Counters of what the client did.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// World box of a placement (its asset's local box under its transform).
    pub fn placement_box(&self, p: &Placement) -> Aabb {
        let local = self
            .asset_bounds
            .get(&p.asset_id)
            .copied()
            .unwrap_or(Aabb { min: Vec3::new(-0.5, 0.0, -0.5), max: Vec3::new(0.5, 1.0, 0.5) });
        local.transformed(&p.transform.matrix())
    }

    /// Moves the interest set to the camera: drops far regions, snapshots up to `max_region_loads` new ones.
    pub fn update_interest(
        &mut self,
        svc: &dyn RegionStreamingService,
        camera: Vec3,
    ) -> Result<Vec<SceneChange>, StreamError> {
        let center = Vec2::new(camera.x, camera.z);
        let mut changes = Vec::new();
        let leave = self.config.interest_radius + self.config.leave_margin;
        let far: Vec<RegionId> =
            self.regions.iter().copied().filter(|r| self.grid.distance(*r, center) > leave).collect();
        for r in far {
            self.drop_region(r, &mut changes);
        }
        let entering: Vec<RegionId> = self
            .grid
            .regions_within(center, self.config.interest_radius)
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| !self.regions.contains(r))
            .take(self.config.max_region_loads)
            .collect();
        if entering.is_empty() {
            return Ok(changes);
        }
        let input = GetWorldSnapshotInput {
            cursor: self.cursor.map(|c| c.to_string()),
            region_ids: Some(entering.iter().map(|r| r.to_string()).collect()),
        };
        let snapshot = match svc.get_world_snapshot(&input) {
            Err(StreamError::CursorExpired { .. }) => {
                self.regions.extend(entering.iter().copied());
                self.stats.regions_loaded += entering.len() as u64;
                changes.extend(self.resync(svc)?);
                return Ok(changes);
            }
            other => other?,
        };
        self.count(&snapshot);
        self.stats.snapshots += 1;
        self.stats.region_snapshots += snapshot.regions.len() as u64;
        self.stats.regions_loaded += entering.len() as u64;
        self.cursor = Some(snapshot.cursor);
        self.regions.extend(entering.iter().copied());
        for rs in snapshot.regions {
            for p in rs.placements {
                self.insert(p, None, ChangeCause::Streamed, &mut changes);
            }
        }
        Ok(changes)
    }

    /// Pulls and applies the world delta of the held regions from the cursor to the head.
    pub fn pull(&mut self, svc: &dyn RegionStreamingService) -> Result<Vec<SceneChange>, StreamError> {
        let Some(cursor) = self.cursor else {
            return Ok(Vec::new());
        };
        let input = GetWorldDeltaInput {
            from_cursor: cursor.to_string(),
            to_cursor: None,
            region_ids: Some(self.regions.iter().map(|r| r.to_string()).collect()),
        };
        match svc.get_world_delta(&input) {
            Err(StreamError::CursorExpired { .. }) => self.resync(svc),
            Err(e) => Err(e),
            Ok(delta) => {
                self.count(&delta);
                self.apply_world_delta(&delta)
            }
        }
    }

    /// Applies a world delta that starts at the client's cursor. Regions the client does not hold are ignored.
    /// Atomic: every check runs before the scene changes, so an error leaves the scene, the cursor and the
    /// counters as they were.
    pub fn apply_world_delta(&mut self, delta: &WorldDelta) -> Result<Vec<SceneChange>, StreamError> {
        let cursor = self.cursor.ok_or(StreamError::NoCursor)?;
        if delta.from_cursor.epoch != cursor.epoch || delta.to_cursor.epoch != cursor.epoch {
            return Err(StreamError::ForeignCursor {
                cursor: delta.from_cursor,
                found: delta.from_cursor.epoch,
                expected: cursor.epoch,
            });
        }
        if delta.to_cursor < delta.from_cursor {
            return Err(StreamError::ReversedRange { from: delta.from_cursor, to: delta.to_cursor });
        }
        if delta.to_cursor <= cursor {
            self.stats.duplicate_deltas += 1;
            return Ok(Vec::new());
        }
        if delta.from_cursor != cursor {
            return Err(StreamError::Gap { client: cursor, from: delta.from_cursor });
        }
        let held = |rd: &&RegionDelta| self.regions.contains(&rd.region_id);
        let regions: Vec<&RegionDelta> = delta.regions.iter().filter(held).collect();
        for rd in &regions {
            for id in rd.removed.iter().chain(rd.updated.iter().map(|p| &p.placement_id)) {
                if !self.scene.contains_key(id) {
                    return Err(inconsistent(rd, id, "is not in the client's scene"));
                }
            }
        }
        let removed: FxHashSet<&str> = regions.iter().flat_map(|rd| rd.removed.iter().map(String::as_str)).collect();
        // A delta carries each placement's net change: one update, and never an update of a removed one.
        let mut updated: FxHashSet<&str> = FxHashSet::default();
        for rd in &regions {
            for p in &rd.updated {
                let id = p.placement_id.as_str();
                if removed.contains(id) {
                    return Err(inconsistent(rd, id, "is both updated and removed in one delta"));
                }
                if !updated.insert(id) {
                    return Err(inconsistent(rd, id, "is updated twice in one delta"));
                }
            }
        }
        let mut added: FxHashSet<&str> = FxHashSet::default();
        for rd in &regions {
            for p in &rd.added {
                let id = p.placement_id.as_str();
                if self.scene.contains_key(id) && !removed.contains(id) {
                    return Err(inconsistent(rd, id, "is added but already in the client's scene"));
                }
                if !added.insert(id) {
                    return Err(inconsistent(rd, id, "is added twice in one delta"));
                }
            }
        }
        let mut leaving: FxHashMap<&str, SceneEntry> = FxHashMap::default();
        for rd in &regions {
            for id in &rd.removed {
                if let Some(e) = self.take(id) {
                    leaving.insert(id.as_str(), e);
                }
            }
        }
        let mut changes = Vec::with_capacity(leaving.len() + regions.iter().map(|r| r.added.len()).sum::<usize>());
        for rd in &regions {
            for p in &rd.updated {
                // Same region by definition of `updated`.
                let after_box = self.placement_box(p);
                if let Some(e) = self.scene.get_mut(&p.placement_id) {
                    let before = std::mem::replace(e, SceneEntry { placement: p.clone(), bbox: after_box });
                    self.stats.placements_updated += 1;
                    changes.push(SceneChange {
                        cause: ChangeCause::Edited,
                        before: Some(before.placement),
                        after: Some(p.clone()),
                        before_box: Some(before.bbox),
                        after_box: Some(after_box),
                    });
                }
            }
            for p in &rd.added {
                let before = leaving.remove(p.placement_id.as_str());
                self.insert(p.clone(), before, ChangeCause::Edited, &mut changes);
            }
        }
        let mut gone: Vec<SceneEntry> = leaving.into_values().collect();
        gone.sort_unstable_by(|a, b| a.placement.placement_id.cmp(&b.placement.placement_id));
        for e in gone {
            self.removed(e, ChangeCause::Edited, &mut changes);
        }
        self.cursor = Some(delta.to_cursor);
        self.stats.deltas += 1;
        Ok(changes)
    }

    /// Re-snapshots every held region at the head and turns the difference into scene changes.
    pub fn resync(&mut self, svc: &dyn RegionStreamingService) -> Result<Vec<SceneChange>, StreamError> {
        let input = GetWorldSnapshotInput {
            cursor: None,
            region_ids: Some(self.regions.iter().map(|r| r.to_string()).collect()),
        };
        let snapshot = svc.get_world_snapshot(&input)?;
        self.count(&snapshot);
        self.stats.snapshots += 1;
        self.stats.region_snapshots += snapshot.regions.len() as u64;
        self.stats.resyncs += 1;
        let mut changes = Vec::new();
        let mut old = std::mem::take(&mut self.scene);
        for rs in snapshot.regions {
            for p in rs.placements {
                match old.remove(&p.placement_id) {
                    Some(e) if *e.placement == *p => {
                        self.scene.insert(p.placement_id.clone(), e);
                    }
                    before => self.insert(p, before, ChangeCause::Edited, &mut changes),
                }
            }
        }
        let mut gone: Vec<SceneEntry> = old.into_values().collect();
        gone.sort_unstable_by(|a, b| a.placement.placement_id.cmp(&b.placement.placement_id));
        for e in gone {
            self.removed(e, ChangeCause::Edited, &mut changes);
        }
        self.cursor = Some(snapshot.cursor);
        Ok(changes)
    }

    fn drop_region(&mut self, r: RegionId, changes: &mut Vec<SceneChange>) {
        self.regions.remove(&r);
        self.stats.regions_dropped += 1;
        // Region drops are rare (camera moves); a scan keeps adds and removals free of a membership index.
        let mut ids: Vec<PlacementId> =
            self.scene.iter().filter(|(_, e)| e.placement.region_id == r).map(|(id, _)| id.clone()).collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(e) = self.scene.remove(&id) {
                self.removed(e, ChangeCause::Streamed, changes);
            }
        }
    }

    fn take(&mut self, id: &str) -> Option<SceneEntry> {
        self.scene.remove(id)
    }

    fn insert(
        &mut self,
        p: Arc<Placement>,
        before: Option<SceneEntry>,
        cause: ChangeCause,
        changes: &mut Vec<SceneChange>,
    ) {
        let bbox = self.placement_box(&p);
        if before.is_some() {
            self.stats.placements_updated += 1;
        } else {
            self.stats.placements_added += 1;
        }
        self.scene.insert(p.placement_id.clone(), SceneEntry { placement: p.clone(), bbox });
        let (before, before_box) = match before {
            Some(e) => (Some(e.placement), Some(e.bbox)),
            None => (None, None),
        };
        changes.push(SceneChange { cause, before, after: Some(p), before_box, after_box: Some(bbox) });
    }

    fn removed(&mut self, e: SceneEntry, cause: ChangeCause, changes: &mut Vec<SceneChange>) {
        self.stats.placements_removed += 1;
        changes.push(SceneChange {
            cause,
            before: Some(e.placement),
            after: None,
            before_box: Some(e.bbox),
            after_box: None,
        });
    }

    fn count<T: serde::Serialize>(&mut self, value: &T) {
        if self.config.count_bytes {
            let mut w = CountingWriter(0);
            if serde_json::to_writer(&mut w, value).is_ok() {
                self.stats.bytes += w.0;
            }
        }
    }
}

fn inconsistent(rd: &RegionDelta, id: &str, reason: &str) -> StreamError {
    StreamError::InconsistentDelta { region: rd.region_id.to_string(), id: id.to_string(), reason: reason.into() }
}

struct CountingWriter(u64);

impl io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
