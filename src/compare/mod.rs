//! Lighting comparison against ground truth: the probes' indirect light beside a path-traced reference of the
//! same view, with error metrics and images (`lumon compare`, and the viewer's reference mode).
//!
//! The reference is computed per pixel at the surface the pixel sees ([`ViewSurfaces`]: the gbuffer's hit
//! read back from the GPU, or the same primary ray traced on the CPU): the indirect irradiance there from
//! many cosine-weighted rays with several bounces through the same voxels, lights and materials
//! ([`crate::probes::reference`]), refined pass by pass ([`ReferenceImage`]) on every core. Each pixel's rays
//! draw their numbers from the pixel's own seed and their index, so the estimate after `N` rays is the same
//! whatever the passes, the threads or the order. The direct light (sun with its shadow ray, emission, sky) is
//! added the way the lighting pass adds it, and both images go through the same tonemap.
//!
//! Where things live: this file the surfaces and the progressive reference; `metrics.rs` the numbers;
//! `images.rs` the tonemap, heatmap and side-by-side pictures; `run.rs` the headless command on the GPU.

mod images;
mod metrics;
mod run;

use std::sync::atomic::{AtomicBool, Ordering};

use glam::Vec3;
use rayon::prelude::*;

pub use images::{heatmap, side_by_side, tonemap, HEATMAP_FULL_SCALE};
pub use metrics::{compare_metrics, relative_errors, CompareMetrics};
pub use run::{compare, CompareError, CompareOptions, CompareOutput, CompareReport};

use crate::hash::hash_words;
use crate::probes::reference::{ReferenceSum, Wavefront};
use crate::probes::ReferenceSettings;
use crate::render::{Camera, GbufferHit};
use crate::voxel::light::{sky_radiance, sun_irradiance};
use crate::voxel::{PackedMaterial, Trace, VoxelGrid};

/// The surface a pixel sees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Surface {
    /// The shading point: the hit lifted off the face by 5 % of a voxel, as the lighting pass shades it.
    pub point: Vec3,
    /// The face's unit normal.
    pub normal: Vec3,
    /// The voxel's material.
    pub material: PackedMaterial,
}

/// Per pixel of a view: its ray and the surface it sees (`None` at the sky). Rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewSurfaces {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// The eye.
    pub eye: Vec3,
    /// Unit ray direction per pixel.
    pub dirs: Vec<Vec3>,
    /// Surface per pixel.
    pub surfaces: Vec<Option<Surface>>,
}

/// The primary ray through the centre of pixel `(x, y)` of a `width` x `height` view: the same ray as the
/// shaders' `camera_ray` (`camera.wgsl`).
pub fn camera_ray(camera: &Camera, width: u32, height: u32, x: u32, y: u32) -> Vec3 {
    let (f, right, up) = camera.basis();
    let t = (camera.fov_y.to_radians() * 0.5).tan();
    let nx = (x as f32 + 0.5) / width as f32 * 2.0 - 1.0;
    let ny = 1.0 - (y as f32 + 0.5) / height as f32 * 2.0;
    (f + right * (nx * t * width as f32 / height as f32) + up * (ny * t)).normalize()
}

impl ViewSurfaces {
    /// The surfaces of the gbuffer read back from the GPU ([`crate::render::Renderer::read_surfaces`]).
    pub fn from_gbuffer(camera: &Camera, width: u32, height: u32, hits: &[Option<GbufferHit>], voxel: f32) -> Self {
        let dirs = rays(camera, width, height);
        let surfaces = hits
            .iter()
            .zip(&dirs)
            .map(|(h, d)| {
                h.map(|h| {
                    let normal = h.normal(*d);
                    Surface {
                        point: camera.position + *d * h.distance + normal * (0.05 * voxel),
                        normal,
                        material: PackedMaterial(h.material),
                    }
                })
            })
            .collect();
        ViewSurfaces { width, height, eye: camera.position, dirs, surfaces }
    }

    /// The surfaces found by tracing each pixel's ray through `grid` on the CPU (in parallel).
    pub fn trace(grid: &VoxelGrid, camera: &Camera, width: u32, height: u32) -> Self {
        let dirs = rays(camera, width, height);
        let eye = camera.position;
        let surfaces = dirs
            .par_iter()
            .map(|d| match grid.trace(eye, *d, 1e6) {
                Trace::Hit(h) => Some(Surface {
                    point: crate::voxel::light::hit_point(grid, eye, *d, &h),
                    normal: h.normal,
                    material: grid.material(h.voxel).unwrap_or(PackedMaterial::EMPTY),
                }),
                _ => None,
            })
            .collect();
        ViewSurfaces { width, height, eye, dirs, surfaces }
    }

    /// Pixels.
    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    /// True for a view without pixels.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Radiance per pixel lit by `indirect` irradiance (per pixel, zero where `None`) on top of the direct
    /// light as the lighting pass computes it: emission, the sun through its shadow ray, the sky where no
    /// surface is. `indirect_only` leaves out the direct light and the sky (the "indirect" images).
    pub fn shade(&self, grid: &VoxelGrid, indirect: &[Option<Vec3>], indirect_only: bool) -> Vec<Vec3> {
        self.surfaces
            .par_iter()
            .zip(&self.dirs)
            .zip(indirect)
            .map(|((s, d), e)| {
                let e = e.unwrap_or(Vec3::ZERO);
                match s {
                    None if indirect_only => Vec3::ZERO,
                    None => sky_radiance(grid, *d),
                    Some(s) => {
                        let albedo = s.material.albedo() / std::f32::consts::PI;
                        if indirect_only {
                            albedo * e
                        } else {
                            let emission = grid.emissive.get(s.material.emissive_index());
                            emission + albedo * (sun_irradiance(grid, s.point, s.normal) + e)
                        }
                    }
                }
            })
            .collect()
    }
}

