//! A lean walker over stored BSON bytes, for the hot loops (building column cells, counting
//! unwound groups): the elements of a document as key bytes, type byte and value bytes,
//! with bounds checks but none of the UTF-8 and structure checks the documents already
//! passed when they were stored ([`super::stored::validate`]). Bytes it cannot walk end the
//! walk early; callers then treat the rest as absent or fall back to the `bson` crate.

use bson::{Bson, RawDocument};

/// The BSON type bytes the hot loops look at.
pub mod kind {
    /// double
    pub const DOUBLE: u8 = 0x01;
    /// UTF-8 string
    pub const STRING: u8 = 0x02;
    /// embedded document
    pub const DOCUMENT: u8 = 0x03;
    /// array
    pub const ARRAY: u8 = 0x04;
    /// undefined (deprecated)
    pub const UNDEFINED: u8 = 0x06;
    /// ObjectId
    pub const OBJECT_ID: u8 = 0x07;
    /// boolean
    pub const BOOLEAN: u8 = 0x08;
    /// UTC datetime
    pub const DATETIME: u8 = 0x09;
    /// null
    pub const NULL: u8 = 0x0A;
    /// int32
    pub const INT32: u8 = 0x10;
    /// int64
    pub const INT64: u8 = 0x12;
}

/// One element of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The key, as stored.
    pub key: &'a [u8],
    /// The BSON type byte.
    pub kind: u8,
    /// The value's bytes.
    pub value: &'a [u8],
}

impl<'a> Element<'a> {
    /// The text of a string value.
    pub fn str(&self) -> Option<&'a str> {
        if self.kind != kind::STRING {
            return None;
        }
        std::str::from_utf8(self.text_bytes()?).ok()
    }

    /// The bytes of a length-prefixed text value (string or symbol), whatever the type byte
    /// says and without checking their UTF-8.
    pub fn text_bytes(&self) -> Option<&'a [u8]> {
        let len = usize::try_from(i32_at(self.value, 0)?).ok()?;
        self.value.get(4..(4 + len).checked_sub(1)?)
    }

    /// The 8 little-endian bytes of a double, datetime or int64 value.
    pub fn u64(&self) -> Option<u64> {
        Some(u64::from_le_bytes(self.value.get(..8)?.try_into().ok()?))
    }

    /// The value as a [`Bson`] (read by the `bson` crate, with all its checks).
    pub fn to_bson(&self) -> Option<Bson> {
        // A one-element document around the value: length, type, empty key, value, end.
        let len = 4 + 1 + 1 + self.value.len() + 1;
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(&i32::try_from(len).ok()?.to_le_bytes());
        bytes.extend_from_slice(&[self.kind, 0]);
        bytes.extend_from_slice(self.value);
        bytes.push(0);
        let document = RawDocument::from_bytes(&bytes).ok()?;
        let (_, value) = document.iter().next()?.ok()?;
        Bson::try_from(value).ok()
    }

    /// True when the key is `key`: compared eight bytes at a time in place, since keys are
    /// short and a call to `memcmp` costs more than the comparison.
    #[inline]
    pub fn key_is(&self, key: &[u8]) -> bool {
        let mine = self.key;
        if mine.len() != key.len() {
            return false;
        }
        let mut mine_words = mine.chunks_exact(8);
        let mut key_words = key.chunks_exact(8);
        let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
        for (a, b) in mine_words.by_ref().zip(key_words.by_ref()) {
            if word(a) != word(b) {
                return false;
            }
        }
        let tail = mine_words.remainder().iter().zip(key_words.remainder());
        tail.fold(true, |same, (a, b)| same & (a == b))
    }

    /// An int32 value.
    pub fn i32(&self) -> Option<i32> {
        i32_at(self.value, 0)
    }
}

/// The elements of the document (or array) in `bytes`.
pub fn elements(bytes: &[u8]) -> Elements<'_> {
    Elements { bytes, pos: 4 }
}

/// The element `key` of the document in `bytes`.
pub fn find<'a>(bytes: &'a [u8], key: &str) -> Option<Element<'a>> {
    elements(bytes).find(|e| e.key_is(key.as_bytes()))
}

/// Iterator over a document's elements.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Elements<'_> {
    /// True once every element was read and the document's last byte, its terminator, is
    /// next (false when the walk stopped early on bytes it could not read).
    pub fn at_end(&self) -> bool {
        self.pos + 1 == self.bytes.len() && self.bytes.get(self.pos) == Some(&0)
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    // Always inlined: returned through memory, an element is read back before its stores
    // have landed, which stalled the renderer's loop more than the walk itself cost.
    #[inline(always)]
    fn next(&mut self) -> Option<Element<'a>> {
        let bytes = self.bytes;
        let kind = *bytes.get(self.pos)?;
        if kind == 0 {
            return None;
        }
        let key_start = self.pos + 1;
        let key_len = key_len(bytes.get(key_start..)?)?;
        let value_start = key_start + key_len + 1;
        let Some(len) = value_len(kind, bytes.get(value_start..)?) else {
            self.pos = bytes.len();
            return None;
        };
        let value = bytes.get(value_start..value_start + len)?;
        self.pos = value_start + len;
        Some(Element {
            key: &bytes[key_start..key_start + key_len],
            kind,
            value,
        })
    }
}

