//! Tracer benchmarks (issue goals).
//!
//! - `trace`: rays of up to 32 voxels from random probe-like origins of `valley`: 2,048 origins 1-4 m above the
//!   ground in open space, each casting 32 uniformly random directions (as a probe casts its ray set from one
//!   centre); throughput in rays. `1_thread` and `2_threads` trace batches as the probe tracer does
//!   ([`VoxelGrid::trace_batch`]: sixteen rays at once on CPUs with AVX-512); `1_thread_per_ray` traces one ray
//!   at a time ([`VoxelGrid::trace`]) and `1_thread_portable` one at a time on the portable path (what a CPU
//!   without AVX-512 runs).
//! - `voxel_edit`: a 100-placement delta (cars moved up to 20 m) applied to the `city-stress` voxel world.
//! - The memory of the `valley` voxel world is printed once (resident bytes, bytes per solid voxel).

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glam::Vec3;
use lumon::hash::Rng;
use lumon::streaming::{ChangeCause, SceneChange};
use lumon::voxel::{RayQuery, Trace, VoxelGrid, VoxelWorld};
use lumon::world::{load_world, resolve_world, World};
use rayon::prelude::*;

const ORIGINS: usize = 2048;
const RAYS_PER_ORIGIN: usize = 32;

fn load(name: &str) -> Arc<World> {
    Arc::new(load_world(&resolve_world(name).expect("sample world")).expect("loads"))
}

fn rays(grid: &VoxelGrid, world: &World, max_dist: f32) -> Vec<RayQuery> {
    let mut rng = Rng::new(42);
    let (lo, hi) = world.bounds;
    let mut out = Vec::with_capacity(ORIGINS * RAYS_PER_ORIGIN);
    while out.len() < ORIGINS * RAYS_PER_ORIGIN {
        let x = rng.range_f32(lo.x + 8.0, hi.x - 8.0);
        let z = rng.range_f32(lo.y + 8.0, hi.y - 8.0);
        let y = world.terrain.height(x, z).unwrap_or(0.0) + rng.range_f32(1.0, 4.0);
        let o = Vec3::new(x, y, z);
        if grid.solid_at(o) {
            continue;
        }
        for _ in 0..RAYS_PER_ORIGIN {
            // Uniform direction on the sphere.
            let u = rng.range_f32(-1.0, 1.0);
            let phi = rng.range_f32(0.0, std::f32::consts::TAU);
            let r = (1.0 - u * u).sqrt();
            out.push(RayQuery { origin: o, dir: Vec3::new(r * phi.cos(), u, r * phi.sin()), max_dist });
        }
    }
    out
}

/// Rays that hit, traced as one batch.
fn trace_all(grid: &VoxelGrid, rays: &[RayQuery], out: &mut Vec<Trace>) -> usize {
    grid.trace_batch(rays, out);
    out.iter().filter(|t| matches!(t, Trace::Hit(_))).count()
}

/// Rays that hit, traced one at a time by `trace` (the dispatching trace or one of its paths).
fn count_hits(rays: &[RayQuery], trace: impl Fn(&RayQuery) -> Trace) -> usize {
    rays.iter().filter(|r| matches!(trace(r), Trace::Hit(_))).count()
}

