//! The payload of one probe and how one update (a batch of rays) is integrated and blended into it.
//!
//! One update traces rays in directions that depend only on the probe's world position and the update index
//! (see [`super::tracer`]). [`integrate`] turns the ray results into an [`UpdateResult`]: SH L1 radiance,
//! split into the *direct* part (emission, sky, and the sun at the hits: light that does not depend on the
//! probes) and the *bounce* part (what the hits reflect of the probes' own irradiance: multi-bounce),
//! ShortRangeAO (mean unoccluded direction within `ao_range`, and the open fraction as its confidence), mean
//! log hit distance, sky visibility, the fraction of rays that saw known space, and the spread of the rays'
//! direct radiance (their relative standard deviation, the noise one ray carries).
//!
//! [`blend`] folds an update into the stored payload. The two parts need different treatment:
//! - The **direct** part is a fixed quantity in a still scene: it is averaged over more and more rays.
//!   - `rays` is the *effective* ray count: the number of independent rays whose plain mean would be as noisy
//!     as the estimate. A running average adds the update's rays; a blend with weight `w` follows the variance
//!     of an exponential average, `1/n' = (1 - w)^2 / n + w^2 / m`. The weight is `m / (n + m)` until the
//!     floor `1 - hysteresis`, so the effective rays grow to about `m (1 + h) / (1 - h)`.
//!   - `noise` is the per-ray relative standard deviation the updates actually show: an update's deviation from
//!     the estimate before it, `d = b - a`, has variance `var(update) + var(estimate)`, so
//!     `m d^2 / ((1 + m / n) a^2)` estimates one ray's relative variance (`m` the update's rays). This counts
//!     what the stratified ray set really achieves. The first update's own spread of ray radiance (as if its
//!     rays were independent, which overstates it) is the prior.
//!   - A change is taken fast only when the difference between the old estimate and the update exceeds
//!     `change_sigmas` standard errors of both together and `change_threshold` of the larger value: then the
//!     update gets `relaxed_weight`, and its deviation is not counted as noise. The update's standard error is
//!     taken at the larger of the two levels with the larger of the probe's and the update's noise, so that
//!     heavy-tailed rays (a small bright source that one update happens to hit often, or not at all) do not
//!     pass for a change.
//! - The **bounce** part is one step of a fixed-point iteration (the hits read the probes' previous light), so a
//!   long average would damp that iteration to a crawl: it follows the updates with at least `bounce_weight`.
//!   `bounce_change` is how far the stored bounce light moved per update (relative to the probe's total,
//!   smoothed): the iteration has settled when it is small.
//! - The **emitted** part of the direct light (the points drawn on emitters) is also kept on its own,
//!   blended with the direct part's weight: shading lights surfaces with the emitters itself
//!   ([`crate::voxel::emitter_light`]) and reads the probe without it ([`ProbePayload::shading_sh`]); ray hits
//!   (multi-bounce) read the whole.
//! - `confidence` is `min(1, rays / needed, target_error / bounce_change)` with
//!   `needed = max(min_rays, (noise / target_error)^2)`, times the fraction of rays that saw known space. So
//!   confidence 1 ("converged") means the direct light's relative standard error `noise / sqrt(rays)` is within
//!   [`BlendParams::target_error`] (5 % by default) after at least `min_rays` rays (a small bright source that
//!   a few updates all missed must not pass for converged darkness), and the bounce light has settled.

use glam::Vec3;

use super::octa;
use super::sh::ShL1;

/// Version of the payload's meaning; any change to it (fields, units, encodings) bumps this.
/// 2: direct and bounce parts, `noise`, effective rays from the blend's variance, confidence from the relative
/// standard error. 3: the emitters' direct light kept apart (`emitted`).
pub const LAYOUT_VERSION: u32 = 3;

