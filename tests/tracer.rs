//! Light, probe tracing and the reference integrator on analytic cases; determinism across thread counts.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use glam::Vec3;
use lumon::probes::*;
use lumon::streaming::RegionId;
use lumon::voxel::light::sun_irradiance;
use lumon::voxel::{IrradianceSource, NoIrradiance, VoxelGrid, VoxelWorld};
use lumon::world::{load_world, load_world_str, resolve_world, World};
use serde_json::{json, Value};

fn world(terrain: Value, shapes: Value, placements: Value, sky: f32, sun: Value) -> Arc<World> {
    let v = json!({
        "format": 1, "name": "analytic", "purpose": "tracer tests", "seed": 1, "regionSize": 4.0, "voxelSize": 0.25,
        "bounds": {"min": [-16, -16], "max": [16, 16]},
        "terrain": terrain,
        "materials": {"white": {"albedo": [0.5, 0.5, 0.5]}, "lamp": {"albedo": [1, 1, 1], "emissive": [10, 10, 10]}},
        "assets": {"shape": {"shapes": shapes}},
        "placements": placements,
        "lights": {"sun": sun, "sky": {"zenith": [sky, sky, sky], "horizon": [sky, sky, sky], "ground": [sky, sky, sky]}},
        "bookmarks": {"main": {"position": [0, 2, 5], "yaw": 0, "pitch": 0}}
    });
    Arc::new(load_world_str(&v.to_string(), Path::new("analytic.json")).unwrap())
}

fn grid_of(w: &Arc<World>) -> Arc<VoxelGrid> {
    let mut vw = VoxelWorld::new(w.clone());
    vw.load_everything();
    vw.snapshot()
}

fn job(p: Vec3, update: u32, rays: u32) -> TraceJob {
    TraceJob {
        key: 0,
        generation: 0,
        position: p,
        update_index: update,
        rays,
        max_distance: 64.0,
        ao_range: 2.0,
        previous: ProbePayload::default(),
        blend: BlendParams::default(),
        restart: false,
    }
}

fn fib(n: u32) -> Vec<Vec3> {
    ray_directions(Vec3::ZERO, 0, n).collect()
}

const NOTHING: fn() -> Value =
    || json!([{"shape": "box", "min": [0, 0, 0], "max": [0.1, 0.1, 0.1], "material": "white"}]);

#[test]
fn a_uniform_sky_gives_constant_irradiance_for_every_normal() {
    let w = world(json!({"kind": "none"}), NOTHING(), json!([]), 0.8, Value::Null);
    let g = grid_of(&w);
    let u = trace_probe(&g, &NoIrradiance, &job(Vec3::new(1.0, 3.0, 2.0), 0, 256));
    assert_eq!(u.known_fraction, 1.0);
    assert_eq!(u.sky_visibility, 1.0);
    for n in fib(32) {
        let e = u.sh.irradiance(n);
        assert!((e - Vec3::splat(0.8 * std::f32::consts::PI)).abs().max_element() < 0.03, "E({n}) = {e}");
    }
    let r = reference_irradiance(
        &g,
        Vec3::new(1.0, 3.0, 2.0),
        Vec3::Y,
        &ReferenceSettings { rays: 4096, ..Default::default() },
    );
    assert!((r.irradiance.x - 0.8 * std::f32::consts::PI).abs() < 0.01, "furnace: {}", r.irradiance);
}

