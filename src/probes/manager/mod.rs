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
//!
//! Where things live: this file holds the data (levels, slots, the manager) and the frame's order
//! ([`ProbeManager::step`]) and read-only queries; `config.rs` the settings and stats structs; `slot.rs` the
//! per-slot state machine (queueing, payloads, applying results); `persist.rs` the memory and disk caches;
//! `shift.rs` anchor moves and slot recycling; `invalidate.rs` edits; `schedule.rs` aging and the budgets;
//! `publish.rs` the GPU upload list and the multi-bounce snapshot. Stats are kept as counters, so reading them
//! costs no scan of the probes.

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

mod config;
mod invalidate;
mod persist;
mod publish;
mod schedule;
mod shift;
mod slot;

pub use config::{LevelStats, ProbeConfig, ProbeStats, ProbeUpload, StepReport};
pub use invalidate::region_content;
use persist::reuse_region;
/// What a slot's probe is waiting for. One value at a time, so a probe can never be queued and traced at once,
/// or wait for the disk while it is traced, and a probe without data is always waiting for something: the
/// transitions (below) are the whole state machine.
///
/// - `Empty` → (enters the clipmap) `Disk`, `Queued` or `Idle` (a cached payload);
/// - `Disk` → (the region's answer) `Idle` with the cached payload, or `Queued`;
/// - `Queued` → (picked within the budgets) `Tracing`;
/// - `Tracing` → (its result) `Idle`, or `Queued` again when it asked for more (not converged, `again`);
/// - any → (recycled for another probe) as on entry; `Tracing` → (an edit reached it) `Queued`. Both bump the
///   slot's generation, so the running trace's result is dropped when it arrives: a trace that is not the
///   current generation's is no state of the slot, only a count in its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    /// The slot holds no probe yet.
    Empty,
    /// Nothing: the probe holds its payload (usable, or disabled inside solids).
    Idle,
    /// Its region's disk answer, which gives it a payload or queues it.
    Disk,
    /// A live entry in the level's work queue (the one with the slot's `stamp`), of this class.
    Queued(u8),
    /// Being traced; `again` queues it once more when the result arrives.
    Tracing { again: bool },
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    coord: IVec3,
    generation: u32,
    updates: u32,
    work: Work,
    upload_queued: bool,
    /// Identifies the live work entry; older entries in the queue are skipped.
    stamp: u32,
    /// Frame of the last applied update.
    last_update: u64,
    /// The slot has an entry in its level's aging queue (at most one per probe).
    aging_queued: bool,
    /// Due frame of the slot's live entry in its level's settling queue, 0 for none. Entries with another due
    /// frame are left over from before a recycle (a probe that leaves and comes back gets the same slot) and
    /// are skipped, so each probe has one live entry at most.
    settle_due: u64,
    /// An edit reached the probe and no result traced after it has arrived yet: its payload describes the old
    /// voxels, so it is shown but never persisted.
    dirty: bool,
}

/// How many items ahead the apply, schedule and shift loops prefetch per-probe state.
const PREFETCH_AHEAD: usize = 8;

const NO_COORD: IVec3 = IVec3::splat(i32::MIN);

/// Snapshots in a row that must find a level's bounce light settled before it counts as settled.
const SETTLED_SNAPSHOTS: u32 = 2;

impl Default for Slot {
    fn default() -> Self {
        Slot {
            coord: NO_COORD,
            generation: 0,
            updates: 0,
            work: Work::Empty,
            upload_queued: false,
            stamp: 0,
            last_update: 0,
            aging_queued: false,
            settle_due: 0,
            dirty: false,
        }
    }
}

impl Slot {
    /// The slot holds a probe (a slot once assigned stays assigned).
    fn assigned(&self) -> bool {
        self.work != Work::Empty
    }
}

/// How many slots of a level are in each waiting state, kept by [`Level::set_work`] on every transition.
#[derive(Clone, Copy, Debug, Default)]
struct WorkCounts {
    queued: usize,
    disk: usize,
    tracing: usize,
}

impl WorkCounts {
    fn add(&mut self, w: Work, sign: isize) {
        let n = match w {
            Work::Queued(_) => &mut self.queued,
            Work::Disk => &mut self.disk,
            Work::Tracing { .. } => &mut self.tracing,
            Work::Empty | Work::Idle => return,
        };
        *n = n.saturating_add_signed(sign);
    }
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
    /// `(due frame, slot, probe)`: each usable probe's next settling check, one snapshot cycle after the last
    /// (see [`ProbeConfig::bounce_settled`]); one entry per probe at most.
    settling: VecDeque<(u64, u32, IVec3)>,
    /// The bounce light's share of the light of the level's last snapshot (summed over its usable probes).
    snapshot_bounce: Option<f64>,
    /// Its change from the snapshot before.
    snapshot_step: Option<f64>,
    /// Snapshots in a row that found the bounce light settled (0 after one that found it moving).
    quiet_snapshots: u32,
    valid: usize,
    converged: usize,
    disabled: usize,
    /// Traces submitted and not yet returned, the current generation's and stale ones.
    in_flight: usize,
    /// Slots per waiting state.
    work: WorkCounts,
    /// Slots holding a probe (a slot once assigned stays assigned).
    resident: usize,
    stats: LevelStats,
    initialised: bool,
    /// The level counted as converged at its last check (for the checkpoint trigger).
    converged_flag: bool,
}

impl Level {
    /// The last snapshot found the level's bounce light still moving towards its fixed point, so its
    /// converged probes are traced again (see [`ProbeConfig::bounce_settled`]).
    fn bounce_moving(&self) -> bool {
        self.snapshot_bounce.is_some() && self.quiet_snapshots == 0
    }

    /// The one way a slot changes state: keeps the level's counts.
    fn set_work(&mut self, slot: usize, work: Work) {
        let s = &mut self.slots[slot];
        self.work.add(s.work, -1);
        self.work.add(work, 1);
        s.work = work;
    }
}

impl ProbeLevel for Level {
    fn topology(&self) -> &LevelTopology {
        &self.topo
    }

    fn probe(&self, g: IVec3) -> Option<(ShL1, f32)> {
        let s = self.topo.slot(g);
        let p = &self.payloads[s];
        (self.slots[s].coord == g && p.usable()).then_some((p.shading_sh(), p.confidence))
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
                    settling: VecDeque::new(),
                    snapshot_bounce: None,
                    snapshot_step: None,
                    quiet_snapshots: 0,
                    valid: 0,
                    converged: 0,
                    disabled: 0,
                    in_flight: 0,
                    work: WorkCounts::default(),
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
                    queued: l.work.queued,
                    awaiting_disk: l.work.disk,
                    tracing: l.work.tracing,
                    without_data: l.resident.saturating_sub(l.valid + l.disabled),
                    in_flight: l.in_flight,
                    valid_fraction: l.valid as f32 / live,
                    converged_fraction: l.converged as f32 / live,
                    disabled: l.disabled,
                    bounce_share: l.snapshot_bounce.unwrap_or(0.0) as f32,
                    bounce_settled: l.quiet_snapshots >= SETTLED_SNAPSHOTS,
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

    /// True when every level's multi-bounce iteration has settled: on its last two snapshots, the bounce
    /// light's share of its light was estimated within [`ProbeConfig::bounce_settled`] of where it is heading.
    pub fn bounce_settled(&self) -> bool {
        self.levels.iter().all(|l| l.quiet_snapshots >= SETTLED_SNAPSHOTS)
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
