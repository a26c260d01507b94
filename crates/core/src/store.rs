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
use crate::query::{ListPlan, StatPlan};
use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::Document;
use std::collections::HashMap;
use tokio::sync::RwLock;

/// A document store answering compiled queries over one service's collections.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Documents matching `plan`, sorted, paged and projected, with the total count.
    async fn list(&self, collection: &str, plan: &ListPlan) -> Result<ListOutput>;

    /// Distinct values or aggregate rows of the documents matching `plan`.
    async fn stat(&self, collection: &str, plan: &StatPlan) -> Result<StatOutput>;

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

/// Collections held in memory, in insertion order, evaluated by the core engine.
#[derive(Debug, Default)]
pub struct MemoryStore {
    collections: RwLock<HashMap<String, Collection>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn list(&self, collection: &str, plan: &ListPlan) -> Result<ListOutput> {
        let collections = self.collections.read().await;
        Ok(collections
            .get(collection)
            .map(|c| c.list(plan))
            .unwrap_or_default())
    }

    async fn stat(&self, collection: &str, plan: &StatPlan) -> Result<StatOutput> {
        let collections = self.collections.read().await;
        match collections.get(collection) {
            Some(c) => c.stat(plan),
            None => Collection::new().stat(plan),
        }
    }

    async fn insert(&self, collection: &str, documents: Vec<Document>) -> Result<()> {
        let mut collections = self.collections.write().await;
        let target = collections.entry(collection.to_string()).or_default();
        for doc in documents {
            target.push(ensure_object_id(doc));
        }
        Ok(())
    }
}
