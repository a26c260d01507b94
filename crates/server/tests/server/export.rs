//! `GET {base}/export` of a running service: off unless enabled; with authentication, a
//! caller's export holds its own domain's documents only (whatever it names), and no token
//! is refused; the lines are what `import` reads.

use crate::support;
use serde_json::{json, Value};
use spacejobs_auth::JwksAuthenticator;
use spacejobs_core::{JobService, Service};
use spacejobs_server::ServerConfig;
use std::sync::Arc;

async fn serve(logic: JobService<dyn spacejobs_core::Store>, enable_export: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = ServerConfig {
        enable_export,
        ..ServerConfig::default()
    };
    tokio::spawn(async move {
        spacejobs_server::run_with(listener, Arc::new(logic), &config, std::future::pending()).await
    });
    format!("http://{addr}/inventory/v1/job-tasks/export")
}

#[tokio::test]
async fn a_running_service_exports_what_its_caller_may_read() {
    let (key, jwk) = crate::auth::generated_key();
    let jwks = json!({"keys": [jwk]}).to_string();
    let auth = JwksAuthenticator::from_json(&jwks).expect("jwks");
    let logic = JobService::new(Service::Inventory, crate::auth::store().await)
        .with_authenticator(Arc::new(auth));
    let url = serve(logic, true).await;
    let client = reqwest::Client::new();
    let token = crate::auth::sign(
        &key,
        json!({"did": "domain-a", "exp": crate::auth::now() + 3600}),
    );
    let answer = client
        .get(format!("{url}?domain_id=domain-b"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.headers()["content-type"], "application/x-ndjson");
    let text = answer.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.len(),
        70,
        "domain-a's 70 documents, though domain-b was named"
    );
    assert!(lines.iter().all(|l| l["domain_id"] == "domain-a"));
    assert!(lines[0]["_id"]["$oid"].is_string(), "{}", lines[0]);
    let refused = client.get(&url).send().await.expect("answer");
    assert_eq!(refused.status().as_u16(), 401, "no token");

    // Off unless enabled.
    let store = Arc::new(spacejobs_engine::MemoryStore::new());
    spacejobs_core::Store::insert(
        store.as_ref(),
        "job_task",
        support::generated(10, "domain-a"),
    )
    .await
    .expect("insert");
    let logic = JobService::new(Service::Inventory, store as Arc<dyn spacejobs_core::Store>);
    let url = serve(logic, false).await;
    let off = client.get(&url).send().await.expect("answer");
    assert_eq!(off.status().as_u16(), 404);
}
