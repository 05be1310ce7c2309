//! The `lumon` binary from outside: `worlds`, `stream` on every sample world (its deltas applied to its first
//! snapshot give its final snapshot), region filters, determinism, and bad input with non-zero exits.

use std::path::PathBuf;
use std::process::{Command, Output};

use lumon::streaming::{apply_world_delta, Cursor, StreamMessage, WorldSnapshot};
use lumon::world::samples::SAMPLE_NAMES;

fn lumon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lumon")).args(args).output().expect("run lumon")
}

fn ok(args: &[&str]) -> String {
    let out = lumon(args);
    assert!(out.status.success(), "lumon {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str], needles: &[&str]) {
    let out = lumon(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "lumon {args:?} should fail");
    assert!(!err.contains("panicked"), "lumon {args:?} panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "lumon {args:?}: stderr lacks {n:?}: {err}");
    }
}

fn messages(text: &str) -> Vec<StreamMessage> {
    text.lines().map(|l| serde_json::from_str(l).expect("each line is a stream message")).collect()
}

/// Checks the shape of a stream and that its deltas carry the first snapshot to the last.
fn check_round_trip(msgs: Vec<StreamMessage>, steps: usize) -> (WorldSnapshot, WorldSnapshot, usize) {
    assert_eq!(msgs.len(), steps + 2, "snapshot, one delta per step, snapshot");
    let mut it = msgs.into_iter();
    let Some(StreamMessage::WorldSnapshot(first)) = it.next() else { panic!("first line must be a worldSnapshot") };
    let Some(StreamMessage::WorldSnapshot(last)) = it.next_back() else { panic!("last line must be a worldSnapshot") };
    let mut state = first.clone();
    let mut changes = 0;
    for m in it {
        let StreamMessage::WorldDelta(d) = m else { panic!("middle lines must be worldDeltas") };
        changes += d.regions.iter().map(|r| r.added.len() + r.updated.len() + r.removed.len()).sum::<usize>();
        apply_world_delta(&mut state, &d).expect("delta applies");
    }
    assert_eq!(state.cursor, last.cursor);
    assert_same_regions(&state, &last);
    (first, last, changes)
}

/// Same regions with the same placements (`createdAt` is when each snapshot was stamped, so it may differ).
fn assert_same_regions(got: &WorldSnapshot, want: &WorldSnapshot) {
    let ids = |s: &WorldSnapshot| s.regions.iter().map(|r| r.region_id).collect::<Vec<_>>();
    assert_eq!(ids(got), ids(want), "region lists differ");
    for (a, b) in got.regions.iter().zip(&want.regions) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.cursor, b.cursor);
        if a.placements != b.placements {
            let first = a.placements.iter().zip(&b.placements).position(|(x, y)| x != y);
            panic!(
                "region {} differs (at placement index {first:?}; {} vs {} placements)",
                a.region_id,
                a.placements.len(),
                b.placements.len()
            );
        }
    }
}

#[test]
fn worlds_lists_every_sample_with_its_purpose() {
    let out = ok(&["worlds"]);
    for name in SAMPLE_NAMES {
        let line = out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(line.len() > name.len() + 10, "{name} has no purpose: {line}");
    }
    assert!(out.contains("(default)"));
}

#[test]
fn every_sample_world_streams_and_round_trips() {
    for name in SAMPLE_NAMES {
        let out = ok(&["stream", "--world", name, "--until", "12", "--step", "1"]);
        let (first, last, changes) = check_round_trip(messages(&out), 12);
        assert!(!first.regions.is_empty(), "{name}: the first snapshot is empty");
        assert!(changes > 0, "{name}: the timeline changed nothing in 12 s");
        assert_ne!(first.cursor, last.cursor, "{name}");
    }
}