#[test]
fn an_open_corner_points_its_ao_out_of_the_corner() {
    // Floor at y = 0, walls on the planes x = 0 and z = 0 (solid for x < 0 and z < 0).
    let walls = json!([
        {"shape": "box", "min": [-4, 0, -4], "max": [0, 6, 8], "material": "white"},
        {"shape": "box", "min": [-4, 0, -4], "max": [8, 6, 0], "material": "white"}
    ]);
    let w = world(
        json!({"kind": "flat", "height": 0.0, "material": "white"}),
        walls,
        json!([{"id": "corner", "asset": "shape", "position": [0, 0, 0]}]),
        1.0,
        Value::Null,
    );
    let g = grid_of(&w);
    let corner = trace_probe(&g, &NoIrradiance, &job(Vec3::new(0.5, 0.5, 0.5), 0, 512));
    let out = Vec3::ONE.normalize();
    assert!(corner.ao_direction.dot(out) > 0.9, "AO {} should point out of the corner", corner.ao_direction);
    assert!((0.125..0.45).contains(&corner.ao_open), "open fraction {}", corner.ao_open);
    let field = trace_probe(&g, &NoIrradiance, &job(Vec3::new(6.0, 0.5, 6.0), 0, 512));
    assert!(field.ao_direction.dot(Vec3::Y) > 0.9, "{}", field.ao_direction);
    assert!(
        field.ao_open > corner.ao_open + 0.15,
        "an open field is more open: {} vs {}",
        field.ao_open,
        corner.ao_open
    );
    assert!(field.sky_visibility > corner.sky_visibility);
    // Inside the wall.
    let solid = trace_probe(&g, &NoIrradiance, &job(Vec3::new(-1.0, 2.0, 2.0), 0, 64));
    assert!(solid.inside_solid);
    assert!(!blend(&ProbePayload::default(), &solid, &BlendParams::default(), false).usable());
}

#[test]
fn sun_light_is_shadowed_by_a_roof() {
    let roof = json!([{"shape": "box", "min": [-3, 3, -3], "max": [3, 3.5, 3], "material": "white"}]);
    let sun = json!({"direction": [0, 1, 0], "color": [1, 1, 1], "intensity": 5});
    let w = world(
        json!({"kind": "flat", "height": 0.0, "material": "white"}),
        roof,
        json!([{"id": "roof", "asset": "shape", "position": [0, 0, 0]}]),
        0.1,
        sun,
    );
    let g = grid_of(&w);
    assert_eq!(sun_irradiance(&g, Vec3::new(0.0, 0.05, 0.0), Vec3::Y), Vec3::ZERO);
    assert_eq!(sun_irradiance(&g, Vec3::new(8.0, 0.05, 8.0), Vec3::Y), Vec3::splat(5.0));
    assert_eq!(sun_irradiance(&g, Vec3::new(8.0, 0.05, 8.0), -Vec3::Y), Vec3::ZERO);
    // A probe's rays see the floor's sunlit radiance (albedo 0.5 / pi x 5) in the open and none under the roof,
    // where every floor point within its 1.5 m rays is in the roof's shadow.
    let probe = |p: Vec3| {
        let mut j = job(p, 0, 512);
        j.max_distance = 1.5;
        trace_probe(&g, &NoIrradiance, &j).sh.irradiance(-Vec3::Y).x
    };
    let (open, shaded) = (probe(Vec3::new(8.0, 0.5, 8.0)), probe(Vec3::new(0.0, 0.5, 0.0)));
    assert!(open > 1.0, "sunlit floor below an open probe: {open}");
    assert!(shaded < open * 0.2, "the roof's shadow below the covered probe: {shaded} vs {open}");
}

#[test]
fn the_reference_integrator_gets_one_bounce_off_a_floor_right() {
    // Uniform sky L above a floor of albedo a: facing up sees pi L; facing down sees the floor, whose radiance
    // is a L (it is lit by the sky only), so pi a L.
    let w = world(json!({"kind": "flat", "height": 0.0, "material": "white"}), NOTHING(), json!([]), 1.0, Value::Null);
    let g = grid_of(&w);
    let p = Vec3::new(0.5, 0.6, 0.5);
    let s = ReferenceSettings { rays: 4096, bounces: 3, ..Default::default() };
    let up = reference_irradiance(&g, p, Vec3::Y, &s).irradiance.x;
    let down = reference_irradiance(&g, p, -Vec3::Y, &s).irradiance.x;
    let pi = std::f32::consts::PI;
    assert!((up - pi).abs() < 0.03 * pi, "up {up}");
    let a = lumon::voxel::PackedMaterial::new(Vec3::splat(0.5), 0).albedo().x;
    assert!((down - pi * a).abs() < 0.05 * pi * a, "down {down} want {}", pi * a);
    // The probe at the same point: its L1 projection is right (the linear form is exact for light that varies as
    // a cosine, as a lit sky over a lit floor nearly does), and the non-linear form shading uses reads the sky
    // side as much as 17 % brighter, its known excess for light from a whole hemisphere (README).
    let u = trace_probe(&g, &NoIrradiance, &job(p, 0, 1024));
    let linear = u.sh.irradiance_raw(Vec3::Y).x;
    assert!((linear - up).abs() < 0.05 * up, "{linear} vs {up}");
    let shaded = u.sh.irradiance(Vec3::Y).x;
    assert!(shaded >= linear && shaded <= 1.2 * linear, "{shaded} vs linear {linear}");
}

