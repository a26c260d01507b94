//! Stored JobTasks read straight from their BSON bytes into `JobTaskInfo` protobuf bytes,
//! without the serde model or the message in between: a page of a list is written in one
//! pass over each document's fields ([`write_job_task_info`]), and the message, when one is
//! wanted, is decoded from those bytes. Only documents whose every known field has the type
//! the model reads take this path; anything else returns `None`, and the caller reads the
//! document through the model, which gives the same message or words the error.

use crate::structs::document_struct;
use bson::raw::RawDocument;
use prost::encoding::{encode_varint, encoded_len_varint, WireType};
use prost::Message;
use spacejobs_core::model::Service;
use spacejobs_engine::walk::{self, kind, Element};
use spacejobs_proto::inventory;
use spacejobs_query::time::{format_iso, iso_digits};

/// Writes the key of field `tag` (one byte for the fields 1 to 15).
fn encode_key(tag: u32, wire_type: WireType, out: &mut Vec<u8>) {
    put_varint(out, u64::from(tag << 3 | wire_type as u32));
}

/// Writes a varint (one byte below 128, the common case).
fn put_varint(out: &mut Vec<u8>, value: u64) {
    match u8::try_from(value) {
        Ok(byte) if byte < 0x80 => out.push(byte),
        _ => encode_varint(value, out),
    }
}

