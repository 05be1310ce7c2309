//! The voxel world against independent references: a brute-force voxelisation, a fine ray march, and a
//! from-scratch rebuild after random incremental edits. Plus copy-on-write and unknown (unstreamed) space.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use glam::{IVec3, Vec3};
use lumon::hash::Rng;
use lumon::streaming::{flags, ChangeCause, Placement, RegionId, SceneChange, Transform};
use lumon::voxel::{RayQuery, Trace, VoxelGrid, VoxelWorld};
use lumon::world::{load_world_str, World};
use proptest::prelude::*;
use serde_json::json;

/// 12 m x 12 m, 3 m regions, 0.25 m voxels, flat ground at y = 0.5, three shape assets.
fn small_world() -> Arc<World> {
    let v = json!({
        "format": 1, "name": "small", "purpose": "voxel tests", "seed": 5, "regionSize": 3.0, "voxelSize": 0.25,
        "bounds": {"min": [-6, -6], "max": [6, 6]},
        "terrain": {"kind": "flat", "height": 0.5, "material": "ground"},
        "materials": {
            "ground": {"albedo": [0.4, 0.4, 0.4]}, "red": {"albedo": [0.9, 0.1, 0.1]},
            "glow": {"albedo": [1, 1, 1], "emissive": [6, 5, 4]}
        },
        "assets": {
            "crate": {"shapes": [{"shape": "box", "min": [-0.6, 0, -0.4], "max": [0.6, 1.3, 0.4], "material": "red"}]},
            "post": {"shapes": [
                {"shape": "cylinder", "base": [0, 0, 0], "radius": 0.3, "height": 2.0, "material": "red"},
                {"shape": "sphere", "center": [0, 2.2, 0], "radius": 0.45, "material": "glow"}
            ]},
            "arch": {"shapes": [
                {"shape": "box", "min": [-1, 0, -0.3], "max": [1, 1.5, 0.3], "material": "red"},
                {"shape": "box", "min": [-0.5, 0, -0.5], "max": [0.5, 1.0, 0.5], "material": null}
            ]}
        },
        "placements": [{"id": "seed", "asset": "crate", "position": [0, 0.5, 0]}],
        "lights": {"sun": {"direction": [0.3, 1, 0.2], "color": [1, 1, 1], "intensity": 3},
                   "sky": {"zenith": [0.2, 0.3, 0.6], "horizon": [0.5, 0.5, 0.6], "ground": [0.1, 0.1, 0.1]}},
        "bookmarks": {"main": {"position": [0, 2, 5], "yaw": 0, "pitch": 0}}
    });
    Arc::new(load_world_str(&v.to_string(), Path::new("small.json")).unwrap())
}

fn all_regions(w: &World) -> BTreeSet<RegionId> {
    let g = w.grid();
    (g.min.0..g.max.0).flat_map(|x| (g.min.1..g.max.1).map(move |z| RegionId::new(x, z))).collect()
}

fn placement(id: usize, asset: &str, pos: Vec3, rot: Vec3, scale: Vec3) -> Arc<Placement> {
    Arc::new(Placement {
        placement_id: format!("p{id:03}"),
        asset_id: asset.into(),
        region_id: RegionId::new(0, 0),
        transform: Transform { position: pos, rotation: rot, scale },
        tags: vec![],
        tint: Vec3::new(1.0, 0.8, 0.6),
        emission: 1.0,
        flags: flags::DEFAULT,
        is_valid: true,
        has_warnings: false,
    })
}

fn add(p: &Arc<Placement>) -> SceneChange {
    SceneChange { cause: ChangeCause::Edited, before: None, after: Some(p.clone()), before_box: None, after_box: None }
}

