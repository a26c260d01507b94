//! [`MemoryStore`]: collections held in memory only, evaluated by the core engine. Writes are
//! ordered by one lock, so each batch is atomic and none interleaves with another.

use crate::collection::encode;
use crate::{Collections, Group};
use async_trait::async_trait;
use bson::Bson;
use bson::Document;
use spacejobs_core::error::Result;
use spacejobs_core::store::{ensure_object_id, ExportChunk, Render, Rendered, Store};
use spacejobs_core::store::{ListOutput, StatOutput};
use spacejobs_core::write::{Write, Written};
use spacejobs_exec::{run_cpu, Deadline};
use spacejobs_query::plan::Filter;
use spacejobs_query::{ListPlan, Plan, StatPlan};

/// Collections held in memory, in insertion order, evaluated by the core engine.
#[derive(Debug, Default)]
pub struct MemoryStore {
    collections: Collections,
    /// Orders writes, so a check (uniqueness, a filter) and its change are one step.
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

    async fn list_rendered(
        &self,
        collection: &str,
        plan: ListPlan,
        deadline: &Deadline,
        render: Render,
    ) -> Result<Rendered> {
        self.collections
            .list_rendered(collection, plan, deadline, render)
            .await
    }

    async fn stat(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> Result<StatOutput> {
        self.collections.stat(collection, plan, deadline).await
    }

    async fn export_chunk(
        &self,
        collection: &str,
        filter: &Filter,
        cursor: Option<Bson>,
        limit: usize,
        deadline: &Deadline,
    ) -> Result<ExportChunk> {
        self.collections
            .export_chunk(collection, filter, cursor, limit, deadline)
            .await
    }

    async fn explain(
        &self,
        collection: &str,
        plan: &Plan,
        deadline: &Deadline,
    ) -> Result<serde_json::Value> {
        self.collections
            .explain("memory", collection, plan, deadline)
            .await
    }

    async fn insert(&self, collection: &str, documents: Vec<Document>) -> Result<()> {
        let _writer = self.writer.lock().await;
        self.collections.check_unique(collection, &documents)?;
        self.collections.append(
            collection,
            documents.into_iter().map(ensure_object_id).collect(),
        )
    }

    async fn insert_together(
        &self,
        batches: Vec<(String, Vec<Document>)>,
        _deadline: &Deadline,
    ) -> Result<()> {
        let _writer = self.writer.lock().await;
        let mut encoded = Vec::with_capacity(batches.len());
        for (collection, documents) in batches {
            self.collections.check_unique(&collection, &documents)?;
            let documents = documents
                .into_iter()
                .map(|d| encode(&ensure_object_id(d)))
                .collect::<Result<Vec<_>>>()?;
            encoded.push((collection, documents));
        }
        for (collection, documents) in encoded {
            self.collections.append_encoded(&collection, documents);
        }
        Ok(())
    }

    async fn find(
        &self,
        collection: &str,
        filter: &Filter,
        deadline: &Deadline,
    ) -> Result<Vec<Document>> {
        self.collections.find(collection, filter, deadline).await
    }

    async fn write(&self, writes: Vec<Write>, deadline: &Deadline) -> Result<Vec<Written>> {
        let _writer = self.writer.lock().await;
        let collections = self.collections.clone();
        let planned = run_cpu(deadline, move |deadline| {
            let mut group = Group::new();
            let written = collections.plan_into(&mut group, &writes, deadline)?;
            Ok::<_, spacejobs_core::Error>(written.map(|w| (group, w)))
        })
        .await?;
        Ok(match planned {
            Some((group, written)) => {
                self.collections.apply_group(group);
                written
            }
            None => Vec::new(),
        })
    }
}