#[test]
fn region_filters_restrict_every_line() {
    let full = messages(&ok(&["stream", "--world", "valley", "--until", "30", "--step", "2"]));
    let StreamMessage::WorldSnapshot(first) = &full[0] else { panic!() };
    let wanted: Vec<String> = first.regions.iter().take(3).map(|r| r.region_id.to_string()).collect();
    let arg = wanted.join(",");
    let filtered = messages(&ok(&["stream", "--world", "valley", "--until", "30", "--step", "2", "--regions", &arg]));
    for m in &filtered {
        let ids: Vec<String> = match m {
            StreamMessage::WorldSnapshot(s) => s.regions.iter().map(|r| r.region_id.to_string()).collect(),
            StreamMessage::WorldDelta(d) => d.regions.iter().map(|r| r.region_id.to_string()).collect(),
        };
        assert!(ids.iter().all(|id| wanted.contains(id)), "{ids:?} not within {wanted:?}");
    }
    let (f, _, _) = check_round_trip(filtered, 15);
    let mut head = first.clone();
    head.regions.truncate(3);
    head.id = f.id.clone();
    assert_same_regions(&f, &head);
}

#[test]
fn output_is_the_same_bytes_every_run() {
    let a = lumon(&["stream", "--world", "cornell", "--until", "10", "--step", "0.5"]);
    let b = lumon(&["stream", "--world", "cornell", "--until", "10", "--step", "0.5"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn resuming_from_a_cursor_continues_the_stream() {
    let first = messages(&ok(&["stream", "--world", "village-night", "--until", "5", "--step", "1"]));
    let StreamMessage::WorldSnapshot(end) = first.last().unwrap() else { panic!() };
    let cursor = end.cursor.to_string();
    let resumed =
        messages(&ok(&["stream", "--world", "village-night", "--until", "20", "--step", "1", "--from", &cursor]));
    let StreamMessage::WorldSnapshot(start) = &resumed[0] else { panic!() };
    assert_eq!(start.cursor, end.cursor);
    assert_same_regions(start, end);
}

#[test]
fn bad_worlds_and_cursors_fail_clearly() {
    fails(&["stream", "--world", "atlantis"], &["unknown world \"atlantis\""]);
    let dir = std::env::temp_dir().join(format!("lumon-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad: PathBuf = dir.join("bad.json");
    std::fs::write(&bad, "{ \"format\": 1, \"name\": 5 }").unwrap();
    fails(&["stream", "--world", bad.to_str().unwrap()], &["bad.json:1:", "name"]);

    fails(&["stream", "--world", "cornell", "--from", "yesterday"], &["malformed cursor \"yesterday\""]);
    let other = messages(&ok(&["stream", "--world", "leak-test", "--until", "0"]));
    let StreamMessage::WorldSnapshot(s) = &other[0] else { panic!() };
    fails(&["stream", "--world", "cornell", "--from", &s.cursor.to_string()], &["belongs to another change log"]);
    let own = messages(&ok(&["stream", "--world", "cornell", "--until", "0"]));
    let StreamMessage::WorldSnapshot(s) = &own[0] else { panic!() };
    let future = Cursor::new(s.cursor.epoch, 1_000_000).to_string();
    fails(&["stream", "--world", "cornell", "--until", "5", "--from", &future], &["ahead of the head", &future]);
    fails(&["stream", "--world", "cornell", "--regions", "r999_0"], &["unknown region \"r999_0\""]);
    fails(&["stream", "--world", "cornell", "--step", "0"], &["--step"]);
}

#[test]
fn an_expired_cursor_is_reported_with_the_oldest_position() {
    // Three commits at t = 0 with a log that keeps one: the cursor after the first commit is gone by the time
    // the consumer starts.
    let dir = std::env::temp_dir().join(format!("lumon-cli-exp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let world = serde_json::json!({
        "format": 1, "name": "expiry", "purpose": "expired cursors", "seed": 1, "regionSize": 8.0, "voxelSize": 0.5,
        "bounds": {"min": [-8, -8], "max": [8, 8]},
        "materials": {"m": {"albedo": [0.5, 0.5, 0.5]}},
        "assets": {"b": {"shapes": [{"shape": "box", "min": [0, 0, 0], "max": [1, 1, 1], "material": "m"}]}},
        "lights": {"sun": null, "sky": {"zenith": [0, 0, 0], "horizon": [0, 0, 0], "ground": [0, 0, 0]}},
        "bookmarks": {"main": {"position": [0, 1, 0], "yaw": 0, "pitch": 0}},
        "timeline": [
            {"op": "add", "t": 0, "placement": {"id": "x", "asset": "b", "position": [1, 0, 1]}},
            {"op": "add", "t": 0, "placement": {"id": "y", "asset": "b", "position": [2, 0, 1]}},
            {"op": "add", "t": 0, "placement": {"id": "z", "asset": "b", "position": [3, 0, 1]}}
        ]
    });
    let path = dir.join("expiry.json");
    std::fs::write(&path, world.to_string()).unwrap();
    let p = path.to_str().unwrap();
    let msgs = messages(&ok(&["stream", "--world", p, "--until", "0"]));
    let StreamMessage::WorldSnapshot(s) = &msgs[0] else { panic!() };
    assert_eq!(s.cursor.seq, 3);
    let old = Cursor::new(s.cursor.epoch, 1).to_string();
    fails(
        &["stream", "--world", p, "--until", "1", "--retain", "1", "--from", &old],
        &["has expired", &old, "oldest retained position"],
    );
}

#[test]
fn bench_writes_a_report_with_every_field() {
    let dir = std::env::temp_dir().join(format!("lumon-cli-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("report.json");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/paths/valley-loop.json");
    ok(&[
        "bench",
        "--no-gpu",
        "--world",
        "cornell",
        "--frames",
        "8",
        "--threads",
        "1",
        "--no-disk-cache",
        "--settle-frames",
        "20",
        "--accuracy-points",
        "4",
        "--reference-rays",
        "64",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for key in [
        "world",
        "frames",
        "threads",
        "rays_traced",
        "rays_per_second",
        "probe_updates",
        "gi_cpu_ms",
        "converge_l0_frames",
        "converge_l0_s",
        "levels",
        "cache",
        "payload_hash",
        "settle_frames",
        "flicker",
    ] {
        assert!(r.get(key).is_some(), "report lacks {key}: {r}");
    }
    for key in ["mean_relative", "p90", "bias", "points", "reference_rays", "reference_noise"] {
        assert!(r["irradiance_error"][key].is_number(), "irradiance_error lacks {key}: {r}");
    }
    assert_eq!(r["irradiance_error"]["reference_rays"], 64);
    for key in ["p50", "p95", "max"] {
        assert!(r["gi_cpu_ms"][key].is_number());
    }
    for key in ["hits", "misses", "evictions", "recycles", "bytes"] {
        assert!(r["cache"]["memory"][key].is_number(), "memory cache lacks {key}");
    }
    assert!(r["cache"]["disk"].is_null(), "no disk cache was asked for");
    assert_eq!(r["levels"].as_array().unwrap().len(), 4);
    assert!(r["rays_traced"].as_u64().unwrap() > 0);
    // A path file works too, and the disk cache reports its counters.
    let cache = dir.join("cache");
    ok(&[
        "bench",
        "--no-gpu",
        "--world",
        "valley",
        "--frames",
        "3",
        "--path",
        path,
        "--cache-dir",
        cache.to_str().unwrap(),
        "--settle-frames",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for key in ["hits", "misses", "writes", "corrupt", "bytes"] {
        assert!(r["cache"]["disk"][key].is_number(), "disk cache lacks {key}: {r}");
    }
    assert!(r["irradiance_error"].is_null() && r["flicker"].is_null(), "--settle-frames 0 skips the comparison");
}

#[test]
fn bench_rejects_bad_input_clearly() {
    let dir = std::env::temp_dir().join(format!("lumon-cli-bench-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("r.json");
    let o = out.to_str().unwrap();
    // The GPU bench checks its own arguments before it opens an adapter.
    fails(&["bench", "--world", "cornell", "--frames", "10", "--warmup", "10", "--out", o], &["--warmup", "below"]);
    fails(&["bench", "--world", "cornell", "--frames", "10", "--size", "0x720", "--out", o], &["--size", "0x720"]);
    let missing = dir.join("missing.json");
    fails(
        &["bench", "--world", "cornell", "--baseline", missing.to_str().unwrap(), "--out", o],
        &["reading the baseline", "missing.json"],
    );
    fails(
        &["bench", "--world", "cornell", "--baseline", o, "--max-regression", "-5", "--out", o],
        &["--max-regression"],
    );
    fails(&["bench", "--no-gpu", "--world", "cornell", "--csv", "x.csv", "--out", o], &["--csv", "--no-gpu"]);
    let bad = dir.join("path.json");
    std::fs::write(&bad, r#"{"keyframes": [{"t": 1, "position": [0, 1, 0], "yaw": 0, "pitch": 0}, {"t": 0.5, "position": [0, 1, 0], "yaw": 0, "pitch": 0}]}"#).unwrap();
    fails(
        &["bench", "--no-gpu", "--world", "cornell", "--path", bad.to_str().unwrap(), "--out", o],
        &["path.json", "keyframes[1]", "increase"],
    );
    std::fs::write(&bad, "{ \"keyframes\": [ }").unwrap();
    fails(&["bench", "--no-gpu", "--world", "cornell", "--path", bad.to_str().unwrap(), "--out", o], &["path.json:1:"]);
    fails(&["bench", "--no-gpu", "--world", "cornell", "--threads", "0", "--out", o], &["--threads"]);
    fails(&["bench", "--no-gpu", "--world", "cornell", "--bookmark", "nowhere", "--out", o], &["no bookmark", "main"]);
    fails(&["bench", "--no-gpu", "--world", "cornell", "--reference-rays", "0", "--out", o], &["--reference-rays"]);
}

#[test]
fn capture_refuses_bad_arguments_with_a_clear_message() {
    let out = ["--out", "/nonexistent-dir/never-written.png"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["capture", "--world", "cornell", "--no-disk-cache"];
        v.extend_from_slice(extra);
        v.extend_from_slice(&out);
        v
    };
    fails(&with(&["--gi", "bright"]), &["unknown GI mode", "bright", "probes"]);
    fails(&with(&["--view", "xray"]), &["unknown view", "xray", "confidence"]);
    fails(&with(&["--bookmark", "nowhere"]), &["no bookmark", "nowhere", "main"]);
    fails(&with(&["--size", "0x10"]), &["--size", "WIDTHxHEIGHT"]);
    fails(&with(&["--size", "wide"]), &["--size"]);
    fails(&with(&["--camera", "1000,2,3,0,0"]), &["outside the world"]);
    fails(&with(&["--camera", "NaN,2,3,0,0"]), &["non-finite"]);
    fails(&with(&["--exposure", "-1"]), &["--exposure"]);
    fails(&["capture", "--world", "atlantis", "--out", "x.png"], &["atlantis"]);
}

#[test]
fn compare_refuses_bad_arguments_with_a_clear_message() {
    // Every case fails before an adapter opens or the output folder is made.
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["compare", "--world", "cornell", "--no-disk-cache", "--out", "/nonexistent-dir/cmp"];
        v.extend_from_slice(extra);
        v
    };
    fails(&with(&["--rays", "0"]), &["--rays", "1..=1048576"]);
    fails(&with(&["--bounces", "17"]), &["--bounces", "1..=16"]);
    fails(&with(&["--bookmark", "nowhere"]), &["no bookmark", "nowhere", "main"]);
    fails(&with(&["--size", "0x10"]), &["--size", "WIDTHxHEIGHT"]);
    fails(&with(&["--camera", "1000,2,3,0,0"]), &["outside the world"]);
    fails(&with(&["--camera", "1,2,3"]), &["expected 5 numbers"]);
    fails(&with(&["--time", "1e12"]), &["--time"]);
    fails(&with(&["--exposure", "0"]), &["--exposure"]);
    fails(&with(&["--converge-frames", "4000000"]), &["--converge-frames"]);
    fails(&["compare", "--world", "atlantis", "--out", "x"], &["atlantis"]);
    assert!(!std::path::Path::new("/nonexistent-dir").exists());
}

#[test]
fn stream_refuses_times_past_its_range_instead_of_panicking() {
    fails(
        &["stream", "--world", "cornell", "--until", "300000000000", "--step", "300000000000"],
        &["--until", "at most"],
    );
}

#[test]
fn frame_counts_have_an_upper_bound() {
    fails(
        &["bench", "--no-gpu", "--world", "cornell", "--frames", "4000000000", "--out", "x.json"],
        &["--frames", "1000000"],
    );
    fails(&["capture", "--world", "cornell", "--converge-frames", "4000000", "--out", "x.png"], &["--converge-frames"]);
    fails(&["capture", "--world", "cornell", "--time", "1e12", "--out", "x.png"], &["--time"]);
}

#[test]
fn inspect_reads_vox_scenes_and_world_files() {
    let scene = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenes/courtyard.vox");
    let text = ok(&["inspect", scene]);
    assert!(text.contains("MagicaVoxel scene") && text.contains("_emit") && text.contains("_metal"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(&["inspect", scene, "--json"])).unwrap();
    assert_eq!(json["models"], 4);
    assert_eq!(json["instances"], 11);
    assert_eq!(json["emissive_voxels"], 72, "four lanterns of 18 glowing voxels");
    assert_eq!(json["extent_voxels"], serde_json::json!([64, 24, 64]));
    let coarse: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", scene, "--json", "--voxel-size", "0.25"])).unwrap();
    assert_eq!(coarse["voxel_size"], 0.25);
    let world: serde_json::Value = serde_json::from_str(&ok(&["inspect", "cornell", "--json"])).unwrap();
    assert_eq!(world["kind"], "world");
    assert!(world["voxels"].as_u64().unwrap() > 0);
}

#[test]
fn bad_vox_files_fail_with_the_file_the_chunk_and_the_reason() {
    let dir = std::env::temp_dir().join(format!("lumon-cli-vox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenes/courtyard.vox")).unwrap();
    let cut = dir.join("cut.vox");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    let cut = cut.to_string_lossy().into_owned();
    fails(&["inspect", &cut], &["cut.vox", "chunk", "truncated"]);
    fails(&["capture", "--world", &cut, "--out", "/tmp/x.png"], &["cut.vox", "truncated"]);
    fails(&["bench", "--no-gpu", "--world", &cut, "--out", "/tmp/x.json"], &["cut.vox", "truncated"]);
    fails(&["stream", "--world", &cut], &["cut.vox", "truncated"]);
    fails(&["view", &cut], &["cut.vox", "truncated"]);
    fails(&[&cut], &["cut.vox", "truncated"]);
    let text = dir.join("notes.txt");
    std::fs::write(&text, [0xffu8, 0xfe, 0x00, 0x41]).unwrap();
    fails(&["inspect", &text.to_string_lossy()], &["notes.txt", "not a world file", "nor a MagicaVoxel"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn output_paths_that_cannot_be_written_fail_before_any_work() {
    let start = std::time::Instant::now();
    fails(
        &["bench", "--no-gpu", "--world", "cornell", "--frames", "5", "--out", "/proc/nope/b.json"],
        &["--out", "/proc/nope"],
    );
    fails(
        &["bench", "--no-gpu", "--world", "cornell", "--frames", "5", "--out", "/tmp", "--no-disk-cache"],
        &["--out", "is a folder"],
    );
    fails(&["capture", "--world", "cornell", "--out", "/proc/nope/c.png"], &["--out", "does not exist"]);
    fails(&["capture", "--world", "cornell", "--out", "/tmp/lumon-c.png", "--report", "/proc/r.json"], &["--report"]);
    fails(&["compare", "--world", "cornell", "--out", "/proc/nope"], &["--out", "/proc/nope"]);
    fails(&["view", "--world", "cornell", "--screenshot", "/proc/nope/s.png"], &["--screenshot"]);
    fails(&["view", "--world", "cornell", "--record-to", "/proc/nope/p.json"], &["--record-to"]);
    assert!(start.elapsed().as_secs() < 20, "refused at once, not after the run: {:?}", start.elapsed());
}
