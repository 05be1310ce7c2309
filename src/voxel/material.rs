//! Per-voxel materials packed in 32 bits: albedo RGB in 8 bits each (square-root encoded, so dark colours keep
//! precision) and an 8-bit index into the world's emissive table (0 = emits nothing). A placement's tint and
//! emission multiplier are baked in when it is voxelised.

use glam::Vec3;

/// A packed voxel material: `r | g << 8 | b << 16 | emissive_index << 24`. Zero is reserved for "empty" in
/// dense bricks; [`PackedMaterial::new`] never produces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PackedMaterial(pub u32);

impl PackedMaterial {
    /// The "no voxel" value of dense bricks.
    pub const EMPTY: PackedMaterial = PackedMaterial(0);

    /// Packs an albedo (clamped to [0, 1]) and an emissive-table index. Never returns `EMPTY`: a solid voxel with
    /// zero albedo and no emission keeps the lowest red bit set (an albedo error below 2e-5).
    pub fn new(albedo: Vec3, emissive: u8) -> Self {
        let q = |c: f32| (c.clamp(0.0, 1.0).sqrt() * 255.0 + 0.5) as u32;
        let v = q(albedo.x) | q(albedo.y) << 8 | q(albedo.z) << 16 | u32::from(emissive) << 24;
        PackedMaterial(v.max(1))
    }

    /// True for the dense-brick "no voxel" value.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Linear albedo.
    #[inline]
    pub fn albedo(self) -> Vec3 {
        let d = |s: u32| {
            let c = (s & 0xFF) as f32 * (1.0 / 255.0);
            c * c
        };
        Vec3::new(d(self.0), d(self.0 >> 8), d(self.0 >> 16))
    }

    /// Index into the emissive table (0 = none).
    #[inline]
    pub fn emissive_index(self) -> u8 {
        (self.0 >> 24) as u8
    }
}

/// Interned emitted radiances; index 0 is "no emission". At most 255 distinct values; past that the nearest
/// existing entry is reused (and counted), so a world with many lamp colours degrades gracefully.
#[derive(Clone, Debug, PartialEq)]
pub struct EmissiveTable {
    entries: Vec<Vec3>,
    /// Values that had to share an entry because the table was full.
    pub merged: u64,
}

impl Default for EmissiveTable {
    fn default() -> Self {
        EmissiveTable { entries: vec![Vec3::ZERO], merged: 0 }
    }
}

impl EmissiveTable {
    /// The index of `radiance`, adding it if new.
    pub fn intern(&mut self, radiance: Vec3) -> u8 {
        if radiance.max_element() <= 0.0 || !radiance.is_finite() {
            return 0;
        }
        let key = quantise(radiance);
        if let Some(i) = self.entries.iter().position(|e| quantise(*e) == key) {
            return i as u8;
        }
        if self.entries.len() < 256 {
            self.entries.push(radiance);
            return (self.entries.len() - 1) as u8;
        }
        self.merged += 1;
        let nearest = (1..self.entries.len())
            .min_by(|a, b| {
                let da = (self.entries[*a] - radiance).length_squared();
                let db = (self.entries[*b] - radiance).length_squared();
                da.total_cmp(&db)
            })
            .unwrap_or(0);
        nearest as u8
    }

    /// Radiance of an index.
    #[inline]
    pub fn get(&self, index: u8) -> Vec3 {
        self.entries.get(usize::from(index)).copied().unwrap_or(Vec3::ZERO)
    }

    /// Number of entries including "none".
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: "none" is entry 0.
    pub fn is_empty(&self) -> bool {
        false
    }
}

fn quantise(v: Vec3) -> [u32; 3] {
    [(v.x * 256.0) as u32, (v.y * 256.0) as u32, (v.z * 256.0) as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_within_quantisation() {
        for a in [Vec3::ZERO, Vec3::ONE, Vec3::new(0.8, 0.1, 0.02)] {
            let p = PackedMaterial::new(a, 7);
            assert!(!p.is_empty());
            assert_eq!(p.emissive_index(), 7);
            assert!((p.albedo() - a).abs().max_element() < 0.01, "{a} -> {}", p.albedo());
        }
    }

    #[test]
    fn emissive_table_interns_and_degrades() {
        let mut t = EmissiveTable::default();
        assert_eq!(t.intern(Vec3::ZERO), 0);
        let a = t.intern(Vec3::new(5.0, 4.0, 3.0));
        assert_eq!(t.intern(Vec3::new(5.0, 4.0, 3.0)), a);
        for i in 0..400 {
            t.intern(Vec3::splat(1.0 + i as f32));
        }
        assert_eq!(t.len(), 256);
        assert!(t.merged > 0);
        let merged = t.merged;
        let near = t.intern(Vec3::splat(100.4));
        assert_eq!(t.merged, merged + 1);
        assert_eq!(t.get(near), Vec3::splat(100.0));
    }
}
