//! `lumon bench` with the GPU: the CPU bench's run ([`super::run_with`]) with the renderer in the frame loop,
//! in lockstep. Each frame steps the pipeline, uploads (`prepare`), records and submits the passes, and waits
//! for the GPU, so frames never overlap and each frame's cost is measured alone:
//!
//! `frame_ms` = stream + voxel + probes + upload + encode (the render thread's work) + the wait from submit
//! until the GPU has finished the frame. The lockstep wait for the probe traces is not part of it (the viewer
//! never waits for them). GPU pass times come from timestamp queries ([`crate::render::gpu_timing`]).
//!
//! The first `warmup` frames run like the others but are left out of the frame percentiles; the fields of the
//! `--no-gpu` report cover every frame.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{run_with, BenchError, BenchOptions, BenchReport, Millis};
use crate::pipeline::Pipeline;
use crate::render::gpu_timing::PASSES;
use crate::render::{AdapterSummary, Camera, FrameSettings, GpuContext, GpuPassTimes, Renderer};
use crate::world::World;

/// Settings of a GPU run on top of the CPU bench's.
#[derive(Clone, Debug)]
pub struct GpuBenchOptions {
    /// The CPU bench's settings (frames here count the warmup too).
    pub cpu: BenchOptions,
    /// Leading frames left out of the frame percentiles.
    pub warmup: u32,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// GI mode, view and exposure.
    pub settings: FrameSettings,
}

/// One timed frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FrameSample {
    /// Frame index from the start of the run (warmup included).
    pub frame: u32,
    /// Simulated time, seconds.
    pub time_s: f32,
    /// Whole frame, milliseconds (see the module header).
    pub frame_ms: f64,
    /// Timeline commits and streaming client.
    pub stream_ms: f64,
    /// Scene changes into the voxel world.
    pub voxel_ms: f64,
    /// Probe manager step and upload list.
    pub probes_ms: f64,
    /// Renderer `prepare`: brick and probe uploads, uniforms.
    pub upload_ms: f64,
    /// Recording and submitting the passes.
    pub encode_ms: f64,
    /// From submit until the GPU finished the frame.
    pub gpu_wait_ms: f64,
    /// GPU time per pass (`None` without timestamp queries).
    pub gpu_passes: Option<GpuPassTimes>,
}

/// Percentiles of the render thread's phases per frame, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuPhases {
    /// Timeline commits and streaming client.
    pub stream: Millis,
    /// Scene changes into the voxel world.
    pub voxel: Millis,
    /// Probe manager step and upload list.
    pub probes: Millis,
    /// Renderer uploads.
    pub upload: Millis,
    /// Recording and submitting the passes.
    pub encode: Millis,
}

/// The GPU bench's JSON report: every field of the CPU report, then the frame timing.
#[derive(Clone, Debug, Serialize)]
pub struct GpuBenchReport {
    /// The CPU bench's fields (streaming at the renderer's interest radius).
    #[serde(flatten)]
    pub cpu: BenchReport,
    /// The adapter.
    pub adapter: AdapterSummary,
    /// Its backend (Vulkan, Metal, Dx12, Gl).
    pub backend: String,
    /// Image size, pixels.
    pub size: [u32; 2],
    /// GI mode and view.
    pub settings: FrameSettings,
    /// Streaming interest radius, metres.
    pub interest_radius: f32,
    /// Leading frames left out of the percentiles.
    pub warmup: u32,
    /// Frames in the percentiles.
    pub timed_frames: u32,
    /// Whole frame, milliseconds.
    pub frame_ms: Millis,
    /// The render thread's phases.
    pub cpu_phases_ms: CpuPhases,
    /// From submit until the GPU finished the frame.
    pub gpu_wait_ms: Millis,
    /// GPU time per pass (from timestamp queries); `null` when the adapter has none.
    pub gpu_passes_ms: Option<BTreeMap<String, Millis>>,
    /// Every timed frame.
    #[serde(skip)]
    pub samples: Vec<FrameSample>,
}

