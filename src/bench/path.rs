//! Camera paths: a world's `main` bookmark flight, or a path file (JSON keyframes, linearly interpolated;
//! see the README) that `bench --path` and `view --path` play back and the viewer records ([`PathRecorder`]).

use std::path::Path;

use glam::Vec3;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::world::Bookmark;

/// Largest keyframe time, seconds (about 31 years).
pub const MAX_PATH_SECONDS: f32 = 1e9;
/// Largest keyframe coordinate, metres.
pub const MAX_PATH_METRES: f32 = 1e6;
/// Largest keyframe angle, degrees.
pub const MAX_PATH_DEGREES: f32 = 1e6;

/// One keyframe.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Keyframe {
    /// Seconds from the start.
    pub t: f32,
    /// Eye position, metres.
    pub position: Vec3,
    /// Heading, degrees (0 looks along -Z).
    pub yaw: f32,
    /// Elevation, degrees.
    pub pitch: f32,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PathFile {
    keyframes: Vec<Keyframe>,
}

/// Why a path file was rejected.
#[derive(Debug, Error)]
pub enum PathError {
    /// Unreadable.
    #[error("{file}: cannot read the path file: {reason}")]
    Io { file: String, reason: String },
    /// Malformed.
    #[error("{file}:{line}:{column}: {reason}")]
    Parse { file: String, line: usize, column: usize, reason: String },
    /// Well-formed but unusable.
    #[error("{file}: at `keyframes[{index}]`: {reason}")]
    Invalid { file: String, index: usize, reason: String },
}

/// A camera path in time.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraPath {
    /// Name for reports.
    pub name: String,
    keys: Vec<Keyframe>,
}

impl CameraPath {
    /// The `main` bookmark flight: from the bookmark, forward along its heading at `speed` metres per second at
    /// constant height, the heading swinging gently (25 degrees, 20 s period).
    pub fn bookmark_flight(b: Bookmark, speed: f32, seconds: f32) -> Self {
        let mut keys = Vec::new();
        let mut pos = b.position;
        let dt = 0.25;
        let steps = (seconds / dt).ceil() as usize + 1;
        for i in 0..=steps {
            let t = i as f32 * dt;
            let yaw = b.yaw + 25.0 * (t * std::f32::consts::TAU / 20.0).sin();
            keys.push(Keyframe { t, position: pos, yaw, pitch: b.pitch });
            let y = yaw.to_radians();
            pos += Vec3::new(-y.sin(), 0.0, -y.cos()) * speed * dt;
        }
        CameraPath { name: "main bookmark flight".into(), keys }
    }

    /// The camera held still at a bookmark.
    pub fn still(name: &str, b: Bookmark) -> Self {
        CameraPath {
            name: format!("bookmark {name}"),
            keys: vec![Keyframe { t: 0.0, position: b.position, yaw: b.yaw, pitch: b.pitch }],
        }
    }

    /// Reads a path file: `{"keyframes": [{"t": 0, "position": [x, y, z], "yaw": 0, "pitch": 0}, ...]}` with
    /// strictly increasing times.
    pub fn load(path: &Path) -> Result<Self, PathError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| PathError::Io { file: file.clone(), reason: e.to_string() })?;
        let p: PathFile = serde_json::from_str(&text).map_err(|e| PathError::Parse {
            file: file.clone(),
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })?;
        if p.keyframes.is_empty() {
            return Err(PathError::Invalid { file, index: 0, reason: "a path needs at least one keyframe".into() });
        }
        for (i, k) in p.keyframes.iter().enumerate() {
            let bad = |reason: &str| PathError::Invalid { file: file.clone(), index: i, reason: reason.into() };
            if !k.t.is_finite() || !k.position.is_finite() || !k.yaw.is_finite() || !k.pitch.is_finite() {
                return Err(bad("values must be finite"));
            }
            if k.t.abs() > MAX_PATH_SECONDS
                || k.position.abs().max_element() > MAX_PATH_METRES
                || k.yaw.abs().max(k.pitch.abs()) > MAX_PATH_DEGREES
            {
                return Err(bad(&format!(
                    "out of range: `t` must be within +-{MAX_PATH_SECONDS:e} s, positions within \
                     +-{MAX_PATH_METRES:e} m, angles within +-{MAX_PATH_DEGREES:e} degrees"
                )));
            }
            if i > 0 && k.t <= p.keyframes[i - 1].t {
                return Err(bad("times must increase strictly"));
            }
        }
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or(file);
        Ok(CameraPath { name, keys: p.keyframes })
    }

    /// Seconds from the first keyframe to the last.
    pub fn duration(&self) -> f32 {
        self.keys.last().map_or(0.0, |k| k.t) - self.keys.first().map_or(0.0, |k| k.t)
    }

    /// The keyframes.
    pub fn keyframes(&self) -> &[Keyframe] {
        &self.keys
    }

    /// Writes the path file that [`CameraPath::load`] reads.
    pub fn save(&self, path: &Path) -> Result<(), PathError> {
        let file = PathFile { keyframes: self.keys.clone() };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| PathError::Io { file: path.display().to_string(), reason: e.to_string() })?;
        std::fs::write(path, text + "\n")
            .map_err(|e| PathError::Io { file: path.display().to_string(), reason: e.to_string() })
    }

    /// Position, yaw and pitch at time `t` (clamped to the path's span).
    pub fn sample(&self, t: f32) -> (Vec3, f32, f32) {
        let k = &self.keys;
        let i = k.partition_point(|x| x.t <= t);
        if i == 0 {
            return (k[0].position, k[0].yaw, k[0].pitch);
        }
        if i == k.len() {
            let l = k[k.len() - 1];
            return (l.position, l.yaw, l.pitch);
        }
        let (a, b) = (k[i - 1], k[i]);
        let f = (t - a.t) / (b.t - a.t);
        (a.position.lerp(b.position, f), a.yaw + (b.yaw - a.yaw) * f, a.pitch + (b.pitch - a.pitch) * f)
    }
}

