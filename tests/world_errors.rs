//! Bad world files: each gives an error naming the file, the place in it and the reason; never a panic.

use std::path::{Path, PathBuf};

use lumon::world::{load_world, load_world_str, WorldError};
use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "format": 1,
        "name": "tiny",
        "purpose": "test world",
        "seed": 3,
        "regionSize": 8.0,
        "voxelSize": 0.25,
        "bounds": {"min": [-16, -16], "max": [16, 16]},
        "terrain": {"kind": "flat", "height": 0.0, "material": "stone"},
        "materials": {"stone": {"albedo": [0.5, 0.5, 0.5]}, "glow": {"albedo": [1, 1, 1], "emissive": [5, 5, 5]}},
        "assets": {"block": {"shapes": [{"shape": "box", "min": [-1, 0, -1], "max": [1, 2, 1], "material": "stone"}]}},
        "placements": [
            {"id": "a", "asset": "block", "position": [0, 0, 0]},
            {"id": "b", "asset": "block", "position": [4, 0, 4], "scale": 2.0}
        ],
        "lights": {"sun": null, "sky": {"zenith": [0.1, 0.1, 0.2], "horizon": [0.2, 0.2, 0.2], "ground": [0.05, 0.05, 0.05]}},
        "bookmarks": {"main": {"position": [0, 3, 10], "yaw": 0, "pitch": -10}},
        "timeline": [
            {"op": "update", "t": 1.0, "id": "a", "set": {"position": [2, 0, 2]}},
            {"op": "remove", "t": 2.0, "id": "b"}
        ]
    })
}

fn load(v: &Value) -> Result<lumon::world::World, WorldError> {
    load_world_str(&serde_json::to_string_pretty(v).unwrap(), Path::new("/tmp/lumon-test/tiny.json"))
}

fn expect_err(v: &Value, needles: &[&str]) -> String {
    let e = load(v).expect_err("the world must be rejected").to_string();
    assert!(e.contains("tiny.json"), "error must name the file: {e}");
    for n in needles {
        assert!(e.contains(n), "error must mention {n:?}: {e}");
    }
    e
}

#[test]
fn the_base_world_loads() {
    let w = load(&base()).unwrap();
    assert_eq!(w.placements.len(), 2);
    assert_eq!(w.timeline.len(), 2);
}

#[test]
fn malformed_json_names_line_and_column() {
    let text = "{\n  \"format\": 1,\n  \"name\": \"x\",\n  oops\n}";
    let e = load_world_str(text, Path::new("broken.json")).unwrap_err();
    assert!(matches!(e, WorldError::Parse { line: 4, .. }), "{e}");
    assert!(e.to_string().starts_with("broken.json:4:"), "{e}");
}

#[test]
fn wrong_types_name_the_field() {
    let mut v = base();
    v["regionSize"] = json!("big");
    expect_err(&v, &["regionSize", "invalid type"]);
    let mut v = base();
    v["placements"][1]["position"] = json!([1, 2]);
    expect_err(&v, &["placements[1].position"]);
}

#[test]
fn unknown_fields_are_errors() {
    let mut v = base();
    v["placements"][0]["colour"] = json!([1, 0, 0]);
    expect_err(&v, &["placements[0]", "unknown field `colour`"]);
}

#[test]
fn non_finite_numbers_are_rejected() {
    let mut v = base();
    v["placements"][0]["scale"] = json!(1e39);
    expect_err(&v, &["placements[0].scale", "not finite"]);
    let text = serde_json::to_string(&base()).unwrap().replacen("\"seed\":3", "\"seed\":1e999", 1);
    let e = load_world_str(&text, Path::new("tiny.json")).unwrap_err().to_string();
    assert!(e.contains("tiny.json") && e.contains("seed"), "{e}");
}

#[test]
fn zero_scale_is_rejected() {
    let mut v = base();
    v["placements"][1]["scale"] = json!([1, 0, 1]);
    expect_err(&v, &["placements[1].scale", "zero"]);
}

#[test]
fn duplicate_ids_are_rejected() {
    let mut v = base();
    v["placements"][1]["id"] = json!("a");
    expect_err(&v, &["placements[1].id", "duplicate placement id \"a\""]);
}

#[test]
fn unknown_assets_and_materials_are_rejected() {
    let mut v = base();
    v["placements"][0]["asset"] = json!("dragon");
    expect_err(&v, &["placements[0].asset", "unknown asset \"dragon\""]);
    let mut v = base();
    v["assets"]["block"]["shapes"][0]["material"] = json!("gold");
    expect_err(&v, &["assets.block.shapes[0].material", "unknown material \"gold\""]);
}

#[test]
fn regions_that_do_not_exist_are_rejected() {
    let mut v = base();
    v["placements"][0]["position"] = json!([100, 0, 0]);
    expect_err(&v, &["placements[0].position", "outside the world's regions"]);
    let mut v = base();
    v["placements"][0]["region"] = json!("r7_7");
    expect_err(&v, &["placements[0].region", "unknown region \"r7_7\""]);
    let mut v = base();
    v["placements"][0]["region"] = json!("r1_0");
    expect_err(&v, &["placements[0].region", "says r1_0 but the position lies in r0_0"]);
}

