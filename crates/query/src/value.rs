//! Values inside documents: dotted paths, MongoDB's comparison order and equality.
//!
//! Documents are [`bson::Document`]s so the in-memory engine and the MongoDB backend see the
//! same data. Everything here is a pure function that follows MongoDB's rules, because the
//! MongoDB backend must give exactly the in-memory answers.

use bson::{Bson, Document};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A dotted field path such as `errors.error_code`, split once at compile time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    raw: String,
    parts: Vec<String>,
}

impl FieldPath {
    /// Splits `raw` on dots. The caller has checked that no segment is empty.
    pub fn new(raw: &str) -> Self {
        FieldPath {
            raw: raw.to_string(),
            parts: raw.split('.').map(str::to_string).collect(),
        }
    }

    /// The path as written (`errors.error_code`).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The segments of the path.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// Walks the path with query semantics, calling `f` for every value it reaches, and for
    /// `None` where a branch of the path is missing. A leaf array is offered as a whole and
    /// then element by element. Stops and returns true as soon as `f` does.
    pub fn any<'a>(&self, doc: &'a Document, f: &mut impl FnMut(Option<&'a Bson>) -> bool) -> bool {
        visit_doc(doc, &self.parts, f)
    }

    /// The value at the path for aggregation expressions (`"$a.b"`): arrays met on the way
    /// map the rest of the path over their elements, giving an array. `None` when missing.
    /// Borrowed unless an array had to be built.
    pub fn resolve<'a>(&self, doc: &'a Document) -> Option<Cow<'a, Bson>> {
        let mut current = doc;
        let (last, init) = self.parts.split_last()?;
        for (i, part) in init.iter().enumerate() {
            match current.get(part)? {
                Bson::Document(d) => current = d,
                array @ Bson::Array(_) => {
                    return resolve_in(array, &self.parts[i + 1..]).map(Cow::Owned)
                }
                _ => return None,
            }
        }
        current.get(last).map(Cow::Borrowed)
    }
}

fn visit_doc<'a>(
    doc: &'a Document,
    parts: &[String],
    f: &mut impl FnMut(Option<&'a Bson>) -> bool,
) -> bool {
    match parts.split_first() {
        None => f(None),
        Some((first, rest)) => visit_value(doc.get(first), rest, f),
    }
}

fn visit_value<'a>(
    value: Option<&'a Bson>,
    rest: &[String],
    f: &mut impl FnMut(Option<&'a Bson>) -> bool,
) -> bool {
    let Some(value) = value else { return f(None) };
    if rest.is_empty() {
        if let Bson::Array(items) = value {
            return f(Some(value)) || items.iter().any(|item| f(Some(item)));
        }
        return f(Some(value));
    }
    match value {
        Bson::Document(d) => visit_doc(d, rest, f),
        Bson::Array(items) => {
            if let Ok(index) = rest[0].parse::<usize>() {
                if let Some(item) = items.get(index) {
                    if visit_value(Some(item), &rest[1..], f) {
                        return true;
                    }
                }
            }
            // Only sub-documents carry the path on; an array without them (empty, or of
            // scalars) gives no value at all, so `eq null` does not match it (MongoDB).
            items
                .iter()
                .any(|item| matches!(item, Bson::Document(d) if visit_doc(d, rest, f)))
        }
        _ => f(None),
    }
}

fn resolve_in(value: &Bson, rest: &[String]) -> Option<Bson> {
    let Some((first, tail)) = rest.split_first() else {
        return Some(value.clone());
    };
    match value {
        Bson::Document(d) => d.get(first).and_then(|v| resolve_in(v, tail)),
        Bson::Array(items) => Some(Bson::Array(
            items
                .iter()
                .filter_map(|item| match item {
                    Bson::Document(_) | Bson::Array(_) => resolve_in(item, rest),
                    _ => None,
                })
                .collect(),
        )),
        _ => None,
    }
}

/// MongoDB's canonical type order: the rank used to compare values of different types.
pub fn type_rank(value: &Bson) -> u8 {
    match value {
        Bson::MinKey => 1,
        Bson::Null | Bson::Undefined => 2,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 3,
        Bson::String(_) | Bson::Symbol(_) => 4,
        Bson::Document(_) => 5,
        Bson::Array(_) => 6,
        Bson::Binary(_) => 7,
        Bson::ObjectId(_) => 8,
        Bson::Boolean(_) => 9,
        Bson::DateTime(_) => 10,
        Bson::Timestamp(_) => 11,
        Bson::RegularExpression(_) => 12,
        Bson::DbPointer(_) => 13,
        Bson::JavaScriptCode(_) => 14,
        Bson::JavaScriptCodeWithScope(_) => 15,
        Bson::MaxKey => 16,
    }
}

/// A number as `i64` when it is integral and exact, else `None`.
pub fn as_i64(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        _ => None,
    }
}

/// A number as `f64` (`None` for non-numbers).
pub fn as_f64(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        Bson::Decimal128(d) => d.to_string().parse().ok(),
        _ => None,
    }
}

fn cmp_numbers(a: &Bson, b: &Bson) -> Ordering {
    if let (Some(x), Some(y)) = (as_i64(a), as_i64(b)) {
        return x.cmp(&y);
    }
    let (x, y) = (as_f64(a).unwrap_or(f64::NAN), as_f64(b).unwrap_or(f64::NAN));
    // MongoDB orders NaN below every other number.
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// MongoDB's total order over BSON values (used by sort, `$max`/`$min` and aggregation
/// comparisons). Strings compare bytewise, documents field by field in order.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x.cmp(y),
        (Bson::Document(x), Bson::Document(y)) => compare_docs(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (Bson::Binary(x), Bson::Binary(y)) => x.bytes.cmp(&y.bytes),
        _ if ra == 3 => cmp_numbers(a, b),
        _ => Ordering::Equal,
    }
}

fn compare_docs(x: &Document, y: &Document) -> Ordering {
    for ((kx, vx), (ky, vy)) in x.iter().zip(y.iter()) {
        let o = type_rank(vx)
            .cmp(&type_rank(vy))
            .then_with(|| kx.cmp(ky))
            .then_with(|| compare(vx, vy));
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// Equality as MongoDB's `$eq` sees it: numbers by value, documents field by field in order.
pub fn equal(a: &Bson, b: &Bson) -> bool {
    type_rank(a) == type_rank(b) && compare(a, b) == Ordering::Equal
}

/// Aggregation-expression comparison, where a missing value sorts below null.
pub fn compare_optional(a: Option<&Bson>, b: Option<&Bson>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => compare(x, y),
    }
}

/// Converts a JSON value of a request (a `google.protobuf.Value`) into BSON. Integral numbers
/// become integers, objects stay plain documents (no extended-JSON interpretation).
pub fn json_to_bson(value: &serde_json::Value) -> Bson {
    use serde_json::Value;
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i)),
            None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(json_to_bson).collect()),
        Value::Object(map) => Bson::Document(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_bson(v)))
                .collect(),
        ),
    }
}
