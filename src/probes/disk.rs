//! Probe regions on disk, read and written by one background IO thread (the render thread only sends requests
//! and polls answers).
//!
//! Layout: `<cache dir>/<world seed>-<world key>-s<spacing>-r<R>/v<layout>/L<level>_<x>_<y>_<z>_<content>.lpr`.
//! So data from another world, another layout or other surroundings (content version of the voxels the probes
//! can reach) is never accepted: an edit invalidates a region's files simply by changing its content version.
//! Several content versions of one region may be kept (a world whose timeline moves things finds each state's
//! probes again); the size cap bounds them all. Files are written to a temporary name and renamed (atomic), carry a checksum,
//! and are validated completely on read; a corrupt, truncated or foreign file is deleted, counted and treated as
//! a miss (its probes are traced again). A size cap is kept with LRU eviction (last use = last read or write,
//! seeded from file times at start). A folder that cannot be created or written gives one warning and the run
//! carries on without persistence.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use glam::{IVec3, Vec3};
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::cache::{RegionData, RegionKey};
use super::lru::LruOrder;
use super::payload::{ProbePayload, LAYOUT_VERSION};
use super::sh::ShL1;
use crate::hash::hash_bytes;

const MAGIC: &[u8; 4] = b"LPRB";
const FILE_FORMAT: u32 = 1;
const HEADER: usize = 4 + 4 + 4 + 8 + 4 + 12 + 8 + 4 + 8;
const RECORD: usize = 46 * 4;

/// What makes this world's cache folder.
#[derive(Clone, Debug)]
pub struct DiskConfig {
    /// Root folder (e.g. the user's cache directory + `lumon`).
    pub dir: PathBuf,
    /// Byte cap on disk.
    pub cap_bytes: u64,
    /// World seed.
    pub world_seed: u64,
    /// World name (folder names stay readable).
    pub world_name: String,
    /// Base probe spacing, metres.
    pub spacing: f32,
    /// Probes per region edge.
    pub region_probes: u32,
}

/// Counters of the disk cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiskStats {
    /// Regions read successfully.
    pub hits: u64,
    /// Regions asked for and not found (or rejected).
    pub misses: u64,
    /// Regions written.
    pub writes: u64,
    /// Files found corrupt, truncated or foreign (deleted).
    pub corrupt: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Files evicted to respect the cap.
    pub evictions: u64,
    /// True when persistence was turned off after an IO error.
    pub disabled: bool,
}

enum Request {
    Load(RegionKey, u64),
    Store(RegionKey, RegionData),
    Sync(Sender<()>),
}

/// An answer to a load.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The region asked for.
    pub key: RegionKey,
    /// The data, when found and valid.
    pub data: Option<RegionData>,
}

/// Handle to the IO thread.
pub struct DiskCache {
    /// `None` once persistence is off (the IO thread could not start, or stopped).
    tx: Option<Sender<Request>>,
    rx: Receiver<Loaded>,
    stats: Arc<Mutex<DiskStats>>,
    /// Loads sent to the IO thread and not answered yet, per region.
    requested: FxHashMap<RegionKey, u32>,
    /// Misses answered here, without the IO thread (persistence off), handed out by the next `poll`.
    answered_here: Vec<Loaded>,
    thread: Option<JoinHandle<()>>,
}

