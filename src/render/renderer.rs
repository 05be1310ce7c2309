//! The renderer: long-lived GPU buffers and compute pipelines, and one frame as
//! `prepare` (brick and probe uploads within byte budgets, scattered into place by compute passes) then
//! `record` (gbuffer: primary rays through the bricks; lighting: sun with shadow rays, emission, probes or flat
//! ambient, debug views, into HDR; tonemap: ACES and sRGB into bytes).
//!
//! Bindings: group 0 is each pass's own (the frame uniform first), group 1 the voxel arrays of
//! [`super::brick_sync`] plus the emissive table, group 2 the probe records (each level's ring of
//! `N^3` records of [`PROBE_WORDS`] words, level after level).
//!
//! The render thread never waits here: uploads are queue writes and dispatches; only [`Renderer::read_image`]
//! (headless captures) waits for the GPU.

use glam::{UVec3, Vec3};

use super::brick_sync::{BrickMirror, BrickStats, BrickWrites, POOL_WORDS};
use super::context::{GpuContext, RenderError};
use super::gpu_data::{
    probe_record, probe_tag, sky_uniform, FrameUniform, GpuEmitterLight, GpuLevel, ProbeUploadRecord, MAX_LEVELS,
    PROBE_WORDS, SCATTER_GROUP, SCREEN_GROUP,
};
use super::gpu_timing::{GpuPassTimes, GpuTimer};
use super::settings::{Camera, FrameSettings};
use super::shaders::Pass;
use crate::probes::clipmap::LevelTopology;
use crate::probes::manager::{ProbeConfig, ProbeUpload};
use crate::voxel::VoxelGrid;

/// Per-frame upload budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadBudget {
    /// Brick bytes per frame (scatter pairs).
    pub brick_bytes: usize,
}

impl Default for UploadBudget {
    fn default() -> Self {
        UploadBudget { brick_bytes: 8 << 20 }
    }
}

/// What the last `prepare` uploaded, and what the GPU holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct RenderStats {
    /// Bricks written this frame.
    pub bricks_written: usize,
    /// Brick bytes uploaded this frame.
    pub brick_bytes: usize,
    /// Probe records uploaded this frame.
    pub probes_written: usize,
    /// Probe bytes uploaded this frame.
    pub probe_bytes: usize,
    /// The brick mirror's counters.
    pub bricks: BrickStats,
    /// Bytes of probe storage on the GPU.
    pub probe_storage_bytes: u64,
    /// Bytes of voxel storage on the GPU (chunk counts, brick slots, pool, materials).
    pub voxel_storage_bytes: u64,
    /// Emitter lights the lighting pass sums per pixel ([`crate::voxel::EmitterLight`]).
    pub emitter_lights: usize,
}

const STORAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_DST).union(wgpu::BufferUsages::COPY_SRC);

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn buffer(device: &wgpu::Device, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(16),
        usage,
        mapped_at_creation: false,
    })
}

/// A storage buffer that grows (keeping its contents) when more words are needed.
struct Growable {
    label: &'static str,
    buffer: wgpu::Buffer,
    words: u64,
}

impl Growable {
    fn new(device: &wgpu::Device, label: &'static str, words: u64) -> Self {
        let words = words.max(4);
        Growable { label, buffer: buffer(device, label, words * 4, STORAGE), words }
    }

