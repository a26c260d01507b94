//! Documents as a collection stores them: their BSON bytes, written once by [`encode`] or
//! checked once by [`validate`], then read without a full parse where a field is enough.

use bson::{Bson, Document, RawBsonRef, RawDocument};
use spacejobs_core::error::{Error, Result};

/// A document holding only field `field` of `raw` (empty when `raw` lacks it): all a
/// condition on a path under `field` reads.
pub fn field_document(raw: &RawDocument, field: &str) -> Document {
    let mut doc = Document::new();
    if let Ok(Some(value)) = field_value(raw, field) {
        doc.insert(field, value);
    }
    doc
}

/// Top-level field `field` of stored bytes (validated when pushed), parsed.
pub fn field_value(raw: &RawDocument, field: &str) -> Result<Option<Bson>> {
    let unreadable = |e: bson::error::Error| Error::Internal(format!("stored document: {e}"));
    match raw.get(field).map_err(unreadable)? {
        Some(value) => Bson::try_from(value).map(Some).map_err(unreadable),
        None => Ok(None),
    }
}

/// The BSON bytes a collection keeps for `doc`; refused when `doc` cannot be stored as BSON.
pub fn encode(doc: &Document) -> Result<Box<[u8]>> {
    doc.to_vec()
        .map(Vec::into_boxed_slice)
        .map_err(|e| Error::InvalidDocument(e.to_string()))
}

/// `bytes` as a document, once every element, nested ones included, is well-formed.
pub fn validate(bytes: &[u8]) -> Result<&RawDocument> {
    // The common kinds in one lean pass; the bson crate for the rest and for the message.
    if super::walk::well_formed(bytes) {
        return RawDocument::from_bytes(bytes).map_err(|e| Error::InvalidDocument(e.to_string()));
    }
    validate_by_bson(bytes)
}

/// [`validate`] by the `bson` crate's reader alone: every element read as a value.
pub fn validate_by_bson(bytes: &[u8]) -> Result<&RawDocument> {
    fn value(v: RawBsonRef<'_>) -> std::result::Result<(), bson::error::Error> {
        match v {
            RawBsonRef::Document(d) => document(d),
            RawBsonRef::Array(a) => a.into_iter().try_for_each(|v| value(v?)),
            _ => Ok(()),
        }
    }
    fn document(d: &RawDocument) -> std::result::Result<(), bson::error::Error> {
        d.into_iter().try_for_each(|e| value(e?.1))
    }
    let raw = RawDocument::from_bytes(bytes).map_err(|e| Error::InvalidDocument(e.to_string()))?;
    document(raw).map_err(|e| Error::InvalidDocument(e.to_string()))?;
    Ok(raw)
}

/// Parses stored bytes (validated when pushed) into a document.
pub fn parse(bytes: &[u8]) -> Result<Document> {
    RawDocument::from_bytes(bytes)
        .and_then(Document::try_from)
        .map_err(|e| Error::Internal(format!("stored document unreadable: {e}")))
}