struct Constant(Vec3);
impl IrradianceSource for Constant {
    fn irradiance(&self, _grid: &VoxelGrid, _p: Vec3, _n: Vec3) -> Option<Vec3> {
        Some(self.0)
    }
}

#[test]
fn known_irradiance_at_hits_adds_a_bounce() {
    // A closed dark box: only the irradiance source can light its walls.
    let shell = json!([
        {"shape": "box", "min": [-3, 0, -3], "max": [3, 6, 3], "material": "white"},
        {"shape": "box", "min": [-2, 1, -2], "max": [2, 5, 2], "material": null}
    ]);
    let w = world(
        json!({"kind": "none"}),
        shell,
        json!([{"id": "box", "asset": "shape", "position": [0, 0, 0]}]),
        1.0,
        Value::Null,
    );
    let g = grid_of(&w);
    let p = Vec3::new(0.1, 3.0, 0.2);
    let dark = trace_probe(&g, &NoIrradiance, &job(p, 0, 256));
    assert_eq!(dark.sh.irradiance(Vec3::Y), Vec3::ZERO, "no light reaches a closed box");
    let lit = trace_probe(&g, &Constant(Vec3::splat(2.0)), &job(p, 0, 256));
    // Walls reflect albedo / pi * 2 in every direction: irradiance pi * that = albedo * 2.
    let a = lumon::voxel::PackedMaterial::new(Vec3::splat(0.5), 0).albedo().x;
    assert!((lit.sh.irradiance(Vec3::X).x - 2.0 * a).abs() < 0.02, "{}", lit.sh.irradiance(Vec3::X));
}

#[test]
fn results_are_identical_for_one_and_two_threads() {
    let w = Arc::new(load_world(&resolve_world("cornell").unwrap()).unwrap());
    let g = grid_of(&w);
    let b = w.main_bookmark().position;
    let jobs: Vec<TraceJob> = (0..96u64)
        .map(|k| TraceJob {
            key: k,
            generation: 7,
            position: b + Vec3::new(
                (k % 4) as f32 * 0.4 - 1.0,
                (k / 16) as f32 * 0.3 - 1.0,
                ((k / 4) % 4) as f32 * 0.4 - 3.0,
            ),
            update_index: (k % 3) as u32,
            rays: 64,
            max_distance: 32.0,
            ao_range: 1.0,
            previous: ProbePayload::default(),
            blend: BlendParams::default(),
            restart: false,
        })
        .collect();
    let run = |threads: usize| {
        let pool = TracePool::new(threads).unwrap();
        pool.submit(g.clone(), Arc::new(NoIrradiance), jobs.clone());
        let mut batches = Vec::new();
        pool.wait_all(&mut batches);
        assert_eq!(pool.in_flight(), 0);
        let mut out: Vec<TraceResult> = batches.into_iter().flatten().collect();
        out.sort_by_key(|r| r.key);
        out
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one.len(), 96);
    assert_eq!(one, two, "payloads must not depend on the thread count");
    assert!(one.iter().any(|r| r.payload.sh.level() > 0.0), "cornell's panel lights the probes");
}

