//! [`Cell`]: one top-level field value of one row as the columns keep it, a type tag and 8
//! bytes of value bits, and the conversions between the two forms.

/// One top-level field value of one document, in 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// The field is absent.
    Missing,
    /// `null`.
    Null,
    /// int32 or int64.
    Int(i64),
    /// A double.
    Double(f64),
    /// An interned string.
    Str(u32),
    /// A date (milliseconds since the epoch).
    Date(i64),
    /// A boolean.
    Bool(bool),
    /// Anything else: evaluate on the document.
    Complex,
}

pub(super) const TAG_MISSING: u8 = 0;
pub(super) const TAG_NULL: u8 = 1;
pub(super) const TAG_INT: u8 = 2;
pub(super) const TAG_DOUBLE: u8 = 3;
pub(super) const TAG_STR: u8 = 4;
pub(super) const TAG_DATE: u8 = 5;
pub(super) const TAG_BOOL: u8 = 6;
pub(super) const TAG_COMPLEX: u8 = 7;
/// The value bits of a [`Cell::Complex`] that is an empty array (others have 0).
pub(super) const EMPTY_ARRAY: u64 = 1;

impl Cell {
    /// The cell a tag and its value bits stand for.
    pub fn from_tagged(tag: u8, bits: u64) -> Cell {
        match tag {
            TAG_NULL => Cell::Null,
            TAG_INT => Cell::Int(bits as i64),
            TAG_DOUBLE => Cell::Double(f64::from_bits(bits)),
            TAG_STR => Cell::Str(bits as u32),
            TAG_DATE => Cell::Date(bits as i64),
            TAG_BOOL => Cell::Bool(bits != 0),
            TAG_COMPLEX => Cell::Complex,
            _ => Cell::Missing,
        }
    }

    /// The tag and value bits a column keeps for this cell.
    pub fn tagged(self) -> (u8, u64) {
        match self {
            Cell::Missing => (TAG_MISSING, 0),
            Cell::Null => (TAG_NULL, 0),
            Cell::Int(i) => (TAG_INT, i as u64),
            Cell::Double(d) => (TAG_DOUBLE, d.to_bits()),
            Cell::Str(s) => (TAG_STR, u64::from(s)),
            Cell::Date(d) => (TAG_DATE, d as u64),
            Cell::Bool(b) => (TAG_BOOL, u64::from(b)),
            Cell::Complex => (TAG_COMPLEX, 0),
        }
    }
}
