//! Stored JobTasks read straight from their BSON bytes into `JobTaskInfo`, without the serde
//! model in between: a page of a list is rendered in one pass over each document's fields.
//! Only documents whose every known field has the type the model reads take this path;
//! anything else returns `None`, and the caller reads the document through the model, which
//! gives the same message or words the error.

use crate::convert::document_struct;
use bson::raw::{RawBsonRef, RawDocument};
use spacejobs_core::model::Service;
use spacejobs_core::time::IsoTime;
use spacejobs_proto::inventory;
use std::fmt::Write;

/// A string field as the model reads it (`null` as empty).
fn string(value: RawBsonRef<'_>) -> Option<String> {
    match value {
        RawBsonRef::String(s) => Some(s.to_string()),
        RawBsonRef::Null => Some(String::new()),
        _ => None,
    }
}

/// A 32-bit count as the model reads it (`null` as 0).
fn count(value: RawBsonRef<'_>) -> Option<i32> {
    match value {
        RawBsonRef::Int32(n) => Some(n),
        RawBsonRef::Null => Some(0),
        _ => None,
    }
}

/// A date field as the wire's ISO text (`null` as empty).
fn iso(value: RawBsonRef<'_>) -> Option<String> {
    match value {
        RawBsonRef::DateTime(d) => {
            let mut text = String::with_capacity(24);
            write!(text, "{}", IsoTime(d)).ok()?;
            Some(text)
        }
        RawBsonRef::Null => Some(String::new()),
        _ => None,
    }
}

/// One stored error as `ErrorInfo`.
fn error_info(value: RawBsonRef<'_>) -> Option<inventory::ErrorInfo> {
    let RawBsonRef::Document(fields) = value else {
        return None;
    };
    let mut info = inventory::ErrorInfo::default();
    let mut additional = None;
    let mut seen = [false; 3];
    for field in fields {
        let (key, value) = field.ok()?;
        let slot = match key.as_str() {
            "error_code" => 0,
            "message" => 1,
            "additional" => 2,
            _ => continue,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None; // A field given twice: the model refuses the document.
        }
        match slot {
            0 => info.error_code = string(value)?,
            1 => info.message = string(value)?,
            _ => {
                additional = match value {
                    RawBsonRef::Document(d) => Some(d),
                    RawBsonRef::Null => None,
                    _ => return None,
                }
            }
        }
    }
    info.additional = Some(match additional {
        Some(fields) => match structure(fields) {
            Some(done) => done,
            None => document_struct(&bson::Document::try_from(fields).ok()?)?,
        },
        None => prost_types::Struct::default(),
    });
    Some(info)
}

/// A stored sub-document as a `Struct`, values as the JSON rendering gives them (numbers as
/// doubles, dates as ISO text, ObjectIds as hex); `None` when it holds a kind of value that
/// rendering words otherwise (the caller then goes through the JSON rendering).
fn structure(fields: &RawDocument) -> Option<prost_types::Struct> {
    let mut out = std::collections::BTreeMap::new();
    for field in fields {
        let (key, value) = field.ok()?;
        out.insert(key.as_str().to_string(), struct_value(value)?);
    }
    Some(prost_types::Struct { fields: out })
}

/// One value of [`structure`].
fn struct_value(value: RawBsonRef<'_>) -> Option<prost_types::Value> {
    use prost_types::value::Kind;
    let number = |d: f64| {
        if d.is_finite() {
            // JSON keeps whole numbers as integers: -0.0 reads back as 0.
            Kind::NumberValue(if d == 0.0 { 0.0 } else { d })
        } else {
            Kind::NullValue(0)
        }
    };
    let kind = match value {
        RawBsonRef::Null | RawBsonRef::Undefined | RawBsonRef::MinKey | RawBsonRef::MaxKey => {
            Kind::NullValue(0)
        }
        RawBsonRef::Boolean(b) => Kind::BoolValue(b),
        RawBsonRef::Int32(i) => Kind::NumberValue(f64::from(i)),
        RawBsonRef::Int64(i) => Kind::NumberValue(i as f64),
        RawBsonRef::Double(d) => number(d),
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => Kind::StringValue(s.to_string()),
        RawBsonRef::DateTime(d) => Kind::StringValue(IsoTime(d).to_string()),
        RawBsonRef::ObjectId(id) => Kind::StringValue(id.to_hex()),
        RawBsonRef::Document(d) => Kind::StructValue(structure(d)?),
        RawBsonRef::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items
                .into_iter()
                .map(|item| struct_value(item.ok()?))
                .collect::<Option<_>>()?,
        }),
        _ => return None,
    };
    Some(prost_types::Value { kind: Some(kind) })
}

