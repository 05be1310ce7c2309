//! The probe manager's settings ([`ProbeConfig`]) and the plain stats structs the UI and reports read.

use super::*;

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
    /// The bounce light is a fixed-point iteration through the multi-bounce snapshot, and a probe converges
    /// over many updates against one or two snapshots: if it stopped tracing then, it would keep an early,
    /// too dark step of the iteration until it turned stale. So while the bounce light's share of a level's
    /// light (summed over its usable probes) is estimated more than this far from where its iteration is
    /// heading (from its steps between snapshots), the level's converged probes are traced again once per
    /// snapshot cycle ([`ProbeConfig::snapshot_cycle_frames`]), after all other work.
    pub bounce_settled: f32,
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
            bounce_settled: 0.005,
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

    /// Frames between two rebuilds of one level's multi-bounce snapshot (the levels are copied in turn, a
    /// fixed number of slots per frame).
    pub fn snapshot_cycle_frames(&self) -> u64 {
        let slots = u64::from(self.dims.x) * u64::from(self.dims.y) * u64::from(self.dims.z);
        (u64::from(self.levels.max(1)) * slots.div_ceil(self.irradiance_slots_per_frame.max(1) as u64)).max(1)
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
    /// Probes in the work queue (new, dirty, not converged or stale).
    pub queued: usize,
    /// Probes waiting for their region's disk answer.
    pub awaiting_disk: usize,
    /// Probes being traced.
    pub tracing: usize,
    /// Probes that hold no data yet (not counting those inside solids): each is queued, waiting for the disk
    /// or being traced, so `without_data <= queued + awaiting_disk + tracing` always.
    pub without_data: usize,
    /// Traces running, including those whose probe was recycled or dirtied since (their results are dropped).
    pub in_flight: usize,
    /// Usable probes / probes that are not inside solids.
    pub valid_fraction: f32,
    /// Converged probes / probes that are not inside solids.
    pub converged_fraction: f32,
    /// Probes inside solids.
    pub disabled: usize,
    /// The bounce light's share of the level's light in its last multi-bounce snapshot (summed over its usable
    /// probes).
    pub bounce_share: f32,
    /// The level's bounce light has settled (see [`ProbeConfig::bounce_settled`]); while it has not, its
    /// converged probes are traced again once per snapshot cycle.
    pub bounce_settled: bool,
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
    /// Traces of idle probes queued again because their level's bounce light had not settled
    /// ([`ProbeConfig::bounce_settled`]).
    pub settle_traces: u64,
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
