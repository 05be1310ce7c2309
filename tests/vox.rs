//! MagicaVoxel scenes as worlds: every rotation byte places voxels exactly (checked against dot_vox's own
//! decoding), the scene graph, layers, materials, cameras, render settings and animation come through, inspect
//! counts what it should on scenes whose answer is known by construction, and bad files are refused with the
//! chunk or node and the reason.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use glam::{IVec3, Quat, Vec3};
use lumon::inspect::inspect;
use lumon::streaming::Edit;
use lumon::voxel::world::VoxelWorld;
use lumon::world::assets::AssetModel;
use lumon::world::vox::parse::{parse, Dict, Node, NodeKind};
use lumon::world::vox::write::{dict_of, write, SceneBuilder};
use lumon::world::vox::{read_scene, world_from_vox, VoxOptions};
use lumon::world::{load_world, World};

fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lumon-vox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn world_of(bytes: &[u8]) -> World {
    world_from_vox(Path::new("test.vox"), bytes, &VoxOptions::default()).unwrap()
}

/// An asymmetric model (MagicaVoxel size 3 x 4 x 5): six voxels, each its own colour index 1..=6.
const VOXELS: [[u8; 4]; 6] = [[0, 0, 0, 1], [2, 0, 0, 2], [0, 3, 0, 3], [0, 0, 4, 4], [1, 2, 3, 5], [2, 3, 4, 6]];

fn coloured(b: SceneBuilder) -> SceneBuilder {
    (1..=6u8).fold(b, |b, i| b.colour(i, [40 * i, 255 - 30 * i, ((u16::from(i) * 97) % 255) as u8, 255]))
}

/// Solid cells above the ground with their colour index (nearest palette colour), shifted so the smallest
/// coordinate on each axis is 0.
fn placed_cells(world: World) -> BTreeSet<([i32; 3], u8)> {
    let palette: Vec<Vec3> = (1..=6u8)
        .map(|i| lumon::world::assets::srgb(40 * i, 255 - 30 * i, ((u16::from(i) * 97) % 255) as u8))
        .collect();
    let mut vw = VoxelWorld::new(Arc::new(world));
    vw.load_everything();
    let g = vw.snapshot();
    let mut cells = Vec::new();
    for z in 0..g.dims.z {
        for y in 0..g.dims.y {
            for x in 0..g.dims.x {
                let v = IVec3::new(x, y, z);
                if g.voxel_center(v).y < 0.0 {
                    continue;
                }
                if let Some(m) = g.material(v).filter(|m| !m.is_empty()) {
                    let a = m.albedo();
                    let (i, _) = palette
                        .iter()
                        .enumerate()
                        .map(|(i, p)| (i, (*p - a).length()))
                        .min_by(|a, b| a.1.total_cmp(&b.1))
                        .unwrap();
                    cells.push((v, i as u8 + 1));
                }
            }
        }
    }
    normalise(cells)
}

fn normalise(cells: Vec<(IVec3, u8)>) -> BTreeSet<([i32; 3], u8)> {
    let lo = cells.iter().fold(IVec3::MAX, |a, (v, _)| a.min(*v));
    cells.into_iter().map(|(v, c)| ((v - lo).to_array(), c)).collect()
}

/// The cells dot_vox's decoding of the same file puts the voxels in: its rotation (quaternion and flip) and
/// translation, MagicaVoxel's pivot `floor(size / 2)`, then Z up to Y up.
fn dot_vox_cells(bytes: &[u8]) -> BTreeSet<([i32; 3], u8)> {
    let data = dot_vox::load_bytes(bytes).unwrap();
    let dot_vox::SceneNode::Transform { frames, .. } = &data.scenes[2] else { panic!("node 2 is the instance") };
    let (q, s) = frames[0].orientation().unwrap().to_quat_scale();
    let q = Quat::from_xyzw(q[0], q[1], q[2], q[3]);
    let p = frames[0].position().unwrap();
    let t = Vec3::new(p.x as f32, p.y as f32, p.z as f32);
    let m = &data.models[0];
    let pivot = Vec3::new((m.size.x / 2) as f32, (m.size.y / 2) as f32, (m.size.z / 2) as f32);
    let cells = m
        .voxels
        .iter()
        .map(|v| {
            let u = Vec3::new(v.x as f32, v.y as f32, v.z as f32) + 0.5 - pivot;
            let w = q * (u * Vec3::from_array(s)) + t;
            (Vec3::new(w.x, w.z, -w.y).floor().as_ivec3(), v.i + 1)
        })
        .collect();
    normalise(cells)
}

