//! The probes an orchestrator or SpaceONE's own tooling asks: gRPC health under `""`, the
//! service's short name (as the Python services register it) and its full name, for each of
//! the three services; `GET /healthz` and `GET /readyz` over HTTP, with no token even when
//! authentication is on. (`/readyz` following a MongoDB server down and back is shown by
//! the binary's drop-in test, `tests/python/dropin.py`.)

use crate::support;
use spacejobs_conformance::Corpus;
use spacejobs_core::Service;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test]
async fn health_answers_serving_under_every_name_a_client_uses() {
    let corpus = Corpus::load();
    for (service, short, full) in [
        (
            Service::Inventory,
            "inventory",
            "spaceone.api.inventory.v1.JobTask",
        ),
        (
            Service::SpotAutomation,
            "spot_automation",
            "spaceone.api.spot_automation.v1.Job",
        ),
        (
            Service::PowerScheduler,
            "power_scheduler",
            "spaceone.api.power_scheduler.v1.Job",
        ),
    ] {
        let addr = support::start(&corpus, service).await;
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        for name in ["", short, full] {
            let answer = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: name.to_string(),
                })
                .await
                .unwrap_or_else(|e| panic!("{short}: health of '{name}': {e}"))
                .into_inner();
            assert_eq!(answer.status, 1, "{short}: '{name}' is SERVING");
        }
        let unknown = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: "identity".into(),
            })
            .await
            .expect_err("another service's name is not ours");
        assert_eq!(unknown.code(), tonic::Code::NotFound);

        for path in ["/healthz", "/readyz"] {
            let answer = reqwest::get(format!("http://{addr}{path}"))
                .await
                .expect("probe");
            assert_eq!(answer.status().as_u16(), 200, "{short} {path}");
            let body: serde_json::Value = answer.json().await.expect("json");
            assert_eq!(body["status"], "SERVING", "{short} {path}");
        }
    }
}

#[tokio::test]
async fn probes_need_no_token_when_authentication_is_on() {
    let (_key, jwk) = crate::auth::generated_key();
    let jwks = serde_json::json!({"keys": [jwk]}).to_string();
    let auth = spacejobs_auth::JwksAuthenticator::from_json(&jwks).expect("jwks");
    let logic = spacejobs_core::JobService::new(Service::Inventory, crate::auth::store().await)
        .with_authenticator(std::sync::Arc::new(auth));
    let addr = support::listen_on_free_port(logic).await;
    let list = reqwest::get(format!(
        "http://{addr}/inventory/v1/job-tasks?domain_id=domain-a"
    ))
    .await
    .expect("list");
    assert_eq!(list.status().as_u16(), 401, "a list needs a token");
    for path in ["/healthz", "/readyz"] {
        let answer = reqwest::get(format!("http://{addr}{path}"))
            .await
            .expect("probe");
        assert_eq!(answer.status().as_u16(), 200, "{path}");
    }
}