/// Bits of [`ProbePayload::flags`].
pub mod flags {
    /// The payload holds data for the probe's current position.
    pub const VALID: u32 = 1;
    /// Every known ray of the last update reached the sky.
    pub const SKY_ONLY: u32 = 2;
    /// The data is old (or came from a cache) and is due for a refresh.
    pub const STALE: u32 = 4;
    /// A trace for this probe is running.
    pub const IN_FLIGHT: u32 = 8;
    /// The probe's centre is inside solid voxels: it is never shaded with.
    pub const DISABLED: u32 = 16;
}

/// One probe's stored lighting.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProbePayload {
    /// Radiance projected on L1 SH (RGB): direct plus bounce, what the multi-bounce lookup at ray hits reads.
    pub sh: ShL1,
    /// The bounce part of `sh` (light the hits reflect of the probes' irradiance).
    pub bounce: ShL1,
    /// The part of `sh`'s direct light that comes straight from emissive voxels (next-event estimation).
    /// Shading lights surfaces with the emitters itself ([`crate::voxel::emitter_light`]) and reads
    /// [`ProbePayload::shading_sh`], `sh` without it.
    pub emitted: ShL1,
    /// ShortRangeAO direction, octahedral-packed ([`octa::pack`]).
    pub ao_dir: u32,
    /// Fraction of directions open within the AO range, in [0, 1].
    pub ao_confidence: f32,
    /// Mean of `ln(1 + d)` over ray hit distances `d` (metres); misses count as the trace range.
    pub mean_log_distance: f32,
    /// Fraction of known rays that reached the sky, in [0, 1].
    pub sky_visibility: f32,
    /// 0 = no data, 1 = converged (see the module docs).
    pub confidence: f32,
    /// See [`flags`].
    pub flags: u32,
    /// Effective rays of the direct estimate.
    pub rays: f32,
    /// Relative standard deviation of one ray's direct radiance (luminance).
    pub noise: f32,
    /// Smoothed per-update move of the bounce light, relative to the probe's total light.
    pub bounce_change: f32,
}

impl ProbePayload {
    /// The AO direction as a unit vector (zero when unknown).
    pub fn ao_direction(&self) -> Vec3 {
        if self.ao_confidence > 0.0 {
            octa::unpack(self.ao_dir)
        } else {
            Vec3::ZERO
        }
    }

    /// What shading reads: `sh` without the emitters' direct light (shading adds that per point).
    pub fn shading_sh(&self) -> ShL1 {
        self.sh.minus(&self.emitted)
    }

    /// True when shading may use this probe.
    pub fn usable(&self) -> bool {
        self.flags & flags::VALID != 0 && self.flags & flags::DISABLED == 0
    }

    /// Relative standard error of the direct estimate's mean radiance (`noise / sqrt(rays)`); infinite without
    /// data.
    pub fn relative_error(&self) -> f32 {
        if self.rays > 0.0 {
            self.noise / self.rays.sqrt()
        } else {
            f32::INFINITY
        }
    }
}

/// What one ray saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RayOutcome {
    /// Hit at `dist` metres.
    Hit {
        /// Distance, metres.
        dist: f32,
        /// Direct radiance leaving the hit towards the probe (emission, and the sun's light reflected).
        radiance: Vec3,
        /// Bounce radiance leaving the hit towards the probe (the probes' irradiance there, reflected).
        bounce: Vec3,
    },
    /// Reached the sky: left the world, or the longest range the clipmap traces, without a hit.
    Sky {
        /// Sky radiance.
        radiance: Vec3,
    },
    /// Entered space that is not streamed in: carries no information.
    Unknown,
}

