//! Shared helpers for integration tests: a small world grid and random edit histories.
#![allow(dead_code)]

use std::sync::Arc;

pub mod gpu;

use glam::{Vec2, Vec3};
use lumon::streaming::*;
use proptest::prelude::*;

/// 4 x 4 regions of 10 m.
pub fn grid() -> RegionGrid {
    RegionGrid::covering(10.0, Vec2::splat(-20.0), Vec2::splat(20.0))
}

pub fn server(retention: Option<usize>) -> StreamServer {
    StreamServer::new(
        "test-world",
        grid(),
        ["crate".to_string(), "lamp".to_string()],
        ServerConfig { retention, instance: 0 },
        Arc::new(SimClock::new()),
    )
}

/// An abstract edit: turned into a valid one against the current state by [`to_edits`].
#[derive(Clone, Debug)]
pub enum Op {
    Put { id: u8, x: u8, z: u8 },
    Tint { id: u8, tint: u8 },
    Remove { id: u8 },
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..12, 0u8..8, 0u8..8).prop_map(|(id, x, z)| Op::Put { id, x, z }),
        2 => (0u8..12, 0u8..3).prop_map(|(id, tint)| Op::Tint { id, tint }),
        2 => (0u8..12).prop_map(|id| Op::Remove { id }),
    ]
}

/// Commits of 1..5 ops each.
pub fn history() -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(prop::collection::vec(op(), 1..5), 1..24)
}

pub fn pos(x: u8, z: u8) -> Vec3 {
    // Coarse positions so that moves return to earlier values and cross region borders.
    Vec3::new(f32::from(x) * 5.0 - 19.0, 0.0, f32::from(z) * 5.0 - 19.0)
}

pub fn placement(id: u8, p: Vec3) -> Placement {
    Placement {
        placement_id: format!("p{id:02}"),
        asset_id: "crate".into(),
        region_id: RegionId::new(0, 0),
        transform: Transform { position: p, rotation: Vec3::ZERO, scale: Vec3::ONE },
        tags: vec![],
        tint: Vec3::ONE,
        emission: 1.0,
        flags: flags::DEFAULT,
        is_valid: true,
        has_warnings: false,
    }
}

/// Turns abstract ops into edits valid against the server's head (each id at most once per commit).
pub fn to_edits(server: &StreamServer, ops: &[Op]) -> Vec<Edit> {
    let mut touched = std::collections::BTreeSet::new();
    let mut edits = Vec::new();
    for op in ops {
        let id = match op {
            Op::Put { id, .. } | Op::Tint { id, .. } | Op::Remove { id } => *id,
        };
        if !touched.insert(id) {
            continue;
        }
        let key = format!("p{id:02}");
        let present = server.placement(&key).is_some();
        edits.push(match (op, present) {
            (Op::Put { x, z, .. }, false) => Edit::Add(placement(id, pos(*x, *z))),
            (Op::Tint { tint, .. }, false) => Edit::Add(placement(id, pos(*tint, id % 8))),
            (Op::Remove { .. }, false) => Edit::Add(placement(id, pos(id % 8, 3))),
            (Op::Put { x, z, .. }, true) => {
                Edit::Update { id: key, patch: PlacementPatch { position: Some(pos(*x, *z)), ..Default::default() } }
            }
            (Op::Tint { tint, .. }, true) => {
                let t = [Vec3::ONE, Vec3::new(1.0, 0.2, 0.2), Vec3::new(0.2, 1.0, 0.2)][usize::from(*tint)];
                Edit::Update { id: key, patch: PlacementPatch { tint: Some(t), ..Default::default() } }
            }
            (Op::Remove { .. }, true) => Edit::Remove { id: key },
        });
    }
    edits
}

/// Applies a history; returns the server and every cursor from the start to the head.
pub fn run(history: &[Vec<Op>], retention: Option<usize>) -> (StreamServer, Vec<Cursor>) {
    let mut s = server(retention);
    let mut cursors = vec![s.head()];
    for ops in history {
        let edits = to_edits(&s, ops);
        cursors.push(s.commit(edits).expect("valid edits"));
    }
    (s, cursors)
}

pub fn world_snapshot(s: &StreamServer, c: Cursor, filter: Option<&[RegionId]>) -> WorldSnapshot {
    s.get_world_snapshot(&GetWorldSnapshotInput {
        cursor: Some(c.to_string()),
        region_ids: filter.map(|f| f.iter().map(|r| r.to_string()).collect()),
    })
    .expect("snapshot")
}

pub fn world_delta(s: &StreamServer, from: Cursor, to: Option<Cursor>, filter: Option<&[RegionId]>) -> WorldDelta {
    s.get_world_delta(&GetWorldDeltaInput {
        from_cursor: from.to_string(),
        to_cursor: to.map(|c| c.to_string()),
        region_ids: filter.map(|f| f.iter().map(|r| r.to_string()).collect()),
    })
    .expect("delta")
}

pub fn all_regions() -> Vec<RegionId> {
    let g = grid();
    (g.min.0..g.max.0).flat_map(|x| (g.min.1..g.max.1).map(move |z| RegionId::new(x, z))).collect()
}
