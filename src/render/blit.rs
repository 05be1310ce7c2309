//! The blit pass: draws the renderer's tonemapped image onto a window's surface (a fullscreen triangle that
//! reads the packed bytes; an sRGB surface gets them decoded first, since it encodes again on write).

use super::context::GpuContext;
use super::renderer::Renderer;
use super::shaders::Pass;

/// A render pipeline for one surface format.
pub struct Blit {
    pipeline: wgpu::RenderPipeline,
    info: wgpu::Buffer,
    decode_srgb: bool,
}

impl Blit {
    /// A blit onto surfaces of `format`.
    pub fn new(ctx: &GpuContext, format: wgpu::TextureFormat) -> Self {
        let device = &ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("blit"),
            source: wgpu::ShaderSource::Wgsl(Pass::Blit.source().into()),
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("blit"),
            layout: None,
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState { format, blend: None, write_mask: wgpu::ColorWrites::ALL })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let info = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("blit info"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Blit { pipeline, info, decode_srgb: format.is_srgb() }
    }

    /// Records the blit of the renderer's image (recorded and submitted before) onto `target`.
    pub fn draw(
        &self,
        ctx: &GpuContext,
        enc: &mut wgpu::CommandEncoder,
        renderer: &Renderer,
        target: &wgpu::TextureView,
    ) {
        let (w, h) = renderer.size();
        ctx.queue.write_buffer(&self.info, 0, bytemuck::cast_slice(&[w, h, u32::from(self.decode_srgb), 0]));
        let bg = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("blit"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: renderer.ldr_buffer().as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: self.info.as_entire_binding() },
            ],
        });
        let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("blit"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations { load: wgpu::LoadOp::Clear(wgpu::Color::BLACK), store: wgpu::StoreOp::Store },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.draw(0..3, 0..1);
    }
}
