//! Cursor pages in the shape of DRF's `CursorPagination`: `{"next",
//! "previous", "results"}`, no count. A cursor is the position of a row in
//! the list's order (its sort time and id), so a page is an index range scan
//! however deep it is, and rows inserted meanwhile neither shift nor repeat
//! what comes after.
//!
//! Tokens are opaque and tamper-evident: the position, the direction and an
//! HMAC-SHA256 tag over them and the list they belong to (its path and
//! ordering), so a cursor cannot be forged, edited, or moved to another list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::models::fields::FieldErrors;
pub use crate::models::query::{Keyset, Position};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The message every bad token gets, as DRF words it.
pub const INVALID_CURSOR: &str = "Invalid cursor.";

/// Bytes of the tag kept in a token: 128 bits is past forging.
const TAG_BYTES: usize = 16;
/// Direction, whether a time is present, the time, the id.
const PAYLOAD_BYTES: usize = 1 + 1 + 8 + 8;

/// The key cursor tags are made with, derived from the signing secret so
/// that no new secret needs deploying; a derivation of its own, so a tag is
/// never a token signature.
#[derive(Clone)]
pub struct CursorKey(HmacSha256);

impl CursorKey {
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"tm cursor key v1");
        let key = mac.finalize().into_bytes();
        Self(HmacSha256::new_from_slice(&key).expect("HMAC takes any key length"))
    }

    fn tag(&self, scope: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(payload);
        mac
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey([redacted])")
    }
}

/// Which way from the cursor's row a page goes, in the list's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The rows after it (`next`).
    Forward,
    /// The rows before it (`previous`).
    Backward,
}

/// A cursor page as asked: its size and where it starts; no position is the
/// list's first page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorRequest {
    pub size: u32,
    pub from: Option<(Position, Direction)>,
}

/// Which list a cursor belongs to: a cursor of one cannot page another.
#[derive(Debug, Clone)]
pub struct Scope(pub String);

impl Scope {
    pub fn new(path: &str, ordering: &str) -> Self {
        Self(format!("{path}?{ordering}"))
    }
}

