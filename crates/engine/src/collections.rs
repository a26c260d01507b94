//! [`Collections`]: named in-memory collections shared between the async side and the
//! evaluation threads, with the unique public ids of each ([`PublicIds`]). The memory and
//! embedded stores keep their documents here; writes are planned into a [`super::Group`]
//! and applied here once the store has made them durable.

use super::public_ids::PublicIds;
use crate::collection::encode;
use crate::Collection;
use bson::Document;
use spacejobs_core::error::{Error, Result};
use spacejobs_core::model::public_id_field;
use spacejobs_core::store::{ListOutput, StatOutput};
use spacejobs_exec::{run_cpu, run_here, Deadline};
use spacejobs_query::plan::Filter;
use spacejobs_query::{ListPlan, Plan, StatPlan};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

/// Named [`Collection`]s in memory: `list` and `stat` run on the request pool under a read
/// lock, writes take the write lock briefly. Writers (the stores) serialise their writes with
/// their own lock, so that what a write planned is still true when it is applied. Cheap to
/// clone (clones share the collections).
#[derive(Debug, Default, Clone)]
pub struct Collections {
    inner: Arc<RwLock<HashMap<String, Collection>>>,
    /// The public ids taken in each collection (see [`public_id_field`]), as the ids of their
    /// interned strings in the collection's cells.
    ids: Arc<Mutex<PublicIds>>,
}

