//! The seed's contract types with serde: JSON field names are exactly the seed's TypeScript names
//! (`regionId`, `fromCursor`, `placementId`, ...).
//!
//! Placements are shared as `Arc<Placement>` between the server's state, its change log, snapshots, deltas and
//! the client's scene, so a snapshot of ten thousand placements copies pointers, not placements.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use glam::{Mat4, Vec3};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::cursor::Cursor;
use super::error::StreamError;
use crate::geom::euler_degrees_to_quat;

/// A placement's id. Canonical order is bytewise.
pub type PlacementId = String;

/// Free-form metadata of snapshots and deltas (the seed's `Record<string, unknown>`).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// Where a placed asset sits: right-handed, Y up, metres; rotation as Euler degrees (see [`crate::geom`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    /// Position of the asset's pivot (bottom centre of its model), metres.
    pub position: Vec3,
    /// Euler angles in degrees, `[x, y, z]`.
    pub rotation: Vec3,
    /// Scale per axis; every component must be finite and non-zero.
    pub scale: Vec3,
}

impl Transform {
    /// The local-to-world matrix.
    pub fn matrix(&self) -> Mat4 {
        Mat4::from_scale_rotation_translation(self.scale, euler_degrees_to_quat(self.rotation), self.position)
    }

    /// Why the transform is unusable, if it is.
    pub fn invalid_reason(&self) -> Option<String> {
        for (name, v) in [("position", self.position), ("rotation", self.rotation), ("scale", self.scale)] {
            if !v.is_finite() {
                return Some(format!("{name} {v} is not finite"));
            }
        }
        if self.scale.cmpeq(Vec3::ZERO).any() {
            return Some(format!("scale {} has a zero component", self.scale));
        }
        None
    }
}

/// Bits of [`Placement::flags`].
pub mod flags {
    /// The placement is drawn and traced. Cleared, it stays streamed but contributes no voxels.
    pub const VISIBLE: u32 = 1;
    /// The placement's voxels block the sun (shadow rays).
    pub const CASTS_SHADOW: u32 = 2;
    /// Flags of a placement that says nothing.
    pub const DEFAULT: u32 = VISIBLE | CASTS_SHADOW;
}

/// One placed asset: the seed's `RuntimePlacementView`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// Unique id within the world.
    pub placement_id: PlacementId,
    /// The asset (voxel model) this placement instantiates.
    pub asset_id: String,
    /// The region holding the placement's position (derived by the server).
    pub region_id: RegionId,
    /// Where the asset sits.
    pub transform: Transform,
    /// Free tags, sorted and without duplicates; always written, `[]` when there are none (the seed's clients
    /// read `placement.tags` unconditionally).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Linear RGB multiplier of the asset's albedo (recolouring).
    pub tint: Vec3,
    /// Multiplier of the asset's emissive materials: 0 switches its lamps off, 1 is as modelled.
    pub emission: f32,
    /// Validity and visibility bits, see [`flags`].
    pub flags: u32,
    /// The seed's validation verdict. lumon's loader and server refuse invalid placements (with an error naming
    /// the place and the reason), so every placement it streams is valid and this is `true`.
    #[serde(default = "valid")]
    pub is_valid: bool,
    /// The seed's flag for non-fatal validation findings. lumon has no warning-level checks, so it is `false`.
    #[serde(default)]
    pub has_warnings: bool,
}

fn valid() -> bool {
    true
}

/// A region: one cell `(x, z)` of the world's XZ grid. Text form `r<x>_<z>`, e.g. `r-3_12`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionId {
    /// Cell index along X.
    pub x: i32,
    /// Cell index along Z.
    pub z: i32,
}

impl RegionId {
    /// The region at cell `(x, z)`.
    pub fn new(x: i32, z: i32) -> Self {
        RegionId { x, z }
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}_{}", self.x, self.z)
    }
}

impl FromStr for RegionId {
    type Err = StreamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || StreamError::MalformedRegion {
            region: s.to_string(),
            reason: "expected r<x>_<z> with integer cell indices, e.g. r-3_12".into(),
        };
        let body = s.strip_prefix('r').ok_or_else(malformed)?;
        let (x, z) = body.split_once('_').ok_or_else(malformed)?;
        let parse = |t: &str| -> Result<i32, StreamError> {
            let digits = t.strip_prefix('-').unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            t.parse().map_err(|_| malformed())
        };
        Ok(RegionId { x: parse(x)?, z: parse(z)? })
    }
}

