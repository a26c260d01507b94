//! Mounts the inventory JobTask service (with health and reflection) in your own tonic
//! server, over a store of your choice, next to your own services.
//!
//! Run: `cargo run -p spacejobs-examples --example mount_service`, then for instance
//! `grpcurl -plaintext -d '{"domain_id": "domain-demo"}' 127.0.0.1:50061 spaceone.api.inventory.v1.JobTask/list`

use bson::doc;
use spacejobs_core::{JobService, Service, Store};
use spacejobs_engine::MemoryStore;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let store = Arc::new(MemoryStore::new());
    store
        .insert(
            Service::Inventory.collection(),
            vec![doc! {"job_task_id": Service::Inventory.new_id(), "status": "SUCCESS", "domain_id": "domain-demo",
                       "created_at": bson::DateTime::now()}],
        )
        .await?;
    let store: Arc<dyn Store> = store;
    let job_tasks = Arc::new(JobService::new(Service::Inventory, store));

    // Your own tonic server: add our routes beside yours (calls counted in `metrics`, whose
    // `render` gives the Prometheus text for your own exporter).
    let metrics = spacejobs_server::Metrics::new(20);
    let routes = spacejobs_server::routes(job_tasks, &Default::default(), &metrics).await?;
    let addr = "127.0.0.1:50061".parse()?;
    println!("serving spaceone.api.inventory.v1.JobTask on {addr} (Ctrl-C stops)");
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_shutdown(addr, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
