//! [`MongoStore`]: the core [`Store`] over a MongoDB database.

use crate::commands::{count_pipeline, Find};
use crate::connection::ConnectionOverrides;
use crate::error::{is_max_time_expired, storage_error, Error, Result};
use crate::filter::filter;
use crate::pipeline;
use crate::transaction::{self, Outcome, Work, MOST_IN_TRANSACTION};
use async_trait::async_trait;
use bson::{doc, Bson, Document, RawDocumentBuf};
use futures_util::future::BoxFuture;
use futures_util::TryStreamExt;
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, ClientSession, Collection, Database, IndexModel};
use spacejobs_core::store::ensure_object_id;
use spacejobs_core::store::{to_raw, ListOutput, StatOutput};
use spacejobs_core::write::{Write, Written};
use spacejobs_core::{Deadline, Service, Store};
use spacejobs_query::{ListPlan, Plan, StatPlan};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long past the deadline we wait for a server to honour `maxTimeMS` before answering the
/// caller ourselves (a server that cannot interrupt a query keeps running it).
const SERVER_SLACK: Duration = Duration::from_millis(250);

/// The driver error as a core error: MaxTimeMSExpired is this request's deadline.
fn driver_error(
    deadline: &Deadline,
) -> impl Fn(mongodb::error::Error) -> spacejobs_core::Error + '_ {
    move |e| {
        if is_max_time_expired(&e) {
            tracing::warn!(error = %e, "MongoDB stopped a query at maxTimeMS");
            deadline.exceeded().into()
        } else {
            storage_error(e)
        }
    }
}

/// Runs a store operation within `deadline`: refused at once when it has passed, answered as
/// exceeded when the server has not answered by the deadline plus [`SERVER_SLACK`].
async fn within<T>(
    deadline: &Deadline,
    work: impl Future<Output = spacejobs_core::Result<T>>,
) -> spacejobs_core::Result<T> {
    deadline.check()?;
    tokio::time::timeout(deadline.remaining() + SERVER_SLACK, work)
        .await
        .unwrap_or_else(|_| Err(deadline.exceeded().into()))
}

/// The `maxTimeMS` of an operation: what is left of the deadline, at least 1 ms.
fn max_time(deadline: &Deadline) -> Duration {
    deadline.remaining().max(Duration::from_millis(1))
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    /// Connection string (`mongodb://host:port/…`).
    pub uri: String,
    /// Database name (SpaceONE: one per service).
    pub database: String,
    /// How long an operation may wait for a reachable server, and the connect time-out.
    pub timeout: Duration,
    /// Settings applied over the connection string's (SpaceONE's `DATABASES` keys).
    pub overrides: ConnectionOverrides,
}

impl MongoConfig {
    /// The configuration for a service's default database.
    pub fn new(uri: impl Into<String>, service: Service) -> Self {
        MongoConfig {
            uri: uri.into(),
            database: service.name().to_string(),
            timeout: Duration::from_secs(5),
            overrides: ConnectionOverrides::default(),
        }
    }
}

/// The core store over one MongoDB database. Cheap to clone (the driver pools connections
/// and reconnects by itself when the server comes back).
#[derive(Debug, Clone)]
pub struct MongoStore {
    database: Database,
    /// Whether the server runs multi-document transactions ([`transaction`]), asked once.
    transactions: Arc<tokio::sync::OnceCell<bool>>,
}

impl MongoStore {
    /// Connects lazily (no round trip): the first operation finds the server.
    pub async fn connect(config: &MongoConfig) -> Result<Self> {
        let mut options = ClientOptions::parse(&config.uri)
            .await
            .map_err(|e| Error::Config(e.to_string()))?;
        options.server_selection_timeout = Some(config.timeout);
        options.connect_timeout = Some(config.timeout);
        options.app_name = Some("spacejobs".to_string());
        config.overrides.apply(&mut options)?;
        let client = Client::with_options(options).map_err(|e| Error::Config(e.to_string()))?;
        Ok(MongoStore {
            database: client.database(&config.database),
            transactions: Arc::default(),
        })
    }

