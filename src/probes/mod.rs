//! World-space irradiance probes (`spec/probes.md`): payload math, CPU tracing and the clipmap manager.
//!
//! - [`sh`]: L1 spherical harmonics, irradiance evaluation with deringing (never negative).
//! - [`octa`]: octahedral encoding of ShortRangeAO directions.
//! - [`payload`]: a probe's payload, integrating one update's rays, blending with hysteresis.
//! - [`tracer`]: deterministic ray sets, `trace_probe` / `trace_probes`, and the non-blocking thread pool.
//! - [`reference`]: many-ray, multi-bounce reference irradiance (ground truth for comparisons).
//! - [`clipmap`]: levels, snapping, ring addressing, level choice and blend weights.
//! - [`queue`]: the deterministic per-level work queue.
//! - [`cache`]: probe regions and the LRU memory cache; [`disk`]: the persistent cache on an IO thread;
//!   [`lru`]: the least-recently-used order both keep.
//! - [`sample`]: reading irradiance at a point as shading does (level weights, trilinear, confidence, leak
//!   guard, one SH reconstruction).
//! - [`irradiance`]: the read-only irradiance snapshot traces sample for multi-bounce.
//! - [`gpu`]: the 32-byte GPU record of a probe.
//! - [`manager`]: the per-frame step the render thread calls.

pub mod cache;
pub mod clipmap;
pub mod disk;
pub mod gpu;
pub mod irradiance;
pub mod lru;
pub mod manager;
pub mod octa;
pub mod payload;
pub mod queue;
pub mod reference;
pub mod sample;
pub mod sh;
pub mod tracer;

pub use payload::{
    blend, flags, integrate, BlendParams, EmittedLight, ProbePayload, RayOutcome, UpdateResult, LAYOUT_VERSION,
};
pub use reference::{reference_irradiance, ReferenceResult, ReferenceSettings};
pub use sh::ShL1;
pub use tracer::{ray_directions, run_jobs, trace_probe, trace_probes, TraceJob, TracePool, TraceResult};
