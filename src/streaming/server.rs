//! The in-process streaming server: current state, a change log of commits, and the seed's four calls.
//!
//! State is indexed twice: by id (for edits) and by region, each region a `BTreeMap` keyed by id so a snapshot
//! at the head is already in canonical order. Every commit records, per touched placement, its value before and
//! after (`Arc`s shared with the state). From that:
//! - a delta over `(from, to]` folds the touched ids (first `before`, last `after`) and classifies the net effect,
//!   so its cost follows the number of changes in the span, never the size of the world;
//! - a snapshot at an older cursor starts from the head and undoes the later commits, newest first.
//!
//! Retention keeps at most `retention` commits; older cursors then fail with `CursorExpired`, and the client
//! answers with fresh snapshots. No call ever returns a delta with deletes missing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use glam::Vec3;
use rustc_hash::{FxHashMap, FxHashSet};

use super::clock::Clock;
use super::cursor::Cursor;
use super::error::StreamError;
use super::grid::RegionGrid;
use super::service::RegionStreamingService;
use super::types::*;
use crate::hash::{hash_bytes, hash_words};

/// A partial change of one placement; `None` fields keep their value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlacementPatch {
    /// New asset.
    pub asset_id: Option<String>,
    /// New position, metres.
    pub position: Option<Vec3>,
    /// New Euler rotation, degrees.
    pub rotation: Option<Vec3>,
    /// New scale.
    pub scale: Option<Vec3>,
    /// New albedo tint.
    pub tint: Option<Vec3>,
    /// New emission multiplier.
    pub emission: Option<f32>,
    /// New tag set.
    pub tags: Option<Vec<String>>,
    /// New flags.
    pub flags: Option<u32>,
}

/// One edit of a commit.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Adds a placement; its `region_id` is recomputed from its position.
    Add(Placement),
    /// Changes fields of an existing placement.
    Update { id: PlacementId, patch: PlacementPatch },
    /// Removes an existing placement.
    Remove { id: PlacementId },
}

/// Server settings.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// Maximum number of commits kept in the log; `None` keeps all.
    pub retention: Option<usize>,
    /// Mixed into the epoch: two instances of one world with different histories must differ here.
    pub instance: u64,
}

struct Change {
    id: PlacementId,
    before: Option<Arc<Placement>>,
    after: Option<Arc<Placement>>,
}

/// The change log and current state of one world.
pub struct StreamServer {
    epoch: u64,
    grid: RegionGrid,
    assets: FxHashSet<String>,
    by_id: FxHashMap<PlacementId, Arc<Placement>>,
    by_region: FxHashMap<RegionId, BTreeMap<PlacementId, Arc<Placement>>>,
    log: VecDeque<Vec<Change>>,
    base_seq: u64,
    retention: Option<usize>,
    clock: Arc<dyn Clock>,
}

impl StreamServer {
    /// A server over `grid` whose placements may use `assets`, starting empty at seq 0. `world_key` names the
    /// world's content (e.g. a hash of its file) and goes into the epoch together with `config.instance`.
    pub fn new(
        world_key: &str,
        grid: RegionGrid,
        assets: impl IntoIterator<Item = String>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        StreamServer {
            epoch: hash_words(&[hash_bytes(world_key.as_bytes()), config.instance]),
            grid,
            assets: assets.into_iter().collect(),
            by_id: FxHashMap::default(),
            by_region: FxHashMap::default(),
            log: VecDeque::new(),
            base_seq: 0,
            retention: config.retention,
            clock,
        }
    }

    /// The epoch of this log.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The region grid.
    pub fn grid(&self) -> &RegionGrid {
        &self.grid
    }

    /// The newest position.
    pub fn head(&self) -> Cursor {
        Cursor::new(self.epoch, self.base_seq + self.log.len() as u64)
    }

    /// The oldest position still served.
    pub fn oldest(&self) -> Cursor {
        Cursor::new(self.epoch, self.base_seq)
    }

    /// Number of placements at the head.
    pub fn placement_count(&self) -> usize {
        self.by_id.len()
    }

    /// Every placement at the head, in no particular order.
    pub fn placements(&self) -> impl Iterator<Item = &Arc<Placement>> {
        self.by_id.values()
    }

    /// Sets the state at the log's start (seq 0) without logging: the world as loaded. Refused once the log has
    /// history; ids must be unique and placements valid, exactly as for [`Edit::Add`].
    pub fn load_initial(&mut self, placements: Vec<Placement>) -> Result<(), StreamError> {
        if !self.log.is_empty() || self.base_seq != 0 {
            return Err(StreamError::HistoryExists { head: self.head() });
        }
        for mut p in placements {
            if self.by_id.contains_key(&p.placement_id) {
                return Err(StreamError::DuplicatePlacement { id: p.placement_id });
            }
            self.validate(&mut p)?;
            let id = p.placement_id.clone();
            self.set(&id, None, Some(Arc::new(p)));
        }
        Ok(())
    }