/// Independent voxelisation: a voxel is solid when the terrain covers its centre or the last (by id) placement
/// whose asset contains the centre says so. Returns solid flags in grid order.
fn brute_force(w: &World, grid: &VoxelGrid, placements: &[Arc<Placement>]) -> Vec<bool> {
    let mut ps: Vec<&Arc<Placement>> = placements.iter().collect();
    ps.sort_by(|a, b| a.placement_id.cmp(&b.placement_id));
    let inv: Vec<_> = ps.iter().map(|p| p.transform.matrix().inverse()).collect();
    let d = grid.dims;
    let mut out = vec![false; (d.x * d.y * d.z) as usize];
    for z in 0..d.z {
        for y in 0..d.y {
            for x in 0..d.x {
                let c = grid.voxel_center(IVec3::new(x, y, z));
                let inside_world = c.x < w.bounds.1.x && c.z < w.bounds.1.y;
                let mut solid = inside_world && c.y < w.terrain.height(c.x, c.z).unwrap_or(f32::MIN);
                for (p, m) in ps.iter().zip(&inv) {
                    let a = &w.assets[&p.asset_id];
                    let local = m.transform_point3(c);
                    if a.bounds.min.cmple(local).all() && local.cmple(a.bounds.max).all() && a.sample(local).is_some() {
                        solid = true;
                    }
                }
                out[(x + d.x * (y + d.y * z)) as usize] = solid && inside_world;
            }
        }
    }
    out
}

fn solid_flags(grid: &VoxelGrid) -> Vec<bool> {
    let d = grid.dims;
    let mut out = vec![false; (d.x * d.y * d.z) as usize];
    for z in 0..d.z {
        for y in 0..d.y {
            for x in 0..d.x {
                out[(x + d.x * (y + d.y * z)) as usize] = grid.material(IVec3::new(x, y, z)).is_some();
            }
        }
    }
    out
}

fn random_placement() -> impl Strategy<Value = (u8, Vec3, Vec3, Vec3)> {
    (
        0u8..3,
        (-5.0f32..5.0, 0.0f32..1.5, -5.0f32..5.0).prop_map(|(x, y, z)| Vec3::new(x, y, z)),
        (-40.0f32..40.0, 0.0f32..360.0, -40.0f32..40.0).prop_map(|(x, y, z)| Vec3::new(x, y, z)),
        (0.5f32..1.8, 0.5f32..1.8, 0.5f32..1.8).prop_map(|(x, y, z)| Vec3::new(x, y, z)),
    )
}

