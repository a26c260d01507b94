//! BSON values as the JSON the wire carries (`google.protobuf.Struct` for stat, and the
//! proto3 JSON of documents): dates as ISO 8601 UTC with milliseconds, integers as integers,
//! ObjectIds as hex.

use crate::time::format_iso;
use bson::{Bson, Document};
use serde_json::{json, Map, Value};

/// One BSON value as response JSON.
pub fn to_json(value: &Bson) -> Value {
    match value {
        Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => json!(i),
        Bson::Int64(i) => json!(i),
        Bson::Double(d) => number(*d),
        Bson::Decimal128(d) => d.to_string().parse::<f64>().map_or(Value::Null, number),
        Bson::String(s) | Bson::Symbol(s) => Value::String(s.clone()),
        Bson::DateTime(dt) => Value::String(format_iso(*dt)),
        Bson::ObjectId(oid) => Value::String(oid.to_hex()),
        Bson::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Bson::Document(d) => Value::Object(document_to_json(d)),
        Bson::Timestamp(t) => json!(t.time),
        other => Value::String(other.to_string()),
    }
}

/// A whole number that fits a double exactly stays an integer in JSON (3, not 3.0).
fn number(d: f64) -> Value {
    match whole_number(d) {
        Some(i) => json!(i),
        None => serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number),
    }
}

/// `d` as an integer when it is whole and a double holds it exactly.
pub fn whole_number(d: f64) -> Option<i64> {
    (d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0).then_some(d as i64)
}

/// A document as a JSON object.
pub fn document_to_json(doc: &Document) -> Map<String, Value> {
    doc.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()
}