    /// The placement with this id at the head.
    pub fn placement(&self, id: &str) -> Option<&Arc<Placement>> {
        self.by_id.get(id)
    }

    /// Applies `edits` atomically as one commit and returns the new head. On error nothing changes.
    pub fn commit(&mut self, edits: Vec<Edit>) -> Result<Cursor, StreamError> {
        let mut changes: Vec<Change> = Vec::with_capacity(edits.len());
        for edit in edits {
            match self.apply_edit(edit) {
                Ok(change) => changes.push(change),
                Err(e) => {
                    for c in changes.into_iter().rev() {
                        self.set(&c.id, c.after.as_ref(), c.before);
                    }
                    return Err(e);
                }
            }
        }
        self.log.push_back(changes);
        if let Some(keep) = self.retention {
            while self.log.len() > keep {
                self.log.pop_front();
                self.base_seq += 1;
            }
        }
        Ok(self.head())
    }

    /// Drops every commit up to and including `cursor`: positions before it expire.
    pub fn compact_to(&mut self, cursor: Cursor) -> Result<(), StreamError> {
        let c = self.check_cursor(cursor)?;
        while self.base_seq < c.seq {
            self.log.pop_front();
            self.base_seq += 1;
        }
        Ok(())
    }

    fn apply_edit(&mut self, edit: Edit) -> Result<Change, StreamError> {
        match edit {
            Edit::Add(mut p) => {
                if self.by_id.contains_key(&p.placement_id) {
                    return Err(StreamError::DuplicatePlacement { id: p.placement_id });
                }
                self.validate(&mut p)?;
                let id = p.placement_id.clone();
                let after = Arc::new(p);
                self.set(&id, None, Some(after.clone()));
                Ok(Change { id, before: None, after: Some(after) })
            }
            Edit::Update { id, patch } => {
                let before = self.by_id.get(&id).cloned().ok_or(StreamError::UnknownPlacement { id: id.clone() })?;
                let mut p = (*before).clone();
                patch_placement(&mut p, patch);
                self.validate(&mut p)?;
                let after = Arc::new(p);
                self.set(&id, Some(&before), Some(after.clone()));
                Ok(Change { id, before: Some(before), after: Some(after) })
            }
            Edit::Remove { id } => {
                let before = self.by_id.get(&id).cloned().ok_or(StreamError::UnknownPlacement { id: id.clone() })?;
                self.set(&id, Some(&before), None);
                Ok(Change { id, before: Some(before), after: None })
            }
        }
    }

    /// Checks a placement's values and sets its region from its position.
    fn validate(&self, p: &mut Placement) -> Result<(), StreamError> {
        let invalid = |reason: String| StreamError::InvalidPlacement { id: p.placement_id.clone(), reason };
        if p.placement_id.is_empty() {
            return Err(invalid("the id is empty".into()));
        }
        if !self.assets.contains(&p.asset_id) {
            return Err(StreamError::UnknownAsset { id: p.placement_id.clone(), asset: p.asset_id.clone() });
        }
        if let Some(reason) = p.transform.invalid_reason() {
            return Err(invalid(reason));
        }
        if !p.tint.is_finite() || p.tint.min_element() < 0.0 {
            return Err(invalid(format!("tint {} must be finite and non-negative", p.tint)));
        }
        if !p.emission.is_finite() || p.emission < 0.0 {
            return Err(invalid(format!("emission {} must be finite and non-negative", p.emission)));
        }
        p.region_id = self.grid.region_of(p.transform.position).ok_or_else(|| {
            invalid(format!(
                "position {} lies outside the world's regions {}",
                p.transform.position,
                self.grid.describe()
            ))
        })?;
        p.tags.sort_unstable();
        p.tags.dedup();
        Ok(())
    }

    /// Moves the state of `id` from `old` to `new` in both indexes.
    fn set(&mut self, id: &str, old: Option<&Arc<Placement>>, new: Option<Arc<Placement>>) {
        if let Some(o) = old {
            if let Some(map) = self.by_region.get_mut(&o.region_id) {
                map.remove(id);
                if map.is_empty() {
                    self.by_region.remove(&o.region_id);
                }
            }
            self.by_id.remove(id);
        }
        if let Some(n) = new {
            self.by_region.entry(n.region_id).or_default().insert(id.to_string(), n.clone());
            self.by_id.insert(id.to_string(), n);
        }
    }

