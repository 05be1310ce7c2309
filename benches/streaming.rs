//! Streaming benchmarks (issue goals): client delta apply, region snapshot, and delta cost that follows the
//! changes rather than the world size.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use glam::{Vec2, Vec3};
use lumon::geom::Aabb;
use lumon::hash::Rng;
use lumon::streaming::*;
use rustc_hash::FxHashMap;

fn placement(i: usize, p: Vec3) -> Placement {
    Placement {
        placement_id: format!("p{i:08}"),
        asset_id: "box".into(),
        region_id: RegionId::new(0, 0),
        transform: Transform { position: p, rotation: Vec3::new(0.0, (i % 360) as f32, 0.0), scale: Vec3::ONE },
        tags: vec![],
        tint: Vec3::ONE,
        emission: 1.0,
        flags: flags::DEFAULT,
        is_valid: true,
        has_warnings: false,
    }
}

/// A server over `extent` metres square (64 m regions) holding `n` placements spread uniformly.
fn server(n: usize, extent: f32) -> StreamServer {
    let grid = RegionGrid::covering(64.0, Vec2::splat(-extent / 2.0), Vec2::splat(extent / 2.0));
    let mut s =
        StreamServer::new("bench", grid, ["box".to_string()], ServerConfig::default(), Arc::new(SimClock::new()));
    let mut rng = Rng::new(1);
    let h = extent / 2.0 - 0.01;
    s.load_initial((0..n).map(|i| placement(i, Vec3::new(rng.range_f32(-h, h), 0.0, rng.range_f32(-h, h)))).collect())
        .unwrap();
    s
}

/// `k` random edits: moves (some across regions), recolours, removals and additions (with fresh ids taken
/// from `next_id`).
fn churn(s: &StreamServer, n: usize, k: usize, extent: f32, seed: u64, next_id: &mut usize) -> Vec<Edit> {
    let mut rng = Rng::new(seed);
    let h = extent / 2.0 - 0.01;
    let mut used = std::collections::HashSet::new();
    let mut edits = Vec::with_capacity(k);
    while edits.len() < k {
        let i = rng.below(n as u64) as usize;
        if !used.insert(i) {
            continue;
        }
        let id = format!("p{i:08}");
        let Some(p) = s.placement(&id) else { continue };
        let roll = rng.below(10);
        edits.push(match roll {
            0..=4 => {
                let q = p.transform.position + Vec3::new(rng.range_f32(-20.0, 20.0), 0.0, rng.range_f32(-20.0, 20.0));
                let q = q.clamp(Vec3::new(-h, 0.0, -h), Vec3::new(h, 0.0, h));
                Edit::Update { id, patch: PlacementPatch { position: Some(q), ..Default::default() } }
            }
            5..=6 => Edit::Update {
                id,
                patch: PlacementPatch { tint: Some(Vec3::new(0.5, 0.2, 0.9)), ..Default::default() },
            },
            7 => Edit::Remove { id },
            _ => {
                *next_id += 1;
                Edit::Add(placement(*next_id, Vec3::new(rng.range_f32(-h, h), 0.0, rng.range_f32(-h, h))))
            }
        });
    }
    edits
}

fn client_apply(c: &mut Criterion) {
    // 40,000 placements in 512 m x 512 m; the client holds all 64 regions; the delta changes 10,000.
    let extent = 512.0;
    let mut s = server(40_000, extent);
    let mut bounds = FxHashMap::default();
    bounds.insert("box".to_string(), Aabb { min: Vec3::new(-1.0, 0.0, -1.0), max: Vec3::new(1.0, 3.0, 1.0) });
    let config =
        ClientConfig { interest_radius: 1000.0, leave_margin: 10.0, max_region_loads: 1000, count_bytes: false };
    let mut client = StreamingClient::new(config, *s.grid(), bounds);
    client.update_interest(&s, Vec3::ZERO).unwrap();
    let from = s.head();
    let edits = churn(&s, 40_000, 10_000, extent, 9, &mut 40_000);
    s.commit(edits).unwrap();
    let delta = s
        .get_world_delta(&GetWorldDeltaInput { from_cursor: from.to_string(), to_cursor: None, region_ids: None })
        .unwrap();
    let changed: usize = delta.regions.iter().map(|r| r.added.len() + r.updated.len() + r.removed.len()).sum();
    let mut g = c.benchmark_group("client_apply");
    g.throughput(Throughput::Elements(changed as u64));
    g.sample_size(30);
    g.bench_function("world_delta_10k_changes", |b| {
        b.iter_batched_ref(|| client.clone(), |cl| cl.apply_world_delta(&delta).unwrap(), BatchSize::LargeInput)
    });
    g.finish();
}

fn region_snapshot(c: &mut Criterion) {
    // One 64 m region holding 10,000 placements (640,000 over 512 m x 512 m).
    let s = server(640_000, 512.0);
    let snap = s.get_region_snapshot(&GetRegionSnapshotInput { region_id: "r0_0".into(), cursor: None }).unwrap();
    let n = snap.placements.len();
    assert!((9_000..11_000).contains(&n), "region holds {n}");
    let mut g = c.benchmark_group("region_snapshot");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("head_10k_placements", |b| {
        b.iter(|| s.get_region_snapshot(&GetRegionSnapshotInput { region_id: "r0_0".into(), cursor: None }).unwrap())
    });
    g.finish();
}

fn delta_cost_follows_changes(c: &mut Criterion) {
    let mut g = c.benchmark_group("world_delta_100_changes");
    for (n, extent) in [(10_000usize, 512.0f32), (1_000_000, 4096.0)] {
        let mut s = server(n, extent);
        let mut next_id = n;
        // Some history first, so the span sits in a log with other commits around it.
        for k in 0..20 {
            let e = churn(&s, n, 100, extent, 100 + k, &mut next_id);
            s.commit(e).unwrap();
        }
        let from = s.head();
        let e = churn(&s, n, 100, extent, 7, &mut next_id);
        s.commit(e).unwrap();
        let to = s.head();
        for k in 0..20 {
            let e = churn(&s, n, 100, extent, 200 + k, &mut next_id);
            s.commit(e).unwrap();
        }
        let input =
            GetWorldDeltaInput { from_cursor: from.to_string(), to_cursor: Some(to.to_string()), region_ids: None };
        g.bench_with_input(BenchmarkId::new("world_placements", n), &input, |b, input| {
            b.iter(|| s.get_world_delta(input).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, client_apply, region_snapshot, delta_cost_follows_changes);
criterion_main!(benches);
