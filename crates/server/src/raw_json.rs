//! Stored JobTasks read straight from their BSON bytes into the REST routes' JSON, from the
//! same field table as their gRPC bytes ([`crate::raw_info::JOB_TASK_FIELDS`]): each field
//! of the table is written as proto3 JSON (every field, unset ones with their defaults, in
//! the message's order), with no message and no tree of JSON values in between. A document
//! with a field of another type than the model reads is written through the model instead,
//! which gives the same JSON or words the error.

use crate::raw_info::{
    additional_struct, named_fields, status_number, text_of, with_iso_text, Kind, ERROR_FIELDS,
    JOB_TASK_FIELDS,
};
use crate::structs::struct_to_json;
use bson::RawDocumentBuf;
use spacejobs_core::{Error, Result};
use spacejobs_engine::walk::{kind, Element};
use spacejobs_proto::inventory::job_task_info::JobTaskStatus;
use std::io::Write;

/// A list answer as the JSON body of the REST route: `{"results": [...], "total_count": n}`.
pub fn job_tasks_body(documents: &[RawDocumentBuf], total_count: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(documents.iter().map(|d| d.as_bytes().len()).sum());
    out.extend_from_slice(b"{\"results\":[");
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        if write_job_task(doc.as_bytes(), &mut out).is_none() {
            out.truncate(start);
            let info = crate::info::job_task_info_by_model(doc)?;
            crate::json::write_job_task(&info, &mut out)
                .map_err(|e| Error::Internal(format!("a JobTask's JSON: {e}")))?;
        }
    }
    let total = i32::try_from(total_count).unwrap_or(i32::MAX);
    // Writing into a Vec cannot fail.
    let _ = write!(out, "],\"total_count\":{total}}}");
    Ok(out)
}