fn make(i: usize, (a, pos, rot, scale): (u8, Vec3, Vec3, Vec3)) -> Arc<Placement> {
    placement(i, ["crate", "post", "arch"][a as usize], pos, rot, scale)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random adds, moves and removals applied incrementally give exactly the voxels of an independent
    /// brute-force voxelisation of the final placements.
    #[test]
    fn incremental_edits_match_brute_force(initial in prop::collection::vec(random_placement(), 1..6),
                                           edits in prop::collection::vec((0usize..8, prop::option::of(random_placement())), 1..8)) {
        let w = small_world();
        let regions = all_regions(&w);
        let mut vw = VoxelWorld::new(w.clone());
        let mut live: Vec<Arc<Placement>> = initial.into_iter().enumerate().map(|(i, s)| make(i, s)).collect();
        vw.apply(&live.iter().map(add).collect::<Vec<_>>(), &regions);
        let mut next = live.len();
        for (target, spec) in edits {
            let change = if live.is_empty() || target >= live.len() {
                let Some(s) = spec else { continue };
                let p = make(next, s);
                next += 1;
                live.push(p.clone());
                add(&p)
            } else {
                let old = live[target].clone();
                match spec {
                    Some(s) => {
                        let mut p = (*make(0, s)).clone();
                        p.placement_id = old.placement_id.clone();
                        let p = Arc::new(p);
                        live[target] = p.clone();
                        SceneChange { cause: ChangeCause::Edited, before: Some(old), after: Some(p), before_box: None, after_box: None }
                    }
                    None => {
                        live.remove(target);
                        SceneChange { cause: ChangeCause::Edited, before: Some(old), after: None, before_box: None, after_box: None }
                    }
                }
            };
            vw.apply(&[change], &regions);
        }
        let grid = vw.snapshot();
        let want = brute_force(&w, &grid, &live);
        let got = solid_flags(&grid);
        let wrong = want.iter().zip(&got).filter(|(a, b)| a != b).count();
        prop_assert_eq!(wrong, 0, "{} of {} voxels differ", wrong, got.len());
        prop_assert!(got.iter().any(|s| *s));
    }

    /// Every traced hit is the first solid voxel along the ray (checked by a fine march), and a miss crosses no
    /// solid voxel.
    #[test]
    fn traces_agree_with_a_fine_march(ps in prop::collection::vec(random_placement(), 1..6),
                                    rays in prop::collection::vec(((-5.5f32..5.5, 0.6f32..4.0, -5.5f32..5.5), (-1.0f32..1.0, -1.0f32..1.0, -1.0f32..1.0)), 32)) {
        let w = small_world();
        let mut vw = VoxelWorld::new(w.clone());
        let live: Vec<Arc<Placement>> = ps.into_iter().enumerate().map(|(i, s)| make(i, s)).collect();
        vw.apply(&live.iter().map(add).collect::<Vec<_>>(), &all_regions(&w));
        let grid = vw.snapshot();
        for ((ox, oy, oz), (dx, dy, dz)) in rays {
            let o = Vec3::new(ox, oy, oz);
            let d = Vec3::new(dx, dy, dz);
            if d.length() < 0.1 || grid.solid_at(o) {
                continue;
            }
            let d = d.normalize();
            let max = 20.0;
            let end = match grid.trace(o, d, max) {
                Trace::Hit(h) => {
                    prop_assert!(grid.material(h.voxel).is_some(), "hit voxel must be solid");
                    let entry = o + d * h.dist;
                    let box_lo = grid.origin + h.voxel.as_vec3() * grid.voxel_size;
                    prop_assert!((entry - box_lo).min_element() > -1e-3 && (entry - box_lo - Vec3::splat(grid.voxel_size)).max_element() < 1e-3,
                                 "hit point {entry} is not on voxel {:?}", h.voxel);
                    prop_assert!(h.normal.dot(d) < 0.0, "normal faces the ray");
                    h.dist - 1e-3
                }
                Trace::Miss { .. } => max,
                Trace::Unknown { .. } => { prop_assert!(false, "everything is loaded"); 0.0 }
            };
            let steps = (end / (grid.voxel_size * 0.02)) as usize;
            for i in 0..steps {
                let p = o + d * (i as f32 * grid.voxel_size * 0.02);
                prop_assert!(!grid.solid_at(p), "march finds solid at {p} before the tracer's answer ({end} m)");
            }
        }
    }
}

#[test]
fn snapshots_are_copy_on_write() {
    let w = small_world();
    let mut vw = VoxelWorld::new(w.clone());
    vw.load_everything();
    let before = vw.snapshot();
    let probe = Vec3::new(0.0, 1.0, 0.0);
    assert!(before.solid_at(probe), "the seed crate stands at the origin");
    let old = Arc::new(w.placements[0].clone());
    let edit = vw.apply(
        &[SceneChange {
            cause: ChangeCause::Edited,
            before: Some(old),
            after: None,
            before_box: None,
            after_box: None,
        }],
        &all_regions(&w),
    );
    assert!(
        edit.bricks_rebuilt > 0 && edit.bricks_rebuilt < 40,
        "only bricks in the crate's box: {}",
        edit.bricks_rebuilt
    );
    assert!(!vw.snapshot().solid_at(probe), "the new version lost the crate");
    assert!(before.solid_at(probe), "a worker's old snapshot still sees it");
    assert!(vw.snapshot().version > before.version);
}

#[test]
fn unstreamed_space_is_unknown_not_sky() {
    let w = small_world();
    let mut vw = VoxelWorld::new(w.clone());
    // Only the regions with x < 0 are streamed in.
    let half: BTreeSet<RegionId> = all_regions(&w).into_iter().filter(|r| r.x < 0).collect();
    vw.apply(&[], &half);
    let grid = vw.snapshot();
    let o = Vec3::new(-3.0, 2.0, 0.0);
    assert!(
        matches!(grid.trace(o, Vec3::X, 20.0), Trace::Unknown { dist } if (dist - 3.0).abs() < 0.3),
        "{:?}",
        grid.trace(o, Vec3::X, 20.0)
    );
    assert!(matches!(grid.trace(o, -Vec3::Y, 20.0), Trace::Hit(_)));
    assert!(matches!(grid.trace(o, Vec3::Y, 100.0), Trace::Miss { escaped: true }));
    assert!(!grid.known_at(Vec3::new(3.0, 2.0, 0.0)));
    // The ground of unloaded regions is gone too.
    assert!(!grid.solid_at(Vec3::new(3.0, 0.2, 0.0)));
    assert!(grid.solid_at(Vec3::new(-3.0, 0.2, 0.0)));
}