    /// True when the server runs multi-document transactions (a replica set or a sharded
    /// cluster): asked with `hello` the first time, then remembered. An unreachable server
    /// counts as without, this once.
    pub async fn has_transactions(&self) -> bool {
        self.transactions
            .get_or_try_init(|| transaction::available(&self.database))
            .await
            .copied()
            .unwrap_or(false)
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.database
    }

    fn collection(&self, name: &str) -> Collection<Document> {
        self.database.collection(name)
    }

    /// Creates the indexes of `models.md` (idempotent): on the service's collection, and on
    /// the other lifecycle collection the job/task writes use (`job` beside inventory's
    /// `job_task`, `job_task` beside the Job services' `job`). One at a time: on a database
    /// the Python service already indexed, an index it made on the same keys with other
    /// options (a conflict), or a user not allowed to create indexes, leaves that index as it
    /// is, with a warning; the database unreachable is an error.
    pub async fn ensure_indexes(&self, service: Service) -> spacejobs_core::Result<()> {
        let other = match service {
            Service::Inventory => "job",
            _ => "job_task",
        };
        for collection in [service.collection(), other] {
            for model in index_models(collection) {
                let keys = model.keys.clone();
                match self.collection(collection).create_index(model).await {
                    Ok(_) => {}
                    Err(e) if is_index_left_as_is(&e) => tracing::warn!(
                        collection,
                        %keys,
                        error = %e,
                        "index not created; the database keeps its own"
                    ),
                    Err(e) => return Err(storage_error(e)),
                }
            }
        }
        Ok(())
    }

