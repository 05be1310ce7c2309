//! Probe trace jobs on a thread pool.
//!
//! [`trace_probe`] is a pure function of (voxel grid, irradiance source, job): ray directions are a spherical
//! Fibonacci set rotated by a random rotation drawn from a hash of the probe's world coordinate (quantised to
//! 1/1024 m) and the update index, so the same job gives the same bits on any thread of any pool. A worker
//! traces its jobs' rays as one batch ([`VoxelGrid::trace_batch`], whose results do not depend on the batch's
//! split) and the sun's shadow rays from their hits as a second one ([`trace_probes`]).
//! [`TracePool`] runs batches on its own rayon pool and returns results on a channel; `submit` and
//! `try_drain` never block, so the render thread never waits for a worker.

use std::f32::consts::PI;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use glam::{Quat, Vec3};
use rayon::prelude::*;
use thiserror::Error;

use super::gpu::GpuProbe;
use super::payload::{blend, flags, integrate, BlendParams, EmittedLight, ProbePayload, RayOutcome, UpdateResult};
use crate::hash::{hash_words, Rng};
use crate::voxel::light::{hit_point, hit_radiance, sky_radiance, sun_ray, sun_unshadowed};
use crate::voxel::{IrradianceSource, RayQuery, Trace, VoxelGrid, BRICK};

/// One probe update to trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceJob {
    /// Caller's key for the probe (returned with the result).
    pub key: u64,
    /// Caller's generation counter (returned; stale results are dropped by the caller).
    pub generation: u64,
    /// Probe centre, metres.
    pub position: Vec3,
    /// Update index: each update of a probe uses a different rotation of its ray set.
    pub update_index: u32,
    /// Rays to trace.
    pub rays: u32,
    /// Longest ray, metres.
    pub max_distance: f32,
    /// Range of ShortRangeAO, metres.
    pub ao_range: f32,
    /// The probe's payload when the job was submitted; the worker blends the update into it.
    pub previous: ProbePayload,
    /// Blending settings.
    pub blend: BlendParams,
    /// An edit reached the probe since its last update: its history is cut short (see [`blend`]).
    pub restart: bool,
}

/// A finished job.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceResult {
    /// The job's key.
    pub key: u64,
    /// The job's generation.
    pub generation: u64,
    /// Rays traced.
    pub rays: u32,
    /// `previous` with the update blended in (STALE and IN_FLIGHT cleared).
    pub payload: ProbePayload,
    /// `payload` packed for the GPU.
    pub gpu: GpuProbe,
}

/// Traces jobs together ([`trace_probes`]) and blends each result into its job's previous payload (what a
/// worker does).
pub fn run_jobs(grid: &VoxelGrid, indirect: &dyn IrradianceSource, jobs: &[TraceJob]) -> Vec<TraceResult> {
    trace_probes(grid, indirect, jobs).iter().zip(jobs).map(|(update, job)| finish(job, update)).collect()
}

/// A job's result from its update: blended into its previous payload.
fn finish(job: &TraceJob, update: &UpdateResult) -> TraceResult {
    let mut payload = blend(&job.previous, update, &job.blend, job.restart);
    payload.flags &= !(flags::STALE | flags::IN_FLIGHT);
    TraceResult { key: job.key, generation: job.generation, rays: update.rays, payload, gpu: GpuProbe::pack(&payload) }
}

/// Why a pool could not be made.
#[derive(Debug, Error)]
pub enum TraceError {
    /// rayon refused to build the pool.
    #[error("cannot start {threads} tracer threads: {reason}")]
    Pool { threads: usize, reason: String },
}

/// The ray directions of one probe update: `n` unit vectors, deterministic in (position, update index).
pub fn ray_directions(position: Vec3, update_index: u32, n: u32) -> impl Iterator<Item = Vec3> {
    let q = (position * 1024.0).round();
    let seed = hash_words(&[q.x as i64 as u64, q.y as i64 as u64, q.z as i64 as u64, u64::from(update_index)]);
    let rot = random_rotation(&mut Rng::new(seed));
    let golden = PI * (3.0 - 5f32.sqrt());
    (0..n).map(move |i| {
        let z = 1.0 - (2 * i + 1) as f32 / n as f32;
        let r = (1.0 - z * z).max(0.0).sqrt();
        let (s, c) = (i as f32 * golden).sin_cos();
        rot * Vec3::new(r * c, z, r * s)
    })
}

