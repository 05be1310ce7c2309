//! GPU tests on whatever adapter exists (lavapipe here and in CI). Without an adapter they skip with a
//! message, unless `LUMON_REQUIRE_GPU=1`, which turns a missing adapter into a failure.

mod common;

use std::sync::Arc;

use common::gpu::context;
use glam::{UVec3, Vec3};
use image::RgbaImage;
use lumon::capture::{capture, CaptureOptions};
use lumon::pipeline::{Pipeline, PipelineOptions, INTEREST_RADIUS};
use lumon::probes::manager::ProbeConfig;
use lumon::render::{Camera, DebugView, FrameSettings, GiMode, GpuContext, Renderer};
use lumon::voxel::Trace;
use lumon::world::{load_world, resolve_world, World};

fn world(name: &str) -> Arc<World> {
    Arc::new(load_world(&resolve_world(name).expect("sample")).expect("loads"))
}

/// A one-thread pipeline with the tests' streaming radius.
fn pipeline(w: &Arc<World>, probes: &ProbeConfig) -> Pipeline {
    let opts = PipelineOptions {
        threads: 1,
        cache_dir: None,
        disk_cap_bytes: 0,
        probes: probes.clone(),
        interest_radius: INTEREST_RADIUS,
    };
    Pipeline::new(w.clone(), &opts).expect("pipeline")
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
        let mut p = pipeline(&w, &probes);
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

fn capture_opts(w: &World, bookmark: &str, gi: GiMode, view: DebugView) -> CaptureOptions {
    let b = w.bookmarks[bookmark];
    CaptureOptions {
        camera: Camera::new(b.position, b.yaw, b.pitch),
        settings: FrameSettings { gi, view, ..FrameSettings::default() },
        converge_frames: 600,
        time: 0.0,
        width: 96,
        height: 72,
        threads: 1,
        cache_dir: None,
        probes: small_probes(w),
        timed_frames: 0,
    }
}

fn shoot(ctx: &GpuContext, w: &Arc<World>, bookmark: &str, gi: GiMode, view: DebugView) -> RgbaImage {
    let (img, report) = capture(ctx, w.clone(), &capture_opts(w, bookmark, gi, view)).expect("capture");
    eprintln!("{} {bookmark} {gi}: {} frames, L0 converged {:.2}", w.name, report.frames, report.converged_l0);
    img
}

fn srgb_to_linear(c: u8) -> f32 {
    let c = f32::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Mean linear RGB over a pixel box `[x0, x1) x [y0, y1)`.
fn mean_rgb(img: &RgbaImage, x0: u32, x1: u32, y0: u32, y1: u32) -> [f32; 3] {
    let mut s = [0.0f32; 3];
    let mut n = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y);
            for (a, c) in s.iter_mut().zip(p.0) {
                *a += srgb_to_linear(c);
            }
            n += 1.0;
        }
    }
    s.map(|v| v / n)
}

fn luminance(c: [f32; 3]) -> f32 {
    0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
}

/// Compares with the golden image `tests/golden/NAME.png` by mean FLIP error. On failure the actual image and a
/// FLIP heat map are written next to it. A missing golden image fails the test; `LUMON_BLESS=1` writes (or
/// replaces) it instead of comparing.
fn golden(name: &str, img: &RgbaImage) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden");
    let path = dir.join(format!("{name}.png"));
    if std::env::var("LUMON_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(&dir).expect("golden dir");
        img.save(&path).expect("write golden");
        eprintln!("blessed golden image {}", path.display());
        return;
    }
    if !path.exists() {
        img.save(dir.join(format!("{name}.actual.png"))).ok();
        panic!(
            "{name}: the golden image {} is missing (the image drawn is next to it as {name}.actual.png); \
             look at it, then run with LUMON_BLESS=1 to make it the golden image",
            path.display()
        );
    }
    let reference = image::open(&path).expect("golden image reads").to_rgb8();
    let actual = image::DynamicImage::ImageRgba8(img.clone()).to_rgb8();
    assert_eq!(reference.dimensions(), actual.dimensions(), "{name}: size differs from the golden image");
    let (w, h) = actual.dimensions();
    let r = nv_flip::FlipImageRgb8::with_data(w, h, reference.as_raw());
    let a = nv_flip::FlipImageRgb8::with_data(w, h, actual.as_raw());
    let err = nv_flip::flip(r, a, nv_flip::DEFAULT_PIXELS_PER_DEGREE);
    let mean = nv_flip::FlipPool::from_image(&err).mean();
    if mean > GOLDEN_MAX_FLIP {
        img.save(dir.join(format!("{name}.actual.png"))).expect("write actual");
        let heat = err.apply_color_lut(&nv_flip::magma_lut());
        image::RgbImage::from_raw(w, h, heat.to_vec())
            .expect("heat map")
            .save(dir.join(format!("{name}.diff.png")))
            .expect("write diff");
        panic!("{name}: mean FLIP {mean:.4} above {GOLDEN_MAX_FLIP} (actual and diff written next to the golden)");
    }
}