    /// Makes room for `need` words; on growth copies the old contents through `enc` when `keep` (a staging
    /// buffer must not keep them: the copy would run after this frame's queue write and overwrite it). The
    /// replaced buffer goes to `retired`, to be dropped only after the encoder is submitted.
    fn reserve(
        &mut self,
        ctx: &GpuContext,
        enc: &mut wgpu::CommandEncoder,
        need: u64,
        keep: bool,
        retired: &mut Vec<wgpu::Buffer>,
    ) -> Result<(), RenderError> {
        if need <= self.words {
            return Ok(());
        }
        let words = (need + need / 2).max(1024);
        let limit = ctx.device.limits().max_storage_buffer_binding_size.min(ctx.device.limits().max_buffer_size);
        if need * 4 > limit {
            return Err(RenderError::BufferLimit { what: self.label, bytes: need * 4, limit });
        }
        let words = words.min(limit / 4);
        let new = buffer(&ctx.device, self.label, words * 4, STORAGE);
        if keep {
            enc.copy_buffer_to_buffer(&self.buffer, 0, &new, 0, self.words * 4);
        }
        // The old buffer lives until the copy has been submitted.
        retired.push(std::mem::replace(&mut self.buffer, new));
        self.words = words;
        Ok(())
    }
}

struct Pipelines {
    gbuffer: wgpu::ComputePipeline,
    lighting: wgpu::ComputePipeline,
    tonemap: wgpu::ComputePipeline,
    scatter: wgpu::ComputePipeline,
    probe_scatter: wgpu::ComputePipeline,
    gbuffer_bgl: wgpu::BindGroupLayout,
    lighting_bgl: wgpu::BindGroupLayout,
    tonemap_bgl: wgpu::BindGroupLayout,
    scatter_bgl: wgpu::BindGroupLayout,
    voxels_bgl: wgpu::BindGroupLayout,
    probes_bgl: wgpu::BindGroupLayout,
}

fn pipeline(device: &wgpu::Device, pass: Pass, groups: &[&wgpu::BindGroupLayout]) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(pass.name()),
        source: wgpu::ShaderSource::Wgsl(pass.source().into()),
    });
    let layouts: Vec<Option<&wgpu::BindGroupLayout>> = groups.iter().map(|g| Some(*g)).collect();
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(pass.name()),
        bind_group_layouts: &layouts,
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(pass.name()),
        layout: Some(&layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

impl Pipelines {
    fn new(device: &wgpu::Device) -> Self {
        let bgl = |label: &str, entries: &[wgpu::BindGroupLayoutEntry]| {
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(label), entries })
        };
        let gbuffer_bgl = bgl("gbuffer", &[uniform_entry(0), storage_entry(1, false)]);
        let lighting_bgl = bgl("lighting", &[uniform_entry(0), storage_entry(1, true), storage_entry(2, false)]);
        let tonemap_bgl = bgl("tonemap", &[uniform_entry(0), storage_entry(1, true), storage_entry(2, false)]);
        let scatter_bgl = bgl("scatter", &[storage_entry(0, true), storage_entry(1, false)]);
        let voxels_bgl = bgl("voxels", &(0..6).map(|i| storage_entry(i, true)).collect::<Vec<_>>());
        let probes_bgl = bgl("probes", &[storage_entry(0, true)]);
        Pipelines {
            gbuffer: pipeline(device, Pass::Gbuffer, &[&gbuffer_bgl, &voxels_bgl, &probes_bgl]),
            lighting: pipeline(device, Pass::Lighting, &[&lighting_bgl, &voxels_bgl, &probes_bgl]),
            tonemap: pipeline(device, Pass::Tonemap, &[&tonemap_bgl]),
            scatter: pipeline(device, Pass::Scatter, &[&scatter_bgl]),
            probe_scatter: pipeline(device, Pass::ProbeScatter, &[&scatter_bgl]),
            gbuffer_bgl,
            lighting_bgl,
            tonemap_bgl,
            scatter_bgl,
            voxels_bgl,
            probes_bgl,
        }
    }
}