/// A uniformly random rotation (Shoemake).
fn random_rotation(rng: &mut Rng) -> Quat {
    let (u1, u2, u3) = (rng.next_f32(), rng.next_f32() * 2.0 * PI, rng.next_f32() * 2.0 * PI);
    let (a, b) = ((1.0 - u1).sqrt(), u1.sqrt());
    Quat::from_xyzw(a * u2.sin(), a * u2.cos(), b * u3.sin(), b * u3.cos()).normalize()
}

/// Traces one probe update. Pure: depends only on its arguments.
pub fn trace_probe(grid: &VoxelGrid, indirect: &dyn IrradianceSource, job: &TraceJob) -> UpdateResult {
    trace_probes(grid, indirect, std::slice::from_ref(job)).remove(0)
}

/// Traces several probe updates at once: all their rays as one batch, then the sun's shadow rays from all their
/// hits as a second one (long batches keep the batch march's lanes full). Each result equals
/// [`trace_probe`]'s for its job.
pub fn trace_probes(grid: &VoxelGrid, indirect: &dyn IrradianceSource, jobs: &[TraceJob]) -> Vec<UpdateResult> {
    let (mut dirs, mut rays, mut spans) = (Vec::new(), Vec::new(), Vec::with_capacity(jobs.len()));
    // Next-event estimation: per job, points drawn on emitters (shadow ray, radiance / pdf, direction).
    let lamps_sampled = !grid.emitters.is_empty();
    let (mut lamp_rays, mut lamp_light, mut lamp_spans) = (Vec::new(), Vec::new(), Vec::with_capacity(jobs.len()));
    let mut weights = Vec::new();
    for job in jobs {
        if grid.solid_at(job.position) {
            spans.push(None);
            lamp_spans.push(0..0);
            continue;
        }
        let start = dirs.len();
        dirs.extend(ray_directions(job.position, job.update_index, job.rays));
        rays.extend(dirs[start..].iter().map(|d| RayQuery {
            origin: job.position,
            dir: *d,
            max_dist: job.max_distance,
        }));
        spans.push(Some(start..dirs.len()));
        let lamp_start = lamp_rays.len();
        if lamps_sampled {
            sample_emitters(grid, job, &mut weights, &mut lamp_rays, &mut lamp_light);
        }
        lamp_spans.push(lamp_start..lamp_rays.len());
    }
    let mut traces = Vec::with_capacity(rays.len());
    grid.trace_batch(&rays, &mut traces);
    let mut points = vec![Vec3::ZERO; rays.len()];
    let (mut shadow, mut shadowed_ray) = (Vec::new(), Vec::new());
    for (i, (trace, ray)) in traces.iter().zip(&rays).enumerate() {
        if let Trace::Hit(h) = trace {
            points[i] = hit_point(grid, ray.origin, ray.dir, h);
            if let Some(sun) = sun_ray(grid, points[i], h.normal) {
                shadow.push(sun);
                shadowed_ray.push(i);
            }
        }
    }
    let sun_shadows = shadow.len();
    shadow.extend_from_slice(&lamp_rays);
    let mut blocked = Vec::with_capacity(shadow.len());
    grid.trace_batch(&shadow, &mut blocked);
    let mut sun = vec![Vec3::ZERO; rays.len()];
    for (&i, b) in shadowed_ray.iter().zip(&blocked) {
        // Only a hit on the way to the sun blocks it (unknown space counts as open, as in `occluded`).
        if let (Trace::Hit(h), false) = (&traces[i], matches!(b, Trace::Hit(_))) {
            sun[i] = sun_unshadowed(grid, h.normal);
        }
    }
    // A lamp sample counts where nothing solid lies between the probe and the point on the lamp; a blocked one
    // brings no light.
    for (light, b) in lamp_light.iter_mut().zip(&blocked[sun_shadows..]) {
        if matches!(b, Trace::Hit(_)) {
            light.1 = Vec3::ZERO;
        }
    }
    let mut outcomes: Vec<RayOutcome> = Vec::with_capacity(traces.len());
    // With emitters sampled directly, a ray that hits one does not count its emission again.
    let emission = !lamps_sampled;
    for span in spans.iter().flatten() {
        for i in span.clone() {
            outcomes.push(match &traces[i] {
                Trace::Hit(h) => {
                    let (radiance, bounce) = hit_radiance(grid, points[i], h, sun[i], indirect, emission);
                    RayOutcome::Hit { dist: h.dist, radiance, bounce }
                }
                Trace::Miss { .. } => RayOutcome::Sky { radiance: sky_radiance(grid, dirs[i]) },
                Trace::Unknown { .. } => RayOutcome::Unknown,
            });
        }
    }
    let mut at = 0;
    jobs.iter()
        .zip(spans)
        .zip(lamp_spans)
        .map(|((job, span), lamps)| match span {
            None => UpdateResult { inside_solid: true, rays: 0, ..Default::default() },
            Some(r) => {
                let n = r.len();
                let emitted = EmittedLight {
                    samples: &lamp_light[lamps],
                    drawn: if lamps_sampled { EMITTER_SAMPLES } else { 0 },
                };
                let u = integrate(&dirs[r], &outcomes[at..at + n], job.ao_range, job.max_distance, &emitted);
                at += n;
                u
            }
        })
        .collect()
}