/// Mean FLIP a capture may differ from its golden image by (lavapipe builds and CPUs round differently).
const GOLDEN_MAX_FLIP: f32 = 0.05;

#[test]
fn cornell_probes_bleed_red_onto_the_floor_and_match_golden_images() {
    let Some(ctx) = context() else { return };
    let w = world("cornell");
    let off = shoot(&ctx, &w, "main", GiMode::Off, DebugView::Lit);
    let probes = shoot(&ctx, &w, "main", GiMode::Probes, DebugView::Lit);
    // The floor beside the red wall (left, bottom rows).
    let (ow, oh) = off.dimensions();
    let floor = |img: &RgbaImage| mean_rgb(img, 0, ow / 3, oh * 5 / 6, oh);
    let (a, b) = (floor(&off), floor(&probes));
    let redness = |c: [f32; 3]| c[0] / c[1].max(1e-6);
    assert!(redness(b) > redness(a) * 1.15, "floor by the red wall: off {a:?}, probes {b:?}");
    assert!(luminance(b) > 0.01, "the floor is lit with probes: {b:?}");
    golden("cornell-off", &off);
    golden("cornell-probes", &probes);
}

#[test]
fn the_sealed_room_stays_dark_and_matches_golden_images() {
    let Some(ctx) = context() else { return };
    let w = world("leak-test");
    let inside = shoot(&ctx, &w, "main", GiMode::Probes, DebugView::Lit);
    let outside = shoot(&ctx, &w, "outside", GiMode::Probes, DebugView::Lit);
    let outside_off = shoot(&ctx, &w, "outside", GiMode::Off, DebugView::Lit);
    let (iw, ih) = inside.dimensions();
    let lin = luminance(mean_rgb(&inside, 0, iw, 0, ih));
    let lout = luminance(mean_rgb(&outside, 0, iw, 0, ih));
    assert!(lout > 0.05, "the outside is sunlit: {lout}");
    assert!(lin <= 0.03 * lout, "inside {lin} vs outside {lout}: light leaks into the sealed room");
    golden("leak-test-inside-probes", &inside);
    golden("leak-test-outside-probes", &outside);
    golden("leak-test-outside-off", &outside_off);
}

/// After a teleport, a frame whose uploads are cut short by the budget shows exactly what a renderer that
/// never held the old probes shows: no recycled slot shows the evicted probe's data.
#[test]
fn a_teleport_never_shows_evicted_probes() {
    let Some(ctx) = context() else { return };
    let w = world("valley");
    let mut probes = small_probes(&w);
    probes.upload_budget_bytes = 64 * 32;
    let mut p = pipeline(&w, &probes);
    // From the hills (probes high in the air) to the main bookmark (near the ground, where probes light what
    // is seen): every level is renewed.
    let a = w.bookmarks["hills"];
    let b = w.bookmarks["main"];
    let cam_a = Camera::new(a.position, a.yaw, a.pitch);
    let cam_b = Camera::new(b.position, b.yaw, b.pitch);
    let settings = FrameSettings::default();
    let mut old = Renderer::new(&ctx, 64, 48, &probes).expect("renderer");
    for _ in 0..120 {
        p.step(cam_a.position, true).expect("step");
        let topo = p.manager().topologies();
        old.prepare(&ctx, p.grid(), &topo, p.uploads(), &cam_a, &settings).expect("prepare");
    }
    assert!(p.manager().stats().levels[0].valid_fraction > 0.5, "level 0 holds probes before the teleport");
    let mut fresh = Renderer::new(&ctx, 64, 48, &probes).expect("renderer");
    for _ in 0..40 {
        p.step(cam_b.position, true).expect("step");
        let topo = p.manager().topologies();
        old.prepare(&ctx, p.grid(), &topo, &[], &cam_b, &settings).expect("prepare");
        fresh.prepare(&ctx, p.grid(), &topo, &[], &cam_b, &settings).expect("prepare");
    }
    // The uploads handed out since arriving at B were withheld from both; now one budget's worth reaches both.
    p.step(cam_b.position, true).expect("step");
    let topo = p.manager().topologies();
    assert!(p.manager().pending_uploads() > 0, "the budget holds uploads back");
    old.prepare(&ctx, p.grid(), &topo, p.uploads(), &cam_b, &settings).expect("prepare");
    fresh.prepare(&ctx, p.grid(), &topo, p.uploads(), &cam_b, &settings).expect("prepare");
    assert_eq!(old.pending_bricks(), 0);
    let (x, y) = (old.read_image(&ctx).expect("image"), fresh.read_image(&ctx).expect("image"));
    assert!(x == y, "the renderer that held the old probes shows something else");
}

