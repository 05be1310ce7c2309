//! Every law of `spec/streaming.md` as a property test over random edit histories (adds, moves across region
//! borders, recolours that may return to an earlier value, removals and re-additions), with and without region
//! filters and with log compaction.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use lumon::streaming::*;
use proptest::prelude::*;

/// The reference model: the state at cursor `k` is the head of a fresh server that replayed the first `k`
/// commits. Returned as region -> id -> placement.
fn replay_state(history: &[Vec<Op>], k: usize) -> BTreeMap<RegionId, BTreeMap<String, Arc<Placement>>> {
    let (s, _) = run(&history[..k], None);
    let snap = s.get_world_snapshot(&GetWorldSnapshotInput::default()).unwrap();
    snap.regions
        .into_iter()
        .map(|r| (r.region_id, r.placements.into_iter().map(|p| (p.placement_id.clone(), p)).collect()))
        .collect()
}

fn state_of(snap: &WorldSnapshot) -> BTreeMap<RegionId, BTreeMap<String, Arc<Placement>>> {
    snap.regions
        .iter()
        .map(|r| (r.region_id, r.placements.iter().map(|p| (p.placement_id.clone(), p.clone())).collect()))
        .collect()
}

fn filter_from(mask: u16) -> Vec<RegionId> {
    all_regions().into_iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, r)| r).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Law 7 and historical reconstruction: a snapshot at any cursor equals the replayed state at that
    /// position, and every region inside it carries the snapshot's one cursor.
    #[test]
    fn snapshots_match_replay_and_are_point_in_time(h in history(), pick in any::<prop::sample::Index>()) {
        let (s, cursors) = run(&h, None);
        let k = pick.index(cursors.len());
        let snap = world_snapshot(&s, cursors[k], None);
        prop_assert_eq!(state_of(&snap), replay_state(&h, k));
        prop_assert!(snap.regions.iter().all(|r| r.cursor == snap.cursor && !r.placements.is_empty()));
        for r in all_regions() {
            let rs = s.get_region_snapshot(&GetRegionSnapshotInput {
                region_id: r.to_string(), cursor: Some(cursors[k].to_string()) }).unwrap();
            let expected: Vec<_> = replay_state(&h, k).remove(&r).map(|m| m.into_values().collect()).unwrap_or_default();
            prop_assert_eq!(rs.placements, expected);
        }
    }

    /// Law 1, whole world and with a region filter, plus per region.
    #[test]
    fn apply_snapshot_delta_gives_snapshot(h in history(), a in any::<prop::sample::Index>(),
                                           b in any::<prop::sample::Index>(), mask in any::<u16>()) {
        let (s, cursors) = run(&h, None);
        let (i, j) = { let (x, y) = (a.index(cursors.len()), b.index(cursors.len())); (x.min(y), x.max(y)) };
        let (c0, c1) = (cursors[i], cursors[j]);
        for filter in [None, Some(filter_from(mask))] {
            let f = filter.as_deref();
            let mut snap = world_snapshot(&s, c0, f);
            apply_world_delta(&mut snap, &world_delta(&s, c0, Some(c1), f)).unwrap();
            prop_assert_eq!(snap, world_snapshot(&s, c1, f));
        }
        for r in all_regions() {
            let mut rs = s.get_region_snapshot(&GetRegionSnapshotInput { region_id: r.to_string(), cursor: Some(c0.to_string()) }).unwrap();
            let d = s.get_region_delta(&GetRegionDeltaInput { region_id: r.to_string(), from_cursor: c0.to_string(), to_cursor: Some(c1.to_string()) }).unwrap();
            apply_region_delta(&mut rs, &d).unwrap();
            let want = s.get_region_snapshot(&GetRegionSnapshotInput { region_id: r.to_string(), cursor: Some(c1.to_string()) }).unwrap();
            prop_assert_eq!(rs, want);
        }
    }

    /// Law 2: deltas compose.
    #[test]
    fn deltas_compose(h in history(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
                      c in any::<prop::sample::Index>(), mask in any::<u16>()) {
        let (s, cursors) = run(&h, None);
        let mut idx = [a.index(cursors.len()), b.index(cursors.len()), c.index(cursors.len())];
        idx.sort();
        let [c0, c1, c2] = idx.map(|i| cursors[i]);
        for filter in [None, Some(filter_from(mask))] {
            let f = filter.as_deref();
            let mut stepwise = world_snapshot(&s, c0, f);
            apply_world_delta(&mut stepwise, &world_delta(&s, c0, Some(c1), f)).unwrap();
            apply_world_delta(&mut stepwise, &world_delta(&s, c1, Some(c2), f)).unwrap();
            let mut direct = world_snapshot(&s, c0, f);
            apply_world_delta(&mut direct, &world_delta(&s, c0, Some(c2), f)).unwrap();
            prop_assert_eq!(stepwise, direct);
        }
    }

    /// Law 3: an empty span is empty; no `to` means the head, and the reply names it.
    #[test]
    fn empty_span_and_default_to(h in history(), a in any::<prop::sample::Index>()) {
        let (s, cursors) = run(&h, None);
        let c = cursors[a.index(cursors.len())];
        let d = world_delta(&s, c, Some(c), None);
        prop_assert!(d.regions.is_empty());
        let to_head = world_delta(&s, c, None, None);
        prop_assert_eq!(to_head.to_cursor, s.head());
        prop_assert_eq!(to_head, world_delta(&s, c, Some(s.head()), None));
    }

    /// Laws 4 and 5: a delta is exactly the net difference of the two states: disjoint lists, `added` absent
    /// from the region at `from`, `removed`/`updated` present there, no add-then-remove, no update that returns
    /// to its value, and a move across a border as removed-from-old plus added-to-new.
    #[test]
    fn deltas_state_the_net_effect(h in history(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let (s, cursors) = run(&h, None);
        let (i, j) = { let (x, y) = (a.index(cursors.len()), b.index(cursors.len())); (x.min(y), x.max(y)) };
        let before = replay_state(&h, i);
        let after = replay_state(&h, j);
        let d = world_delta(&s, cursors[i], Some(cursors[j]), None);
        let empty = BTreeMap::new();
        let mut seen_regions = std::collections::BTreeSet::new();
        for rd in &d.regions {
            prop_assert!(!rd.is_empty(), "a world delta lists only regions with changes");
            seen_regions.insert(rd.region_id);
            let b0 = before.get(&rd.region_id).unwrap_or(&empty);
            let a1 = after.get(&rd.region_id).unwrap_or(&empty);
            let added: Vec<&str> = rd.added.iter().map(|p| p.placement_id.as_str()).collect();
            let updated: Vec<&str> = rd.updated.iter().map(|p| p.placement_id.as_str()).collect();
            let removed: Vec<&str> = rd.removed.iter().map(String::as_str).collect();
            let want_added: Vec<&str> = a1.keys().filter(|k| !b0.contains_key(*k)).map(String::as_str).collect();
            let want_removed: Vec<&str> = b0.keys().filter(|k| !a1.contains_key(*k)).map(String::as_str).collect();
            let want_updated: Vec<&str> = a1.iter().filter(|(k, v)| b0.get(*k).is_some_and(|o| o != *v)).map(|(k, _)| k.as_str()).collect();
            prop_assert_eq!(&added, &want_added);
            prop_assert_eq!(&removed, &want_removed);
            prop_assert_eq!(&updated, &want_updated);
            for p in rd.added.iter().chain(&rd.updated) {
                prop_assert_eq!(Some(p), a1.get(&p.placement_id));
            }
        }
        // Regions without a listed delta did not change.
        for r in all_regions() {
            if !seen_regions.contains(&r) {
                prop_assert_eq!(before.get(&r), after.get(&r));
            }
        }
    }

    /// Law 6: canonical output: same history, same bytes; placements ordered by id.
    #[test]
    fn output_is_canonical(h in history(), a in any::<prop::sample::Index>()) {
        let (s1, cursors) = run(&h, None);
        let (s2, _) = run(&h, None);
        let c = cursors[a.index(cursors.len())];
        let j = |v: &dyn erased::Ser| v.json();
        let snap1 = world_snapshot(&s1, c, None);
        prop_assert_eq!(j(&snap1), j(&world_snapshot(&s2, c, None)));
        prop_assert_eq!(j(&world_delta(&s1, c, None, None)), j(&world_delta(&s2, c, None, None)));
        for r in &snap1.regions {
            prop_assert!(r.placements.windows(2).all(|w| w[0].placement_id < w[1].placement_id));
            prop_assert_eq!(&r.id, &format!("{}@{}", r.region_id, c));
        }
        for rd in world_delta(&s1, cursors[0], None, None).regions {
            prop_assert!(rd.added.windows(2).all(|w| w[0].placement_id < w[1].placement_id));
            prop_assert!(rd.updated.windows(2).all(|w| w[0].placement_id < w[1].placement_id));
            prop_assert!(rd.removed.windows(2).all(|w| w[0] < w[1]));
        }
    }

    /// Retention: retained cursors answer exactly as without compaction; older ones fail with
    /// `CursorExpired { oldest }`, never with a delta missing deletes.
    #[test]
    fn compaction_expires_old_cursors_only(h in history(), keep in 1usize..6, a in any::<prop::sample::Index>()) {
        let (full, cursors) = run(&h, None);
        let (kept, _) = run(&h, Some(keep));
        let c = cursors[a.index(cursors.len())];
        let oldest = kept.oldest();
        prop_assert_eq!(oldest.seq, full.head().seq.saturating_sub(keep as u64));
        let input = GetWorldDeltaInput { from_cursor: c.to_string(), to_cursor: None, region_ids: None };
        if c.seq >= oldest.seq {
            prop_assert_eq!(kept.get_world_delta(&input).unwrap(), full.get_world_delta(&input).unwrap());
            prop_assert_eq!(world_snapshot(&kept, c, None), world_snapshot(&full, c, None));
        } else {
            prop_assert_eq!(kept.get_world_delta(&input).unwrap_err(), StreamError::CursorExpired { cursor: c, oldest });
            let snap = kept.get_world_snapshot(&GetWorldSnapshotInput { cursor: Some(c.to_string()), region_ids: None });
            prop_assert_eq!(snap.unwrap_err(), StreamError::CursorExpired { cursor: c, oldest });
        }
    }
}

/// A tiny object-safe wrapper so the canonical test can serialise snapshots and deltas alike.
mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

#[test]
fn a_move_across_a_border_is_removed_from_old_and_added_to_new() {
    let mut s = server(None);
    let c0 = s.commit(vec![Edit::Add(placement(1, pos(0, 0)))]).unwrap();
    let old = s.placement("p01").unwrap().region_id;
    let c1 = s
        .commit(vec![Edit::Update {
            id: "p01".into(),
            patch: PlacementPatch { position: Some(pos(7, 7)), ..Default::default() },
        }])
        .unwrap();
    let new = s.placement("p01").unwrap().region_id;
    assert_ne!(old, new);
    let d = world_delta(&s, c0, Some(c1), None);
    assert_eq!(d.regions.len(), 2);
    let by: BTreeMap<RegionId, &RegionDelta> = d.regions.iter().map(|r| (r.region_id, r)).collect();
    assert_eq!(by[&old].removed, vec!["p01".to_string()]);
    assert!(by[&old].added.is_empty() && by[&old].updated.is_empty());
    assert_eq!(by[&new].added.len(), 1);
    assert!(by[&new].removed.is_empty());
}

#[test]
fn cursor_errors_name_the_cursor() {
    let (s, cursors) = run(&[vec![Op::Put { id: 1, x: 1, z: 1 }]], None);
    let other = StreamServer::new(
        "another-world",
        grid(),
        ["crate".to_string()],
        ServerConfig::default(),
        Arc::new(SimClock::new()),
    );
    let foreign = other.head().to_string();
    let ahead = Cursor::new(s.epoch(), 99).to_string();
    let cases = [
        ("garbage", "malformed cursor \"garbage\""),
        (foreign.as_str(), "belongs to another change log"),
        (ahead.as_str(), "is ahead of the head"),
    ];
    for (text, want) in cases {
        let e = s.get_world_delta(&GetWorldDeltaInput { from_cursor: text.into(), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains(want) && e.to_string().contains(text), "{e}");
    }
    let e = s
        .get_world_delta(&GetWorldDeltaInput {
            from_cursor: cursors[1].to_string(),
            to_cursor: Some(cursors[0].to_string()),
            region_ids: None,
        })
        .unwrap_err();
    assert!(matches!(e, StreamError::ReversedRange { .. }), "{e}");
}

#[test]
fn unknown_regions_are_errors_not_empty_snapshots() {
    let s = server(None);
    let e = s.get_region_snapshot(&GetRegionSnapshotInput { region_id: "r9_9".into(), cursor: None }).unwrap_err();
    assert!(matches!(&e, StreamError::UnknownRegion { region, .. } if region == "r9_9"), "{e}");
    let e = s.get_region_snapshot(&GetRegionSnapshotInput { region_id: "north".into(), cursor: None }).unwrap_err();
    assert!(matches!(e, StreamError::MalformedRegion { .. }));
    let e = s
        .get_world_delta(&GetWorldDeltaInput {
            from_cursor: s.head().to_string(),
            to_cursor: None,
            region_ids: Some(vec!["r0_0".into(), "r5_0".into()]),
        })
        .unwrap_err();
    assert!(matches!(e, StreamError::UnknownRegion { .. }));
    // A known but empty region is an empty snapshot.
    let ok = s.get_region_snapshot(&GetRegionSnapshotInput { region_id: "r0_0".into(), cursor: None }).unwrap();
    assert!(ok.placements.is_empty());
}

#[test]
fn the_initial_state_loads_only_into_a_fresh_server() {
    let mut s = server(None);
    s.load_initial(vec![placement(1, pos(0, 0))]).unwrap();
    s.commit(vec![Edit::Add(placement(2, pos(1, 1)))]).unwrap();
    let e = s.load_initial(vec![placement(3, pos(2, 2))]).unwrap_err();
    assert!(matches!(e, StreamError::HistoryExists { .. }), "{e}");
    assert!(s.placement("p03").is_none());
}

#[test]
fn failed_commits_change_nothing() {
    let mut s = server(None);
    s.commit(vec![Edit::Add(placement(1, pos(0, 0)))]).unwrap();
    let head = s.head();
    let bad = s.commit(vec![Edit::Add(placement(2, pos(1, 1))), Edit::Remove { id: "p09".into() }]);
    assert_eq!(bad.unwrap_err(), StreamError::UnknownPlacement { id: "p09".into() });
    assert_eq!(s.head(), head);
    assert!(s.placement("p02").is_none());
    let mut outside = placement(3, pos(0, 0));
    outside.transform.position.x = 500.0;
    assert!(matches!(s.commit(vec![Edit::Add(outside)]), Err(StreamError::InvalidPlacement { .. })));
    let mut unknown = placement(4, pos(0, 0));
    unknown.asset_id = "dragon".into();
    assert!(matches!(s.commit(vec![Edit::Add(unknown)]), Err(StreamError::UnknownAsset { .. })));
    assert!(matches!(s.commit(vec![Edit::Add(placement(1, pos(0, 0)))]), Err(StreamError::DuplicatePlacement { .. })));
    assert_eq!(s.head(), head);
}
