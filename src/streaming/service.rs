//! The seed's `RegionStreamingService`: four pull calls, transport-agnostic. The in-process
//! [`super::StreamServer`] implements it; another transport would implement it over the same JSON types.

use super::error::StreamError;
use super::types::*;

/// Snapshot and delta calls with the seed's optional cursor and region-filter semantics.
pub trait RegionStreamingService {
    /// Complete region state at a cursor (default: the head). Unknown regions are an error.
    fn get_region_snapshot(&self, input: &GetRegionSnapshotInput) -> Result<RegionSnapshot, StreamError>;
    /// Complete state of the non-empty regions (optionally filtered) at one cursor (default: the head).
    fn get_world_snapshot(&self, input: &GetWorldSnapshotInput) -> Result<WorldSnapshot, StreamError>;
    /// Net changes of one region from `fromCursor` to `toCursor` (default: the head).
    fn get_region_delta(&self, input: &GetRegionDeltaInput) -> Result<RegionDelta, StreamError>;
    /// Net changes of the regions (optionally filtered) from `fromCursor` to `toCursor` (default: the head).
    fn get_world_delta(&self, input: &GetWorldDeltaInput) -> Result<WorldDelta, StreamError>;
}
