//! Probe regions and the in-memory region cache.
//!
//! A region is a block of `R^3` probes aligned with a level's global probe grid, keyed by `(level, region
//! coordinate)`. When probes leave the clipmap their payloads are kept in their region's entry; when probes
//! enter, a valid entry gives their payload back without tracing. Entries carry the content version of the
//! voxels their probes can reach, the frame they were last updated, and the layout version. The cache is an
//! LRU with a byte cap: inserting past the cap evicts least-recently-used regions (handed back to the caller,
//! who may persist them).

use glam::IVec3;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::lru::LruOrder;
use super::payload::{ProbePayload, LAYOUT_VERSION};

/// Identifies a region of one level. Ordered by level, then z, y, x.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegionKey {
    /// Clipmap level.
    pub level: u32,
    /// Region coordinate: `floor(g / R)` of its probes' global coordinates.
    pub coord: IVec3,
}

impl RegionKey {
    fn order_key(&self) -> (u32, i32, i32, i32) {
        (self.level, self.coord.z, self.coord.y, self.coord.x)
    }
}

impl PartialOrd for RegionKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RegionKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order_key().cmp(&other.order_key())
    }
}

/// The stored payloads of one region.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionData {
    /// Content version of the voxels within the probes' trace range when the payloads were made.
    pub content: u64,
    /// Layout version of the payloads.
    pub layout: u32,
    /// Frame of the newest payload.
    pub last_updated: u64,
    /// `R^3` payloads in `x + R (y + R z)` order; entries without `VALID` are absent.
    pub payloads: Vec<ProbePayload>,
    /// Update count of each probe (continues the ray-set sequence when reused).
    pub updates: Vec<u32>,
}

impl RegionData {
    /// An empty region of `r^3` probes.
    pub fn empty(r: u32, content: u64) -> Self {
        let n = (r * r * r) as usize;
        RegionData {
            content,
            layout: LAYOUT_VERSION,
            last_updated: 0,
            payloads: vec![ProbePayload::default(); n],
            updates: vec![0; n],
        }
    }

    /// Empties the region in place for new content (reuses its buffers).
    pub fn reset(&mut self, content: u64) {
        self.content = content;
        self.layout = LAYOUT_VERSION;
        self.last_updated = 0;
        self.payloads.fill(ProbePayload::default());
        self.updates.fill(0);
    }

    /// Bytes this entry holds.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<RegionData>()
            + self.payloads.len() * std::mem::size_of::<ProbePayload>()
            + self.updates.len() * 4
    }

    /// Number of valid payloads.
    pub fn valid_count(&self) -> usize {
        self.payloads.iter().filter(|p| p.usable()).count()
    }
}

/// Counters of the memory cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryCacheStats {
    /// Lookups that found a valid entry.
    pub hits: u64,
    /// Lookups that found nothing usable.
    pub misses: u64,
    /// Entries dropped to stay under the cap.
    pub evictions: u64,
    /// Slots recycled for probes entering the clipmap.
    pub recycles: u64,
    /// Bytes resident.
    pub bytes: usize,
    /// Entries resident.
    pub regions: usize,
}

/// LRU cache of regions with a byte cap.
pub struct MemoryCache {
    cap: usize,
    entries: FxHashMap<RegionKey, RegionData>,
    lru: LruOrder<RegionKey>,
    stats: MemoryCacheStats,
}

