//! The storage trait every backend implements, and the answers it gives ([`ListOutput`],
//! [`StatOutput`], [`Rendered`]). The in-memory engine (spacejobs-engine), the embedded store
//! and the MongoDB store implement it.
//!
//! A store holds named collections of documents and answers compiled plans. The trait is kept
//! small: reads (`list`, `stat`), appends (`insert`, `insert_together`) and batches of the
//! writes the job lifecycle needs ([`Write`]: update one, update many, delete, each with a
//! compiled [`Filter`]), atomic per document on every backend and per batch where the
//! backend can.

pub use crate::model::{public_id_field, reference_fields};

use crate::error::{Error, Result};
use crate::write::{Update, Write, Written};
use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Bson, Document, RawDocumentBuf};
use spacejobs_exec::Deadline;
use spacejobs_query::plan::Filter;
use spacejobs_query::{ListPlan, Plan, StatPlan};

/// The answer of a `list`: the page of documents, as BSON bytes (a store hands over what it
/// holds or what the server sent, and each transport renders straight from the bytes), and
/// the number of matches before paging.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListOutput {
    /// The documents of the page (projected when the plan asks).
    pub documents: Vec<RawDocumentBuf>,
    /// Matching documents (or unwound rows), ignoring the page.
    pub total_count: u64,
}

impl ListOutput {
    /// The documents of the page, parsed.
    pub fn parsed(&self) -> Result<Vec<Document>> {
        self.documents
            .iter()
            .map(|raw| {
                Document::try_from(raw.as_ref())
                    .map_err(|e| Error::Internal(format!("listed document unreadable: {e}")))
            })
            .collect()
    }
}

/// `doc` as BSON bytes; refused when it cannot be written as BSON.
pub fn to_raw(doc: &Document) -> Result<RawDocumentBuf> {
    RawDocumentBuf::try_from(doc).map_err(|e| Error::InvalidDocument(e.to_string()))
}

/// The answer of a `stat`: rows (or distinct values) and, when paged, the count before paging.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatOutput {
    /// Rows (documents) of an aggregate, or the distinct values.
    pub results: Vec<Bson>,
    /// The number of rows before paging, present when the query had `page.limit` > 0.
    pub total_count: Option<u64>,
}

/// A list's answer as the bytes a transport sends, made on the request pool
/// ([`Store::list_rendered`]): what they are, and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// A gRPC message behind its frame header (a compression flag and the length).
    GrpcFrame(Vec<u8>),
    /// A JSON document.
    Json(Vec<u8>),
}

/// How a caller renders a list's answer ([`Store::list_rendered`]).
pub type Render = Box<dyn FnOnce(ListOutput) -> Result<Rendered> + Send>;