/// Records a flight as keyframes, at most one per [`PathRecorder::INTERVAL`] seconds, with the heading
/// unwrapped (a turn through 0 degrees stays a turn when played back).
#[derive(Clone, Debug, Default)]
pub struct PathRecorder {
    keys: Vec<Keyframe>,
    /// The latest pose, kept until the next keyframe is due, so the path ends where the flight ended.
    pending: Option<Keyframe>,
}

impl PathRecorder {
    /// Seconds between keyframes.
    pub const INTERVAL: f32 = 0.1;

    /// Adds the pose at `t` seconds from the start of the recording (times must not go back).
    pub fn push(&mut self, t: f32, position: Vec3, yaw: f32, pitch: f32) {
        let mut k = Keyframe { t, position, yaw, pitch };
        if let Some(last) = self.keys.last() {
            if t.partial_cmp(&last.t) != Some(std::cmp::Ordering::Greater) {
                return;
            }
            k.yaw = last.yaw + (yaw - last.yaw + 180.0).rem_euclid(360.0) - 180.0;
            if t < last.t + Self::INTERVAL {
                self.pending = Some(k);
                return;
            }
        }
        self.keys.push(k);
        self.pending = None;
    }

    /// Keyframes so far.
    pub fn len(&self) -> usize {
        self.keys.len() + usize::from(self.pending.is_some())
    }

    /// True before the first pose.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The recorded path (`None` when nothing was recorded).
    pub fn finish(mut self, name: &str) -> Option<CameraPath> {
        self.keys.extend(self.pending.take());
        (!self.keys.is_empty()).then(|| CameraPath { name: name.to_string(), keys: self.keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_flight_saves_loads_and_plays_back() {
        let mut r = PathRecorder::default();
        // 2 s at 60 Hz, turning right through yaw 0 (350 .. 10 degrees wraps).
        for i in 0..=120 {
            let t = i as f32 / 60.0;
            let yaw = (350.0 + 10.0 * t).rem_euclid(360.0);
            r.push(t, Vec3::new(t, 1.0, -2.0 * t), yaw, -5.0);
        }
        r.push(1.0, Vec3::ZERO, 0.0, 0.0); // time going back is ignored
        assert!(r.len() >= 20 && r.len() <= 22, "{} keyframes", r.len());
        let path = r.finish("flight").expect("recorded");
        assert!((path.duration() - 2.0).abs() < 1e-5, "ends where the flight ended");
        let file = std::env::temp_dir().join(format!("lumon-path-{}.json", std::process::id()));
        path.save(&file).expect("save");
        let back = CameraPath::load(&file).expect("load");
        let _ = std::fs::remove_file(&file);
        assert_eq!(back.keyframes(), path.keyframes());
        let (p, yaw, pitch) = back.sample(1.5);
        assert!((p - Vec3::new(1.5, 1.0, -3.0)).length() < 1e-3, "{p}");
        assert!((yaw - 365.0).abs() < 0.2, "unwrapped heading, not a spin back through 180: {yaw}");
        assert_eq!(pitch, -5.0);
        assert!(PathRecorder::default().finish("x").is_none());
    }

    #[test]
    fn flight_moves_forward_and_interpolates() {
        let p = CameraPath::bookmark_flight(Bookmark { position: Vec3::ZERO, yaw: 0.0, pitch: 0.0 }, 4.0, 10.0);
        let (a, _, _) = p.sample(0.0);
        let (b, _, _) = p.sample(1.0);
        assert!((b - a).length() > 3.5 && (b - a).length() < 4.5);
        assert!(b.z < a.z, "yaw 0 flies along -Z");
        let (c, _, _) = p.sample(0.125);
        assert!((c - a).length() > 0.0 && (c - a).length() < (b - a).length());
    }
}