/// Writes field `tag` holding `bytes` (a string or a message), unless empty and `skip_empty`
/// (proto3 leaves out empty strings; an element of a repeated message is always written).
fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8], skip_empty: bool) {
    if bytes.is_empty() && skip_empty {
        return;
    }
    encode_key(tag, WireType::LengthDelimited, out);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Writes int32 or enum field `tag` (left out when 0, as proto3 does).
fn put_int(out: &mut Vec<u8>, tag: u32, value: i32) {
    if value != 0 {
        encode_key(tag, WireType::Varint, out);
        // Negative int32 values are sign-extended to ten bytes, as protobuf wants.
        put_varint(out, i64::from(value) as u64);
    }
}

/// A string field as the model reads it (`null` as empty).
fn string(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    match value.kind {
        kind::STRING => put_bytes(out, tag, text_of(value)?, true),
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
        kind::DATETIME => put_date(out, tag, value.u64()? as i64, true),
        kind::NULL => {}
        _ => return None,
    }
    Some(())
}

/// Writes field `tag` holding the ISO text of the date `ms` milliseconds after the epoch
/// (`skip_empty` as [`put_bytes`] takes it).
fn put_date(out: &mut Vec<u8>, tag: u32, ms: i64, skip_empty: bool) {
    with_iso_text(ms, |text| put_bytes(out, tag, text, skip_empty));
}

/// `write` given the wire's ISO text of the date `ms` milliseconds after the epoch (its
/// digits written without allocating, for the years that allow it).
pub(crate) fn with_iso_text<R>(ms: i64, write: impl FnOnce(&[u8]) -> R) -> R {
    match iso_digits(ms) {
        Some(text) => write(&text),
        None => write(format_iso(bson::DateTime::from_millis(ms)).as_bytes()),
    }
}

/// The status name as its enum number (`null` as 0); `None` for a name or type the model
/// does not read.
pub(crate) fn status_number(value: Element<'_>) -> Option<i32> {
    match value.kind {
        kind::NULL => Some(0),
        kind::STRING => {
            let name = text_of(value)?;
            let names = Service::Inventory.status_names();
            i32::try_from(names.iter().position(|s| s.as_bytes() == name)?).ok()
        }
        _ => None,
    }
}

/// The status name as its enum number (`null` as 0).
fn status(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    put_int(out, tag, status_number(value)?);
    Some(())
}

/// Writes message field `tag` whose bytes `write` appends, its length put in front
/// afterwards; `None`, with `out` as it was, when `write` fails. Allocates nothing beyond
/// `out`.
fn nested(
    out: &mut Vec<u8>,
    tag: u32,
    write: impl FnOnce(&mut Vec<u8>) -> Option<()>,
) -> Option<()> {
    nested_sized(out, tag, 0, write)
}

/// [`nested`] with room kept for the length of a message of about `hint` bytes (a stored
/// document's BSON length, say): the bytes are moved along only when the length takes
/// another number of bytes.
fn nested_sized(
    out: &mut Vec<u8>,
    tag: u32,
    hint: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Option<()>,
) -> Option<()> {
    let start = out.len();
    encode_key(tag, WireType::LengthDelimited, out);
    let at = out.len();
    let kept = encoded_len_varint(hint as u64);
    out.resize(at + kept, 0);
    if write(out).is_none() {
        out.truncate(start);
        return None;
    }
    let end = out.len();
    let len = end - at - kept;
    let needed = encoded_len_varint(len as u64);
    if needed != kept {
        if needed > kept {
            out.resize(end + needed - kept, 0);
        }
        out.copy_within(at + kept..end, at + needed);
        out.truncate(at + needed + len);
    }
    encode_varint(len as u64, &mut &mut out[at..at + needed]);
    Some(())
}

/// Writes the stored sub-document in `bytes` as the fields of a `google.protobuf.Struct`
/// (entries by key, the last of a repeated key, as the model's map keeps them), values as
/// the JSON rendering gives them (numbers as doubles, dates as ISO text, ObjectIds as hex);
/// `None` when it holds a kind of value that rendering words otherwise (the caller then goes
/// through the JSON rendering) or cannot be read to its end.
fn write_struct(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    // Mostly the keys are stored in order, once each: then they are written as they come.
    let mut last: Option<&[u8]> = None;
    let mut in_order = true;
    let mut fields = walk::elements(bytes);
    for field in fields.by_ref() {
        in_order &= last.is_none_or(|last| last < field.key);
        last = Some(field.key);
    }
    if !fields.at_end() {
        return None;
    }
    if in_order {
        return walk::elements(bytes).try_for_each(|field| write_entry(out, field));
    }
    let mut entries: Vec<Element<'_>> = walk::elements(bytes).collect();
    entries.sort_by_key(|field| field.key);
    for (i, field) in entries.iter().enumerate() {
        if entries.get(i + 1).is_some_and(|next| next.key == field.key) {
            continue;
        }
        write_entry(out, *field)?;
    }
    Some(())
}

/// Writes one entry of a `Struct`'s `fields` map.
fn write_entry(out: &mut Vec<u8>, field: Element<'_>) -> Option<()> {
    let key = std::str::from_utf8(field.key).ok()?;
    nested(out, 1, |entry| {
        put_bytes(entry, 1, key.as_bytes(), true);
        nested(entry, 2, |v| write_value(v, field))
    })
}

/// The UTF-8 bytes of a string (or symbol) value; `None` when they are not UTF-8. Stored
/// text is mostly ASCII, which a word-at-a-time check confirms before the general one.
pub(crate) fn text_of(value: Element<'_>) -> Option<&[u8]> {
    let bytes = value.text_bytes()?;
    (bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()).then_some(bytes)
}

/// Writes one value of [`write_struct`] as the fields of a `google.protobuf.Value`.
fn write_value(out: &mut Vec<u8>, value: Element<'_>) -> Option<()> {
    let null = |out: &mut Vec<u8>| {
        encode_key(1, WireType::Varint, out);
        out.push(0);
    };
    let number = |out: &mut Vec<u8>, d: f64| {
        if d.is_finite() {
            // JSON keeps whole numbers as integers: -0.0 reads back as 0.
            let d = if d == 0.0 { 0.0 } else { d };
            encode_key(2, WireType::SixtyFourBit, out);
            out.extend_from_slice(&d.to_le_bytes());
        } else {
            null(out);
        }
    };
    let text = |out: &mut Vec<u8>, s: &[u8]| put_bytes(out, 3, s, false);
    match value.kind {
        kind::NULL | kind::UNDEFINED | MIN_KEY | MAX_KEY => null(out),
        kind::BOOLEAN => {
            let b = *value.value.first()?;
            if b > 1 {
                return None;
            }
            encode_key(4, WireType::Varint, out);
            out.push(b);
        }
        kind::INT32 => number(out, f64::from(value.i32()?)),
        kind::INT64 => number(out, value.u64()? as i64 as f64),
        kind::DOUBLE => number(out, f64::from_bits(value.u64()?)),
        kind::STRING | SYMBOL => text(out, text_of(value)?),
        kind::DATETIME => put_date(out, 3, value.u64()? as i64, false),
        kind::OBJECT_ID => {
            let id: [u8; 12] = value.value.get(..12)?.try_into().ok()?;
            text(out, bson::oid::ObjectId::from_bytes(id).to_hex().as_bytes());
        }
        kind::DOCUMENT => nested(out, 5, |s| write_struct(s, value.value))?,
        kind::ARRAY => nested(out, 6, |list| {
            let mut items = walk::elements(value.value);
            for item in items.by_ref() {
                nested(list, 1, |v| write_value(v, item))?;
            }
            items.at_end().then_some(())
        })?,
        _ => return None,
    }
    Some(())
}

/// BSON's symbol, min key and max key type bytes (rare; read as the JSON rendering reads
/// them).
const SYMBOL: u8 = 0x0E;
const MIN_KEY: u8 = 0xFF;
const MAX_KEY: u8 = 0x7F;

/// What a stored field holds, as the model reads it: which values it accepts and how the
/// protobuf bytes ([`Kind::write`]) and the REST JSON ([`crate::raw_json`]) show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `_id`: an ObjectId, read but not shown.
    ObjectId,
    /// A string (`null` as empty).
    Text,
    /// The status name, shown as its enum (`null` as unset).
    Status,
    /// A 32-bit count (`null` as 0).
    Count,
    /// A date, shown as ISO text (`null` as empty).
    Date,
    /// The errors: an array of documents (`null` as none).
    Errors,
    /// An error's free-form details: a document (`null` as empty).
    Additional,
}