impl MemoryCache {
    /// A cache holding at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        MemoryCache { cap, entries: FxHashMap::default(), lru: LruOrder::default(), stats: MemoryCacheStats::default() }
    }

    /// The byte cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Counters.
    pub fn stats(&self) -> MemoryCacheStats {
        self.stats
    }

    /// Counts a recycled slot.
    pub fn count_recycle(&mut self, n: u64) {
        self.stats.recycles += n;
    }

    /// The entry for `key` if its content version matches (a mismatching entry is dropped). Counts a hit or a
    /// miss.
    pub fn get(&mut self, key: RegionKey, content: u64) -> Option<&RegionData> {
        match self.entries.get(&key) {
            Some(d) if d.content == content && d.layout == LAYOUT_VERSION => {
                self.stats.hits += 1;
                self.lru.touch(&key);
                self.entries.get(&key)
            }
            Some(_) => {
                self.stats.misses += 1;
                self.remove(key);
                None
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// The content version of an entry, without counting or touching it.
    pub fn content_of(&self, key: RegionKey) -> Option<u64> {
        self.entries.get(&key).map(|d| d.content)
    }

    /// True when an entry exists (any version), without counting.
    pub fn contains(&self, key: RegionKey) -> bool {
        self.entries.contains_key(&key)
    }

    /// Mutable access to an entry, creating it with `make` when absent; marks it most recently used. Returns the
    /// regions evicted to respect the cap.
    pub fn upsert(
        &mut self,
        key: RegionKey,
        make: impl FnOnce() -> RegionData,
        f: impl FnOnce(&mut RegionData),
    ) -> Vec<(RegionKey, RegionData)> {
        if !self.entries.contains_key(&key) {
            let d = make();
            self.stats.bytes += d.bytes();
            self.entries.insert(key, d);
        }
        self.lru.touch(&key);
        if let Some(d) = self.entries.get_mut(&key) {
            let before = d.bytes();
            f(d);
            self.stats.bytes = self.stats.bytes + d.bytes() - before;
        }
        self.enforce_cap()
    }

    /// Removes an entry.
    pub fn remove(&mut self, key: RegionKey) -> Option<RegionData> {
        let d = self.entries.remove(&key)?;
        self.lru.remove(&key);
        self.stats.bytes -= d.bytes();
        self.stats.regions = self.entries.len();
        Some(d)
    }

    /// Removes every entry matching `pred` (invalidation).
    pub fn remove_where(&mut self, pred: impl Fn(&RegionKey) -> bool) -> usize {
        let keys: Vec<RegionKey> = self.entries.keys().filter(|k| pred(k)).copied().collect();
        for k in &keys {
            self.remove(*k);
        }
        keys.len()
    }

    /// Every entry (for a final flush).
    pub fn drain(&mut self) -> Vec<(RegionKey, RegionData)> {
        self.lru.clear();
        self.stats.bytes = 0;
        self.stats.regions = 0;
        let mut v: Vec<(RegionKey, RegionData)> = self.entries.drain().collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    fn enforce_cap(&mut self) -> Vec<(RegionKey, RegionData)> {
        let mut out = Vec::new();
        while self.stats.bytes > self.cap {
            let Some(key) = self.lru.pop_oldest() else { break };
            if let Some(d) = self.entries.remove(&key) {
                self.stats.bytes -= d.bytes();
                self.stats.evictions += 1;
                out.push((key, d));
            }
        }
        self.stats.regions = self.entries.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: i32) -> RegionKey {
        RegionKey { level: 0, coord: IVec3::new(i, 0, 0) }
    }

    #[test]
    fn a_reset_region_equals_an_empty_one() {
        let mut d = RegionData::empty(4, 1);
        d.payloads[5].confidence = 1.0;
        d.payloads[5].flags = crate::probes::payload::flags::VALID;
        d.updates[5] = 9;
        d.last_updated = 40;
        d.reset(7);
        assert_eq!(d, RegionData::empty(4, 7));
    }

    #[test]
    fn lru_respects_the_cap_and_evicts_the_oldest() {
        let one = RegionData::empty(4, 1).bytes();
        let mut c = MemoryCache::new(one * 3);
        for i in 0..3 {
            assert!(c.upsert(key(i), || RegionData::empty(4, 1), |_| {}).is_empty());
        }
        assert!(c.get(key(0), 1).is_some());
        let evicted = c.upsert(key(3), || RegionData::empty(4, 1), |_| {});
        assert_eq!(evicted.len(), 1);
        assert_eq!(evicted[0].0, key(1), "key 0 was used more recently than key 1");
        assert!(c.stats().bytes <= c.cap());
        assert_eq!(c.stats().evictions, 1);
        assert!(c.get(key(2), 99).is_none(), "another content version is a miss");
        assert!(!c.contains(key(2)), "and is dropped");
    }
}
