//! The viewer window under Xvfb (CI installs it; without `xvfb-run` the window test skips unless
//! `LUMON_REQUIRE_GPU=1`), and a clear failure without any display.

use std::process::Command;

fn lumon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lumon"))
}

#[test]
fn without_a_display_the_viewer_says_what_to_use_instead() {
    let out = lumon()
        .args(["view", "--world", "cornell", "--no-disk-cache", "--exit-after-frames", "1"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("run lumon");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail without a display");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("cannot open a window") && err.contains("lumon capture"), "{err}");
}

#[test]
fn the_viewer_opens_a_window_and_draws_the_world() {
    let have_xvfb = Command::new("xvfb-run").arg("--help").output().is_ok();
    if !have_xvfb {
        assert!(std::env::var("LUMON_REQUIRE_GPU").ok().as_deref() != Some("1"), "xvfb-run is required in CI");
        eprintln!("skipping: no xvfb-run");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lumon-viewer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let shot = dir.join("view.png");
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 640x480x24", env!("CARGO_BIN_EXE_lumon")])
        .args(["view", "--world", "cornell", "--no-disk-cache", "--threads", "1", "--exit-after-frames", "40"])
        .arg("--screenshot")
        .arg(&shot)
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run xvfb-run");
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("no GPU adapter") && std::env::var("LUMON_REQUIRE_GPU").is_err() {
        eprintln!("skipping: {err}");
        return;
    }
    assert!(out.status.success(), "viewer failed: {err}");
    let img = image::open(&shot).expect("screenshot written").to_rgb8();
    assert!(img.width() >= 64 && img.height() >= 64);
    // Cornell's red and green walls are on screen.
    let c = |p: &image::Rgb<u8>| (u32::from(p[0]), u32::from(p[1]));
    let red = img.pixels().map(c).filter(|(r, g)| *r > 2 * (*g).max(8) && *r > 40).count();
    let green = img.pixels().map(c).filter(|(r, g)| *g > 2 * (*r).max(8) && *g > 40).count();
    let n = (img.width() * img.height()) as usize;
    assert!(red > n / 50 && green > n / 50, "red {red} and green {green} of {n} pixels");
    let _ = std::fs::remove_dir_all(&dir);
}
