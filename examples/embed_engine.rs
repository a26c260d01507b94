//! Embeds the core engine: puts a few JobTask documents into the in-memory store and answers a
//! `list` and a `stat` request, given in the same JSON form the services take.
//!
//! Run: `cargo run -p spacejobs-examples --example embed_engine`

use bson::{doc, DateTime};
use serde_json::json;
use spacejobs_core::{render, JobService, ListRequest, Service, StatRequest, Store};
use spacejobs_engine::MemoryStore;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), spacejobs_core::Error> {
    let store = Arc::new(MemoryStore::new());
    let created = DateTime::parse_rfc3339_str("2022-06-17T08:00:00.680Z")
        .map_err(|e| spacejobs_core::Error::Internal(e.to_string()))?;
    let tasks = (0..6)
        .map(|i| {
            doc! {
                "job_task_id": Service::Inventory.new_id(),
                "status": if i % 3 == 0 { "FAILURE" } else { "SUCCESS" },
                "created_count": i * 2,
                "provider": if i % 2 == 0 { "aws" } else { "google_cloud" },
                "domain_id": "domain-demo",
                "created_at": DateTime::from_millis(created.timestamp_millis() + i64::from(i) * 60_000),
            }
        })
        .collect();
    store.insert(Service::Inventory.collection(), tasks).await?;
    let service = JobService::new(Service::Inventory, store);

    let list = ListRequest::from_json(
        Service::Inventory,
        &json!({"domain_id": "domain-demo", "status": "SUCCESS",
                "query": {"sort": {"key": "created_count", "desc": true}, "only": ["job_task_id", "created_count"]}}),
    )?;
    let listed = service.list(&list).await?;
    println!("list: {}", render::list_response(&listed));

    let stat = StatRequest::from_json(
        &json!({"domain_id": "domain-demo", "query": {"aggregate": [
        {"group": {"keys": [{"key": "provider", "name": "provider"}],
                   "fields": [{"operator": "count", "name": "tasks"}, {"operator": "sum", "key": "created_count", "name": "created"}]}},
        {"sort": {"key": "provider"}}]}}),
    )?;
    let stats = service.stat(&stat).await?;
    println!("stat: {}", render::stat_response(&stats));
    Ok(())
}
