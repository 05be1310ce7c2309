//! Ground generation from the world seed: none, flat, or fractal Perlin noise (`noise` crate's `Fbm`).

use noise::{Fbm, MultiFractal, NoiseFn, Perlin};

/// The world's ground.
#[derive(Clone, Debug)]
pub enum Terrain {
    /// No ground.
    None,
    /// Flat ground at `height` metres.
    Flat {
        /// Ground level, metres.
        height: f32,
        /// Material id of the ground.
        material: u16,
    },
    /// `base + amplitude * fbm(xz)`.
    Noise(NoiseTerrain),
}

/// Fractal noise heights.
#[derive(Clone, Debug)]
pub struct NoiseTerrain {
    /// Mean ground level, metres.
    pub base_height: f32,
    /// Peak deviation, metres.
    pub amplitude: f32,
    /// Material id of the top layer.
    pub material: u16,
    /// Material id of steep slopes.
    pub slope_material: u16,
    fbm: Fbm<Perlin>,
}

impl NoiseTerrain {
    /// Noise terrain from the world seed.
    pub fn new(
        seed: u64,
        base_height: f32,
        amplitude: f32,
        frequency: f32,
        octaves: u32,
        material: u16,
        slope_material: u16,
    ) -> Self {
        let fbm = Fbm::<Perlin>::new((seed ^ (seed >> 32)) as u32)
            .set_octaves(octaves as usize)
            .set_frequency(f64::from(frequency))
            .set_persistence(0.5)
            .set_lacunarity(2.0);
        NoiseTerrain { base_height, amplitude, material, slope_material, fbm }
    }
}

impl Terrain {
    /// Ground height at `(x, z)` metres, or `None` where there is no ground.
    pub fn height(&self, x: f32, z: f32) -> Option<f32> {
        match self {
            Terrain::None => None,
            Terrain::Flat { height, .. } => Some(*height),
            Terrain::Noise(n) => {
                let v = n.fbm.get([f64::from(x), f64::from(z)]) as f32;
                Some(n.base_height + n.amplitude * v.clamp(-1.0, 1.0))
            }
        }
    }

    /// Lowest and highest possible ground level, metres (`None` without ground).
    pub fn height_range(&self) -> Option<(f32, f32)> {
        match self {
            Terrain::None => None,
            Terrain::Flat { height, .. } => Some((*height, *height)),
            Terrain::Noise(n) => Some((n.base_height - n.amplitude.abs(), n.base_height + n.amplitude.abs())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_heights_are_deterministic_and_bounded() {
        let a = Terrain::Noise(NoiseTerrain::new(7, 10.0, 20.0, 0.01, 5, 0, 0));
        let b = Terrain::Noise(NoiseTerrain::new(7, 10.0, 20.0, 0.01, 5, 0, 0));
        let c = Terrain::Noise(NoiseTerrain::new(8, 10.0, 20.0, 0.01, 5, 0, 0));
        let (lo, hi) = a.height_range().unwrap();
        let mut differs = false;
        for i in 0..200 {
            let (x, z) = (i as f32 * 3.7 - 300.0, i as f32 * -2.3 + 100.0);
            let h = a.height(x, z).unwrap();
            assert_eq!(h, b.height(x, z).unwrap());
            assert!((lo..=hi).contains(&h));
            differs |= h != c.height(x, z).unwrap();
        }
        assert!(differs, "the seed must change the terrain");
    }
}
