//! [`Collections`]: named in-memory collections shared between the async side and the
//! evaluation threads, with the unique public ids of each. The memory and embedded stores
//! keep their documents here; writes are planned here (on the rayon pool) and applied here
//! once the store has made them durable.

use super::public_id_field;
use crate::error::{Error, Result};
use crate::eval::collection::encode;
use crate::eval::columns::Cell;
use crate::eval::{Collection, ListOutput, StatOutput};
use crate::exec::{run_cpu, Deadline};
use crate::query::{ListPlan, Plan, StatPlan};
use crate::write::{Write, Written};
use bson::Document;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

/// A document as a write would leave it, found at `index` with sequence number `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// Position in the collection when the change was planned.
    pub index: usize,
    /// The document's sequence number (the embedded store's key).
    pub seq: u64,
    /// The document after the change.
    pub document: Document,
    /// Its BSON bytes.
    pub raw: Box<[u8]>,
}

/// Named [`Collection`]s in memory: `list` and `stat` run on the rayon pool under a read
/// lock, writes take the write lock briefly. Writers (the stores) serialise their writes with
/// their own lock, so that what a write planned is still true when it is applied. Cheap to
/// clone (clones share the collections).
#[derive(Debug, Default, Clone)]
pub struct Collections {
    inner: Arc<RwLock<HashMap<String, Collection>>>,
    /// The public ids taken in each collection (see [`public_id_field`]), as the ids of their
    /// interned strings in the collection's cells.
    ids: Arc<Mutex<HashMap<String, hashbrown::HashSet<u32>>>>,
}

impl Collections {
    /// No collections.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Collection>> {
        // A panic while holding the lock leaves whole collections (changes are per document).
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Collection>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, hashbrown::HashSet<u32>>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next chunk of an export of collection `name` ([`super::Store::export_chunk`]), in
    /// insertion order: the cursor is the last document's sequence number, which no write
    /// moves (a document replaced keeps its number; numbers only grow).
    pub async fn export_chunk(
        &self,
        name: &str,
        filter: &crate::query::plan::Filter,
        cursor: Option<bson::Bson>,
        limit: usize,
        deadline: &Deadline,
    ) -> Result<super::ExportChunk> {
        let after = match cursor {
            None => None,
            Some(bson::Bson::Int64(seq)) => Some(u64::try_from(seq).unwrap_or(0)),
            Some(other) => {
                return Err(Error::InvalidParameterType {
                    key: "cursor".into(),
                    reason: format!("not a position of this store: {other}"),
                })
            }
        };
        let (this, name, filter) = (self.clone(), name.to_string(), filter.clone());
        run_cpu(deadline, move |deadline| match this.read().get(&name) {
            Some(c) => c.export_chunk(&filter, after, limit, deadline),
            None => Ok(super::ExportChunk::default()),
        })
        .await
    }

