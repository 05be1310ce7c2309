//! The frame loop's two modes: lockstep waits for the frame's traces; live mode never waits, caps the probes
//! in flight, and loses no requested update.

use std::sync::Arc;

use lumon::pipeline::{Pipeline, PipelineOptions, INTEREST_RADIUS};
use lumon::probes::manager::ProbeConfig;
use lumon::world::{load_world, resolve_world};

#[test]
fn live_mode_never_waits_and_caps_the_backlog() {
    let w = Arc::new(load_world(&resolve_world("valley").expect("sample")).expect("loads"));
    let probes = ProbeConfig { base_spacing: w.probe_spacing, ..ProbeConfig::default() };
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
    // Back to lockstep: everything requested is traced or queued, nothing forgotten.
    for _ in 0..5 {
        p.step(cam, true).expect("lockstep step");
    }
    assert_eq!(p.manager().forgotten_probes(), 0, "no requested update is lost");
}
