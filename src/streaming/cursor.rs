//! Cursors: positions in one server's change log.
//!
//! A cursor is `(epoch, seq)`. `seq` counts the commits applied since the log began (0 is the world as loaded);
//! `epoch` names the log: it is derived from the world's content and the server's instance number, so a cursor
//! from another world, or from a server whose history differs, is detected instead of silently misread.
//! The text form is `EEEEEEEEEEEEEEEE-SSSSSSSSSSSSSSSS` (two fixed-width lower-case hex fields), so within one
//! epoch the strings sort exactly like the positions they name. Clients treat the text as opaque.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::StreamError;

/// A position in a change log. Ordered by `(epoch, seq)`; only cursors of one epoch are comparable in meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// Identifies the log this cursor belongs to.
    pub epoch: u64,
    /// Number of commits applied at this position.
    pub seq: u64,
}

/// Length of a cursor's text form.
pub const CURSOR_TEXT_LEN: usize = 33;

impl Cursor {
    /// A cursor of `epoch` at commit `seq`.
    pub fn new(epoch: u64, seq: u64) -> Self {
        Cursor { epoch, seq }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:016x}", self.epoch, self.seq)
    }
}

impl FromStr for Cursor {
    type Err = StreamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = |reason: &str| StreamError::MalformedCursor { cursor: s.to_string(), reason: reason.into() };
        if s.len() != CURSOR_TEXT_LEN {
            return Err(malformed("expected 33 characters: 16 hex digits, '-', 16 hex digits"));
        }
        let (e, rest) = s.split_at(16);
        let Some(q) = rest.strip_prefix('-') else {
            return Err(malformed("missing '-' after the epoch"));
        };
        let hex = |t: &str| {
            if t.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                u64::from_str_radix(t, 16).ok()
            } else {
                None
            }
        };
        match (hex(e), hex(q)) {
            (Some(epoch), Some(seq)) => Ok(Cursor { epoch, seq }),
            _ => Err(malformed("fields must be lower-case hexadecimal")),
        }
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_round_trips_and_sorts_like_positions(e in any::<u64>(), a in any::<u64>(), b in any::<u64>()) {
            let ca = Cursor::new(e, a);
            let cb = Cursor::new(e, b);
            prop_assert_eq!(ca.to_string().parse::<Cursor>().unwrap(), ca);
            prop_assert_eq!(ca.to_string().len(), CURSOR_TEXT_LEN);
            prop_assert_eq!(ca.to_string().cmp(&cb.to_string()), a.cmp(&b));
        }
    }

    #[test]
    fn malformed_text_is_rejected_with_the_text() {
        for bad in [
            "",
            "abc",
            "0000000000000000_0000000000000001",
            "000000000000000G-0000000000000001",
            "0000000000000000-000000000000000A",
            "00000000000000000-000000000000001",
        ] {
            let err = bad.parse::<Cursor>().unwrap_err();
            assert!(matches!(&err, StreamError::MalformedCursor { cursor, .. } if cursor == bad), "{err}");
        }
    }
}
