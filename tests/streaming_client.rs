//! The streaming client against the in-process server: interest set, snapshots for entering regions, deltas,
//! gaps, duplicates, resync after compaction, and scene changes that tell the whole story.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use glam::{Vec2, Vec3};
use lumon::geom::Aabb;
use lumon::streaming::*;
use proptest::prelude::*;
use rustc_hash::FxHashMap;

fn client(radius: f32, max_loads: usize) -> StreamingClient {
    let mut bounds = FxHashMap::default();
    bounds.insert("crate".to_string(), Aabb { min: Vec3::new(-0.5, 0.0, -0.5), max: Vec3::new(0.5, 1.0, 0.5) });
    StreamingClient::new(
        ClientConfig { interest_radius: radius, leave_margin: 3.0, max_region_loads: max_loads, count_bytes: true },
        grid(),
        bounds,
    )
}

/// The server's head restricted to the client's regions.
fn expected_scene(s: &StreamServer, c: &StreamingClient) -> BTreeMap<String, Arc<Placement>> {
    let snap = s
        .get_world_snapshot(&GetWorldSnapshotInput {
            cursor: None,
            region_ids: Some(c.regions().iter().map(|r| r.to_string()).collect()),
        })
        .unwrap();
    snap.regions.into_iter().flat_map(|r| r.placements).map(|p| (p.placement_id.clone(), p)).collect()
}