/// Submitting and draining return before the work is done (no wall-clock limit here: the render thread's
/// per-frame cost is measured by `lumon bench`, `gi_cpu_ms`).
#[test]
fn the_render_thread_never_waits_on_the_pool() {
    let w = Arc::new(load_world(&resolve_world("cornell").unwrap()).unwrap());
    let g = grid_of(&w);
    let pool = TracePool::new(1).unwrap();
    let jobs: Vec<TraceJob> =
        (0..400u64).map(|k| TraceJob { key: k, ..job(w.main_bookmark().position, k as u32, 256) }).collect();
    pool.submit(g, Arc::new(NoIrradiance), jobs);
    let mut out = Vec::new();
    pool.try_drain(&mut out);
    assert!(out.iter().map(Vec::len).sum::<usize>() < 400, "400 x 256 rays cannot be done already");
    pool.wait_all(&mut out);
    assert_eq!(out.iter().map(Vec::len).sum::<usize>(), 400);
}

#[test]
fn ray_sets_depend_only_on_position_and_update() {
    let a: Vec<Vec3> = ray_directions(Vec3::new(1.0, 2.0, 3.0), 4, 64).collect();
    let b: Vec<Vec3> = ray_directions(Vec3::new(1.0, 2.0, 3.0), 4, 64).collect();
    let c: Vec<Vec3> = ray_directions(Vec3::new(1.0, 2.0, 3.0), 5, 64).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mean: Vec3 = a.iter().sum::<Vec3>() / 64.0;
    assert!(mean.length() < 0.05, "the set is balanced over the sphere: {mean}");
    assert!(a.iter().all(|d| (d.length() - 1.0).abs() < 1e-5));
}

#[test]
fn regions_not_streamed_lower_what_probes_know() {
    let w = Arc::new(load_world(&resolve_world("valley").unwrap()).unwrap());
    let mut vw = VoxelWorld::new(w.clone());
    let only: BTreeSet<RegionId> = [RegionId::new(0, 0)].into();
    vw.apply(&[], &only);
    let g = vw.snapshot();
    let u = trace_probe(&g, &NoIrradiance, &job(Vec3::new(16.0, 30.0, 16.0), 0, 256));
    assert!(u.known_fraction < 1.0 && u.known_fraction > 0.0, "{}", u.known_fraction);
    let p = blend(&ProbePayload::default(), &u, &BlendParams::default(), false);
    assert!(p.confidence < 0.25, "partial knowledge is not confidence: {}", p.confidence);
}

/// Probes traced together (one batch of rays for all, then one of shadow rays, as the pool's workers do) get
/// exactly the results they get traced one at a time: in the open, under a roof (shadowed sun), inside the roof
/// (a probe in a solid), with different ray counts and lengths.
#[test]
fn probes_traced_together_match_probes_traced_alone() {
    let roof = json!([{"shape": "box", "min": [-3, 3, -3], "max": [3, 3.5, 3], "material": "white"}]);
    let sun = json!({"direction": [0.3, 1, 0.2], "color": [1, 1, 1], "intensity": 5});
    let w = world(
        json!({"kind": "flat", "height": 0.0, "material": "white"}),
        roof,
        json!([{"id": "roof", "asset": "shape", "position": [0, 0, 0]}]),
        0.3,
        sun,
    );
    let g = grid_of(&w);
    let mut rng = lumon::hash::Rng::new(4);
    let jobs: Vec<TraceJob> = (0..40)
        .map(|i| {
            let p = match i % 4 {
                0 => Vec3::new(0.0, 3.2, 0.0),
                1 => Vec3::new(rng.range_f32(-2.5, 2.5), rng.range_f32(0.3, 2.8), rng.range_f32(-2.5, 2.5)),
                _ => Vec3::new(rng.range_f32(-12.0, 12.0), rng.range_f32(0.3, 6.0), rng.range_f32(-12.0, 12.0)),
            };
            let mut j = job(p, i, [16, 64, 100][i as usize % 3]);
            j.max_distance = [4.0, 16.0, 64.0][i as usize % 3];
            j
        })
        .collect();
    let indirect = Constant(Vec3::new(0.5, 0.4, 0.3));
    let together = trace_probes(&g, &indirect, &jobs);
    let alone: Vec<UpdateResult> = jobs.iter().map(|j| trace_probe(&g, &indirect, j)).collect();
    assert_eq!(together, alone);
    assert!(together.iter().filter(|u| u.inside_solid).count() >= 10, "probes inside the roof");
    let lit = |u: &UpdateResult| u.rays > 0 && u.sh.irradiance(Vec3::Y).x > 0.0;
    assert!(together.iter().filter(|u| lit(u)).count() >= 20);
}

