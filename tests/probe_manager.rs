//! The clipmap probe manager end to end on small configurations: determinism across thread counts, warm disk
//! cache, broken cache files and folders, the memory cache cap, invalidation reach, recycled slots.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use glam::{IVec3, UVec3, Vec3};
use lumon::bench::path::CameraPath;
use lumon::bench::{run_cpu, BenchOptions};
use lumon::geom::Aabb;
use lumon::hash::Rng;
use lumon::probes::disk::{DiskCache, DiskConfig};
use lumon::probes::manager::{ProbeConfig, ProbeManager};
use lumon::probes::{flags, BlendParams};
use lumon::streaming::RegionId;
use lumon::voxel::VoxelWorld;
use lumon::world::{load_world, resolve_world, World};

fn world(name: &str) -> Arc<World> {
    Arc::new(load_world(&resolve_world(name).unwrap()).unwrap())
}

fn small(spacing: f32) -> ProbeConfig {
    ProbeConfig {
        levels: 2,
        dims: UVec3::splat(16),
        base_spacing: spacing,
        rays_per_update: 16,
        base_budget: 1024,
        global_budget: 1536,
        // Loose convergence (a quarter relative error after 32 rays) keeps these cache tests short.
        blend: BlendParams { min_rays: 32.0, target_error: 0.25, ..BlendParams::default() },
        irradiance_slots_per_frame: 1024,
        ..ProbeConfig::default()
    }
}