/// The WGSL reconstruction (`sh_irradiance`) gives what `ShL1::irradiance` gives.
#[test]
fn wgsl_reconstruction_agrees_with_rust() {
    let Some(ctx) = context() else { return };
    let mut rng = lumon::hash::Rng::new(7);
    let mut cases = Vec::new();
    for i in 0..256 {
        let mut sh = lumon::probes::sh::ShL1::default();
        for c in sh.c.iter_mut() {
            *c = Vec3::new(rng.next_f32() * 2.0 - 1.0, rng.next_f32() * 2.0 - 1.0, rng.next_f32() * 2.0 - 1.0);
        }
        sh.c[0] = sh.c[0].abs() * if i % 7 == 0 { 0.0 } else { 1.0 };
        let n = Vec3::new(rng.next_f32() - 0.5, rng.next_f32() - 0.5, rng.next_f32() - 0.5).normalize_or(Vec3::Y);
        cases.push((sh, n));
    }
    let mut input: Vec<[f32; 4]> = Vec::new();
    for (sh, n) in &cases {
        for c in sh.c {
            input.push([c.x, c.y, c.z, 0.0]);
        }
        input.push([n.x, n.y, n.z, 0.0]);
    }
    let src = format!(
        "{}\n@group(0) @binding(0) var<uniform> frame: FrameUniform;\n\
         @group(0) @binding(1) var<storage, read> cases: array<vec4<f32>>;\n\
         @group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;\n\
         @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {{\n\
           if id.x >= arrayLength(&out) {{ return; }}\n\
           let b = id.x * 5u;\n\
           out[id.x] = vec4<f32>(sh_irradiance(cases[b].xyz, cases[b + 1u].xyz, cases[b + 2u].xyz, cases[b + 3u].xyz, cases[b + 4u].xyz), 0.0);\n\
         }}\n",
        lumon::render::shaders::library_source()
    );
    let got = run_compute(&ctx, &src, bytemuck::cast_slice(&input), cases.len());
    for ((sh, n), g) in cases.iter().zip(got) {
        let want = sh.irradiance(*n);
        let g = Vec3::new(g[0], g[1], g[2]);
        assert!(
            (g - want).abs().max_element() <= 1e-4 + 1e-4 * want.abs().max_element(),
            "{sh:?} {n}: wgsl {g}, rust {want}"
        );
        assert!(g.min_element() >= 0.0);
    }
}

/// Runs a one-entry compute shader over `inputs` (binding 1) writing `n` vec4s (binding 2); the frame uniform
/// it declares is unused, so the automatic layout leaves it out.
fn run_compute(ctx: &GpuContext, src: &str, inputs: &[u8], n: usize) -> Vec<[f32; 4]> {
    use wgpu::util::DeviceExt;
    let d = &ctx.device;
    let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("test"),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let pipeline = d.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("test"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let input = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: inputs,
        usage: wgpu::BufferUsages::STORAGE,
    });
    let size = (n * 16) as u64;
    let out = d.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let read = d.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bg = d.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry { binding: 1, resource: input.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 2, resource: out.as_entire_binding() },
        ],
    });
    let mut enc = d.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups((n as u32).div_ceil(64), 1, 1);
    }
    enc.copy_buffer_to_buffer(&out, 0, &read, 0, size);
    ctx.queue.submit([enc.finish()]);
    read.slice(..).map_async(wgpu::MapMode::Read, |_| {});
    ctx.wait().expect("poll");
    let data = read.slice(..).get_mapped_range().expect("mapped").to_vec();
    bytemuck::cast_slice(&data).to_vec()
}