#[test]
fn every_rotation_byte_places_voxels_exactly() {
    let mut orientations = BTreeSet::new();
    let mut tested = 0;
    for byte in 0..128u8 {
        let (c0, c1) = (byte & 3, (byte >> 2) & 3);
        if c0 == 3 || c1 == 3 || c0 == c1 {
            continue;
        }
        let mut b = coloured(SceneBuilder::new());
        let m = b.model([3, 4, 5], VOXELS.to_vec());
        b.instance(m, byte, [5, -3, 7]);
        let bytes = write(&b.build());
        let ours = placed_cells(world_of(&bytes));
        let theirs = dot_vox_cells(&bytes);
        assert_eq!(ours.len(), 6, "byte {byte}: every voxel lands in its own cell");
        assert_eq!(ours, theirs, "byte {byte}: lumon and dot_vox place the voxels alike");
        orientations.insert(ours.into_iter().collect::<Vec<_>>());
        tested += 1;
    }
    assert_eq!(tested, 48);
    assert_eq!(orientations.len(), 48, "the 48 bytes give 48 different placements");
}

#[test]
fn a_written_scene_reads_back_as_written() {
    let mut b = coloured(SceneBuilder::new())
        .material(2, &[("_type", "_emit"), ("_emit", "0.5"), ("_flux", "2")])
        .layer(0, "walls", false)
        .layer(1, "props", true)
        .camera(0, &[("_mode", "pers"), ("_focus", "0 0 10"), ("_angle", "30 45 0"), ("_radius", "80")])
        .render(&[("_type", "_inf"), ("_i", "1.0"), ("_k", "255 200 150"), ("_angle", "40 30")]);
    let m = b.model([3, 4, 5], VOXELS.to_vec());
    b.instance(m, 4, [0, 0, 0]);
    let file = b.build();
    let back = parse(&write(&file)).unwrap();
    assert_eq!(back.models, file.models);
    assert_eq!(back.nodes, file.nodes);
    assert_eq!(back.layers, file.layers);
    assert_eq!(back.materials, file.materials);
    assert_eq!(back.cameras, file.cameras);
    assert_eq!(back.render, file.render);
    assert_eq!(back.palette, file.palette);
}

/// A 4 x 4 x 4 solid cube of one colour.
fn cube(index: u8) -> Vec<[u8; 4]> {
    let mut v = Vec::new();
    for z in 0..4 {
        for y in 0..4 {
            for x in 0..4 {
                v.push([x, y, z, index]);
            }
        }
    }
    v
}

/// Two cubes overlapping by half, a one-voxel lamp, a glass cube and a hidden instance on a hidden layer.
fn known_scene() -> Vec<u8> {
    let mut b = SceneBuilder::new()
        .colour(1, [200, 200, 200, 255])
        .colour(2, [255, 220, 160, 255])
        .colour(3, [120, 180, 255, 255])
        .material(2, &[("_type", "_emit"), ("_emit", "1"), ("_flux", "1")])
        .material(3, &[("_type", "_glass"), ("_alpha", "0.5")])
        .layer(0, "base", false)
        .layer(1, "hidden stuff", true)
        .camera(3, &[("_focus", "0 0 2"), ("_angle", "30 20 0"), ("_radius", "40")]);
    let grey = b.model([4, 4, 4], cube(1));
    let lamp = b.model([1, 1, 1], vec![[0, 0, 0, 2]]);
    let glass = b.model([4, 4, 4], cube(3));
    b.instance(grey, 4, [0, 0, 2]);
    b.instance(grey, 4, [2, 0, 2]);
    b.instance(lamp, 4, [20, 0, 0]);
    b.instance(glass, 4, [-20, 0, 2]);
    b.animated(Dict::default(), 1, &[(0, 4, [0, 20, 2])], &[(0, grey)]);
    b.animated(dict_of(&[("_hidden", "1")]), 0, &[(0, 4, [0, -20, 2])], &[(0, grey)]);
    write(&b.build())
}

