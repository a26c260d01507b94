//! The embedded store: no server needed. Documents are kept in a redb database file (one
//! table per collection, keyed by insertion sequence, values raw BSON) and mirrored in
//! memory ([`Collections`]), where the core engine answers queries on the request pool.
//!
//! Every write (insert, update, delete) goes to one committer ([`commit`]), which gathers
//! the writes waiting at once into one redb transaction and one disk sync, and only then
//! applies them to memory and acknowledges each. So an acknowledged write survives a crash
//! (`kill -9`), a write cut short leaves nothing behind, concurrent writers share their
//! syncs, and the commit and its mirror in memory run to the end together even when the
//! caller stops waiting.
//!
//! [`Collections`]: spacejobs_engine::Collections

use async_trait::async_trait;
use bson::raw::{RawBsonRef, RawDocumentBuf};
use bson::Document;
use rayon::prelude::*;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle};
mod commit;
mod tables;

use commit::{Committer, Request};
use spacejobs_core::store::{ensure_object_id, Render, Rendered};
use spacejobs_core::write::{Write, Written};
use spacejobs_core::{Deadline, Store};
use spacejobs_core::{ListOutput, StatOutput};
use spacejobs_engine::collection::{encode, validate};
use spacejobs_engine::packed::PackedDocs;
use spacejobs_engine::Collection;
use spacejobs_engine::Collections;
use spacejobs_query::{ListPlan, Plan, StatPlan};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tables::{storage, table, Encoded};
use tokio::sync::oneshot;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong opening the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database file cannot be created, opened or read.
    #[error("embedded store at {path}: {reason}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A stored document is not valid BSON.
    #[error("embedded store: document {key} of {collection} is corrupt: {reason}")]
    Corrupt {
        /// Collection.
        collection: String,
        /// Document key.
        key: u64,
        /// Why.
        reason: String,
    },
}

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "spacejobs.redb";

/// redb's page cache. Reads are served from memory, so the cache only speeds up writes; redb's
/// default (1 GiB) would keep a second copy of every document read at open.
const CACHE_BYTES: usize = 16 << 20;
/// Documents read from the file and handed to the loading thread at once.
const LOAD_CHUNK: usize = 16 * 1024;
/// Chunks read ahead of the loading thread.
const LOAD_AHEAD: usize = 4;

/// The embedded store.
#[derive(Clone)]
pub struct EmbeddedStore {
    collections: Collections,
    /// The single writer: every write goes through it.
    committer: Committer,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `data_dir`, loading every collection into memory.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(DATABASE_FILE);
        let open_err = |e: &dyn std::fmt::Display| Error::Open {
            path: path.clone(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(data_dir).map_err(|e| open_err(&e))?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_err(&e))?;
        let collections = Collections::new();
        let read = db.begin_read().map_err(|e| open_err(&e))?;
        for handle in read.list_tables().map_err(|e| open_err(&e))? {
            let name = handle.name().to_string();
            let t = read.open_table(table(&name)).map_err(|e| open_err(&e))?;
            let expected = usize::try_from(t.len().map_err(|e| open_err(&e))?).unwrap_or(0);
            // Reading goes on here while another thread fills the collection, a chunk
            // behind.
            let (chunks, received) = std::sync::mpsc::sync_channel(LOAD_AHEAD);
            let (read_result, loaded) = std::thread::scope(|scope| {
                let loader = scope.spawn(move || Collection::load_chunks(expected, received));
                let read_result = (|| -> Result<()> {
                    let new_chunk = || (Vec::with_capacity(LOAD_CHUNK), PackedDocs::default());
                    let mut chunk = new_chunk();
                    for entry in t.iter().map_err(|e| open_err(&e))? {
                        let (key, value) = entry.map_err(|e| open_err(&e))?;
                        // Checked here, so that the loader only fills columns.
                        if let Err(e) = validate(value.value()) {
                            let _ = chunks.send(Err((key.value(), e)));
                            return Ok(());
                        }
                        // Copied from the page straight into the collection's blocks.
                        chunk.0.push(key.value());
                        chunk.1.push(value.value());
                        if chunk.0.len() == LOAD_CHUNK {
                            let full = std::mem::replace(&mut chunk, new_chunk());
                            if chunks.send(Ok(full)).is_err() {
                                return Ok(());
                            }
                        }
                    }
                    let _ = chunks.send(Ok(chunk));
                    Ok(())
                })();
                drop(chunks);
                (read_result, loader.join())
            });
            read_result?;
            let collection = loaded
                .map_err(|_| open_err(&"the loading thread panicked"))?
                .map_err(|(key, e)| Error::Corrupt {
                    collection: name.clone(),
                    key,
                    reason: e.to_string(),
                })?;
            collections.set(&name, collection);
        }
        Ok(EmbeddedStore {
            committer: Committer::new(Arc::new(db), collections.clone()),
            collections,
        })
    }