#[test]
fn tint_and_emission_are_baked_into_voxels() {
    let w = small_world();
    let mut vw = VoxelWorld::new(w.clone());
    let lamp = placement(1, "post", Vec3::new(2.0, 0.5, 2.0), Vec3::ZERO, Vec3::ONE);
    vw.apply(&[add(&lamp)], &all_regions(&w));
    let g = vw.snapshot();
    // The emitter index holds exactly the emissive voxels with a face on empty space.
    let indexed: BTreeSet<(i32, i32, i32)> =
        g.emitters.bricks().iter().flat_map(|b| b.voxels.iter().map(|v| (v.voxel.x, v.voxel.y, v.voxel.z))).collect();
    assert_eq!(indexed, open_emissive_voxels(&g), "emitter index");
    assert!(!indexed.is_empty());
    let head = g.material(g.voxel_of(Vec3::new(2.0, 2.7, 2.0))).unwrap();
    assert!(g.emissive.get(head.emissive_index()).x > 5.0);
    let pole = g.material(g.voxel_of(Vec3::new(2.0, 1.5, 2.0))).unwrap();
    assert_eq!(pole.emissive_index(), 0);
    // Albedo red 0.9 tinted by 1.0; green 0.1 tinted by 0.8.
    assert!((pole.albedo().x - 0.9).abs() < 0.02 && (pole.albedo().y - 0.08).abs() < 0.02, "{}", pole.albedo());
    let mut off = (*lamp).clone();
    off.emission = 0.0;
    vw.apply(
        &[SceneChange {
            cause: ChangeCause::Edited,
            before: Some(lamp),
            after: Some(Arc::new(off)),
            before_box: None,
            after_box: None,
        }],
        &all_regions(&w),
    );
    let g = vw.snapshot();
    assert_eq!(g.material(g.voxel_of(Vec3::new(2.0, 2.7, 2.0))).unwrap().emissive_index(), 0, "switched off");
    assert!(g.emitters.is_empty(), "a lamp switched off leaves the emitter index");
}

/// Brute force: every emissive voxel of the grid with an empty neighbour.
fn open_emissive_voxels(g: &VoxelGrid) -> BTreeSet<(i32, i32, i32)> {
    let mut out = BTreeSet::new();
    for z in 0..g.dims.z {
        for y in 0..g.dims.y {
            for x in 0..g.dims.x {
                let v = IVec3::new(x, y, z);
                let Some(m) = g.material(v) else { continue };
                if g.emissive.get(m.emissive_index()).max_element() <= 0.0 {
                    continue;
                }
                let open = [IVec3::X, IVec3::NEG_X, IVec3::Y, IVec3::NEG_Y, IVec3::Z, IVec3::NEG_Z]
                    .iter()
                    .any(|d| g.material(v + *d).is_none());
                if open {
                    out.insert((x, y, z));
                }
            }
        }
    }
    out
}

