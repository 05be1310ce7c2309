//! The clipmap probe manager: the per-frame step the render thread calls with the camera.
//!
//! Per frame, without ever waiting:
//! - apply finished traces (workers already blended and packed them; a result whose probe was recycled or
//!   dirtied while in flight is dropped by its generation) and disk answers;
//! - take the voxel world's edited boxes: every region whose probes can reach one leaves the memory cache
//!   (written to disk under the content version it was made for, which the new content never matches), and the
//!   probes within trace range are marked dirty on every level, a bounded number per frame;
//! - move each level's anchor: probes that leave are saved into their region's cache entry, their slots are
//!   recycled for the probes that enter (invalid until they get a payload for their new position), and entering
//!   probes get cached payloads where the content version matches (near levels show them STALE and re-trace them
//!   ahead of other stale work; far levels reuse them) or are queued;
//! - age valid probes into STALE; pick work within the budgets in a deterministic order and submit it;
//!   checkpoint a few converged resident regions to disk; copy a slice of the multi-bounce snapshot.
//!
//! Regions streaming in or out are not edits: a probe that traced into unstreamed space has a confidence scaled
//! by the fraction of its rays that saw known space, so it stays "not converged" and is re-traced until the space
//! around it is known; caches are keyed by content version, so nothing cached goes wrong either.
//!
//! Work order, per level, is a bucket queue ([`super::queue`]) keyed by `(class, update tier, squared distance
//! to the camera in probes, slot)`: class 0 = new, dirty or not yet converged, 1 = cached and stale on entry,
//! 2 = stale by age; the tier is 0 for a probe without data or dirtied by an edit, then one per 16 updates
//! (near probes converge first, see `update_tier`).
//! Budgets: `base_budget >> level` probes per level and a global cap. No step scans all `N^3`
//! probes of a level, except a teleport, which renews the level by definition.

use std::collections::VecDeque;
use std::sync::Arc;

use glam::{IVec3, UVec3, Vec3};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::cache::{MemoryCache, MemoryCacheStats, RegionData, RegionKey};
use super::clipmap::{LevelTopology, ProbeBox};
use super::disk::{DiskCache, DiskStats, Loaded};
use super::gpu::{GpuProbe, GPU_PROBE_BYTES};
use super::irradiance::{ClipmapIrradiance, LevelIrradiance};
use super::payload::{flags, BlendParams, ProbePayload};
use super::queue::WorkQueue;
use super::sample::{sample, LeakGuard, ProbeLevel};
use super::sh::ShL1;
use super::tracer::{TraceError, TraceJob, TracePool, TraceResult};
use crate::geom::Aabb;
use crate::hash::hash_words;
use crate::prefetch::prefetch;
use crate::voxel::VoxelGrid;

/// Settings of the clipmap and its scheduling.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeConfig {
    /// Number of levels.
    pub levels: u32,
    /// Probes per axis of each level.
    pub dims: UVec3,
    /// Spacing of level 0, metres.
    pub base_spacing: f32,
    /// Probes per region edge (cache granularity).
    pub region_probes: u32,
    /// Rays per probe update.
    pub rays_per_update: u32,
    /// Trace range in probe spacings of the probe's level.
    pub trace_range_probes: f32,
    /// ShortRangeAO range in probe spacings.
    pub ao_range_probes: f32,
    /// Probe updates per frame for level 0; level `L` gets `base_budget >> L`.
    pub base_budget: u32,
    /// Probe updates per frame over all levels.
    pub global_budget: u32,
    /// Border band for cross-level blending, probes.
    pub blend_band: f32,
    /// Levels `< near_levels` refresh on entry; the others reuse cached payloads until invalidated.
    pub near_levels: u32,
    /// Frames before a level-0 probe turns stale (doubles per level).
    pub stale_age_frames: u64,
    /// Hysteresis and convergence.
    pub blend: BlendParams,
    /// Confidence that counts as converged (stats, persistence, scheduling); 1 = within the blend's target error.
    pub converged_confidence: f32,
    /// Byte cap of the memory region cache.
    pub memory_cache_bytes: usize,
    /// GPU bytes uploaded per frame at most.
    pub upload_budget_bytes: usize,
    /// Slots copied into the multi-bounce irradiance snapshot per frame.
    pub irradiance_slots_per_frame: usize,
    /// Resident regions examined per frame for a checkpoint to disk (converged regions are written once per
    /// content version, without waiting for them to leave the clipmap).
    pub checkpoint_regions_per_frame: usize,
    /// Probes examined per frame while marking the probes of edits dirty (bounds the cost of an edit); a quarter
    /// of it on frames that apply more than half the global budget of results.
    pub dirty_visits_per_frame: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            levels: 4,
            dims: UVec3::splat(32),
            base_spacing: 1.0,
            region_probes: 8,
            rays_per_update: 64,
            trace_range_probes: 16.0,
            ao_range_probes: 1.5,
            base_budget: 2560,
            global_budget: 1600,
            blend_band: 2.0,
            near_levels: 2,
            stale_age_frames: 600,
            blend: BlendParams::default(),
            converged_confidence: 1.0,
            memory_cache_bytes: 64 << 20,
            upload_budget_bytes: 256 << 10,
            irradiance_slots_per_frame: 2048,
            dirty_visits_per_frame: 4096,
            checkpoint_regions_per_frame: 2,
        }
    }
}

impl ProbeConfig {
    /// Spacing of level `l`, metres.
    pub fn spacing(&self, l: u32) -> f32 {
        self.base_spacing * (1u32 << l) as f32
    }

    /// Trace range of level `l`, metres: how far an edit reaches the level's probes (invalidation, cache
    /// content versions).
    pub fn trace_range(&self, l: u32) -> f32 {
        self.trace_range_probes * self.spacing(l)
    }

