//! Typed errors of the streaming model: every failure names the cursor, region or placement it is about.

use thiserror::Error;

use super::cursor::Cursor;

/// Everything a streaming call or a client step can refuse.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StreamError {
    /// The text is not a cursor at all.
    #[error("malformed cursor \"{cursor}\": {reason}")]
    MalformedCursor { cursor: String, reason: String },
    /// The cursor belongs to another log (another world, or a server with a different history).
    #[error(
        "cursor {cursor} belongs to another change log (epoch {found:016x}; this server's epoch is {expected:016x})"
    )]
    ForeignCursor { cursor: Cursor, found: u64, expected: u64 },
    /// The cursor names a position the log has not reached yet.
    #[error("cursor {cursor} is ahead of the head {head}")]
    CursorAhead { cursor: Cursor, head: Cursor },
    /// The cursor is older than what the log retains; take a fresh snapshot.
    #[error("cursor {cursor} has expired: the oldest retained position is {oldest}; take a fresh snapshot")]
    CursorExpired { cursor: Cursor, oldest: Cursor },
    /// `from` is after `to`.
    #[error("delta range is reversed: from {from} is after to {to}")]
    ReversedRange { from: Cursor, to: Cursor },
    /// The text is not a region id.
    #[error("malformed region id \"{region}\": {reason}")]
    MalformedRegion { region: String, reason: String },
    /// A well-formed region id outside the world's region grid.
    #[error("unknown region \"{region}\": the world's regions span {grid}")]
    UnknownRegion { region: String, grid: String },
    /// An add for an id that is already present.
    #[error("placement \"{id}\" already exists")]
    DuplicatePlacement { id: String },
    /// An update or remove for an id that is absent.
    #[error("placement \"{id}\" does not exist")]
    UnknownPlacement { id: String },
    /// A placement names an asset the world does not define.
    #[error("placement \"{id}\" uses unknown asset \"{asset}\"")]
    UnknownAsset { id: String, asset: String },
    /// A placement whose values break an invariant (non-finite numbers, zero scale, outside the world).
    #[error("placement \"{id}\" is invalid: {reason}")]
    InvalidPlacement { id: String, reason: String },
    /// A client received a delta that does not start where it stands.
    #[error("delta gap: the client is at {client} but the delta starts at {from}")]
    Gap { client: Cursor, from: Cursor },
    /// A delta that contradicts the state it is applied to.
    #[error("inconsistent delta for region {region}: placement \"{id}\" {reason}")]
    InconsistentDelta { region: String, id: String, reason: String },
    /// The initial state can only be loaded into a server without history.
    #[error("the server already has history up to {head}: the initial state can only be loaded first")]
    HistoryExists { head: Cursor },
    /// A client received data before it holds any cursor.
    #[error("the client has no cursor yet: it must take a snapshot before applying deltas")]
    NoCursor,
}
