//! The payload of one probe and how one update (a batch of rays) is integrated and blended into it.
//!
//! One update traces rays in directions that depend only on the probe's world position and the update index
//! (see [`super::tracer`]). [`integrate`] turns the ray results into an [`UpdateResult`]: SH L1 radiance,
//! ShortRangeAO (mean unoccluded direction within `ao_range`, and the open fraction as its confidence), mean
//! log hit distance, sky visibility and the fraction of rays that saw known space. [`blend`] folds it into the
//! stored payload with hysteresis: a new probe takes the first update whole, the first updates average
//! (so confidence climbs fast), later ones blend with `1 - hysteresis`, and a large change relaxes the
//! hysteresis so a light switched on shows within a few updates.

use glam::Vec3;

use super::octa;
use super::sh::ShL1;

/// Version of the payload's meaning; any change to it (fields, units, encodings) bumps this.
pub const LAYOUT_VERSION: u32 = 1;

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
    /// Radiance projected on L1 SH (RGB).
    pub sh: ShL1,
    /// ShortRangeAO direction, octahedral-packed ([`octa::pack`]).
    pub ao_dir: u32,
    /// Fraction of directions open within the AO range, in [0, 1].
    pub ao_confidence: f32,
    /// Mean of `ln(1 + d)` over ray hit distances `d` (metres); misses count as the trace range.
    pub mean_log_distance: f32,
    /// Fraction of known rays that reached the sky, in [0, 1].
    pub sky_visibility: f32,
    /// 0 = no data, 1 = converged for this position and layout.
    pub confidence: f32,
    /// See [`flags`].
    pub flags: u32,
    /// Effective rays accumulated (drives confidence).
    pub rays: f32,
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

    /// True when shading may use this probe.
    pub fn usable(&self) -> bool {
        self.flags & flags::VALID != 0 && self.flags & flags::DISABLED == 0
    }
}

/// What one ray saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RayOutcome {
    /// Hit at `dist` metres; `radiance` leaves the hit towards the probe.
    Hit {
        /// Distance, metres.
        dist: f32,
        /// Radiance arriving at the probe.
        radiance: Vec3,
    },
    /// Reached the sky (or the end of the trace range in open space).
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
    /// Radiance SH over the known rays.
    pub sh: ShL1,
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
    /// Relative standard error of the update's mean radiance (its own noise), for change detection.
    pub relative_noise: f32,
    /// Rays traced.
    pub rays: u32,
    /// The probe's centre is inside solid voxels.
    pub inside_solid: bool,
}

/// Integrates ray outcomes (directions uniform over the sphere) into an update.
pub fn integrate(dirs: &[Vec3], outcomes: &[RayOutcome], ao_range: f32, trace_range: f32) -> UpdateResult {
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
        let (radiance, dist, is_sky) = match *o {
            RayOutcome::Hit { dist, radiance } => (radiance, dist, false),
            RayOutcome::Sky { radiance } => (radiance, trace_range, true),
            RayOutcome::Unknown => continue,
        };
        r.sh.add_sample(*d, radiance, w);
        let lum = f64::from((radiance.x + radiance.y + radiance.z) / 3.0);
        lum_sum += lum;
        lum_sq += lum * lum;
        log_sum += (1.0 + dist).ln();
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
    let var = (lum_sq / f64::from(k) - mean * mean).max(0.0);
    r.relative_noise = if mean > 1e-9 { ((var / f64::from(k)).sqrt() / mean) as f32 } else { 0.0 };
    r
}

/// Blending settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlendParams {
    /// Weight kept from the old payload in steady state (e.g. 0.97).
    pub hysteresis: f32,
    /// Relative irradiance change above which hysteresis is relaxed (e.g. 0.25 = 25 %).
    pub change_threshold: f32,
    /// Weight of the new update when the change is large (e.g. 0.7).
    pub relaxed_weight: f32,
    /// Effective rays at which a probe counts as converged (confidence 1).
    pub converged_rays: f32,
}

impl Default for BlendParams {
    fn default() -> Self {
        BlendParams { hysteresis: 0.97, change_threshold: 0.25, relaxed_weight: 0.7, converged_rays: 256.0 }
    }
}

