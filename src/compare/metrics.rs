//! The comparison's numbers: the probes' indirect irradiance against the reference's, per pixel, over the
//! pixels that receive indirect light; and FLIP between the two final images.
//!
//! Irradiance is compared by luminance (the mean of R, G and B, as the reference's noise estimate uses). A
//! pixel receives indirect light when the reference's luminance there is above 1 % of its mean over the view's
//! surfaces and above 1e-4 (so a view that is dark everywhere, a sealed room, has no such pixels and is judged
//! by the mean levels instead).

use glam::Vec3;
use serde::Serialize;

/// What `lumon compare` prints.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CompareMetrics {
    /// Mean of |probes - reference| / reference over the pixels that receive indirect light.
    pub mean_relative_error: f64,
    /// Root mean square of probes - reference over those pixels, irradiance units (luminance).
    pub rmse: f64,
    /// `rmse` divided by the reference's mean over those pixels.
    pub relative_rmse: f64,
    /// Fraction of those pixels whose relative error is above 25 %.
    pub over_25_percent: f64,
    /// Mean signed relative error over those pixels: positive when the probes are too bright.
    pub bias: f64,
    /// Mean FLIP error between the two final (tonemapped) images, 0 (same) to 1; `None` when not computed.
    pub flip: Option<f64>,
    /// Pixels that see a surface.
    pub surface_pixels: usize,
    /// Of those, the pixels that receive indirect light (the ones the errors above are over).
    pub lit_pixels: usize,
    /// Mean indirect irradiance (luminance) of the probes over the surface pixels.
    pub mean_probe_irradiance: f64,
    /// The reference's, over the same pixels.
    pub mean_reference_irradiance: f64,
    /// The reference's own noise: the mean relative standard error of its estimate over the lit pixels. The
    /// mean relative error above cannot be trusted to better than about this.
    pub reference_noise: f64,
    /// Rays per pixel the reference has (fewer than asked when it was stopped).
    pub reference_rays: u32,
}

fn lum(v: Vec3) -> f64 {
    f64::from(v.x + v.y + v.z) / 3.0
}

/// Signed relative error of the probes per pixel, where the pixel receives indirect light (see the module).
pub fn relative_errors(probes: &[Option<Vec3>], reference: &[Option<Vec3>]) -> Vec<Option<f32>> {
    let surface: Vec<f64> = reference.iter().flatten().map(|r| lum(*r)).collect();
    let mean = surface.iter().sum::<f64>() / surface.len().max(1) as f64;
    let floor = (0.01 * mean).max(1e-4);
    probes
        .iter()
        .zip(reference)
        .map(|(p, r)| {
            let r = lum((*r)?);
            (r > floor).then(|| ((lum(p.unwrap_or(Vec3::ZERO)) - r) / r) as f32)
        })
        .collect()
}

/// The metrics of probe irradiance against reference irradiance (per pixel, `None` at the sky); `noise` is the
/// reference's relative standard error per pixel.
pub fn compare_metrics(
    probes: &[Option<Vec3>],
    reference: &[Option<Vec3>],
    noise: &[Option<f32>],
    reference_rays: u32,
) -> CompareMetrics {
    let rel = relative_errors(probes, reference);
    let (mut n, mut abs, mut signed, mut over, mut sq, mut ref_sum, mut noise_sum) =
        (0usize, 0.0, 0.0, 0, 0.0, 0.0, 0.0);
    let (mut surfaces, mut p_sum, mut r_sum) = (0usize, 0.0, 0.0);
    for i in 0..reference.len() {
        let Some(r) = reference[i] else { continue };
        let p = probes.get(i).copied().flatten().unwrap_or(Vec3::ZERO);
        surfaces += 1;
        p_sum += lum(p);
        r_sum += lum(r);
        let Some(e) = rel[i] else { continue };
        n += 1;
        abs += f64::from(e.abs());
        signed += f64::from(e);
        over += usize::from(e.abs() > 0.25);
        sq += (lum(p) - lum(r)).powi(2);
        ref_sum += lum(r);
        noise_sum += f64::from(noise.get(i).copied().flatten().unwrap_or(0.0));
    }
    let per = |v: f64| if n > 0 { v / n as f64 } else { 0.0 };
    let rmse = per(sq).sqrt();
    CompareMetrics {
        mean_relative_error: per(abs),
        rmse,
        relative_rmse: if ref_sum > 0.0 { rmse / per(ref_sum) } else { 0.0 },
        over_25_percent: per(over as f64),
        bias: per(signed),
        flip: None,
        surface_pixels: surfaces,
        lit_pixels: n,
        mean_probe_irradiance: if surfaces > 0 { p_sum / surfaces as f64 } else { 0.0 },
        mean_reference_irradiance: if surfaces > 0 { r_sum / surfaces as f64 } else { 0.0 },
        reference_noise: per(noise_sum),
        reference_rays,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_relative_and_dark_pixels_are_left_out() {
        let r = [Some(Vec3::splat(1.0)), Some(Vec3::splat(2.0)), Some(Vec3::ZERO), None];
        let p = [Some(Vec3::splat(1.5)), Some(Vec3::splat(1.0)), Some(Vec3::splat(5.0)), Some(Vec3::ONE)];
        let m = compare_metrics(&p, &r, &[Some(0.01), Some(0.03), None, None], 64);
        assert_eq!((m.surface_pixels, m.lit_pixels), (3, 2));
        assert!((m.mean_relative_error - 0.5).abs() < 1e-9, "{m:?}");
        assert!(m.bias.abs() < 1e-9, "+50 % and -50 %");
        assert_eq!(m.over_25_percent, 1.0);
        assert!((m.rmse - (0.625f64).sqrt()).abs() < 1e-6);
        assert!((m.reference_noise - 0.02).abs() < 1e-6);
        assert!((m.mean_probe_irradiance - 2.5).abs() < 1e-6 && (m.mean_reference_irradiance - 1.0).abs() < 1e-6);
        let same = compare_metrics(&r, &r, &[None; 4], 64);
        assert_eq!((same.mean_relative_error, same.rmse, same.bias), (0.0, 0.0, 0.0));
    }
}