impl DiskCache {
    /// Starts the IO thread. Never fails: problems turn persistence off with a warning.
    pub fn open(config: DiskConfig) -> Self {
        let folder = config
            .dir
            .join(format!(
                "{:016x}-{}-s{}-r{}",
                config.world_seed,
                sanitize(&config.world_name),
                config.spacing,
                config.region_probes
            ))
            .join(format!("v{LAYOUT_VERSION}"));
        let (tx, req_rx) = crossbeam_channel::unbounded::<Request>();
        let (res_tx, rx) = crossbeam_channel::unbounded::<Loaded>();
        let stats = Arc::new(Mutex::new(DiskStats::default()));
        let mut io = Io::new(folder, config, stats.clone());
        let thread = std::thread::Builder::new()
            .name("lumon-probe-io".into())
            .spawn(move || {
                for r in req_rx {
                    match r {
                        Request::Load(key, content) => {
                            let data = io.load(key, content);
                            if res_tx.send(Loaded { key, data }).is_err() {
                                break;
                            }
                        }
                        Request::Store(key, data) => io.store(key, &data),
                        Request::Sync(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .ok();
        let mut cache =
            DiskCache { tx: Some(tx), rx, stats, requested: FxHashMap::default(), answered_here: Vec::new(), thread };
        if cache.thread.is_none() {
            cache.turn_off("the probe cache IO thread cannot start");
        }
        cache
    }

    /// A cache whose IO thread could not start: persistence is off (one warning) and every load is answered
    /// at once as a miss, so no probe waits for the disk. [`DiskCache::open`] gives this when the thread
    /// cannot be spawned.
    pub fn unavailable() -> Self {
        let (_, rx) = crossbeam_channel::unbounded::<Loaded>();
        let mut cache = DiskCache {
            tx: None,
            rx,
            stats: Arc::new(Mutex::new(DiskStats::default())),
            requested: FxHashMap::default(),
            answered_here: Vec::new(),
            thread: None,
        };
        cache.turn_off("the probe cache IO thread cannot start");
        cache
    }

    /// Turns persistence off with one warning; loads still in flight are answered as misses.
    fn turn_off(&mut self, why: &str) {
        let was_off = self.stats().disabled;
        if let Ok(mut s) = self.stats.lock() {
            s.disabled = true;
        }
        if self.tx.take().is_some() || !was_off {
            log::warn!("{why}; running without the probe disk cache");
        }
        for (key, n) in self.requested.drain() {
            for _ in 0..n {
                self.answered_here.push(Loaded { key, data: None });
            }
        }
    }

    /// Counters.
    pub fn stats(&self) -> DiskStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Loads not handed out by `poll` yet.
    pub fn pending(&self) -> usize {
        self.requested.values().map(|n| *n as usize).sum::<usize>() + self.answered_here.len()
    }

    /// Asks for a region; the answer (a miss when persistence is off) comes from [`DiskCache::poll`].
    pub fn request(&mut self, key: RegionKey, content: u64) {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(Request::Load(key, content)).is_ok());
        if sent {
            *self.requested.entry(key).or_insert(0) += 1;
            return;
        }
        if self.tx.is_some() {
            // Answers the thread gave before it stopped are kept; the rest become misses.
            let mut answered = Vec::new();
            self.take_answers(&mut answered);
            self.answered_here.extend(answered);
            self.turn_off("the probe cache IO thread stopped");
        }
        self.answered_here.push(Loaded { key, data: None });
    }

    /// Queues a region for writing.
    pub fn store(&self, key: RegionKey, data: RegionData) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Request::Store(key, data));
        }
    }

    /// Answers that arrived, without waiting. When the IO thread has stopped (it panicked), persistence turns
    /// off and the loads it never answered come back as misses.
    pub fn poll(&mut self, out: &mut Vec<Loaded>) {
        self.take_answers(out);
        let stopped = self.thread.as_ref().is_some_and(JoinHandle::is_finished);
        if self.tx.is_some() && stopped {
            self.take_answers(out);
            self.turn_off("the probe cache IO thread stopped");
        }
        out.append(&mut self.answered_here);
    }

    /// Moves the IO thread's answers into `out`, counting them off `requested`.
    fn take_answers(&mut self, out: &mut Vec<Loaded>) {
        for loaded in self.rx.try_iter() {
            if let Some(n) = self.requested.get_mut(&loaded.key) {
                *n -= 1;
                if *n == 0 {
                    self.requested.remove(&loaded.key);
                }
            }
            out.push(loaded);
        }
    }

    /// Waits until every request sent so far is done and collects the load answers (lockstep runs and
    /// shutdown only).
    pub fn sync(&mut self, out: &mut Vec<Loaded>) {
        if let Some(tx) = &self.tx {
            let (done_tx, done_rx) = crossbeam_channel::bounded(1);
            if tx.send(Request::Sync(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
        self.poll(out);
    }
}

impl Drop for DiskCache {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Io {
    folder: PathBuf,
    config: DiskConfig,
    stats: Arc<Mutex<DiskStats>>,
    ready: bool,
    /// File name -> size in bytes.
    files: FxHashMap<String, u64>,
    lru: LruOrder<String>,
    warned: bool,
}

impl Io {
    fn new(folder: PathBuf, config: DiskConfig, stats: Arc<Mutex<DiskStats>>) -> Self {
        let mut io = Io {
            folder,
            config,
            stats,
            ready: false,
            files: FxHashMap::default(),
            lru: LruOrder::default(),
            warned: false,
        };
        match fs::create_dir_all(&io.folder) {
            Ok(()) => {
                io.ready = true;
                io.scan();
            }
            Err(e) => io.disable(&format!("cannot create {}: {e}", io.folder.display())),
        }
        io
    }

    fn with_stats(&self, f: impl FnOnce(&mut DiskStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    fn disable(&mut self, why: &str) {
        self.ready = false;
        if !self.warned {
            log::warn!("probe disk cache turned off: {why}");
            self.warned = true;
        }
        self.with_stats(|s| s.disabled = true);
    }

    fn scan(&mut self) {
        let Ok(dir) = fs::read_dir(&self.folder) else { return };
        let mut found: Vec<(std::time::SystemTime, String, u64)> = Vec::new();
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = e.metadata() else { continue };
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
                continue;
            }
            if name.ends_with(".lpr") {
                found.push((meta.modified().unwrap_or(std::time::UNIX_EPOCH), name, meta.len()));
            }
        }
        found.sort();
        for (_, name, len) in found {
            self.touch(&name, len);
        }
        let bytes = self.files.values().sum();
        self.with_stats(|s| s.bytes = bytes);
    }

    fn touch(&mut self, name: &str, len: u64) {
        self.files.insert(name.to_string(), len);
        self.lru.touch(&name.to_string());
    }

    fn forget(&mut self, name: &str) {
        if let Some(len) = self.files.remove(name) {
            self.lru.remove(&name.to_string());
            self.with_stats(|s| s.bytes = s.bytes.saturating_sub(len));
        }
        let _ = fs::remove_file(self.folder.join(name));
    }

    fn name(key: RegionKey, content: u64) -> String {
        format!("L{}_{}_{}_{}_{:016x}.lpr", key.level, key.coord.x, key.coord.y, key.coord.z, content)
    }

    fn load(&mut self, key: RegionKey, content: u64) -> Option<RegionData> {
        let name = Self::name(key, content);
        if !self.ready || !self.files.contains_key(&name) {
            self.with_stats(|s| s.misses += 1);
            return None;
        }
        let parsed = fs::read(self.folder.join(&name))
            .map_err(|e| e.to_string())
            .and_then(|b| decode(&b, key, content, self.config.world_seed, self.config.region_probes));
        match parsed {
            Ok(d) => {
                let len = self.files.get(&name).copied().unwrap_or(0);
                self.touch(&name, len);
                self.with_stats(|s| s.hits += 1);
                Some(d)
            }
            Err(why) => {
                log::info!("discarding probe cache file {name}: {why}");
                self.forget(&name);
                self.with_stats(|s| {
                    s.corrupt += 1;
                    s.misses += 1;
                });
                None
            }
        }
    }

    fn store(&mut self, key: RegionKey, data: &RegionData) {
        if !self.ready {
            return;
        }
        let name = Self::name(key, data.content);
        // Several writers (checkpoints, evictions, shutdown) may hold different parts of one region for one
        // content version: merge, so a partial write never loses probes an earlier write had.
        let mut merged;
        let mut data = data;
        if self.files.contains_key(&name) {
            let old = fs::read(self.folder.join(&name))
                .map_err(|e| e.to_string())
                .and_then(|b| decode(&b, key, data.content, self.config.world_seed, self.config.region_probes));
            if let Ok(old) = old {
                merged = data.clone();
                let known =
                    |p: &ProbePayload| p.flags & (super::payload::flags::VALID | super::payload::flags::DISABLED) != 0;
                for i in 0..merged.payloads.len().min(old.payloads.len()) {
                    if !known(&merged.payloads[i]) && known(&old.payloads[i]) {
                        merged.payloads[i] = old.payloads[i];
                        merged.updates[i] = old.updates[i];
                    }
                }
                merged.last_updated = merged.last_updated.max(old.last_updated);
                data = &merged;
            }
        }
        let bytes = encode(key, data, self.config.world_seed, self.config.region_probes);
        let tmp = self.folder.join(format!("{name}.tmp"));
        let result = fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes).and_then(|_| f.sync_data()))
            .and_then(|_| fs::rename(&tmp, self.folder.join(&name)));
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            self.disable(&format!("cannot write in {}: {e}", self.folder.display()));
            return;
        }
        self.touch(&name, bytes.len() as u64);
        self.with_stats(|s| s.writes += 1);
        self.enforce_cap();
    }

    fn enforce_cap(&mut self) {
        let mut total: u64 = self.files.values().sum();
        while total > self.config.cap_bytes {
            let Some(name) = self.lru.pop_oldest() else { break };
            if let Some(len) = self.files.remove(&name) {
                total -= len;
                let _ = fs::remove_file(self.folder.join(&name));
                self.with_stats(|s| s.evictions += 1);
            }
        }
        self.with_stats(|s| s.bytes = total);
    }
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// Serialises a region (little-endian, checksum last).
pub fn encode(key: RegionKey, d: &RegionData, world_seed: u64, r: u32) -> Vec<u8> {
    let n = (r * r * r) as usize;
    let mut b = Vec::with_capacity(HEADER + n * RECORD + 8);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&FILE_FORMAT.to_le_bytes());
    b.extend_from_slice(&d.layout.to_le_bytes());
    b.extend_from_slice(&world_seed.to_le_bytes());
    b.extend_from_slice(&key.level.to_le_bytes());
    for c in key.coord.to_array() {
        b.extend_from_slice(&c.to_le_bytes());
    }
    b.extend_from_slice(&d.content.to_le_bytes());
    b.extend_from_slice(&r.to_le_bytes());
    b.extend_from_slice(&d.last_updated.to_le_bytes());
    for i in 0..n {
        let p = d.payloads.get(i).copied().unwrap_or_default();
        for c in p.sh.c {
            for v in c.to_array() {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b.extend_from_slice(&p.ao_dir.to_le_bytes());
        for v in [p.ao_confidence, p.mean_log_distance, p.sky_visibility, p.confidence] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&p.flags.to_le_bytes());
        b.extend_from_slice(&p.rays.to_le_bytes());
        b.extend_from_slice(&p.noise.to_le_bytes());
        b.extend_from_slice(&p.bounce_change.to_le_bytes());
        for c in p.bounce.c.iter().chain(&p.emitted.c) {
            for v in c.to_array() {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b.extend_from_slice(&d.updates.get(i).copied().unwrap_or(0).to_le_bytes());
    }
    let sum = hash_bytes(&b);
    b.extend_from_slice(&sum.to_le_bytes());
    b
}

/// Parses and checks a region file; any mismatch is an error naming the reason.
pub fn decode(b: &[u8], key: RegionKey, content: u64, world_seed: u64, r: u32) -> Result<RegionData, String> {
    let n = (r * r * r) as usize;
    let want = HEADER + n * RECORD + 8;
    if b.len() != want {
        return Err(format!("size {} instead of {want} (truncated or foreign)", b.len()));
    }
    let (body, tail) = b.split_at(b.len() - 8);
    let sum = u64::from_le_bytes(tail.try_into().map_err(|_| "no checksum")?);
    if hash_bytes(body) != sum {
        return Err("checksum mismatch".into());
    }
    let mut at = 0usize;
    let mut take = |len: usize| {
        let s = &body[at..at + len];
        at += len;
        s
    };
    let u32_ = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let u64_ = |s: &[u8]| u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
    if take(4) != MAGIC {
        return Err("not a lumon probe region".into());
    }
    if u32_(take(4)) != FILE_FORMAT {
        return Err("another file format".into());
    }
    if u32_(take(4)) != LAYOUT_VERSION {
        return Err("another payload layout version".into());
    }
    if u64_(take(8)) != world_seed {
        return Err("another world".into());
    }
    let level = u32_(take(4));
    let coord = IVec3::new(u32_(take(4)) as i32, u32_(take(4)) as i32, u32_(take(4)) as i32);
    if level != key.level || coord != key.coord {
        return Err("another region".into());
    }
    if u64_(take(8)) != content {
        return Err("another content version".into());
    }
    if u32_(take(4)) != r {
        return Err("another region size".into());
    }
    let last_updated = u64_(take(8));
    let mut d = RegionData::empty(r, content);
    d.last_updated = last_updated;
    for i in 0..n {
        let rec = take(RECORD);
        let f = |k: usize| f32::from_le_bytes([rec[4 * k], rec[4 * k + 1], rec[4 * k + 2], rec[4 * k + 3]]);
        let u = |k: usize| u32::from_le_bytes([rec[4 * k], rec[4 * k + 1], rec[4 * k + 2], rec[4 * k + 3]]);
        let sh = ShL1 { c: std::array::from_fn(|j| Vec3::new(f(3 * j), f(3 * j + 1), f(3 * j + 2))) };
        let p = ProbePayload {
            sh,
            ao_dir: u(12),
            ao_confidence: f(13),
            mean_log_distance: f(14),
            sky_visibility: f(15),
            confidence: f(16),
            flags: u(17) & !super::payload::flags::IN_FLIGHT,
            rays: f(18),
            noise: f(19),
            bounce_change: f(20),
            bounce: ShL1 { c: std::array::from_fn(|j| Vec3::new(f(21 + 3 * j), f(22 + 3 * j), f(23 + 3 * j))) },
            emitted: ShL1 { c: std::array::from_fn(|j| Vec3::new(f(33 + 3 * j), f(34 + 3 * j), f(35 + 3 * j))) },
        };
        let finite = sh.c.iter().chain(&p.bounce.c).chain(&p.emitted.c).all(|c| c.is_finite())
            && [p.ao_confidence, p.mean_log_distance, p.sky_visibility, p.confidence, p.rays, p.noise, p.bounce_change]
                .iter()
                .all(|v| v.is_finite());
        if !finite || !(0.0..=1.0).contains(&p.confidence) {
            return Err(format!("probe {i} holds non-finite or out-of-range values"));
        }
        d.payloads[i] = p;
        d.updates[i] = u(45);
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(x: i32) -> RegionKey {
        RegionKey { level: 0, coord: IVec3::new(x, 0, 0) }
    }

    #[test]
    fn without_an_io_thread_every_load_is_a_miss_at_once() {
        let mut d = DiskCache::unavailable();
        assert!(d.stats().disabled);
        d.request(key(1), 7);
        d.request(key(2), 7);
        assert_eq!(d.pending(), 2);
        let mut out = Vec::new();
        d.poll(&mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|l| l.data.is_none()));
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn an_io_thread_that_stopped_turns_persistence_off_and_answers_its_loads() {
        // A thread that ends at once without answering: the loads sent to it come back as misses.
        let (tx, req_rx) = crossbeam_channel::unbounded::<Request>();
        let (_res_tx, rx) = crossbeam_channel::unbounded::<Loaded>();
        let thread = std::thread::spawn(move || drop(req_rx));
        let mut d = DiskCache {
            tx: Some(tx),
            rx,
            stats: Arc::new(Mutex::new(DiskStats::default())),
            requested: FxHashMap::default(),
            answered_here: Vec::new(),
            thread: Some(thread),
        };
        while !d.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            std::thread::yield_now();
        }
        d.request(key(3), 1);
        let mut out = Vec::new();
        d.poll(&mut out);
        assert_eq!(out.len(), 1, "the load is answered");
        assert!(out[0].data.is_none() && d.stats().disabled && d.pending() == 0);
        d.request(key(4), 1);
        d.poll(&mut out);
        assert_eq!(out.len(), 2, "later loads too");
    }
}
