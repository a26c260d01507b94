//! Writes: [`Update`], the change a lifecycle write makes to one document in the terms every
//! store can apply atomically (MongoDB's `$set`, `$inc` and `$push`), with its in-memory
//! application; and [`Write`], one step of a batch a store applies together.

use crate::error::{Error, Result};
use bson::{Bson, Document};
use spacejobs_query::plan::Filter;

/// One step of a write batch ([`crate::Store::write`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Change one document matching the filter; the batch stops here when none matches.
    UpdateOne {
        /// Collection.
        collection: String,
        /// Which document (lifecycle filters name a unique id and the expected status).
        filter: Filter,
        /// The change.
        update: Update,
    },
    /// Change every document matching the filter (possibly none).
    UpdateMany {
        /// Collection.
        collection: String,
        /// Which documents.
        filter: Filter,
        /// The change, applied to each.
        update: Update,
    },
    /// Remove every document matching the filter (possibly none).
    Delete {
        /// Collection.
        collection: String,
        /// Which documents.
        filter: Filter,
    },
}

impl Write {
    /// [`Write::UpdateOne`].
    pub fn update_one(collection: &str, filter: Filter, update: Update) -> Self {
        Write::UpdateOne {
            collection: collection.to_string(),
            filter,
            update,
        }
    }

    /// [`Write::UpdateMany`].
    pub fn update_many(collection: &str, filter: Filter, update: Update) -> Self {
        Write::UpdateMany {
            collection: collection.to_string(),
            filter,
            update,
        }
    }

    /// [`Write::Delete`].
    pub fn delete(collection: &str, filter: Filter) -> Self {
        Write::Delete {
            collection: collection.to_string(),
            filter,
        }
    }

    /// Refuses a step no store should take: an update touching `_id` or the collection's
    /// public id (see [`Update::check`]).
    pub fn check(&self) -> Result<()> {
        match self {
            Write::UpdateOne {
                collection, update, ..
            }
            | Write::UpdateMany {
                collection, update, ..
            } => update.check(crate::model::public_id_field(collection)),
            Write::Delete { .. } => Ok(()),
        }
    }

    /// The collection written.
    pub fn collection(&self) -> &str {
        match self {
            Write::UpdateOne { collection, .. }
            | Write::UpdateMany { collection, .. }
            | Write::Delete { collection, .. } => collection,
        }
    }
}

/// What one applied step of a batch did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// [`Write::UpdateOne`]: the document as changed.
    One(Document),
    /// [`Write::UpdateMany`]: documents changed.
    Many(u64),
    /// [`Write::Delete`]: documents removed.
    Deleted(u64),
}

/// A change to top-level fields of one document: set some, add to counters, append to arrays.
/// A store applies all of it to a document at once, or none of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Fields set to a value (`$set`).
    pub set: Vec<(String, Bson)>,
    /// Counters incremented (`$inc`); a missing counter starts at 0.
    pub inc: Vec<(String, i32)>,
    /// Values appended to array fields (`$push` with `$each`); a missing array is created.
    pub push: Vec<(String, Vec<Bson>)>,
}

impl Update {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also sets `field` to `value`.
    pub fn set(mut self, field: &str, value: impl Into<Bson>) -> Self {
        self.set.push((field.to_string(), value.into()));
        self
    }

    /// Also adds `by` to the counter `field`.
    pub fn inc(mut self, field: &str, by: i32) -> Self {
        self.inc.push((field.to_string(), by));
        self
    }

