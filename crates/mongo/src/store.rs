//! [`MongoStore`]: the core [`Store`] over a MongoDB database.

use crate::error::{storage_error, Error, Result};
use crate::filter::filter;
use crate::pipeline;
use async_trait::async_trait;
use bson::{doc, Bson, Document};
use futures_util::TryStreamExt;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use spacejobs_core::eval::{ListOutput, StatOutput};
use spacejobs_core::query::{ListPlan, StatPlan};
use spacejobs_core::store::ensure_object_id;
use spacejobs_core::{Service, Store};
use std::time::Duration;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    /// Connection string (`mongodb://host:port/…`).
    pub uri: String,
    /// Database name (SpaceONE: one per service).
    pub database: String,
    /// How long an operation may wait for a reachable server, and the connect time-out.
    pub timeout: Duration,
}

impl MongoConfig {
    /// The configuration for a service's default database.
    pub fn new(uri: impl Into<String>, service: Service) -> Self {
        MongoConfig {
            uri: uri.into(),
            database: service.name().to_string(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The core store over one MongoDB database. Cheap to clone (the driver pools connections
/// and reconnects by itself when the server comes back).
#[derive(Debug, Clone)]
pub struct MongoStore {
    database: Database,
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
        let client = Client::with_options(options).map_err(|e| Error::Config(e.to_string()))?;
        Ok(MongoStore {
            database: client.database(&config.database),
        })
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.database
    }

    fn collection(&self, name: &str) -> Collection<Document> {
        self.database.collection(name)
    }

    /// Creates the indexes of `models.md` for a service's collection (idempotent).
    pub async fn ensure_indexes(&self, service: Service) -> spacejobs_core::Result<()> {
        let single = |field: &str| IndexModel::builder().keys(doc! {field: 1}).build();
        let mut models = vec![single("domain_id"), single("status"), single("project_id")];
        if service == Service::Inventory {
            models.push(single("job_id"));
        }
        models.push(
            IndexModel::builder()
                .keys(doc! {"domain_id": 1, "created_at": -1, "status": 1})
                .build(),
        );
        models.push(
            IndexModel::builder()
                .keys(doc! {service.id_field(): 1})
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        );
        self.collection(service.collection())
            .create_indexes(models)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn aggregate(
        &self,
        collection: &str,
        stages: Vec<Document>,
    ) -> spacejobs_core::Result<Vec<Document>> {
        let cursor = self
            .collection(collection)
            .aggregate(stages)
            .await
            .map_err(storage_error)?;
        cursor.try_collect().await.map_err(storage_error)
    }
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

#[async_trait]
impl Store for MongoStore {
    async fn list(&self, collection: &str, plan: &ListPlan) -> spacejobs_core::Result<ListOutput> {
        if plan.unwind.is_some() {
            let out = self
                .aggregate(collection, pipeline::unwind_list(plan))
                .await?;
            if plan.count_only {
                let total_count = count_of(out.first().map(|d| Bson::Document(d.clone())).as_ref());
                return Ok(ListOutput {
                    documents: Vec::new(),
                    total_count,
                });
            }
            let (documents, total_count) = rows_and_total(out)?;
            return Ok(ListOutput {
                documents,
                total_count,
            });
        }
        let coll = self.collection(collection);
        let query = filter(&plan.filter);
        let total_count = coll
            .count_documents(query.clone())
            .await
            .map_err(storage_error)?;
        if plan.count_only {
            return Ok(ListOutput {
                documents: Vec::new(),
                total_count,
            });
        }
        let mut find = coll
            .find(query)
            .sort(pipeline::sort(&plan.sort, &["_id"]))
            .skip(plan.slice.skip);
        if let Some(limit) = plan.slice.limit {
            find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if let Some(paths) = &plan.projection {
            find = find.projection(pipeline::projection(paths));
        }
        let documents = find
            .await
            .map_err(storage_error)?
            .try_collect()
            .await
            .map_err(storage_error)?;
        Ok(ListOutput {
            documents,
            total_count,
        })
    }

    async fn stat(&self, collection: &str, plan: &StatPlan) -> spacejobs_core::Result<StatOutput> {
        let out = self.aggregate(collection, pipeline::stat(plan)).await?;
        let (rows, total_count) = match plan.page {
            Some(_) => {
                let (rows, total) = rows_and_total(out)?;
                (rows, Some(total))
            }
            None => (out, None),
        };
        let results = match plan.kind {
            spacejobs_core::query::plan::StatKind::Distinct(_) => rows
                .into_iter()
                .filter_map(|mut r| r.remove("_id"))
                .collect(),
            spacejobs_core::query::plan::StatKind::Aggregate(_) => {
                rows.into_iter().map(Bson::Document).collect()
            }
        };
        Ok(StatOutput {
            results,
            total_count,
        })
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
        self.collection(collection)
            .insert_many(documents)
            .ordered(true)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}