    fn check_cursor(&self, c: Cursor) -> Result<Cursor, StreamError> {
        if c.epoch != self.epoch {
            return Err(StreamError::ForeignCursor { cursor: c, found: c.epoch, expected: self.epoch });
        }
        if c.seq > self.head().seq {
            return Err(StreamError::CursorAhead { cursor: c, head: self.head() });
        }
        if c.seq < self.base_seq {
            return Err(StreamError::CursorExpired { cursor: c, oldest: self.oldest() });
        }
        Ok(c)
    }

    /// Parses and checks cursor text; `None` means the head.
    pub fn resolve_cursor(&self, text: Option<&str>) -> Result<Cursor, StreamError> {
        match text {
            None => Ok(self.head()),
            Some(t) => self.check_cursor(t.parse()?),
        }
    }

    fn parse_filter(&self, ids: Option<&[String]>) -> Result<Option<BTreeSet<RegionId>>, StreamError> {
        ids.map(|ids| ids.iter().map(|t| self.grid.parse(t)).collect()).transpose()
    }

    /// Commits after `seq` up to the head, oldest first.
    fn commits_after(&self, seq: u64) -> impl DoubleEndedIterator<Item = &Vec<Change>> {
        self.log.range((seq - self.base_seq) as usize..)
    }

    fn commits_between(&self, from: u64, to: u64) -> impl Iterator<Item = &Vec<Change>> {
        self.log.range((from - self.base_seq) as usize..(to - self.base_seq) as usize)
    }

    /// The placements of one region at a checked position, canonical order.
    fn region_at(&self, region: RegionId, seq: u64) -> Vec<Arc<Placement>> {
        let current = self.by_region.get(&region);
        if seq == self.head().seq {
            return current.map(|m| m.values().cloned().collect()).unwrap_or_default();
        }
        let mut map: BTreeMap<&str, &Arc<Placement>> =
            current.map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect()).unwrap_or_default();
        for commit in self.commits_after(seq).rev() {
            for c in commit.iter().rev() {
                if c.after.as_ref().is_some_and(|a| a.region_id == region) {
                    map.remove(c.id.as_str());
                }
                if let Some(b) = c.before.as_ref().filter(|b| b.region_id == region) {
                    map.insert(c.id.as_str(), b);
                }
            }
        }
        map.into_values().cloned().collect()
    }

    fn region_snapshot(&self, region: RegionId, cursor: Cursor, created_at: &str) -> RegionSnapshot {
        RegionSnapshot {
            id: format!("{region}@{cursor}"),
            region_id: region,
            cursor,
            placements: self.region_at(region, cursor.seq),
            created_at: created_at.to_string(),
            metadata: None,
        }
    }

    /// Net effect of `(from, to]` on the regions that pass `keep`, canonical order.
    fn delta(&self, from: Cursor, to: Cursor, keep: impl Fn(RegionId) -> bool) -> BTreeMap<RegionId, RegionDelta> {
        // Per touched id: its value at `from` (first `before`) and at `to` (last `after`).
        let mut net: FxHashMap<&str, NetChange<'_>> = FxHashMap::default();
        for commit in self.commits_between(from.seq, to.seq) {
            for c in commit {
                net.entry(c.id.as_str()).or_insert((c.before.as_ref(), None)).1 = c.after.as_ref();
            }
        }
        let mut out: BTreeMap<RegionId, RegionDelta> = BTreeMap::new();
        let mut region = |r: RegionId, f: &mut dyn FnMut(&mut RegionDelta)| {
            if keep(r) {
                f(out.entry(r).or_insert_with(|| empty_delta(r, from, to)));
            }
        };
        for (id, (before, after)) in net {
            match (before, after) {
                (None, None) => {}
                (None, Some(a)) => region(a.region_id, &mut |d| d.added.push(a.clone())),
                (Some(b), None) => region(b.region_id, &mut |d| d.removed.push(id.to_string())),
                (Some(b), Some(a)) if Arc::ptr_eq(a, b) || a == b => {}
                (Some(b), Some(a)) if a.region_id == b.region_id => {
                    region(a.region_id, &mut |d| d.updated.push(a.clone()))
                }
                (Some(b), Some(a)) => {
                    region(b.region_id, &mut |d| d.removed.push(id.to_string()));
                    region(a.region_id, &mut |d| d.added.push(a.clone()));
                }
            }
        }
        for d in out.values_mut() {
            d.added.sort_unstable_by(|x, y| x.placement_id.cmp(&y.placement_id));
            d.updated.sort_unstable_by(|x, y| x.placement_id.cmp(&y.placement_id));
            d.removed.sort_unstable();
        }
        out
    }

    /// Regions with at least one placement at the head or touched after `seq`: every region that can be
    /// non-empty at `seq`.
    fn candidate_regions(&self, seq: u64) -> BTreeSet<RegionId> {
        let mut set: BTreeSet<RegionId> = self.by_region.keys().copied().collect();
        for commit in self.commits_after(seq) {
            for c in commit {
                set.extend(c.before.iter().map(|b| b.region_id));
            }
        }
        set
    }
}

