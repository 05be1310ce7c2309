//! A search for panics (proptest): the sample world files, MagicaVoxel files (bytes), a camera path and cursors
//! are mutated (numbers set to
//! extremes, fields removed or duplicated, values of the wrong type, arrays grown large) and fed to the loader;
//! whatever loads runs a few frames of the CPU pipeline (streaming, voxels, probes) on a small clipmap. No
//! input may panic: it loads and runs, or it is refused with an error. `PROPTEST_CASES` sets the number of
//! cases per test (default below); a failure is shrunk to a small mutation list and printed.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use glam::UVec3;
use lumon::bench::path::CameraPath;
use lumon::hash::Rng;
use lumon::pipeline::{Pipeline, PipelineOptions};
use lumon::probes::manager::ProbeConfig;
use lumon::streaming::Cursor;
use lumon::world::load_world_str;
use lumon::world::samples::sample_path;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

/// Cases per test when `PROPTEST_CASES` is not set: each loads a world and may run three pipeline frames.
const CASES: u32 = 256;

/// Worlds mutated (`city-stress` is left out: its 100,000 placements make each case take seconds; its format
/// is the same).
const WORLDS: [&str; 4] = ["cornell", "leak-test", "village-night", "valley"];

#[derive(Clone, Debug)]
enum Mutation {
    /// Set the value at a random place to one of [`extremes`].
    Extreme(u64, usize),
    /// Remove a random object key or array element.
    Remove(u64),
    /// Replace a random value with one of another type.
    WrongType(u64, usize),
    /// Repeat a random array's first element `n` times (large arrays).
    Grow(u64, usize),
    /// Copy a random object member under a neighbour's key (a duplicated field, by name and by value).
    Duplicate(u64),
}

fn extremes() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(1e-9),
        json!(-1e-30),
        json!(1e9),
        json!(-1e9),
        json!(3e38),
        json!(1e300),
        json!(-1e300),
        json!(9007199254740993u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(4294967296u64),
        json!(2147483648u64),
        json!(0.5),
    ]
}

fn wrong_types() -> Vec<Value> {
    vec![json!(null), json!(true), json!("x"), json!(""), json!([]), json!({}), json!([1, 2]), json!({"a": 1})]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<u64>(), 0..extremes().len()).prop_map(|(s, i)| Mutation::Extreme(s, i)),
        2 => any::<u64>().prop_map(Mutation::Remove),
        2 => (any::<u64>(), 0..wrong_types().len()).prop_map(|(s, i)| Mutation::WrongType(s, i)),
        1 => (any::<u64>(), prop_oneof![Just(2usize), Just(50), Just(5_000)]).prop_map(|(s, n)| Mutation::Grow(s, n)),
        1 => any::<u64>().prop_map(Mutation::Duplicate),
    ]
}

/// A random node of `v`, reached by a random walk from the root (stopping early an eighth of the time).
fn pick<'a>(v: &'a mut Value, rng: &mut Rng) -> &'a mut Value {
    let n = match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    if n == 0 || rng.below(8) == 0 {
        return v;
    }
    let i = rng.below(n as u64) as usize;
    match v {
        Value::Object(m) => {
            let child = m.values_mut().nth(i).expect("in range");
            pick(child, rng)
        }
        Value::Array(a) => pick(&mut a[i], rng),
        _ => unreachable!(),
    }
}

/// A random object or array inside `v` (the root when there is none below it).
fn pick_container<'a>(v: &'a mut Value, rng: &mut Rng) -> &'a mut Value {
    let mut path = Vec::new();
    let mut at: &Value = v;
    let mut candidates = vec![path.clone()];
    for _ in 0..8 {
        let children: Vec<(Value, usize)> = match at {
            Value::Object(m) => m.values().cloned().enumerate().map(|(i, c)| (c, i)).collect(),
            Value::Array(a) => a.iter().cloned().enumerate().map(|(i, c)| (c, i)).collect(),
            _ => break,
        };
        let containers: Vec<usize> =
            children.iter().filter(|(c, _)| c.is_object() || c.is_array()).map(|c| c.1).collect();
        if containers.is_empty() {
            break;
        }
        let i = containers[rng.below(containers.len() as u64) as usize];
        path.push(i);
        candidates.push(path.clone());
        at = match at {
            Value::Object(m) => m.values().nth(i).expect("in range"),
            Value::Array(a) => &a[i],
            _ => unreachable!(),
        };
    }
    let chosen = &candidates[rng.below(candidates.len() as u64) as usize];
    let mut node = v;
    for &i in chosen {
        node = match node {
            Value::Object(m) => m.values_mut().nth(i).expect("in range"),
            Value::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
    }
    node
}