#[test]
fn inspect_counts_a_scene_known_by_construction() {
    let bytes = known_scene();
    let path = temp("known.vox", &bytes);
    let world = load_world(&path).unwrap();
    let r = inspect(&path, &world);
    assert_eq!(r.kind, "vox");
    assert_eq!(r.models, 3);
    assert_eq!(r.instances, 4, "the hidden instance and the one on the hidden layer are left out");
    assert_eq!(r.hidden_instances, 2);
    assert_eq!(r.voxels, 64 + 64 - 32 + 1 + 64, "the overlap of the two grey cubes counts once");
    assert_eq!(r.emissive_voxels, 1);
    // x: glass from -22 to -18, lamp at 20 (one voxel): 43 wide; y (MagicaVoxel y): 4 deep; up: 4.
    assert_eq!(r.extent_voxels, [43, 4, 4]);
    assert_eq!(r.voxel_size, 0.1);
    let b = r.bounds.unwrap();
    assert!((b.max[0] - b.min[0] - 4.3).abs() < 1e-4 && (b.min[1]).abs() < 1e-6 && (b.max[1] - 0.4).abs() < 1e-4);
    assert_eq!(r.materials["_glass"].voxels, 64);
    assert!(r.materials["_glass"].drawn_as.as_deref().unwrap().contains("transparency"));
    assert_eq!(r.materials["_emit"].voxels, 1);
    assert_eq!(r.materials["_diffuse"].voxels, 96);
    assert_eq!(r.layers.len(), 2);
    assert!(r.layers.iter().any(|l| l.name == "hidden stuff" && l.hidden));
    assert_eq!(r.cameras, vec![3]);
    assert!(r.bookmarks.contains(&"main".to_string()) && r.bookmarks.contains(&"camera-3".to_string()));
    assert!(r.warnings.iter().any(|w| w.contains("_glass") && w.contains("64 voxels")), "{:?}", r.warnings);
    assert!(r.warnings.iter().any(|w| w.contains("hidden layers")), "{:?}", r.warnings);
    assert!(r.warnings.iter().any(|w| w.contains("1 hidden instance")), "{:?}", r.warnings);
    // Layer names are tags; the lamp's radiance is colour * _emit * 4 * 2^_flux.
    assert_eq!(world.placements.iter().filter(|p| p.tags == vec!["base".to_string()]).count(), 4);
    let lamp = world.materials.iter().find(|m| m.emissive.max_element() > 0.0).unwrap();
    let expect = lumon::world::assets::srgb(255, 220, 160) * 8.0;
    assert!((lamp.emissive - expect).abs().max_element() < 1e-5, "{} vs {expect}", lamp.emissive);
    // Two of the four visible instances share one asset.
    assert_eq!(world.assets.len(), 3);
    std::fs::remove_file(path).ok();
}

#[test]
fn defaults_of_a_bare_file_and_render_settings() {
    let mut b = SceneBuilder::new()
        .render(&[("_type", "_inf"), ("_i", "1"), ("_k", "255 255 255"), ("_angle", "90 0")])
        .render(&[("_type", "_ground"), ("_k", "255 0 0")]);
    let m = b.model([4, 4, 4], cube(1));
    b.instance(m, 4, [0, 0, 0]);
    let w = world_of(&write(&b.build()));
    let sun = w.lights.sun.unwrap();
    assert!((sun.direction - Vec3::Y).length() < 1e-4, "elevation 90 is straight up: {}", sun.direction);
    assert_eq!(w.voxel_size, 0.1);
    assert_eq!(w.materials[0].albedo, Vec3::X, "the ground's colour from rOBJ _ground");
    assert!(matches!(w.terrain, lumon::world::Terrain::Flat { height, .. } if height == 0.0));
    let main = w.bookmarks["main"];
    assert!(main.pitch < 0.0 && main.position.y > 0.4, "main looks down on the scene: {main:?}");
    let plain = world_of(&write(&{
        let mut b = SceneBuilder::new();
        let m = b.model([4, 4, 4], cube(1));
        b.instance(m, 4, [0, 0, 0]);
        b.build()
    }));
    assert!(plain.lights.sun.is_some(), "an afternoon sun without rOBJ");
    let coarse = world_from_vox(Path::new("t.vox"), &write(&b_scene()), &VoxOptions { voxel_size: 0.5 }).unwrap();
    assert_eq!(coarse.voxel_size, 0.5);
    assert!(world_from_vox(Path::new("t.vox"), &write(&b_scene()), &VoxOptions { voxel_size: 0.0 })
        .unwrap_err()
        .to_string()
        .contains("--voxel-size"));
}