impl Kind {
    /// Writes field `tag` holding `value` as protobuf bytes; `None` when the value has a type
    /// the model does not read there.
    pub(crate) fn write(self, out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
        match self {
            Kind::ObjectId => object_id(value),
            Kind::Text => string(out, tag, value),
            Kind::Status => status(out, tag, value),
            Kind::Count => count(out, tag, value),
            Kind::Date => iso(out, tag, value),
            Kind::Errors => errors(out, tag, value),
            Kind::Additional => additional(out, tag, value),
        }
    }
}

/// One field of a stored document: its key, its number in the Info message (0: not shown)
/// and what it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The stored key, which is also the JSON name.
    pub key: &'static str,
    /// The field number in the message.
    pub tag: u32,
    /// What it holds.
    pub kind: Kind,
}

const fn field(key: &'static str, tag: u32, kind: Kind) -> Field {
    Field { key, tag, kind }
}

/// Calls `each` with the fields of the document in `bytes` that `table` names (the table
/// entry's position and the value), in the document's order; the others are not read. Gives
/// the set of table entries met (bit `i` for entry `i`), or `None` when a named field is
/// given twice (the model refuses those), `each` refuses one, or the bytes cannot be read to
/// their end.
pub(crate) fn named_fields<'a>(
    bytes: &'a [u8],
    table: &[Field],
    mut each: impl FnMut(usize, Element<'a>) -> Option<()>,
) -> Option<u32> {
    let mut seen = 0u32;
    // Stored documents mostly keep the table's order: the entry after the last one met is
    // tried first.
    let mut next = 0;
    let mut fields = walk::elements(bytes);
    for field in fields.by_ref() {
        let named = |entry: &Field| field.key_is(entry.key.as_bytes());
        let at = match table.get(next) {
            Some(entry) if named(entry) => next,
            _ => match table.iter().position(named) {
                Some(at) => at,
                None => continue,
            },
        };
        next = at + 1;
        if seen & (1 << at) != 0 {
            return None;
        }
        seen |= 1 << at;
        each(at, field)?;
    }
    fields.at_end().then_some(seen)
}

/// Writes the fields of the document in `bytes` that `table` names as protobuf bytes, in
/// the document's order ([`named_fields`]); `None` when one has another type.
fn write_fields(bytes: &[u8], table: &[Field], out: &mut Vec<u8>) -> Option<u32> {
    named_fields(bytes, table, |at, value| {
        let entry = table[at];
        entry.kind.write(out, entry.tag, value)
    })
}

/// The fields of a stored error that `ErrorInfo` shows.
pub(crate) const ERROR_FIELDS: [Field; 3] = [
    field("error_code", 1, Kind::Text),
    field("message", 2, Kind::Text),
    field("additional", 3, Kind::Additional),
];