/// Axis-aligned and diagonal rays that start exactly on voxel and brick faces still hit what lies ahead (their
/// tiny direction components must not carry them past a brick they graze).
#[test]
fn rays_along_cell_faces_hit_what_is_ahead() {
    let mut vw = VoxelWorld::new(small_world());
    vw.load_everything();
    let grid = vw.snapshot();
    // The seed crate's voxels fill x and z in -0.5..0.5 and y in 0.5..1.75; x = z = 0 is a brick face.
    for x in [-0.25f32, 0.0, 0.25] {
        for z in [-0.25f32, 0.0, 0.25] {
            let down = grid.trace(Vec3::new(x, 3.0, z), -Vec3::Y, 10.0);
            match down {
                Trace::Hit(h) => {
                    assert!((h.dist - 1.25).abs() < 1e-3, "({x}, {z}) down: crate top 1.25 m below, got {}", h.dist);
                    assert_eq!(h.normal, Vec3::Y);
                }
                other => panic!("({x}, {z}) down: expected the crate top, got {other:?}"),
            }
            let side = grid.trace(Vec3::new(x, 1.0, -3.0), Vec3::Z, 10.0);
            assert!(
                matches!(side, Trace::Hit(h) if h.normal == -Vec3::Z && (h.dist - 2.5).abs() < 1e-3),
                "({x}, {z}) along +z: expected the crate's side, got {side:?}"
            );
        }
    }
    let diagonal = Vec3::new(1.0, -1.0, 1.0).normalize();
    let hit = grid.trace(Vec3::new(-1.0, 2.5, -1.0), diagonal, 10.0);
    assert!(matches!(hit, Trace::Hit(h) if grid.material(h.voxel).is_some()), "{hit:?}");
}

/// The trace's two paths (the wide voxel level on CPUs with AVX-512, the portable one elsewhere) give identical
/// results on every ray: origins inside and outside the grid, directions with zero and tiny components,
/// axis-aligned rays and origins on voxel faces, lengths from a hair to beyond the grid, in a world with
/// unstreamed regions. Needs AVX-512: on a CPU without it both calls take the portable path, so the test only
/// checks that the choice follows the CPU and says that it compared nothing.
#[test]
fn wide_and_portable_traces_are_identical() {
    let (grid, mut rng) = mixed_grid();
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        lumon::voxel::wide_voxel_level(),
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq")
    );
    if !lumon::voxel::wide_voxel_level() {
        eprintln!("no AVX-512 on this CPU: the wide path does not exist here, nothing to compare");
        return;
    }
    let (mut hits, mut unknown) = (0, 0);
    for r in mixed_rays(&grid, &mut rng, 40_000) {
        let (a, b) = (grid.trace(r.origin, r.dir, r.max_dist), grid.trace_portable(r.origin, r.dir, r.max_dist));
        assert_eq!(a, b, "ray {r:?}");
        hits += matches!(a, Trace::Hit(_)) as u32;
        unknown += matches!(a, Trace::Unknown { .. }) as u32;
    }
    assert!(hits > 5_000 && unknown > 1_000, "{hits} hits, {unknown} unknown");
}

/// 24 rotated, scaled placements in the small world, the regions with z >= 3 m unstreamed; and the random
/// sequence that placed them, to draw rays from.
fn mixed_grid() -> (Arc<VoxelGrid>, Rng) {
    let w = small_world();
    let mut vw = VoxelWorld::new(w.clone());
    let mut rng = Rng::new(11);
    let live: Vec<Arc<Placement>> = (0..24)
        .map(|i| {
            let pos = Vec3::new(rng.range_f32(-5.5, 5.5), rng.range_f32(0.0, 2.0), rng.range_f32(-5.5, 5.5));
            let rot = Vec3::new(rng.range_f32(-40.0, 40.0), rng.range_f32(0.0, 360.0), rng.range_f32(-40.0, 40.0));
            let scale = Vec3::splat(rng.range_f32(0.5, 1.8));
            placement(i, ["crate", "post", "arch"][i % 3], pos, rot, scale)
        })
        .collect();
    let streamed: BTreeSet<RegionId> = all_regions(&w).into_iter().filter(|r| r.z < 1).collect();
    vw.apply(&live.iter().map(add).collect::<Vec<_>>(), &streamed);
    (vw.snapshot(), rng)
}