fn apply_changes(replica: &mut BTreeMap<String, Arc<Placement>>, changes: &[SceneChange], c: &StreamingClient) {
    for ch in changes {
        let id = ch.id().to_string();
        match ch.kind() {
            SceneChangeKind::Added => assert!(replica.insert(id, ch.after.clone().unwrap()).is_none(), "added twice"),
            SceneChangeKind::Updated | SceneChangeKind::Removed => {
                let old = replica.remove(&id).expect("changed placement must be known");
                assert_eq!(Some(&old), ch.before.as_ref(), "`before` must be the replica's value");
                if let Some(a) = &ch.after {
                    replica.insert(id, a.clone());
                }
            }
        }
        if let Some(a) = &ch.after {
            assert_eq!(ch.after_box, Some(c.placement_box(a)));
        }
        assert!(!ch.dirty_box().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Along a random camera path over a random history, the client's scene, and a replica built only from its
    /// scene changes, always equal the server's head for the held regions; held regions are within reach.
    #[test]
    fn client_scene_follows_server(h in history(), path in prop::collection::vec((-25.0f32..25.0, -25.0f32..25.0), 1..24),
                                   radius in 4.0f32..20.0, max_loads in 1usize..5, retention in prop::option::of(1usize..4)) {
        let mut s = server(retention);
        let mut c = client(radius, max_loads);
        let mut replica = BTreeMap::new();
        for (step, ops) in h.iter().enumerate() {
            let (x, z) = path[step % path.len()];
            let cam = Vec3::new(x, 2.0, z);
            let ch = c.update_interest(&s, cam).unwrap();
            apply_changes(&mut replica, &ch, &c);
            let edits = to_edits(&s, ops);
            s.commit(edits).unwrap();
            let ch = c.pull(&s).unwrap();
            apply_changes(&mut replica, &ch, &c);
            let want = expected_scene(&s, &c);
            let got: BTreeMap<String, Arc<Placement>> = c.scene().iter().map(|(k, v)| (k.clone(), v.placement.clone())).collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(&replica, &want);
            if !c.regions().is_empty() {
                prop_assert_eq!(c.cursor(), Some(s.head()));
            }
            for r in c.regions() {
                prop_assert!(grid().distance(*r, Vec2::new(x, z)) <= radius + 3.0);
            }
        }
    }
}

#[test]
fn entering_regions_get_snapshots_nearest_first_and_bounded() {
    let mut s = server(None);
    s.commit((0..12).map(|i| Edit::Add(placement(i, pos(i % 8, (i * 3) % 8)))).collect()).unwrap();
    let mut c = client(30.0, 3);
    c.update_interest(&s, Vec3::new(1.0, 0.0, 1.0)).unwrap();
    assert_eq!(c.regions().len(), 3);
    assert!(c.regions().contains(&RegionId::new(0, 0)), "the camera's own region loads first");
    assert_eq!(c.stats().snapshots, 1);
    assert_eq!(c.stats().deltas, 0);
    for _ in 0..10 {
        c.update_interest(&s, Vec3::new(1.0, 0.0, 1.0)).unwrap();
    }
    assert_eq!(c.regions().len(), 16);
    assert_eq!(c.scene().len(), 12);
    assert!(c.stats().bytes > 0);
}

#[test]
fn gaps_are_errors_and_duplicates_are_no_ops() {
    let mut s = server(None);
    let c0 = s.commit(vec![Edit::Add(placement(1, pos(4, 4)))]).unwrap();
    let mut c = client(50.0, 16);
    c.update_interest(&s, Vec3::ZERO).unwrap();
    assert_eq!(c.cursor(), Some(c0));
    let c1 = s.commit(vec![Edit::Add(placement(2, pos(4, 4)))]).unwrap();
    let c2 = s.commit(vec![Edit::Remove { id: "p01".into() }]).unwrap();
    let later = world_delta(&s, c1, Some(c2), None);
    assert_eq!(c.apply_world_delta(&later).unwrap_err(), StreamError::Gap { client: c0, from: c1 });
    let first = world_delta(&s, c0, Some(c1), None);
    assert_eq!(c.apply_world_delta(&first).unwrap().len(), 1);
    assert!(c.apply_world_delta(&first).unwrap().is_empty(), "re-applying is a no-op");
    assert_eq!(c.stats().duplicate_deltas, 1);
    assert_eq!(c.apply_world_delta(&later).unwrap().len(), 1);
    assert_eq!(c.cursor(), Some(c2));
    assert_eq!(c.scene().len(), 1);
}

#[test]
fn a_move_between_held_regions_is_one_update_with_both_boxes() {
    let mut s = server(None);
    s.commit(vec![Edit::Add(placement(1, pos(0, 0)))]).unwrap();
    let mut c = client(60.0, 16);
    c.update_interest(&s, Vec3::ZERO).unwrap();
    s.commit(vec![Edit::Update {
        id: "p01".into(),
        patch: PlacementPatch { position: Some(pos(7, 7)), ..Default::default() },
    }])
    .unwrap();
    let ch = c.pull(&s).unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].kind(), SceneChangeKind::Updated);
    let (b, a) = (ch[0].before_box.unwrap(), ch[0].after_box.unwrap());
    assert!(!b.intersects(&a));
    assert!(ch[0].dirty_box().intersects(&b) && ch[0].dirty_box().intersects(&a));
    assert_eq!(c.stats().placements_updated, 1);
}

#[test]
fn leaving_regions_drop_their_placements() {
    let mut s = server(None);
    s.commit(vec![Edit::Add(placement(1, pos(0, 0))), Edit::Add(placement(2, pos(7, 7)))]).unwrap();
    let mut c = client(8.0, 16);
    c.update_interest(&s, Vec3::new(-18.0, 0.0, -18.0)).unwrap();
    assert!(c.scene().contains_key("p01") && !c.scene().contains_key("p02"));
    let ch = c.update_interest(&s, Vec3::new(18.0, 0.0, 18.0)).unwrap();
    assert!(ch.iter().any(|x| x.kind() == SceneChangeKind::Removed && x.id() == "p01"));
    assert!(ch.iter().any(|x| x.kind() == SceneChangeKind::Added && x.id() == "p02"));
    assert!(!c.scene().contains_key("p01"));
    assert!(c.stats().regions_dropped > 0);
}