/// The GPU side of lumon: buffers, pipelines and the brick mirror.
pub struct Renderer {
    width: u32,
    height: u32,
    pipelines: Pipelines,
    frame: wgpu::Buffer,
    gbuffer: wgpu::Buffer,
    hdr: wgpu::Buffer,
    ldr: wgpu::Buffer,
    /// chunk_count, brick_slot, pool, materials.
    voxels: [Growable; 4],
    /// One staging buffer of scatter pairs per voxel array, and one for probe records.
    staging: [Growable; 5],
    emissive: wgpu::Buffer,
    /// The emissive table last written to `emissive`.
    emissive_table: Option<std::sync::Arc<crate::voxel::material::EmissiveTable>>,
    /// The emitter lights ([`GpuEmitterLight`]), and the index they were packed from.
    emitter_lights: wgpu::Buffer,
    emitters: Option<std::sync::Arc<crate::voxel::Emitters>>,
    emitter_count: u32,
    probes: wgpu::Buffer,
    probe_dims: UVec3,
    levels: u32,
    blend_band: f32,
    mirror: BrickMirror,
    writes: BrickWrites,
    records: Vec<ProbeUploadRecord>,
    uniform: FrameUniform,
    budget: UploadBudget,
    stats: RenderStats,
    timer: GpuTimer,
    /// A `prepare` opened a timing frame that no `finish_frame` has closed yet.
    timing_open: bool,
}

impl Renderer {
    /// A renderer for images of `width x height` and the clipmap of `probes`.
    pub fn new(ctx: &GpuContext, width: u32, height: u32, probes: &ProbeConfig) -> Result<Self, RenderError> {
        check_size(ctx, width, height)?;
        let (levels, probe_dims) = (probes.levels, probes.dims);
        let device = &ctx.device;
        let pixels = u64::from(width) * u64::from(height);
        let levels = levels.min(MAX_LEVELS as u32);
        let probe_records = u64::from(levels) * u64::from(probe_dims.x * probe_dims.y * probe_dims.z);
        let probe_bytes = probe_records * u64::from(PROBE_WORDS) * 4;
        let limit = device.limits().max_storage_buffer_binding_size;
        if probe_bytes > limit {
            return Err(RenderError::BufferLimit { what: "probe", bytes: probe_bytes, limit });
        }
        let new_growable = |label| Growable::new(device, label, 1024);
        let max_words = (limit.min(device.limits().max_buffer_size) / 4).min(u64::from(u32::MAX)) as u32;
        let mut mirror = BrickMirror::default();
        mirror.set_limits(max_words / POOL_WORDS, max_words);
        Ok(Renderer {
            width,
            height,
            pipelines: Pipelines::new(device),
            frame: buffer(
                device,
                "frame",
                std::mem::size_of::<FrameUniform>() as u64,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            ),
            gbuffer: buffer(device, "gbuffer", pixels * 16, STORAGE),
            hdr: buffer(device, "hdr", pixels * 16, STORAGE),
            ldr: buffer(device, "ldr", pixels * 4, STORAGE),
            voxels: [
                new_growable("chunk counts"),
                new_growable("brick slots"),
                new_growable("brick pool"),
                new_growable("materials"),
            ],
            staging: [
                new_growable("chunk count writes"),
                new_growable("brick slot writes"),
                new_growable("brick pool writes"),
                new_growable("material writes"),
                new_growable("probe uploads"),
            ],
            emissive: buffer(device, "emissive", 256 * 16, STORAGE),
            emissive_table: None,
            emitter_lights: buffer(device, "emitter lights", std::mem::size_of::<GpuEmitterLight>() as u64, STORAGE),
            emitters: None,
            emitter_count: 0,
            probes: buffer(device, "probes", probe_bytes, STORAGE),
            probe_dims,
            levels,
            blend_band: probes.blend_band,
            mirror,
            writes: BrickWrites::default(),
            records: Vec::new(),
            uniform: FrameUniform::default(),
            budget: UploadBudget::default(),
            stats: RenderStats { probe_storage_bytes: probe_bytes, ..Default::default() },
            timer: GpuTimer::new(device),
            timing_open: false,
        })
    }