/// `village-night`: the road lamp switched on through the stream (at t = 2 s) brightens the road in view within
/// 60 frames.
#[test]
fn a_lamp_switched_on_through_the_stream_brightens_the_road_within_60_frames() {
    let Some(ctx) = context() else { return };
    let w = world("village-night");
    let probes = small_probes(&w);
    let mut p = pipeline(&w, &probes);
    // Looking along the road at lamp-road-1 (x 2.5, z 34), down at the road before it.
    let cam = Camera::new(Vec3::new(2.5, 2.0, 29.0), 180.0, -25.0);
    let settings = FrameSettings::default();
    let mut r = Renderer::new(&ctx, 64, 48, &probes).expect("renderer");
    let step = |p: &mut Pipeline, r: &mut Renderer| {
        p.step(cam.position, true).expect("step");
        let topo = p.manager().topologies();
        r.prepare(&ctx, p.grid(), &topo, p.uploads(), &cam, &settings).expect("prepare");
    };
    while p.time() < 2.0 - 0.5 / lumon::pipeline::FPS {
        step(&mut p, &mut r);
    }
    let road = |img: &RgbaImage| luminance(mean_rgb(img, 0, 64, 24, 48));
    let before = road(&r.read_image(&ctx).expect("image"));
    for _ in 0..60 {
        step(&mut p, &mut r);
    }
    let after = road(&r.read_image(&ctx).expect("image"));
    eprintln!("road luminance {before} -> {after}");
    assert!(after > 1.5 * before.max(1e-4), "the lamp brightens the road within 60 frames: {before} -> {after}");
}

/// The lighting pass sums the emitter lights as `voxel::emitter_irradiance` does: `village-night`'s irradiance
/// view with GI off, less the same view with the emitter index emptied, against the CPU per pixel.
#[test]
fn the_lighting_pass_lights_surfaces_with_the_emitters_as_the_cpu_does() {
    let Some(ctx) = context() else { return };
    let w = world("village-night");
    let probes = small_probes(&w);
    let mut p = pipeline(&w, &probes);
    let b = w.main_bookmark();
    let cam = Camera::new(b.position, b.yaw, b.pitch);
    let (width, height) = (64, 36);
    let mut r = Renderer::new(&ctx, width, height, &probes).expect("renderer");
    let settings = FrameSettings { gi: GiMode::Off, view: DebugView::Irradiance, ..FrameSettings::default() };
    for _ in 0..30 {
        p.step(cam.position, true).expect("step");
        let topo = p.manager().topologies();
        r.prepare(&ctx, p.grid(), &topo, p.uploads(), &cam, &settings).expect("prepare");
    }
    assert_eq!(r.pending_bricks(), 0);
    let grid = p.grid().clone();
    let topo = p.manager().topologies();
    let lit = r.read_hdr(&ctx).expect("hdr");
    let surfaces = r.read_surfaces(&ctx).expect("surfaces");
    let mut dark_grid = (*grid).clone();
    dark_grid.emitters = Arc::new(lumon::voxel::Emitters::default());
    r.prepare(&ctx, &dark_grid, &topo, &[], &cam, &settings).expect("prepare");
    let dark = r.read_hdr(&ctx).expect("hdr");
    let (f, right, up) = cam.basis();
    let t = (cam.fov_y.to_radians() * 0.5).tan();
    let lum = |v: Vec3| (v.x + v.y + v.z) / 3.0;
    let (mut lit_pixels, mut agree) = (0, 0);
    for y in 0..height {
        for x in 0..width {
            let i = (x + y * width) as usize;
            let Some(hit) = surfaces[i] else { continue };
            let nx = (x as f32 + 0.5) / width as f32 * 2.0 - 1.0;
            let ny = 1.0 - (y as f32 + 0.5) / height as f32 * 2.0;
            let dir = (f + right * (nx * t * width as f32 / height as f32) + up * (ny * t)).normalize();
            let n = hit.normal(dir);
            let point = cam.position + dir * hit.distance + n * (0.05 * grid.voxel_size);
            let cpu = lum(lumon::voxel::emitter_irradiance(&grid, point, n));
            let gpu = lum(lit[i] - dark[i]) * std::f32::consts::PI;
            if cpu < 1e-3 {
                assert!(gpu.abs() < 2e-3, "pixel {x},{y}: GPU {gpu} where the CPU finds no emitter light");
                continue;
            }
            lit_pixels += 1;
            let same = (gpu - cpu).abs() <= 0.02 * cpu;
            if !same {
                eprintln!("pixel {x},{y}: GPU {gpu} CPU {cpu}");
            }
            agree += usize::from(same);
        }
    }
    eprintln!("{agree} of {lit_pixels} lit pixels agree");
    assert!(lit_pixels > (width * height) as usize / 4, "{lit_pixels} pixels lit by the lamps");
    assert!(agree as f32 >= 0.98 * lit_pixels as f32, "{agree} of {lit_pixels} pixels agree");
}

#[test]
fn sizes_beyond_the_adapter_are_refused_with_a_reason() {
    let Some(ctx) = context() else { return };
    let probes = ProbeConfig::default();
    for (w, h) in [(0, 10), (10, 0), (100_000, 100_000)] {
        let e = Renderer::new(&ctx, w, h, &probes).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(&format!("{w}x{h}")), "{w}x{h}: {e}");
    }
}
