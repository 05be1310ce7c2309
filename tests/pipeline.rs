//! The frame loop's two modes: lockstep waits for the frame's traces; live mode never waits, caps the probes
//! in flight, and loses no requested update.

use std::sync::Arc;

use glam::UVec3;
use lumon::pipeline::{Pipeline, PipelineOptions, INTEREST_RADIUS};
use lumon::probes::manager::ProbeConfig;
use lumon::world::{load_world, resolve_world};

#[test]
fn live_mode_never_waits_and_caps_the_backlog() {
    let w = Arc::new(load_world(&resolve_world("valley").expect("sample")).expect("loads"));
    // Two levels of 16^3 probes: small enough to give every probe data in a few lockstep frames at the end.
    let probes =
        ProbeConfig { base_spacing: w.probe_spacing, levels: 2, dims: UVec3::splat(16), ..ProbeConfig::default() };
    let budget = probes.global_budget as usize;
    let opts =
        PipelineOptions { threads: 1, cache_dir: None, disk_cap_bytes: 0, probes, interest_radius: INTEREST_RADIUS };
    let mut p = Pipeline::new(w.clone(), &opts).expect("pipeline");
    let cam = w.main_bookmark().position;
    let mut returned_while_tracing = 0;
    let mut most_in_flight = 0;
    for _ in 0..60 {
        p.step(cam, false).expect("live step");
        let n = p.manager().in_flight();
        returned_while_tracing += usize::from(n > 0);
        most_in_flight = most_in_flight.max(n);
    }
    assert!(returned_while_tracing > 30, "live frames return while traces run ({returned_while_tracing} of 60)");
    // One thread cannot trace 1,600 probes a frame: without the cap the backlog would grow by the difference
    // every frame (tens of thousands after 60 frames).
    assert!(most_in_flight <= 2 * budget, "{most_in_flight} probes in flight");
    // Back to lockstep: a probe lost on the way would stay without data; every one gets its data, and every
    // probe without data is meanwhile waiting for something.
    let mut frames = 0;
    while p.manager().stats().levels.iter().any(|l| l.without_data > 0) {
        for l in p.manager().stats().levels {
            assert!(l.without_data <= l.queued + l.awaiting_disk + l.tracing, "{l:?}");
        }
        assert!(frames < 30, "probes left without data: {:?}", p.manager().stats().levels);
        p.step(cam, true).expect("lockstep step");
        frames += 1;
    }
}