    /// Also appends `values` to the array `field`.
    pub fn push(mut self, field: &str, values: Vec<Bson>) -> Self {
        self.push.push((field.to_string(), values));
        self
    }

    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.inc.is_empty() && self.push.is_empty()
    }

    /// Refuses an update no store should make: one touching `_id` or `public_id` (the
    /// collection's unique id), or naming a field twice (MongoDB refuses that as a conflict).
    pub fn check(&self, public_id: Option<&str>) -> Result<()> {
        let fields = self
            .set
            .iter()
            .map(|(f, _)| f)
            .chain(self.inc.iter().map(|(f, _)| f))
            .chain(self.push.iter().map(|(f, _)| f));
        let mut seen = std::collections::HashSet::new();
        for field in fields {
            if field == "_id" || Some(field.as_str()) == public_id {
                return Err(Error::query(format!("an update may not change '{field}'")));
            }
            if field.is_empty() || field.contains('.') || field.starts_with('$') {
                return Err(Error::query(format!(
                    "an update names top-level fields only, got '{field}'"
                )));
            }
            if !seen.insert(field) {
                return Err(Error::query(format!(
                    "an update names '{field}' more than once"
                )));
            }
        }
        Ok(())
    }

    /// Applies the change to `out` as MongoDB would, in place (fields keep their places;
    /// new ones go last).
    pub fn apply(&self, mut out: Document) -> Result<Document> {
        for (field, value) in &self.set {
            out.insert(field.clone(), value.clone());
        }
        for (field, by) in &self.inc {
            let total = match out.get(field) {
                None => Bson::Int32(*by),
                Some(Bson::Int32(n)) => n
                    .checked_add(*by)
                    .map_or(Bson::Int64(i64::from(*n) + i64::from(*by)), Bson::Int32),
                Some(Bson::Int64(n)) => Bson::Int64(n.saturating_add(i64::from(*by))),
                Some(Bson::Double(n)) => Bson::Double(n + f64::from(*by)),
                Some(other) => {
                    return Err(Error::query(format!(
                        "cannot add to '{field}': it holds a {:?}, not a number",
                        other.element_type()
                    )))
                }
            };
            out.insert(field.clone(), total);
        }
        for (field, values) in &self.push {
            let mut array = match out.get(field) {
                None => Vec::new(),
                Some(Bson::Array(items)) => items.clone(),
                Some(other) => {
                    return Err(Error::query(format!(
                        "cannot append to '{field}': it holds a {:?}, not an array",
                        other.element_type()
                    )))
                }
            };
            array.extend(values.iter().cloned());
            out.insert(field.clone(), array);
        }
        Ok(out)
    }

    /// The MongoDB update document (`{$set, $inc, $push: {f: {$each}}}`).
    pub fn to_document(&self) -> Document {
        let mut out = Document::new();
        if !self.set.is_empty() {
            out.insert("$set", self.set.iter().cloned().collect::<Document>());
        }
        if !self.inc.is_empty() {
            out.insert(
                "$inc",
                self.inc
                    .iter()
                    .map(|(f, by)| (f.clone(), Bson::Int32(*by)))
                    .collect::<Document>(),
            );
        }
        if !self.push.is_empty() {
            out.insert(
                "$push",
                self.push
                    .iter()
                    .map(|(f, values)| {
                        (
                            f.clone(),
                            Bson::Document(bson::doc! {"$each": values.clone()}),
                        )
                    })
                    .collect::<Document>(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn applies_like_mongodb() {
        let doc = doc! {"status": "IN_PROGRESS", "created_count": 2, "errors": []};
        let update = Update::new()
            .set("status", "SUCCESS")
            .inc("created_count", 3)
            .inc("updated_count", 1)
            .push("errors", vec![Bson::Document(doc! {"error_code": "E"})]);
        let out = update.apply(doc.clone()).expect("applies");
        assert_eq!(
            out,
            doc! {"status": "SUCCESS", "created_count": 5, "errors": [{"error_code": "E"}], "updated_count": 1}
        );
        let big = doc! {"n": i32::MAX};
        assert_eq!(
            Update::new().inc("n", 1).apply(big).expect("promotes"),
            doc! {"n": i64::from(i32::MAX) + 1}
        );
    }

    #[test]
    fn refuses_type_clashes_and_id_changes_without_changing_anything() {
        let doc = doc! {"errors": null, "n": "x"};
        assert!(Update::new()
            .push("errors", vec![])
            .apply(doc.clone())
            .is_err());
        assert!(Update::new().inc("n", 1).apply(doc.clone()).is_err());
        assert!(Update::new()
            .set("job_id", "x")
            .check(Some("job_id"))
            .is_err());
        assert!(Update::new().set("a", 1).inc("a", 1).check(None).is_err());
        assert!(Update::new().set("a.b", 1).check(None).is_err());
        assert!(Update::new().set("a", 1).check(None).is_ok());
    }
}