    /// Resizes the image (the screen buffers only; bricks and probes stay).
    pub fn resize(&mut self, ctx: &GpuContext, width: u32, height: u32) -> Result<(), RenderError> {
        check_size(ctx, width, height)?;
        let pixels = u64::from(width) * u64::from(height);
        self.gbuffer = buffer(&ctx.device, "gbuffer", pixels * 16, STORAGE);
        self.hdr = buffer(&ctx.device, "hdr", pixels * 16, STORAGE);
        self.ldr = buffer(&ctx.device, "ldr", pixels * 4, STORAGE);
        self.width = width;
        self.height = height;
        Ok(())
    }

    /// Image size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// What the last `prepare` did.
    pub fn stats(&self) -> RenderStats {
        self.stats
    }

    /// Bricks changed on the CPU that the GPU does not hold yet.
    pub fn pending_bricks(&self) -> u64 {
        self.mirror.stats().pending
    }

    /// Uploads what changed (bricks within their budget, the frame's probe records) and the frame's uniform,
    /// and submits the scatter passes. Never waits for the GPU.
    pub fn prepare(
        &mut self,
        ctx: &GpuContext,
        grid: &VoxelGrid,
        levels: &[LevelTopology],
        uploads: &[ProbeUpload],
        camera: &Camera,
        settings: &FrameSettings,
    ) -> Result<(), RenderError> {
        if self.timing_open {
            // A frame that was prepared but never drawn (captures wait for convergence this way).
            self.timer.end_frame(&ctx.queue);
        }
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("prepare") });
        let mut retired = Vec::new();
        let written = self.mirror.sync(grid, camera.position, self.budget.brick_bytes, &mut self.writes);
        let layout = self.mirror.layout();
        let need = [
            u64::from(layout.chunks),
            u64::from(layout.bricks),
            u64::from(layout.pool_entries * POOL_WORDS),
            u64::from(layout.material_words),
        ];
        for (v, n) in self.voxels.iter_mut().zip(need) {
            v.reserve(ctx, &mut enc, n, true, &mut retired)?;
        }
        let lists = [&self.writes.chunk_count, &self.writes.brick_slot, &self.writes.pool, &self.writes.materials];
        for (i, list) in lists.iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let mut data: Vec<[u32; 2]> = Vec::with_capacity(list.len() + 1);
            data.push([list.len() as u32, 0]);
            data.extend_from_slice(list);
            self.staging[i].reserve(ctx, &mut enc, data.len() as u64 * 2, false, &mut retired)?;
            ctx.queue.write_buffer(&self.staging[i].buffer, 0, bytemuck::cast_slice(&data));
            let bg = self.scatter_group(ctx, &self.staging[i].buffer, &self.voxels[i].buffer);
            dispatch_scatter(&mut enc, &self.timer, &self.pipelines.scatter, &bg, list.len());
        }
        self.records.clear();
        self.records.push(ProbeUploadRecord { index: 0, words: [0; PROBE_WORDS as usize] });
        let per_level = self.probe_dims.x * self.probe_dims.y * self.probe_dims.z;
        for u in uploads.iter().filter(|u| u.level < self.levels) {
            let tag = probe_tag(u.level, u.coord, self.probe_dims);
            self.records
                .push(ProbeUploadRecord { index: u.level * per_level + u.slot, words: probe_record(&u.probe, tag) });
        }
        let n_probes = self.records.len() - 1;
        self.records[0].index = n_probes as u32;
        if n_probes > 0 {
            let words = (self.records.len() * std::mem::size_of::<ProbeUploadRecord>() / 4) as u64;
            self.staging[4].reserve(ctx, &mut enc, words, false, &mut retired)?;
            ctx.queue.write_buffer(&self.staging[4].buffer, 0, bytemuck::cast_slice(&self.records));
            let bg = self.scatter_group(ctx, &self.staging[4].buffer, &self.probes);
            dispatch_scatter(&mut enc, &self.timer, &self.pipelines.probe_scatter, &bg, n_probes);
        }
        // The emissive table changes only when an edit interns a new emission (a new `Arc`).
        if self.emissive_table.as_ref().is_none_or(|t| !std::sync::Arc::ptr_eq(t, &grid.emissive)) {
            let mut table = [[0f32; 4]; 256];
            for (i, t) in table.iter_mut().enumerate().take(grid.emissive.len()) {
                let e = grid.emissive.get(i as u8);
                *t = [e.x, e.y, e.z, 0.0];
            }
            ctx.queue.write_buffer(&self.emissive, 0, bytemuck::cast_slice(&table));
            self.emissive_table = Some(grid.emissive.clone());
        }
        // The emitter index changes only when an edit or a streamed region touches an emissive brick.
        if self.emitters.as_ref().is_none_or(|e| !std::sync::Arc::ptr_eq(e, &grid.emitters)) {
            self.upload_emitters(ctx, grid)?;
        }
        self.uniform = self.frame_uniform(grid, levels, camera, settings);
        ctx.queue.write_buffer(&self.frame, 0, bytemuck::bytes_of(&self.uniform));
        self.timer.resolve(&mut enc);
        ctx.queue.submit([enc.finish()]);
        self.timing_open = true;
        drop(retired);
        self.stats.bricks_written = written;
        self.stats.brick_bytes = self.writes.bytes();
        self.stats.probes_written = n_probes;
        self.stats.probe_bytes = n_probes * std::mem::size_of::<ProbeUploadRecord>();
        self.stats.bricks = self.mirror.stats();
        self.stats.voxel_storage_bytes = self.voxels.iter().map(|v| v.words * 4).sum();
        Ok(())
    }

    /// Packs every emitter light of `grid` into the light buffer (grown to the next power of two when short).
    fn upload_emitters(&mut self, ctx: &GpuContext, grid: &VoxelGrid) -> Result<(), RenderError> {
        let lights: Vec<GpuEmitterLight> =
            grid.emitters.bricks().iter().flat_map(|b| &b.lights).map(GpuEmitterLight::pack).collect();
        let bytes = (lights.len().max(1) * std::mem::size_of::<GpuEmitterLight>()) as u64;
        if bytes > self.emitter_lights.size() {
            let limits = ctx.device.limits();
            let limit = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
            if bytes > limit {
                return Err(RenderError::BufferLimit { what: "emitter light", bytes, limit });
            }
            let size = bytes.next_power_of_two().min(limit);
            self.emitter_lights = buffer(&ctx.device, "emitter lights", size, STORAGE);
        }
        if !lights.is_empty() {
            ctx.queue.write_buffer(&self.emitter_lights, 0, bytemuck::cast_slice(&lights));
        }
        self.emitter_count = lights.len() as u32;
        self.emitters = Some(grid.emitters.clone());
        self.stats.emitter_lights = lights.len();
        Ok(())
    }

    fn scatter_group(&self, ctx: &GpuContext, src: &wgpu::Buffer, dst: &wgpu::Buffer) -> wgpu::BindGroup {
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scatter"),
            layout: &self.pipelines.scatter_bgl,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: src.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: dst.as_entire_binding() },
            ],
        })
    }

    fn frame_uniform(
        &self,
        grid: &VoxelGrid,
        levels: &[LevelTopology],
        camera: &Camera,
        settings: &FrameSettings,
    ) -> FrameUniform {
        let (f, r, u) = camera.basis();
        let v4 = |v: Vec3, w: f32| [v.x, v.y, v.z, w];
        let sun = grid.lights.sun;
        let [zenith, horizon, ground] = sky_uniform(&grid.lights.sky);
        let per_level = self.probe_dims.x * self.probe_dims.y * self.probe_dims.z;
        let mut gpu_levels = [GpuLevel::default(); MAX_LEVELS];
        let n = levels.len().min(self.levels as usize);
        for (i, (g, t)) in gpu_levels.iter_mut().zip(levels).take(n).enumerate() {
            let lo = t.bounds().lo;
            *g = GpuLevel {
                lo: [lo.x, lo.y, lo.z, i as i32],
                dims: [t.dims.x, t.dims.y, t.dims.z, i as u32 * per_level],
                spacing: [t.spacing, 1.0 / t.spacing, f32::from(u8::from(settings.levels_on & (1 << i) != 0)), 0.0],
            };
        }
        FrameUniform {
            eye: v4(camera.position, (camera.fov_y.to_radians() * 0.5).tan()),
            right: v4(r, self.width as f32 / self.height as f32),
            up: v4(u, 0.0),
            forward: v4(f, 0.0),
            sun_dir: sun.map_or([0.0; 4], |s| v4(s.direction, 1.0)),
            sun_radiance: sun.map_or([0.0; 4], |s| v4(s.radiance, 0.0)),
            sky_zenith: zenith,
            sky_horizon: horizon,
            sky_ground: ground,
            grid_origin: v4(grid.origin, grid.voxel_size),
            grid_dims: [grid.dims.x, grid.dims.y, grid.dims.z, n as i32],
            size: [self.width, self.height, settings.gi.code(), settings.view.code()],
            params: [
                settings.exposure * world_exposure(&grid.lights),
                settings.ambient,
                settings.split,
                self.blend_band,
            ],
            lights: [self.emitter_count, 0, 0, 0],
            levels: gpu_levels,
        }
    }

    /// Records the frame's passes (gbuffer, lighting, tonemap) into `enc`, each timed when the adapter has
    /// timestamp queries. Call [`Renderer::finish_frame`] once `enc` is submitted.
    pub fn record(&mut self, ctx: &GpuContext, enc: &mut wgpu::CommandEncoder) {
        let device = &ctx.device;
        let group = |layout: &wgpu::BindGroupLayout, bufs: &[&wgpu::Buffer]| {
            let entries: Vec<wgpu::BindGroupEntry> = bufs
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
                .collect();
            device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout, entries: &entries })
        };
        let p = &self.pipelines;
        let voxels = group(
            &p.voxels_bgl,
            &[
                &self.voxels[0].buffer,
                &self.voxels[1].buffer,
                &self.voxels[2].buffer,
                &self.voxels[3].buffer,
                &self.emissive,
                &self.emitter_lights,
            ],
        );
        let probes = group(&p.probes_bgl, &[&self.probes]);
        let gb = group(&p.gbuffer_bgl, &[&self.frame, &self.gbuffer]);
        let li = group(&p.lighting_bgl, &[&self.frame, &self.gbuffer, &self.hdr]);
        let tm = group(&p.tonemap_bgl, &[&self.frame, &self.hdr, &self.ldr]);
        let gx = self.width.div_ceil(SCREEN_GROUP);
        let gy = self.height.div_ceil(SCREEN_GROUP);
        let passes: [(&'static str, &wgpu::ComputePipeline, &wgpu::BindGroup); 3] =
            [("gbuffer", &p.gbuffer, &gb), ("lighting", &p.lighting, &li), ("tonemap", &p.tonemap, &tm)];
        for (label, pipeline, group0) in passes {
            let query = self.timer.begin(label, enc);
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(label),
                    timestamp_writes: GpuTimer::writes(&query),
                });
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, group0, &[]);
                pass.set_bind_group(1, &voxels, &[]);
                pass.set_bind_group(2, &probes, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
            }
            self.timer.end(enc, query);
        }
        self.timer.resolve(enc);
    }

    /// Closes the frame's GPU timing (after the encoder of [`Renderer::record`] is submitted) and takes the
    /// pass times of frames the GPU has finished. Never waits.
    pub fn finish_frame(&mut self, ctx: &GpuContext) {
        // A non-blocking poll delivers the read-backs of frames the GPU has finished.
        let _ = ctx.device.poll(wgpu::PollType::Poll);
        self.timer.end_frame(&ctx.queue);
        self.timing_open = false;
    }

    /// The latest frame's GPU pass times that came back (`None` before the first, or without timestamp
    /// queries).
    pub fn gpu_pass_times(&self) -> Option<GpuPassTimes> {
        self.timer.latest()
    }

    /// The GPU pass times of every frame that came back since the last call, oldest first.
    pub fn take_gpu_pass_times(&mut self, ctx: &GpuContext) -> Vec<GpuPassTimes> {
        let _ = ctx.device.poll(wgpu::PollType::Poll);
        self.timer.poll(&ctx.queue);
        self.timer.take_finished()
    }

    /// True when the adapter gives GPU pass times (and they are not turned off).
    pub fn gpu_timing_supported(&self) -> bool {
        self.timer.supported()
    }

    /// Turns GPU pass timing off (or back on, where the adapter supports it).
    pub fn set_gpu_timing(&mut self, on: bool) {
        self.timer.set_enabled(on);
    }

    /// The LDR image (packed RGBA8, one `u32` per pixel, rows top to bottom), for a window's blit.
    pub fn ldr_buffer(&self) -> &wgpu::Buffer {
        &self.ldr
    }

    /// Renders the frame and reads it back (waits for the GPU: headless use only).
    pub fn read_image(&mut self, ctx: &GpuContext) -> Result<image::RgbaImage, RenderError> {
        let data = self.render_and_read(ctx, Readback::Ldr)?;
        image::RgbaImage::from_raw(self.width, self.height, data)
            .ok_or_else(|| RenderError::Readback("image size mismatch".into()))
    }

    /// Renders the frame and reads back, per pixel, the primary ray's distance (metres; infinite at the sky)
    /// and the packed material it hit (0 at the sky): what the gbuffer pass saw, for tests against the CPU.
    pub fn read_gbuffer(&mut self, ctx: &GpuContext) -> Result<Vec<(f32, u32)>, RenderError> {
        let data = self.render_and_read(ctx, Readback::Gbuffer)?;
        let words: &[[u32; 4]] = bytemuck::cast_slice(&data);
        Ok(words
            .iter()
            .map(|w| if w[1] & 255 == 1 { (f32::from_bits(w[0]), w[2]) } else { (f32::INFINITY, 0) })
            .collect())
    }

    /// Renders the frame and reads back, per pixel, the primary hit on a voxel as the gbuffer pass saw it
    /// (`None` at the sky): what `lumon compare` computes its reference at.
    pub fn read_surfaces(&mut self, ctx: &GpuContext) -> Result<Vec<Option<GbufferHit>>, RenderError> {
        let data = self.render_and_read(ctx, Readback::Gbuffer)?;
        let words: &[[u32; 4]] = bytemuck::cast_slice(&data);
        Ok(words
            .iter()
            .map(|w| {
                (w[1] & 255 == 1).then(|| GbufferHit {
                    distance: f32::from_bits(w[0]),
                    normal_code: w[1] >> 8,
                    material: w[2],
                })
            })
            .collect())
    }

    /// Renders the frame and reads back the lighting pass's linear HDR radiance per pixel (before exposure
    /// and tonemap), rows top to bottom.
    pub fn read_hdr(&mut self, ctx: &GpuContext) -> Result<Vec<Vec3>, RenderError> {
        let data = self.render_and_read(ctx, Readback::Hdr)?;
        let px: &[[f32; 4]] = bytemuck::cast_slice(&data);
        Ok(px.iter().map(|p| Vec3::new(p[0], p[1], p[2])).collect())
    }

    fn render_and_read(&mut self, ctx: &GpuContext, which: Readback) -> Result<Vec<u8>, RenderError> {
        let src = match which {
            Readback::Ldr => self.ldr.clone(),
            Readback::Gbuffer => self.gbuffer.clone(),
            Readback::Hdr => self.hdr.clone(),
        };
        let bytes = src.size();
        let readback =
            buffer(&ctx.device, "readback", bytes, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("frame") });
        self.record(ctx, &mut enc);
        enc.copy_buffer_to_buffer(&src, 0, &readback, 0, bytes);
        ctx.queue.submit([enc.finish()]);
        self.finish_frame(ctx);
        ctx.read_buffer(&readback)
    }

    /// Renders the frame and waits for it (timing runs); returns the wall milliseconds from submit to done.
    pub fn render_and_wait(&mut self, ctx: &GpuContext) -> Result<f64, RenderError> {
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("frame") });
        self.record(ctx, &mut enc);
        let t = std::time::Instant::now();
        ctx.queue.submit([enc.finish()]);
        self.finish_frame(ctx);
        ctx.wait()?;
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    }
}

