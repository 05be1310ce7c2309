//! `lumon bench` with the GPU, through the binary: the report has every field, `--csv` and `--plot` are
//! written, and `--baseline` fails on a regression and passes otherwise. Without an adapter the test skips,
//! unless `LUMON_REQUIRE_GPU=1`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn bench(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lumon"))
        .args(["bench", "--world", "cornell", "--frames", "24", "--warmup", "4", "--size", "96x64"])
        .args(["--settle-frames", "0", "--no-disk-cache", "--threads", "1", "--out"])
        .arg(dir.join("report.json"))
        .args(extra)
        .output()
        .expect("run lumon")
}

fn adapter_missing(out: &Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("no GPU adapter") {
        assert!(std::env::var("LUMON_REQUIRE_GPU").ok().as_deref() != Some("1"), "LUMON_REQUIRE_GPU=1: {err}");
        eprintln!("skipping: {err}");
        return true;
    }
    false
}

#[test]
fn gpu_bench_report_csv_plot_and_baseline() {
    let dir = std::env::temp_dir().join(format!("lumon-bench-gpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("frames.csv");
    let plot = dir.join("frames.png");
    let out = bench(&dir, &["--csv", csv.to_str().unwrap(), "--plot", plot.to_str().unwrap()]);
    if adapter_missing(&out) {
        return;
    }
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    // Every field of the CPU report, then the GPU's.
    for field in [
        "world",
        "path",
        "frames",
        "threads",
        "rays_traced",
        "rays_per_second",
        "probe_updates",
        "gi_cpu_ms",
        "converge_l0_frames",
        "levels",
        "cache",
        "payload_hash",
        "voxels",
        "streaming",
        "upload_bytes",
        "wall_s",
        "irradiance_error",
        "flicker",
        "adapter",
        "backend",
        "size",
        "warmup",
        "timed_frames",
        "frame_ms",
        "cpu_phases_ms",
        "gpu_wait_ms",
        "gpu_passes_ms",
    ] {
        assert!(report.get(field).is_some(), "report lacks {field}");
    }
    assert_eq!(report["timed_frames"], 20);
    assert_eq!(report["size"], serde_json::json!([96, 64]));
    for q in ["p50", "p95", "p99", "max", "mean"] {
        let v = report["frame_ms"][q].as_f64().expect("number");
        assert!(v > 0.0 && v.is_finite(), "frame_ms.{q} = {v}");
    }
    for phase in ["stream", "voxel", "probes", "upload", "encode"] {
        assert!(report["cpu_phases_ms"][phase]["p50"].as_f64().is_some(), "phase {phase}");
    }
    // Lavapipe has timestamp queries: the passes are measured, and they fit inside the frame.
    if report["adapter"]["name"].as_str().unwrap_or("").contains("llvmpipe") {
        let passes = &report["gpu_passes_ms"];
        for pass in ["gbuffer", "lighting", "tonemap", "upload"] {
            assert!(passes[pass]["p50"].as_f64().is_some(), "pass {pass} in {passes}");
        }
        let sum: f64 = ["gbuffer", "lighting", "tonemap"].iter().map(|p| passes[*p]["p50"].as_f64().unwrap()).sum();
        assert!(sum > 0.0 && sum <= report["frame_ms"]["max"].as_f64().unwrap(), "passes {sum} ms");
    }
    let rows = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(rows.lines().count(), 21, "header and 20 frames");
    assert!(rows.starts_with("frame,time_s,frame_ms,"));
    let png = image::open(&plot).expect("plot").to_rgb8();
    assert_eq!((png.width(), png.height()), (1280, 640));
    assert!(png.pixels().any(|p| p[0] > 150 && p[1] < 80), "the red GPU line is drawn");

    // A baseline far slower than now passes; one far faster fails with the table and a non-zero exit.
    let mut slow = report.clone();
    slow["frame_ms"]["p95"] = Value::from(1e9);
    std::fs::write(dir.join("slow.json"), slow.to_string()).unwrap();
    let pass = bench(&dir, &["--baseline", dir.join("slow.json").to_str().unwrap(), "--max-regression", "5"]);
    assert!(pass.status.success(), "{}", String::from_utf8_lossy(&pass.stderr));
    let mut fast = report;
    fast["frame_ms"]["p95"] = Value::from(1e-6);
    std::fs::write(dir.join("fast.json"), fast.to_string()).unwrap();
    let fail = bench(&dir, &["--baseline", dir.join("fast.json").to_str().unwrap(), "--max-regression", "5"]);
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(!fail.status.success(), "a regression must fail: {err}");
    assert!(err.contains("frame_ms/p95") && err.contains("regressed"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
