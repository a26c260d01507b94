//! Rendering results as the JSON the wire carries (`google.protobuf.Struct` for stat, and the
//! proto3 JSON of documents), each value as [`spacejobs_query::json`] writes it.

mod stream;

pub use stream::{ListBody, RawJson, RawObject};

use crate::store::{ListOutput, StatOutput};
use serde_json::{json, Map, Value};
pub use spacejobs_query::json::{document_to_json, to_json};

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
    use crate::store::to_raw;
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
