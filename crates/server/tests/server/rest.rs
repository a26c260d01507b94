//! The whole conformance corpus through the REST routes (every case: JSON carries them all),
//! list requests without a query through `GET` with query parameters, the others through
//! `POST …/search`; plus malformed input.

use crate::support;
use serde_json::{json, Value};
use spacejobs_conformance::{Corpus, Method, Outcome, Report};
use spacejobs_core::Service;
use spacejobs_server::rest::base_path;
use spacejobs_server::ServerConfig;
use std::net::SocketAddr;

fn code_of(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        404 => "NOT_FOUND",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

async fn outcome(response: reqwest::Response) -> Outcome {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    if status == 200 {
        return Outcome::Response(support::with_controller(body));
    }
    Outcome::Error {
        code: code_of(status).to_string(),
        name: body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        message: body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// A list request with only scalar top-level fields, as GET query parameters.
fn as_query_parameters(request: &Value) -> Option<Vec<(String, String)>> {
    let object = request.as_object()?;
    object
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn corpus_passes_over_rest() {
    let corpus = Corpus::load();
    let mut addrs: Vec<(Service, SocketAddr)> = Vec::new();
    for service in Service::ALL {
        addrs.push((service, support::start(&corpus, service).await));
    }
    run_corpus("rest", &corpus, addrs).await;
}

/// The same through the MongoDB store (the server at `MONGODB_URI`).
#[tokio::test]
async fn corpus_passes_over_rest_on_mongodb() {
    let corpus = Corpus::load();
    let mut addrs: Vec<(Service, SocketAddr)> = Vec::new();
    for service in Service::ALL {
        addrs.push((service, support::start_on_mongodb(&corpus, service).await));
    }
    run_corpus("rest on mongodb", &corpus, addrs).await;
}

async fn run_corpus(label: &str, corpus: &Corpus, addrs: Vec<(Service, SocketAddr)>) {
    let client = reqwest::Client::new();
    let mut report = Report::new(label);
    let mut via_get = 0;
    for case in &corpus.cases {
        let service = Service::from_name(&case.service).expect("service");
        let addr = addrs
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, a)| *a)
            .expect("addr");
        let base = format!("http://{addr}{}", base_path(service));
        let response = match (case.method, as_query_parameters(&case.request)) {
            (Method::List, Some(params)) => {
                via_get += 1;
                client.get(&base).query(&params).send().await
            }
            (Method::List, None) => {
                client
                    .post(format!("{base}/search"))
                    .json(&case.request)
                    .send()
                    .await
            }
            (Method::Stat, _) => {
                client
                    .post(format!("{base}/stat"))
                    .json(&case.request)
                    .send()
                    .await
            }
        };
        report.record(case, &outcome(response.expect("HTTP answer")).await);
    }
    println!("{label}: {via_get} list cases sent as GET with query parameters");
    report.finish();
}

#[tokio::test]
async fn malformed_rest_input_gets_clear_errors() {
    let corpus = Corpus::load();
    let addr = support::start(&corpus, Service::Inventory).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}/inventory/v1/job-tasks{path}");
    let cases = [
        (
            client.post(url("/search")).body("{not json"),
            400,
            "ERROR_INVALID_PARAMETER_TYPE",
            "invalid JSON",
        ),
        (
            client
                .post(url("/stat"))
                .json(&json!({"domain_id": "d", "query": {"aggregate": "x"}})),
            400,
            "ERROR_INVALID_PARAMETER_TYPE",
            "aggregate",
        ),
        (
            client.post(url("/search")).json(&json!({"query": {}})),
            400,
            "ERROR_REQUIRED_PARAMETER",
            "domain_id",
        ),
        (
            client
                .get(url(""))
                .query(&[("domain_id", "d"), ("colour", "red")]),
            400,
            "ERROR_INVALID_PARAMETER_TYPE",
            "colour",
        ),
        (
            client
                .post(url("/search"))
                .json(&json!({"domain_id": "d", "query": {"page": {"limit": 4294967296u64}}})),
            400,
            "ERROR_INVALID_PARAMETER_TYPE",
            "page.limit",
        ),
        // A second domain_id must not override the first (a gateway checks the first).
        (
            client.get(format!(
                "http://{addr}/inventory/v1/job-tasks?domain_id=domain-a&domain_id=domain-b"
            )),
            400,
            "ERROR_INVALID_PARAMETER_TYPE",
            "domain_id",
        ),
        // One body limit, the gRPC message limit, refused in the ERROR_* shape.
        (
            client
                .post(url("/search"))
                .body(vec![b' '; ServerConfig::default().max_message_size + 1]),
            413,
            "ERROR_REQUEST_TOO_LARGE",
            "part = body",
        ),
        (
            client
                .get(url(""))
                .query(&[("domain_id", "domain-a")])
                .header(
                    "x-padding",
                    "p".repeat(ServerConfig::default().max_header_bytes),
                ),
            431,
            "ERROR_REQUEST_TOO_LARGE",
            "part = headers",
        ),
        (
            client.get(format!("http://{addr}/inventory/v1/nothing")),
            404,
            "ERROR_NOT_FOUND",
            "/inventory/v1/nothing",
        ),
        (
            client.delete(url("")),
            405,
            "ERROR_METHOD_NOT_ALLOWED",
            "DELETE",
        ),
    ];
    for (request, status, code, word) in cases {
        let response = request.send().await.expect("answer");
        assert_eq!(response.status().as_u16(), status, "{code} {word}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], json!(code), "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(word),
            "{body}"
        );
    }
    // The server keeps serving.
    let ok = client
        .get(url(""))
        .query(&[("domain_id", "domain-a")])
        .send()
        .await
        .expect("answer");
    assert_eq!(ok.status().as_u16(), 200);
}
