//! The fly camera and its input state, without a window (unit-tested): WASD moves in the view plane, Q/E down
//! and up, mouse motion turns while the right button is held, the wheel scales the speed, shift boosts.

use glam::Vec3;

use crate::render::Camera;

/// Keys and buttons held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// W.
    pub forward: bool,
    /// S.
    pub back: bool,
    /// A.
    pub left: bool,
    /// D.
    pub right: bool,
    /// E.
    pub up: bool,
    /// Q.
    pub down: bool,
    /// Shift.
    pub boost: bool,
    /// Right mouse button (mouse look).
    pub look: bool,
}

/// A camera that flies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlyCamera {
    /// The camera.
    pub camera: Camera,
    /// Speed, metres per second.
    pub speed: f32,
    /// Degrees per pixel of mouse motion.
    pub sensitivity: f32,
}

/// Speed multiplier while shift is held.
pub const BOOST: f32 = 4.0;

impl FlyCamera {
    /// A camera at `camera` flying at `speed` m/s.
    pub fn new(camera: Camera, speed: f32) -> Self {
        FlyCamera { camera, speed, sensitivity: 0.15 }
    }

    /// Moves for `dt` seconds with `held` keys.
    pub fn update(&mut self, held: &Held, dt: f32) {
        let (f, r, _) = self.camera.basis();
        let axis = |a: bool, b: bool| f32::from(u8::from(a)) - f32::from(u8::from(b));
        let dir =
            f * axis(held.forward, held.back) + r * axis(held.right, held.left) + Vec3::Y * axis(held.up, held.down);
        let boost = if held.boost { BOOST } else { 1.0 };
        self.camera.position += dir.normalize_or_zero() * self.speed * boost * dt.clamp(0.0, 0.25);
    }

    /// Turns by a mouse motion (pixels) while looking.
    pub fn look(&mut self, held: &Held, dx: f64, dy: f64) {
        if !held.look || !dx.is_finite() || !dy.is_finite() {
            return;
        }
        // Moving the mouse right turns right (yaw decreases: positive yaw turns towards -X).
        self.camera.yaw = (self.camera.yaw - dx as f32 * self.sensitivity).rem_euclid(360.0);
        self.camera.pitch = (self.camera.pitch - dy as f32 * self.sensitivity).clamp(-89.0, 89.0);
    }

    /// Scales the speed by a wheel motion (lines; up is faster), within 0.1..=500 m/s.
    pub fn wheel(&mut self, lines: f32) {
        if lines.is_finite() {
            self.speed = (self.speed * 1.2f32.powf(lines)).clamp(0.1, 500.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam() -> FlyCamera {
        FlyCamera::new(Camera::new(Vec3::ZERO, 0.0, 0.0), 2.0)
    }

    #[test]
    fn keys_move_in_the_view_frame() {
        let mut c = cam();
        c.update(&Held { forward: true, ..Default::default() }, 0.25);
        assert!((c.camera.position - Vec3::new(0.0, 0.0, -0.5)).length() < 1e-5);
        // A long stall moves at most a quarter second's worth.
        let mut c = cam();
        c.update(&Held { forward: true, ..Default::default() }, 5.0);
        assert!((c.camera.position - Vec3::new(0.0, 0.0, -0.5)).length() < 1e-5);
        let mut c = cam();
        c.update(&Held { right: true, up: true, boost: true, ..Default::default() }, 0.25);
        let want = Vec3::new(1.0, 1.0, 0.0).normalize() * 2.0 * BOOST * 0.25;
        assert!((c.camera.position - want).length() < 1e-5, "{}", c.camera.position);
        let mut c = cam();
        c.update(&Held { forward: true, back: true, ..Default::default() }, 1.0);
        assert_eq!(c.camera.position, Vec3::ZERO, "opposite keys cancel");
    }

    #[test]
    fn mouse_turns_only_while_looking_and_pitch_is_clamped() {
        let mut c = cam();
        c.look(&Held::default(), 100.0, 0.0);
        assert_eq!(c.camera.yaw, 0.0);
        let look = Held { look: true, ..Default::default() };
        c.look(&look, 100.0, 0.0);
        assert!((c.camera.yaw - 345.0).abs() < 1e-3, "right turns right: {}", c.camera.yaw);
        c.look(&look, 0.0, -10_000.0);
        assert_eq!(c.camera.pitch, 89.0);
        c.look(&look, f64::NAN, 1.0);
        assert_eq!(c.camera.pitch, 89.0);
    }

    #[test]
    fn the_wheel_scales_speed_within_bounds() {
        let mut c = cam();
        c.wheel(1.0);
        assert!((c.speed - 2.4).abs() < 1e-5);
        c.wheel(-1000.0);
        assert_eq!(c.speed, 0.1);
        c.wheel(f32::INFINITY);
        assert_eq!(c.speed, 0.1);
    }
}