/// Runs the GPU bench on `ctx`; `progress` is called after every frame with (frames done, frames in all).
pub fn run_gpu(
    ctx: &GpuContext,
    world: Arc<World>,
    opts: &GpuBenchOptions,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<GpuBenchReport, BenchError> {
    let mut renderer = Renderer::new(ctx, opts.width, opts.height, &opts.cpu.probes)?;
    let radius = crate::pipeline::view_radius(&world);
    let mut samples: Vec<FrameSample> = Vec::with_capacity(opts.cpu.frames as usize);
    let total = opts.cpu.frames;
    let cpu = run_with(world, &opts.cpu, radius, &mut |pipe: &Pipeline, f, report, (pos, yaw, pitch)| {
        let camera = Camera::new(pos, yaw, pitch);
        let t0 = Instant::now();
        let topo = pipe.manager().topologies();
        renderer.prepare(ctx, pipe.grid(), &topo, pipe.uploads(), &camera, &opts.settings)?;
        let t1 = Instant::now();
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("frame") });
        renderer.record(ctx, &mut enc);
        ctx.queue.submit([enc.finish()]);
        renderer.finish_frame(ctx);
        let t2 = Instant::now();
        ctx.wait()?;
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
        let cpu_ms = report.stream_ms + report.voxel_ms + report.gi_ms;
        let passes = renderer.take_gpu_pass_times(ctx).pop();
        progress(f + 1, total);
        if f < opts.warmup {
            return Ok(());
        }
        samples.push(FrameSample {
            frame: f,
            time_s: pipe.time(),
            frame_ms: cpu_ms + ms(t0, t3),
            stream_ms: report.stream_ms,
            voxel_ms: report.voxel_ms,
            probes_ms: report.gi_ms,
            upload_ms: ms(t0, t1),
            encode_ms: ms(t1, t2),
            gpu_wait_ms: ms(t2, t3),
            gpu_passes: passes,
        });
        Ok(())
    })?;
    let series = |f: fn(&FrameSample) -> f64| Millis::of(&samples.iter().map(f).collect::<Vec<_>>());
    let gpu_passes_ms =
        (renderer.gpu_timing_supported() && samples.iter().any(|s| s.gpu_passes.is_some())).then(|| {
            PASSES
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let v: Vec<f64> = samples.iter().filter_map(|s| s.gpu_passes.map(|p| p.named()[i].1)).collect();
                    (name.to_string(), Millis::of(&v))
                })
                .collect()
        });
    Ok(GpuBenchReport {
        adapter: ctx.summary.clone(),
        backend: ctx.summary.backend.clone(),
        size: [opts.width, opts.height],
        settings: opts.settings,
        interest_radius: radius,
        warmup: opts.warmup.min(total),
        timed_frames: samples.len() as u32,
        frame_ms: series(|s| s.frame_ms),
        cpu_phases_ms: CpuPhases {
            stream: series(|s| s.stream_ms),
            voxel: series(|s| s.voxel_ms),
            probes: series(|s| s.probes_ms),
            upload: series(|s| s.upload_ms),
            encode: series(|s| s.encode_ms),
        },
        gpu_wait_ms: series(|s| s.gpu_wait_ms),
        gpu_passes_ms,
        cpu,
        samples,
    })
}

/// The frames as CSV: a header, then one row per timed frame (GPU pass columns empty without timestamps).
pub fn frames_csv(samples: &[FrameSample]) -> String {
    let mut out = String::from(
        "frame,time_s,frame_ms,stream_ms,voxel_ms,probes_ms,upload_ms,encode_ms,gpu_wait_ms,gpu_upload_ms,\
         gpu_gbuffer_ms,gpu_lighting_ms,gpu_tonemap_ms\n",
    );
    for s in samples {
        let passes = match s.gpu_passes {
            Some(p) => p.named().iter().map(|(_, ms)| format!("{ms:.4}")).collect::<Vec<_>>().join(","),
            None => ",,,".into(),
        };
        out += &format!(
            "{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{}\n",
            s.frame,
            s.time_s,
            s.frame_ms,
            s.stream_ms,
            s.voxel_ms,
            s.probes_ms,
            s.upload_ms,
            s.encode_ms,
            s.gpu_wait_ms,
            passes
        );
    }
    out
}
