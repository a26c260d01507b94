//! A JSON line read straight into a BSON document, for `import`: no tree of JSON values in
//! between. Ordinary objects, arrays and scalars become BSON as they are read (integers as
//! Int32 when they fit, else Int64, as MongoDB's extended JSON reader gives them); an object
//! whose first key starts with `$` (`{"$date": …}`, `{"$oid": …}`, `{"$numberLong": …}` …)
//! is handed to bson's extended JSON reader, so it means exactly what MongoDB says it means.
//! The document gets a new ObjectId `_id` first unless the line has its own.
//! [`raw_document`] writes the same document as BSON bytes while reading.
//!
//! An object naming one key twice is refused, naming the key, on both paths: a document is
//! stored as its line means it, and JSON leaves a repeated key's meaning open (BSON written
//! with the key twice could not be read back).

use bson::oid::ObjectId;
use bson::raw::{BindRawBsonRef, CStr, RawArrayBuf, RawBson, RawBsonRef, RawDocumentBuf};
use bson::{Bson, Document};
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use std::borrow::Cow;
use std::fmt;

/// Reads one JSON object into a document with `_id` first; `Err` holds serde_json's or the
/// extended JSON reader's message.
pub fn document(line: &str) -> Result<Document, String> {
    let mut de = serde_json::Deserializer::from_str(line);
    let value = ToBson { top: true }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    match value {
        Bson::Document(doc) => Ok(doc),
        _ => Err("expected a JSON object".into()),
    }
}

/// [`document`] written straight as BSON bytes (no tree of values, strings copied once),
/// for a line without an `_id` of its own; `None` for a line that has one (read it with
/// [`document`]).
pub fn raw_document(line: &str) -> Option<Result<RawDocumentBuf, String>> {
    if line.contains("\"_id\"") {
        return None;
    }
    let mut doc = empty_document(line.len() + ID_BYTES);
    doc.append(cstr("_id").ok()?, ObjectId::new());
    let mut de = serde_json::Deserializer::from_str(line);
    let read = de
        .deserialize_map(Fields(&mut doc))
        .and_then(|()| de.end())
        .map_err(|e| e.to_string());
    Some(read.and_then(|()| fitted(doc)))
}

/// The BSON bytes of an ObjectId `_id` field.
const ID_BYTES: usize = 1 + 4 + 12;

/// An empty document with room for `capacity` bytes. A line's BSON is mostly shorter than
/// its JSON, so one allocation holds it: growing by doubling would reallocate it some eight
/// times.
fn empty_document(capacity: usize) -> RawDocumentBuf {
    let mut bytes = Vec::with_capacity(capacity.max(5));
    bytes.extend_from_slice(&5i32.to_le_bytes());
    bytes.push(0);
    // These five bytes are an empty document; the default, were they refused, is too.
    RawDocumentBuf::from_bytes(bytes).unwrap_or_default()
}

/// `doc` without spare room, given back on the thread that allocated it: an import parses
/// lines on many threads, and the allocator serialises a thread resizing another thread's
/// block with that thread's own allocations.
fn fitted(doc: RawDocumentBuf) -> Result<RawDocumentBuf, String> {
    let mut bytes = doc.into_bytes();
    bytes.shrink_to_fit();
    RawDocumentBuf::from_bytes(bytes).map_err(|e| e.to_string())
}

/// The keys of one object read so far, to refuse one given twice: their hashes, checked
/// against the document written when two hash alike.
struct Seen {
    hashes: Vec<u64>,
    state: hashbrown::DefaultHashBuilder,
}

impl Seen {
    fn new() -> Self {
        Seen {
            hashes: Vec::new(),
            state: hashbrown::DefaultHashBuilder::default(),
        }
    }

    /// `Err` naming `key` when `doc` (the object's fields so far) has it already.
    fn add(&mut self, key: &str, doc: &RawDocumentBuf) -> Result<(), String> {
        let hash = std::hash::BuildHasher::hash_one(&self.state, key);
        if self.hashes.contains(&hash) && doc.get(key).ok().flatten().is_some() {
            return Err(repeated(key));
        }
        self.hashes.push(hash);
        Ok(())
    }
}

/// The refusal of a key given twice in one object.
fn repeated(key: &str) -> String {
    format!("key {key:?} appears twice in one object")
}

/// A key as BSON's C string (no NUL byte).
fn cstr(key: &str) -> Result<&CStr, String> {
    <&CStr>::try_from(key).map_err(|e| format!("field name {key:?}: {e}"))
}

/// Where a value read goes: a document's field or an array's next element.
enum Sink<'a> {
    Field(&'a mut RawDocumentBuf, &'a CStr),
    Element(&'a mut RawArrayBuf),
}

impl Sink<'_> {
    fn put(self, value: impl BindRawBsonRef) {
        match self {
            Sink::Field(doc, key) => doc.append(key, value),
            Sink::Element(array) => array.push(value),
        }
    }
}

/// The fields of a JSON object, appended to a document.
struct Fields<'a>(&'a mut RawDocumentBuf);

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.fields(map, Seen::new())
    }
}