fn apply(v: &mut Value, m: &Mutation) {
    match *m {
        Mutation::Extreme(seed, i) => *pick(v, &mut Rng::new(seed)) = extremes()[i].clone(),
        Mutation::WrongType(seed, i) => *pick(v, &mut Rng::new(seed)) = wrong_types()[i].clone(),
        Mutation::Remove(seed) => {
            let mut rng = Rng::new(seed);
            match pick_container(v, &mut rng) {
                Value::Object(o) if !o.is_empty() => {
                    let key = o.keys().nth(rng.below(o.len() as u64) as usize).cloned().expect("in range");
                    o.remove(&key);
                }
                Value::Array(a) if !a.is_empty() => {
                    a.remove(rng.below(a.len() as u64) as usize);
                }
                _ => {}
            }
        }
        Mutation::Grow(seed, n) => {
            let mut rng = Rng::new(seed);
            if let Value::Array(a) = pick_container(v, &mut rng) {
                if let Some(first) = a.first().cloned() {
                    a.extend(std::iter::repeat_n(first, n));
                }
            }
        }
        Mutation::Duplicate(seed) => {
            let mut rng = Rng::new(seed);
            if let Value::Object(o) = pick_container(v, &mut rng) {
                if o.len() >= 2 {
                    let i = rng.below(o.len() as u64) as usize;
                    let (from, to) =
                        (o.keys().nth(i).cloned().unwrap(), o.keys().nth((i + 1) % o.len()).cloned().unwrap());
                    let value = o[&from].clone();
                    o.insert(to, value);
                }
            }
        }
    }
}

/// Loads `text` as world `name`; when it loads, runs three lockstep frames of the CPU pipeline at its main
/// bookmark on a small clipmap. True when it loaded.
fn load_and_run(name: &str, text: &str) -> bool {
    let path = sample_path(name);
    let Ok(world) = load_world_str(text, &path) else { return false };
    run_three_frames(Arc::new(world));
    true
}

/// Three frames of the CPU pipeline on a small clipmap.
fn run_three_frames(world: Arc<lumon::world::World>) {
    let probes = ProbeConfig {
        levels: 2,
        dims: UVec3::splat(8),
        base_spacing: world.probe_spacing,
        rays_per_update: 8,
        ..ProbeConfig::default()
    };
    let opts = PipelineOptions { threads: 1, cache_dir: None, disk_cap_bytes: 0, probes, interest_radius: 24.0 };
    let Ok(mut pipe) = Pipeline::new(world.clone(), &opts) else { return };
    let cam = world.main_bookmark().position;
    for _ in 0..3 {
        if pipe.step(cam, true).is_err() {
            break;
        }
    }
}

/// A mutation of a `.vox` file's bytes.
#[derive(Clone, Debug)]
enum ByteMutation {
    /// Set the little-endian word at a random 4-byte-aligned place to one of [`WORDS`].
    Word(u64, usize),
    /// Flip one byte.
    Flip(u64, u8),
    /// Cut the file at a random place.
    Truncate(u64),
    /// Copy a random run of bytes over another place.
    Splice(u64, u64, usize),
}

/// Lengths, counts and ids at their extremes.
const WORDS: [u32; 9] = [0, 1, 3, 255, 256, 257, 0x7fff_ffff, 0x8000_0000, u32::MAX];

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        (any::<u64>(), 0..WORDS.len()).prop_map(|(a, w)| ByteMutation::Word(a, w)),
        (any::<u64>(), any::<u8>()).prop_map(|(a, b)| ByteMutation::Flip(a, b)),
        any::<u64>().prop_map(ByteMutation::Truncate),
        (any::<u64>(), any::<u64>(), 1..64usize).prop_map(|(a, b, n)| ByteMutation::Splice(a, b, n)),
    ]
}

fn apply_bytes(bytes: &mut Vec<u8>, m: &ByteMutation) {
    if bytes.len() < 8 {
        return;
    }
    let at = |r: u64, len: usize| (r % len as u64) as usize;
    match *m {
        ByteMutation::Word(a, w) => {
            let i = at(a, bytes.len() / 4) * 4;
            bytes[i..i + 4].copy_from_slice(&WORDS[w].to_le_bytes());
        }
        ByteMutation::Flip(a, b) => {
            let i = at(a, bytes.len());
            bytes[i] ^= b.max(1);
        }
        ByteMutation::Truncate(a) => bytes.truncate(at(a, bytes.len())),
        ByteMutation::Splice(a, b, n) => {
            let (from, to) = (at(a, bytes.len()), at(b, bytes.len()));
            let n = n.min(bytes.len() - from).min(bytes.len() - to);
            let run = bytes[from..from + n].to_vec();
            bytes[to..to + n].copy_from_slice(&run);
        }
    }
}

