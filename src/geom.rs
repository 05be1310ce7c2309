//! Small geometry shared by every CPU module: axis-aligned boxes and placement transforms.
//!
//! Conventions: right-handed, Y up, metres. A placement's rotation is given as Euler angles in degrees
//! `[x, y, z]` and converted with [`euler_degrees_to_quat`]: yaw about Y first, then pitch about X, then roll
//! about Z (glam's `EulerRot::YXZ`), the order a fly camera or a level editor uses.

use glam::{Mat4, Quat, Vec3};
use serde::{Deserialize, Serialize};

/// An axis-aligned box in metres. `min <= max` on every axis for a non-empty box.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aabb {
    /// Minimum corner, metres.
    pub min: Vec3,
    /// Maximum corner, metres.
    pub max: Vec3,
}

impl Aabb {
    /// The empty box: the neutral element of [`Aabb::union`].
    pub const EMPTY: Aabb = Aabb { min: Vec3::splat(f32::INFINITY), max: Vec3::splat(f32::NEG_INFINITY) };

    /// A box from two corners in any order.
    pub fn from_corners(a: Vec3, b: Vec3) -> Self {
        Aabb { min: a.min(b), max: a.max(b) }
    }

    /// True when the box holds no point.
    pub fn is_empty(&self) -> bool {
        self.min.x > self.max.x || self.min.y > self.max.y || self.min.z > self.max.z
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &Aabb) -> Aabb {
        Aabb { min: self.min.min(other.min), max: self.max.max(other.max) }
    }

    /// True when the two boxes share at least one point.
    pub fn intersects(&self, other: &Aabb) -> bool {
        self.min.cmple(other.max).all() && other.min.cmple(self.max).all()
    }

    /// The box grown by `margin` metres on every side.
    pub fn expanded(&self, margin: f32) -> Aabb {
        Aabb { min: self.min - Vec3::splat(margin), max: self.max + Vec3::splat(margin) }
    }

    /// The world box of this (local) box under an affine transform: the box of its eight transformed corners,
    /// computed with the absolute-matrix method (exact for boxes, no corner loop).
    pub fn transformed(&self, m: &Mat4) -> Aabb {
        if self.is_empty() {
            return *self;
        }
        let center = (self.min + self.max) * 0.5;
        let half = (self.max - self.min) * 0.5;
        let c = m.transform_point3(center);
        let abs = |v: glam::Vec4| v.truncate().abs();
        let h = abs(m.x_axis) * half.x + abs(m.y_axis) * half.y + abs(m.z_axis) * half.z;
        Aabb { min: c - h, max: c + h }
    }
}

/// Converts Euler degrees `[x, y, z]` (see the module header for the order) into a unit quaternion.
pub fn euler_degrees_to_quat(degrees: Vec3) -> Quat {
    Quat::from_euler(glam::EulerRot::YXZ, degrees.y.to_radians(), degrees.x.to_radians(), degrees.z.to_radians())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transformed_box_matches_corner_box() {
        let b = Aabb::from_corners(Vec3::new(-1.0, 0.0, -2.0), Vec3::new(1.0, 3.0, 2.0));
        let m = Mat4::from_scale_rotation_translation(
            Vec3::new(2.0, 1.0, 0.5),
            euler_degrees_to_quat(Vec3::new(10.0, 35.0, -20.0)),
            Vec3::new(5.0, -1.0, 7.0),
        );
        let fast = b.transformed(&m);
        let mut slow = Aabb::EMPTY;
        for i in 0..8 {
            let p = Vec3::new(
                if i & 1 == 0 { b.min.x } else { b.max.x },
                if i & 2 == 0 { b.min.y } else { b.max.y },
                if i & 4 == 0 { b.min.z } else { b.max.z },
            );
            let q = m.transform_point3(p);
            slow = slow.union(&Aabb { min: q, max: q });
        }
        assert!((fast.min - slow.min).abs().max_element() < 1e-4, "{fast:?} vs {slow:?}");
        assert!((fast.max - slow.max).abs().max_element() < 1e-4, "{fast:?} vs {slow:?}");
    }

    #[test]
    fn yaw_turns_x_towards_minus_z() {
        let q = euler_degrees_to_quat(Vec3::new(0.0, 90.0, 0.0));
        let v = q * Vec3::X;
        assert!((v - Vec3::new(0.0, 0.0, -1.0)).length() < 1e-6, "{v:?}");
    }

    #[test]
    fn intersects_and_union() {
        let a = Aabb::from_corners(Vec3::ZERO, Vec3::ONE);
        let b = Aabb::from_corners(Vec3::splat(1.0), Vec3::splat(2.0));
        let c = Aabb::from_corners(Vec3::splat(1.5), Vec3::splat(2.0));
        assert!(a.intersects(&b));
        assert!(!a.intersects(&c));
        assert_eq!(a.union(&c), Aabb::from_corners(Vec3::ZERO, Vec3::splat(2.0)));
        assert!(Aabb::EMPTY.is_empty());
    }
}
