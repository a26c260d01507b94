//! [`PublicIds`]: the public ids of each collection (`job_task_id`, `job_id`: see
//! [`spacejobs_core::store::public_id_field`]) by the id of their interned string, each with the sequence
//! number of its document. Inserts check uniqueness here, and a filter naming one public id
//! (every lifecycle read and write) finds its document here instead of scanning the
//! collection.

use crate::columns::{Cell, Columns};
use crate::Collection;
use bson::Bson;
use spacejobs_core::store::public_id_field;
use spacejobs_query::plan::{Filter, Op};
use std::collections::HashMap;

/// The public ids of every collection.
#[derive(Debug, Default)]
pub struct PublicIds {
    by_collection: HashMap<String, Ids>,
}

/// One collection's public ids, made beside the ones in use ([`PublicIds::computed`]).
#[derive(Debug)]
pub struct IdsOf(Ids);

/// The public ids of one collection.
#[derive(Debug, Default)]
struct Ids {
    /// Interned string id → sequence number of the document holding it.
    seq_of: hashbrown::HashMap<u32, u64>,
    /// Documents whose public id is an array or a document: an `eq` filter may match them
    /// through their elements, so a lookup by id alone would not be exact.
    odd: usize,
}

impl Ids {
    /// Notes the public ids of rows `rows` of columns `columns` of collection `name`.
    fn note(
        &mut self,
        name: &str,
        columns: &Columns,
        seq: impl Fn(usize) -> Option<u64>,
        rows: std::ops::Range<usize>,
    ) {
        let Some(cells) = public_id_field(name).and_then(|f| columns.column(f)) else {
            return;
        };
        for row in rows {
            match cells.get(row) {
                Cell::Str(sid) => {
                    if let Some(seq) = seq(row) {
                        self.seq_of.insert(sid, seq);
                    }
                }
                Cell::Complex => self.odd += 1,
                _ => {}
            }
        }
    }
}

impl PublicIds {
    /// True when string `sid` is the public id of a document of collection `name`.
    pub fn taken(&self, name: &str, sid: u32) -> bool {
        self.by_collection
            .get(name)
            .is_some_and(|ids| ids.seq_of.contains_key(&sid))
    }

    /// Takes note of the public ids of rows `rows` of `collection` (named `name`).
    pub fn remember(&mut self, name: &str, collection: &Collection, rows: std::ops::Range<usize>) {
        let ids = self.by_collection.entry(name.to_string()).or_default();
        ids.note(name, collection.columns(), |row| collection.seq(row), rows);
    }

    /// The public ids of a collection named `name` whose columns are `columns` and whose
    /// row `i` has sequence number `seq(i)` (columns built again, before they are swapped
    /// in): see [`Self::replace`].
    pub fn computed(
        name: &str,
        columns: &Columns,
        seq: impl Fn(usize) -> Option<u64>,
        rows: usize,
    ) -> IdsOf {
        let mut ids = Ids::default();
        ids.note(name, columns, seq, 0..rows);
        IdsOf(ids)
    }

    /// Puts the ids [`Self::computed`] for collection `name` in place of its ids.
    pub fn replace(&mut self, name: &str, ids: IdsOf) {
        self.by_collection.insert(name.to_string(), ids.0);
    }

    /// Forgets the public ids of rows `rows` of `collection`, about to be removed.
    pub fn forget(&mut self, name: &str, collection: &Collection, rows: &[usize]) {
        let (Some(cells), Some(ids)) = (
            public_id_field(name).and_then(|f| collection.columns().column(f)),
            self.by_collection.get_mut(name),
        ) else {
            return;
        };
        for &row in rows {
            match cells.get(row) {
                Cell::Str(sid) => {
                    ids.seq_of.remove(&sid);
                }
                Cell::Complex => ids.odd = ids.odd.saturating_sub(1),
                _ => {}
            }
        }
    }

    /// Forgets every id of collection `name` (it is replaced whole).
    pub fn clear(&mut self, name: &str) {
        self.by_collection.remove(name);
    }

    /// The row of `collection` (named `name`) that can match `filter`, when the filter's AND
    /// part names one public id with `eq`: `Some(None)` when no document holds it, `None`
    /// when the filter names no public id (or the lookup would not be exact). The row still
    /// has to meet the rest of the filter.
    pub fn candidate(
        &self,
        name: &str,
        collection: Option<&Collection>,
        filter: &Filter,
    ) -> Option<Option<usize>> {
        let field = public_id_field(name)?;
        let id = filter
            .all
            .iter()
            .find_map(|c| match (c.path.parts(), &c.op) {
                ([f], Op::Eq(Bson::String(id))) if f == field => Some(id.as_str()),
                _ => None,
            })?;
        let ids = self.by_collection.get(name);
        if ids.is_some_and(|ids| ids.odd > 0) {
            return None;
        }
        let Some(collection) = collection else {
            return Some(None);
        };
        let seq = collection
            .columns()
            .strings()
            .find(id)
            .and_then(|sid| ids?.seq_of.get(&sid).copied());
        Some(seq.and_then(|seq| collection.index_of_seq(seq)))
    }
}
