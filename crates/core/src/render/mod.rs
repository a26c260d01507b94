//! Rendering results as the JSON the wire carries (`google.protobuf.Struct` for stat, and the
//! proto3 JSON of documents): dates as ISO 8601 UTC with milliseconds, integers as integers,
//! ObjectIds as hex.

mod stream;

pub use stream::{ListBody, RawJson, RawObject};

use crate::eval::{ListOutput, StatOutput};
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
fn whole_number(d: f64) -> Option<i64> {
    (d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0).then_some(d as i64)
}

/// A document as a JSON object.
pub fn document_to_json(doc: &Document) -> Map<String, Value> {
    doc.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()
}

/// The stat response Struct: `{"results": [...]}` plus `total_count` when paged.
pub fn stat_response(output: &StatOutput) -> Value {
    let mut out = Map::new();
    out.insert(
        "results".into(),
        Value::Array(output.results.iter().map(to_json).collect()),
    );
    if let Some(n) = output.total_count {
        out.insert("total_count".into(), json!(n));
    }
    Value::Object(out)
}

/// A list response as JSON: the documents (without MongoDB's `_id`) and `total_count`
/// (the tree of the body [`list_body`] writes).
pub fn list_response(output: &ListOutput) -> Value {
    // Plain data becomes a tree without failing; null would say so if it did.
    serde_json::to_value(ListBody(output)).unwrap_or(Value::Null)
}

/// [`list_response`] written as JSON bytes straight from the listed documents' bytes.
pub fn list_body(output: &ListOutput) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail; an empty body would say so if it did.
    serde_json::to_vec(&ListBody(output)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::to_raw;
    use bson::{doc, oid::ObjectId};

    #[test]
    fn list_bodies_from_bytes_equal_the_json_tree() {
        let documents = [
            doc! {
                "_id": ObjectId::new(), "job_id": "job-1", "n": 3, "big": 1_i64 << 40,
                "half": 0.5, "whole": 2.0, "nan": f64::NAN, "none": null, "ok": true,
                "at": bson::DateTime::from_millis(1_655_453_350_680),
                "errors": [{"error_code": "E1", "additional": {"k": [1, "two"]}}],
                "ref": ObjectId::parse_str("0123456789abcdef01234567").unwrap(),
                "decimal": bson::Decimal128::from_bytes([0; 16]),
            },
            doc! {"job_id": "job-2"},
        ];
        let output = ListOutput {
            documents: documents.iter().map(|d| to_raw(d).unwrap()).collect(),
            total_count: 7,
        };
        let body: Value = serde_json::from_slice(&list_body(&output)).expect("JSON");
        // The same JSON as the parsed documents give through `to_json`.
        let parsed: Vec<Value> = documents
            .iter()
            .map(|d| {
                let mut fields = document_to_json(d);
                fields.remove("_id");
                Value::Object(fields)
            })
            .collect();
        assert_eq!(body, json!({"results": parsed, "total_count": 7}));
        assert_eq!(body, list_response(&output));
        assert_eq!(body["results"][0]["at"], "2022-06-17T08:09:10.680Z");
        assert_eq!(body["results"][0]["whole"], 2);
        assert!(body["results"][0].get("_id").is_none());
    }
}
