//! The storage trait every backend implements, and [`MemoryStore`], the in-memory one.
//!
//! A store holds named collections of documents and answers compiled plans. The trait is kept
//! small: `list`, `stat` and `insert`. Lifecycle writes (a conditional status change, an
//! atomic counter decrement) fit as further methods taking a compiled [`Filter`] and an update
//! description, answered atomically per document by each backend.
//!
//! [`Filter`]: crate::query::plan::Filter

use crate::error::{Error, Result};
use crate::eval::{Collection, ListOutput, StatOutput};
use crate::exec::{run_cpu, Deadline};
use crate::query::{ListPlan, StatPlan};
use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::Document;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A document store answering compiled queries over one service's collections.
///
/// `list` and `stat` get the request's [`Deadline`]: a store stops its work (or tells its
/// server to) once it has passed, and never evaluates on the async worker threads (see
/// [`crate::exec::run_cpu`]).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Documents matching `plan`, sorted, paged and projected, with the total count.
    async fn list(
        &self,
        collection: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> Result<ListOutput>;

    /// Distinct values or aggregate rows of the documents matching `plan`.
    async fn stat(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> Result<StatOutput>;

    /// Appends documents (an `_id` ObjectId is assigned where missing). All or nothing: a
    /// public id already taken (or repeated) is `NotUnique` and nothing is written.
    async fn insert(&self, collection: &str, documents: Vec<Document>) -> Result<()>;
}

/// The public id field of a collection's documents (`job_task_id` of `job_task`, `job_id` of
/// `job`), unique in every store.
pub fn public_id_field(collection: &str) -> Option<&'static str> {
    match collection {
        "job_task" => Some("job_task_id"),
        "job" => Some("job_id"),
        _ => None,
    }
}

/// Gives a document an ObjectId `_id` first in field order, as MongoDB does, if it has none.
pub fn ensure_object_id(doc: Document) -> Document {
    if doc.contains_key("_id") {
        return doc;
    }
    let mut out = Document::new();
    out.insert("_id", ObjectId::new());
    out.extend(doc);
    out
}

/// Named [`Collection`]s in memory, shared between the async side and the evaluation threads:
/// `list` and `stat` run on the rayon pool under a read lock, appends take the write lock
/// briefly. Cheap to clone (clones share the collections).
#[derive(Debug, Default, Clone)]
pub struct Collections {
    inner: Arc<std::sync::RwLock<HashMap<String, Collection>>>,
    /// The public ids taken in each collection (see [`public_id_field`]).
    ids: Arc<std::sync::Mutex<HashMap<String, HashSet<String>>>>,
}

impl Collections {
    /// No collections.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Collection>> {
        // A panic while holding the lock leaves whole collections (appends are per document).
        self.inner.read().unwrap_or_else(|e| e.into_inner())
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

    /// `NotUnique` when a document's public id is taken in collection `name` or repeated in
    /// `documents`; call [`Collections::append`] after it under the same writer (the embedded
    /// store's write lock), so no other insert slips in between.
    pub fn check_unique(&self, name: &str, documents: &[Document]) -> Result<()> {
        let Some(field) = public_id_field(name) else {
            return Ok(());
        };
        let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let taken = ids.get(name);
        let mut batch = HashSet::new();
        for id in documents.iter().filter_map(|d| d.get_str(field).ok()) {
            if taken.is_some_and(|t| t.contains(id)) || !batch.insert(id) {
                return Err(Error::NotUnique {
                    key: field.to_string(),
                    value: id.to_string(),
                });
            }
        }
        Ok(())
    }

    fn remember_ids(&self, name: &str, documents: &[Document]) {
        let Some(field) = public_id_field(name) else {
            return;
        };
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let taken = ids.entry(name.to_string()).or_default();
        taken.extend(
            documents
                .iter()
                .filter_map(|d| d.get_str(field).ok())
                .map(str::to_string),
        );
    }

    /// Appends documents to collection `name`, in order.
    pub fn append(&self, name: &str, documents: Vec<Document>) {
        self.remember_ids(name, &documents);
        let mut map = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let target = map.entry(name.to_string()).or_default();
        for doc in documents {
            target.push(doc);
        }
    }

    /// Replaces collection `name` whole (used when loading a store).
    pub fn set(&self, name: &str, collection: Collection) {
        self.remember_ids(name, collection.documents());
        let mut map = self.inner.write().unwrap_or_else(|e| e.into_inner());
        map.insert(name.to_string(), collection);
    }

    /// Number of documents in collection `name`.
    pub fn count(&self, name: &str) -> usize {
        self.read().get(name).map_or(0, Collection::len)
    }
}

/// Collections held in memory, in insertion order, evaluated by the core engine.
#[derive(Debug, Default)]
pub struct MemoryStore {
    collections: Collections,
    /// Orders inserts, so a uniqueness check and its append are one step.
    writer: tokio::sync::Mutex<()>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn list(
        &self,
        collection: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> Result<ListOutput> {
        self.collections.list(collection, plan, deadline).await
    }

    async fn stat(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> Result<StatOutput> {
        self.collections.stat(collection, plan, deadline).await
    }

    async fn insert(&self, collection: &str, documents: Vec<Document>) -> Result<()> {
        let _writer = self.writer.lock().await;
        self.collections.check_unique(collection, &documents)?;
        self.collections.append(
            collection,
            documents.into_iter().map(ensure_object_id).collect(),
        );
        Ok(())
    }
}