impl<'de> Fields<'_> {
    /// The object's fields after those `seen` holds.
    fn fields<A: MapAccess<'de>>(self, mut map: A, mut seen: Seen) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            seen.add(&key, self.0).map_err(A::Error::custom)?;
            let key = cstr(&key).map_err(A::Error::custom)?;
            map.next_value_seed(Value(Sink::Field(self.0, key)))?;
        }
        Ok(())
    }
}

/// One JSON value, written into its sink.
struct Value<'a>(Sink<'a>);

impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.put(v);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        match i32::try_from(v) {
            Ok(small) => self.0.put(small),
            Err(_) => self.0.put(v),
        }
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        match i64::try_from(v) {
            Ok(v) => match i32::try_from(v) {
                Ok(small) => self.0.put(small),
                Err(_) => self.0.put(v),
            },
            Err(_) => self.0.put(v as f64),
        }
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.put(v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.put(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.put(RawBsonRef::Null);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut array = RawArrayBuf::new();
        while seq
            .next_element_seed(Value(Sink::Element(&mut array)))?
            .is_some()
        {}
        self.0.put(&array);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut doc = RawDocumentBuf::new();
        let Some(first) = map.next_key::<Cow<'de, str>>()? else {
            self.0.put(&doc);
            return Ok(());
        };
        if first.starts_with('$') {
            let value = special(first.into_owned(), &mut map)?;
            let raw = RawBson::try_from(value).map_err(A::Error::custom)?;
            self.0.put(raw);
            return Ok(());
        }
        let mut seen = Seen::new();
        seen.add(&first, &doc).map_err(A::Error::custom)?;
        let key = cstr(&first).map_err(A::Error::custom)?;
        map.next_value_seed(Value(Sink::Field(&mut doc, key)))?;
        Fields(&mut doc).fields(map, seen)?;
        self.0.put(&doc);
        Ok(())
    }
}

/// Reads any JSON value as BSON; `top` marks the line's own object.
#[derive(Clone, Copy)]
struct ToBson {
    top: bool,
}

