//! Writes the sample MagicaVoxel models used by the sample worlds to `assets/models/`:
//! `tree.vox` (broadleaf tree), `pine.vox` (conical pine) and `rock.vox` (lumpy boulder).
//!
//! The output is deterministic (a tiny splitmix64 hash drives all noise), so running it again gives the same
//! bytes. Run with `cargo run --example make_models`.
//!
//! MagicaVoxel is Z-up: `x` and `y` are horizontal, `z` is height. Lumon places a model's bottom centre at the
//! placement's position.

use std::path::Path;

use dot_vox::{Color, Dict, DotVoxData, Frame, Layer, Model, SceneNode, ShapeModel, Size, Voxel};

/// splitmix64: one step of the generator, used as a hash.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of integer coordinates and a seed to a float in [0, 1).
fn hash01(x: i32, y: i32, z: i32, seed: u64) -> f32 {
    let mut h = splitmix64(seed);
    for v in [x, y, z] {
        h = splitmix64(h ^ (v as u32 as u64));
    }
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// Smooth 3D value noise in [0, 1) with lattice spacing 1.
fn value_noise(x: f32, y: f32, z: f32, seed: u64) -> f32 {
    let (x0, y0, z0) = (x.floor(), y.floor(), z.floor());
    let (fx, fy, fz) = (x - x0, y - y0, z - z0);
    let s = |t: f32| t * t * (3.0 - 2.0 * t);
    let (sx, sy, sz) = (s(fx), s(fy), s(fz));
    let (ix, iy, iz) = (x0 as i32, y0 as i32, z0 as i32);
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    let c = |dx: i32, dy: i32, dz: i32| hash01(ix + dx, iy + dy, iz + dz, seed);
    let x00 = lerp(c(0, 0, 0), c(1, 0, 0), sx);
    let x10 = lerp(c(0, 1, 0), c(1, 1, 0), sx);
    let x01 = lerp(c(0, 0, 1), c(1, 0, 1), sx);
    let x11 = lerp(c(0, 1, 1), c(1, 1, 1), sx);
    lerp(lerp(x00, x10, sy), lerp(x01, x11, sy), sz)
}

// Palette slots (0-based in-memory indices, i.e. file index minus 1).
const BARK: u8 = 0;
const BARK_DARK: u8 = 1;
const LEAF: [u8; 4] = [2, 3, 4, 5];
const NEEDLE: [u8; 3] = [6, 7, 8];
const STONE: [u8; 4] = [9, 10, 11, 12];
const MOSS: u8 = 13;

fn palette() -> Vec<Color> {
    let named: [(u8, u8, u8); 14] = [
        (110, 74, 42),   // bark
        (82, 54, 30),    // dark bark
        (74, 140, 52),   // leaf
        (58, 118, 40),   // leaf, darker
        (96, 158, 60),   // leaf, lighter
        (46, 98, 36),    // leaf, shade
        (34, 86, 50),    // needles
        (28, 72, 42),    // needles, darker
        (44, 100, 58),   // needles, lighter
        (128, 126, 120), // stone
        (110, 108, 104), // stone, darker
        (146, 144, 138), // stone, lighter
        (94, 92, 90),    // stone, shade
        (92, 116, 58),   // moss
    ];
    (0..256u32)
        .map(|i| match named.get(i as usize) {
            Some(&(r, g, b)) => Color { r, g, b, a: 255 },
            // The unused rest: a grey ramp.
            None => {
                let v = i as u8;
                Color { r: v, g: v, b: v, a: 255 }
            }
        })
        .collect()
}

/// A dense Z-up grid of palette indices.
struct Grid {
    size: (u32, u32, u32),
    cells: Vec<Option<u8>>,
}

impl Grid {
    fn new(x: u32, y: u32, z: u32) -> Self {
        Grid { size: (x, y, z), cells: vec![None; (x * y * z) as usize] }
    }

    fn index(&self, x: i32, y: i32, z: i32) -> Option<usize> {
        let (sx, sy, sz) = self.size;
        if x < 0 || y < 0 || z < 0 || x >= sx as i32 || y >= sy as i32 || z >= sz as i32 {
            return None;
        }
        Some((x as u32 + sx * (y as u32 + sy * z as u32)) as usize)
    }

    fn set(&mut self, x: i32, y: i32, z: i32, i: u8) {
        if let Some(k) = self.index(x, y, z) {
            self.cells[k] = Some(i);
        }
    }

    fn get(&self, x: i32, y: i32, z: i32) -> Option<u8> {
        self.index(x, y, z).and_then(|k| self.cells[k])
    }

    /// Every solid cell, in x-fastest order.
    fn voxels(&self) -> Vec<Voxel> {
        let (sx, sy, sz) = self.size;
        let mut out = Vec::new();
        for z in 0..sz as i32 {
            for y in 0..sy as i32 {
                for x in 0..sx as i32 {
                    if let Some(i) = self.get(x, y, z) {
                        out.push(Voxel { x: x as u8, y: y as u8, z: z as u8, i });
                    }
                }
            }
        }
        out
    }
}

/// Broadleaf tree, 24x24x40: a slightly leaning trunk with two branches and a canopy of noisy blobs.
fn tree() -> Grid {
    const SEED: u64 = 0x7EE;
    let mut g = Grid::new(24, 24, 40);
    let (cx, cy) = (11.5f32, 11.5f32);
    // Trunk: radius 2 at the foot narrowing to 1.2, up to the canopy.
    for z in 0..30 {
        let t = z as f32 / 30.0;
        let r = 2.1 - 0.9 * t + if z < 2 { 0.6 } else { 0.0 };
        let ox = 0.8 * t * t;
        for y in 0..24 {
            for x in 0..24 {
                let (dx, dy) = (x as f32 - cx - ox, y as f32 - cy);
                if dx * dx + dy * dy <= r * r {
                    let dark = hash01(x, y, z, SEED) < 0.3;
                    g.set(x, y, z, if dark { BARK_DARK } else { BARK });
                }
            }
        }
    }
    // Two branches leaving the trunk towards the canopy.
    for (dir_x, dir_y, z0) in [(1.0f32, 0.4f32, 14), (-0.7f32, -0.8f32, 17)] {
        for s in 0..9 {
            let s = s as f32;
            let (x, y, z) = (cx + dir_x * s, cy + dir_y * s, z0 as f32 + s * 0.9);
            g.set(x.round() as i32, y.round() as i32, z.round() as i32, BARK);
            g.set(x.round() as i32, y.round() as i32, z.round() as i32 + 1, BARK);
        }
    }
    // Canopy: a few overlapping blobs whose surfaces are pushed in and out by value noise.
    let blobs: [(f32, f32, f32, f32); 6] = [
        (11.5, 11.5, 28.0, 8.5),
        (16.0, 14.0, 24.0, 6.0),
        (6.5, 8.0, 25.0, 6.0),
        (14.0, 6.5, 30.0, 6.0),
        (8.0, 16.0, 31.0, 6.0),
        (11.5, 11.5, 34.0, 5.5),
    ];
    for z in 14..40 {
        for y in 0..24 {
            for x in 0..24 {
                let (fx, fy, fz) = (x as f32, y as f32, z as f32);
                let n = value_noise(fx * 0.35, fy * 0.35, fz * 0.35, SEED ^ 1) - 0.5;
                let inside = blobs.iter().any(|&(bx, by, bz, r)| {
                    let (dx, dy, dz) = (fx - bx, fy - by, (fz - bz) * 1.15);
                    (dx * dx + dy * dy + dz * dz).sqrt() <= r + 2.5 * n
                });
                // A few holes in the foliage; the lowest leaves are the shaded ones.
                if inside && hash01(x, y, z, SEED ^ 2) > 0.06 {
                    let h = hash01(x, y, z, SEED ^ 3);
                    let shade = if fz < 24.0 { 3 } else { (h * 3.0) as usize };
                    g.set(x, y, z, LEAF[shade.min(3)]);
                }
            }
        }
    }
    g
}

/// Conical pine, 16x16x40: a thin trunk and tiers of needles shrinking towards the tip.
fn pine() -> Grid {
    const SEED: u64 = 0x9E;
    let mut g = Grid::new(16, 16, 40);
    let (cx, cy) = (7.5f32, 7.5f32);
    for z in 0..37 {
        let r: f32 = if z < 2 { 1.5 } else { 1.0 };
        for y in 0..16 {
            for x in 0..16 {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                if dx * dx + dy * dy <= r * r + 0.3 {
                    g.set(x, y, z, if hash01(x, y, z, SEED) < 0.3 { BARK_DARK } else { BARK });
                }
            }
        }
    }
    // Tiers: every 5 cells the radius jumps out, then narrows up to the next tier.
    let (bottom, top) = (6.0f32, 40.0f32);
    for z in 6..40 {
        let fz = z as f32;
        let cone = 7.8 * (1.0 - (fz - bottom) / (top - bottom));
        let tier = ((fz - bottom) % 5.0) / 5.0;
        let r = cone * (1.0 - 0.35 * tier) + 0.6;
        for y in 0..16 {
            for x in 0..16 {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let wobble = 1.2 * (value_noise(x as f32 * 0.5, y as f32 * 0.5, fz * 0.5, SEED ^ 1) - 0.5);
                if (dx * dx + dy * dy).sqrt() <= r + wobble {
                    let h = hash01(x, y, z, SEED ^ 2);
                    let shade = if tier < 0.25 {
                        1
                    } else if h < 0.3 {
                        2
                    } else {
                        0
                    };
                    g.set(x, y, z, NEEDLE[shade]);
                }
            }
        }
    }
    g
}

/// Lumpy grey boulder, 16x16x10, with moss on top.
fn rock() -> Grid {
    const SEED: u64 = 0x12;
    let mut g = Grid::new(16, 16, 10);
    let (cx, cy, cz) = (7.5f32, 7.5f32, 1.5f32);
    for z in 0..10 {
        for y in 0..16 {
            for x in 0..16 {
                let (fx, fy, fz) = (x as f32, y as f32, z as f32);
                let (dx, dy, dz) = ((fx - cx) / 7.6, (fy - cy) / 6.6, (fz - cz) / 8.0);
                let d = (dx * dx + dy * dy + dz * dz).sqrt();
                let n = value_noise(fx * 0.3, fy * 0.3, fz * 0.3, SEED) - 0.5;
                let fine = hash01(x, y, z, SEED ^ 1) - 0.5;
                if d <= 1.0 + 0.45 * n + 0.06 * fine {
                    let h = hash01(x, y, z, SEED ^ 2);
                    let top = fz >= 6.0 && value_noise(fx * 0.4, fy * 0.4, 0.0, SEED ^ 3) > 0.55;
                    let i = if top { MOSS } else { STONE[(h * 4.0) as usize % 4] };
                    g.set(x, y, z, i);
                }
            }
        }
    }
    g
}

/// A file with one model, the palette and MagicaVoxel's minimal scene graph (transform, group, transform,
/// shape).
fn vox_data(grid: &Grid) -> DotVoxData {
    let (x, y, z) = grid.size;
    let scenes = vec![
        SceneNode::Transform {
            attributes: Dict::new(),
            frames: vec![Frame::new(Dict::new())],
            child: 1,
            layer_id: u32::MAX,
        },
        SceneNode::Group { attributes: Dict::new(), children: vec![2] },
        SceneNode::Transform { attributes: Dict::new(), frames: vec![Frame::new(Dict::new())], child: 3, layer_id: 0 },
        SceneNode::Shape { attributes: Dict::new(), models: vec![ShapeModel { model_id: 0, attributes: Dict::new() }] },
    ];
    DotVoxData {
        version: 150,
        index_map: dot_vox::DEFAULT_INDEX_MAP.to_vec(),
        models: vec![Model { size: Size { x, y, z }, voxels: grid.voxels() }],
        palette: palette(),
        materials: Vec::new(),
        scenes,
        layers: vec![Layer { attributes: Dict::from_iter([("_name".to_string(), "0".to_string())]) }],
    }
}

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join("models");
    std::fs::create_dir_all(&dir)?;
    for (name, grid) in [("tree", tree()), ("pine", pine()), ("rock", rock())] {
        let data = vox_data(&grid);
        let mut bytes = Vec::new();
        data.write_vox(&mut bytes)?;
        assert!(bytes.len() < 200 * 1024, "{name}.vox is {} bytes", bytes.len());
        // Round trip: the file must read back as one model with the same voxels.
        let back = dot_vox::load_bytes(&bytes).unwrap_or_else(|e| panic!("{name}.vox does not load: {e}"));
        assert_eq!(back.models.len(), 1, "{name}.vox must hold one model");
        assert!(!back.models[0].voxels.is_empty(), "{name}.vox has no voxels");
        assert_eq!(back.models[0], data.models[0], "{name}.vox changed in the round trip");
        assert_eq!(back.palette.len(), 256);
        let path = dir.join(format!("{name}.vox"));
        std::fs::write(&path, &bytes)?;
        let m = &back.models[0];
        println!(
            "{}: {}x{}x{} cells, {} voxels, {} bytes",
            path.display(),
            m.size.x,
            m.size.y,
            m.size.z,
            m.voxels.len(),
            bytes.len()
        );
    }
    Ok(())
}