pub fn encode(key: &CursorKey, scope: &Scope, position: Position, direction: Direction) -> String {
    let mut bytes = Vec::with_capacity(PAYLOAD_BYTES + TAG_BYTES);
    bytes.push(match direction {
        Direction::Forward => b'n',
        Direction::Backward => b'p',
    });
    bytes.push(u8::from(position.micros.is_some()));
    bytes.extend_from_slice(&position.micros.unwrap_or(0).to_be_bytes());
    bytes.extend_from_slice(&position.id.to_be_bytes());
    let tag = key.tag(&scope.0, &bytes).finalize().into_bytes();
    bytes.extend_from_slice(&tag[..TAG_BYTES]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position and direction of a token, if it is one this server made for
/// this list.
pub fn decode(key: &CursorKey, scope: &Scope, token: &str) -> Option<(Position, Direction)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != PAYLOAD_BYTES + TAG_BYTES {
        return None;
    }
    let (payload, tag) = bytes.split_at(PAYLOAD_BYTES);
    // Constant time: a mismatch says nothing about how much of it matched.
    key.tag(&scope.0, payload).verify_truncated_left(tag).ok()?;
    let direction = match payload[0] {
        b'n' => Direction::Forward,
        b'p' => Direction::Backward,
        _ => return None,
    };
    let micros = i64::from_be_bytes(payload[2..10].try_into().ok()?);
    let id = i64::from_be_bytes(payload[10..18].try_into().ok()?);
    let micros = match payload[1] {
        0 => None,
        1 => Some(micros),
        _ => return None,
    };
    Some((Position { micros, id }, direction))
}

/// `?cursor=`: empty asks for the first page; anything that is not a token
/// of this list is a 400 naming `cursor`.
pub fn read(
    key: &CursorKey,
    scope: &Scope,
    raw: &str,
    errors: &mut FieldErrors,
) -> Option<(Position, Direction)> {
    if raw.is_empty() {
        return None;
    }
    let decoded = decode(key, scope, raw);
    if decoded.is_none() {
        errors.add("cursor", INVALID_CURSOR);
    }
    decoded
}

/// One cursor page. `poll` is for a list that grows at its end, the
/// changes feed: where to ask later for what comes after this page. It is
/// apart from `next`, which stays `null` on the last page as in DRF, so a
/// client that walks `next` still stops.
#[derive(Debug, Serialize)]
pub struct CursorPage<T> {
    pub next: Option<String>,
    pub previous: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll: Option<String>,
    pub results: Vec<T>,
}

impl CursorRequest {
    /// One row more than the page, to learn whether there is another.
    pub fn keyset(&self) -> Keyset {
        Keyset {
            from: self.from.map(|(p, _)| p),
            backward: matches!(self.from, Some((_, Direction::Backward))),
            limit: i64::from(self.size) + 1,
        }
    }

    /// The page from what the store gave for [`keyset`](Self::keyset): the
    /// extra row says there is more in the direction read; having come from
    /// a cursor says there is something the other way.
    pub fn page<T>(
        &self,
        mut rows: Vec<T>,
        position: impl Fn(&T) -> Position,
        link: impl Fn(Position, Direction) -> String,
    ) -> CursorPage<T> {
        let size = self.size as usize;
        let more = rows.len() > size;
        rows.truncate(size);
        let backward = matches!(self.from, Some((_, Direction::Backward)));
        if backward {
            rows.reverse();
        }
        let (more_after, more_before) = if backward {
            (self.from.is_some(), more)
        } else {
            (more, self.from.is_some())
        };
        let next = rows
            .last()
            .filter(|_| more_after)
            .map(|row| link(position(row), Direction::Forward));
        let previous = rows
            .first()
            .filter(|_| more_before)
            .map(|row| link(position(row), Direction::Backward));
        // An empty page reached from a cursor still leads back to it.
        let (next, previous) = match (&self.from, rows.is_empty()) {
            (Some((at, Direction::Forward)), true) => (None, Some(link(*at, Direction::Backward))),
            (Some((at, Direction::Backward)), true) => (Some(link(*at, Direction::Forward)), None),
            _ => (next, previous),
        };
        CursorPage {
            next,
            previous,
            poll: None,
            results: rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn key() -> CursorKey {
        CursorKey::derive(b"test secret")
    }

    #[test]
    fn tokens_round_trip_and_refuse_any_change() {
        let scope = Scope::new("/api/alerts/", "-created_at");
        let at = Position::at(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            42,
        );
        let token = encode(&key(), &scope, at, Direction::Backward);
        assert_eq!(
            decode(&key(), &scope, &token),
            Some((at, Direction::Backward))
        );
        let other = Scope::new("/api/events/", "-created_at");
        assert_eq!(decode(&key(), &other, &token), None, "another list");
        assert_eq!(
            decode(&CursorKey::derive(b"other"), &scope, &token),
            None,
            "another key"
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(
                decode(&key(), &scope, &URL_SAFE_NO_PAD.encode(&bytes)),
                None,
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert_eq!(decode(&key(), &scope, "not a token"), None);
        assert_eq!(decode(&key(), &scope, ""), None);
    }

    #[test]
    fn positions_keep_microseconds() {
        let time = OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_456_000).unwrap();
        assert_eq!(Position::at(time, 1).time(), Some(time));
        assert_eq!(Position::id(7).time(), None);
    }

    #[test]
    fn pages_link_both_ways_only_where_there_is_more() {
        let link = |p: Position, d: Direction| format!("{d:?}@{}", p.id);
        let first = CursorRequest {
            size: 2,
            from: None,
        };
        let page = first.page(vec![9, 8, 7], |n| Position::id(*n), link);
        assert_eq!(page.results, [9, 8]);
        assert_eq!(page.next.as_deref(), Some("Forward@8"));
        assert_eq!(page.previous, None);

        let back = CursorRequest {
            size: 2,
            from: Some((Position::id(7), Direction::Backward)),
        };
        // Read against the order: 8, 9, and no more.
        let page = back.page(vec![8, 9], |n| Position::id(*n), link);
        assert_eq!(page.results, [9, 8]);
        assert_eq!(page.previous, None);
        assert_eq!(page.next.as_deref(), Some("Forward@8"));

        let past_end = CursorRequest {
            size: 2,
            from: Some((Position::id(1), Direction::Forward)),
        };
        let page = past_end.page(Vec::<i64>::new(), |n| Position::id(*n), link);
        assert_eq!(page.next, None);
        assert_eq!(page.previous.as_deref(), Some("Backward@1"));
    }
}