    /// Longest probe ray, metres: the coarsest level's trace range, for every level. A ray that leaves its own
    /// level's range without a hit carries on through the coarser levels' ranges (light from farther away is
    /// not sky); only a ray that leaves the world or this range sees the sky.
    pub fn ray_range(&self) -> f32 {
        self.trace_range(self.levels.saturating_sub(1))
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    coord: IVec3,
    generation: u32,
    updates: u32,
    assigned: bool,
    in_flight: bool,
    pending: bool,
    awaiting_disk: bool,
    upload_queued: bool,
    /// Class of the live work entry, [`NOT_QUEUED`] when none.
    queued_class: u8,
    /// Identifies the live work entry; older entries in the queue are skipped.
    stamp: u32,
    /// Frame of the last applied update.
    last_update: u64,
    /// The slot has an entry in its level's aging queue (at most one per probe).
    aging_queued: bool,
    /// An edit reached the probe and no result traced after it has arrived yet: its payload describes the old
    /// voxels, so it is shown but never persisted.
    dirty: bool,
}

const NOT_QUEUED: u8 = u8::MAX;

/// Region buffers kept for reuse.
const SPARE_REGIONS: usize = 64;

/// An empty region of `r^3` probes, in a spare buffer when one fits.
fn reuse_region(spare: &mut Vec<RegionData>, r: u32, content: u64) -> RegionData {
    match spare.pop() {
        Some(mut d) if d.payloads.len() == (r * r * r) as usize => {
            d.reset(content);
            d
        }
        _ => RegionData::empty(r, content),
    }
}

/// How many items ahead the apply, schedule and shift loops prefetch per-probe state.
const PREFETCH_AHEAD: usize = 8;

const NO_COORD: IVec3 = IVec3::splat(i32::MIN);

impl Default for Slot {
    fn default() -> Self {
        Slot {
            coord: NO_COORD,
            generation: 0,
            updates: 0,
            assigned: false,
            in_flight: false,
            pending: false,
            awaiting_disk: false,
            upload_queued: false,
            queued_class: NOT_QUEUED,
            stamp: 0,
            last_update: 0,
            aging_queued: false,
            dirty: false,
        }
    }
}

/// Per-level counters, a plain struct for the UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LevelStats {
    /// Level index.
    pub level: u32,
    /// Probe spacing, metres.
    pub spacing: f32,
    /// Slots holding a probe.
    pub resident: usize,
    /// Work entries queued.
    pub dirty: usize,
    /// Probes being traced.
    pub in_flight: usize,
    /// Usable probes / probes that are not inside solids.
    pub valid_fraction: f32,
    /// Converged probes / probes that are not inside solids.
    pub converged_fraction: f32,
    /// Probes inside solids.
    pub disabled: usize,
    /// Region-cache hits for probes entering this level.
    pub hits: u64,
    /// Region-cache misses.
    pub misses: u64,
    /// Regions of this level evicted from the memory cache.
    pub evictions: u64,
    /// Slots recycled for entering probes.
    pub recycles: u64,
    /// Bytes of payloads and slot state.
    pub bytes: usize,
}

/// Everything the stats panel and reports show.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProbeStats {
    /// Frames stepped.
    pub frame: u64,
    /// Per level.
    pub levels: Vec<LevelStats>,
    /// Memory region cache.
    pub memory: MemoryCacheStats,
    /// Disk cache, when enabled.
    pub disk: Option<DiskStats>,
    /// Rays traced (results applied).
    pub rays_traced: u64,
    /// Probe updates applied.
    pub probe_updates: u64,
    /// Results dropped because their probe moved, was evicted or dirtied while in flight.
    pub results_dropped: u64,
    /// Probes dirtied by edits.
    pub dirtied: u64,
}

/// One probe to upload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeUpload {
    /// Level.
    pub level: u32,
    /// Storage slot in the level (ring-addressed).
    pub slot: u32,
    /// The probe's global coordinate (the renderer tags the record with it, so a recycled slot never shows
    /// the evicted probe).
    pub coord: IVec3,
    /// The packed record.
    pub probe: GpuProbe,
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct StepReport {
    /// Probes that entered the clipmap.
    pub entered: usize,
    /// Jobs submitted.
    pub submitted: usize,
    /// Results applied.
    pub applied: usize,
    /// Results dropped (stale).
    pub dropped: usize,
    /// Probes dirtied by changed boxes.
    pub dirtied: usize,
}

/// An edit whose probes are still being marked dirty: the probes of `level` within `range` of `b`, visited in
/// the fixed order of the global-coordinate box `reach` from index `next`.
struct PendingDirty {
    level: usize,
    b: Aabb,
    range: f32,
    reach: ProbeBox,
    next: usize,
}

struct Level {
    topo: LevelTopology,
    payloads: Vec<ProbePayload>,
    gpu: Vec<GpuProbe>,
    slots: Vec<Slot>,
    queue: WorkQueue,
    /// `(due frame, slot, probe)`: when each valid probe may turn stale; one entry per probe at most.
    aging: VecDeque<(u64, u32, IVec3)>,
    valid: usize,
    converged: usize,
    disabled: usize,
    in_flight: usize,
    /// Slots holding a probe (a slot once assigned stays assigned).
    resident: usize,
    stats: LevelStats,
    initialised: bool,
    /// The level counted as converged at its last check (for the checkpoint trigger).
    converged_flag: bool,
}

impl ProbeLevel for Level {
    fn topology(&self) -> &LevelTopology {
        &self.topo
    }

    fn probe(&self, g: IVec3) -> Option<(ShL1, f32)> {
        let s = self.topo.slot(g);
        let p = &self.payloads[s];
        (self.slots[s].coord == g && p.usable()).then_some((p.sh, p.confidence))
    }
}

/// The probe manager.
pub struct ProbeManager {
    config: ProbeConfig,
    levels: Vec<Level>,
    pool: TracePool,
    memory: MemoryCache,
    /// Region buffers no longer cached (evicted without persistence, replaced, or not worth writing), kept
    /// for reuse: a shift saves into many new regions, and fresh 40 KB buffers cost allocation and page faults.
    spare_regions: Vec<RegionData>,
    disk: Option<DiskCache>,
    awaiting: FxHashMap<RegionKey, Vec<(u32, IVec3)>>,
    pending_dirty: VecDeque<PendingDirty>,
    /// Next region a checkpoint examines: (level, index into the level's region box).
    checkpoint_cursor: (usize, usize),
    /// Regions to checkpoint before the round-robin continues (a level that just converged queues all of its).
    checkpoint_due: VecDeque<RegionKey>,
    /// Content version each region was last written for, and how many of its probes were settled then.
    written: FxHashMap<RegionKey, (u64, usize)>,
    uploads: VecDeque<(u32, u32)>,
    /// Most probes in flight (live mode); `None` in lockstep.
    in_flight_cap: Option<usize>,
    irradiance: Arc<ClipmapIrradiance>,
    building: Option<(usize, LevelIrradiance)>,
    /// The level the next snapshot copy starts on.
    next_irradiance_level: usize,