/// A placement's value at the start and at the end of a span (`None` = absent).
type NetChange<'a> = (Option<&'a Arc<Placement>>, Option<&'a Arc<Placement>>);

fn empty_delta(region: RegionId, from: Cursor, to: Cursor) -> RegionDelta {
    RegionDelta {
        region_id: region,
        from_cursor: from,
        to_cursor: to,
        added: Vec::new(),
        updated: Vec::new(),
        removed: Vec::new(),
        metadata: None,
    }
}

fn patch_placement(p: &mut Placement, patch: PlacementPatch) {
    let PlacementPatch { asset_id, position, rotation, scale, tint, emission, tags, flags } = patch;
    if let Some(v) = asset_id {
        p.asset_id = v;
    }
    if let Some(v) = position {
        p.transform.position = v;
    }
    if let Some(v) = rotation {
        p.transform.rotation = v;
    }
    if let Some(v) = scale {
        p.transform.scale = v;
    }
    if let Some(v) = tint {
        p.tint = v;
    }
    if let Some(v) = emission {
        p.emission = v;
    }
    if let Some(v) = tags {
        p.tags = v;
    }
    if let Some(v) = flags {
        p.flags = v;
    }
}

fn filter_hash(filter: &BTreeSet<RegionId>) -> u64 {
    let words: Vec<u64> = filter.iter().map(|r| (u64::from(r.x as u32) << 32) | u64::from(r.z as u32)).collect();
    hash_words(&words)
}

impl RegionStreamingService for StreamServer {
    fn get_region_snapshot(&self, input: &GetRegionSnapshotInput) -> Result<RegionSnapshot, StreamError> {
        let region = self.grid.parse(&input.region_id)?;
        let cursor = self.resolve_cursor(input.cursor.as_deref())?;
        Ok(self.region_snapshot(region, cursor, &self.clock.now_rfc3339()))
    }

    fn get_world_snapshot(&self, input: &GetWorldSnapshotInput) -> Result<WorldSnapshot, StreamError> {
        let cursor = self.resolve_cursor(input.cursor.as_deref())?;
        let filter = self.parse_filter(input.region_ids.as_deref())?;
        let created_at = self.clock.now_rfc3339();
        let regions: Vec<RegionId> = match &filter {
            Some(f) => f.iter().copied().collect(),
            None => self.candidate_regions(cursor.seq).into_iter().collect(),
        };
        let id = match &filter {
            Some(f) => format!("world@{cursor}/{:016x}", filter_hash(f)),
            None => format!("world@{cursor}"),
        };
        Ok(WorldSnapshot {
            id,
            cursor,
            regions: regions
                .into_iter()
                .map(|r| self.region_snapshot(r, cursor, &created_at))
                .filter(|s| !s.placements.is_empty())
                .collect(),
            created_at,
            metadata: None,
        })
    }

    fn get_region_delta(&self, input: &GetRegionDeltaInput) -> Result<RegionDelta, StreamError> {
        let region = self.grid.parse(&input.region_id)?;
        let from = self.resolve_cursor(Some(&input.from_cursor))?;
        let to = self.resolve_cursor(input.to_cursor.as_deref())?;
        if from > to {
            return Err(StreamError::ReversedRange { from, to });
        }
        Ok(self.delta(from, to, |r| r == region).remove(&region).unwrap_or_else(|| empty_delta(region, from, to)))
    }

    fn get_world_delta(&self, input: &GetWorldDeltaInput) -> Result<WorldDelta, StreamError> {
        let from = self.resolve_cursor(Some(&input.from_cursor))?;
        let to = self.resolve_cursor(input.to_cursor.as_deref())?;
        if from > to {
            return Err(StreamError::ReversedRange { from, to });
        }
        let filter = self.parse_filter(input.region_ids.as_deref())?;
        let regions = self.delta(from, to, |r| filter.as_ref().is_none_or(|f| f.contains(&r)));
        Ok(WorldDelta { from_cursor: from, to_cursor: to, regions: regions.into_values().collect(), metadata: None })
    }
}
