//! The wgpu context: instance, adapter, device and queue. A real GPU is preferred (discrete, then integrated,
//! then virtual); without one Mesa's lavapipe (a CPU adapter) is used. `LUMON_REQUIRE_GPU=1` makes a missing
//! adapter an error that says so, for CI (a GPU test must never pass by skipping).

use serde::Serialize;
use thiserror::Error;

/// Why no renderer could be made or used.
#[derive(Debug, Error)]
pub enum RenderError {
    /// No adapter could be opened.
    #[error(
        "no GPU adapter found ({0}); install a Vulkan driver (Mesa's lavapipe: `apt-get install mesa-vulkan-drivers`) \
         or run the CPU-only commands (`lumon bench --no-gpu`)"
    )]
    NoAdapter(String),
    /// The adapter refused a device.
    #[error("the adapter {adapter} refused a device: {reason}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// What it said.
        reason: String,
    },
    /// An image size the adapter cannot hold.
    #[error("image size {width}x{height} is not supported: {reason}")]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// Which limit it breaks.
        reason: String,
    },
    /// The voxel world needs a buffer beyond the adapter's limit.
    #[error("the voxel world needs a {what} buffer of {bytes} bytes; this adapter allows {limit}")]
    BufferLimit {
        /// Which buffer.
        what: &'static str,
        /// Bytes needed.
        bytes: u64,
        /// The adapter's limit.
        limit: u64,
    },
    /// Reading an image back failed.
    #[error("reading the image back from the GPU failed: {0}")]
    Readback(String),
}

/// What the log, every report and every capture say about the adapter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdapterSummary {
    /// Adapter name (lavapipe says "llvmpipe ...").
    pub name: String,
    /// Backend (Vulkan, Metal, Dx12, Gl).
    pub backend: String,
    /// Device type (DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other).
    pub device_type: String,
    /// Driver and its version, as the adapter reports them.
    pub driver: String,
}

/// A device and its queue on the chosen adapter.
pub struct GpuContext {
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What the adapter is.
    pub summary: AdapterSummary,
}

/// True when `LUMON_REQUIRE_GPU=1`: a missing adapter must fail, not skip.
pub fn gpu_required() -> bool {
    std::env::var("LUMON_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

impl GpuContext {
    /// A device without a window (for captures, benches and tests). Backends follow `WGPU_BACKEND` when set.
    pub fn headless() -> Result<Self, RenderError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        Self::with_instance(&instance, None)
    }

    /// A device on the best adapter of `instance` (one that can present to `surface`, when given).
    pub fn with_instance(instance: &wgpu::Instance, surface: Option<&wgpu::Surface<'_>>) -> Result<Self, RenderError> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
        let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
        adapters.retain(|a| surface.is_none_or(|s| a.is_surface_supported(s)));
        adapters.sort_by_key(|a| rank(a.get_info().device_type));
        let Some(adapter) = adapters.into_iter().next() else {
            return Err(RenderError::NoAdapter(format!("backends {backends:?}")));
        };
        let info = adapter.get_info();
        let summary = AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        };
        let limits = adapter.limits();
        let features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        let desc = wgpu::DeviceDescriptor {
            label: Some("lumon"),
            required_features: features,
            required_limits: limits,
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| RenderError::Device { adapter: summary.name.clone(), reason: e.to_string() })?;
        log::info!("GPU adapter: {} ({}, {})", summary.name, summary.backend, summary.device_type);
        Ok(GpuContext { adapter, device, queue, summary })
    }

    /// Maps `buffer` (`MAP_READ`, its copy already submitted), waits for the GPU, and returns its bytes
    /// (headless reads and screenshots only).
    pub fn read_buffer(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>, RenderError> {
        let slice = buffer.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|e| RenderError::Readback(e.to_string()))?
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        let data = slice.get_mapped_range().map_err(|e| RenderError::Readback(e.to_string()))?.to_vec();
        buffer.unmap();
        Ok(data)
    }

    /// Waits for the GPU to finish everything submitted.
    pub fn wait(&self) -> Result<(), RenderError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| RenderError::Readback(e.to_string()))
    }
}