    retired: Vec<Arc<LevelIrradiance>>,
    frame: u64,
    stats: ProbeStats,
    results: Vec<Vec<TraceResult>>,
    loaded: Vec<Loaded>,
    empty_gpu: GpuProbe,
}

impl ProbeManager {
    /// A manager with `threads` tracer threads and an optional disk cache. Levels are placed at the first
    /// step.
    pub fn new(config: ProbeConfig, threads: usize, disk: Option<DiskCache>) -> Result<Self, TraceError> {
        let levels = (0..config.levels)
            .map(|l| {
                let topo = LevelTopology::new(l, config.dims, config.base_spacing, Vec3::ZERO);
                let n = topo.len();
                Level {
                    topo,
                    payloads: vec![ProbePayload::default(); n],
                    gpu: vec![GpuProbe::pack(&ProbePayload::default()); n],
                    slots: vec![Slot::default(); n],
                    queue: WorkQueue::new(max_dist2(config.dims)),
                    aging: VecDeque::with_capacity(n),
                    valid: 0,
                    converged: 0,
                    disabled: 0,
                    in_flight: 0,
                    resident: 0,
                    stats: LevelStats { level: l, spacing: topo.spacing, ..Default::default() },
                    initialised: false,
                    converged_flag: false,
                }
            })
            .collect::<Vec<_>>();
        let levels_len_total: usize = levels.iter().map(|l| l.topo.len()).sum();
        let irradiance = Arc::new(ClipmapIrradiance {
            levels: levels.iter().map(|l| Arc::new(LevelIrradiance::empty(l.topo))).collect(),
            band: config.blend_band,
        });
        Ok(ProbeManager {
            memory: MemoryCache::new(config.memory_cache_bytes),
            spare_regions: Vec::new(),
            pool: TracePool::new(threads)?,
            config,
            levels,
            disk,
            awaiting: FxHashMap::default(),
            pending_dirty: VecDeque::new(),
            checkpoint_cursor: (0, 0),
            checkpoint_due: VecDeque::new(),
            written: FxHashMap::default(),
            uploads: VecDeque::with_capacity(levels_len_total),
            in_flight_cap: None,
            irradiance,
            building: None,
            next_irradiance_level: 0,
            retired: Vec::new(),
            frame: 0,
            stats: ProbeStats::default(),
            results: Vec::new(),
            loaded: Vec::new(),
            empty_gpu: GpuProbe::pack(&ProbePayload::default()),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &ProbeConfig {
        &self.config
    }

    /// Runtime controls (the viewer's panel): level 0's per-frame budget (level `L` gets `base_budget >> L`),
    /// the global budget, and the blend's hysteresis, clamped to 1..=65536, 1..=65536 and 0..=0.999. They
    /// take effect at the next step; traces in flight keep the settings they were submitted with.
    pub fn set_tuning(&mut self, base_budget: u32, global_budget: u32, hysteresis: f32) {
        self.config.base_budget = base_budget.clamp(1, 65_536);
        self.config.global_budget = global_budget.clamp(1, 65_536);
        self.config.blend.hysteresis = if hysteresis.is_finite() { hysteresis.clamp(0.0, 0.999) } else { 0.98 };
    }

    /// The clipmap levels' placement and size, finest first.
    pub fn topologies(&self) -> Vec<LevelTopology> {
        self.levels.iter().map(|l| l.topo).collect()
    }

    /// A level's payloads in slot order.
    pub fn payloads(&self, level: usize) -> &[ProbePayload] {
        &self.levels[level].payloads
    }

    /// The payload of probe `g` on `level`, if that slot holds it.
    pub fn probe(&self, level: usize, g: IVec3) -> Option<&ProbePayload> {
        let l = &self.levels[level];
        let s = l.topo.slot(g);
        (l.slots[s].coord == g && l.topo.bounds().contains(g)).then(|| &l.payloads[s])
    }

    /// Counters for the UI and reports.
    pub fn stats(&self) -> ProbeStats {
        let mut s = self.stats.clone();
        s.frame = self.frame;
        s.memory = self.memory.stats();
        s.disk = self.disk.as_ref().map(|d| d.stats());
        s.levels = self
            .levels
            .iter()
            .map(|l| {
                let live = (l.topo.len() - l.disabled).max(1) as f32;
                LevelStats {
                    resident: l.resident,
                    dirty: l.queue.len(),
                    in_flight: l.in_flight,
                    valid_fraction: l.valid as f32 / live,
                    converged_fraction: l.converged as f32 / live,
                    disabled: l.disabled,
                    bytes: l.payloads.len() * std::mem::size_of::<ProbePayload>()
                        + l.slots.len() * std::mem::size_of::<Slot>(),
                    ..l.stats
                }
            })
            .collect();
        s
    }

    /// Irradiance at `pos` for unit `normal` as shading reads it from the current payloads ([`sample`]); `None`
    /// where no level holds a usable probe.
    pub fn irradiance_at(&self, pos: Vec3, normal: Vec3, guard: LeakGuard) -> Option<Vec3> {
        sample(&self.levels, self.config.blend_band, pos, normal, guard)
    }

    /// The multi-bounce snapshot the tracer's next jobs will read.
    pub fn irradiance_snapshot(&self) -> Arc<ClipmapIrradiance> {
        self.irradiance.clone()
    }

    /// Fraction of a level's probes (not inside solids) that are converged.
    pub fn converged_fraction(&self, level: usize) -> f32 {
        let l = &self.levels[level];
        l.converged as f32 / (l.topo.len() - l.disabled).max(1) as f32
    }

    /// Probes that hold no payload yet and are neither queued (with a live entry in the work queue), nor
    /// traced, nor waiting for the disk: always 0 unless the bookkeeping lost one. Scans everything; for tests.
    pub fn forgotten_probes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| {
                let live: rustc_hash::FxHashSet<(u32, u32)> = l.queue.entries().copied().collect();
                l.slots
                    .iter()
                    .zip(&l.payloads)
                    .enumerate()
                    .filter(|(i, (s, p))| {
                        let queued = s.queued_class != NOT_QUEUED && live.contains(&(*i as u32, s.stamp));
                        s.assigned
                            && !p.usable()
                            && p.flags & flags::DISABLED == 0
                            && !s.in_flight
                            && !s.awaiting_disk
                            && !queued
                    })
                    .count()
            })
            .sum()
    }

    /// True when the memory cache holds an entry for the region (any content version).
    pub fn cached_in_memory(&self, key: RegionKey) -> bool {
        self.memory.contains(key)
    }

    /// Headless lockstep only: waits until every submitted job and disk request is done (the next step applies
    /// them). The viewer never calls this.
    pub fn wait_idle(&mut self) {
        self.pool.wait_all(&mut self.results);
        if let Some(d) = self.disk.as_mut() {
            d.sync(&mut self.loaded);
        }
    }

    /// A hash of every probe's coordinate and payload bits (reports; equal runs give equal hashes).
    pub fn payload_hash(&self) -> u64 {
        let mut words = Vec::new();
        for l in &self.levels {
            for (s, p) in l.slots.iter().zip(&l.payloads) {
                words.push(u64::from(s.coord.x as u32) << 32 | u64::from(s.coord.y as u32));
                words.push(u64::from(s.coord.z as u32));
                for c in p.sh.c {
                    words.push(u64::from(c.x.to_bits()) << 32 | u64::from(c.y.to_bits()));
                    words.push(u64::from(c.z.to_bits()));
                }
                words.push(u64::from(p.ao_dir) << 32 | u64::from(p.flags));
                words.push(u64::from(p.confidence.to_bits()) << 32 | u64::from(p.sky_visibility.to_bits()));
            }
        }
        hash_words(&words)
    }

    /// Caps the probes in flight (`None`: no cap). The viewer's live mode sets it to what the pool finishes in
    /// a few frames, so no backlog builds up when tracing falls behind; probes over the cap stay queued.
    pub fn set_in_flight_cap(&mut self, cap: Option<usize>) {
        self.in_flight_cap = cap;
    }

    /// Probes in flight, all levels.
    pub fn in_flight(&self) -> usize {
        self.levels.iter().map(|l| l.in_flight).sum()
    }

    /// Probe uploads queued and not yet handed out.
    pub fn pending_uploads(&self) -> usize {
        self.uploads.len()
    }

    /// Moves the queued probe uploads that fit in the per-frame byte budget into `out` (cleared first; the
    /// caller keeps the buffer from frame to frame).
    pub fn take_uploads(&mut self, out: &mut Vec<ProbeUpload>) {
        out.clear();
        let max = self.config.upload_budget_bytes / GPU_PROBE_BYTES;
        while out.len() < max {
            let Some((l, s)) = self.uploads.pop_front() else { break };
            let level = &mut self.levels[l as usize];
            level.slots[s as usize].upload_queued = false;
            out.push(ProbeUpload {
                level: l,
                slot: s,
                coord: level.slots[s as usize].coord,
                probe: level.gpu[s as usize],
            });
        }
    }

    /// The per-frame step: `edited` are the world boxes whose voxels were edited since the last step. Never
    /// blocks.
    pub fn step(&mut self, camera: Vec3, grid: &Arc<VoxelGrid>, edited: &[Aabb]) -> StepReport {
        self.frame += 1;
        let mut report = StepReport::default();
        self.pool.try_drain(&mut self.results);
        for batch in std::mem::take(&mut self.results) {
            for (i, r) in batch.iter().enumerate() {
                if let Some(ahead) = batch.get(i + PREFETCH_AHEAD) {
                    self.prefetch_slot((ahead.key >> 32) as usize, (ahead.key & 0xFFFF_FFFF) as usize);
                }
                self.apply_result(r, &mut report);
            }
        }
        if let Some(d) = self.disk.as_mut() {
            d.poll(&mut self.loaded);
        }
        for loaded in std::mem::take(&mut self.loaded) {
            self.apply_loaded(loaded);
        }
        for b in edited {
            self.invalidate(b);
        }
        // Marking shares the frame with applying results: a busy frame marks a quarter as many probes.
        let visits = self.config.dirty_visits_per_frame;
        let busy = report.applied as u32 > self.config.global_budget / 2;
        report.dirtied = self.mark_dirty(if busy { visits / 4 } else { visits });
        let mut content_memo: FxHashMap<RegionKey, u64> = FxHashMap::default();
        for l in 0..self.levels.len() {
            report.entered += self.shift_level(l, camera, grid, &mut content_memo);
        }
        self.age();
        report.submitted = self.schedule(grid);
        self.checkpoint(grid);
        self.build_irradiance();
        self.stats.dirtied += report.dirtied as u64;
        report
    }

    /// Writes every converged region still resident (and the memory cache) to disk, and waits for the writes.
    pub fn flush_to_disk(&mut self, grid: &VoxelGrid) {
        if self.disk.is_none() {
            return;
        }
        let mut regions: FxHashMap<RegionKey, RegionData> = FxHashMap::default();
        for (key, d) in self.memory.drain() {
            regions.insert(key, d);
        }
        let r = self.config.region_probes as i32;
        let mut memo: FxHashMap<RegionKey, u64> = FxHashMap::default();
        for li in 0..self.levels.len() {
            let l = &self.levels[li];
            for (slot, s) in l.slots.iter().enumerate() {
                let p = l.payloads[slot];
                if !s.assigned || s.dirty || !self.settled(&p) {
                    continue;
                }
                let key = RegionKey { level: li as u32, coord: s.coord.div_euclid(IVec3::splat(r)) };
                let content = *memo.entry(key).or_insert_with(|| region_content(&self.config, grid, key));
                let entry = regions.entry(key).or_insert_with(|| RegionData::empty(r as u32, content));
                if entry.content != content {
                    *entry = RegionData::empty(r as u32, content);
                }
                let i = local_index(s.coord, r);
                entry.payloads[i] = without_transient(p);
                entry.updates[i] = s.updates;
                entry.last_updated = self.frame;
            }
        }
        let mut keys: Vec<RegionKey> = regions.keys().copied().collect();
        keys.sort();
        for k in keys {
            if let Some(d) = regions.remove(&k) {
                self.store(k, d);
            }
        }
        if let Some(d) = self.disk.as_mut() {
            d.sync(&mut self.loaded);
        }
    }

    /// Counts regions evicted from the memory cache and writes them to disk (when persistence is on).
    fn store_evicted(&mut self, evicted: Vec<(RegionKey, RegionData)>) {
        for (k, d) in evicted {
            self.levels[k.level as usize].stats.evictions += 1;
            self.store(k, d);
        }
    }

    /// Writes up to `checkpoint_regions_per_frame` resident regions: first those queued when their level
    /// converged, else round-robin over every level's regions (see `checkpoint_region`).
    fn checkpoint(&mut self, grid: &VoxelGrid) {
        if self.disk.as_ref().is_none_or(|d| d.stats().disabled) {
            return;
        }
        let r = self.config.region_probes as i32;
        // A level that just converged queues all of its regions.
        for l in 0..self.levels.len() {
            let f = self.converged_fraction(l);
            let level = &mut self.levels[l];
            if !level.converged_flag && f >= 0.95 {
                level.converged_flag = true;
                let topo = level.topo;
                // Finest levels first: keep the queue ordered by level.
                let at =
                    self.checkpoint_due.iter().position(|k| k.level > l as u32).unwrap_or(self.checkpoint_due.len());
                for (j, coord) in topo.bounds().cells(r).iter().enumerate() {
                    self.checkpoint_due.insert(at + j, RegionKey { level: l as u32, coord });
                }
            } else if f < 0.9 {
                level.converged_flag = false;
            }
        }
        // Regions queued by a converged level go at twice the round-robin rate.
        let due = (2 * self.config.checkpoint_regions_per_frame).min(self.checkpoint_due.len());
        for _ in 0..due.max(self.config.checkpoint_regions_per_frame) {
            let key = match self.checkpoint_due.pop_front() {
                Some(k) => k,
                None => {
                    let (l, i) = self.checkpoint_cursor;
                    let regions = self.levels[l].topo.bounds().cells(r);
                    let n = regions.volume();
                    self.checkpoint_cursor = if i + 1 >= n { ((l + 1) % self.levels.len(), 0) } else { (l, i + 1) };
                    if n == 0 || !self.levels[l].initialised {
                        continue;
                    }
                    RegionKey { level: l as u32, coord: regions.at(i.min(n - 1)) }
                }
            };
            self.checkpoint_region(key, grid);
        }
    }

    /// Writes one resident region if it has settled probes and was not yet written for its current content
    /// version, or when notably more of its probes have settled since.
    fn checkpoint_region(&mut self, key: RegionKey, grid: &VoxelGrid) {
        let r = self.config.region_probes as i32;
        let level = &self.levels[key.level as usize];
        let block = ProbeBox { lo: key.coord * r, hi: (key.coord + 1) * r }.intersect(&level.topo.bounds());
        let settled = block
            .iter()
            .filter(|g| {
                let slot = level.topo.slot(*g);
                let s = &level.slots[slot];
                s.coord == *g && !s.dirty && self.settled(&level.payloads[slot])
            })
            .count();
        if settled == 0 {
            return;
        }
        let content = region_content(&self.config, grid, key);
        if let Some(&(c, before)) = self.written.get(&key) {
            if c == content && settled <= before + before / 8 {
                return;
            }
        }
        let mut data = reuse_region(&mut self.spare_regions, r as u32, content);
        data.last_updated = self.frame;
        for g in block.iter() {
            let slot = level.topo.slot(g);
            if level.slots[slot].dirty {
                continue;
            }
            let i = local_index(g, r);
            data.payloads[i] = without_transient(level.payloads[slot]);
            data.updates[i] = level.slots[slot].updates;
        }
        if self.written.len() > 1 << 16 {
            self.written.clear();
        }
        self.written.insert(key, (content, settled));
        self.store(key, data);
    }

    /// Worth persisting: converged, or known to be inside solid voxels.
    fn settled(&self, p: &ProbePayload) -> bool {
        (p.usable() && p.confidence >= self.config.converged_confidence) || p.flags & flags::DISABLED != 0
    }

    fn store(&mut self, key: RegionKey, mut d: RegionData) {
        let Some(disk) = &self.disk else {
            self.recycle_region(d);
            return;
        };
        let mut any = false;
        for p in d.payloads.iter_mut() {
            if self.settled(p) {
                *p = without_transient(*p);
                any = true;
            } else {
                *p = ProbePayload::default();
            }
        }
        if any {
            disk.store(key, d);
        } else {
            self.recycle_region(d);
        }
    }

    /// Keeps a region buffer for reuse (up to [`SPARE_REGIONS`]).
    fn recycle_region(&mut self, d: RegionData) {
        if self.spare_regions.len() < SPARE_REGIONS {
            self.spare_regions.push(d);
        }
    }

    /// Queues a probe for tracing with `class`, unless it is already queued at that class or better; a probe
    /// in flight is remembered (`pending`) and queued when its result arrives.
    fn push_work(&mut self, l: usize, slot: usize, class: u8) {
        let level = &mut self.levels[l];
        let s = &mut level.slots[slot];
        if s.in_flight {
            s.pending = true;
            return;
        }
        if s.queued_class <= class {
            return;
        }
        s.queued_class = class;
        s.stamp = s.stamp.wrapping_add(1);
        let d = s.coord - level.topo.anchor;
        let dist2 = (d.x * d.x + d.y * d.y + d.z * d.z) as u32;
        // A probe an edit reached is traced as soon as one without data.
        let tier = if s.dirty { 0 } else { update_tier(s.updates) };
        level.queue.push(class, tier, dist2, slot as u32, s.stamp);
    }

    fn set_payload(&mut self, l: usize, slot: usize, p: ProbePayload) {
        self.set_payload_packed(l, slot, p, GpuProbe::pack(&p));
    }

    fn set_payload_packed(&mut self, l: usize, slot: usize, p: ProbePayload, gpu: GpuProbe) {
        let conv = self.config.converged_confidence;
        let level = &mut self.levels[l];
        let old = level.payloads[slot];
        let status =
            |q: &ProbePayload| (q.usable(), q.usable() && q.confidence >= conv, q.flags & flags::DISABLED != 0);
        let (ov, oc, od) = status(&old);
        let (nv, nc, nd) = status(&p);
        level.valid = level.valid + usize::from(nv) - usize::from(ov);
        level.converged = level.converged + usize::from(nc) - usize::from(oc);
        level.disabled = level.disabled + usize::from(nd) - usize::from(od);
        level.payloads[slot] = p;
        level.gpu[slot] = gpu;
        if !level.slots[slot].upload_queued {
            level.slots[slot].upload_queued = true;
            self.uploads.push_back((l as u32, slot as u32));
        }
    }

    /// Starts loading a slot's state, payload and GPU record (see [`crate::prefetch`]).
    #[inline(always)]
    fn prefetch_slot(&self, l: usize, slot: usize) {
        if let Some(level) = self.levels.get(l) {
            if slot < level.slots.len() {
                prefetch(&level.slots[slot]);
                prefetch(&level.payloads[slot]);
                prefetch(&level.gpu[slot]);
            }
        }
    }

    fn apply_result(&mut self, r: &TraceResult, report: &mut StepReport) {
        let l = (r.key >> 32) as usize;
        let slot = (r.key & 0xFFFF_FFFF) as usize;
        let Some(level) = self.levels.get_mut(l) else { return };
        let s = &mut level.slots[slot];
        s.in_flight = false;
        level.in_flight -= 1;
        level.payloads[slot].flags &= !flags::IN_FLIGHT;
        if r.generation != u64::from(s.generation) {
            report.dropped += 1;
            self.stats.results_dropped += 1;
            if std::mem::take(&mut s.pending) {
                self.push_work(l, slot, 0);
            }
            return;
        }
        let new = r.payload;
        s.updates += 1;
        s.last_update = self.frame;
        s.dirty = false;
        let pending = std::mem::take(&mut s.pending);
        if !s.aging_queued {
            s.aging_queued = true;
            level.aging.push_back((self.frame + (self.config.stale_age_frames << l), slot as u32, s.coord));
        }
        self.set_payload_packed(l, slot, new, r.gpu);
        report.applied += 1;
        self.stats.probe_updates += 1;
        self.stats.rays_traced += u64::from(r.rays);
        if pending || (new.usable() && new.confidence < self.config.converged_confidence) {
            self.push_work(l, slot, 0);
        }
    }

    fn apply_loaded(&mut self, a: Loaded) {
        let Some(list) = self.awaiting.remove(&a.key) else { return };
        let l = a.key.level as usize;
        let r = self.config.region_probes as i32;
        match &a.data {
            Some(_) => self.levels[l].stats.hits += 1,
            None => self.levels[l].stats.misses += 1,
        }
        for (slot, g) in list {
            let slot = slot as usize;
            let s = self.levels[l].slots[slot];
            if s.coord != g || !s.awaiting_disk {
                continue;
            }
            self.levels[l].slots[slot].awaiting_disk = false;
            let cached = a.data.as_ref().map(|d| (d.payloads[local_index(g, r)], d.updates[local_index(g, r)]));
            self.use_cached_or_queue(l, slot, cached);
        }
        if let Some(d) = a.data {
            let evicted = self.memory.upsert(a.key, || d, |_| {});
            self.store_evicted(evicted);
        }
    }

    fn use_cached_or_queue(&mut self, l: usize, slot: usize, cached: Option<(ProbePayload, u32)>) {
        match cached {
            Some((p, _)) if p.flags & flags::DISABLED != 0 => self.set_payload(l, slot, p),
            Some((p, updates)) if p.usable() => {
                self.levels[l].slots[slot].updates = updates;
                let near = (l as u32) < self.config.near_levels;
                let mut p = p;
                if near {
                    p.flags |= flags::STALE;
                }
                self.set_payload(l, slot, p);
                if near {
                    self.push_work(l, slot, 1);
                }
            }
            _ => self.push_work(l, slot, 0),
        }
    }

    fn shift_level(&mut self, l: usize, camera: Vec3, grid: &VoxelGrid, memo: &mut FxHashMap<RegionKey, u64>) -> usize {
        let r = self.config.region_probes as i32;
        let (old, entered) = {
            let level = &mut self.levels[l];
            let old = level.topo.bounds();
            if !level.initialised {
                level.initialised = true;
                level.topo = LevelTopology::new(l as u32, self.config.dims, self.config.base_spacing, camera);
                (ProbeBox { lo: IVec3::ZERO, hi: IVec3::ZERO }, vec![level.topo.bounds()])
            } else {
                (old, level.topo.shift(camera))
            }
        };
        if entered.is_empty() {
            return 0;
        }
        let new = self.levels[l].topo.bounds();
        // Save the probes that leave into their regions' memory-cache entries, region block by region block.
        for b in old.subtract(&new) {
            for (coord, block) in region_blocks(b, r) {
                let key = RegionKey { level: l as u32, coord };
                let level = &self.levels[l];
                let cells: Vec<(u32, IVec3)> = block.iter().map(|g| (level.topo.slot(g) as u32, g)).collect();
                let items: Vec<(usize, ProbePayload, u32)> = cells
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &(slot, g))| {
                        if let Some((ahead, _)) = cells.get(k + PREFETCH_AHEAD) {
                            self.prefetch_slot(l, *ahead as usize);
                        }
                        let (s, p) = (&level.slots[slot as usize], &level.payloads[slot as usize]);
                        (s.assigned && s.coord == g && !s.dirty && (p.usable() || p.flags & flags::DISABLED != 0))
                            .then(|| (local_index(g, r), without_transient(*p), s.updates))
                    })
                    .collect();
                if items.is_empty() {
                    continue;
                }
                let content = *memo.entry(key).or_insert_with(|| region_content(&self.config, grid, key));
                if self.memory.content_of(key).is_some_and(|c| c != content) {
                    if let Some(d) = self.memory.remove(key) {
                        self.recycle_region(d);
                    }
                }
                let frame = self.frame;
                let spare = &mut self.spare_regions;
                let evicted = self.memory.upsert(
                    key,
                    || reuse_region(spare, r as u32, content),
                    |d| {
                        for (i, p, u) in &items {
                            d.payloads[*i] = *p;
                            d.updates[*i] = *u;
                        }
                        d.last_updated = frame;
                    },
                );
                self.store_evicted(evicted);
            }
        }
        // Recycle the slots of the probes that enter, then look their regions up, block by block.
        let mut count = 0usize;
        let mut slots: Vec<(u32, IVec3)> = Vec::new();
        for b in &entered {
            for (coord, block) in region_blocks(*b, r) {
                slots.clear();
                slots.extend(block.iter().map(|g| (self.levels[l].topo.slot(g) as u32, g)));
                for k in 0..slots.len() {
                    if let Some((ahead, _)) = slots.get(k + PREFETCH_AHEAD) {
                        self.prefetch_slot(l, *ahead as usize);
                    }
                    let (slot, g) = (slots[k].0 as usize, slots[k].1);
                    let level = &mut self.levels[l];
                    let s = &mut level.slots[slot];
                    if s.assigned {
                        level.stats.recycles += 1;
                    } else {
                        level.resident += 1;
                    }
                    *s = Slot {
                        coord: g,
                        generation: s.generation.wrapping_add(1),
                        stamp: s.stamp.wrapping_add(1),
                        assigned: true,
                        in_flight: s.in_flight,
                        upload_queued: s.upload_queued,
                        ..Slot::default()
                    };
                    self.set_payload_packed(l, slot, ProbePayload::default(), self.empty_gpu);
                }
                count += slots.len();
                let key = RegionKey { level: l as u32, coord };
                let content = *memo.entry(key).or_insert_with(|| region_content(&self.config, grid, key));
                let hit = self.memory.get(key, content).map(|d| {
                    slots
                        .iter()
                        .map(|(_, g)| (d.payloads[local_index(*g, r)], d.updates[local_index(*g, r)]))
                        .collect::<Vec<_>>()
                });
                match hit {
                    Some(cached) => {
                        self.levels[l].stats.hits += 1;
                        for ((slot, _), c) in slots.iter().zip(cached) {
                            self.use_cached_or_queue(l, *slot as usize, Some(c));
                        }
                    }
                    None => match self.disk.as_mut() {
                        Some(disk) if !disk.stats().disabled => {
                            let list = self.awaiting.entry(key).or_default();
                            if list.is_empty() {
                                disk.request(key, content);
                            }
                            for (slot, g) in &slots {
                                self.levels[l].slots[*slot as usize].awaiting_disk = true;
                                list.push((*slot, *g));
                            }
                        }
                        _ => {
                            self.levels[l].stats.misses += 1;
                            for (slot, _) in &slots {
                                self.push_work(l, *slot as usize, 0);
                            }
                        }
                    },
                }
            }
        }
        self.memory.count_recycle(count as u64);
        count
    }

    /// Edits whose probes are still being marked dirty.
    pub fn pending_invalidations(&self) -> usize {
        self.pending_dirty.len()
    }

    /// An edit of the voxels in `b`: every region whose probes can reach it leaves the memory cache at once
    /// (written to disk under the content version it was made for, where it stays valid for that state; the new
    /// content version never matches it), and the marking of those probes as dirty is queued, finest level
    /// first (see `mark_dirty`).
    fn invalidate(&mut self, b: &Aabb) {
        if b.is_empty() {
            return;
        }
        let r = self.config.region_probes as i32;
        for l in 0..self.levels.len() {
            if !self.levels[l].initialised {
                continue;
            }
            let spacing = self.levels[l].topo.spacing;
            let range = self.config.trace_range(l as u32);
            // The bounding box, in probe coordinates, of the probe centres within `range` of the box.
            let lo = ((b.min - range) / spacing - 0.5).ceil().as_ivec3();
            let hi = ((b.max + range) / spacing - 0.5).floor().as_ivec3() + 1;
            let reach = ProbeBox { lo, hi };
            if reach.is_empty() {
                continue;
            }
            for c in reach.cells(r).iter() {
                let key = RegionKey { level: l as u32, coord: c };
                if let Some(d) = self.memory.remove(key) {
                    self.store(key, d);
                }
            }
            // Only probes resident now are marked: those entering later are traced, or read from a cache keyed
            // by content.
            let reach = reach.intersect(&self.levels[l].topo.bounds());
            if !reach.is_empty() {
                self.pending_dirty.push_back(PendingDirty { level: l, b: *b, range, reach, next: 0 });
            }
        }
    }

    /// Marks dirty the probes of pending edits, examining at most `visits` probe coordinates; returns how many
    /// probes were dirtied. A probe is dirtied when its centre lies within its level's trace range of the box
    /// (Euclidean distance); one in flight has its result dropped and is traced again.
    fn mark_dirty(&mut self, mut visits: usize) -> usize {
        let mut dirtied = 0;
        while visits > 0 {
            let Some(job) = self.pending_dirty.front_mut() else { break };
            let (l, b, range, reach) = (job.level, job.b, job.range, job.reach);
            let total = reach.volume();
            let start = job.next;
            let end = (start + visits).min(total);
            job.next = end;
            visits -= end - start;
            if end == total {
                self.pending_dirty.pop_front();
            }
            let topo = self.levels[l].topo;
            let bounds = topo.bounds();
            for i in start..end {
                let g = reach.at(i);
                if !bounds.contains(g) {
                    continue;
                }
                let p = topo.position(g);
                if (p - p.clamp(b.min, b.max)).length() > range {
                    continue;
                }
                let slot = topo.slot(g);
                let s = &mut self.levels[l].slots[slot];
                if s.coord != g || !s.assigned {
                    continue;
                }
                if s.in_flight {
                    // Its result was computed for the old voxels: drop it when it arrives, then trace again.
                    s.generation = s.generation.wrapping_add(1);
                }
                s.dirty = true;
                dirtied += 1;
                self.push_work(l, slot, 0);
            }
        }
        dirtied
    }

    /// Turns probes STALE once their last update is older than their level's age, and queues them for the
    /// spare budget. The queue holds one entry per probe; an entry that comes due for a probe updated since is
    /// re-armed for its new due frame.
    fn age(&mut self) {
        for l in 0..self.levels.len() {
            let age = self.config.stale_age_frames << l;
            while let Some(&(due, slot, coord)) = self.levels[l].aging.front() {
                if due > self.frame {
                    break;
                }
                self.levels[l].aging.pop_front();
                let slot = slot as usize;
                let level = &mut self.levels[l];
                let s = &mut level.slots[slot];
                if s.coord != coord || !s.aging_queued {
                    continue; // the slot was recycled since
                }
                s.aging_queued = false;
                if s.in_flight || !level.payloads[slot].usable() {
                    continue; // the next result re-arms it
                }
                if s.last_update + age > self.frame {
                    s.aging_queued = true;
                    level.aging.push_back((s.last_update + age, slot as u32, coord));
                    continue;
                }
                let p = level.payloads[slot];
                let mut p = p;
                p.flags |= flags::STALE;
                self.set_payload(l, slot, p);
                self.push_work(l, slot, 2);
            }
        }
    }

    /// Picks this frame's work and submits it. Budgets: level `L` takes at most `base_budget >> L` probes, and
    /// all levels together `global_budget`. Each level first gets its share of the global budget (in
    /// proportion to its own budget), then the levels take what is left in order, finest first: a level whose
    /// queue never empties (probes still converging) cannot starve the coarser ones.
    fn schedule(&mut self, grid: &Arc<VoxelGrid>) -> usize {
        let mut global = self.config.global_budget as usize;
        if let Some(cap) = self.in_flight_cap {
            let in_flight: usize = self.levels.iter().map(|l| l.in_flight).sum();
            global = global.min(cap.saturating_sub(in_flight));
        }
        let own: Vec<usize> = (0..self.levels.len()).map(|l| (self.config.base_budget >> l) as usize).collect();
        let total: usize = own.iter().sum::<usize>().max(1);
        let mut taken = vec![0usize; self.levels.len()];
        let mut jobs = Vec::new();
        for l in 0..self.levels.len() {
            // Shares round up, so the last level's is cut to what the global cap has left.
            let share = (global * own[l]).div_ceil(total).min(own[l]).min(global.saturating_sub(jobs.len()));
            taken[l] = self.take_work(l, share, &mut jobs);
        }
        for l in 0..self.levels.len() {
            let left = global.saturating_sub(jobs.len());
            let more = (own[l] - taken[l]).min(left);
            if more > 0 {
                self.take_work(l, more, &mut jobs);
            }
        }
        let n = jobs.len();
        if n > 0 {
            self.pool.submit(grid.clone(), self.irradiance.clone(), jobs);
        }
        n
    }

    /// Moves up to `budget` probes of level `l` from its queue into `jobs` (marked in flight); returns how many.
    fn take_work(&mut self, l: usize, budget: usize, jobs: &mut Vec<TraceJob>) -> usize {
        let spacing = self.levels[l].topo.spacing;
        let mut taken = 0;
        while taken < budget {
            let Some((slot, stamp)) = self.levels[l].queue.pop() else { break };
            if let Some(ahead) = self.levels[l].queue.peek_ahead(PREFETCH_AHEAD) {
                self.prefetch_slot(l, ahead as usize);
            }
            let level = &mut self.levels[l];
            let s = &mut level.slots[slot as usize];
            if s.stamp != stamp || s.queued_class == NOT_QUEUED {
                continue; // superseded entry
            }
            s.queued_class = NOT_QUEUED;
            if s.awaiting_disk || !s.assigned {
                continue; // the disk answer queues it again (or gives it its payload)
            }
            if s.in_flight {
                s.pending = true;
                continue;
            }
            let generation = s.generation;
            // An edit reached the probe since its last update: its history describes the old voxels.
            let restart = s.dirty;
            s.in_flight = true;
            level.in_flight += 1;
            level.payloads[slot as usize].flags |= flags::IN_FLIGHT;
            jobs.push(TraceJob {
                key: (l as u64) << 32 | u64::from(slot),
                generation: u64::from(generation),
                position: level.topo.position(s.coord),
                update_index: s.updates,
                rays: self.config.rays_per_update,
                max_distance: self.config.ray_range(),
                ao_range: self.config.ao_range_probes * spacing,
                previous: level.payloads[slot as usize],
                blend: self.config.blend,
                restart,
            });
            taken += 1;
        }
        taken
    }

    /// Copies a slice of one level into the next irradiance snapshot; swaps it in when the level is complete.
    fn build_irradiance(&mut self) {
        let per_frame = self.config.irradiance_slots_per_frame.max(1);
        let (l, mut snap) = match self.building.take() {
            Some(b) => b,
            None => {
                // Levels in turn (a copy takes a whole number of frames, so the frame count would not do).
                let l = self.next_irradiance_level;
                self.next_irradiance_level = (l + 1) % self.levels.len();
                let topo = self.levels[l].topo;
                // Reuse a retired copy that no worker holds any more.
                let reusable = self.retired.iter().position(|a| Arc::strong_count(a) == 1);
                let snap = match reusable.map(|i| self.retired.swap_remove(i)).and_then(|a| Arc::try_unwrap(a).ok()) {
                    Some(mut s) => {
                        s.reset(topo);
                        s
                    }
                    None => LevelIrradiance::with_capacity(topo),
                };
                (l, snap)
            }
        };
        let level = &self.levels[l];
        snap.copy_next(per_frame, |i| level.slots[i].coord, &level.payloads);
        if snap.len() == level.topo.len() {
            snap.topo = level.topo;
            let mut irr = (*self.irradiance).clone();
            let old = std::mem::replace(&mut irr.levels[l], Arc::new(snap));
            if self.retired.len() < 2 * self.levels.len() {
                self.retired.push(old);
            }
            self.irradiance = Arc::new(irr);
        } else {
            self.building = Some((l, snap));
        }
    }
}