fn trace(c: &mut Criterion) {
    let world = load("valley");
    let mut vw = VoxelWorld::new(world.clone());
    let t = Instant::now();
    vw.load_everything();
    let build = t.elapsed();
    let grid = vw.snapshot();
    let s = vw.stats();
    let mem = grid.memory();
    eprintln!(
        "valley voxel world: built in {:.2} s; {} bricks, {} solid voxels; grid {:.1} MiB ({:.2} B/solid voxel); \
         resident with terrain cache and index {:.1} MiB ({:.2} B/solid voxel)",
        build.as_secs_f64(),
        mem.bricks,
        mem.solid_voxels,
        mem.bytes as f64 / (1 << 20) as f64,
        mem.bytes as f64 / mem.solid_voxels as f64,
        s.bytes as f64 / (1 << 20) as f64,
        s.bytes as f64 / s.solid_voxels as f64,
    );
    let max = 32.0 * world.voxel_size;
    let rays = rays(&grid, &world, max);
    let mut out = Vec::new();
    let hits = trace_all(&grid, &rays, &mut out);
    let mut per_ray = Vec::new();
    grid.trace_batch_per_ray(&rays, &mut per_ray);
    assert!(out == per_ray, "batches and single rays give the same results");
    eprintln!("trace: {} of {} rays hit within 32 voxels", hits, rays.len());
    eprintln!(
        "trace: batches {}; per-ray voxel level {}",
        if grid.batch_lanes() { "sixteen rays at once (AVX-512)" } else { "one ray at a time" },
        if lumon::voxel::wide_voxel_level() { "wide (AVX-512, eight slabs at once)" } else { "portable" }
    );

    let mut g = c.benchmark_group("trace");
    g.throughput(Throughput::Elements(rays.len() as u64));
    g.sample_size(20);
    g.bench_function("valley_32_voxels/1_thread", |b| b.iter(|| black_box(trace_all(&grid, &rays, &mut out))));
    g.bench_function("valley_32_voxels/1_thread_per_ray", |b| {
        b.iter(|| black_box(count_hits(&rays, |r| grid.trace(r.origin, r.dir, r.max_dist))))
    });
    g.bench_function("valley_32_voxels/1_thread_portable", |b| {
        b.iter(|| black_box(count_hits(&rays, |r| grid.trace_portable(r.origin, r.dir, r.max_dist))))
    });
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    g.bench_function("valley_32_voxels/2_threads", |b| {
        b.iter(|| {
            pool.install(|| rays.par_chunks(2048).map_init(Vec::new, |out, c| trace_all(&grid, c, out)).sum::<usize>())
        })
    });
    g.finish();
}

fn voxel_edit(c: &mut Criterion) {
    let world = load("city-stress");
    let mut vw = VoxelWorld::new(world.clone());
    vw.load_everything();
    let regions: BTreeSet<_> = vw.loaded_regions();
    let cars: Vec<Arc<lumon::streaming::Placement>> = world
        .placements
        .iter()
        .filter(|p| p.tags.iter().any(|t| t == "car"))
        .take(100)
        .map(|p| Arc::new(p.clone()))
        .collect();
    assert_eq!(cars.len(), 100, "city-stress has cars");
    let mut rng = Rng::new(3);
    let moved: Vec<Arc<lumon::streaming::Placement>> = cars
        .iter()
        .map(|p| {
            let mut q = (**p).clone();
            q.transform.position += Vec3::new(rng.range_f32(-20.0, 20.0), 0.0, rng.range_f32(-20.0, 20.0));
            Arc::new(q)
        })
        .collect();
    let change =
        |from: &[Arc<lumon::streaming::Placement>], to: &[Arc<lumon::streaming::Placement>]| -> Vec<SceneChange> {
            from.iter()
                .zip(to)
                .map(|(a, b)| SceneChange {
                    cause: ChangeCause::Edited,
                    before: Some(a.clone()),
                    after: Some(b.clone()),
                    before_box: None,
                    after_box: None,
                })
                .collect()
        };
    let forth = change(&cars, &moved);
    let back = change(&moved, &cars);
    let mut g = c.benchmark_group("voxel_edit");
    g.sample_size(30);
    g.bench_function("city_stress_100_placements", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let changes = if i % 2 == 0 { &forth } else { &back };
                let t = Instant::now();
                black_box(vw.apply(changes, &regions));
                total += t.elapsed();
            }
            if iters % 2 == 1 {
                vw.apply(&back, &regions);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, trace, voxel_edit);
criterion_main!(benches);