fn opts(w: &World, frames: u32, threads: usize, cache: Option<PathBuf>) -> BenchOptions {
    BenchOptions {
        frames,
        path: CameraPath::bookmark_flight(w.main_bookmark(), 0.5, frames as f32 / 60.0 + 1.0),
        threads,
        cache_dir: cache,
        disk_cap_bytes: 1 << 30,
        probes: small(w.probe_spacing),
        accuracy: None,
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lumon-probes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A whole world streamed in, voxelised, and a manager stepped `frames` times in lockstep at `cam`.
fn converged(
    name: &str,
    config: ProbeConfig,
    threads: usize,
    frames: u32,
) -> (Arc<World>, Arc<lumon::voxel::VoxelGrid>, ProbeManager) {
    let w = world(name);
    let mut vw = VoxelWorld::new(w.clone());
    vw.load_everything();
    let grid = vw.snapshot();
    let mut m = ProbeManager::new(config, threads, None).unwrap();
    let cam = w.main_bookmark().position;
    for _ in 0..frames {
        m.step(cam, &grid, &[]);
        m.wait_idle();
    }
    (w, grid, m)
}

fn disk(dir: PathBuf, seed: u64, name: &str, spacing: f32, region_probes: u32) -> DiskCache {
    DiskCache::open(DiskConfig {
        dir,
        cap_bytes: 1 << 30,
        world_seed: seed,
        world_name: name.into(),
        spacing,
        region_probes,
    })
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "lpr") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn payloads_do_not_depend_on_the_thread_count() {
    let w = world("cornell");
    let one = run_cpu(w.clone(), &opts(&w, 40, 1, None)).unwrap();
    let two = run_cpu(w.clone(), &opts(&w, 40, 2, None)).unwrap();
    assert!(one.probe_updates > 1000);
    assert_eq!(one.payload_hash, two.payload_hash);
    assert_eq!(one.probe_updates, two.probe_updates);
    assert_eq!(one.converge_l0_frames, two.converge_l0_frames);
}

/// The bench configuration (4 levels of 32^3 probes): the goal "a warm run converges in at most a fifth of the
/// cold run's frames" is stated for it.
fn full(w: &World, frames: u32, cache: Option<PathBuf>) -> BenchOptions {
    BenchOptions {
        probes: ProbeConfig { base_spacing: w.probe_spacing, ..ProbeConfig::default() },
        ..opts(w, frames, 2, cache)
    }
}

#[test]
fn a_warm_disk_cache_converges_much_faster_and_broken_files_are_rebuilt() {
    let w = world("cornell");
    let dir = tempdir("warm");
    assert!(cache_files(&dir).is_empty(), "the cold run starts from an empty folder");
    let cold = run_cpu(w.clone(), &full(&w, 115, Some(dir.clone()))).unwrap();
    // Honest convergence (each probe within 5 % relative error) takes cornell far longer than this run, so the
    // comparison is: frames until the warm run reaches the level-0 converged fraction the cold run ended with.
    // The run ends before cornell's first timeline edit (t = 2 s): the warm run starts on the same voxels.
    // (95 % of it: a few probes converge in the cold run's last frames, after their region's checkpoint.)
    let cold_fraction = 0.95 * *cold.converged_l0_per_frame.last().unwrap();
    assert!(cold_fraction > 0.02, "the cold run converges some probes: {cold_fraction}");
    let cold_frames = cold.converged_l0_per_frame.iter().position(|f| *f >= cold_fraction).unwrap() + 1;
    let disk = cold.cache.disk.unwrap();
    assert!(disk.writes > 0, "{disk:?}");
    let warm = run_cpu(w.clone(), &full(&w, 115, Some(dir.clone()))).unwrap();
    let warm_frames = warm
        .converged_l0_per_frame
        .iter()
        .position(|f| *f >= cold_fraction)
        .map(|i| i + 1)
        .expect("the warm run reaches the cold run's converged fraction");
    assert!(warm.cache.disk.unwrap().hits > 0);
    assert!(
        warm_frames * 5 <= cold_frames,
        "warm {warm_frames} frames vs cold {cold_frames} to {cold_fraction}; warm l0 {:?}; cold {:?} {:?}; warm {:?} {:?}",
        &warm.converged_l0_per_frame[..20],
        cold.cache,
        cold.levels.iter().map(|l| (l.converged_fraction, l.hits, l.misses)).collect::<Vec<_>>(),
        warm.cache,
        warm.levels.iter().map(|l| (l.converged_fraction, l.hits, l.misses)).collect::<Vec<_>>()
    );

    // Break every file a different way: flipped byte, truncation, garbage, another layout in the header.
    let files = cache_files(&dir);
    assert!(files.len() >= 4, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        let mut b = std::fs::read(f).unwrap();
        match i % 4 {
            0 => {
                let k = b.len() / 2;
                b[k] ^= 0x5A;
            }
            1 => b.truncate(b.len() / 3),
            2 => b = b"not a probe file at all".to_vec(),
            _ => b[8] = b[8].wrapping_add(1),
        }
        std::fs::write(f, b).unwrap();
    }
    let rebuilt = run_cpu(w.clone(), &full(&w, 115, Some(dir.clone()))).unwrap();
    let d = rebuilt.cache.disk.unwrap();
    assert!(d.corrupt >= files.len() as u64 / 2, "{d:?}");
    assert!(rebuilt.probe_updates > 0, "the probes are traced again");
    assert_eq!(rebuilt.payload_hash, cold.payload_hash, "rebuilt exactly as a cold run");
}

#[test]
fn an_unusable_cache_folder_turns_persistence_off_and_the_run_goes_on() {
    let w = world("cornell");
    let dir = tempdir("unusable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let r = run_cpu(w.clone(), &opts(&w, 30, 1, Some(file.join("cache")))).unwrap();
    let d = r.cache.disk.unwrap();
    assert!(d.disabled);
    assert_eq!(d.writes, 0);
    assert!(r.probe_updates > 0);
}

#[test]
fn the_memory_cache_never_exceeds_its_cap_on_a_long_random_flight() {
    let w = world("valley");
    let mut vw = VoxelWorld::new(w.clone());
    let regions: BTreeSet<RegionId> = {
        let g = w.grid();
        (g.min.0..g.max.0).flat_map(|x| (g.min.1..g.max.1).map(move |z| RegionId::new(x, z))).collect()
    };
    vw.apply(&[], &regions);
    let grid = vw.snapshot();
    let cap = 200_000;
    let config = ProbeConfig { memory_cache_bytes: cap, base_budget: 64, global_budget: 96, ..small(2.0) };
    let mut m = ProbeManager::new(config, 1, None).unwrap();
    let mut rng = Rng::new(9);
    let mut cam = Vec3::new(0.0, 10.0, 0.0);
    let mut evicted_any = false;
    for step in 0..400 {
        cam += Vec3::new(rng.range_f32(-6.0, 6.0), rng.range_f32(-1.0, 1.0), rng.range_f32(-6.0, 6.0));
        if step % 50 == 49 {
            cam = Vec3::new(rng.range_f32(-200.0, 200.0), 10.0, rng.range_f32(-200.0, 200.0));
        }
        m.step(cam, &grid, &[]);
        m.wait_idle();
        let s = m.stats();
        assert!(s.memory.bytes <= cap, "step {step}: {} > {cap}", s.memory.bytes);
        evicted_any |= s.memory.evictions > 0;
    }
    assert!(evicted_any, "the flight must overflow the cap at some point");
}

#[test]
fn an_edit_dirties_exactly_the_probes_within_trace_range_on_every_level() {
    let config = small(1.0);
    let (w, grid, mut m) = converged("village-night", config.clone(), 2, 40);
    let cam = w.main_bookmark().position;
    let lamp = Aabb { min: Vec3::new(2.0, 0.0, 2.0), max: Vec3::new(2.5, 3.0, 2.5) };
    // Expected: probes of each level whose trace range (a sphere) reaches the box, counted independently.
    let mut expected = 0;
    for (l, topo) in m.topologies().iter().enumerate() {
        let range = config.trace_range(l as u32);
        expected += topo
            .bounds()
            .iter()
            .filter(|g| (topo.position(*g) - topo.position(*g).clamp(lamp.min, lamp.max)).length() <= range)
            .count();
    }
    // Marking is spread over frames (a bounded number of probes per frame); it finishes within a few.
    let mut dirtied = m.step(cam, &grid, &[lamp]).dirtied;
    let mut frames = 1;
    while m.pending_invalidations() > 0 {
        dirtied += m.step(cam, &grid, &[]).dirtied;
        frames += 1;
        assert!(frames < 30, "marking must finish within half a second");
    }
    assert_eq!(dirtied, expected);
    assert!(dirtied > 0);
    // Probes far outside the reach keep their data and are not queued by the edit.
    let far_level = 0;
    let topo = m.topologies()[far_level];
    let far =
        topo.bounds().iter().find(|g| (topo.position(*g) - lamp.min).abs().max_element() > config.trace_range(0) + 2.0);
    if let Some(g) = far {
        assert!(m.probe(far_level, g).is_some());
    }
}

#[test]
fn no_probe_is_ever_forgotten_while_results_and_disk_answers_arrive_at_any_time() {
    let w = world("cornell");
    // An empty cache: every answer is a miss, so a probe forgotten while waiting for one stays without data.
    let dir = tempdir("forgotten");
    let mut vw = VoxelWorld::new(w.clone());
    vw.load_everything();
    let grid = vw.snapshot();
    let disk = disk(dir, w.seed, &w.name, w.probe_spacing, 8);
    let mut m = ProbeManager::new(small(w.probe_spacing), 2, Some(disk)).unwrap();
    let mut rng = Rng::new(5);
    let mut cam = w.main_bookmark().position;
    for _ in 0..200 {
        // No waiting: results and disk answers land whenever they land, edits keep coming every frame and the
        // camera keeps bringing new probes in (new disk requests).
        cam += Vec3::new(rng.range_f32(0.0, 0.6), 0.0, rng.range_f32(-0.3, 0.3));
        let p = cam + Vec3::new(rng.range_f32(-2.0, 2.0), rng.range_f32(-1.0, 1.0), rng.range_f32(-2.0, 2.0));
        let edit = Aabb { min: p, max: p + Vec3::splat(0.3) };
        m.step(cam, &grid, std::slice::from_ref(&edit));
    }
    // A probe dropped on the way would stay without data: in lockstep, with no more edits, every probe that
    // is not inside solids gets its data within a few budgets' worth of frames.
    for frame in 0..40 {
        m.wait_idle();
        m.step(cam, &grid, &[]);
        if m.stats().levels.iter().all(|l| l.valid_fraction >= 1.0) {
            return;
        }
        assert!(frame < 39, "probes left without data: {:?}", m.stats().levels);
    }
}

#[test]
fn recycled_slots_never_show_the_evicted_probe() {
    let (w, grid, mut m) = converged("cornell", small(0.25), 1, 30);
    let cam = w.main_bookmark().position;
    let topo = m.topologies()[0];
    let before = topo.bounds();
    // Move by three probes along x: the entered slab must hold nothing of the probes that left.
    let moved = cam + Vec3::new(3.0 * topo.spacing, 0.0, 0.0);
    m.step(moved, &grid, &[]);
    let after = m.topologies()[0].bounds();
    let entered: Vec<IVec3> = after.iter().filter(|g| !before.contains(*g)).collect();
    assert_eq!(entered.len(), 3 * 16 * 16);
    for g in entered {
        let p = m.probe(0, g).expect("slot holds the entered probe");
        // Either nothing yet, or cached data for this very probe (never the evicted one's).
        assert!(p.flags & flags::VALID == 0 || p.flags & flags::STALE != 0, "{g}: {p:?}");
    }
}

#[test]
fn disk_cache_files_round_trip_and_reject_foreign_keys() {
    use lumon::probes::cache::{RegionData, RegionKey};
    use lumon::probes::disk::{decode, encode};
    let key = RegionKey { level: 1, coord: IVec3::new(-2, 0, 3) };
    let mut d = RegionData::empty(4, 77);
    d.payloads[5].confidence = 1.0;
    d.payloads[5].flags = flags::VALID;
    d.payloads[5].sh.c[0] = Vec3::new(0.5, 0.25, 1.0);
    d.updates[5] = 9;
    let b = encode(key, &d, 42, 4);
    assert_eq!(decode(&b, key, 77, 42, 4).unwrap(), d);
    assert!(decode(&b, key, 78, 42, 4).is_err(), "other content version");
    assert!(decode(&b, key, 77, 43, 4).is_err(), "other world");
    assert!(decode(&b, RegionKey { level: 0, ..key }, 77, 42, 4).is_err(), "other region");
    assert!(decode(&b[..b.len() - 1], key, 77, 42, 4).is_err(), "truncated");
    // The IO thread answers loads without blocking the caller.
    let dir = tempdir("io");
    let mut cache = disk(dir, 42, "t", 1.0, 4);
    cache.store(key, d.clone());
    let mut out = Vec::new();
    cache.sync(&mut out);
    cache.request(key, 77);
    cache.sync(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].data.as_ref(), Some(&d));
    assert_eq!(cache.stats().writes, 1);
    assert_eq!(cache.stats().hits, 1);
}

/// The stream switches `village-night`'s lamp-03 on (timeline t = 5 s): the edit reaches the voxel world as an
/// edited box, drops the cached regions within trace range in memory and on disk, and the probes next to the
/// lamp relight within a second (60 lockstep frames).
#[test]
fn a_lamp_switched_on_in_the_stream_invalidates_caches_and_relights_within_a_second() {
    use lumon::probes::cache::RegionKey;
    use lumon::probes::clipmap::ProbeBox;
    use lumon::streaming::{ClientConfig, ServerConfig, SimClock, StreamingClient};

    let w = world("village-night");
    let mut server = w.server(ServerConfig::default(), Arc::new(SimClock::new())).unwrap();
    let config =
        ClientConfig { interest_radius: 200.0, leave_margin: 32.0, max_region_loads: 1000, count_bytes: false };
    let mut client = StreamingClient::new(config, w.grid(), w.asset_bounds());
    let mut voxels = VoxelWorld::new(w.clone());
    let mut events = w.timeline.iter().peekable();
    let mut advance_to = |t: f64, server: &mut lumon::streaming::StreamServer| {
        while let Some(e) = events.next_if(|e| e.t <= t) {
            server.commit(e.edits.clone()).unwrap();
        }
    };
    advance_to(1.0, &mut server); // lamp-03 is off from t = 1
    let lamp = Vec3::new(-3.444, 0.0, 8.315);
    let home = lamp + Vec3::new(2.0, 2.0, 2.0);
    let changes = client.update_interest(&server, home).unwrap();
    let regions: BTreeSet<RegionId> = client.regions().clone();
    voxels.apply(&changes, &regions);
    let grid = voxels.snapshot();

    let dir = tempdir("lamp");
    let disk = disk(dir.clone(), w.seed, &w.name, 1.0, 8);
    let pc = small(1.0);
    let mut m = ProbeManager::new(pc.clone(), 2, Some(disk)).unwrap();
    for _ in 0..40 {
        m.step(home, &grid, &[]);
        m.wait_idle();
    }
    // The probes around the lamp's head, each facing it: lit only by the night sky and the other lamps.
    let head = lamp + Vec3::new(0.0, 3.75, 0.0);
    let around = |m: &ProbeManager| -> f32 {
        let c = (head / pc.base_spacing - 0.5).round().as_ivec3();
        let topo = m.topologies()[0];
        (ProbeBox { lo: c - 2, hi: c + 3 })
            .iter()
            .filter_map(|g| {
                let p = m.probe(0, g).filter(|p| p.usable())?;
                let n = (head - topo.position(g)).normalize_or_zero();
                Some(p.sh.irradiance(n).x)
            })
            .sum()
    };
    let dark = around(&m);
    m.flush_to_disk(&grid);
    assert!(!cache_files(&dir).is_empty());
    // Fly far away: the lamp's probes leave the clipmap into the memory cache.
    let away = home + Vec3::new(60.0, 0.0, 0.0);
    for _ in 0..3 {
        m.step(away, &grid, &[]);
        m.wait_idle();
    }
    let key_of = |level: u32, p: Vec3| {
        let s = pc.spacing(level);
        RegionKey { level, coord: (p / s - 0.5).floor().as_ivec3().div_euclid(IVec3::splat(8)) }
    };
    let near = key_of(0, head);
    assert!(m.cached_in_memory(near), "the lamp's region was saved when it left");

    // The stream switches the lamp on.
    advance_to(5.0, &mut server);
    let changes = client.pull(&server).unwrap();
    assert!(changes.iter().any(|c| c.id() == "lamp-03"), "the delta carries the switch");
    let edit = voxels.apply(&changes, client.regions());
    assert!(edit.edited.iter().any(|b| b.min.distance(lamp) < 1.0
        || (b.min.x <= lamp.x && lamp.x <= b.max.x && b.min.z <= lamp.z && lamp.z <= b.max.z)));
    let grid = voxels.snapshot();
    m.step(away, &grid, &edit.edited);
    m.wait_idle();
    assert!(!m.cached_in_memory(near), "cached data within trace range is dropped from memory");
    // On disk, the region's file for the old content stays (valid for that state) and nothing matches the new
    // content: the lamp's surroundings can never be restored dark.
    let prefix = format!("L0_{}_{}_{}_", near.coord.x, near.coord.y, near.coord.z);
    let now = format!("{prefix}{:016x}.lpr", lumon::probes::manager::region_content(&pc, &grid, near));
    let files: Vec<String> =
        cache_files(&dir).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(files.iter().any(|f| f.starts_with(&prefix)), "the old state's file is kept: {files:?}");
    assert!(!files.contains(&now), "no file claims the new content");

    // Back home: within a second the probes around the lamp see it.
    let mut lit = 0.0;
    for _ in 0..60 {
        m.step(home, &grid, &[]);
        m.wait_idle();
        lit = around(&m);
        if lit > 4.0 * dark.max(1e-3) {
            return;
        }
    }
    panic!("the lamp did not relight its surroundings within 60 frames: {dark} -> {lit}");
}

#[test]
fn partial_writes_of_one_region_and_content_merge_on_disk() {
    use lumon::probes::cache::{RegionData, RegionKey};
    let dir = tempdir("merge");
    let mut cache = disk(dir, 1, "m", 1.0, 4);
    let key = RegionKey { level: 0, coord: IVec3::new(1, 2, 3) };
    let with = |indices: &[usize], level: f32| {
        let mut d = RegionData::empty(4, 9);
        for &i in indices {
            d.payloads[i].flags = flags::VALID;
            d.payloads[i].confidence = 1.0;
            d.payloads[i].sh.c[0] = Vec3::splat(level);
        }
        d
    };
    // A checkpoint holds probes 0..10; a later eviction holds only 8..12 (newer values for 8 and 9).
    cache.store(key, with(&(0..10).collect::<Vec<_>>(), 1.0));
    cache.store(key, with(&[8, 9, 10, 11], 2.0));
    let mut out = Vec::new();
    cache.request(key, 9);
    cache.sync(&mut out);
    let d = out[0].data.as_ref().expect("found");
    let valid: Vec<usize> = (0..64).filter(|i| d.payloads[*i].flags & flags::VALID != 0).collect();
    assert_eq!(valid, (0..12).collect::<Vec<_>>(), "the union of both writes");
    assert_eq!(d.payloads[0].sh.c[0].x, 1.0, "kept from the first write");
    assert_eq!(d.payloads[9].sh.c[0].x, 2.0, "the newer write wins where both have data");
}

#[test]
fn an_io_thread_that_cannot_start_turns_persistence_off_and_every_probe_is_traced() {
    let w = world("cornell");
    let mut vw = VoxelWorld::new(w.clone());
    vw.load_everything();
    let grid = vw.snapshot();
    let mut m = ProbeManager::new(small(w.probe_spacing), 1, Some(DiskCache::unavailable())).unwrap();
    let cam = w.main_bookmark().position;
    for _ in 0..40 {
        m.step(cam, &grid, &[]);
        m.wait_idle();
    }
    let s = m.stats();
    assert!(s.disk.is_some_and(|d| d.disabled && d.writes == 0));
    let l0 = &s.levels[0];
    assert!(l0.valid_fraction > 0.99, "level 0 traced without the disk: {} valid", l0.valid_fraction);
}

/// Converged probes trace again while their level's bounce light has not settled, and stop once it has: in a
/// still `cornell` (lit only by bounces off its walls but for the panel), settling traces happen, every level
/// settles within a bound, and afterwards the settling traces do not go on for ever.
#[test]
fn converged_probes_trace_again_until_the_bounce_light_settles() {
    let cycle = small(0.25).snapshot_cycle_frames();
    let (w, grid, mut m) = converged("cornell", small(0.25), 2, 0);
    let cam = w.main_bookmark().position;
    let mut settled_at = None;
    for f in 0..3000u64 {
        m.step(cam, &grid, &[]);
        m.wait_idle();
        if m.bounce_settled() {
            settled_at = Some(f);
            break;
        }
    }
    let settled_at = settled_at.expect("the bounce light settles within 3,000 frames");
    let s = m.stats();
    let probes: usize = s.levels.iter().map(|l| l.resident - l.disabled).sum();
    eprintln!("settled after {settled_at} frames, {} settling traces, {probes} probes", s.settle_traces);
    assert!(s.settle_traces > 0, "converged probes traced again while the bounce light rose");
    assert!(s.levels.iter().all(|l| l.bounce_settled && l.bounce_share > 0.0), "{:?}", s.levels);
    let before = s.settle_traces;
    for _ in 0..8 * cycle {
        m.step(cam, &grid, &[]);
        m.wait_idle();
    }
    let after = m.stats().settle_traces - before;
    eprintln!("{after} settling traces in the 8 cycles after");
    assert!(after < probes as u64, "settling does not keep every probe tracing: {after} traces, {probes} probes");
}
