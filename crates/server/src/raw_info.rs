//! Stored JobTasks read straight from their BSON bytes into `JobTaskInfo` protobuf bytes,
//! without the serde model or the message in between: a page of a list is written in one
//! pass over each document's fields ([`write_job_task_info`]), and the message, when one is
//! wanted, is decoded from those bytes. Only documents whose every known field has the type
//! the model reads take this path; anything else returns `None`, and the caller reads the
//! document through the model, which gives the same message or words the error.

use crate::convert::document_struct;
use bson::raw::{RawBsonRef, RawDocument};
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;
use spacejobs_core::eval::walk::{self, kind, Element};
use spacejobs_core::model::Service;
use spacejobs_core::time::{format_iso, iso_digits};
use spacejobs_proto::inventory;

/// Writes field `tag` holding `bytes` (a string or a message), unless empty and `skip_empty`
/// (proto3 leaves out empty strings; an element of a repeated message is always written).
fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8], skip_empty: bool) {
    if bytes.is_empty() && skip_empty {
        return;
    }
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Writes int32 or enum field `tag` (left out when 0, as proto3 does).
fn put_int(out: &mut Vec<u8>, tag: u32, value: i32) {
    if value != 0 {
        encode_key(tag, WireType::Varint, out);
        // Negative int32 values are sign-extended to ten bytes, as protobuf wants.
        encode_varint(i64::from(value) as u64, out);
    }
}

/// A string field as the model reads it (`null` as empty).
fn string(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    match value.kind {
        kind::STRING => put_bytes(out, tag, value.str()?.as_bytes(), true),
        kind::NULL => {}
        _ => return None,
    }
    Some(())
}

/// A 32-bit count as the model reads it (`null` as 0).
fn count(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    match value.kind {
        kind::INT32 => put_int(out, tag, value.i32()?),
        kind::NULL => {}
        _ => return None,
    }
    Some(())
}

/// A date field as the wire's ISO text (`null` as empty).
fn iso(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    match value.kind {
        kind::DATETIME => {
            let ms = value.u64()? as i64;
            match iso_digits(ms) {
                Some(text) => put_bytes(out, tag, &text, true),
                None => {
                    let text = format_iso(bson::DateTime::from_millis(ms));
                    put_bytes(out, tag, text.as_bytes(), true);
                }
            }
        }
        kind::NULL => {}
        _ => return None,
    }
    Some(())
}

/// The status name as its enum number (`null` as 0).
fn status(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    let number = match value.kind {
        kind::NULL => 0,
        kind::STRING => {
            let name = value.str()?;
            let names = Service::Inventory.status_names();
            i32::try_from(names.iter().position(|s| *s == name)?).ok()?
        }
        _ => return None,
    };
    put_int(out, tag, number);
    Some(())
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
        RawBsonRef::DateTime(d) => Kind::StringValue(format_iso(d)),
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

/// Writes one field of a message from a stored value; `None` when the value has a type the
/// model does not read there.
type Writer = fn(&mut Vec<u8>, u32, Element<'_>) -> Option<()>;

/// Writes the fields of the document in `bytes` that `table` names (stored key, field
/// number, writer), in the document's order; the others are not read. Gives the set of
/// table entries met (bit `i` for entry `i`), or `None` when a named field has another type
/// or is given twice (the model refuses those), or the bytes cannot be read to their end.
fn write_fields(bytes: &[u8], table: &[(&str, u32, Writer)], out: &mut Vec<u8>) -> Option<u32> {
    let mut seen = 0u32;
    let mut fields = walk::elements(bytes);
    for field in fields.by_ref() {
        let Some(at) = table
            .iter()
            .position(|(key, ..)| key.as_bytes() == field.key)
        else {
            continue;
        };
        if seen & (1 << at) != 0 {
            return None;
        }
        seen |= 1 << at;
        let (_, tag, write) = table[at];
        write(out, tag, field)?;
    }
    fields.at_end().then_some(seen)
}

/// The fields of a stored error that `ErrorInfo` shows.
const ERROR_FIELDS: [(&str, u32, Writer); 3] = [
    ("error_code", 1, string),
    ("message", 2, string),
    ("additional", 3, additional),
];

/// An error's free-form details as a `Struct` (`null` as an empty one).
fn additional(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    let details = match value.kind {
        kind::DOCUMENT => {
            let fields = RawDocument::from_bytes(value.value).ok()?;
            match structure(fields) {
                Some(done) => done,
                None => document_struct(&bson::Document::try_from(fields).ok()?)?,
            }
        }
        kind::NULL => prost_types::Struct::default(),
        _ => return None,
    };
    put_bytes(out, tag, &details.encode_to_vec(), false);
    Some(())
}

/// The stored errors (`null` as none), each an `ErrorInfo` element of field `tag`.
fn errors(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    match value.kind {
        // An array is stored as a document whose keys are the positions.
        kind::ARRAY => {
            let mut items = walk::elements(value.value);
            let mut info = Vec::new();
            for item in items.by_ref() {
                if item.kind != kind::DOCUMENT {
                    return None;
                }
                info.clear();
                let seen = write_fields(item.value, &ERROR_FIELDS, &mut info)?;
                // The model gives every error its details, empty when it has none.
                if seen & (1 << 2) == 0 {
                    put_bytes(&mut info, 3, &[], false);
                }
                put_bytes(out, tag, &info, false);
            }
            if !items.at_end() {
                return None;
            }
        }
        kind::NULL => {}
        _ => return None,
    }
    Some(())
}

/// The model reads `_id` as an ObjectId; `JobTaskInfo` does not show it.
fn object_id(_: &mut Vec<u8>, _: u32, value: Element<'_>) -> Option<()> {
    matches!(value.kind, kind::OBJECT_ID | kind::NULL).then_some(())
}

/// The fields of a stored JobTask and their numbers in
/// `spaceone.api.inventory.v1.JobTaskInfo`.
const JOB_TASK_FIELDS: [(&str, u32, Writer); 18] = [
    ("_id", 0, object_id),
    ("job_task_id", 1, string),
    ("status", 2, status),
    ("created_count", 3, count),
    ("updated_count", 4, count),
    ("failure_count", 5, count),
    ("deleted_count", 6, count),
    ("disconnected_count", 7, count),
    ("errors", 9, errors),
    ("job_id", 11, string),
    ("secret_id", 12, string),
    ("provider", 13, string),
    ("service_account_id", 14, string),
    ("project_id", 15, string),
    ("domain_id", 16, string),
    ("created_at", 21, iso),
    ("started_at", 22, iso),
    ("finished_at", 23, iso),
];

/// Writes a stored JobTask as the bytes of a `JobTaskInfo` message, in the document's order,
/// when every known field has the model's type; `None` (with `out` partly written)
/// otherwise, and the caller goes through the model, which words the error.
pub(crate) fn write_job_task_info(doc: &RawDocument, out: &mut Vec<u8>) -> Option<()> {
    write_fields(doc.as_bytes(), &JOB_TASK_FIELDS, out).map(|_| ())
}

/// A stored JobTask as `JobTaskInfo`, when every known field has the model's type.
pub fn job_task_info(doc: &RawDocument) -> Option<inventory::JobTaskInfo> {
    let mut bytes = Vec::new();
    write_job_task_info(doc, &mut bytes)?;
    inventory::JobTaskInfo::decode(bytes.as_slice()).ok()
}

/// A list answer as the bytes of `JobTasksInfo`: each document written straight from its
/// BSON, or through the model when it has fields of other types.
pub fn job_tasks_info_bytes(
    documents: &[bson::RawDocumentBuf],
    total_count: i32,
) -> spacejobs_core::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(documents.iter().map(|d| d.as_bytes().len()).sum());
    let mut info = Vec::new();
    for doc in documents {
        info.clear();
        if write_job_task_info(doc, &mut info).is_none() {
            info = crate::convert::job_task_info_by_model(doc)?.encode_to_vec();
        }
        put_bytes(&mut out, 1, &info, false);
    }
    put_int(&mut out, 2, total_count);
    Ok(out)
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
    fn a_list_answer_in_bytes_decodes_to_the_answer_the_model_gives() {
        use spacejobs_core::eval::ListOutput;
        use spacejobs_proto::inventory::JobTasksInfo;
        let corpus = Corpus::load();
        let mut documents: Vec<RawDocumentBuf> = corpus
            .documents(Service::Inventory.name())
            .iter()
            .map(raw)
            .collect();
        // One the model reads (an Int64 count), an empty one, an error without fields.
        documents.insert(1, bytes(&[("created_count", Bson::Int64(-3))]));
        documents.push(raw(&doc! {}));
        documents.push(raw(&doc! {"errors": [{}], "created_count": -1}));
        let by_model: Vec<_> = documents
            .iter()
            .map(|d| job_task_info_by_model(d).expect("model"))
            .collect();
        for total in [0, 7, 70_000] {
            let written = super::job_tasks_info_bytes(&documents, total).expect("written");
            let expected = JobTasksInfo {
                results: by_model.clone(),
                total_count: total,
            };
            assert_eq!(JobTasksInfo::decode(written.as_slice()), Ok(expected));
        }
        // The public conversion gives the same message.
        let output = ListOutput {
            documents,
            total_count: 7,
        };
        assert_eq!(
            crate::convert::job_tasks_info(output).map(|m| m.results),
            Ok(by_model)
        );
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
        // A string whose length runs past the document: the walk stops short.
        let mut cut = raw(&doc! {"job_id": "abc", "provider": "x"}).into_bytes();
        let at = cut
            .windows(4)
            .position(|w| w == 4i32.to_le_bytes())
            .expect("length");
        cut[at..at + 4].copy_from_slice(&200i32.to_le_bytes());
        let cut = bson::RawDocument::from_bytes(&cut).expect("outer length and end are right");
        assert_eq!(super::job_task_info(cut), None);
        for fields in cases {
            let raw = bytes(&fields);
            assert_eq!(super::job_task_info(&raw), None, "{fields:?}");
            // Whatever the model makes of it stands (an answer or an error, never a panic).
            let _ = job_task_info_by_model(&raw);
        }
    }
}
