//! Applying deltas to snapshots: the left-hand side of the spec's first law, also what an analytics consumer of
//! `lumon stream` does. Application is strict: a delta that adds a present id, or removes or updates an absent
//! one, is reported as inconsistent instead of being patched over.

use std::sync::Arc;

use super::error::StreamError;
use super::types::*;

/// Applies a region delta to a snapshot of the same region taken at the delta's `from`.
pub fn apply_region_delta(snapshot: &mut RegionSnapshot, delta: &RegionDelta) -> Result<(), StreamError> {
    if snapshot.region_id != delta.region_id {
        return Err(inconsistent(delta, "", "the delta is for another region"));
    }
    if snapshot.cursor != delta.from_cursor {
        return Err(StreamError::Gap { client: snapshot.cursor, from: delta.from_cursor });
    }
    apply_lists(&mut snapshot.placements, delta)?;
    snapshot.cursor = delta.to_cursor;
    snapshot.id = format!("{}@{}", snapshot.region_id, snapshot.cursor);
    Ok(())
}

/// Applies a world delta to a world snapshot taken at the delta's `from`. Regions that become empty are dropped
/// and regions that gain their first placement are created, so the result equals the snapshot at `to`.
pub fn apply_world_delta(snapshot: &mut WorldSnapshot, delta: &WorldDelta) -> Result<(), StreamError> {
    if snapshot.cursor != delta.from_cursor {
        return Err(StreamError::Gap { client: snapshot.cursor, from: delta.from_cursor });
    }
    for rd in &delta.regions {
        let pos = snapshot.regions.binary_search_by(|r| r.region_id.cmp(&rd.region_id));
        let idx = pos.unwrap_or_else(|i| {
            snapshot.regions.insert(
                i,
                RegionSnapshot {
                    id: String::new(),
                    region_id: rd.region_id,
                    cursor: delta.from_cursor,
                    placements: Vec::new(),
                    created_at: snapshot.created_at.clone(),
                    metadata: None,
                },
            );
            i
        });
        apply_lists(&mut snapshot.regions[idx].placements, rd)?;
    }
    snapshot.regions.retain(|r| !r.placements.is_empty());
    for r in &mut snapshot.regions {
        r.cursor = delta.to_cursor;
        r.id = format!("{}@{}", r.region_id, delta.to_cursor);
    }
    snapshot.cursor = delta.to_cursor;
    let suffix = snapshot.id.split_once('/').map(|(_, f)| format!("/{f}")).unwrap_or_default();
    snapshot.id = format!("world@{}{suffix}", delta.to_cursor);
    Ok(())
}

fn apply_lists(placements: &mut Vec<Arc<Placement>>, delta: &RegionDelta) -> Result<(), StreamError> {
    for id in &delta.removed {
        let i = find(placements, id).map_err(|_| inconsistent(delta, id, "removed but absent"))?;
        placements.remove(i);
    }
    for p in &delta.updated {
        let i = find(placements, &p.placement_id)
            .map_err(|_| inconsistent(delta, &p.placement_id, "updated but absent"))?;
        placements[i] = p.clone();
    }
    for p in &delta.added {
        match find(placements, &p.placement_id) {
            Ok(_) => return Err(inconsistent(delta, &p.placement_id, "added but already present")),
            Err(i) => placements.insert(i, p.clone()),
        }
    }
    Ok(())
}

fn find(placements: &[Arc<Placement>], id: &str) -> Result<usize, usize> {
    placements.binary_search_by(|p| p.placement_id.as_str().cmp(id))
}

fn inconsistent(delta: &RegionDelta, id: &str, reason: &str) -> StreamError {
    StreamError::InconsistentDelta { region: delta.region_id.to_string(), id: id.to_string(), reason: reason.into() }
}