    async fn aggregate(
        &self,
        collection: &str,
        stages: Vec<Document>,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<Vec<Document>> {
        let cursor = self
            .collection(collection)
            .aggregate(stages)
            .max_time(max_time(deadline))
            .await
            .map_err(driver_error(deadline))?;
        cursor.try_collect().await.map_err(driver_error(deadline))
    }
}

/// Index errors that leave the database as it is: not authorized (13), an index on the same
/// keys with other options or name (85, 86), an index already there (68).
fn is_index_left_as_is(e: &mongodb::error::Error) -> bool {
    matches!(
        e.kind.as_ref(),
        mongodb::error::ErrorKind::Command(c) if matches!(c.code, 13 | 68 | 85 | 86)
    )
}

/// The indexes of one collection: the common filters, the default sort, the unique public id.
fn index_models(collection: &str) -> Vec<IndexModel> {
    let single = |field: &str| IndexModel::builder().keys(doc! {field: 1}).build();
    let mut models = vec![single("domain_id"), single("status"), single("project_id")];
    if collection == "job_task" {
        models.push(single("job_id"));
    }
    models.push(
        IndexModel::builder()
            .keys(doc! {"domain_id": 1, "created_at": -1, "status": 1})
            .build(),
    );
    if let Some(id) = spacejobs_core::store::public_id_field(collection) {
        models.push(
            IndexModel::builder()
                .keys(doc! {id: 1})
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        );
    }
    models
}

/// Splits the `{rows, total: [{n}]}` document of a paged pipeline.
fn rows_and_total(mut out: Vec<Document>) -> spacejobs_core::Result<(Vec<Document>, u64)> {
    let Some(facet) = out.pop() else {
        return Ok((Vec::new(), 0));
    };
    let rows = match facet.get("rows") {
        Some(Bson::Array(rows)) => rows
            .iter()
            .map(|r| match r {
                Bson::Document(d) => Ok(d.clone()),
                other => Err(spacejobs_core::Error::Internal(format!(
                    "unexpected row {other}"
                ))),
            })
            .collect::<spacejobs_core::Result<Vec<_>>>()?,
        _ => Vec::new(),
    };
    Ok((
        rows,
        count_of(facet.get_array("total").ok().and_then(|t| t.first())),
    ))
}

fn count_of(row: Option<&Bson>) -> u64 {
    match row {
        Some(Bson::Document(d)) => match d.get("n") {
            Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
            Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        },
        _ => 0,
    }
}

impl MongoStore {
    async fn list_within(
        &self,
        collection: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<ListOutput> {
        if plan.unwind.is_some() {
            let out = self
                .aggregate(collection, pipeline::unwind_list(plan), deadline)
                .await?;
            if plan.count_only {
                let total_count = count_of(out.first().map(|d| Bson::Document(d.clone())).as_ref());
                return Ok(ListOutput {
                    documents: Vec::new(),
                    total_count,
                });
            }
            let (rows, total_count) = rows_and_total(out)?;
            return Ok(ListOutput {
                documents: rows
                    .iter()
                    .map(to_raw)
                    .collect::<spacejobs_core::Result<_>>()?,
                total_count,
            });
        }
        let query = filter(&plan.filter);
        let counted = self
            .aggregate(collection, count_pipeline(query), deadline)
            .await?;
        let total_count = count_of(counted.first().map(|d| Bson::Document(d.clone())).as_ref());
        if plan.count_only {
            return Ok(ListOutput {
                documents: Vec::new(),
                total_count,
            });
        }
        // The page comes back as the server's BSON bytes, handed over without a parse.
        let page = Find::of(plan);
        let raw = self
            .collection(collection)
            .clone_with_type::<RawDocumentBuf>();
        let mut find = raw
            .find(page.filter)
            .sort(page.sort)
            .skip(page.skip)
            .max_time(max_time(deadline));
        if let Some(limit) = page.limit {
            find = find.limit(limit);
        }
        if let Some(projection) = page.projection {
            find = find.projection(projection);
        }
        let documents = find
            .await
            .map_err(driver_error(deadline))?
            .try_collect()
            .await
            .map_err(driver_error(deadline))?;
        Ok(ListOutput {
            documents,
            total_count,
        })
    }

    async fn stat_within(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<StatOutput> {
        let out = self
            .aggregate(collection, pipeline::stat(plan), deadline)
            .await?;
        let (rows, total_count) = match plan.page {
            Some(_) => {
                let (rows, total) = rows_and_total(out)?;
                (rows, Some(total))
            }
            None => (out, None),
        };
        let results = match plan.kind {
            spacejobs_query::plan::StatKind::Distinct(_) => rows
                .into_iter()
                .filter_map(|mut r| r.remove("_id"))
                .collect(),
            spacejobs_query::plan::StatKind::Aggregate(_) => {
                rows.into_iter().map(Bson::Document).collect()
            }
        };
        Ok(StatOutput {
            results,
            total_count,
        })
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn list(
        &self,
        collection: &str,
        plan: &ListPlan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<ListOutput> {
        within(deadline, self.list_within(collection, plan, deadline)).await
    }

    async fn stat(
        &self,
        collection: &str,
        plan: &StatPlan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<StatOutput> {
        within(deadline, self.stat_within(collection, plan, deadline)).await
    }

    async fn explain(
        &self,
        collection: &str,
        plan: &Plan,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<serde_json::Value> {
        crate::commands::explain(&self.database, collection, plan, deadline).await
    }

    /// `ping`, sent where reads go (the configured read preference), so a store whose reads
    /// can be served counts as answering.
    async fn ping(&self, deadline: &Deadline) -> spacejobs_core::Result<()> {
        within(deadline, async {
            let mut command = self.database.run_command(doc! {"ping": 1});
            if let Some(criteria) = self.database.selection_criteria() {
                command = command.selection_criteria(criteria.clone());
            }
            command.await.map(drop).map_err(driver_error(deadline))
        })
        .await
    }

    async fn insert(
        &self,
        collection: &str,
        documents: Vec<Document>,
    ) -> spacejobs_core::Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let documents: Vec<Document> = documents.into_iter().map(ensure_object_id).collect();
        let coll = self.collection(collection);
        let failed = |err: mongodb::error::Error, documents: &[Document]| {
            not_unique(&err, collection, documents).unwrap_or_else(|| storage_error(err))
        };
        if self.has_transactions().await {
            // Transactions of up to MOST_IN_TRANSACTION documents: a crash leaves whole ones,
            // a failure removes the ones before it.
            for (n, chunk) in documents.chunks(MOST_IN_TRANSACTION).enumerate() {
                let work = InsertTogether {
                    batches: vec![(&coll, chunk)],
                };
                if let Err(err) = transaction::run(self.database.client(), &work).await {
                    self.remove_inserted(&coll, &documents[..n * MOST_IN_TRANSACTION])
                        .await;
                    return Err(failed(err, chunk));
                }
            }
            return Ok(());
        }
        let Err(err) = coll.insert_many(&documents).ordered(true).await else {
            return Ok(());
        };
        // All or nothing without a transaction: remove what this call wrote, by the `_id`s
        // it gave.
        self.remove_inserted(&coll, &documents).await;
        Err(failed(err, &documents))
    }

    async fn find(
        &self,
        collection: &str,
        filter: &spacejobs_query::plan::Filter,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<Vec<Document>> {
        let coll = self.collection(collection);
        within(deadline, async {
            coll.find(crate::filter::filter(filter))
                .sort(doc! {"_id": 1})
                .max_time(max_time(deadline))
                .await
                .map_err(driver_error(deadline))?
                .try_collect()
                .await
                .map_err(driver_error(deadline))
        })
        .await
    }

    async fn write(
        &self,
        writes: Vec<Write>,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<Vec<Written>> {
        for write in &writes {
            write.check()?;
        }
        let transactions = self.has_transactions().await;
        within(deadline, async {
            let work = Batch {
                store: self,
                writes: &writes,
                deadline,
                atomic: transactions,
            };
            if transactions {
                return transaction::run(self.database.client(), &work)
                    .await
                    .map_err(driver_error(deadline));
            }
            let mut session = self
                .database
                .client()
                .start_session()
                .await
                .map_err(driver_error(deadline))?;
            match work
                .run(&mut session)
                .await
                .map_err(driver_error(deadline))?
            {
                Outcome::Commit(written) | Outcome::Abort(written) => Ok(written),
            }
        })
        .await
    }

    async fn insert_together(
        &self,
        batches: Vec<(String, Vec<Document>)>,
        deadline: &Deadline,
    ) -> spacejobs_core::Result<()> {
        let total: usize = batches.iter().map(|(_, docs)| docs.len()).sum();
        if total > MOST_IN_TRANSACTION || !self.has_transactions().await {
            return spacejobs_core::store::insert_batch_by_batch(self, batches, deadline).await;
        }
        let batches: Vec<(Collection<Document>, Vec<Document>)> = batches
            .into_iter()
            .map(|(c, docs)| {
                (
                    self.collection(&c),
                    docs.into_iter().map(ensure_object_id).collect(),
                )
            })
            .collect();
        let work = InsertTogether {
            batches: batches.iter().map(|(c, d)| (c, d.as_slice())).collect(),
        };
        within(deadline, async {
            transaction::run(self.database.client(), &work)
                .await
                .map_err(|err| {
                    batches
                        .iter()
                        .find_map(|(c, docs)| not_unique(&err, c.name(), docs))
                        .unwrap_or_else(|| storage_error(err))
                })
        })
        .await
    }

    async fn batches_are_atomic(&self) -> bool {
        self.has_transactions().await
    }
}

impl MongoStore {
    /// Removes the documents an insert wrote, by their `_id`s (an insert that failed after
    /// writing some, without a transaction to undo them).
    async fn remove_inserted(&self, coll: &Collection<Document>, documents: &[Document]) {
        if documents.is_empty() {
            return;
        }
        let ids: Vec<Bson> = documents
            .iter()
            .filter_map(|d| d.get("_id").cloned())
            .collect();
        if let Err(e) = coll.delete_many(doc! {"_id": {"$in": ids}}).await {
            tracing::error!(error = %e, "could not remove the documents of a failed insert");
        }
    }
}

/// Inserts into several collections, as one transaction.
struct InsertTogether<'a> {
    batches: Vec<(&'a Collection<Document>, &'a [Document])>,
}

impl Work for InsertTogether<'_> {
    type Answer = ();

    fn run<'s>(
        &'s self,
        session: &'s mut ClientSession,
    ) -> BoxFuture<'s, mongodb::error::Result<Outcome<()>>> {
        Box::pin(async move {
            for &(coll, documents) in &self.batches {
                if !documents.is_empty() {
                    coll.insert_many(documents)
                        .ordered(true)
                        .session(&mut *session)
                        .await?;
                }
            }
            Ok(Outcome::Commit(()))
        })
    }
}

/// A write batch: step after step on one session; `atomic` (in a transaction) aborts it
/// whole when an `UpdateOne` matches nothing, else the batch stops there.
struct Batch<'a> {
    store: &'a MongoStore,
    writes: &'a [Write],
    deadline: &'a Deadline,
    atomic: bool,
}

impl Work for Batch<'_> {
    type Answer = Vec<Written>;

    fn run<'s>(
        &'s self,
        session: &'s mut ClientSession,
    ) -> BoxFuture<'s, mongodb::error::Result<Outcome<Vec<Written>>>> {
        Box::pin(async move {
            let mut written = Vec::with_capacity(self.writes.len());
            for write in self.writes {
                match self.store.write_step(write, session, self.deadline).await? {
                    Some(step) => written.push(step),
                    None if self.atomic => return Ok(Outcome::Abort(Vec::new())),
                    None => break,
                }
            }
            Ok(Outcome::Commit(written))
        })
    }
}

