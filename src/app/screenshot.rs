//! Screenshots of the window as the user sees it (the image and the panels): the surface texture is copied to
//! a buffer after the frame is drawn and before it is presented, read back (the one place the viewer waits for
//! the GPU, on request only) and written as PNG. Surfaces that cannot be copied from fall back to the
//! renderer's image without the panels.

use std::path::Path;

use crate::render::{GpuContext, RenderError};

/// A copy of the surface texture recorded into the frame's encoder, to be read after the submit.
pub struct PendingShot {
    buffer: wgpu::Buffer,
    width: u32,
    height: u32,
    padded_row: u32,
    format: wgpu::TextureFormat,
}

/// True when `format` is one this module can turn into RGBA bytes.
pub fn readable(format: wgpu::TextureFormat) -> bool {
    use wgpu::TextureFormat as F;
    matches!(format, F::Bgra8Unorm | F::Bgra8UnormSrgb | F::Rgba8Unorm | F::Rgba8UnormSrgb)
}

/// Records the copy of `texture` (the frame's surface texture, with `COPY_SRC` usage) into `enc`.
pub fn record(ctx: &GpuContext, enc: &mut wgpu::CommandEncoder, texture: &wgpu::Texture) -> PendingShot {
    let (width, height) = (texture.width(), texture.height());
    let padded_row = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("screenshot"),
        size: u64::from(padded_row) * u64::from(height),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    enc.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded_row),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
    );
    PendingShot { buffer, width, height, padded_row, format: texture.format() }
}

impl PendingShot {
    /// Waits for the copy (after the encoder was submitted) and returns the RGBA image.
    pub fn read(self, ctx: &GpuContext) -> Result<image::RgbaImage, RenderError> {
        let data = ctx.read_buffer(&self.buffer)?;
        let bgra = matches!(self.format, wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb);
        let mut pixels = Vec::with_capacity((self.width * self.height * 4) as usize);
        for row in data.chunks_exact(self.padded_row as usize) {
            for px in row[..(self.width * 4) as usize].chunks_exact(4) {
                let (r, b) = if bgra { (px[2], px[0]) } else { (px[0], px[2]) };
                pixels.extend_from_slice(&[r, px[1], b, 255]);
            }
        }
        image::RgbaImage::from_raw(self.width, self.height, pixels)
            .ok_or_else(|| RenderError::Readback("screenshot size mismatch".into()))
    }
}

/// Writes `img` to `path`.
pub fn save(img: &image::RgbaImage, path: &Path) -> Result<(), String> {
    img.save(path).map_err(|e| e.to_string())
}
