//! The comparison's pictures: the tonemap the GPU's tonemap pass applies, an error heatmap with its colour
//! scale, and the side-by-side image. Labels are drawn with plotters and the font egui ships.

use glam::Vec3;
use image::{Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Relative error shown at the top of the heatmap's scale (and above).
pub const HEATMAP_FULL_SCALE: f32 = 0.5;
/// Height of the heatmap's scale and of the side-by-side image's caption row, pixels.
const BAR: u32 = 36;
/// Colour of pixels the metrics leave out (the sky, and surfaces without indirect light).
const LEFT_OUT: Rgb<u8> = Rgb([40, 40, 40]);

/// `tonemap.wgsl` on the CPU: exposure, Narkowicz's ACES fit, sRGB encoding, 8 bits per channel.
pub fn tonemap(hdr: &[Vec3], exposure: f32, width: u32, height: u32) -> RgbImage {
    let aces = |x: f32| ((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14)).clamp(0.0, 1.0);
    let srgb = |c: f32| if c <= 0.003_130_8 { c * 12.92 } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
    let px = |c: f32| (srgb(aces(c.max(0.0) * exposure)) * 255.0 + 0.5) as u8;
    RgbImage::from_fn(width, height, |x, y| {
        let c = hdr.get((x + y * width) as usize).copied().unwrap_or(Vec3::ZERO);
        Rgb([px(c.x), px(c.y), px(c.z)])
    })
}

/// A colour from the magma scale for `t` in 0..=1.
fn magma(lut: &[u8], t: f32) -> Rgb<u8> {
    let i = ((t.clamp(0.0, 1.0) * 255.0).round() as usize).min(255) * 3;
    Rgb([lut[i], lut[i + 1], lut[i + 2]])
}

/// The absolute relative error per pixel as a heatmap (magma: black 0 to light yellow at
/// [`HEATMAP_FULL_SCALE`] and above; dark grey where the metrics leave the pixel out), with a labelled
/// colour scale under it.
pub fn heatmap(errors: &[Option<f32>], width: u32, height: u32) -> Result<RgbImage, String> {
    let lut = nv_flip::magma_lut().to_vec();
    let mut img = RgbImage::from_pixel(width, height + BAR, Rgb([255, 255, 255]));
    for y in 0..height {
        for x in 0..width {
            let c = match errors.get((x + y * width) as usize).copied().flatten() {
                Some(e) => magma(&lut, e.abs() / HEATMAP_FULL_SCALE),
                None => LEFT_OUT,
            };
            img.put_pixel(x, y, c);
        }
    }
    // The scale: a ramp across the width, ticks labelled in percent.
    let (x0, x1) = (8u32, width.saturating_sub(8).max(9));
    for x in x0..x1 {
        let c = magma(&lut, (x - x0) as f32 / (x1 - x0 - 1).max(1) as f32);
        for y in height + 4..height + 14 {
            img.put_pixel(x, y, c);
        }
    }
    // Five ticks where there is room for them, else the two ends and the middle.
    let steps = if width >= 320 { 4 } else { 2 };
    let ticks: Vec<(i32, String)> = (0..=steps)
        .map(|k| {
            let x = x0 as f32 + (x1 - x0) as f32 * k as f32 / steps as f32;
            let pct = HEATMAP_FULL_SCALE * 100.0 * k as f32 / steps as f32;
            (x as i32, if k == steps { format!(">= {pct:.0} %") } else { format!("{pct:.0} %") })
        })
        .collect();
    let labels: Vec<(i32, i32, &str, f32)> = ticks
        .iter()
        .enumerate()
        .map(|(k, (x, t))| (*x, height as i32 + 16, t.as_str(), k as f32 / steps as f32))
        .collect();
    draw_labels(&mut img, &labels)?;
    Ok(img)
}

/// The images in a row, each with its caption on a white row above it.
pub fn side_by_side(images: &[(&str, &RgbImage)]) -> Result<RgbImage, String> {
    let gap = 8;
    let width: u32 = images.iter().map(|(_, i)| i.width()).sum::<u32>() + gap * images.len().saturating_sub(1) as u32;
    let height = images.iter().map(|(_, i)| i.height()).max().unwrap_or(0) + BAR;
    let mut out = RgbImage::from_pixel(width.max(1), height.max(1), Rgb([255, 255, 255]));
    let mut x = 0;
    let mut labels = Vec::new();
    for (caption, img) in images {
        image::imageops::replace(&mut out, *img, i64::from(x), i64::from(BAR));
        labels.push((x as i32 + 4, 8, *caption, 0.0));
        x += img.width() + gap;
    }
    draw_labels(&mut out, &labels)?;
    Ok(out)
}

/// Draws `(x, y, text, alignment)` labels in black onto `img`; the alignment is the fraction of the text's
/// width left of `x` (0 left-aligned, 0.5 centred, 1 right-aligned).
fn draw_labels(img: &mut RgbImage, labels: &[(i32, i32, &str, f32)]) -> Result<(), String> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|_| "the label font could not be loaded".to_string())?;
    let (w, h) = img.dimensions();
    let root = BitMapBackend::with_buffer(img.as_mut(), (w, h)).into_drawing_area();
    let style = TextStyle::from(("sans-serif", 15).into_font()).color(&BLACK);
    for &(x, y, text, align) in labels {
        let (tw, _) = root.estimate_text_size(text, &style).map_err(|e| e.to_string())?;
        root.draw_text(text, &style, (x - (tw as f32 * align) as i32, y)).map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonemap_maps_black_to_black_and_saturates() {
        let img = tonemap(&[Vec3::ZERO, Vec3::splat(1e6), Vec3::new(0.18, 0.0, -1.0)], 1.0, 3, 1);
        assert_eq!(img.get_pixel(0, 0), &Rgb([0, 0, 0]));
        assert_eq!(img.get_pixel(1, 0), &Rgb([255, 255, 255]));
        let g = img.get_pixel(2, 0);
        assert!(g[0] > 100 && g[0] < 160 && g[1] == 0 && g[2] == 0, "{g:?}");
    }

    #[test]
    fn the_heatmap_has_its_scale_and_greys_out_left_out_pixels() {
        let errs: Vec<Option<f32>> =
            (0..200 * 50).map(|i| (i % 200 > 20).then_some((i % 200) as f32 / 400.0)).collect();
        let img = heatmap(&errs, 200, 50).unwrap();
        assert_eq!(img.dimensions(), (200, 50 + BAR));
        assert_eq!(img.get_pixel(5, 5), &LEFT_OUT);
        let (lo, hi) = (img.get_pixel(30, 5), img.get_pixel(199, 5));
        assert!(u32::from(lo[0]) + u32::from(lo[1]) < u32::from(hi[0]) + u32::from(hi[1]), "{lo:?} {hi:?}");
        // The labels drew dark text on the white row under the ramp.
        let dark = (0..200)
            .flat_map(|x| (50 + 16..50 + BAR).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y)[0] < 100);
        assert!(dark.count() > 20);
    }
}
