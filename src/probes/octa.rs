//! Octahedral encoding of unit vectors (ShortRangeAO directions): the sphere folded onto the square
//! `[-1, 1]^2`, quantised to 2 x 16 bits.

use glam::{Vec2, Vec3};

/// Unit vector to the octahedral square.
pub fn encode(n: Vec3) -> Vec2 {
    let l1 = n.x.abs() + n.y.abs() + n.z.abs();
    if l1 <= 0.0 {
        return Vec2::ZERO;
    }
    let p = Vec2::new(n.x, n.z) / l1;
    if n.y >= 0.0 {
        p
    } else {
        let s = Vec2::new(if p.x >= 0.0 { 1.0 } else { -1.0 }, if p.y >= 0.0 { 1.0 } else { -1.0 });
        (Vec2::ONE - Vec2::new(p.y.abs(), p.x.abs())) * s
    }
}

/// Octahedral square to unit vector.
pub fn decode(e: Vec2) -> Vec3 {
    let y = 1.0 - e.x.abs() - e.y.abs();
    let mut v = Vec3::new(e.x, y, e.y);
    if y < 0.0 {
        let s = Vec2::new(if e.x >= 0.0 { 1.0 } else { -1.0 }, if e.y >= 0.0 { 1.0 } else { -1.0 });
        let f = (Vec2::ONE - Vec2::new(e.y.abs(), e.x.abs())) * s;
        v.x = f.x;
        v.z = f.y;
    }
    v.normalize_or_zero()
}

/// Encodes into two 16-bit unsigned integers packed in a `u32` (x low).
pub fn pack(n: Vec3) -> u32 {
    let e = encode(n);
    let q = |c: f32| ((c.clamp(-1.0, 1.0) * 0.5 + 0.5) * 65535.0 + 0.5) as u32;
    q(e.x) | q(e.y) << 16
}

/// Inverse of [`pack`].
pub fn unpack(p: u32) -> Vec3 {
    let d = |q: u32| (q & 0xFFFF) as f32 / 65535.0 * 2.0 - 1.0;
    decode(Vec2::new(d(p), d(p >> 16)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(x in -1.0f32..1.0, y in -1.0f32..1.0, z in -1.0f32..1.0) {
            let n = Vec3::new(x, y, z);
            prop_assume!(n.length() > 1e-3);
            let n = n.normalize();
            prop_assert!((decode(encode(n)) - n).length() < 1e-5);
            prop_assert!((unpack(pack(n)) - n).length() < 1e-4, "{} vs {}", unpack(pack(n)), n);
        }
    }

    #[test]
    fn axes_round_trip_exactly() {
        for n in [Vec3::X, Vec3::Y, Vec3::Z, -Vec3::X, -Vec3::Y, -Vec3::Z] {
            assert!((decode(encode(n)) - n).length() < 1e-6, "{n}");
        }
    }
}