/// An error's free-form details as a `Struct` (`null` as an empty one).
fn additional(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    match value.kind {
        kind::DOCUMENT => {
            if nested(out, tag, |s| write_struct(s, value.value)).is_none() {
                let fields = RawDocument::from_bytes(value.value).ok()?;
                let details = document_struct(&bson::Document::try_from(fields).ok()?)?;
                put_bytes(out, tag, &details.encode_to_vec(), false);
            }
        }
        kind::NULL => put_bytes(out, tag, &[], false),
        _ => return None,
    }
    Some(())
}

/// An error's free-form details as the `Struct` the model gives (`null` as an empty one);
/// `None` when the value is not a document.
pub(crate) fn additional_struct(value: Element<'_>) -> Option<prost_types::Struct> {
    let mut bytes = Vec::new();
    additional(&mut bytes, 1, value)?;
    // The field's key and length come first; a `null` wrote an empty Struct.
    let mut field = bytes.as_slice();
    prost::encoding::decode_key(&mut field).ok()?;
    let len = prost::encoding::decode_varint(&mut field).ok()?;
    (len == field.len() as u64).then_some(())?;
    prost_types::Struct::decode(field).ok()
}

/// The stored errors (`null` as none), each an `ErrorInfo` element of field `tag`.
fn errors(out: &mut Vec<u8>, tag: u32, value: Element<'_>) -> Option<()> {
    match value.kind {
        // An array is stored as a document whose keys are the positions.
        kind::ARRAY => {
            let mut items = walk::elements(value.value);
            for item in items.by_ref() {
                if item.kind != kind::DOCUMENT {
                    return None;
                }
                nested_sized(out, tag, item.value.len(), |info| {
                    let seen = write_fields(item.value, &ERROR_FIELDS, info)?;
                    // The model gives every error its details, empty when it has none.
                    if seen & (1 << 2) == 0 {
                        put_bytes(info, 3, &[], false);
                    }
                    Some(())
                })?;
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
fn object_id(value: Element<'_>) -> Option<()> {
    matches!(value.kind, kind::OBJECT_ID | kind::NULL).then_some(())
}

/// The fields of a stored JobTask and their numbers in
/// `spaceone.api.inventory.v1.JobTaskInfo`.
pub(crate) const JOB_TASK_FIELDS: [Field; 18] = [
    field("_id", 0, Kind::ObjectId),
    field("job_task_id", 1, Kind::Text),
    field("status", 2, Kind::Status),
    field("created_count", 3, Kind::Count),
    field("updated_count", 4, Kind::Count),
    field("failure_count", 5, Kind::Count),
    field("deleted_count", 6, Kind::Count),
    field("disconnected_count", 7, Kind::Count),
    field("errors", 9, Kind::Errors),
    field("job_id", 11, Kind::Text),
    field("secret_id", 12, Kind::Text),
    field("provider", 13, Kind::Text),
    field("service_account_id", 14, Kind::Text),
    field("project_id", 15, Kind::Text),
    field("domain_id", 16, Kind::Text),
    field("created_at", 21, Kind::Date),
    field("started_at", 22, Kind::Date),
    field("finished_at", 23, Kind::Date),
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
    let mut out = Vec::new();
    write_job_tasks_info(documents, total_count, &mut out)?;
    Ok(out)
}

/// [`job_tasks_info_bytes`] appended to `out` (after a frame header, say).
pub fn write_job_tasks_info(
    documents: &[bson::RawDocumentBuf],
    total_count: i32,
    out: &mut Vec<u8>,
) -> spacejobs_core::Result<()> {
    out.reserve(documents.iter().map(|d| d.as_bytes().len()).sum());
    for doc in documents {
        let hint = doc.as_bytes().len();
        if nested_sized(out, 1, hint, |info| write_job_task_info(doc, info)).is_none() {
            let info = crate::info::job_task_info_by_model(doc)?.encode_to_vec();
            put_bytes(out, 1, &info, false);
        }
    }
    put_int(out, 2, total_count);
    Ok(())
}

/// A list answer as one gRPC frame, the `JobTasksInfo` bytes written behind the frame header
/// (sent as it is by [`crate::preencoded`], never copied into a message).
pub fn framed_job_tasks_info(out: spacejobs_core::ListOutput) -> spacejobs_core::Result<Vec<u8>> {
    use crate::preencoded::HEADER;
    let total = i32::try_from(out.total_count).unwrap_or(i32::MAX);
    let mut framed = vec![0u8; HEADER];
    write_job_tasks_info(&out.documents, total, &mut framed)?;
    let len = u32::try_from(framed.len() - HEADER)
        .map_err(|_| spacejobs_core::Error::Internal("a list answer of 4 GiB or more".into()))?;
    framed[1..HEADER].copy_from_slice(&len.to_be_bytes());
    Ok(framed)
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
            "undefined": Bson::Undefined, "min": Bson::MinKey, "max": Bson::MaxKey,
            "symbol": Bson::Symbol("s".into()), "far": bson::DateTime::from_millis(300_000_000_000_000),
            "before": bson::DateTime::from_millis(-1), "false": false,
        };
        let straight = |d: &Document| super::write_struct(&mut Vec::new(), raw(d).as_bytes());
        assert!(straight(&additional).is_some(), "read straight");
        // A decimal is worded by the JSON rendering.
        let mut rare = additional.clone();
        rare.insert("decimal", Bson::Decimal128("1.5".parse().expect("decimal")));
        assert!(straight(&rare).is_none());
        for additional in [additional, rare] {
            let doc = doc! {"errors": [{"error_code": "E", "additional": additional}]};
            let raw = raw(&doc);
            let fast = super::job_task_info(&raw).expect("read straight");
            let model = job_task_info_by_model(&raw).expect("model");
            // As bytes: -0.0 equals 0.0 as a number, not on the wire.
            assert_eq!(fast.encode_to_vec(), model.encode_to_vec());
            // The bytes written are the model's own (keys in order, lengths of every size).
            let mut written = Vec::new();
            super::write_job_task_info(&raw, &mut written).expect("read straight");
            assert_eq!(written, model.encode_to_vec());
        }
        // A repeated key keeps its last value, and an empty key is left out, as the model's
        // map does.
        let details = bytes(&[
            ("b", Bson::Int32(1)),
            ("", "empty key".into()),
            ("a", "first".into()),
            ("b", Bson::Int32(2)),
            ("long", "x".repeat(300).into()),
        ]);
        let doc = doc! {"errors": [{"error_code": "E", "additional": Bson::Document(
        Document::try_from(details.as_ref()).expect("details"))}]};
        let key = |k| <&bson::raw::CStr>::try_from(k).expect("key");
        let mut error = RawDocumentBuf::new();
        error.append(key("error_code"), "E");
        error.append(key("additional"), details.clone());
        let mut errors = bson::RawArrayBuf::new();
        errors.push(error);
        let mut raw_doc = RawDocumentBuf::new();
        raw_doc.append(key("errors"), errors);
        let model = job_task_info_by_model(&raw(&doc)).expect("model");
        let mut written = Vec::new();
        super::write_job_task_info(&raw_doc, &mut written).expect("read straight");
        assert_eq!(written, model.encode_to_vec());
    }

    #[test]
    fn a_list_answer_in_bytes_decodes_to_the_answer_the_model_gives() {
        use spacejobs_core::ListOutput;
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
        // Text that is not UTF-8 (in a field, in an error's details) is not written as a
        // protobuf string: the model words it.
        for doc in [
            doc! {"job_id": "ab\u{e9}"},
            doc! {"errors": [{"error_code": "E", "additional": {"k": "v\u{e9}"}}]},
        ] {
            let mut broken = raw(&doc).into_bytes();
            // The last byte of "é" (0xC3 0xA9) becomes a second lead byte: not UTF-8.
            let at = broken.iter().rposition(|&b| b == 0xA9).expect("the é");
            broken[at] = 0xC3;
            let broken = bson::RawDocument::from_bytes(&broken).expect("lengths unchanged");
            let written = super::write_job_task_info(broken, &mut Vec::new());
            assert_eq!(written, None, "{doc}");
        }
        for fields in cases {
            let raw = bytes(&fields);
            assert_eq!(super::job_task_info(&raw), None, "{fields:?}");
            // Whatever the model makes of it stands (an answer or an error, never a panic).
            let _ = job_task_info_by_model(&raw);
        }
    }
}