/// Updates per priority tier (a probe needs at least `min_rays`, 16 updates of 64 rays by default, to converge).
const UPDATES_PER_TIER: u32 = 16;

/// Priority tier of a probe by its updates: 0 without data, then one tier per [`UPDATES_PER_TIER`] updates.
/// Within a tier the nearest probes come first, so the probes near the camera converge first and a probe that
/// takes long to converge does not hold back the rest (the bounce light, which every probe's updates carry a
/// step further, keeps moving everywhere).
fn update_tier(updates: u32) -> u32 {
    if updates == 0 {
        0
    } else {
        1 + (updates - 1) / UPDATES_PER_TIER
    }
}

/// Largest squared distance (in probes) from a level's anchor to one of its probes.
fn max_dist2(dims: UVec3) -> u32 {
    let h = dims / 2 + 1;
    h.x * h.x + h.y * h.y + h.z * h.z
}

/// Splits a box along the region grid (`r` probes per region): each region's part, in a fixed order.
fn region_blocks(b: ProbeBox, r: i32) -> impl Iterator<Item = (IVec3, ProbeBox)> {
    b.cells(r).iter().map(move |c| (c, ProbeBox { lo: c * r, hi: (c + 1) * r }.intersect(&b)))
}

fn local_index(g: IVec3, r: i32) -> usize {
    let o = g.rem_euclid(IVec3::splat(r));
    (o.x + r * (o.y + r * o.z)) as usize
}

fn without_transient(mut p: ProbePayload) -> ProbePayload {
    p.flags &= !(flags::IN_FLIGHT | flags::STALE);
    p
}

/// Content version of the voxels a region's probes can reach (their trace range).
pub fn region_content(config: &ProbeConfig, grid: &VoxelGrid, key: RegionKey) -> u64 {
    let s = config.spacing(key.level);
    let r = config.region_probes as i32;
    let range = config.trace_range(key.level);
    let lo = (key.coord * r).as_vec3() * s - Vec3::splat(range);
    let hi = ((key.coord + 1) * r).as_vec3() * s + Vec3::splat(range);
    grid.content_version(lo, hi)
}
