//! GPU tests on whatever adapter exists (lavapipe here and in CI). Without an adapter they skip with a
//! message, unless `LUMON_REQUIRE_GPU=1`, which turns a missing adapter into a failure.

use std::sync::Arc;

use glam::UVec3;
use lumon::pipeline::{Pipeline, PipelineOptions};
use lumon::probes::manager::ProbeConfig;
use lumon::render::{gpu_required, Camera, FrameSettings, GpuContext, Renderer};
use lumon::voxel::Trace;
use lumon::world::{load_world, resolve_world, World};

fn context() -> Option<GpuContext> {
    match GpuContext::headless() {
        Ok(c) => Some(c),
        Err(e) if gpu_required() => panic!("LUMON_REQUIRE_GPU=1 and no adapter: {e}"),
        Err(e) => {
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

fn world(name: &str) -> Arc<World> {
    Arc::new(load_world(&resolve_world(name).expect("sample")).expect("loads"))
}

fn small_probes(w: &World) -> ProbeConfig {
    ProbeConfig { levels: 3, dims: UVec3::splat(16), base_spacing: w.probe_spacing, ..Default::default() }
}

#[test]
fn primary_rays_agree_with_the_cpu_tracer() {
    let Some(ctx) = context() else { return };
    for name in ["cornell", "valley"] {
        let w = world(name);
        let probes = small_probes(&w);
        let opts = PipelineOptions { threads: 1, cache_dir: None, disk_cap_bytes: 0, probes: probes.clone() };
        let mut p = Pipeline::new(w.clone(), &opts).expect("pipeline");
        let b = w.main_bookmark();
        let cam = Camera::new(b.position, b.yaw, b.pitch);
        let (width, height) = (48, 32);
        let mut r = Renderer::new(&ctx, width, height, &probes).expect("renderer");
        for _ in 0..30 {
            p.step(cam.position, true).expect("step");
            let topo = p.manager().topologies();
            r.prepare(&ctx, p.grid(), &topo, p.uploads(), &cam, &FrameSettings::default()).expect("prepare");
        }
        assert_eq!(r.pending_bricks(), 0);
        let gb = r.read_gbuffer(&ctx).expect("gbuffer");
        let (f, right, up) = cam.basis();
        let t = (cam.fov_y.to_radians() * 0.5).tan();
        let (mut agree, mut hits) = (0, 0);
        for y in 0..height {
            for x in 0..width {
                let nx = (x as f32 + 0.5) / width as f32 * 2.0 - 1.0;
                let ny = 1.0 - (y as f32 + 0.5) / height as f32 * 2.0;
                let dir = (f + right * (nx * t * width as f32 / height as f32) + up * (ny * t)).normalize();
                let cpu = match p.grid().trace(cam.position, dir, 1e4) {
                    Trace::Hit(h) => Some(h.dist),
                    _ => None,
                };
                let (gd, _) = gb[(x + y * width) as usize];
                let gpu = gd.is_finite().then_some(gd);
                hits += usize::from(cpu.is_some());
                let same = match (cpu, gpu) {
                    (Some(a), Some(b)) => (a - b).abs() < 0.02 * w.voxel_size.max(a * 1e-3),
                    (None, None) => true,
                    _ => false,
                };
                if !same {
                    eprintln!("{name} pixel {x},{y}: cpu {cpu:?} gpu {gpu:?}");
                }
                agree += usize::from(same);
            }
        }
        let n = (width * height) as usize;
        assert!(hits > n / 4, "{name}: {hits} hits");
        assert!(agree as f32 >= 0.99 * n as f32, "{name}: {agree} of {n} pixels agree");
    }
}