    /// Number of documents in a collection.
    pub async fn count(&self, collection: &str) -> usize {
        self.collections.count(collection)
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn list(
        &self,
        collection: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<ListOutput> {
        self.collections.list(collection, plan, deadline).await
    }

    async fn export_chunk(
        &self,
        collection: &str,
        filter: &spacejobs_query::plan::Filter,
        cursor: Option<bson::Bson>,
        limit: usize,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<spacejobs_core::store::ExportChunk> {
        self.collections
            .export_chunk(collection, filter, cursor, limit, deadline)
            .await
    }

    async fn list_rendered(
        &self,
        collection: &str,
        plan: ListPlan,
        deadline: &Deadline,
        render: Render,
    ) -> spacejobs_core::Result<Rendered> {
        self.collections
            .list_rendered(collection, plan, deadline, render)
            .await
    }

    async fn stat(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<StatOutput> {
        self.collections.stat(collection, plan, deadline).await
    }

    async fn explain(
        &self,
        collection: &str,
        plan: &Plan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<serde_json::Value> {
        self.collections
            .explain("embedded", collection, plan, deadline)
            .await
    }

    async fn insert(
        &self,
        collection: &str,
        documents: Vec<Document>,
    ) -> spacejobs_core::Result<()> {
        self.insert_batches(vec![(collection.to_string(), documents)])
            .await
    }

    async fn insert_raw(
        &self,
        collection: &str,
        documents: Vec<RawDocumentBuf>,
    ) -> spacejobs_core::Result<()> {
        let encoded = tokio::task::spawn_blocking(move || prepare_raw(documents))
            .await
            .map_err(storage)??;
        self.insert_encoded(vec![(collection.to_string(), encoded)])
            .await
    }

    async fn insert_together(
        &self,
        batches: Vec<(String, Vec<Document>)>,
        _deadline: &Deadline,
    ) -> spacejobs_core::Result<()> {
        self.insert_batches(batches).await
    }

    async fn find(
        &self,
        collection: &str,
        filter: &spacejobs_query::plan::Filter,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<Vec<Document>> {
        self.collections.find(collection, filter, deadline).await
    }

    async fn write(
        &self,
        writes: Vec<Write>,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<Vec<Written>> {
        let (reply, answer) = oneshot::channel();
        self.committer.submit(Request::Write {
            writes,
            deadline: deadline.clone(),
            reply,
        });
        let (written, _writes) = answer.await.map_err(storage)?;
        written
    }
}

/// Documents given their `_id` and encoded, on the rayon pool (a bulk insert holds
/// hundreds of thousands); each document is freed as soon as it is encoded.
fn prepare(documents: Vec<Document>) -> spacejobs_core::Result<Vec<Encoded>> {
    documents
        .into_par_iter()
        .map(|doc| encode(&ensure_object_id(doc)))
        .collect()
}

/// Raw documents as stored bytes, on the rayon pool: each checked whole (a malformed one
/// would refuse the next open), kept as it is when it opens with an ObjectId `_id`, else
/// given one like [`prepare`] does.
fn prepare_raw(documents: Vec<RawDocumentBuf>) -> spacejobs_core::Result<Vec<Encoded>> {
    documents
        .into_par_iter()
        .map(|raw| {
            validate(raw.as_bytes())?;
            let has_id = matches!(
                raw.iter().next(),
                Some(Ok((key, RawBsonRef::ObjectId(_)))) if key == "_id"
            );
            if has_id {
                return Ok(raw.into_bytes().into_boxed_slice());
            }
            let doc = Document::try_from(raw)
                .map_err(|e| spacejobs_core::Error::InvalidDocument(e.to_string()))?;
            encode(&ensure_object_id(doc))
        })
        .collect()
}

impl EmbeddedStore {
    /// Appends documents to several collections in one transaction, all or nothing.
    async fn insert_batches(
        &self,
        batches: Vec<(String, Vec<Document>)>,
    ) -> spacejobs_core::Result<()> {
        let mut prepared = Vec::with_capacity(batches.len());
        for (name, documents) in batches {
            let encoded = tokio::task::spawn_blocking(move || prepare(documents))
                .await
                .map_err(storage)??;
            prepared.push((name, encoded));
        }
        self.insert_encoded(prepared).await
    }

    /// Appends documents already encoded, each with its `_id`, to several collections in one
    /// transaction, all or nothing.
    async fn insert_encoded(
        &self,
        batches: Vec<(String, Vec<Encoded>)>,
    ) -> spacejobs_core::Result<()> {
        let (reply, answer) = oneshot::channel();
        self.committer.submit(Request::Insert { batches, reply });
        answer.await.map_err(storage)?
    }
}