/// One update of one probe, before blending.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UpdateResult {
    /// Radiance SH over the known rays, direct plus bounce.
    pub sh: ShL1,
    /// The bounce part of `sh`.
    pub bounce: ShL1,
    /// The emitters' direct light in `sh` (the next-event estimation samples).
    pub emitted: ShL1,
    /// Mean unoccluded direction (unit, or zero when fully enclosed).
    pub ao_direction: Vec3,
    /// Open fraction within the AO range.
    pub ao_open: f32,
    /// Mean `ln(1 + d)`.
    pub mean_log_distance: f32,
    /// Sky fraction of known rays.
    pub sky_visibility: f32,
    /// Fraction of rays that saw known space.
    pub known_fraction: f32,
    /// Relative standard deviation of one ray's direct radiance (luminance) in this update.
    pub ray_noise: f32,
    /// Rays traced.
    pub rays: u32,
    /// The probe's centre is inside solid voxels.
    pub inside_solid: bool,
}

/// Light sampled directly on emitters for one update (next-event estimation): the rays' hits then leave
/// emission out.
#[derive(Clone, Copy, Debug)]
pub struct EmittedLight<'a> {
    /// Samples: direction (unit) and emitted radiance divided by the sample's density per steradian (zero when
    /// the shadow ray was blocked).
    pub samples: &'a [(Vec3, Vec3)],
    /// Points drawn; blocked and failed draws count as zero light.
    pub drawn: u32,
}

impl EmittedLight<'_> {
    /// No emitter sampling: emission comes from the rays' hits.
    pub const NONE: EmittedLight<'static> = EmittedLight { samples: &[], drawn: 0 };
}

/// Integrates ray outcomes (directions uniform over the sphere) and light sampled on emitters into an update.
pub fn integrate(
    dirs: &[Vec3],
    outcomes: &[RayOutcome],
    ao_range: f32,
    trace_range: f32,
    emitted: &EmittedLight,
) -> UpdateResult {
    let known = outcomes.iter().filter(|o| !matches!(o, RayOutcome::Unknown)).count();
    let mut r = UpdateResult { rays: outcomes.len() as u32, ..Default::default() };
    if known == 0 {
        return r;
    }
    let w = 4.0 * std::f32::consts::PI / known as f32;
    let mut open = 0usize;
    let mut open_sum = Vec3::ZERO;
    let mut sky = 0usize;
    let mut log_sum = 0.0;
    let (mut lum_sum, mut lum_sq) = (0.0f64, 0.0f64);
    for (d, o) in dirs.iter().zip(outcomes) {
        let (radiance, bounce, dist, is_sky) = match *o {
            RayOutcome::Hit { dist, radiance, bounce } => (radiance, bounce, dist, false),
            RayOutcome::Sky { radiance } => (radiance, Vec3::ZERO, trace_range, true),
            RayOutcome::Unknown => continue,
        };
        r.sh.add_sample(*d, radiance + bounce, w);
        if bounce != Vec3::ZERO {
            r.bounce.add_sample(*d, bounce, w);
        }
        let lum = f64::from((radiance.x + radiance.y + radiance.z) / 3.0);
        lum_sum += lum;
        lum_sq += lum * lum;
        log_sum += (1.0 + dist.min(trace_range)).ln();
        if is_sky {
            sky += 1;
        }
        if is_sky || dist > ao_range {
            open += 1;
            open_sum += *d;
        }
    }
    let k = known as f32;
    r.ao_direction = open_sum.normalize_or_zero();
    r.ao_open = open as f32 / k;
    r.mean_log_distance = log_sum / k;
    r.sky_visibility = sky as f32 / k;
    r.known_fraction = k / outcomes.len() as f32;
    let mean = lum_sum / f64::from(k);
    // Unbiased sample variance of one ray's direct luminance, and the variance of the rays' mean.
    let var = if known > 1 { ((lum_sq - lum_sum * mean) / (f64::from(k) - 1.0)).max(0.0) } else { 0.0 };
    let mut var_mean = var / f64::from(k);
    let mut total = mean;
    if emitted.drawn > 0 {
        // Each drawn point estimates the emitted light's integral over the sphere (its mean radiance times
        // 4 pi) as radiance / pdf.
        let kd = f64::from(emitted.drawn);
        let (mut e_sum, mut e_sq) = (0.0f64, 0.0f64);
        for (d, value) in emitted.samples {
            r.sh.add_sample(*d, *value, 1.0 / emitted.drawn as f32);
            r.emitted.add_sample(*d, *value, 1.0 / emitted.drawn as f32);
            let lum = f64::from((value.x + value.y + value.z) / 3.0) / (4.0 * std::f64::consts::PI);
            e_sum += lum;
            e_sq += lum * lum;
        }
        let e_mean = e_sum / kd;
        let e_var = if emitted.drawn > 1 { ((e_sq - e_sum * e_mean) / (kd - 1.0)).max(0.0) } else { 0.0 };
        total += e_mean;
        var_mean += e_var / kd;
    }
    // One ray's relative noise: the update's variance as if it came from `k` equally noisy rays.
    r.ray_noise = if total > 1e-12 { ((var_mean * f64::from(k)).sqrt() / total) as f32 } else { 0.0 };
    r
}

