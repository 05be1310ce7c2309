//! `lumon bench --plot`: a PNG chart of the frame time and its phases per frame (plotters, drawn with the
//! Ubuntu font egui ships, so no system font is needed).

use std::path::Path;

use plotters::chart::SeriesLabelPosition as SeriesPosition;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::gpu::FrameSample;

/// Writes the chart of `samples` to `path` (`title` on top).
pub fn write_plot(path: &Path, title: &str, samples: &[FrameSample]) -> Result<(), String> {
    // Registering the same font twice is harmless; plotters keeps the last.
    plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|_| "the chart font could not be loaded".to_string())?;
    const SIZE: (u32, u32) = (1280, 640);
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    draw(&mut pixels, SIZE, title, samples).map_err(|e| err(&e))?;
    let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, pixels).ok_or_else(|| err(&"buffer size"))?;
    img.save(path).map_err(|e| err(&e))
}

fn draw(
    pixels: &mut [u8],
    size: (u32, u32),
    title: &str,
    samples: &[FrameSample],
) -> Result<(), Box<dyn std::error::Error + 'static>> {
    let root = BitMapBackend::with_buffer(pixels, size).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let first = samples.first().map_or(0, |s| s.frame);
    let last = samples.last().map_or(1, |s| s.frame).max(first + 1);
    let mut top = samples.iter().map(|s| s.frame_ms).fold(0.0f64, f64::max);
    if !top.is_finite() || top <= 0.0 {
        top = 1.0;
    }
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(first..last, 0.0..top * 1.45)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("frame")
        .y_desc("milliseconds")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    type Series = (&'static str, RGBColor, fn(&FrameSample) -> f64);
    let series: [Series; 6] = [
        ("frame", BLACK, |s| s.frame_ms),
        ("GPU (submit to done)", RGBColor(200, 40, 40), |s| s.gpu_wait_ms),
        ("probes", RGBColor(40, 120, 200), |s| s.probes_ms),
        ("upload", RGBColor(40, 160, 80), |s| s.upload_ms),
        ("encode", RGBColor(150, 90, 200), |s| s.encode_ms),
        ("stream + voxel", RGBColor(230, 150, 30), |s| s.stream_ms + s.voxel_ms),
    ];
    for (name, colour, f) in series {
        chart
            .draw_series(LineSeries::new(samples.iter().map(|s| (s.frame, f(s))), colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