/// A document store answering compiled queries over one service's collections.
///
/// Every method gets the operation's [`Deadline`]: a store stops its work (or tells its
/// server to) once it has passed, and never evaluates on the async worker threads (see
/// [`spacejobs_exec::run_cpu`]).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Documents matching `plan`, sorted, paged and projected, with the total count.
    async fn list(
        &self,
        collection: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> Result<ListOutput>;

    /// [`Self::list`], then `render` on the answer, on the request pool. A store that
    /// evaluates there runs both in one task (one handoff instead of two, and the plan moved
    /// into it rather than copied); the default lists, then hands the answer over.
    async fn list_rendered(
        &self,
        collection: &str,
        plan: ListPlan,
        deadline: &Deadline,
        render: Render,
    ) -> Result<Rendered> {
        let out = self.list(collection, &plan, deadline).await?;
        spacejobs_exec::run_cpu(deadline, move |_| render(out)).await
    }

    /// Distinct values or aggregate rows of the documents matching `plan`.
    async fn stat(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> Result<StatOutput>;

    /// How the store would answer `plan` over `collection`, for operators (`explain`): its
    /// access paths, or the commands it would send and its server's own explain of them.
    /// Nothing of the documents but counts is shown. The default names the store's type.
    async fn explain(
        &self,
        collection: &str,
        plan: &Plan,
        deadline: &Deadline,
    ) -> Result<serde_json::Value> {
        let _ = (collection, plan, deadline);
        Ok(serde_json::json!({ "store": std::any::type_name::<Self>() }))
    }

    /// The next chunk of an export of `collection`'s documents matching `filter`: at most
    /// `limit`, after `cursor` (`None`: from the start), with the cursor to ask for the next
    /// (`None` once none are left). Each document is given once, whatever is written
    /// meanwhile (documents written during the export may be in it or not). The default goes
    /// in `_id` order; stores in this process go in their own order.
    async fn export_chunk(
        &self,
        collection: &str,
        filter: &Filter,
        cursor: Option<Bson>,
        limit: usize,
        deadline: &Deadline,
    ) -> Result<ExportChunk> {
        let mut filter = filter.clone();
        if let Some(last) = cursor {
            filter
                .all
                .push(spacejobs_query::plan::Condition::gt("_id", last));
        }
        let plan = ListPlan {
            slice: spacejobs_query::plan::Slice {
                skip: 0,
                limit: Some(u64::try_from(limit).unwrap_or(u64::MAX)),
            },
            ..ListPlan::matching(filter)
        };
        let documents = self.list(collection, &plan, deadline).await?.documents;
        let cursor = match documents.last() {
            Some(last) if documents.len() == limit => last
                .get("_id")
                .ok()
                .flatten()
                .and_then(|id| Bson::try_from(id).ok()),
            _ => None,
        };
        Ok(ExportChunk { documents, cursor })
    }

    /// Whether the store answers now (readiness probes): the default, for stores in this
    /// process, always does; a store with a server asks it, within `deadline`.
    async fn ping(&self, deadline: &Deadline) -> Result<()> {
        Ok(deadline.check()?)
    }

    /// Appends documents (an `_id` ObjectId is assigned where missing). All or nothing: a
    /// public id already taken (or repeated) is `NotUnique` and nothing is written.
    async fn insert(&self, collection: &str, documents: Vec<Document>) -> Result<()>;

    /// [`Store::insert`] of documents given as BSON bytes (a bulk import writes them while
    /// reading its file). The default reads them back into documents; the embedded store
    /// stores the bytes as they are when each starts with its ObjectId `_id`.
    async fn insert_raw(&self, collection: &str, documents: Vec<RawDocumentBuf>) -> Result<()> {
        let documents = documents
            .into_iter()
            .map(|raw| {
                Document::try_from(raw).map_err(|e| crate::Error::InvalidDocument(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        self.insert(collection, documents).await
    }

    /// Appends documents to several collections, all or nothing (on a crash too, where the
    /// backend has multi-collection transactions). The default is
    /// [`insert_batch_by_batch`].
    async fn insert_together(
        &self,
        batches: Vec<(String, Vec<Document>)>,
        deadline: &Deadline,
    ) -> Result<()> {
        insert_batch_by_batch(self, batches, deadline).await
    }

    /// True when a write batch is atomic ([`Store::write`]): all of it or none, and no other
    /// write between its steps. MongoDB without transactions (a standalone server) is not.
    async fn batches_are_atomic(&self) -> bool {
        true
    }

    /// Applies a batch of writes in order. Where the backend can (the memory and embedded
    /// stores, MongoDB with transactions), the batch is atomic: all of it or, when a [`Write::UpdateOne`] matches
    /// nothing, none of it, and no other write comes between its steps. Elsewhere (MongoDB
    /// without transactions) each step is atomic on its own and the batch stops at the first
    /// `UpdateOne` that matches nothing, the steps before it staying applied. The answer
    /// holds what the applied steps did, in order: shorter than the batch when it stopped.
    /// A batch may not name one document in two steps.
    async fn write(&self, writes: Vec<Write>, deadline: &Deadline) -> Result<Vec<Written>>;

    /// Applies `update` to one document matching `filter` (the first in insertion order on
    /// the in-memory stores; lifecycle filters name a unique id), atomically: no other write
    /// comes between the match and the change. The document as changed, or `None` when no
    /// document matches (then nothing changed).
    async fn update_one(
        &self,
        collection: &str,
        filter: &Filter,
        update: &Update,
        deadline: &Deadline,
    ) -> Result<Option<Document>> {
        let write = Write::update_one(collection, filter.clone(), update.clone());
        Ok(match self.write(vec![write], deadline).await?.pop() {
            Some(Written::One(doc)) => Some(doc),
            _ => None,
        })
    }

    /// Applies `update` to every document matching `filter`, each atomically. The number of
    /// documents changed.
    async fn update_many(
        &self,
        collection: &str,
        filter: &Filter,
        update: &Update,
        deadline: &Deadline,
    ) -> Result<u64> {
        let write = Write::update_many(collection, filter.clone(), update.clone());
        Ok(match self.write(vec![write], deadline).await?.pop() {
            Some(Written::Many(n)) => n,
            _ => 0,
        })
    }

    /// Removes every document matching `filter`. The number removed.
    async fn delete(&self, collection: &str, filter: &Filter, deadline: &Deadline) -> Result<u64> {
        let write = Write::delete(collection, filter.clone());
        Ok(match self.write(vec![write], deadline).await?.pop() {
            Some(Written::Deleted(n)) => n,
            _ => 0,
        })
    }

    /// Every document matching `filter`, whole, in insertion order.
    async fn find(
        &self,
        collection: &str,
        filter: &Filter,
        deadline: &Deadline,
    ) -> Result<Vec<Document>> {
        let plan = ListPlan::matching(filter.clone());
        self.list(collection, &plan, deadline).await?.parsed()
    }
}

/// One chunk of an export ([`Store::export_chunk`]).
#[derive(Debug, Clone, Default)]
pub struct ExportChunk {
    /// The documents, as stored.
    pub documents: Vec<RawDocumentBuf>,
    /// Where the next chunk starts; `None` when this was the last.
    pub cursor: Option<Bson>,
}

/// Gives a document an ObjectId `_id` first in field order, as MongoDB does, if it has none.
pub fn ensure_object_id(doc: Document) -> Document {
    if doc.contains_key("_id") {
        return doc;
    }
    let mut out = Document::new();
    out.insert("_id", Bson::ObjectId(ObjectId::new()));
    out.extend(doc);
    out
}

/// Appends documents to several collections batch by batch, removing the earlier batches
/// when a later one fails: all or nothing, except on a crash between batches.
pub async fn insert_batch_by_batch<S: Store + ?Sized>(
    store: &S,
    batches: Vec<(String, Vec<Document>)>,
    deadline: &Deadline,
) -> Result<()> {
    let batches: Vec<(String, Vec<Document>)> = batches
        .into_iter()
        .map(|(c, docs)| (c, docs.into_iter().map(ensure_object_id).collect()))
        .collect();
    for (done, (collection, documents)) in batches.iter().enumerate() {
        if let Err(e) = store.insert(collection, documents.clone()).await {
            for (earlier, documents) in &batches[..done] {
                let ids = documents.iter().filter_map(|d| d.get("_id").cloned());
                let filter = Filter::all([spacejobs_query::plan::Condition::one_of("_id", ids)]);
                if let Err(undo) = store.delete(earlier, &filter, deadline).await {
                    tracing::error!(error = %undo, "could not undo part of a failed insert");
                }
            }
            return Err(e);
        }
    }
    Ok(())
}