/// Writes a stored JobTask as its `JobTaskInfo` JSON object when every field the table names
/// has the model's type; `None` (with `out` partly written) otherwise.
fn write_job_task(bytes: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut found: [Option<Element<'_>>; JOB_TASK_FIELDS.len()] = [None; JOB_TASK_FIELDS.len()];
    named_fields(bytes, &JOB_TASK_FIELDS, |at, value| {
        found[at] = Some(value);
        Some(())
    })?;
    out.push(b'{');
    let mut first = true;
    for (field, value) in JOB_TASK_FIELDS.iter().zip(found) {
        if field.tag == 0 {
            // Read, not shown (`_id`).
            if let Some(value) = value {
                matches!(value.kind, kind::OBJECT_ID | kind::NULL).then_some(())?;
            }
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        quoted(out, field.key.as_bytes());
        out.push(b':');
        write_value(field.kind, value, out)?;
    }
    out.push(b'}');
    Some(())
}

/// Writes one field's value (`None`: the field is absent) as proto3 JSON.
fn write_value(field: Kind, value: Option<Element<'_>>, out: &mut Vec<u8>) -> Option<()> {
    let value = value.filter(|v| v.kind != kind::NULL);
    match (field, value) {
        (Kind::Text | Kind::Status | Kind::Date, None) => out.extend_from_slice(b"\"\""),
        (Kind::Count, None) => out.push(b'0'),
        (Kind::Errors, None) => out.extend_from_slice(b"[]"),
        (Kind::Text, Some(v)) if v.kind == kind::STRING => {
            text(out, std::str::from_utf8(text_of(v)?).ok()?)
        }
        (Kind::Status, Some(v)) => {
            // The unset enum shows as "", as the message's JSON does.
            let shown = match status_number(v)? {
                0 => "",
                n => JobTaskStatus::try_from(n)
                    .ok()
                    .map_or("", |s| s.as_str_name()),
            };
            quoted(out, shown.as_bytes());
        }
        (Kind::Count, Some(v)) if v.kind == kind::INT32 => {
            let _ = write!(out, "{}", v.i32()?);
        }
        (Kind::Date, Some(v)) if v.kind == kind::DATETIME => {
            with_iso_text(v.u64()? as i64, |text| quoted(out, text));
        }
        (Kind::Errors, Some(v)) if v.kind == kind::ARRAY => errors(v.value, out)?,
        _ => return None,
    }
    Some(())
}

/// The stored errors (the bytes of an array) as `ErrorInfo` objects.
fn errors(array: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.push(b'[');
    let mut items = spacejobs_engine::walk::elements(array);
    for (i, item) in items.by_ref().enumerate() {
        if item.kind != kind::DOCUMENT {
            return None;
        }
        if i > 0 {
            out.push(b',');
        }
        let mut found: [Option<Element<'_>>; ERROR_FIELDS.len()] = [None; ERROR_FIELDS.len()];
        named_fields(item.value, &ERROR_FIELDS, |at, value| {
            found[at] = Some(value);
            Some(())
        })?;
        let [code, message, details] = found;
        out.extend_from_slice(b"{\"error_code\":");
        write_value(Kind::Text, code, out)?;
        out.extend_from_slice(b",\"message\":");
        write_value(Kind::Text, message, out)?;
        out.extend_from_slice(b",\"additional\":");
        // The model gives every error its details, empty when it has none.
        let details = match details {
            Some(value) => struct_to_json(&additional_struct(value)?),
            None => serde_json::Map::new(),
        };
        serde_json::to_writer(&mut *out, &details).ok()?;
        out.push(b'}');
    }
    items.at_end().then_some(())?;
    out.push(b']');
    Some(())
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn text(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Text known to need no escaping (keys, enum names, ISO dates) in quotes.
fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(s);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use crate::convert::job_tasks_info;
    use bson::{doc, Bson, Document, RawDocumentBuf};
    use spacejobs_conformance::Corpus;
    use spacejobs_core::model::Service;
    use spacejobs_core::ListOutput;

    /// The body the REST list wrote before: the message, then its JSON tree.
    fn through_the_message(documents: &[RawDocumentBuf], total_count: u64) -> Vec<u8> {
        let out = ListOutput {
            documents: documents.to_vec(),
            total_count,
        };
        let tree = crate::json::job_tasks(job_tasks_info(out).expect("model reads it"));
        serde_json::to_vec(&tree).expect("JSON")
    }

    #[test]
    fn list_bodies_are_the_json_of_the_messages_byte_for_byte() {
        let mut documents = Corpus::load().documents(Service::Inventory.name());
        let oid = bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid");
        documents.extend([
            doc! {
                "job_task_id": Bson::Null, "status": Bson::Null, "errors": Bson::Null,
                "created_count": Bson::Null, "created_at": Bson::Null, "_id": Bson::Null,
                "extra": [1, 2], "finished_at": bson::DateTime::from_millis(-62_167_219_200_001),
            },
            doc! {"errors": [{"error_code": Bson::Null, "additional": Bson::Null}]},
            doc! {"errors": [{"error_code": "E", "message": "line\n\"quoted\" \u{1} é", "other": 1,
            "additional": {"when": bson::DateTime::from_millis(5), "n": 1.5, "whole": 2.0,
                "big": 9_007_199_254_740_993_i64, "id": oid, "list": ["a", Bson::Null],
                "nan": f64::NAN, "decimal": Bson::Decimal128("1.5".parse().expect("decimal"))}}]},
            doc! {"status": "SUCCESS", "job_id": "job-\u{2028}", "updated_count": -3},
            doc! {"status": "IN_PROGRESS", "domain_id": "d", "_id": oid},
            doc! {}, // a projection that kept nothing
        ]);
        let raw: Vec<RawDocumentBuf> = documents
            .iter()
            .map(|d| RawDocumentBuf::try_from(d).expect("bytes"))
            .collect();
        for (i, doc) in raw.iter().enumerate() {
            let mut straight = Vec::new();
            assert!(
                super::write_job_task(doc.as_bytes(), &mut straight).is_some(),
                "read straight: {}",
                documents[i]
            );
        }
        for total in [0, 7, u64::MAX] {
            let body = super::job_tasks_body(&raw, total).expect("body");
            let expected = through_the_message(&raw, total);
            assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&expected)
            );
        }
        assert_eq!(
            super::job_tasks_body(&[], 0).expect("body"),
            through_the_message(&[], 0)
        );
    }

    #[test]
    fn documents_of_other_types_go_through_the_model() {
        // A count stored as a double: the model reads it (or words the error), the table not.
        let odd: Document = doc! {"job_task_id": "t", "created_count": 2.0};
        let raw = RawDocumentBuf::try_from(&odd).expect("bytes");
        assert!(super::write_job_task(raw.as_bytes(), &mut Vec::new()).is_none());
        let model = crate::info::job_task_info_by_model(&raw);
        let body = super::job_tasks_body(std::slice::from_ref(&raw), 1);
        match model {
            Ok(_) => assert_eq!(body.expect("body"), through_the_message(&[raw], 1)),
            Err(e) => assert_eq!(body.expect_err("refused"), e),
        }
    }
}