fn rays(camera: &Camera, width: u32, height: u32) -> Vec<Vec3> {
    (0..height).flat_map(|y| (0..width).map(move |x| camera_ray(camera, width, height, x, y))).collect()
}

/// A reference image being refined: per surface pixel, the running sums of its estimate.
#[derive(Clone, Debug)]
pub struct ReferenceImage {
    settings: ReferenceSettings,
    sums: Vec<ReferenceSum>,
}

/// Pixels per unit of work (and per progress report).
const CHUNK: usize = 64;

impl ReferenceImage {
    /// An empty estimate for a view of `pixels` pixels; `settings.rays` is the target per pixel.
    pub fn new(pixels: usize, settings: ReferenceSettings) -> Self {
        ReferenceImage { settings, sums: vec![ReferenceSum::default(); pixels] }
    }

    /// The settings (target rays per pixel, bounces, seed).
    pub fn settings(&self) -> &ReferenceSettings {
        &self.settings
    }

    /// Rays every surface pixel has at least.
    pub fn rays_done(&self, view: &ViewSurfaces) -> u32 {
        self.sums.iter().zip(&view.surfaces).filter(|(_, s)| s.is_some()).map(|(r, _)| r.rays).min().unwrap_or(0)
    }

    /// True when every surface pixel has its target rays.
    pub fn finished(&self, view: &ViewSurfaces) -> bool {
        self.rays_done(view) >= self.settings.rays
    }

    /// Adds up to `rays` rays (never past the target) to every surface pixel of `view`, on the rayon pool.
    /// Stops between chunks of pixels once `cancel` is set, keeping what it finished; `progress` is called
    /// with the surface pixels done after each chunk. Returns false when it was cancelled.
    pub fn refine(
        &mut self,
        grid: &VoxelGrid,
        view: &ViewSurfaces,
        rays: u32,
        cancel: &AtomicBool,
        progress: &(dyn Fn(usize) + Sync),
    ) -> bool {
        let settings = self.settings;
        self.sums.par_chunks_mut(CHUNK).enumerate().for_each_init(Wavefront::default, |w, (c, chunk)| {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let mut surfaces = 0;
            for (k, sum) in chunk.iter_mut().enumerate() {
                let i = c * CHUNK + k;
                let Some(s) = view.surfaces.get(i).copied().flatten() else { continue };
                surfaces += 1;
                let count = rays.min(settings.rays.saturating_sub(sum.rays));
                if count == 0 {
                    continue;
                }
                let own = ReferenceSettings { seed: hash_words(&[settings.seed, i as u64]), ..settings };
                sum.add_rays(grid, s.point, s.normal, &own, sum.rays, count, w);
            }
            progress(surfaces);
        });
        !cancel.load(Ordering::Relaxed)
    }

    /// Indirect irradiance per pixel (`None` at the sky and where no ray was traced yet).
    pub fn irradiance(&self, view: &ViewSurfaces) -> Vec<Option<Vec3>> {
        self.sums
            .iter()
            .zip(&view.surfaces)
            .map(|(r, s)| (s.is_some() && r.rays > 0).then(|| r.result().irradiance))
            .collect()
    }

    /// The estimate's own relative standard error per pixel (`None` where [`ReferenceImage::irradiance`] is).
    pub fn noise(&self, view: &ViewSurfaces) -> Vec<Option<f32>> {
        self.sums
            .iter()
            .zip(&view.surfaces)
            .map(|(r, s)| (s.is_some() && r.rays > 0).then(|| r.result().relative_error))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voxel::VoxelWorld;
    use crate::world::{load_world, resolve_world};

    #[test]
    fn the_estimate_does_not_depend_on_the_passes_or_threads() {
        let w = std::sync::Arc::new(load_world(&resolve_world("cornell").unwrap()).unwrap());
        let mut vw = VoxelWorld::new(w.clone());
        vw.load_everything();
        let grid = vw.snapshot();
        let m = w.main_bookmark();
        let view = ViewSurfaces::trace(&grid, &Camera::new(m.position, m.yaw, m.pitch), 24, 16);
        assert!(view.surfaces.iter().filter(|s| s.is_some()).count() > 300, "the room fills the view");
        let settings = ReferenceSettings { rays: 96, bounces: 2, ..ReferenceSettings::default() };
        let go = AtomicBool::new(false);
        let mut one = ReferenceImage::new(view.len(), settings);
        let done = std::sync::atomic::AtomicUsize::new(0);
        assert!(one.refine(&grid, &view, 96, &go, &|n| {
            done.fetch_add(n, Ordering::Relaxed);
        }));
        let surfaces = view.surfaces.iter().filter(|s| s.is_some()).count();
        assert_eq!(done.into_inner(), surfaces, "progress counts the surface pixels");
        let mut parts = ReferenceImage::new(view.len(), settings);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        pool.install(|| {
            for _ in 0..3 {
                parts.refine(&grid, &view, 40, &go, &|_| {});
            }
        });
        assert!(one.finished(&view) && parts.finished(&view));
        assert_eq!(one.irradiance(&view), parts.irradiance(&view));
        // Cancelled before it starts: nothing is added, and it says so.
        let mut cancelled = ReferenceImage::new(view.len(), settings);
        assert!(!cancelled.refine(&grid, &view, 96, &AtomicBool::new(true), &|_| {}));
        assert_eq!(cancelled.rays_done(&view), 0);
    }
}