/// MagicaVoxel files: the README's example scene and an animated scene with layers, cameras and materials,
/// their bytes mutated. Whatever reads as a world runs three frames.
#[test]
fn mutated_vox_files_load_or_fail_cleanly_and_never_panic() {
    use lumon::world::vox::write::{dict_of, write, SceneBuilder};
    let courtyard = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenes/courtyard.vox")).unwrap();
    let mut b = SceneBuilder::new()
        .material(2, &[("_type", "_emit"), ("_flux", "3")])
        .layer(0, "a", false)
        .layer(1, "b", true)
        .camera(0, &[("_focus", "0 0 4"), ("_angle", "30 40 0"), ("_radius", "30")])
        .render(&[("_type", "_inf"), ("_angle", "40 40")]);
    let m = b.model([4, 3, 2], vec![[0, 0, 0, 1], [3, 2, 1, 2], [1, 1, 1, 1]]);
    let n = b.model([2, 2, 2], vec![[1, 1, 1, 2]]);
    b.animated(dict_of(&[("_name", "x")]), 0, &[(0, 4, [0, 0, 0]), (3, 17, [4, -2, 1])], &[(0, m), (2, n)]);
    b.instance(n, 36, [-3, 5, 2]);
    let animated = write(&b.build());
    let files = [courtyard, animated];
    let mut runner = TestRunner::new(config());
    let (cases, loaded) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let strategy = (0..files.len(), prop::collection::vec(byte_mutation(), 1..4));
    let result = runner.run(&strategy, |(file, mutations)| {
        let mut bytes = files[file].clone();
        for m in &mutations {
            apply_bytes(&mut bytes, m);
        }
        cases.fetch_add(1, Ordering::Relaxed);
        let opts = lumon::world::vox::VoxOptions::default();
        if let Ok(world) = lumon::world::vox::world_from_vox(Path::new("mutated.vox"), &bytes, &opts) {
            loaded.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("lumon-panic-vox-{}.vox", std::process::id()));
            std::fs::write(&path, &bytes).unwrap();
            let _ = lumon::inspect::inspect(&path, &world);
            let _ = std::fs::remove_file(&path);
            run_three_frames(Arc::new(world));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, loaded) = (cases.into_inner(), loaded.into_inner());
    eprintln!("{cases} mutated .vox files: {loaded} loaded and ran three frames, the rest were refused");
    assert!(loaded * 20 >= cases, "only {loaded} of {cases} mutated files loaded");
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CASES);
    ProptestConfig { cases, max_shrink_iters: 200, ..ProptestConfig::default() }
}

/// The world files: a failure is shrunk and printed by proptest; at the end the share of mutated files that
/// still loaded (and ran) is printed and must not be tiny, or the search would only exercise the parser.
#[test]
fn mutated_world_files_load_or_fail_cleanly_and_never_panic() {
    let mut runner = TestRunner::new(config());
    let (cases, loaded) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let strategy = (0..WORLDS.len(), prop::collection::vec(mutation(), 1..4));
    let result = runner.run(&strategy, |(world, mutations)| {
        let name = WORLDS[world];
        let text = std::fs::read_to_string(sample_path(name)).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        for m in &mutations {
            apply(&mut v, m);
        }
        cases.fetch_add(1, Ordering::Relaxed);
        if load_and_run(name, &v.to_string()) {
            loaded.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, loaded) = (cases.into_inner(), loaded.into_inner());
    eprintln!("{cases} mutated world files: {loaded} loaded and ran three frames, the rest were refused");
    assert!(loaded * 20 >= cases, "only {loaded} of {cases} mutated files loaded");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_camera_paths_and_cursors_never_panic(
        mutations in prop::collection::vec(mutation(), 1..4),
        cursor in "[a-z0-9:_\\-.]{0,40}",
    ) {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/paths/valley-teleports.json"),
        )
        .unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        for m in &mutations {
            apply(&mut v, m);
        }
        let file = std::env::temp_dir().join(format!("lumon-panic-path-{}.json", std::process::id()));
        std::fs::write(&file, v.to_string()).unwrap();
        if let Ok(p) = CameraPath::load(&file) {
            for t in [-1.0, 0.0, 0.5, 3.999, 1e9, f32::MAX] {
                let (pos, yaw, pitch) = p.sample(t);
                prop_assert!(pos.is_finite() && yaw.is_finite() && pitch.is_finite(), "finite poses from a valid path");
            }
        }
        let _ = std::fs::remove_file(&file);
        let _ = cursor.parse::<Cursor>();
    }
}