/// Folds an update into a payload. A payload without `VALID` (new, recycled or reset) takes the update whole.
///
/// Effective rays: a fresh payload starts from the update's known rays; a steady blend adds them, so the
/// running-average weight `new / (old + new)` falls until it meets the hysteresis floor `1 - hysteresis`; a
/// relaxed blend (large change) keeps a history of at most `converged_rays`. Confidence is
/// `min(1, rays / converged_rays)` times the update's known fraction.
pub fn blend(old: &ProbePayload, u: &UpdateResult, p: &BlendParams) -> ProbePayload {
    if u.inside_solid {
        return ProbePayload { flags: flags::DISABLED, ..Default::default() };
    }
    let new_rays = u.rays as f32 * u.known_fraction;
    if new_rays <= 0.0 {
        return *old;
    }
    let fresh = old.flags & flags::VALID == 0 || old.rays <= 0.0;
    let (weight, rays) = if fresh {
        (1.0, new_rays)
    } else {
        let (a, b) = (old.sh.level(), u.sh.level());
        let change = (a - b).abs() / a.max(b).max(1e-4);
        // A change counts as real only beyond the update's own noise.
        let significant = change > p.change_threshold + 2.0 * u.relative_noise;
        // Running average while young, hysteresis once converged.
        let steady = (new_rays / (old.rays + new_rays)).max(1.0 - p.hysteresis);
        if significant && p.relaxed_weight > steady {
            // The lighting changed (or the estimate is noisy): take most of the new value and keep only a short
            // history, so the next updates average quickly without erasing a converged probe's confidence.
            let kept = (old.rays * (1.0 - p.relaxed_weight) + new_rays).min(p.converged_rays);
            (p.relaxed_weight, kept)
        } else {
            (steady, old.rays + new_rays)
        }
    };
    let mix = |a: f32, b: f32| a + (b - a) * weight;
    let ao = if fresh { u.ao_direction } else { old.ao_direction().lerp(u.ao_direction, weight).normalize_or_zero() };
    let mut f = flags::VALID;
    if u.sky_visibility >= 1.0 {
        f |= flags::SKY_ONLY;
    }
    ProbePayload {
        sh: old.sh.lerp(&u.sh, weight),
        ao_dir: octa::pack(ao),
        ao_confidence: mix(old.ao_confidence, u.ao_open),
        mean_log_distance: mix(old.mean_log_distance, u.mean_log_distance),
        sky_visibility: mix(old.sky_visibility, u.sky_visibility),
        confidence: (rays / p.converged_rays).min(1.0) * u.known_fraction,
        flags: f,
        rays,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(level: f32) -> UpdateResult {
        let mut sh = ShL1::default();
        sh.c[0] = Vec3::splat(level);
        UpdateResult { sh, ao_direction: Vec3::Y, ao_open: 1.0, known_fraction: 1.0, rays: 64, ..Default::default() }
    }

    #[test]
    fn a_new_probe_takes_the_first_update_and_converges() {
        let p = BlendParams::default();
        let mut payload = ProbePayload::default();
        payload = blend(&payload, &update(1.0), &p);
        assert_eq!(payload.sh.c[0], Vec3::ONE);
        assert!(payload.usable());
        assert_eq!(payload.confidence, 0.25);
        for _ in 0..3 {
            payload = blend(&payload, &update(1.0), &p);
        }
        assert_eq!(payload.confidence, 1.0);
    }

    #[test]
    fn steady_changes_use_hysteresis_and_large_ones_relax_it() {
        let p = BlendParams::default();
        let mut payload = ProbePayload::default();
        for _ in 0..64 {
            payload = blend(&payload, &update(1.0), &p);
        }
        let small = blend(&payload, &update(1.1), &p);
        assert!((small.sh.c[0].x - 1.003).abs() < 1e-4, "{}", small.sh.c[0].x);
        // A light switched on: ten times brighter. Within three updates it is most of the way there.
        let mut lit = payload;
        for _ in 0..3 {
            lit = blend(&lit, &update(10.0), &p);
        }
        assert!(lit.sh.c[0].x > 9.0, "{}", lit.sh.c[0].x);
        assert!(lit.rays <= p.converged_rays + 64.0, "history shortened: {}", lit.rays);
    }

    #[test]
    fn noise_alone_does_not_relax_a_converged_probe() {
        let p = BlendParams::default();
        let mut payload = ProbePayload::default();
        for _ in 0..8 {
            payload = blend(&payload, &update(1.0), &p);
        }
        let mut noisy = update(1.5);
        noisy.relative_noise = 0.4;
        let after = blend(&payload, &noisy, &p);
        assert!(after.sh.c[0].x < 1.2, "{}", after.sh.c[0].x);
        assert_eq!(after.confidence, 1.0);
    }

    #[test]
    fn unknown_rays_lower_confidence_and_solid_probes_are_disabled() {
        let p = BlendParams::default();
        let mut u = update(1.0);
        u.known_fraction = 0.5;
        let half = blend(&ProbePayload::default(), &u, &p);
        assert_eq!(half.confidence, 32.0 / 256.0 * 0.5);
        let solid = blend(&half, &UpdateResult { inside_solid: true, ..Default::default() }, &p);
        assert!(!solid.usable());
        assert_eq!(solid.flags, flags::DISABLED);
        let nothing = blend(&half, &UpdateResult { rays: 64, ..Default::default() }, &p);
        assert_eq!(nothing, half, "an update that saw nothing known changes nothing");
    }
}