/// The length of the key at the start of `rest` (the position of its terminating 0). Keys
/// are mostly short: they are searched eight bytes at a time in place (a zero byte found by
/// word arithmetic), the bytes past 32 by a vectorised search, whose setup costs more than
/// a short key.
#[inline]
fn key_len(rest: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while at < 32 {
        let Some(word) = rest.get(at..at + 8) else {
            return rest[at..].iter().position(|&b| b == 0).map(|i| at + i);
        };
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default());
        // The lowest flagged byte is the first zero byte (borrows only run upwards).
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(at + (zeros.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr(0, &rest[at..]).map(|i| at + i)
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The length of a value of type `kind` at the start of `rest`.
#[inline]
fn value_len(kind: u8, rest: &[u8]) -> Option<usize> {
    let sized = |extra: usize| -> Option<usize> {
        usize::try_from(i32_at(rest, 0)?).ok()?.checked_add(extra)
    };
    match kind {
        0x06 | 0x0A | 0x7F | 0xFF => Some(0),
        0x08 => Some(1),
        0x10 => Some(4),
        0x01 | 0x09 | 0x11 | 0x12 => Some(8),
        0x07 => Some(12),
        0x13 => Some(16),
        0x02 | 0x0D | 0x0E => sized(4),
        0x03 | 0x04 | 0x0F => sized(0),
        0x05 => sized(5),
        0x0C => sized(16),
        0x0B => {
            let first = memchr::memchr(0, rest)?;
            let second = memchr::memchr(0, rest.get(first + 1..)?)?;
            Some(first + second + 2)
        }
        _ => None,
    }
}

/// True when `bytes` is certainly a well-formed document made only of the common kinds
/// (double, string, document, array, ObjectId, boolean, datetime, null, int32, timestamp,
/// int64), checked in one pass without building values: lengths, terminators, UTF-8 of keys
/// and strings, booleans 0 or 1. False for anything else, malformed or merely rare, which
/// the `bson` crate then checks ([`super::stored::validate`]).
pub fn well_formed(bytes: &[u8]) -> bool {
    document_well_formed(bytes, 0)
}

/// Nesting deeper than this is left to the `bson` crate.
const DEEPEST: usize = 64;

fn document_well_formed(bytes: &[u8], depth: usize) -> bool {
    let Some(len) = i32_at(bytes, 0).and_then(|n| usize::try_from(n).ok()) else {
        return false;
    };
    if len != bytes.len() || len < 5 || bytes[len - 1] != 0 || depth > DEEPEST {
        return false;
    }
    let end = len - 1;
    let mut pos = 4;
    while pos < end {
        let kind = bytes[pos];
        let key_start = pos + 1;
        let Some(key_len) = bytes.get(key_start..end).and_then(|b| memchr::memchr(0, b)) else {
            return false;
        };
        if std::str::from_utf8(&bytes[key_start..key_start + key_len]).is_err() {
            return false;
        }
        let start = key_start + key_len + 1;
        let rest = &bytes[start.min(end)..end];
        let size = match kind {
            // Fixed sizes, as the walker reads them.
            kind::DOUBLE
            | kind::DATETIME
            | kind::INT64
            | 0x11
            | kind::INT32
            | kind::NULL
            | 0x07 => match value_len(kind, rest) {
                Some(size) => size,
                None => return false,
            },
            kind::BOOLEAN => match rest.first() {
                Some(0 | 1) => 1,
                _ => return false,
            },
            kind::STRING => {
                let Some(n) = i32_at(rest, 0).and_then(|n| usize::try_from(n).ok()) else {
                    return false;
                };
                let text = n.checked_sub(1).and_then(|t| rest.get(4..4 + t));
                match (text, rest.get(4 + n - 1)) {
                    (Some(text), Some(0)) if std::str::from_utf8(text).is_ok() => 4 + n,
                    _ => return false,
                }
            }
            kind::DOCUMENT | kind::ARRAY => {
                let Some(n) = i32_at(rest, 0).and_then(|n| usize::try_from(n).ok()) else {
                    return false;
                };
                match rest.get(..n) {
                    Some(inner) if document_well_formed(inner, depth + 1) => n,
                    _ => return false,
                }
            }
            _ => return false,
        };
        if rest.len() < size {
            return false;
        }
        pos = start + size;
    }
    pos == end
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, Bson};

    #[test]
    fn walks_every_kind_of_element_like_the_bson_crate() {
        let document = doc! {
            "d": 1.5, "s": "héllo", "doc": {"a": 1}, "arr": [1, "x"], "bin": Bson::Binary(bson::Binary {
                subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] }),
            "oid": bson::oid::ObjectId::new(), "b": true, "dt": bson::DateTime::from_millis(7),
            "n": Bson::Null, "re": Bson::RegularExpression(bson::Regex {
                pattern: "a.*".try_into().expect("cstring"),
                options: "i".try_into().expect("cstring"),
            }),
            "i": 3_i32, "ts": Bson::Timestamp(bson::Timestamp { time: 1, increment: 2 }),
            "l": 4_i64, "dec": Bson::Decimal128(bson::Decimal128::from_bytes([0; 16])),
            "min": Bson::MinKey, "max": Bson::MaxKey,
            // Keys around its 8-byte words and past its word scan (32 bytes), into memchr.
            "twenty_three_bytes_long": 23, "twenty_four_bytes_long__": 24,
            "a_key_longer_than_the_short_scan_of_the_walker": 46, "last": "end",
        };
        let bytes = super::super::stored::encode(&document).expect("encode");
        let keys: Vec<&[u8]> = elements(&bytes).map(|e| e.key).collect();
        let expected: Vec<&[u8]> = document.keys().map(|k| k.as_bytes()).collect();
        assert_eq!(keys, expected);
        assert_eq!(find(&bytes, "s").and_then(|e| e.str()), Some("héllo"));
        assert_eq!(find(&bytes, "last").and_then(|e| e.str()), Some("end"));
        assert_eq!(find(&bytes, "i").and_then(|e| e.i32()), Some(3));
        let long = "a_key_longer_than_the_short_scan_of_the_walker";
        assert_eq!(find(&bytes, long).and_then(|e| e.i32()), Some(46));
        assert_eq!(find(&bytes, "l").and_then(|e| e.u64()), Some(4));
        for (element, (_, value)) in elements(&bytes).zip(&document) {
            assert_eq!(element.to_bson().as_ref(), Some(value));
        }
        let arr = find(&bytes, "arr").expect("array");
        assert_eq!(elements(arr.value).count(), 2);
        assert_eq!(find(&bytes, "missing"), None);
        // Keys compared in place: every length around a word, and one byte off anywhere.
        for key in [
            "s",
            "doc",
            "twenty_three_bytes_long",
            "twenty_four_bytes_long__",
            long,
        ] {
            let element = find(&bytes, key).expect("present");
            assert!(element.key_is(key.as_bytes()));
            for at in 0..key.len() {
                let mut other = key.as_bytes().to_vec();
                other[at] ^= 1;
                assert!(!element.key_is(&other), "{key} at {at}");
            }
            assert!(
                !element.key_is(&key.as_bytes()[..key.len() - 1]),
                "{key} shortened"
            );
        }
        // Truncated bytes end the walk instead of panicking.
        for cut in 0..bytes.len() {
            let _ = elements(&bytes[..cut]).count();
        }
    }

    #[test]
    fn key_lengths_are_found_at_every_position_and_tail_length() {
        for len in 0..80 {
            for tail in 0..12 {
                let mut bytes = vec![b'k'; len];
                bytes.push(0);
                // Bytes after the terminator, zeros and not, never change the answer.
                bytes.extend((0..tail).map(|i| if i % 3 == 0 { 0 } else { 0x80 }));
                assert_eq!(key_len(&bytes), Some(len), "len {len}, tail {tail}");
            }
            // High bytes (UTF-8) in a key are not zeros.
            let mut utf8 = "é".repeat(len).into_bytes();
            utf8.push(0);
            assert_eq!(key_len(&utf8), Some(2 * len));
            assert_eq!(key_len(&vec![b'k'; len]), None, "no terminator");
        }
    }

    #[test]
    fn well_formed_accepts_only_what_the_bson_crate_accepts() {
        let common = doc! {
            "d": 1.5, "s": "héllo", "e": "", "doc": {"a": 1, "deep": {"x": [null, false]}},
            "arr": [1, "x", {"y": 2_i64}], "oid": bson::oid::ObjectId::new(), "b": true,
            "dt": bson::DateTime::from_millis(7), "n": Bson::Null, "i": 3_i32,
            "ts": Bson::Timestamp(bson::Timestamp { time: 1, increment: 2 }), "l": 4_i64,
        };
        let bytes = super::super::stored::encode(&common).expect("encode");
        assert!(well_formed(&bytes));
        // A rare kind is left to the bson crate.
        let rare =
            super::super::stored::encode(&doc! {"dec": bson::Decimal128::from_bytes([0; 16])})
                .expect("encode");
        assert!(!well_formed(&rare));
        // Every cut and every single-byte change: accepted only when bson accepts it too.
        let bson_accepts = |b: &[u8]| super::super::stored::validate_by_bson(b).is_ok();
        for cut in 0..bytes.len() {
            assert!(!well_formed(&bytes[..cut]));
        }
        for at in 0..bytes.len() {
            for byte in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff] {
                let mut changed = bytes.clone().into_vec();
                changed[at] = byte;
                if well_formed(&changed) {
                    assert!(bson_accepts(&changed), "byte {at} = {byte:#x}");
                }
            }
        }
        assert!(!well_formed(
            b"\x0c\x00\x00\x00\x02x\x00\xff\x00\x00\x00\x00"
        ));
    }
}