/// A lamp (emissive box) 2.5 m above a floor, and a probe between them.
fn lamp_world() -> Arc<World> {
    let shapes = json!([{"shape": "box", "min": [-0.4, 0, -0.3], "max": [0.4, 0.25, 0.3], "material": "lamp"}]);
    world(
        json!({"kind": "flat", "height": 0.0, "material": "white"}),
        shapes,
        json!([{"id": "lamp", "asset": "shape", "position": [0.3, 2.5, -0.2]}]),
        0.0,
        Value::Null,
    )
}

/// Mean SH of `n` updates of a probe at `p`.
fn mean_sh(g: &VoxelGrid, p: Vec3, n: u32) -> ShL1 {
    let mut sum = ShL1::default();
    for k in 0..n {
        let u = trace_probe(g, &NoIrradiance, &job(p, k, 64));
        for (a, b) in sum.c.iter_mut().zip(u.sh.c) {
            *a += b / n as f32;
        }
    }
    sum
}

#[test]
fn lamps_sampled_directly_give_the_light_that_rays_find_by_chance() {
    // The same SH projection estimated two ways: with points drawn on the lamp (next-event estimation, what the
    // probes do) and with plain rays that count the lamp's emission where they happen to hit it (the grid's
    // emitter index emptied). Both are unbiased; the direct one needs far fewer rays.
    let w = lamp_world();
    let g = grid_of(&w);
    assert!(!g.emitters.is_empty());
    let mut plain = (*g).clone();
    plain.emitters = Arc::new(lumon::voxel::Emitters::default());
    let p = Vec3::new(-0.2, 1.0, 0.4);
    let direct = mean_sh(&g, p, 400);
    let chance = mean_sh(&plain, p, 10_000);
    let rel = |a: f32, b: f32| (a - b).abs() / b.abs().max(1e-6);
    assert!(rel(direct.c[0].x, chance.c[0].x) < 0.05, "L00 {} vs {}", direct.c[0].x, chance.c[0].x);
    let (l1d, l1c) = (direct.l1(0), chance.l1(0));
    assert!((l1d - l1c).length() < 0.08 * l1c.length(), "L1 {l1d} vs {l1c}");
    // And the lamp's irradiance on an upward-facing floor point agrees with the reference integrator.
    let floor = Vec3::new(-0.2, 0.05, 0.4);
    let s = ReferenceSettings { rays: 65536, bounces: 1, ..Default::default() };
    let reference = reference_irradiance(&g, floor, Vec3::Y, &s).irradiance.x;
    let probe = mean_sh(&g, floor + Vec3::Y * 0.1, 100).irradiance(Vec3::Y).x;
    assert!(rel(probe, reference) < 0.1, "probe {probe} vs reference {reference}");
}

#[test]
fn one_update_of_a_probe_under_a_small_lamp_is_not_blind_to_it() {
    // A small lamp seen by about one ray in a thousand: every update still carries its light (points on the lamp are
    // drawn directly), so one update's error is small and no update reads zero.
    let w = lamp_world();
    let g = grid_of(&w);
    let p = Vec3::new(4.0, 0.2, 3.0);
    let mean = mean_sh(&g, p, 200).c[0].x;
    let mut sq = 0.0f32;
    for k in 0..50 {
        let u = trace_probe(&g, &NoIrradiance, &job(p, k, 64));
        let d = u.sh.c[0].x / mean - 1.0;
        assert!(d.abs() < 0.5, "update {k}: L00 {} vs mean {mean}", u.sh.c[0].x);
        sq += d * d / 50.0;
    }
    assert!(sq.sqrt() < 0.2, "one update's relative error {}", sq.sqrt());
}

