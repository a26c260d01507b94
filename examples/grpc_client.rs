//! A Rust gRPC client: `list` and `stat` on a running inventory JobTask service, with the
//! queries written in the same JSON form as the REST API and SpaceONE's clients use.
//!
//! Start a service first (`cargo run -- --demo-data`), then:
//! `cargo run -p spacejobs-examples --example grpc_client [http://127.0.0.1:50051]`

use serde_json::json;
use spacejobs_core::{ListRequest, Service, StatRequest};
use spacejobs_proto::inventory::job_task_client::JobTaskClient;
use spacejobs_proto::inventory::{JobTaskQuery, JobTaskStatQuery};
use spacejobs_server::convert;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_string());
    let mut client = JobTaskClient::connect(endpoint).await?;

    let request = ListRequest::from_json(
        Service::Inventory,
        &json!({"domain_id": "domain-demo", "query": {
            "filter": [{"k": "status", "v": "FAILURE", "o": "eq"}],
            "sort": {"key": "created_at", "desc": true}, "page": {"limit": 3}}}),
    )?;
    let listed = client
        .list(JobTaskQuery {
            query: request.query.as_ref().map(convert::query_to_proto),
            domain_id: "domain-demo".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    println!("{} failed tasks; the latest:", listed.total_count);
    for task in &listed.results {
        println!(
            "  {} created {} errors {:?}",
            task.job_task_id,
            task.created_at,
            task.errors
                .iter()
                .map(|e| &e.error_code)
                .collect::<Vec<_>>()
        );
    }

    let request = StatRequest::from_json(
        &json!({"domain_id": "domain-demo", "query": {"aggregate": [
        {"group": {"keys": [{"key": "provider", "name": "provider"}],
                   "fields": [{"operator": "count", "name": "tasks"}, {"operator": "sum", "key": "failure_count", "name": "failures"}]}},
        {"sort": {"key": "provider"}}]}}),
    )?;
    let stats = client
        .stat(JobTaskStatQuery {
            query: request
                .query
                .as_ref()
                .map(convert::statistics_query_to_proto),
            domain_id: request.domain_id,
        })
        .await?
        .into_inner();
    println!(
        "per provider: {}",
        serde_json::Value::Object(convert::struct_to_json(&stats))
    );
    Ok(())
}