/// Blending settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlendParams {
    /// Weight kept from the old direct estimate in steady state (e.g. 0.98): the floor of the running average,
    /// which bounds the effective rays at about `m (1 + h) / (1 - h)` (6,300 for 64-ray updates).
    pub hysteresis: f32,
    /// Smallest relative change taken fast (e.g. 0.1 = 10 %), on top of the noise test.
    pub change_threshold: f32,
    /// A change is taken fast only beyond this many standard errors of old and new together.
    pub change_sigmas: f32,
    /// Weight of the new update when the change is taken fast (e.g. 0.7).
    pub relaxed_weight: f32,
    /// Smallest weight of an update's bounce light (the multi-bounce iteration's step, e.g. 0.5).
    pub bounce_weight: f32,
    /// Relative standard error of the direct light at which a probe counts as converged (e.g. 0.05); also the
    /// bounce light's largest settled move per update.
    pub target_error: f32,
    /// Effective rays a probe needs at least before it counts as converged, however quiet its rays look.
    pub min_rays: f32,
}

impl Default for BlendParams {
    fn default() -> Self {
        BlendParams {
            hysteresis: 0.98,
            change_threshold: 0.1,
            change_sigmas: 3.0,
            relaxed_weight: 0.7,
            bounce_weight: 0.5,
            target_error: 0.05,
            min_rays: 1024.0,
        }
    }
}

impl BlendParams {
    /// Effective rays needed to bring a probe with per-ray `noise` within the target error.
    pub fn needed_rays(&self, noise: f32) -> f32 {
        let n = noise / self.target_error.max(1e-6);
        (n * n).max(self.min_rays)
    }

    /// Confidence of an estimate of `rays` effective rays with per-ray `noise` and a bounce light moving by
    /// `bounce_change` per update, seen through `known` (the fraction of rays that saw known space).
    pub fn confidence(&self, rays: f32, noise: f32, bounce_change: f32, known: f32) -> f32 {
        let settled = if bounce_change > self.target_error { self.target_error / bounce_change } else { 1.0 };
        (rays / self.needed_rays(noise)).min(settled).min(1.0) * known.clamp(0.0, 1.0)
    }
}

