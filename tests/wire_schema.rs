//! `lumon stream` output against a JSON Schema written from the seed's TypeScript interfaces
//! (`docs/stream.schema.json`), on every sample world: every required field is always written (empty arrays
//! included), with the placement view's `isValid` and `hasWarnings`.

use std::process::Command;

use lumon::world::samples::SAMPLE_NAMES;
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/stream.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::options().should_validate_formats(true).build(&schema).expect("the schema compiles")
}

#[test]
fn every_sample_worlds_stream_matches_the_seeds_schema() {
    let v = validator();
    for name in SAMPLE_NAMES {
        let out = Command::new(env!("CARGO_BIN_EXE_lumon"))
            .args(["stream", "--world", name, "--until", "12", "--step", "1"])
            .output()
            .expect("run lumon");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut placements = 0;
        for (i, line) in text.lines().enumerate() {
            let msg: Value = serde_json::from_str(line).unwrap();
            if let Err(e) = v.validate(&msg) {
                panic!("{name}, line {}: {e} at {}", i + 1, e.instance_path());
            }
            placements += line.matches("\"placementId\"").count();
        }
        assert!(placements > 0, "{name}: the stream carries placements");
    }
}

#[test]
fn the_schema_rejects_a_placement_without_tags_or_validity() {
    let v = validator();
    let line = r#"{"type":"worldDelta","fromCursor":"c1","toCursor":"c2","regions":[{"regionId":"r0_0",
        "fromCursor":"c1","toCursor":"c2","added":[{"placementId":"a","assetId":"tree","regionId":"r0_0",
        "transform":{"position":[0,0,0],"rotation":[0,0,0],"scale":[1,1,1]},"tags":[],"isValid":true,
        "hasWarnings":false,"tint":[1,1,1],"emission":1,"flags":3}],"updated":[],"removed":[]}]}"#;
    let good: Value = serde_json::from_str(line).unwrap();
    assert!(v.is_valid(&good));
    for field in ["tags", "isValid", "hasWarnings"] {
        let mut bad = good.clone();
        bad["regions"][0]["added"][0].as_object_mut().unwrap().remove(field);
        assert!(!v.is_valid(&bad), "a placement without {field} must fail");
    }
    let mut bad = good;
    bad["regions"][0].as_object_mut().unwrap().remove("updated");
    assert!(!v.is_valid(&bad), "a region delta without `updated` must fail");
}
