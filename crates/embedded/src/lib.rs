//! The embedded store: no server needed. Documents are kept in a redb database file (one
//! table per collection, keyed by insertion sequence, values raw BSON) and mirrored in
//! memory ([`Collections`]), where the core engine answers queries on the rayon pool. Each insert is one redb
//! transaction committed durably before it is acknowledged, so an acknowledged write
//! survives a crash (`kill -9`), and a failed insert leaves nothing behind.
//!
//! [`Collections`]: spacejobs_core::store::Collections

use async_trait::async_trait;
use bson::Document;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use spacejobs_core::eval::{Collection, ListOutput, StatOutput};
use spacejobs_core::query::{ListPlan, StatPlan};
use spacejobs_core::store::{ensure_object_id, Collections};
use spacejobs_core::{Deadline, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Mutex;

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

/// The embedded store.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    collections: Collections,
    /// Orders inserts so the in-memory order matches the keys on disk.
    writer: Arc<Mutex<()>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

fn table(name: &str) -> TableDefinition<'_, u64, &'static [u8]> {
    TableDefinition::new(name)
}

fn storage(e: impl std::fmt::Display) -> spacejobs_core::Error {
    spacejobs_core::Error::Internal(format!("embedded store: {e}"))
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
        let db = Database::create(&path).map_err(|e| open_err(&e))?;
        let collections = Collections::new();
        let read = db.begin_read().map_err(|e| open_err(&e))?;
        for handle in read.list_tables().map_err(|e| open_err(&e))? {
            let name = handle.name().to_string();
            let t = read.open_table(table(&name)).map_err(|e| open_err(&e))?;
            let mut collection = Collection::new();
            for entry in t.iter().map_err(|e| open_err(&e))? {
                let (key, value) = entry.map_err(|e| open_err(&e))?;
                let doc = Document::from_reader(value.value()).map_err(|e| Error::Corrupt {
                    collection: name.clone(),
                    key: key.value(),
                    reason: e.to_string(),
                })?;
                collection.push(doc);
            }
            collections.set(&name, collection);
        }
        Ok(EmbeddedStore {
            db: Arc::new(db),
            collections,
            writer: Arc::new(Mutex::new(())),
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

    async fn stat(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<StatOutput> {
        self.collections.stat(collection, plan, deadline).await
    }

    async fn insert(
        &self,
        collection: &str,
        documents: Vec<Document>,
    ) -> spacejobs_core::Result<()> {
        let documents: Vec<Document> = documents.into_iter().map(ensure_object_id).collect();
        let mut encoded = Vec::with_capacity(documents.len());
        for doc in &documents {
            encoded.push(doc.to_vec().map_err(storage)?);
        }
        let _writer = self.writer.lock().await;
        self.collections.check_unique(collection, &documents)?;
        let db = self.db.clone();
        let name = collection.to_string();
        tokio::task::spawn_blocking(move || -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            {
                let mut t = txn.open_table(table(&name))?;
                let first = t.last()?.map_or(0, |(k, _)| k.value() + 1);
                for (key, bytes) in (first..).zip(&encoded) {
                    t.insert(key, bytes.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await
        .map_err(storage)?
        .map_err(storage)?;
        self.collections.append(collection, documents);
        Ok(())
    }
}
