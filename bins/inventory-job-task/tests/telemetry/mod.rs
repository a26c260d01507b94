//! `--otlp-endpoint`: each request's span reaches an OTLP/HTTP collector (a small one of the
//! test's own, decoding the protobuf export requests), named after the gRPC method, with its
//! transport, domain and outcome, errors marked as errors; spans still batched are sent
//! when the server is stopped.

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support;

type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// A collector on a free port: keeps every span with its resource's service name.
async fn collector() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP export");
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            sink.lock().expect("lock").push((service.clone(), span));
                        }
                    }
                }
                Vec::<u8>::new()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn attributes(span: &Span) -> HashMap<String, String> {
    span.attributes
        .iter()
        .filter_map(|a| Some((a.key.clone(), text(a.value.as_ref()?.value.as_ref()?)?)))
        .collect()
}

#[tokio::test]
async fn request_spans_reach_the_collector() {
    let (endpoint, received) = collector().await;
    let mut server = support::start("otlp", 50, &["--otlp-endpoint", &endpoint]);
    let base = format!("http://{}/inventory/v1/job-tasks", server.addr);
    let post = |path: &str, body: String| {
        let url = format!("{base}{path}");
        tokio::task::spawn_blocking(move || {
            Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-X",
                    "POST",
                    &url,
                    "-d",
                    &body,
                ])
                .output()
                .expect("curl")
        })
    };
    let ok = post("/search", r#"{"domain_id": "domain-demo"}"#.into())
        .await
        .expect("join");
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "200");
    let bad = post(
        "/stat",
        r#"{"domain_id": "domain-demo", "query": {"distinct": ""}}"#.into(),
    )
    .await
    .expect("join");
    assert_eq!(String::from_utf8_lossy(&bad.stdout), "400");
    let mut grpc = spacejobs_proto::inventory::job_task_client::JobTaskClient::connect(format!(
        "http://{}",
        server.addr
    ))
    .await
    .expect("connect");
    grpc.list(spacejobs_proto::inventory::JobTaskQuery {
        domain_id: "domain-demo".into(),
        ..Default::default()
    })
    .await
    .expect("grpc list");
    // Stopped politely, the server sends the spans it still holds.
    let stopped = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    let until = Instant::now() + Duration::from_secs(20);
    while received.lock().expect("lock").len() < 3 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.child.wait();
    let spans = received.lock().expect("lock").clone();
    let find = |transport: &str, method: &str| {
        spans
            .iter()
            .find(|(_, s)| {
                let a = attributes(s);
                a.get("spacejobs.transport").map(String::as_str) == Some(transport)
                    && a.get("rpc.method").map(String::as_str) == Some(method)
            })
            .unwrap_or_else(|| panic!("no {transport} {method} span in {spans:?}"))
    };
    let (service, rest_list) = find("rest", "list");
    assert_eq!(service, "spacejobs-inventory");
    assert_eq!(rest_list.name, "spaceone.api.inventory.v1.JobTask/list");
    let a = attributes(rest_list);
    assert_eq!(a["spacejobs.domain"], "domain-demo");
    assert_eq!(a["spacejobs.status"], "OK");
    assert_eq!(rest_list.kind, 2, "a server span");
    let (_, grpc_list) = find("grpc", "list");
    assert_eq!(attributes(grpc_list)["spacejobs.status"], "OK");
    let (_, refused) = find("rest", "stat");
    assert_eq!(
        attributes(refused)["spacejobs.status"],
        "ERROR_REQUIRED_PARAMETER"
    );
    assert_eq!(
        refused.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
}