impl<'de> DeserializeSeed<'de> for ToBson {
    type Value = Bson;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Bson, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ToBson {
    type Value = Bson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Bson, E> {
        Ok(Bson::Boolean(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Bson, E> {
        Ok(i32::try_from(v).map_or(Bson::Int64(v), Bson::Int32))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Bson, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => i32::try_from(v).map_or(Bson::Int64(v), Bson::Int32),
            Err(_) => Bson::Double(v as f64),
        })
    }

    fn visit_f64<E>(self, v: f64) -> Result<Bson, E> {
        Ok(Bson::Double(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Bson, E> {
        Ok(Bson::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Bson, E> {
        Ok(Bson::String(v))
    }

    fn visit_unit<E>(self) -> Result<Bson, E> {
        Ok(Bson::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bson, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ToBson { top: false })? {
            items.push(item);
        }
        Ok(Bson::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bson, A::Error> {
        let mut doc = Document::new();
        if self.top {
            // Replaced in place (staying first) when the line has an `_id` of its own.
            doc.insert("_id", ObjectId::new());
        }
        let mut own_id = false;
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Bson::Document(doc));
        };
        if first.starts_with('$') {
            return match special(first, &mut map)? {
                // A line's object that reads as a document all the same: `_id` first.
                Bson::Document(fields) if self.top => {
                    doc.extend(fields);
                    Ok(Bson::Document(doc))
                }
                other => Ok(other),
            };
        }
        let mut key = Some(first);
        while let Some(k) = key {
            let value = map.next_value_seed(ToBson { top: false })?;
            // The line's `_id` replaces the one made for it; any other key given twice is
            // refused.
            let made_id = self.top && k == "_id" && !own_id;
            if doc.contains_key(&k) && !made_id {
                return Err(A::Error::custom(repeated(&k)));
            }
            own_id |= self.top && k == "_id";
            doc.insert(k, value);
            key = map.next_key::<String>()?;
        }
        Ok(Bson::Document(doc))
    }
}

/// An object opening with a `$` key (its first key read): the common forms
/// (`{"$date": "<ISO 8601>"}`, `{"$oid": "<hex>"}`) at once, the others by bson's extended
/// JSON reader.
fn special<'de, A: MapAccess<'de>>(first: String, map: &mut A) -> Result<Bson, A::Error> {
    let value = map.next_value::<serde_json::Value>()?;
    let next = map.next_key::<String>()?;
    if let (serde_json::Value::String(text), None) = (&value, &next) {
        let read = match first.as_str() {
            "$date" => bson::DateTime::parse_rfc3339_str(text)
                .ok()
                .map(Bson::DateTime),
            "$oid" => ObjectId::parse_str(text).ok().map(Bson::ObjectId),
            _ => None,
        };
        if let Some(read) = read {
            return Ok(read);
        }
    }
    extended_from(first, value, next, map)
}

/// An object read by bson's extended JSON reader, its first entry and next key already read.
fn extended_from<'de, A: MapAccess<'de>>(
    first: String,
    value: serde_json::Value,
    mut next: Option<String>,
    map: &mut A,
) -> Result<Bson, A::Error> {
    let mut object = serde_json::Map::new();
    object.insert(first, value);
    while let Some(key) = next {
        if object.contains_key(&key) {
            return Err(A::Error::custom(repeated(&key)));
        }
        object.insert(key, map.next_value::<serde_json::Value>()?);
        next = map.next_key::<String>()?;
    }
    Bson::try_from(serde_json::Value::Object(object)).map_err(A::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_the_extended_json_reader() {
        let line = r#"{"a": 1, "big": 5000000000, "neg": -3, "f": 0.5, "s": "x", "n": null,
            "t": true, "arr": [1, {"b": "c"}], "at": {"$date": "2022-06-17T08:00:00.680Z"},
            "long": {"$numberLong": "7"}, "oid": {"$oid": "0123456789abcdef01234567"},
            "nested": {"k": {"$date": {"$numberLong": "0"}}}, "huge": 18446744073709551615,
            "offset": {"$date": "2022-06-17T10:00:00+02:00"}, "ms": {"$date": "2022-06-17T08:00:00Z"},
            "dollar": {"$other": 1}}"#;
        let doc = document(line).expect("a document");
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let Ok(Bson::Document(expected)) = Bson::try_from(value) else {
            panic!("extended JSON")
        };
        assert_eq!(doc.keys().next().map(String::as_str), Some("_id"));
        let mut without_id = doc.clone();
        without_id.remove("_id");
        assert_eq!(without_id, expected);
        assert!(matches!(doc.get("a"), Some(Bson::Int32(1))));
        assert!(matches!(doc.get("big"), Some(Bson::Int64(5_000_000_000))));
    }

    #[test]
    fn bytes_written_straight_are_the_documents_bytes() {
        let lines = [
            r#"{"a": 1, "big": 5000000000, "f": 0.5, "s": "x\"y", "n": null, "t": false,
                "arr": [1, {"b": "c"}, [], {"$date": "2022-06-17T08:00:00.680Z"}],
                "at": {"$date": "2022-06-17T08:00:00.680Z"}, "empty": {},
                "long": {"$numberLong": "7"}, "nested": {"k": {"x": [null, true]}},
                "huge": 18446744073709551615, "esc\u00e9": "caf\u00e9"}"#,
            r#"{}"#,
        ];
        for line in lines {
            let raw = raw_document(line).expect("no _id").expect("read");
            let mut parsed = Document::try_from(raw).expect("well-formed");
            let mut expected = document(line).expect("read");
            parsed.remove("_id");
            expected.remove("_id");
            assert_eq!(parsed, expected, "{line}");
        }
        assert!(raw_document(r#"{"_id": 1}"#).is_none());
        assert!(raw_document("[1]").expect("no _id").is_err());
        assert!(raw_document(r#"{"a": 1} x"#).expect("no _id").is_err());
        assert!(raw_document(r#"{"a\u0000": 1}"#).expect("no _id").is_err());
    }

    #[test]
    fn an_own_id_stays_first_and_bad_lines_are_refused() {
        let doc = document(r#"{"x": 1, "_id": {"$oid": "0123456789abcdef01234567"}}"#)
            .expect("a document");
        assert_eq!(doc.keys().collect::<Vec<_>>(), ["_id", "x"]);
        assert_eq!(
            doc.get_object_id("_id").expect("oid").to_hex(),
            "0123456789abcdef01234567"
        );
        assert!(document("[1, 2]").is_err());
        assert!(document(r#"{"a": 1} trailing"#).is_err());
        assert!(document(r#"{"at": {"$date": "not a date"}}"#).is_err());
        assert!(document(r#"{"at": {"$date": "2022-06-17T08:00:00Z", "x": 1}}"#).is_err());
    }

    #[test]
    fn a_key_given_twice_is_refused_on_both_paths_naming_it() {
        for line in [
            r#"{"status": "SUCCESS", "status": "FAILURE"}"#,
            r#"{"a": 1, "nested": {"k": 1, "k": 2}}"#,
            r#"{"a": [{"x": 1, "y": 2, "x": 3}]}"#,
            r#"{"_id": {"$oid": "0123456789abcdef01234567"}, "_id": {"$oid": "0123456789abcdef01234568"}}"#,
        ] {
            let err = document(line).expect_err(line);
            assert!(err.contains("appears twice"), "{line}: {err}");
            if let Some(raw) = raw_document(line) {
                let err = raw.expect_err(line);
                assert!(err.contains("appears twice"), "{line}: {err}");
            }
        }
        // Alike but not the same key, and the same key in two objects, are fine.
        for line in [
            r#"{"k": 1, "K": 2, "k ": 3}"#,
            r#"{"k": {"k": 1}, "o": {"k": 2}}"#,
        ] {
            document(line).expect(line);
            raw_document(line).expect("no _id").expect(line);
        }
    }
}