/// A lamp (a 0.75 x 0.25 x 0.5 m emissive box) over a black floor in a black sky, and a black slab that shades
/// part of the floor: all the light is the lamp's direct light.
fn black_lamp_world() -> Arc<World> {
    let v = json!({
        "format": 1, "name": "lamp", "purpose": "emitter light tests", "seed": 1, "regionSize": 4.0,
        "voxelSize": 0.25, "bounds": {"min": [-16, -16], "max": [16, 16]},
        "terrain": {"kind": "flat", "height": 0.0, "material": "black"},
        "materials": {"black": {"albedo": [0, 0, 0]}, "lamp": {"albedo": [0, 0, 0], "emissive": [10, 8, 6]}},
        "assets": {
            "lamp": {"shapes": [{"shape": "box", "min": [0, 0, 0], "max": [0.75, 0.25, 0.5], "material": "lamp"}]},
            "slab": {"shapes": [{"shape": "box", "min": [0, 0, 0], "max": [4, 0.25, 2], "material": "black"}]}
        },
        "placements": [
            {"id": "lamp", "asset": "lamp", "position": [0, 3, 0]},
            {"id": "slab", "asset": "slab", "position": [2, 1.5, 0]}
        ],
        "lights": {"sky": {"zenith": [0, 0, 0], "horizon": [0, 0, 0], "ground": [0, 0, 0]}},
        "bookmarks": {"main": {"position": [0, 2, 5], "yaw": 0, "pitch": 0}}
    });
    Arc::new(load_world_str(&v.to_string(), Path::new("lamp.json")).unwrap())
}

#[test]
fn emitters_light_surfaces_directly_as_the_reference_finds() {
    let g = grid_of(&black_lamp_world());
    let lights: usize = g.emitters.bricks().iter().map(|b| b.lights.len()).sum();
    assert!(lights >= 6, "a box lamp shows six faces: {lights} lights");
    let s = ReferenceSettings { rays: 65536, bounces: 1, ..Default::default() };
    let c = Vec3::new(0.375, 3.125, 0.25);
    // Points: far and near below the lamp facing up, beside it facing it, on the floor seen at a slant, the
    // floor under the slab (shadowed), and a normal turned away from the lamp.
    let cases = [
        (Vec3::new(0.375, 0.05, 0.25), Vec3::Y, 0.05),
        (Vec3::new(0.375, 2.3, 0.25), Vec3::Y, 0.15),
        (c + Vec3::new(-2.0, 0.0, 0.0), Vec3::X, 0.05),
        (Vec3::new(-3.0, 0.05, -2.0), Vec3::Y, 0.08),
        (Vec3::new(5.0, 0.05, 1.0), Vec3::Y, 0.0),
        (Vec3::new(0.375, 1.0, 0.25), -Vec3::Y, 0.0),
    ];
    for (p, n, tolerance) in cases {
        let direct = lumon::voxel::emitter_irradiance(&g, p, n);
        let truth = reference_irradiance(&g, p, n, &s).irradiance;
        eprintln!("{p} {n}: direct {direct} reference {truth}");
        if tolerance == 0.0 {
            assert_eq!(direct, Vec3::ZERO, "{p} {n}: no light arrives, reference {truth}");
            assert!(truth.max_element() < 1e-6);
        } else {
            let rel = (direct - truth).abs().max_element() / truth.max_element();
            assert!(rel < tolerance, "{p} {n}: direct {direct} vs reference {truth} ({rel})");
        }
    }
}

#[test]
fn probes_keep_the_emitters_direct_light_apart_for_shading() {
    // All the light at a probe in the lamp world comes straight from the lamp: shading reads none of it from
    // the probe (it lights surfaces with the lamp itself), the multi-bounce lookup reads all of it.
    let g = grid_of(&black_lamp_world());
    let mut payload = ProbePayload::default();
    for k in 0..8 {
        let u = trace_probe(&g, &NoIrradiance, &job(Vec3::new(-2.0, 1.5, 2.0), k, 64));
        payload = blend(&payload, &u, &BlendParams::default(), false);
    }
    assert!(payload.sh.level() > 0.05, "{:?}", payload.sh);
    assert!(payload.shading_sh().level().abs() < 1e-4 * payload.sh.level(), "{:?}", payload.shading_sh());
}