impl Collections {
    /// No collections.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Collection>> {
        // A panic while holding the lock leaves whole collections (changes are per document).
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Collection>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn ids(&self) -> std::sync::MutexGuard<'_, PublicIds> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next chunk of an export of collection `name` ([`spacejobs_core::store::Store::export_chunk`]), in
    /// insertion order: the cursor is the last document's sequence number, which no write
    /// moves (a document replaced keeps its number; numbers only grow).
    pub async fn export_chunk(
        &self,
        name: &str,
        filter: &spacejobs_query::plan::Filter,
        cursor: Option<bson::Bson>,
        limit: usize,
        deadline: &Deadline,
    ) -> Result<spacejobs_core::store::ExportChunk> {
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
            None => Ok(spacejobs_core::store::ExportChunk::default()),
        })
        .await
    }

    /// The documents of collection `name` matching `filter`, in insertion order
    /// ([`spacejobs_core::store::Store::find`]). A filter naming one public id (every lifecycle read) is
    /// answered at once from the ids, and one the value indexes narrow to a few rows (a job's
    /// tasks) by a list right here, when the collections are not being written; any other
    /// on the request pool, where a public id is still looked up, not scanned for.
    pub async fn find(
        &self,
        name: &str,
        filter: &Filter,
        deadline: &Deadline,
    ) -> Result<Vec<Document>> {
        if let Some(found) = self.find_by_id(name, filter, Wait::No) {
            return found;
        }
        let plan = ListPlan::matching(filter.clone());
        if let Some(answer) = self.list_inline(name, &plan, deadline) {
            return answer?.parsed();
        }
        let (this, name, filter) = (self.clone(), name.to_string(), filter.clone());
        run_cpu(deadline, move |deadline| {
            if let Some(found) = this.find_by_id(&name, &filter, Wait::Yes) {
                return found;
            }
            match this.read().get(&name) {
                Some(c) => c.list(&plan, deadline)?.parsed(),
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    /// [`Self::find`] through the public ids: `None` when the filter names no public id, or
    /// (with [`Wait::No`]) the collections are being written.
    fn find_by_id(&self, name: &str, filter: &Filter, wait: Wait) -> Option<Result<Vec<Document>>> {
        let map = match wait {
            Wait::Yes => self.read(),
            Wait::No => self.inner.try_read().ok()?,
        };
        let collection = map.get(name);
        // The ids' lock is only ever held for lookups and short updates.
        let row = self.ids().candidate(name, collection, filter)?;
        let (Some(row), Some(collection)) = (row, collection) else {
            return Some(Ok(Vec::new()));
        };
        Some(collection.document(row).map(|doc| {
            if crate::filter::matches(&doc, filter) {
                vec![doc]
            } else {
                Vec::new()
            }
        }))
    }

    /// Answers a list plan over collection `name` on the request pool, within `deadline`
    /// (right here when it is a lookup of a few rows, see [`Self::list_inline`]).
    pub async fn list(
        &self,
        name: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> Result<ListOutput> {
        if let Some(answer) = self.list_inline(name, plan, deadline) {
            return answer;
        }
        let (this, name, plan) = (self.clone(), name.to_string(), plan.clone());
        run_cpu(deadline, move |deadline| match this.read().get(&name) {
            Some(c) => c.list(&plan, deadline),
            None => Ok(ListOutput::default()),
        })
        .await
    }

    /// [`Self::list`] on the calling thread, when the collections are not being written and
    /// the value indexes leave at most [`INLINE_ROWS`] rows to answer `plan` (the lifecycle's
    /// lookups of a job's tasks): work that short costs less than the two thread wake-ups of
    /// a handoff to the request pool, and keeps a burst of writers' lookups out of the
    /// pool's queue, where reads would wait behind them. `None` to use the pool.
    fn list_inline(
        &self,
        name: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> Option<Result<ListOutput>> {
        let map = self.inner.try_read().ok()?;
        let collection = map.get(name)?;
        if !collection.narrows_to(&plan.filter, INLINE_ROWS) {
            return None;
        }
        Some(run_here(deadline, |deadline| {
            collection.list(plan, deadline)
        }))
    }

    /// [`Self::list`], then `render` on the answer, in the same task on the request pool.
    pub async fn list_rendered(
        &self,
        name: &str,
        plan: ListPlan,
        deadline: &Deadline,
        render: spacejobs_core::store::Render,
    ) -> Result<spacejobs_core::store::Rendered> {
        let (this, name) = (self.clone(), name.to_string());
        run_cpu(deadline, move |deadline| {
            let out = match this.read().get(&name) {
                Some(c) => c.list(&plan, deadline)?,
                None => ListOutput::default(),
            };
            render(out)
        })
        .await
    }

    /// Answers a stat plan over collection `name` on the request pool, within `deadline`.
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

    /// A store's [`spacejobs_core::Store::explain`] over these collections:
    /// `{"store": store, "collection": name, "engine": …}`, what collection `name` would do
    /// to answer `plan` (see [`Collection::explain`]), found on the request pool.
    pub async fn explain(
        &self,
        store: &str,
        name: &str,
        plan: &Plan,
        deadline: &Deadline,
    ) -> Result<serde_json::Value> {
        let (this, collection, plan) = (self.clone(), name.to_string(), plan.clone());
        let engine = run_cpu(deadline, move |_| {
            Ok::<_, spacejobs_core::Error>(match this.read().get(&collection) {
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
        let taken = self.ids();
        let mut batch = hashbrown::HashSet::with_capacity(n);
        for id in ids {
            let stored = strings
                .and_then(|s| s.find(id))
                .is_some_and(|sid| taken.taken(name, sid));
            if stored || !batch.insert(id) {
                return Err(Error::NotUnique {
                    key: field.to_string(),
                    value: id.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Takes note of the public ids of rows `rows` of `collection` (named `name`). Called
    /// with the collections' lock held.
    fn remember_ids(&self, name: &str, collection: &Collection, rows: std::ops::Range<usize>) {
        self.ids().remember(name, collection, rows);
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
        let target = map
            .entry(name.to_string())
            .or_insert_with(|| indexed(name, Collection::new()));
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
        let collection = indexed(name, collection);
        let mut map = self.write();
        self.ids().clear(name);
        self.remember_ids(name, &collection, 0..collection.len());
        map.insert(name.to_string(), collection);
    }

    /// Number of documents in collection `name`.
    pub fn count(&self, name: &str) -> usize {
        self.read().get(name).map_or(0, Collection::len)
    }

    /// Distinct strings interned by collection `name`'s columns (what its documents hold,
    /// and what removed ones held until reclaimed).
    pub fn strings_of(&self, name: &str) -> usize {
        self.read()
            .get(name)
            .map_or(0, |c| c.columns().strings().len())
    }

    /// The sequence number the next document appended to `name` gets.
    pub fn next_seq(&self, name: &str) -> u64 {
        self.read().get(name).map_or(0, Collection::next_seq)
    }

    /// Removes the documents at `indices` of collection `name`, freeing their public ids.
    pub(super) fn remove(&self, name: &str, indices: &[usize]) {
        let mut map = self.write();
        let Some(collection) = map.get_mut(name) else {
            return;
        };
        self.ids().forget(name, collection, indices);
        collection.remove(indices);
    }

    /// The upkeep due on the collections named ([`Collection::upkeep`]: bytes packed again,
    /// strings of removed documents reclaimed, the strings' table grown ahead of the
    /// inserts), built under the read lock while readers go on,
    /// then swapped in under the write lock in a moment. Called by the store's single writer
    /// after a write; an upkeep a write overtook is dropped (the next write builds it again).
    pub fn upkeep<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            let built = {
                let map = self.read();
                map.get(name).and_then(|c| {
                    let upkeep = c.upkeep()?;
                    let ids = upkeep
                        .columns()
                        .map(|columns| PublicIds::computed(name, columns, |i| c.seq(i), c.len()));
                    Some((upkeep, ids))
                })
            };
            let Some((upkeep, ids)) = built else {
                continue;
            };
            let mut map = self.write();
            let Some(collection) = map.get_mut(name) else {
                continue;
            };
            let (installed, replaced) = collection.install(upkeep);
            if let (true, Some(ids)) = (installed, ids) {
                // The strings were interned again: the ids by their new numbers.
                self.ids().replace(name, ids);
            }
            drop(map);
            // What was replaced (or the stale upkeep) is freed here, outside the lock.
            drop(replaced);
        }
    }
}

/// Whether a lookup waits for the collections' lock.
#[derive(Clone, Copy)]
enum Wait {
    Yes,
    No,
}

/// Rows a list may have left by the value indexes to be answered on the calling thread
/// ([`Collections::list_inline`]).
const INLINE_ROWS: u64 = 64;

/// `collection` with every value of collection `name`'s [`spacejobs_core::store::reference_fields`] indexed.
fn indexed(name: &str, mut collection: Collection) -> Collection {
    for field in spacejobs_core::store::reference_fields(name) {
        collection.index_every_value(field);
    }
    collection
}