/// The exposure that puts a sunlit white wall of a world at the same brightness, whatever its sun and sky:
/// `1.8 / key`, where `key` is the radiance of a white surface facing the sun under the sun and the open sky,
/// clamped to 0.25..4 (1 for worlds without sun or sky: their light comes from emitters, shown as they are).
pub fn world_exposure(lights: &crate::world::Lights) -> f32 {
    let mean = |v: Vec3| (v.x + v.y + v.z) / 3.0;
    let sky = mean(lights.sky.zenith + lights.sky.horizon) * 0.5 * std::f32::consts::PI;
    let sun = lights.sun.map_or(0.0, |s| mean(s.radiance));
    let key = (sun + sky) / std::f32::consts::PI;
    if key < 0.05 {
        1.0
    } else {
        (1.8 / key).clamp(0.25, 4.0)
    }
}

/// Which screen buffer a headless frame reads back.
#[derive(Clone, Copy)]
enum Readback {
    Ldr,
    Gbuffer,
    Hdr,
}

/// One pixel's primary hit, read back from the gbuffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GbufferHit {
    /// Distance from the eye along the pixel's ray, metres.
    pub distance: f32,
    /// The face: `axis * 2 + 1` when the ray runs towards negative `axis` (the normal points to positive
    /// `axis`), `axis * 2` otherwise; 6 when the eye is inside the voxel (the normal faces the ray).
    pub normal_code: u32,
    /// The packed material ([`crate::voxel::PackedMaterial`]).
    pub material: u32,
}

