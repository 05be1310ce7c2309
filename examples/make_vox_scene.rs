//! Writes `assets/scenes/courtyard.vox`, the MagicaVoxel scene the README's "Your own scenes" shows: a paved
//! court closed on three sides by walls with windows (one wall model placed three times, turned by quarter turns), four
//! lanterns whose tops are MagicaVoxel `_emit` material (one model, four instances), and a bench placed turned
//! and mirrored (a reflection). It uses lumon's own `.vox` writer and MagicaVoxel's layout:
//! Z up, each model's pivot at `floor(size / 2)`, instances under one group. Deterministic: running it again
//! writes the same bytes. Run with `cargo run --example make_vox_scene`.

use lumon::world::vox::write::{dict_of, write, SceneBuilder};

const STONE: u8 = 1;
const PAVING: u8 = 2;
const WOOD: u8 = 3;
const LAMP: u8 = 4;
const IRON: u8 = 5;
const MOSS: u8 = 6;

/// Rotation bytes (MagicaVoxel's encoding): identity, a quarter turn about Z each way, a half turn, a mirror
/// in Y.
const IDENTITY: u8 = 4;
const QUARTER: u8 = 1 | (1 << 4);
const QUARTER_BACK: u8 = 1 | (1 << 5);
const HALF: u8 = 4 | (1 << 4) | (1 << 5);
const MIRROR_Y: u8 = 4 | (1 << 5);

fn main() {
    let mut b = SceneBuilder::new()
        .colour(STONE, [176, 164, 146, 255])
        .colour(PAVING, [120, 116, 110, 255])
        .colour(WOOD, [122, 78, 44, 255])
        .colour(LAMP, [255, 196, 120, 255])
        .colour(IRON, [48, 48, 52, 255])
        .colour(MOSS, [84, 120, 60, 255])
        .material(LAMP, &[("_type", "_emit"), ("_emit", "1"), ("_flux", "2")])
        .material(IRON, &[("_type", "_metal"), ("_metal", "0.8"), ("_rough", "0.3")])
        .layer(0, "court", false)
        .layer(1, "lanterns", false)
        .camera(0, &[("_mode", "pers"), ("_focus", "0 0 8"), ("_angle", "25 200 0"), ("_radius", "90")])
        .render(&[("_type", "_inf"), ("_i", "0.6"), ("_k", "255 214 170"), ("_angle", "28 235")])
        .render(&[("_type", "_uni"), ("_i", "0.35"), ("_k", "150 170 210")]);

    // Paving: 64 x 64, two voxels thick, a moss-lined joint every eight voxels.
    let mut paving = Vec::new();
    for x in 0..64u8 {
        for y in 0..64u8 {
            for z in 0..2u8 {
                let joint = z == 1 && (x % 8 == 0 || y % 8 == 0);
                paving.push([x, y, z, if joint { MOSS } else { PAVING }]);
            }
        }
    }
    let paving = b.model([64, 64, 2], paving);

    // Wall: 64 long, 4 thick, 22 high, three arched windows.
    let mut wall = Vec::new();
    for x in 0..64u8 {
        for y in 0..4u8 {
            for z in 0..22u8 {
                let cx = (i32::from(x) - 10).rem_euclid(22) - 5;
                let window = (8..16).contains(&z) && cx.abs() <= 3 && !(z == 15 && cx.abs() == 3);
                let cap = z == 21 && y == 0;
                if !window && !cap {
                    wall.push([x, y, z, STONE]);
                }
            }
        }
    }
    let wall = b.model([64, 4, 22], wall);

    // Lantern: an iron post with a glowing 3 x 3 top under an iron cap.
    let mut lantern = Vec::new();
    for z in 0..10u8 {
        lantern.push([1, 1, z, IRON]);
    }
    for x in 0..3u8 {
        for y in 0..3u8 {
            lantern.push([x, y, 10, LAMP]);
            lantern.push([x, y, 11, LAMP]);
            lantern.push([x, y, 12, IRON]);
        }
    }
    let lantern = b.model([3, 3, 13], lantern);

    // Bench: a seat, a back on one side and an armrest at one end, so its mirror image differs from it.
    let mut bench = Vec::new();
    for x in 0..14u8 {
        for y in 0..4u8 {
            bench.push([x, y, 3, WOOD]);
        }
        bench.push([x, 3, 4, WOOD]);
        bench.push([x, 3, 5, WOOD]);
    }
    for y in 0..3u8 {
        bench.push([0, y, 4, WOOD]);
    }
    for (x, y) in [(0u8, 0u8), (13, 0), (0, 3), (13, 3)] {
        for z in 0..3u8 {
            bench.push([x, y, z, WOOD]);
        }
    }
    let bench = b.model([14, 4, 6], bench);

    b.instance(paving, IDENTITY, [0, 0, 1]);
    b.instance(wall, HALF, [0, -30, 13]);
    b.instance(wall, QUARTER, [-30, 0, 13]);
    b.instance(wall, QUARTER_BACK, [30, 0, 13]);
    for (i, (x, y)) in [(-18, -18), (18, -18), (-18, 14), (18, 14)].into_iter().enumerate() {
        let name = format!("lantern {}", i + 1);
        b.animated(dict_of(&[("_name", &name)]), 1, &[(0, IDENTITY, [x, y, 8])], &[(0, lantern)]);
    }
    b.instance(bench, HALF, [-10, -24, 5]);
    b.instance(bench, MIRROR_Y, [10, -24, 5]);
    b.instance(bench, IDENTITY, [0, 24, 5]);

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenes/courtyard.vox");
    std::fs::write(&path, write(&b.build())).expect("write assets/scenes/courtyard.vox");
    println!("wrote {}", path.display());
}