#[test]
fn timeline_edits_are_checked_against_their_time() {
    let mut v = base();
    v["timeline"].as_array_mut().unwrap().push(json!({"op": "update", "t": 3.0, "id": "b", "set": {"emission": 0}}));
    expect_err(&v, &["timeline[2]", "placement \"b\" does not exist"]);
    let mut v = base();
    v["timeline"][0]["t"] = json!(-1.0);
    expect_err(&v, &["timeline[0].t"]);
}

#[test]
fn a_main_bookmark_is_required() {
    let mut v = base();
    v["bookmarks"] = json!({"side": {"position": [0, 1, 0], "yaw": 0, "pitch": 0}});
    expect_err(&v, &["bookmarks", "main"]);
}

fn vox_world(dir: &Path, vox: &str) -> PathBuf {
    let mut v = base();
    v["assets"]["model"] = json!({"vox": vox, "voxelSize": 0.1});
    let path = dir.join("vox-world.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    path
}

fn write_vox(path: &Path, size: (u32, u32, u32), voxels: Vec<dot_vox::Voxel>, palette_len: usize) {
    let data = dot_vox::DotVoxData {
        version: 150,
        index_map: Vec::new(),
        models: vec![dot_vox::Model { size: dot_vox::Size { x: size.0, y: size.1, z: size.2 }, voxels }],
        palette: dot_vox::DEFAULT_PALETTE[..palette_len].to_vec(),
        materials: Vec::new(),
        scenes: Vec::new(),
        layers: Vec::new(),
    };
    let mut f = std::fs::File::create(path).unwrap();
    data.write_vox(&mut f).unwrap();
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lumon-world-errors-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn missing_and_corrupt_vox_files_are_rejected() {
    let dir = tempdir("vox");
    let e = load_world(&vox_world(&dir, "nothing-here.vox")).unwrap_err().to_string();
    assert!(e.contains("vox-world.json") && e.contains("assets.model.vox") && e.contains("nothing-here.vox"), "{e}");

    std::fs::write(dir.join("garbage.vox"), b"VOX \x96\x00\x00\x00MAIN garbage garbage").unwrap();
    let e = load_world(&vox_world(&dir, "garbage.vox")).unwrap_err().to_string();
    assert!(e.contains("assets.model.vox") && e.contains("garbage.vox"), "{e}");

    let good = dir.join("good.vox");
    write_vox(&good, (2, 2, 2), vec![dot_vox::Voxel { x: 0, y: 0, z: 0, i: 5 }], 256);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.join("truncated.vox"), &bytes[..bytes.len() / 2]).unwrap();
    let e = load_world(&vox_world(&dir, "truncated.vox")).unwrap_err().to_string();
    assert!(e.contains("truncated.vox"), "{e}");
    let w = load_world(&vox_world(&dir, "good.vox")).unwrap();
    assert!(w.assets.contains_key("model"));
}

#[test]
fn oversized_and_out_of_range_vox_models_are_rejected() {
    let dir = tempdir("vox-range");
    write_vox(&dir.join("big.vox"), (300, 4, 4), vec![dot_vox::Voxel { x: 0, y: 0, z: 0, i: 1 }], 256);
    let e = load_world(&vox_world(&dir, "big.vox")).unwrap_err().to_string();
    assert!(e.contains("big.vox") && e.contains("chunk SIZE") && e.contains("more than 256"), "{e}");
    write_vox(&dir.join("outside.vox"), (2, 2, 2), vec![dot_vox::Voxel { x: 5, y: 0, z: 0, i: 1 }], 256);
    let e = load_world(&vox_world(&dir, "outside.vox")).unwrap_err().to_string();
    assert!(e.contains("chunk XYZI") && e.contains("voxel (5, 0, 0) lies outside its size 2x2x2"), "{e}");
    write_vox(&dir.join("palette.vox"), (2, 2, 2), vec![dot_vox::Voxel { x: 0, y: 0, z: 0, i: 200 }], 16);
    let e = load_world(&vox_world(&dir, "palette.vox")).unwrap_err().to_string();
    // A palette chunk shorter than MagicaVoxel's 256 entries.
    assert!(e.contains("chunk RGBA") && e.contains("truncated"), "{e}");
}

#[test]
fn numbers_beyond_the_format_limits_are_load_errors() {
    let mut v = base();
    v["voxelSize"] = json!(1e-9);
    expect_err(&v, &["voxelSize", "0.01..=16"]);
    let mut v = base();
    v["voxelSize"] = json!(0.01);
    v["bounds"] = json!({"min": [-1000, -1000], "max": [1000, 1000]});
    expect_err(&v, &["voxelSize", "16384"]);
    let mut v = base();
    v["placements"][1]["scale"] = json!(1e9);
    expect_err(&v, &["placements[1].scale", "1000"]);
    let mut v = base();
    v["timeline"] = json!([{"op": "churn", "start": 0, "end": 10, "interval": 1, "editsPerTick": 10_000_000_000u64, "maxMove": 1, "seed": 1}]);
    expect_err(&v, &["editsPerTick", "10000"]);
    let mut v = base();
    v["timeline"] = json!([{"op": "churn", "start": 0, "end": 10000, "interval": 0.1, "editsPerTick": 10000, "maxMove": 1, "seed": 1}]);
    expect_err(&v, &["10000000 edits"]);
}