impl GbufferHit {
    /// The unit normal of the face, for a ray along `dir`.
    pub fn normal(&self, dir: Vec3) -> Vec3 {
        if self.normal_code >= 6 {
            return -dir;
        }
        let mut n = Vec3::ZERO;
        n[(self.normal_code / 2) as usize] = if self.normal_code & 1 == 1 { 1.0 } else { -1.0 };
        n
    }
}

fn dispatch_scatter(
    enc: &mut wgpu::CommandEncoder,
    timer: &GpuTimer,
    pipeline: &wgpu::ComputePipeline,
    bg: &wgpu::BindGroup,
    n: usize,
) {
    let groups = (n as u32).div_ceil(SCATTER_GROUP);
    let gx = groups.min(65_535);
    let gy = groups.div_ceil(gx);
    let query = timer.begin("upload", enc);
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("scatter"),
            timestamp_writes: GpuTimer::writes(&query),
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bg, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
    }
    timer.end(enc, query);
}

/// Checks an image size against the adapter's limits.
pub fn check_size(ctx: &GpuContext, width: u32, height: u32) -> Result<(), RenderError> {
    let err = |reason: String| Err(RenderError::Size { width, height, reason });
    if width == 0 || height == 0 {
        return err("width and height must be at least 1".into());
    }
    let limits = ctx.device.limits();
    let bytes = u64::from(width) * u64::from(height) * 16;
    let max = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    if bytes > max {
        return err(format!("its HDR buffer needs {bytes} bytes and this adapter allows {max}"));
    }
    if width.div_ceil(SCREEN_GROUP) > limits.max_compute_workgroups_per_dimension
        || height.div_ceil(SCREEN_GROUP) > limits.max_compute_workgroups_per_dimension
    {
        return err("more workgroups than the adapter allows".into());
    }
    Ok(())
}