impl MongoStore {
    /// One step of a batch, atomic on its document(s); `None` when an `UpdateOne` matches
    /// nothing.
    async fn write_step(
        &self,
        write: &Write,
        session: &mut ClientSession,
        deadline: &Deadline,
    ) -> mongodb::error::Result<Option<Written>> {
        let coll = self.collection(write.collection());
        Ok(Some(match write {
            Write::UpdateOne { filter, update, .. } => {
                let query = crate::filter::filter(filter);
                let found = if update.is_empty() {
                    coll.find_one(query)
                        .max_time(max_time(deadline))
                        .session(session)
                        .await
                } else {
                    coll.find_one_and_update(query, update.to_document())
                        .return_document(ReturnDocument::After)
                        .max_time(max_time(deadline))
                        .session(session)
                        .await
                };
                match found? {
                    Some(doc) => Written::One(doc),
                    None => return Ok(None),
                }
            }
            Write::UpdateMany { filter, update, .. } => {
                let query = crate::filter::filter(filter);
                let n = if update.is_empty() {
                    coll.count_documents(query)
                        .max_time(max_time(deadline))
                        .session(session)
                        .await
                } else {
                    coll.update_many(query, update.to_document())
                        .session(session)
                        .await
                        .map(|out| out.matched_count)
                };
                Written::Many(n?)
            }
            Write::Delete { filter, .. } => {
                let out = coll
                    .delete_many(crate::filter::filter(filter))
                    .session(session)
                    .await?;
                Written::Deleted(out.deleted_count)
            }
        }))
    }
}

/// A duplicate-key failure (code 11000) of an insert as `NotUnique`, naming the public id.
fn not_unique(
    err: &mongodb::error::Error,
    collection: &str,
    documents: &[Document],
) -> Option<spacejobs_core::Error> {
    let mongodb::error::ErrorKind::InsertMany(failure) = err.kind.as_ref() else {
        return None;
    };
    let duplicate = failure
        .write_errors
        .as_ref()?
        .iter()
        .find(|e| e.code == 11000)?;
    let key = spacejobs_core::store::public_id_field(collection)?;
    let value = documents.get(duplicate.index)?.get_str(key).ok()?;
    Some(spacejobs_core::Error::NotUnique {
        key: key.to_string(),
        value: value.to_string(),
    })
}
