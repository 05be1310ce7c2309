//! The region grid: regions are fixed square cells of the world's XZ plane, so "which regions are near the
//! camera" is a spatial query and a placement's region follows from its position.

use glam::{Vec2, Vec3};

use super::error::StreamError;
use super::types::RegionId;

/// The world's region cells: `region_size` metres square, covering the world's XZ bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionGrid {
    /// Edge length of one region, metres.
    pub region_size: f32,
    /// First cell on each axis `(x, z)`, inclusive.
    pub min: (i32, i32),
    /// Last cell on each axis `(x, z)`, exclusive.
    pub max: (i32, i32),
}

impl RegionGrid {
    /// The grid of `region_size` cells covering the XZ rectangle `[lo, hi)` (metres).
    pub fn covering(region_size: f32, lo: Vec2, hi: Vec2) -> Self {
        let cell = |v: f32| (v / region_size).floor() as i32;
        let cell_end = |v: f32| (v / region_size).ceil() as i32;
        RegionGrid {
            region_size,
            min: (cell(lo.x), cell(lo.y)),
            max: (cell_end(hi.x).max(cell(lo.x) + 1), cell_end(hi.y).max(cell(lo.y) + 1)),
        }
    }

    /// Number of regions in the grid.
    pub fn len(&self) -> usize {
        ((self.max.0 - self.min.0) as usize) * ((self.max.1 - self.min.1) as usize)
    }

    /// True for a grid without cells (never built by [`RegionGrid::covering`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the region is a cell of this grid.
    pub fn contains(&self, r: RegionId) -> bool {
        (self.min.0..self.max.0).contains(&r.x) && (self.min.1..self.max.1).contains(&r.z)
    }

    /// The region holding a world position, or `None` outside the grid.
    pub fn region_of(&self, p: Vec3) -> Option<RegionId> {
        if !p.is_finite() {
            return None;
        }
        let r = RegionId::new((p.x / self.region_size).floor() as i32, (p.z / self.region_size).floor() as i32);
        self.contains(r).then_some(r)
    }

    /// The XZ rectangle `[min, max)` of a region, metres.
    pub fn region_rect(&self, r: RegionId) -> (Vec2, Vec2) {
        let lo = Vec2::new(r.x as f32, r.z as f32) * self.region_size;
        (lo, lo + Vec2::splat(self.region_size))
    }

    /// Parses region id text and checks that the region exists.
    pub fn parse(&self, text: &str) -> Result<RegionId, StreamError> {
        let r: RegionId = text.parse()?;
        if !self.contains(r) {
            return Err(StreamError::UnknownRegion { region: text.to_string(), grid: self.describe() });
        }
        Ok(r)
    }

    /// Every region whose rectangle comes within `radius` metres of `center` (XZ), ordered by distance and
    /// then by id, so the nearest are taken first when work per frame is bounded.
    pub fn regions_within(&self, center: Vec2, radius: f32) -> Vec<(f32, RegionId)> {
        let s = self.region_size;
        let x0 = (((center.x - radius) / s).floor() as i32).max(self.min.0);
        let x1 = (((center.x + radius) / s).floor() as i32).min(self.max.0 - 1);
        let z0 = (((center.y - radius) / s).floor() as i32).max(self.min.1);
        let z1 = (((center.y + radius) / s).floor() as i32).min(self.max.1 - 1);
        let mut out = Vec::new();
        for x in x0..=x1 {
            for z in z0..=z1 {
                let r = RegionId::new(x, z);
                let d = self.distance(r, center);
                if d <= radius {
                    out.push((d, r));
                }
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out
    }

    /// Distance in metres from an XZ point to a region's rectangle (0 inside).
    pub fn distance(&self, r: RegionId, p: Vec2) -> f32 {
        let (lo, hi) = self.region_rect(r);
        (lo - p).max(p - hi).max(Vec2::ZERO).length()
    }

    /// Human-readable extent, for error messages: `r<x0>_<z0> .. r<x1>_<z1>`.
    pub fn describe(&self) -> String {
        format!(
            "{} .. {} ({} m cells)",
            RegionId::new(self.min.0, self.min.1),
            RegionId::new(self.max.0 - 1, self.max.1 - 1),
            self.region_size
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cover_bounds_and_classify_positions() {
        let g = RegionGrid::covering(32.0, Vec2::new(-256.0, -256.0), Vec2::new(256.0, 256.0));
        assert_eq!(g.len(), 256);
        assert_eq!(g.region_of(Vec3::new(-0.5, 10.0, 0.5)), Some(RegionId::new(-1, 0)));
        assert_eq!(g.region_of(Vec3::new(300.0, 0.0, 0.0)), None);
        assert_eq!(g.region_of(Vec3::new(f32::NAN, 0.0, 0.0)), None);
        assert!(matches!(g.parse("r8_0"), Err(StreamError::UnknownRegion { .. })));
        assert_eq!(g.parse("r7_-8").unwrap(), RegionId::new(7, -8));
    }

    #[test]
    fn nearest_regions_come_first() {
        let g = RegionGrid::covering(10.0, Vec2::splat(-100.0), Vec2::splat(100.0));
        let near = g.regions_within(Vec2::new(5.0, 5.0), 12.0);
        assert_eq!(near[0], (0.0, RegionId::new(0, 0)));
        assert!(near.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(near.iter().all(|(d, r)| *d == g.distance(*r, Vec2::new(5.0, 5.0))));
        assert_eq!(near.len(), 9);
    }
}
