//! The renderer: the voxel world on screen, lit by the probes, through wgpu compute passes.
//!
//! - [`brick_sync`]: the GPU's copy of the voxel bricks, kept in step by diffing (pure CPU).
//! - [`gpu_data`]: every struct WGSL reads, and the generated WGSL prelude.
//! - [`shaders`]: the WGSL source of each pass.
//! - [`context`]: the wgpu adapter, device and queue (a real GPU first, lavapipe otherwise).
//! - [`gpu_timing`]: GPU pass times from timestamp queries.
//! - [`renderer`]: buffers, pipelines, and a frame as `prepare` (uploads) then `record` (passes).
//! - [`settings`]: camera, GI mode, debug view.
//! - [`blit`]: the image onto a window's surface.
pub mod blit;
pub mod brick_sync;
pub mod context;
pub mod gpu_data;
pub mod gpu_timing;
pub mod renderer;
pub mod settings;
pub mod shaders;

pub use context::{gpu_required, AdapterSummary, GpuContext, RenderError};
pub use gpu_timing::GpuPassTimes;
pub use renderer::{world_exposure, GbufferHit, RenderStats, Renderer, UploadBudget};
pub use settings::{Camera, DebugView, FrameSettings, GiMode};