fn b_scene() -> lumon::world::vox::parse::VoxFile {
    let mut b = SceneBuilder::new();
    let m = b.model([4, 4, 4], cube(1));
    b.instance(m, 4, [0, 0, 0]);
    b.build()
}

#[test]
fn animation_becomes_timeline_updates() {
    let mut b = SceneBuilder::new();
    let a = b.model([4, 4, 4], cube(1));
    let c = b.model([2, 2, 2], vec![[0, 0, 0, 1]]);
    b.animated(Dict::default(), 0, &[(0, 4, [0, 0, 0]), (5, 4, [10, 0, 0])], &[(0, a), (3, c)]);
    let w = world_of(&write(&b.build()));
    assert!(!w.timeline.is_empty());
    let first = &w.timeline[0];
    assert!((first.t - 0.3).abs() < 1e-9, "shape frame 3 at 10 frames a second: {}", first.t);
    let Edit::Update { patch, .. } = &first.edits[0] else { panic!("an update") };
    assert_eq!(patch.asset_id.as_deref(), Some("model-1"));
    let second = &w.timeline[1];
    let Edit::Update { patch, .. } = &second.edits[0] else { panic!("an update") };
    assert!((patch.position.unwrap().x - w.placements[0].transform.position.x - 1.0).abs() < 1e-5);
    assert!(w.timeline.last().unwrap().t <= lumon::world::vox::build::ANIMATION_SECONDS);
}

#[test]
fn a_world_file_places_a_whole_scene_as_one_asset() {
    let bytes = known_scene();
    let vox = temp("scene-asset.vox", &bytes);
    let json = format!(
        r#"{{"format":1,"name":"t","purpose":"p","seed":1,"regionSize":8,"voxelSize":0.1,
        "bounds":{{"min":[-8,-8],"max":[8,8]}},"assets":{{"s":{{"vox":"{}"}}}},
        "placements":[{{"id":"a","asset":"s","position":[0,0,0]}},{{"id":"b","asset":"s","position":[0,0,4],"rotation":[0,90,0]}}],
        "lights":{{"sky":{{"zenith":[1,1,1],"horizon":[1,1,1],"ground":[0,0,0]}}}},
        "bookmarks":{{"main":{{"position":[0,2,6],"yaw":0,"pitch":-10}}}}}}"#,
        vox.file_name().unwrap().to_string_lossy()
    );
    let path = temp("scene-asset.json", json.as_bytes());
    let w = load_world(&path).unwrap();
    assert!(matches!(w.assets["s"].model, AssetModel::Scene(ref parts) if parts.len() == 4));
    let r = inspect(&path, &w);
    assert_eq!(r.voxels, 2 * (64 + 64 - 32 + 1 + 64), "two placements of the whole scene");
    assert!(w.warnings.iter().any(|w| w.contains("_glass")));
}

fn expect_error(bytes: &[u8], place: &str, reason: &str) {
    let e = read_scene(bytes).unwrap_err();
    assert!(e.place.contains(place) && e.reason.contains(reason), "expected {place:?} / {reason:?}, got {e}");
    let path = temp("bad.vox", bytes);
    let msg = load_world(&path).unwrap_err().to_string();
    assert!(msg.contains("bad.vox") && msg.contains(reason), "{msg}");
}

#[test]
fn bad_files_are_refused_with_the_place_and_the_reason() {
    let good = write(&b_scene());
    // Truncated anywhere: in a chunk's content, in a header.
    expect_error(&good[..good.len() - 7], "MAIN", "truncated");
    let mut cut = good.clone();
    cut.truncate(40);
    assert!(read_scene(&cut).is_err());
    // A child that does not exist.
    let mut f = b_scene();
    if let Some(Node { kind: NodeKind::Group { children }, .. }) = f.nodes.get_mut(&1) {
        children.push(77);
    }
    expect_error(&write(&f), "nGRP node 1", "names child 77, which does not exist");
    // A cycle: the instance's shape replaced by a group pointing back up.
    let mut f = b_scene();
    f.nodes.insert(3, Node { attrs: Dict::default(), kind: NodeKind::Group { children: vec![0] } });
    expect_error(&write(&f), "node", "cycle");
    // Two rotation rows on one axis.
    let mut f = b_scene();
    if let Some(Node { kind: NodeKind::Transform { frames, .. }, .. }) = f.nodes.get_mut(&2) {
        frames[0] = dict_of(&[("_r", "5"), ("_t", "0 0 0")]);
    }
    expect_error(&write(&f), "nTRN node 2", "two rows on axis y");
    // A model over 256 on an axis, a voxel outside its model.
    let mut f = b_scene();
    f.models[0].size = [300, 4, 4];
    expect_error(&write(&f), "chunk SIZE", "more than 256");
    let mut f = b_scene();
    f.models[0].voxels.push([4, 0, 0, 1]);
    expect_error(&write(&f), "chunk XYZI", "voxel (4, 0, 0) lies outside");
    // A compressed chunk.
    let mut tdcz = good[..8].to_vec();
    let mut body = Vec::new();
    lumon::world::vox::write::chunk(&mut body, b"TDCZ", &[1, 2, 3, 4]);
    tdcz.extend_from_slice(b"MAIN");
    tdcz.extend_from_slice(&0u32.to_le_bytes());
    tdcz.extend_from_slice(&(body.len() as u32).to_le_bytes());
    tdcz.extend_from_slice(&body);
    expect_error(&tdcz, "chunk TDCZ", "compressed");
    // Not a .vox at all.
    expect_error(b"PK\x03\x04 something else", "header", "not a MagicaVoxel file");
}