#[test]
fn an_expired_cursor_resyncs_and_loses_nothing() {
    let mut s = server(Some(2));
    s.commit(vec![Edit::Add(placement(1, pos(3, 3)))]).unwrap();
    let mut c = client(60.0, 16);
    c.update_interest(&s, Vec3::ZERO).unwrap();
    for i in 2..8 {
        s.commit(vec![Edit::Add(placement(i, pos(i, 2))), Edit::Remove { id: format!("p{:02}", i - 1) }]).unwrap();
    }
    let ch = c.pull(&s).unwrap();
    assert_eq!(c.stats().resyncs, 1);
    assert_eq!(c.cursor(), Some(s.head()));
    assert_eq!(c.scene().keys().cloned().collect::<Vec<_>>(), vec!["p07".to_string()]);
    assert!(ch.iter().any(|x| x.kind() == SceneChangeKind::Removed && x.id() == "p01"));
}

#[test]
fn a_bad_world_delta_changes_nothing() {
    let mut s = server(None);
    let c0 = s.commit(vec![Edit::Add(placement(1, pos(4, 4))), Edit::Add(placement(2, pos(4, 4)))]).unwrap();
    let mut c = client(50.0, 16);
    c.update_interest(&s, Vec3::ZERO).unwrap();
    let c1 = s.commit(vec![Edit::Remove { id: "p01".into() }, Edit::Add(placement(3, pos(4, 4)))]).unwrap();
    // A corrupt delta: it removes p01 (fine) and then adds p02, which the client already holds.
    let mut bad = world_delta(&s, c0, Some(c1), None);
    let rd = bad.regions.iter_mut().find(|r| !r.removed.is_empty()).expect("a region with the removal");
    rd.added.push(Arc::new(placement(2, pos(4, 4))));
    let (scene, stats) = (c.scene().clone(), c.stats().clone());
    let err = c.apply_world_delta(&bad).unwrap_err();
    assert!(matches!(err, StreamError::InconsistentDelta { .. }), "{err:?}");
    assert_eq!(c.scene(), &scene, "all of it or none: p01 is still there");
    assert_eq!(c.stats(), &stats);
    assert_eq!(c.cursor(), Some(c0));
    // The good delta still applies afterwards.
    assert_eq!(c.apply_world_delta(&world_delta(&s, c0, Some(c1), None)).unwrap().len(), 2);
    assert_eq!(c.cursor(), Some(c1));
}

#[test]
fn a_delta_that_runs_backwards_or_updates_a_removed_placement_is_refused() {
    let mut s = server(None);
    let c0 = s.commit(vec![Edit::Add(placement(1, pos(4, 4))), Edit::Add(placement(2, pos(4, 4)))]).unwrap();
    let mut c = client(50.0, 16);
    c.update_interest(&s, Vec3::ZERO).unwrap();
    let c1 = s.commit(vec![Edit::Remove { id: "p01".into() }]).unwrap();
    let good = world_delta(&s, c0, Some(c1), None);
    let (scene, stats) = (c.scene().clone(), c.stats().clone());

    let mut backwards = good.clone();
    (backwards.from_cursor, backwards.to_cursor) = (c0, Cursor { seq: c0.seq - 1, ..c0 });
    let err = c.apply_world_delta(&backwards).unwrap_err();
    assert!(matches!(err, StreamError::ReversedRange { .. }), "{err:?}");

    let mut both = good.clone();
    let rd = both.regions.iter_mut().find(|r| !r.removed.is_empty()).expect("a region with the removal");
    rd.updated.push(Arc::new(placement(1, pos(4, 4))));
    let err = c.apply_world_delta(&both).unwrap_err();
    assert!(err.to_string().contains("both updated and removed"), "{err}");

    let mut twice = good.clone();
    let rd = twice.regions.iter_mut().find(|r| !r.removed.is_empty()).expect("a region with the removal");
    rd.removed.clear();
    rd.updated.push(Arc::new(placement(2, pos(4, 4))));
    rd.updated.push(Arc::new(placement(2, pos(4, 5))));
    let err = c.apply_world_delta(&twice).unwrap_err();
    assert!(err.to_string().contains("updated twice"), "{err}");

    assert_eq!((c.scene(), c.stats(), c.cursor()), (&scene, &stats, Some(c0)), "nothing changed");
    c.apply_world_delta(&good).unwrap();
    assert_eq!(c.cursor(), Some(c1));
}
