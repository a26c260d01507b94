//! The storage trait every backend implements, and [`MemoryStore`], the in-memory one.
//!
//! A store holds named collections of documents and answers compiled plans. The trait is kept
//! small: `list`, `stat` and `insert`. Lifecycle writes (a conditional status change, an
//! atomic counter decrement) fit as further methods taking a compiled [`Filter`] and an update
//! description, answered atomically per document by each backend.
//!
//! [`Filter`]: crate::query::plan::Filter

use crate::error::Result;
use crate::eval::{Collection, ListOutput, StatOutput};
use crate::exec::{run_cpu, Deadline};
use crate::query::{ListPlan, StatPlan};
use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::Document;
use std::collections::HashMap;
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

    /// Appends documents (an `_id` ObjectId is assigned where missing). All or nothing.
    async fn insert(&self, collection: &str, documents: Vec<Document>) -> Result<()>;
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

    /// Appends documents to collection `name`, in order.
    pub fn append(&self, name: &str, documents: Vec<Document>) {
        let mut map = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let target = map.entry(name.to_string()).or_default();
        for doc in documents {
            target.push(doc);
        }
    }

    /// Replaces collection `name` whole (used when loading a store).
    pub fn set(&self, name: &str, collection: Collection) {
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
        self.collections.append(
            collection,
            documents.into_iter().map(ensure_object_id).collect(),
        );
        Ok(())
    }
}
