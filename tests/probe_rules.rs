//! The probe spec's scheduling, staleness, entry, result and upload rules, and the disk cache's cap, each
//! checked on its own through the manager's and the disk cache's public interfaces (cornell, small clipmaps).

use std::path::PathBuf;
use std::sync::Arc;

use glam::{IVec3, UVec3, Vec3};
use lumon::geom::Aabb;
use lumon::probes::cache::{RegionData, RegionKey};
use lumon::probes::disk::{DiskCache, DiskConfig};
use lumon::probes::flags;
use lumon::probes::gpu::GPU_PROBE_BYTES;
use lumon::probes::manager::{ProbeConfig, ProbeManager, ProbeUpload};
use lumon::probes::BlendParams;
use lumon::voxel::{VoxelGrid, VoxelWorld};
use lumon::world::{load_world, resolve_world, World};

fn cornell() -> (Arc<World>, Arc<VoxelGrid>) {
    let w = Arc::new(load_world(&resolve_world("cornell").unwrap()).unwrap());
    let mut vw = VoxelWorld::new(w.clone());
    vw.load_everything();
    let grid = vw.snapshot();
    (w, grid)
}

fn config(w: &World) -> ProbeConfig {
    ProbeConfig {
        levels: 3,
        dims: UVec3::splat(16),
        base_spacing: w.probe_spacing,
        rays_per_update: 16,
        blend: BlendParams { min_rays: 32.0, target_error: 0.25, ..BlendParams::default() },
        ..ProbeConfig::default()
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lumon-rules-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn each_level_keeps_its_budget_and_all_levels_the_global_cap() {
    let (w, grid) = cornell();
    for (base, global) in [(64u32, 100u32), (1024, 100), (8, 1000), (100, 37)] {
        let c = ProbeConfig { base_budget: base, global_budget: global, ..config(&w) };
        let mut m = ProbeManager::new(c, 1, None).unwrap();
        let report = m.step(w.main_bookmark().position, &grid, &[]);
        let s = m.stats();
        let in_flight: Vec<usize> = s.levels.iter().map(|l| l.in_flight).collect();
        for (l, n) in in_flight.iter().enumerate() {
            assert!(*n <= (base >> l) as usize, "base {base}: level {l} took {n}");
        }
        let total: usize = in_flight.iter().sum();
        let full: usize = (0..3).map(|l| (base >> l) as usize).sum::<usize>().min(global as usize);
        assert_eq!(total, full, "base {base}, global {global}: {in_flight:?} (every queue is full at the start)");
        assert_eq!(report.submitted, total);
        m.wait_idle();
    }
}

#[test]
fn valid_probes_age_into_stale_with_their_level_and_are_traced_again() {
    let (w, grid) = cornell();
    let c = ProbeConfig { stale_age_frames: 6, base_budget: 8192, global_budget: 8192, ..config(&w) };
    let mut m = ProbeManager::new(c, 1, None).unwrap();
    let cam = w.main_bookmark().position;
    let stale = |m: &ProbeManager, l: usize| m.payloads(l).iter().filter(|p| p.flags & flags::STALE != 0).count();
    let mut first_stale = [None; 3];
    for frame in 1..=60u32 {
        m.step(cam, &grid, &[]);
        m.wait_idle();
        for (l, first) in first_stale.iter_mut().enumerate() {
            if first.is_none() && stale(&m, l) > 0 {
                *first = Some(frame);
            }
        }
    }
    let [a, b, c] = first_stale.map(|f| f.expect("every level ages"));
    assert!(a < b && b < c, "older levels age later: first stale at frames {a}, {b}, {c}");
    assert!(a >= 6, "not before the stale age: {a}");
    assert!(m.stats().probe_updates > 0);
}

#[test]
fn near_levels_refresh_on_entry_and_far_levels_reuse_their_cache() {
    let (w, grid) = cornell();
    let c = ProbeConfig { near_levels: 1, base_budget: 8192, global_budget: 8192, ..config(&w) };
    let mut m = ProbeManager::new(c, 1, None).unwrap();
    let home = w.main_bookmark().position;
    for _ in 0..40 {
        m.step(home, &grid, &[]);
        m.wait_idle();
    }
    // Away far enough that every level's box moves off its old probes (evicted to the memory cache), and back.
    let away = home + Vec3::new(200.0, 0.0, 0.0);
    m.step(away, &grid, &[]);
    m.wait_idle();
    m.step(away, &grid, &[]);
    m.wait_idle();
    m.step(home, &grid, &[]);
    let s = m.stats();
    assert!(s.levels.iter().all(|l| l.hits > 0), "the memory cache gives back every level: {:?}", s.levels);
    let near = m.payloads(0);
    let near_valid = near.iter().filter(|p| p.usable()).count();
    let near_stale = near.iter().filter(|p| p.usable() && p.flags & flags::STALE != 0).count();
    assert!(near_valid > 0 && near_stale * 10 >= near_valid * 9, "level 0 shows its cache at once, marked stale");
    let far = m.payloads(2);
    let far_valid = far.iter().filter(|p| p.usable()).count();
    let far_stale = far.iter().filter(|p| p.usable() && p.flags & flags::STALE != 0).count();
    assert!(
        far_valid > 0 && far_stale * 10 <= far_valid,
        "level 2 reuses its cache as it is: {far_stale} of {far_valid}"
    );
    m.wait_idle();
}

#[test]
fn results_for_probes_dirtied_while_in_flight_are_dropped_and_traced_again() {
    let (w, grid) = cornell();
    let c = ProbeConfig { rays_per_update: 256, base_budget: 4096, global_budget: 4096, ..config(&w) };
    let mut m = ProbeManager::new(c, 1, None).unwrap();
    let cam = w.main_bookmark().position;
    m.step(cam, &grid, &[]);
    // The traces are still running: an edit over the whole room dirties the probes they are for.
    let all = Aabb { min: Vec3::splat(-100.0), max: Vec3::splat(100.0) };
    m.step(cam, &grid, std::slice::from_ref(&all));
    m.wait_idle();
    let report = m.step(cam, &grid, &[]);
    assert!(report.dropped > 0, "stale results are dropped: {report:?}");
    assert!(m.stats().results_dropped >= report.dropped as u64, "counted");
    // The dropped probes were queued again: within a few lockstep frames every probe has its data.
    assert!(all_probes_get_data(&mut m, cam, &grid, 20), "{:?}", m.stats().levels);
}

/// Steps in lockstep until every probe that is not inside solids holds data, at most `frames` frames.
fn all_probes_get_data(m: &mut ProbeManager, cam: Vec3, grid: &Arc<VoxelGrid>, frames: u32) -> bool {
    for _ in 0..frames {
        m.wait_idle();
        m.step(cam, grid, &[]);
        if m.stats().levels.iter().all(|l| l.valid_fraction >= 1.0) {
            return true;
        }
    }
    false
}

#[test]
fn uploads_keep_their_byte_budget_and_lose_nothing() {
    let (w, grid) = cornell();
    let per_frame = 50;
    let c = ProbeConfig { upload_budget_bytes: per_frame * GPU_PROBE_BYTES, ..config(&w) };
    let mut m = ProbeManager::new(c, 1, None).unwrap();
    let cam = w.main_bookmark().position;
    let mut out: Vec<ProbeUpload> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut most = 0;
    for _ in 0..30 {
        m.step(cam, &grid, &[]);
        m.wait_idle();
    }
    // The last step's results wait in the upload list; drain it without new work.
    let backlog = m.pending_uploads();
    assert!(backlog > per_frame, "more probes changed than one frame uploads: {backlog}");
    for _ in 0..(backlog / per_frame + 2) {
        m.take_uploads(&mut out);
        most = most.max(out.len());
        seen.extend(out.iter().map(|u| (u.level, u.slot)));
    }
    assert!(most <= per_frame, "at most {per_frame} a frame, got {most}");
    assert_eq!(m.pending_uploads(), 0, "everything goes out in the end");
    assert!(seen.len() >= backlog.min(per_frame * 2));
}

#[test]
fn the_disk_cache_keeps_its_cap_by_evicting_the_least_recently_used_and_clears_temp_files() {
    let dir = tempdir("cap");
    let cfg = |cap: u64| DiskConfig {
        dir: dir.clone(),
        cap_bytes: cap,
        world_seed: 5,
        world_name: "cap".into(),
        spacing: 1.0,
        region_probes: 4,
    };
    let region = |x: i32| {
        let mut d = RegionData::empty(4, 1);
        for p in d.payloads.iter_mut() {
            p.flags = flags::VALID;
            p.confidence = 1.0;
            p.sh.c[0] = Vec3::splat(x as f32);
        }
        (RegionKey { level: 0, coord: IVec3::new(x, 0, 0) }, d)
    };
    // One region's file size, measured.
    let mut probe = DiskCache::open(cfg(u64::MAX));
    let (k, d) = region(100);
    probe.store(k, d);
    probe.sync(&mut Vec::new());
    let one = probe.stats().bytes;
    assert!(one > 0);
    drop(probe);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let mut cache = DiskCache::open(cfg(one * 4));
    let mut out = Vec::new();
    for x in 0..3 {
        let (k, d) = region(x);
        cache.store(k, d);
    }
    cache.sync(&mut out);
    // Region 0 is read (now the most recently used), then three more are written: 1 and 2 go first.
    cache.request(region(0).0, 1);
    cache.sync(&mut out);
    assert!(out.pop().and_then(|l| l.data).is_some());
    for x in 3..6 {
        let (k, d) = region(x);
        cache.store(k, d);
    }
    cache.sync(&mut out);
    let s = cache.stats();
    assert!(s.bytes <= one * 4, "{} bytes over the cap of {}", s.bytes, one * 4);
    assert_eq!(s.evictions, 2);
    let found = |cache: &mut DiskCache, x: i32| {
        let mut out = Vec::new();
        cache.request(region(x).0, 1);
        cache.sync(&mut out);
        out[0].data.is_some()
    };
    assert!(found(&mut cache, 0), "the recently read region stays");
    assert!(!found(&mut cache, 1) && !found(&mut cache, 2), "the least recently used go");
    assert!((3..6).all(|x| found(&mut cache, x)));
    drop(cache);
    // The cache's folder: the one holding the region files.
    let mut stack = vec![dir.clone()];
    let mut folder = None;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "lpr") {
                folder = p.parent().map(PathBuf::from);
            }
        }
    }
    let folder = folder.expect("region files on disk");
    // A write cut short leaves a temporary file: the next start removes it.
    let stray = folder.join("r_0_0_0.lpr.tmp");
    std::fs::write(&stray, b"half a file").unwrap();
    let mut cache = DiskCache::open(cfg(one * 4));
    cache.sync(&mut Vec::new());
    assert!(!stray.exists(), "the temporary file is cleared at start");
    let _ = std::fs::remove_dir_all(&dir);
}