/// Points drawn on emitters per probe update (next-event estimation), when the grid has emitters in range.
pub const EMITTER_SAMPLES: u32 = 16;

/// Draws [`EMITTER_SAMPLES`] points on emitters for `job` (deterministic in its position and update index):
/// their shadow rays go to `rays`, and `(direction, radiance / pdf)` to `light`, one entry per ray. Draws that
/// find no face turned towards the probe push nothing (they count as zero light).
fn sample_emitters(
    grid: &VoxelGrid,
    job: &TraceJob,
    weights: &mut Vec<f32>,
    rays: &mut Vec<RayQuery>,
    light: &mut Vec<(Vec3, Vec3)>,
) {
    let e = &grid.emitters;
    let reach = job.max_distance + BRICK as f32 * grid.voxel_size;
    let total = e.weights(grid, job.position, reach, weights);
    let q = (job.position * 1024.0).round();
    let mut rng = Rng::new(hash_words(&[
        q.x as i64 as u64,
        q.y as i64 as u64,
        q.z as i64 as u64,
        u64::from(job.update_index),
        0xE17,
    ]));
    for _ in 0..EMITTER_SAMPLES {
        let Some(s) = e.sample(grid, job.position, weights, total, &mut rng) else {
            continue;
        };
        rays.push(RayQuery { origin: job.position, dir: s.dir, max_dist: (s.dist - 0.02 * grid.voxel_size).max(0.0) });
        light.push((s.dir, s.radiance / s.pdf));
    }
}

/// Jobs per work item inside a batch (amortises scheduling and channel traffic).
const JOBS_PER_TASK: usize = 64;

/// A pool of tracer threads with a result channel.
pub struct TracePool {
    pool: rayon::ThreadPool,
    tx: Sender<Vec<TraceResult>>,
    rx: Receiver<Vec<TraceResult>>,
    in_flight: Arc<AtomicUsize>,
}

impl TracePool {
    /// A pool of `threads` workers (at least 1).
    pub fn new(threads: usize) -> Result<Self, TraceError> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("lumon-trace-{i}"))
            .build()
            .map_err(|e| TraceError::Pool { threads, reason: e.to_string() })?;
        let (tx, rx) = crossbeam_channel::unbounded();
        Ok(TracePool { pool, tx, rx, in_flight: Arc::new(AtomicUsize::new(0)) })
    }

    /// Jobs submitted and not yet drained.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Queues jobs; returns at once (one task per call; workers split it and send results in batches).
    pub fn submit(&self, grid: Arc<VoxelGrid>, indirect: Arc<dyn IrradianceSource>, jobs: Vec<TraceJob>) {
        if jobs.is_empty() {
            return;
        }
        self.in_flight.fetch_add(jobs.len(), Ordering::AcqRel);
        let tx = self.tx.clone();
        self.pool.spawn(move || {
            jobs.par_chunks(JOBS_PER_TASK).for_each(|chunk| {
                let batch = run_jobs(&grid, indirect.as_ref(), chunk);
                // The receiver lives as long as the pool; a send can only fail while the pool is dropped.
                let _ = tx.send(batch);
            });
        });
    }

    /// Moves every finished batch of results into `out` without waiting.
    pub fn try_drain(&self, out: &mut Vec<Vec<TraceResult>>) {
        for batch in self.rx.try_iter() {
            self.in_flight.fetch_sub(batch.len(), Ordering::AcqRel);
            out.push(batch);
        }
    }

    /// Waits until every submitted job has finished and moves the results into `out` (headless lockstep runs
    /// only; the viewer never calls this).
    pub fn wait_all(&self, out: &mut Vec<Vec<TraceResult>>) {
        while self.in_flight() > 0 {
            match self.rx.recv() {
                Ok(batch) => {
                    self.in_flight.fetch_sub(batch.len(), Ordering::AcqRel);
                    out.push(batch);
                }
                Err(_) => break,
            }
        }
    }
}
