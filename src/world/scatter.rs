//! Placements generated from the seed: "scatter 100,000 buildings over this area". Ids are
//! `<prefix>-<index>` with the index zero-padded, so bytewise order is generation order.

use glam::{Vec2, Vec3};

use super::terrain::Terrain;
use crate::hash::{hash_bytes, Rng};
use crate::streaming::{flags, Placement, RegionId, Transform};

/// A resolved scatter rule.
#[derive(Clone, Debug)]
pub struct Scatter {
    /// Id prefix.
    pub id_prefix: String,
    /// Assets drawn uniformly.
    pub assets: Vec<String>,
    /// Number of placements (random) or cap (grid).
    pub count: usize,
    /// XZ area `[min, max)`.
    pub area: (Vec2, Vec2),
    /// `Some(cell)` for the grid layout.
    pub grid_cell: Option<f32>,
    /// Seed mixed with the world's.
    pub seed: u64,
    /// Uniform scale range.
    pub scale: Vec2,
    /// Random yaw.
    pub random_yaw: bool,
    /// Stand on the terrain.
    pub on_terrain: bool,
    /// Tint range per channel, if any.
    pub tint: Option<Vec2>,
    /// Tags.
    pub tags: Vec<String>,
    /// XZ rectangles kept free.
    pub avoid: Vec<(Vec2, Vec2)>,
}

impl Scatter {
    /// Generates the placements (regions are filled in later by the server).
    pub fn generate(&self, world_seed: u64, terrain: &Terrain) -> Vec<Placement> {
        let mut rng = Rng::new(world_seed ^ self.seed.rotate_left(17) ^ hash_bytes(self.id_prefix.as_bytes()));
        let width = self.count.max(1).to_string().len().max(6);
        let (lo, hi) = self.area;
        let free = |p: Vec2| !self.avoid.iter().any(|(a, b)| p.cmpge(*a).all() && p.cmplt(*b).all());
        let mut positions = Vec::with_capacity(self.count);
        match self.grid_cell {
            None => {
                for _ in 0..self.count {
                    for _attempt in 0..8 {
                        let p = Vec2::new(rng.range_f32(lo.x, hi.x), rng.range_f32(lo.y, hi.y));
                        if free(p) {
                            positions.push(p);
                            break;
                        }
                    }
                }
            }
            Some(cell) => {
                let nx = ((hi.x - lo.x) / cell).floor() as usize;
                let nz = ((hi.y - lo.y) / cell).floor() as usize;
                'cells: for iz in 0..nz {
                    for ix in 0..nx {
                        let jitter = Vec2::new(rng.range_f32(-0.2, 0.2), rng.range_f32(-0.2, 0.2)) * cell;
                        let p = lo + (Vec2::new(ix as f32, iz as f32) + 0.5) * cell + jitter;
                        if free(p) {
                            positions.push(p);
                            if positions.len() == self.count {
                                break 'cells;
                            }
                        }
                    }
                }
            }
        }
        positions
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let asset = self.assets[rng.below(self.assets.len() as u64) as usize].clone();
                let s = rng.range_f32(self.scale.x, self.scale.y.max(self.scale.x + f32::EPSILON));
                let yaw = if self.random_yaw { rng.range_f32(0.0, 360.0) } else { 0.0 };
                let tint = match self.tint {
                    Some(r) => Vec3::new(rng.range_f32(r.x, r.y), rng.range_f32(r.x, r.y), rng.range_f32(r.x, r.y)),
                    None => Vec3::ONE,
                };
                let y = if self.on_terrain { terrain.height(p.x, p.y).unwrap_or(0.0) } else { 0.0 };
                Placement {
                    placement_id: format!("{}-{:0width$}", self.id_prefix, i),
                    asset_id: asset,
                    region_id: RegionId::new(0, 0),
                    transform: Transform {
                        position: Vec3::new(p.x, y, p.y),
                        rotation: Vec3::new(0.0, yaw, 0.0),
                        scale: Vec3::splat(s),
                    },
                    tags: self.tags.clone(),
                    tint,
                    emission: 1.0,
                    flags: flags::DEFAULT,
                    is_valid: true,
                    has_warnings: false,
                }
            })
            .collect()
    }
}