/// Folds an update into a payload. A payload without `VALID` (new, recycled or reset) takes the update whole.
/// `restart`: an edit reached the probe since its last update, so its history is cut to one update's worth.
/// See the module docs for the two parts, the effective rays, the noise, the confidence and the weights.
pub fn blend(old: &ProbePayload, u: &UpdateResult, p: &BlendParams, restart: bool) -> ProbePayload {
    if u.inside_solid {
        return ProbePayload { flags: flags::DISABLED, ..Default::default() };
    }
    let m = u.rays as f32 * u.known_fraction;
    if m <= 0.0 {
        return *old;
    }
    // After an edit the old estimate counts as one update's worth: the running average takes the new light
    // at once (half of it, then a third...) instead of hiding it under thousands of old rays.
    let mut shortened;
    let old = if restart && old.rays > m {
        shortened = *old;
        shortened.rays = m;
        &shortened
    } else {
        old
    };
    let fresh = old.flags & flags::VALID == 0 || old.rays <= 0.0;
    let old_direct = old.sh.minus(&old.bounce);
    let new_direct = u.sh.minus(&u.bounce);
    let (weight, rays, noise) = if fresh {
        (1.0, m, u.ray_noise)
    } else {
        let (a, b) = (old_direct.level(), new_direct.level());
        let steady = (m / (old.rays + m)).max(1.0 - p.hysteresis);
        let mean = a.max(b);
        // Standard errors of the old estimate and of the update (at the larger of the two levels, with the
        // larger of the probe's and the update's noise: an update that missed a small source looks quiet).
        let nu = old.noise.max(u.ray_noise);
        let (sa, sb) = (a * nu / old.rays.sqrt(), mean * nu / m.sqrt());
        let sigma = (sa * sa + sb * sb).sqrt();
        let significant = (a - b).abs() > (p.change_sigmas * sigma).max(p.change_threshold * mean);
        if significant {
            // The light changed: take most of the update; a real change is not noise.
            let w = steady.max(p.relaxed_weight);
            let inv = (1.0 - w) * (1.0 - w) / old.rays + w * w / m;
            (w, 1.0 / inv, old.noise.max(u.ray_noise))
        } else {
            // One ray's relative variance as this update shows it (see the module docs), averaged in.
            let seen = if a > 1e-9 { m * (b - a) * (b - a) / ((1.0 + m / old.rays) * a * a) } else { 0.0 };
            let noise2 = old.noise * old.noise;
            let noise = (noise2 + (seen - noise2) * steady).max(0.0).sqrt();
            let rays = if steady > 1.0 - p.hysteresis {
                old.rays + m
            } else {
                1.0 / ((1.0 - steady) * (1.0 - steady) / old.rays + steady * steady / m)
            };
            (steady, rays, noise)
        }
    };
    let bounce_w = weight.max(p.bounce_weight);
    let bounce = old.bounce.lerp(&u.bounce, bounce_w);
    let direct = old_direct.lerp(&new_direct, weight);
    let emitted = if fresh { u.emitted } else { old.emitted.lerp(&u.emitted, weight) };
    let mut sh = direct;
    for (a, b) in sh.c.iter_mut().zip(bounce.c) {
        *a += b;
    }
    let bounce_change = if fresh {
        if u.bounce.level() > 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        let moved = (bounce.level() - old.bounce.level()).abs() / sh.level().max(old.sh.level()).max(1e-9);
        old.bounce_change + (moved - old.bounce_change) * 0.5
    };
    let mix = |a: f32, b: f32| a + (b - a) * weight;
    let ao = if fresh { u.ao_direction } else { old.ao_direction().lerp(u.ao_direction, weight).normalize_or_zero() };
    let mut f = flags::VALID;
    if u.sky_visibility >= 1.0 {
        f |= flags::SKY_ONLY;
    }
    ProbePayload {
        sh,
        bounce,
        emitted,
        ao_dir: octa::pack(ao),
        ao_confidence: mix(old.ao_confidence, u.ao_open),
        mean_log_distance: mix(old.mean_log_distance, u.mean_log_distance),
        sky_visibility: mix(old.sky_visibility, u.sky_visibility),
        confidence: p.confidence(rays, noise, bounce_change, u.known_fraction),
        flags: f,
        rays,
        noise,
        bounce_change,
    }
}