    /// Answers a list plan over collection `name` on the rayon pool, within `deadline`.
    pub async fn list(
        &self,
        name: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> Result<ListOutput> {
        let (this, name, plan) = (self.clone(), name.to_string(), plan.clone());
        run_cpu(deadline, move |deadline| match this.read().get(&name) {
            Some(c) => c.list(&plan, deadline),
            None => Ok(ListOutput::default()),
        })
        .await
    }

    /// [`Self::list`], then `finish` on the answer, in the same task on the rayon pool.
    pub async fn list_finished(
        &self,
        name: &str,
        plan: ListPlan,
        deadline: &Deadline,
        finish: super::Finish,
    ) -> Result<super::Finished> {
        let (this, name) = (self.clone(), name.to_string());
        run_cpu(deadline, move |deadline| {
            let out = match this.read().get(&name) {
                Some(c) => c.list(&plan, deadline)?,
                None => ListOutput::default(),
            };
            finish(out)
        })
        .await
    }

    /// Answers a stat plan over collection `name` on the rayon pool, within `deadline`.
    pub async fn stat(
        &self,
        name: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> Result<StatOutput> {
        let (this, name, plan) = (self.clone(), name.to_string(), plan.clone());
        run_cpu(deadline, move |deadline| match this.read().get(&name) {
            Some(c) => c.stat(&plan, deadline),
            None => Collection::new().stat(&plan, deadline),
        })
        .await
    }

    /// A store's [`crate::Store::explain`] over these collections:
    /// `{"store": store, "collection": name, "engine": …}`, what collection `name` would do
    /// to answer `plan` (see [`Collection::explain`]), found on the rayon pool.
    pub async fn explain(
        &self,
        store: &str,
        name: &str,
        plan: &Plan,
        deadline: &Deadline,
    ) -> Result<serde_json::Value> {
        let (this, collection, plan) = (self.clone(), name.to_string(), plan.clone());
        let engine = run_cpu(deadline, move |_| {
            Ok(match this.read().get(&collection) {
                Some(c) => c.explain(&plan),
                None => Collection::new().explain(&plan),
            })
        })
        .await?;
        Ok(serde_json::json!({"store": store, "collection": name, "engine": engine}))
    }

    /// `NotUnique` when a document's public id is taken in collection `name` or repeated in
    /// `documents`; call [`Collections::append`] after it under the same writer lock, so no
    /// other insert slips in between.
    pub fn check_unique(&self, name: &str, documents: &[Document]) -> Result<()> {
        let Some(field) = public_id_field(name) else {
            return Ok(());
        };
        let ids = documents.iter().filter_map(|d| d.get_str(field).ok());
        self.check_unique_ids(name, field, documents.len(), ids)
    }

    /// [`Collections::check_unique`] of documents given as BSON bytes (from [`encode`]).
    pub fn check_unique_encoded(&self, name: &str, documents: &[Box<[u8]>]) -> Result<()> {
        let Some(field) = public_id_field(name) else {
            return Ok(());
        };
        let ids = documents.iter().filter_map(|bytes| {
            bson::RawDocument::from_bytes(bytes)
                .ok()?
                .get_str(field)
                .ok()
        });
        self.check_unique_ids(name, field, documents.len(), ids)
    }

    /// `NotUnique` when one of `ids` (about `n` of them) is taken or repeated.
    fn check_unique_ids<'a>(
        &self,
        name: &str,
        field: &str,
        n: usize,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        let map = self.read();
        let strings = map.get(name).map(|c| c.columns().strings());
        let taken_ids = self.ids();
        let taken = taken_ids.get(name);
        let mut batch = hashbrown::HashSet::with_capacity(n);
        for id in ids {
            let stored = strings
                .and_then(|s| s.find(id))
                .is_some_and(|sid| taken.is_some_and(|t| t.contains(&sid)));
            if stored || !batch.insert(id) {
                return Err(Error::NotUnique {
                    key: field.to_string(),
                    value: id.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Takes note of the public ids of rows `rows` of `collection` (named `name`), by the
    /// id of their interned string. Called with the collections' lock held.
    fn remember_ids(&self, name: &str, collection: &Collection, rows: std::ops::Range<usize>) {
        let Some(field) = public_id_field(name) else {
            return;
        };
        let Some(cells) = collection.columns().column(field) else {
            return;
        };
        let mut ids = self.ids();
        let taken = ids.entry(name.to_string()).or_default();
        taken.extend(rows.filter_map(|i| match cells.get(i) {
            Cell::Str(id) => Some(id),
            _ => None,
        }));
    }

    /// Appends documents to collection `name`, in order; their sequence numbers follow the
    /// collection's [`Collection::next_seq`]. Refused, appending none, when one cannot be
    /// stored as BSON.
    pub fn append(&self, name: &str, documents: Vec<Document>) -> Result<()> {
        let encoded = documents.iter().map(encode).collect::<Result<Vec<_>>>()?;
        self.append_encoded(name, encoded);
        Ok(())
    }

    /// [`Collections::append`] of documents already encoded with [`encode`].
    pub fn append_encoded(&self, name: &str, documents: Vec<Box<[u8]>>) {
        let mut map = self.write();
        let target = map.entry(name.to_string()).or_default();
        let first = target.len();
        for doc in documents {
            target.push_trusted(target.next_seq(), doc);
        }
        self.remember_ids(name, target, first..target.len());
    }

    /// True when collection `name` holds no document.
    pub fn is_empty(&self, name: &str) -> bool {
        self.count(name) == 0
    }

    /// Replaces collection `name` whole (used when loading a store).
    pub fn set(&self, name: &str, collection: Collection) {
        let mut map = self.write();
        self.ids().remove(name);
        self.remember_ids(name, &collection, 0..collection.len());
        map.insert(name.to_string(), collection);
    }

    /// Number of documents in collection `name`.
    pub fn count(&self, name: &str) -> usize {
        self.read().get(name).map_or(0, Collection::len)
    }

    /// The sequence number the next document appended to `name` gets.
    pub fn next_seq(&self, name: &str) -> u64 {
        self.read().get(name).map_or(0, Collection::next_seq)
    }

    /// A batch of writes as it would apply to memory now, computed on the rayon pool:
    /// `None` when a [`Write::UpdateOne`] matches nothing (the batch then applies not at
    /// all). Nothing changes until [`Collections::apply`]; the caller holds its writer lock
    /// from planning to applying. Refused when an update cannot apply to a matched document
    /// (a counter holding text) or two steps name one document.
    pub async fn plan(
        &self,
        writes: Vec<Write>,
        deadline: &Deadline,
    ) -> Result<Option<Vec<Planned>>> {
        for write in &writes {
            write.check()?;
        }
        let this = self.clone();
        run_cpu(deadline, move |deadline| {
            let map = this.read();
            let empty = Collection::new();
            let mut touched = HashSet::new();
            let mut planned = Vec::with_capacity(writes.len());
            for write in writes {
                let name = write.collection().to_string();
                let collection = map.get(&name).unwrap_or(&empty);
                let (filter, update, one) = match &write {
                    Write::UpdateOne { filter, update, .. } => (filter, Some(update), true),
                    Write::UpdateMany { filter, update, .. } => (filter, Some(update), false),
                    Write::Delete { filter, .. } => (filter, None, false),
                };
                let mut matched = collection.matching(filter, deadline)?;
                if one {
                    if matched.is_empty() {
                        return Ok(None);
                    }
                    matched.truncate(1);
                }
                for &index in &matched {
                    if !touched.insert((name.clone(), index)) {
                        return Err(Error::Internal(format!(
                            "a write batch names one document of {name} twice"
                        )));
                    }
                }
                let seq = |index: usize| collection.seq(index).unwrap_or_default();
                planned.push(match update {
                    Some(update) => Planned::Changed {
                        collection: name,
                        one,
                        changes: matched
                            .into_iter()
                            .map(|index| {
                                let document = update.apply(&collection.document(index)?)?;
                                Ok(Changed {
                                    index,
                                    seq: seq(index),
                                    raw: encode(&document)?,
                                    document,
                                })
                            })
                            .collect::<Result<_>>()?,
                    },
                    None => Planned::Removed {
                        collection: name,
                        rows: matched.into_iter().map(|i| (i, seq(i))).collect(),
                    },
                });
            }
            Ok(Some(planned))
        })
        .await
    }

    /// Applies a planned batch (the public ids of changed documents are unchanged:
    /// [`crate::write::Update::check`]). What each step did, in order.
    pub fn apply(&self, planned: Vec<Planned>) -> Vec<Written> {
        let mut written = Vec::with_capacity(planned.len());
        let mut removals: Vec<(String, Vec<usize>)> = Vec::new();
        {
            let mut map = self.write();
            for step in planned {
                match step {
                    Planned::Changed {
                        collection,
                        one,
                        changes,
                    } => {
                        written.push(match (one, changes.first()) {
                            (true, Some(c)) => Written::One(c.document.clone()),
                            _ => Written::Many(changes.len() as u64),
                        });
                        if let Some(target) = map.get_mut(&collection) {
                            for change in changes {
                                target.replace(change.index, change.raw);
                            }
                        }
                    }
                    Planned::Removed { collection, rows } => {
                        written.push(Written::Deleted(rows.len() as u64));
                        removals.push((collection, rows.into_iter().map(|(i, _)| i).collect()));
                    }
                }
            }
        }
        // Removals last: they shift the positions the changes were planned at.
        for (collection, indices) in removals {
            self.remove(&collection, &indices);
        }
        written
    }

    /// Removes the documents at `indices` of collection `name`, freeing their public ids.
    fn remove(&self, name: &str, indices: &[usize]) {
        let mut map = self.write();
        let Some(collection) = map.get_mut(name) else {
            return;
        };
        let cells = public_id_field(name).and_then(|f| collection.columns().column(f));
        if let (Some(cells), Some(taken)) = (cells, self.ids().get_mut(name)) {
            for &i in indices {
                if let Cell::Str(id) = cells.get(i) {
                    taken.remove(&id);
                }
            }
        }
        collection.remove(indices);
    }
}

/// One step of a batch as planned by [`Collections::plan`].
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// Documents changed (`one`: by an `UpdateOne`).
    Changed {
        /// Collection.
        collection: String,
        /// From an `UpdateOne`.
        one: bool,
        /// The changed documents.
        changes: Vec<Changed>,
    },
    /// Documents removed: positions and sequence numbers.
    Removed {
        /// Collection.
        collection: String,
        /// `(position, sequence number)` of each.
        rows: Vec<(usize, u64)>,
    },
}