/// The stored errors (`null` as none).
fn errors(value: RawBsonRef<'_>) -> Option<Vec<inventory::ErrorInfo>> {
    match value {
        RawBsonRef::Array(items) => items
            .into_iter()
            .map(|item| error_info(item.ok()?))
            .collect(),
        RawBsonRef::Null => Some(Vec::new()),
        _ => None,
    }
}

/// The fields of a stored JobTask that `JobTaskInfo` shows.
const JOB_TASK_FIELDS: [&str; 18] = [
    "_id",
    "job_task_id",
    "status",
    "created_count",
    "updated_count",
    "failure_count",
    "deleted_count",
    "disconnected_count",
    "errors",
    "job_id",
    "secret_id",
    "provider",
    "service_account_id",
    "project_id",
    "domain_id",
    "created_at",
    "started_at",
    "finished_at",
];

/// A stored JobTask as `JobTaskInfo`, when every known field has the model's type.
pub fn job_task_info(doc: &RawDocument) -> Option<inventory::JobTaskInfo> {
    let mut info = inventory::JobTaskInfo::default();
    let mut seen = 0u32;
    for field in doc {
        let (key, value) = field.ok()?;
        let key = key.as_str();
        if let Some(bit) = JOB_TASK_FIELDS.iter().position(|f| *f == key) {
            if seen & (1 << bit) != 0 {
                return None; // A field given twice: the model refuses the document.
            }
            seen |= 1 << bit;
        }
        match key {
            "job_task_id" => info.job_task_id = string(value)?,
            "status" => {
                info.status = match value {
                    RawBsonRef::Null => 0,
                    RawBsonRef::String(name) => {
                        let names = Service::Inventory.status_names();
                        i32::try_from(names.iter().position(|s| *s == name)?).ok()?
                    }
                    _ => return None,
                }
            }
            "created_count" => info.created_count = count(value)?,
            "updated_count" => info.updated_count = count(value)?,
            "failure_count" => info.failure_count = count(value)?,
            "deleted_count" => info.deleted_count = count(value)?,
            "disconnected_count" => info.disconnected_count = count(value)?,
            "errors" => info.errors = errors(value)?,
            "job_id" => info.job_id = string(value)?,
            "secret_id" => info.secret_id = string(value)?,
            "provider" => info.provider = string(value)?,
            "service_account_id" => info.service_account_id = string(value)?,
            "project_id" => info.project_id = string(value)?,
            "domain_id" => info.domain_id = string(value)?,
            "created_at" => info.created_at = iso(value)?,
            "started_at" => info.started_at = iso(value)?,
            "finished_at" => info.finished_at = iso(value)?,
            // The model reads `_id` as an ObjectId.
            "_id" if !matches!(value, RawBsonRef::ObjectId(_) | RawBsonRef::Null) => return None,
            _ => {}
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use crate::convert::job_task_info_by_model;
    use bson::{doc, Bson, Document, RawDocumentBuf};
    use prost::Message;
    use spacejobs_conformance::Corpus;
    use spacejobs_core::model::Service;

    /// The bytes of `doc`, fields in its order (duplicates kept: bson's Document cannot).
    fn bytes(fields: &[(&str, Bson)]) -> RawDocumentBuf {
        let mut raw = RawDocumentBuf::new();
        for (key, value) in fields {
            let key = <&bson::raw::CStr>::try_from(*key).expect("key");
            raw.append(
                key,
                bson::RawBson::try_from(value.clone()).expect("raw value"),
            );
        }
        raw
    }

    fn raw(doc: &Document) -> RawDocumentBuf {
        RawDocumentBuf::try_from(doc).expect("bytes")
    }

    #[test]
    fn well_typed_job_tasks_read_as_the_model_reads_them() {
        let corpus = Corpus::load();
        let mut documents = corpus.documents(Service::Inventory.name());
        assert!(documents.len() > 10, "the corpus has JobTasks");
        documents.push(doc! {
            "job_task_id": Bson::Null, "status": Bson::Null, "errors": Bson::Null,
            "created_count": Bson::Null, "created_at": Bson::Null, "_id": Bson::Null,
            "extra": [1, 2], "finished_at": bson::DateTime::from_millis(-62_167_219_200_001),
        });
        documents.push(doc! {"errors": [{"error_code": Bson::Null, "additional": Bson::Null}]});
        documents.push(doc! {"errors": [{"error_code": "E", "message": "m", "other": 1,
            "additional": {"when": bson::DateTime::from_millis(5), "n": 1.5, "list": ["a", Bson::Null]}}]});
        documents.push(doc! {}); // a projection that kept nothing
        for doc in &documents {
            let raw = raw(doc);
            let fast = super::job_task_info(&raw);
            assert!(fast.is_some(), "read straight: {doc}");
            assert_eq!(fast.map(Ok), Some(job_task_info_by_model(&raw)), "{doc}");
        }
    }

    #[test]
    fn additional_details_read_as_their_json_rendering() {
        let oid = bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid");
        let additional = doc! {
            "region": "us-east-1", "n": 3, "big": 9_007_199_254_740_993_i64, "half": 0.5,
            "whole": 4.0, "minus_zero": -0.0, "nan": f64::NAN, "inf": f64::INFINITY,
            "flag": true, "none": Bson::Null, "when": bson::DateTime::from_millis(1),
            "id": oid, "list": [1, "a", {"deep": [Bson::Null, 2.5]}], "nested": {"x": {}},
        };
        assert!(
            super::structure(&raw(&additional)).is_some(),
            "read straight"
        );
        // A decimal is worded by the JSON rendering.
        let mut rare = additional.clone();
        rare.insert("decimal", Bson::Decimal128("1.5".parse().expect("decimal")));
        assert!(super::structure(&raw(&rare)).is_none());
        for additional in [additional, rare] {
            let doc = doc! {"errors": [{"error_code": "E", "additional": additional}]};
            let raw = raw(&doc);
            let fast = super::job_task_info(&raw).expect("read straight");
            let model = job_task_info_by_model(&raw).expect("model");
            // As bytes: -0.0 equals 0.0 as a number, not on the wire.
            assert_eq!(fast.encode_to_vec(), model.encode_to_vec());
        }
    }

    #[test]
    fn other_types_and_repeated_fields_are_left_to_the_model() {
        let cases = [
            vec![("created_count", Bson::Int64(3))],
            vec![("created_count", Bson::Double(3.0))],
            vec![("job_task_id", Bson::Int32(7))],
            vec![("status", Bson::String("SLEEPING".into()))],
            vec![("status", Bson::Int32(1))],
            vec![("created_at", Bson::String("2024-01-01T00:00:00Z".into()))],
            vec![("errors", Bson::String("boom".into()))],
            vec![("errors", Bson::Array(vec![Bson::String("boom".into())]))],
            vec![(
                "errors",
                Bson::Array(vec![Bson::Document(doc! {"additional": [1]})]),
            )],
            vec![("_id", Bson::String("not an ObjectId".into()))],
            vec![("job_id", "a".into()), ("job_id", "b".into())],
            vec![
                (
                    "errors",
                    Bson::Array(vec![Bson::Document(doc! {"message": "a"})]),
                ),
                ("errors", Bson::Null),
            ],
        ];
        for fields in cases {
            let raw = bytes(&fields);
            assert_eq!(super::job_task_info(&raw), None, "{fields:?}");
            // Whatever the model makes of it stands (an answer or an error, never a panic).
            let _ = job_task_info_by_model(&raw);
        }
    }
}