/// `a - b`, coefficient by coefficient.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Rng;

    fn update(level: f32) -> UpdateResult {
        let mut sh = ShL1::default();
        sh.c[0] = Vec3::splat(level);
        UpdateResult { sh, ao_direction: Vec3::Y, ao_open: 1.0, known_fraction: 1.0, rays: 64, ..Default::default() }
    }

    /// One simulated 64-ray update: every ray sees `dim`, except that each ray sees `bright` with probability
    /// `p` (a small bright source, the hard case for noise).
    fn sampled(rng: &mut Rng, dim: f32, bright: f32, p: f32) -> UpdateResult {
        let dirs: Vec<Vec3> = (0..64).map(|i| Vec3::new(1.0, i as f32, 0.5).normalize()).collect();
        let outcomes: Vec<RayOutcome> = (0..64)
            .map(|_| {
                let l = if rng.next_f32() < p { bright } else { dim };
                RayOutcome::Hit { dist: 1.0, radiance: Vec3::splat(l), bounce: Vec3::ZERO }
            })
            .collect();
        integrate(&dirs, &outcomes, 0.5, 4.0, &EmittedLight::NONE)
    }

    #[test]
    fn a_new_probe_takes_the_first_update_and_quiet_probes_converge_after_min_rays() {
        let p = BlendParams::default();
        let mut payload = ProbePayload::default();
        payload = blend(&payload, &update(1.0), &p, false);
        assert_eq!(payload.sh.c[0], Vec3::ONE);
        assert!(payload.usable());
        assert_eq!(payload.confidence, 0.0625, "64 of the 1,024 rays a noiseless probe needs at least");
        for _ in 0..15 {
            payload = blend(&payload, &update(1.0), &p, false);
        }
        assert_eq!(payload.rays, 1024.0, "a running average adds rays");
        assert_eq!(payload.confidence, 1.0);
    }

    #[test]
    fn confidence_one_means_the_estimate_is_within_its_error_bound() {
        // 2,000 probes lit by a bright source each ray sees with probability 5 %: per-ray noise about 2.1.
        let p = BlendParams::default();
        let (dim, bright, prob) = (0.5f32, 10.0f32, 0.05f32);
        let truth = dim + (bright - dim) * prob;
        let mut rng = Rng::new(7);
        let (mut sq, mut count, mut updates) = (0.0f64, 0, 0u64);
        for _ in 0..2000 {
            let mut payload = ProbePayload::default();
            let mut n = 0;
            while payload.confidence < 1.0 {
                payload = blend(&payload, &sampled(&mut rng, dim, bright, prob), &p, false);
                n += 1;
                assert!(n < 1000, "never converged");
            }
            updates += n;
            let l00 = truth * 4.0 * std::f32::consts::PI * crate::probes::sh::SH_Y0;
            let e = f64::from(payload.sh.level() / l00 - 1.0);
            sq += e * e;
            count += 1;
        }
        let rms = (sq / f64::from(count)).sqrt();
        // A converged probe's relative error is within the 5 % bound (rms over probes, with a little slack for
        // the noise estimate's own noise), and it took far more than one update to get there.
        assert!(rms <= 0.06, "rms relative error of converged probes {rms}");
        assert!(updates as f64 / f64::from(count) > 10.0, "mean updates to converge {}", updates / 2000);
    }

    #[test]
    fn in_a_still_scene_effective_rays_keep_growing_and_noise_alone_never_relaxes() {
        let p = BlendParams::default();
        let mut rng = Rng::new(3);
        let mut payload = ProbePayload::default();
        let mut last = 0.0;
        for i in 0..400 {
            payload = blend(&payload, &sampled(&mut rng, 0.5, 10.0, 0.05), &p, false);
            if i > 0 && i < 30 {
                assert!(payload.rays > last, "update {i}: effective rays fell from {last} to {}", payload.rays);
            }
            last = payload.rays;
        }
        // The floor of the running average: about 64 (1 + h) / (1 - h) rays.
        let floor = 64.0 * (1.0 + p.hysteresis) / (1.0 - p.hysteresis);
        assert!(payload.rays > 0.9 * floor, "effective rays {} (floor {floor})", payload.rays);
        assert!(payload.relative_error() < 0.05, "{}", payload.relative_error());
    }

    #[test]
    fn a_light_switched_on_is_taken_within_a_few_updates() {
        let p = BlendParams::default();
        let mut rng = Rng::new(5);
        let mut payload = ProbePayload::default();
        for _ in 0..100 {
            payload = blend(&payload, &sampled(&mut rng, 0.5, 10.0, 0.05), &p, false);
        }
        let before = payload.sh.level();
        let mut lit = payload;
        let mut levels = Vec::new();
        for _ in 0..10 {
            lit = blend(&lit, &sampled(&mut rng, 5.0, 100.0, 0.05), &p, false);
            levels.push(lit.sh.level() / before);
        }
        // Ten times brighter (one 64-ray update of this source is about 26 % noisy): most of the way after
        // two updates, within 25 % after ten, where a plain running average would still be at a tenth.
        assert!(levels[1] > 5.0 && (levels[9] - 10.0).abs() < 2.5, "level after each update / before: {levels:?}");
        assert!(lit.confidence < 1.0, "a relaxed blend is not converged");
        // A small real change is followed smoothly by the running average instead.
        let small = blend(&payload, &update(before * 1.05), &p, false);
        assert!(small.sh.level() < before * 1.01, "{} vs {before}", small.sh.level());
    }

    #[test]
    fn an_edit_cuts_the_history_short() {
        let p = BlendParams::default();
        let mut payload = ProbePayload::default();
        for _ in 0..100 {
            payload = blend(&payload, &update(1.0), &p, false);
        }
        // 6 % more light after an edit: too small to pass for a change by itself, taken at once after one.
        let plain = blend(&payload, &update(1.06), &p, false);
        let edited = blend(&payload, &update(1.06), &p, true);
        assert!(plain.sh.level() < 1.005, "{}", plain.sh.level());
        assert!((edited.sh.level() - 1.03).abs() < 1e-4, "half old, half new: {}", edited.sh.level());
        assert_eq!(edited.rays, 128.0);
        assert!(edited.confidence < 1.0);
    }

    #[test]
    fn the_bounce_light_follows_its_fixed_point_iteration() {
        // Direct light 1, and walls that return 0.6 of what the probe had (a closed bright room): the fixed
        // point is 1 / (1 - 0.6) = 2.5. The bounce part follows each step with at least `bounce_weight`, so
        // the iteration gets there in tens of updates although the direct part is a long running average.
        let p = BlendParams::default();
        let mut payload = ProbePayload::default();
        let mut levels = Vec::new();
        for _ in 0..40 {
            let mut u = update(1.0);
            u.bounce.c[0] = Vec3::splat(0.6 * payload.sh.level());
            u.sh.c[0] += u.bounce.c[0];
            payload = blend(&payload, &u, &p, false);
            levels.push(payload.sh.level());
        }
        assert!((levels[39] - 2.5).abs() < 0.05, "{levels:?}");
        assert!(payload.bounce_change < p.target_error && payload.confidence == 1.0, "{payload:?}");
    }

    #[test]
    fn unknown_rays_lower_confidence_and_solid_probes_are_disabled() {
        let p = BlendParams::default();
        let mut u = update(1.0);
        u.known_fraction = 0.5;
        let half = blend(&ProbePayload::default(), &u, &p, false);
        assert_eq!(half.confidence, 32.0 / 1024.0 * 0.5);
        let solid = blend(&half, &UpdateResult { inside_solid: true, ..Default::default() }, &p, false);
        assert!(!solid.usable());
        assert_eq!(solid.flags, flags::DISABLED);
        let nothing = blend(&half, &UpdateResult { rays: 64, ..Default::default() }, &p, false);
        assert_eq!(nothing, half, "an update that saw nothing known changes nothing");
    }
}
