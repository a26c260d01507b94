//! The opt-in REST `explain` routes: absent unless enabled; when enabled, they answer with the
//! validated plan and the store's access paths, as the caller's token scopes the request,
//! and refuse what `list`/`stat` refuse.

use crate::auth::{generated_key, now, sign, store};
use serde_json::{json, Value};
use spacejobs_auth::JwksAuthenticator;
use spacejobs_core::{JobService, Service};
use spacejobs_server::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;

async fn serve(logic: JobService<dyn spacejobs_core::Store>, config: ServerConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        spacejobs_server::run_with(listener, Arc::new(logic), &config, std::future::pending()).await
    });
    addr
}

#[tokio::test]
async fn explain_routes_are_off_unless_enabled() {
    let logic = JobService::new(Service::Inventory, store().await);
    let addr = serve(logic, ServerConfig::default()).await;
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}/inventory/v1/job-tasks/explain/list"))
        .json(&json!({"domain_id": "domain-a"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status().as_u16(), 404);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["error"]["code"], "ERROR_NOT_FOUND");
}

#[tokio::test]
async fn explain_shows_the_scoped_plan_and_the_access_paths() {
    let (key, jwk) = generated_key();
    let auth = JwksAuthenticator::from_json(&json!({"keys": [jwk]}).to_string()).expect("jwks");
    let logic =
        JobService::new(Service::Inventory, store().await).with_authenticator(Arc::new(auth));
    let config = ServerConfig {
        enable_explain: true,
        ..ServerConfig::default()
    };
    let addr = serve(logic, config).await;
    let client = reqwest::Client::new();
    let url = |method: &str| format!("http://{addr}/inventory/v1/job-tasks/explain/{method}");
    let member = sign(
        &key,
        json!({"did": "domain-a", "projects": ["project-2"], "exp": now() + 3600}),
    );
    let request = json!({
        "domain_id": "domain-b",
        "query": {"filter": [{"k": "status", "v": "FAILURE", "o": "eq"}], "page": {"limit": 5}}
    });
    let explain = |method: &str, body: &Value| {
        client
            .post(url(method))
            .bearer_auth(&member)
            .json(body)
            .send()
    };
    let explained: Value = explain("list", &request)
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(explained["service"], "inventory");
    assert_eq!(explained["method"], "list");
    let all = explained["plan"]["filter"]["all"].as_array().expect("all");
    // The token's domain replaced the request's; its projects were added.
    assert!(
        all.contains(&json!({"k": "domain_id", "o": "eq", "v": "domain-a"})),
        "{all:?}"
    );
    assert!(!all.iter().any(|c| c["v"] == "domain-b"), "{all:?}");
    assert!(
        all.contains(&json!({"k": "project_id", "o": "in", "v": ["project-2", null]})),
        "{all:?}"
    );
    let engine = &explained["store"]["engine"];
    assert_eq!(explained["store"]["store"], "memory");
    assert_eq!(engine["documents"], 100);
    let status = engine["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["k"] == "status")
        .expect("status condition");
    assert_eq!(status["access"], "value index: the values' row bitmaps");
    assert_eq!(explained["plan"]["page"], json!({"skip": 0, "limit": 5}));

    let stat: Value = explain(
        "stat",
        &json!({"domain_id": "domain-a", "query": {"distinct": "status"}}),
    )
    .await
    .expect("answer")
    .json()
    .await
    .expect("json");
    assert_eq!(stat["plan"]["distinct"], "status");
    assert!(stat["store"]["engine"]["answer"]
        .as_str()
        .is_some_and(|a| a.starts_with("distinct values")));

    // Refused as list refuses: without a token, and a bad query.
    let anonymous = client
        .post(url("list"))
        .json(&request)
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status().as_u16(), 401);
    let bad = explain(
        "list",
        &json!({"domain_id": "domain-a", "query": {"filter": [{"k": "status", "o": "bogus"}]}}),
    )
    .await
    .expect("answer");
    assert_eq!(bad.status().as_u16(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["code"], "ERROR_DB_QUERY");
}