impl Serialize for RegionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Complete state of one region at one cursor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionSnapshot {
    /// Derived from region and cursor: `<regionId>@<cursor>`.
    pub id: String,
    /// The region.
    pub region_id: RegionId,
    /// The position this snapshot shows.
    pub cursor: Cursor,
    /// Every placement of the region at `cursor`, ordered bytewise by id.
    pub placements: Vec<Arc<Placement>>,
    /// When the snapshot was made (the server's injected clock, RFC 3339).
    pub created_at: String,
    /// Optional extensible data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// Complete state of several regions at one cursor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorldSnapshot {
    /// Derived from cursor and region filter: `world@<cursor>` or `world@<cursor>/<filter hash>`.
    pub id: String,
    /// The one position every region of this snapshot shows.
    pub cursor: Cursor,
    /// The regions that hold at least one placement (within the filter, if any), ordered by `(x, z)`.
    pub regions: Vec<RegionSnapshot>,
    /// When the snapshot was made (the server's injected clock, RFC 3339).
    pub created_at: String,
    /// Optional extensible data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// Net changes of one region between two cursors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionDelta {
    /// The region.
    pub region_id: RegionId,
    /// Starting position.
    pub from_cursor: Cursor,
    /// Ending position.
    pub to_cursor: Cursor,
    /// Placements absent from the region at `from` and present at `to`, by id.
    pub added: Vec<Arc<Placement>>,
    /// Placements present at both with a different value, by id.
    pub updated: Vec<Arc<Placement>>,
    /// Ids present at `from` and absent at `to`, bytewise order.
    pub removed: Vec<PlacementId>,
    /// Optional extensible data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl RegionDelta {
    /// True when the delta changes nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty()
    }
}

/// Net changes of several regions between two cursors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorldDelta {
    /// Starting position.
    pub from_cursor: Cursor,
    /// Ending position.
    pub to_cursor: Cursor,
    /// The regions with at least one change (within the filter, if any), ordered by `(x, z)`.
    pub regions: Vec<RegionDelta>,
    /// Optional extensible data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// Input of `getRegionSnapshot`: no cursor means the head.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRegionSnapshotInput {
    /// Region id text.
    pub region_id: String,
    /// Cursor text; `None` means the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Input of `getWorldSnapshot`: no cursor means the head, no filter means every region.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetWorldSnapshotInput {
    /// Cursor text; `None` means the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Region ids to include; `None` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_ids: Option<Vec<String>>,
}

/// Input of `getRegionDelta`: no `to` means up to the head.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRegionDeltaInput {
    /// Region id text.
    pub region_id: String,
    /// Starting cursor text.
    pub from_cursor: String,
    /// Ending cursor text; `None` means the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_cursor: Option<String>,
}

/// Input of `getWorldDelta`: no `to` means up to the head, no filter means every region.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetWorldDeltaInput {
    /// Starting cursor text.
    pub from_cursor: String,
    /// Ending cursor text; `None` means the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_cursor: Option<String>,
    /// Region ids to include; `None` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_ids: Option<Vec<String>>,
}

/// One line of `lumon stream`: a snapshot or a delta, tagged with `"type"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum StreamMessage {
    /// `{"type": "worldSnapshot", ...}`
    WorldSnapshot(WorldSnapshot),
    /// `{"type": "worldDelta", ...}`
    WorldDelta(WorldDelta),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_ids_round_trip_and_reject_garbage() {
        for (x, z) in [(0, 0), (-3, 12), (i32::MIN, i32::MAX)] {
            let r = RegionId::new(x, z);
            assert_eq!(r.to_string().parse::<RegionId>().unwrap(), r);
        }
        for bad in ["", "r", "r1", "r1_", "r_1", "x1_2", "r1_2_3", "r+1_2", "r1_2a", "r99999999999_0"] {
            assert!(matches!(bad.parse::<RegionId>(), Err(StreamError::MalformedRegion { .. })), "{bad}");
        }
    }

    #[test]
    fn json_names_follow_the_seed() {
        let p = Placement {
            placement_id: "a".into(),
            asset_id: "tree".into(),
            region_id: RegionId::new(1, -2),
            transform: Transform { position: Vec3::ZERO, rotation: Vec3::ZERO, scale: Vec3::ONE },
            tags: vec![],
            tint: Vec3::ONE,
            emission: 1.0,
            flags: flags::DEFAULT,
            is_valid: true,
            has_warnings: false,
        };
        let d = WorldDelta {
            from_cursor: Cursor::new(1, 0),
            to_cursor: Cursor::new(1, 2),
            regions: vec![RegionDelta {
                region_id: RegionId::new(1, -2),
                from_cursor: Cursor::new(1, 0),
                to_cursor: Cursor::new(1, 2),
                added: vec![Arc::new(p)],
                updated: vec![],
                removed: vec!["b".into()],
                metadata: None,
            }],
            metadata: None,
        };
        let text = serde_json::to_string(&StreamMessage::WorldDelta(d.clone())).unwrap();
        for key in [
            "\"type\":\"worldDelta\"",
            "\"fromCursor\"",
            "\"toCursor\"",
            "\"regionId\":\"r1_-2\"",
            "\"placementId\"",
            "\"assetId\"",
            "\"added\"",
            "\"updated\"",
            "\"removed\"",
            "\"tags\":[]",
            "\"isValid\":true",
            "\"hasWarnings\":false",
        ] {
            assert!(text.contains(key), "{key} missing in {text}");
        }
        let back: StreamMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back, StreamMessage::WorldDelta(d));
    }
}
