//! Response JSON written straight from BSON bytes: `serde::Serialize` views of raw values and
//! documents, so a list body is one pass over the stored bytes into the output buffer (no
//! tree of JSON values, no allocation per field). The JSON is the one [`super::to_json`]
//! gives for the parsed value, with each object's keys in the document's own order.

use crate::store::ListOutput;
use bson::{Bson, RawBsonRef, RawDocument};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use spacejobs_query::json::{to_json, whole_number};
use spacejobs_query::time::IsoTime;

/// One BSON value, read from its bytes, serialized as response JSON.
pub struct RawJson<'a>(pub RawBsonRef<'a>);

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            RawBsonRef::Null | RawBsonRef::Undefined | RawBsonRef::MinKey | RawBsonRef::MaxKey => {
                s.serialize_unit()
            }
            RawBsonRef::Boolean(b) => s.serialize_bool(b),
            RawBsonRef::Int32(i) => s.serialize_i32(i),
            RawBsonRef::Int64(i) => s.serialize_i64(i),
            RawBsonRef::Double(d) => match whole_number(d) {
                Some(i) => s.serialize_i64(i),
                None if d.is_finite() => s.serialize_f64(d),
                None => s.serialize_unit(),
            },
            RawBsonRef::String(text) | RawBsonRef::Symbol(text) => s.serialize_str(text),
            RawBsonRef::DateTime(dt) => s.collect_str(&IsoTime(dt)),
            RawBsonRef::ObjectId(oid) => s.collect_str(&oid),
            RawBsonRef::Array(items) => {
                let mut seq = s.serialize_seq(None)?;
                for item in items {
                    match item {
                        Ok(value) => seq.serialize_element(&RawJson(value))?,
                        Err(_) => seq.serialize_element(&())?,
                    }
                }
                seq.end()
            }
            RawBsonRef::Document(doc) => RawObject { doc, skip: None }.serialize(s),
            other => Bson::try_from(other)
                .map_or(serde_json::Value::Null, |v| to_json(&v))
                .serialize(s),
        }
    }
}

/// A document, read from its bytes, serialized as a JSON object without the field `skip`.
pub struct RawObject<'a> {
    /// The document.
    pub doc: &'a RawDocument,
    /// A top-level field left out (`_id` of listed documents).
    pub skip: Option<&'a str>,
}

impl Serialize for RawObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (key, value) in self.doc.iter().filter_map(Result::ok) {
            let key = key.as_str();
            if Some(key) != self.skip {
                map.serialize_entry(key, &RawJson(value))?;
            }
        }
        map.end()
    }
}

/// A list response, `{"results": [...], "total_count": N}`, serialized from the listed
/// documents' bytes (without MongoDB's `_id`).
pub struct ListBody<'a>(pub &'a ListOutput);

impl Serialize for ListBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Results<'a>(&'a ListOutput);
        impl Serialize for Results<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.documents.len()))?;
                for doc in &self.0.documents {
                    seq.serialize_element(&RawObject {
                        doc,
                        skip: Some("_id"),
                    })?;
                }
                seq.end()
            }
        }
        let mut body = s.serialize_struct("ListBody", 2)?;
        body.serialize_field("results", &Results(self.0))?;
        body.serialize_field("total_count", &self.0.total_count)?;
        body.end()
    }
}