#[test]
fn the_sample_models_still_load_as_they_did() {
    for name in ["valley", "village-night"] {
        let w = load_world(&lumon::world::resolve_world(name).unwrap()).unwrap();
        assert!(w.warnings.is_empty(), "{name}: {:?}", w.warnings);
        for a in w.assets.values() {
            if let AssetModel::Vox(m) = &a.model {
                assert_eq!(m.pivot, Vec3::new(m.size.x as f32 * 0.5, 0.0, m.size.z as f32 * 0.5), "{}", a.id);
            }
        }
    }
}

#[test]
fn hostile_files_are_refused_quickly_without_huge_allocations() {
    use lumon::world::vox::parse::RawModel;
    let start = std::time::Instant::now();
    // Large voxels still get a valid region size and probe spacing.
    for size in [1.0, 16.0] {
        let w = world_from_vox(Path::new("t.vox"), &write(&b_scene()), &VoxOptions { voxel_size: size }).unwrap();
        assert!(w.probe_spacing >= 0.25 && w.region_size >= size, "{size}: {} {}", w.probe_spacing, w.region_size);
    }
    // A translation at i32::MIN.
    let mut f = b_scene();
    if let Some(Node { kind: NodeKind::Transform { frames, .. }, .. }) = f.nodes.get_mut(&2) {
        frames[0] = dict_of(&[("_t", "-2147483648 0 0")]);
    }
    expect_error(&write(&f), "nTRN node 2", "translation");
    // Shared subgraphs doubling 40 times: 2^40 paths from a file of a few hundred bytes.
    let mut f = b_scene();
    f.nodes.clear();
    f.nodes.insert(
        0,
        Node {
            attrs: Dict::default(),
            kind: NodeKind::Transform { child: 1, layer: -1, frames: vec![Dict::default()] },
        },
    );
    for level in 0..40 {
        let g = 1 + 3 * level;
        f.nodes.insert(g, Node { attrs: Dict::default(), kind: NodeKind::Group { children: vec![g + 1, g + 2] } });
        for t in [g + 1, g + 2] {
            f.nodes.insert(
                t,
                Node {
                    attrs: Dict::default(),
                    kind: NodeKind::Transform { child: g + 3, layer: -1, frames: vec![Dict::default()] },
                },
            );
        }
    }
    f.nodes.insert(121, Node { attrs: Dict::default(), kind: NodeKind::Group { children: vec![] } });
    expect_error(&write(&f), "node", "node visits");
    // A hundred empty 256^3 models drawn as animation frames: 1.7 G cells from a file of a few KB.
    let mut f = b_scene();
    f.models = (0..100).map(|_| RawModel { size: [256, 256, 256], voxels: vec![] }).collect();
    let shapes = (0..100).map(|i| (i, dict_of(&[("_f", &i.to_string())]))).collect();
    f.nodes.insert(3, Node { attrs: Dict::default(), kind: NodeKind::Shape { models: shapes } });
    let e = world_from_vox(Path::new("t.vox"), &write(&f), &VoxOptions::default()).unwrap_err().to_string();
    assert!(e.contains("cells together"), "{e}");
    assert!(start.elapsed().as_secs() < 30, "refused quickly: {:?}", start.elapsed());
}
