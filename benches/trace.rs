//! Tracer benchmarks (issue goals).
//!
//! - `trace`: rays of up to 32 voxels from random probe-like origins of `valley`: 2,048 origins 1-4 m above the
//!   ground in open space, each casting 32 uniformly random directions (as a probe casts its ray set from one
//!   centre); throughput in rays. One thread and two threads, and one thread on the portable path (what a CPU
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
use lumon::voxel::{Trace, VoxelGrid, VoxelWorld};
use lumon::world::{load_world, resolve_world, World};
use rayon::prelude::*;

const ORIGINS: usize = 2048;
const RAYS_PER_ORIGIN: usize = 32;

fn load(name: &str) -> Arc<World> {
    Arc::new(load_world(&resolve_world(name).expect("sample world")).expect("loads"))
}

fn rays(grid: &VoxelGrid, world: &World) -> Vec<(Vec3, Vec3)> {
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
            out.push((o, Vec3::new(r * phi.cos(), u, r * phi.sin())));
        }
    }
    out
}

fn trace_all(grid: &VoxelGrid, rays: &[(Vec3, Vec3)], max: f32) -> usize {
    count_hits(rays, |o, d| grid.trace(o, d, max))
}

/// Rays that hit, traced by `trace` (the dispatching trace or one of its paths).
fn count_hits(rays: &[(Vec3, Vec3)], trace: impl Fn(Vec3, Vec3) -> Trace) -> usize {
    rays.iter().filter(|(o, d)| matches!(trace(*o, *d), Trace::Hit(_))).count()
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
    let rays = rays(&grid, &world);
    let max = 32.0 * world.voxel_size;
    let hits = trace_all(&grid, &rays, max);
    eprintln!("trace: {} of {} rays hit within 32 voxels", hits, rays.len());
    eprintln!(
        "trace: voxel level {}",
        if lumon::voxel::wide_voxel_level() { "wide (AVX-512, eight slabs at once)" } else { "portable" }
    );

    let mut g = c.benchmark_group("trace");
    g.throughput(Throughput::Elements(rays.len() as u64));
    g.sample_size(20);
    g.bench_function("valley_32_voxels/1_thread", |b| b.iter(|| black_box(trace_all(&grid, &rays, max))));
    g.bench_function("valley_32_voxels/1_thread_portable", |b| {
        b.iter(|| black_box(count_hits(&rays, |o, d| grid.trace_portable(o, d, max))))
    });
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    g.bench_function("valley_32_voxels/2_threads", |b| {
        b.iter(|| pool.install(|| rays.par_chunks(2048).map(|c| trace_all(&grid, c, max)).sum::<usize>()))
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