/// Rays that probe a tracer's edge cases: origins inside and outside the grid, directions with zero, negative
/// zero and tiny components (also from origins on voxel faces), axis-aligned rays from origins on voxel faces,
/// lengths from a hair to beyond the grid.
fn mixed_rays(grid: &VoxelGrid, rng: &mut Rng, n: usize) -> Vec<RayQuery> {
    let mut rays = Vec::with_capacity(n);
    for i in 0..n {
        let mut o = Vec3::new(rng.range_f32(-8.0, 8.0), rng.range_f32(-1.0, 5.0), rng.range_f32(-8.0, 8.0));
        let mut d = Vec3::new(rng.range_f32(-1.0, 1.0), rng.range_f32(-1.0, 1.0), rng.range_f32(-1.0, 1.0));
        match i % 7 {
            0 => d[i % 3] = 0.0,
            1 => d[(i / 7) % 3] *= 1e-7,
            2 => {
                // Along an axis, from an origin on voxel faces.
                d = Vec3::ZERO;
                d[(i / 7) % 3] = if i % 2 == 0 { 1.0 } else { -1.0 };
                o = (o / grid.voxel_size).round() * grid.voxel_size;
            }
            3 => o = (o / grid.voxel_size).round() * grid.voxel_size,
            4 => {
                // From an origin on voxel faces, one component negative zero or far below a fixed-point step.
                o = (o / grid.voxel_size).round() * grid.voxel_size;
                d[(i / 7) % 3] = [-0.0, 1e-11, -1e-11, 3e-10, -3e-10][(i / 21) % 5];
            }
            _ => {}
        }
        if d.length() < 0.05 {
            continue;
        }
        rays.push(RayQuery { origin: o, dir: d.normalize(), max_dist: [0.01, 0.3, 2.0, 8.0, 40.0][i % 5] });
    }
    rays
}

/// The batch tracer (sixteen rays at once where the CPU can, a voxel DDA) gives exactly the per-ray trace's result
/// (the slab march) on every ray, edge cases included; results do not depend on how rays are split into batches.
#[test]
fn batch_and_per_ray_traces_agree() {
    let (grid, mut rng) = mixed_grid();
    if !grid.batch_lanes() {
        // Without AVX-512 `trace_batch` is `trace_batch_per_ray`: the batch march cannot run, so this checks
        // only the batch splitting below on the per-ray path.
        eprintln!("no AVX-512 on this CPU: the batch march does not run here; checking batch splitting only");
    }
    let rays = mixed_rays(&grid, &mut rng, 40_000);
    let (mut batch, mut per_ray) = (Vec::new(), Vec::new());
    grid.trace_batch(&rays, &mut batch);
    grid.trace_batch_per_ray(&rays, &mut per_ray);
    assert_eq!(batch.len(), rays.len());
    for (r, (a, b)) in rays.iter().zip(batch.iter().zip(&per_ray)) {
        assert_eq!(a, b, "ray {r:?}");
    }
    let kinds = |k: fn(&Trace) -> bool| batch.iter().filter(|t| k(t)).count();
    assert!(kinds(|t| matches!(t, Trace::Hit(_))) > 5_000, "enough hits");
    assert!(kinds(|t| matches!(t, Trace::Unknown { .. })) > 1_000, "enough unknown space");
    assert!(kinds(|t| matches!(t, Trace::Miss { escaped: true })) > 1_000, "enough escapes");
    assert!(kinds(|t| matches!(t, Trace::Miss { escaped: false })) > 1_000, "enough rays that run out");
    for size in [1, 15, 16, 17, 100] {
        let mut part = Vec::new();
        for (i, chunk) in rays.chunks(size).enumerate().take(200) {
            grid.trace_batch(chunk, &mut part);
            assert_eq!(part, batch[i * size..i * size + chunk.len()], "batches of {size}");
        }
    }
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        grid.batch_lanes(),
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq")
    );
}

/// The batch march reads the grid's ray index without bounds checks, so a grid whose public size no longer
/// matches its index is traced one ray at a time instead.
#[test]
fn a_grid_resized_by_hand_is_not_marched_in_lanes() {
    let (grid, _) = mixed_grid();
    let mut g = (*grid).clone();
    for dims in [IVec3::new(1 << 20, 32, 1 << 20), grid.dims + IVec3::new(4, 0, 0), IVec3::new(0, 32, 32)] {
        g.dims = dims;
        assert!(!g.batch_lanes(), "{dims}");
    }
    g.dims = grid.dims;
    assert_eq!(g.batch_lanes(), grid.batch_lanes());
}
