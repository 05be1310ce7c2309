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
    // The screenshot is the window as seen: the panels on the left, the world on the right.
    let img = image::open(&shot).expect("screenshot written").to_rgb8();
    assert!(img.width() >= 640 && img.height() >= 400, "{}x{}", img.width(), img.height());
    let (w, h) = (img.width(), img.height());
    let region = |x0: u32, x1: u32| (x0..x1).flat_map(move |x| (0..h).map(move |y| (x, y)));
    let panel: Vec<[u8; 3]> = region(0, w / 5).map(|(x, y)| img.get_pixel(x, y).0).collect();
    let dark = panel.iter().filter(|p| p.iter().all(|c| (15..=45).contains(c))).count();
    let text = panel.iter().filter(|p| p.iter().all(|c| *c > 140)).count();
    assert!(dark > panel.len() / 2, "the panel's background fills its side: {dark} of {}", panel.len());
    assert!(text > panel.len() / 200, "the panel has text: {text} bright pixels");
    let world: Vec<[u8; 3]> = region(w / 2, w).map(|(x, y)| img.get_pixel(x, y).0).collect();
    let green = world.iter().filter(|p| p[1] > 40 && u32::from(p[1]) > 2 * u32::from(p[0]).max(8)).count();
    let lit = world.iter().filter(|p| p.iter().any(|c| *c > 30)).count();
    assert!(green > world.len() / 50, "cornell's green wall is drawn: {green} of {}", world.len());
    assert!(lit > world.len() / 2, "the world is lit: {lit} of {}", world.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the viewer in this process with injected window events: a zero size (minimised), a resize back, and
/// a lost surface. Under `xvfb-run` the test re-runs itself as a child with a display.
#[test]
fn the_loop_survives_zero_size_resizes_and_a_lost_surface() {
    const CHILD: &str = "LUMON_VIEWER_EVENTS_CHILD";
    if std::env::var(CHILD).is_err() {
        let have_xvfb = Command::new("xvfb-run").arg("--help").output().is_ok();
        if !have_xvfb {
            assert!(std::env::var("LUMON_REQUIRE_GPU").ok().as_deref() != Some("1"), "xvfb-run is required in CI");
            eprintln!("skipping: no xvfb-run");
            return;
        }
        let out = Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 640x480x24"])
            .arg(std::env::current_exe().expect("test binary"))
            .args(["--exact", "the_loop_survives_zero_size_resizes_and_a_lost_surface", "--nocapture"])
            .env(CHILD, "1")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .expect("run xvfb-run");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "child failed: {text}");
        assert!(text.contains("1 passed"), "the child ran the test: {text}");
        return;
    }
    use lumon::app::{Injected, ViewerOptions};
    use lumon::pipeline::{view_radius, PipelineOptions};
    use lumon::probes::manager::ProbeConfig;
    use lumon::render::{Camera, FrameSettings};
    use std::sync::Arc;
    let world = Arc::new(lumon::world::load_world(&lumon::world::resolve_world("cornell").unwrap()).unwrap());
    let b = world.main_bookmark();
    let shot = std::env::temp_dir().join(format!("lumon-events-{}.png", std::process::id()));
    let opts = ViewerOptions {
        camera: Camera::new(b.position, b.yaw, b.pitch),
        settings: FrameSettings::default(),
        pipeline: PipelineOptions {
            threads: 1,
            cache_dir: None,
            disk_cap_bytes: 0,
            probes: ProbeConfig { base_spacing: world.probe_spacing, ..ProbeConfig::default() },
            interest_radius: view_radius(&world),
        },
        world,
        vsync: false,
        exit_after_frames: Some(40),
        screenshot: Some(shot.clone()),
        path: None,
        vox: Default::default(),
        record_to: None,
        reference: Some(true),
        inject: vec![
            (3, Injected::Resize(0, 0)),
            (6, Injected::Resize(320, 200)),
            (9, Injected::SurfaceLost),
            (10, Injected::SurfaceLost),
            (12, Injected::Resize(0, 0)),
            (14, Injected::Resize(400, 300)),
            (16, Injected::DroppedFile(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenes/courtyard.vox"))),
        ],
    };
    match lumon::app::run(opts) {
        Ok(exit) => assert_eq!(exit.world, "courtyard", "the dropped .vox scene is open at the end"),
        Err(e) if e.to_string().contains("no GPU adapter") && std::env::var("LUMON_REQUIRE_GPU").is_err() => {
            eprintln!("skipping: {e}");
            return;
        }
        Err(e) => panic!("the loop failed: {e}"),
    }
    let img = image::open(&shot).expect("screenshot").to_rgb8();
    let _ = std::fs::remove_file(&shot);
    assert_eq!((img.width(), img.height()), (400, 300), "the window's last size");
    let lit = img.pixels().filter(|p| p.0.iter().any(|c| *c > 30)).count();
    // At this size the panel takes most of the window; the rest shows the world.
    assert!(lit > (400 * 300) / 20, "the window is drawn, {lit} lit pixels");
}
