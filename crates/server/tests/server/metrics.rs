//! `GET /metrics` after known traffic: the request counters and latency histograms by
//! service, method, transport and status, nothing left in flight, and the documents by
//! domain and status with the domains past the limit summed.

use bson::doc;
use spacejobs_core::{JobService, Service, Store};
use spacejobs_engine::MemoryStore;
use spacejobs_proto::core as pb;
use spacejobs_proto::inventory::job_task_client::JobTaskClient;
use spacejobs_proto::inventory::{JobTaskQuery, JobTaskStatQuery};
use spacejobs_server::ServerConfig;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The samples of a text exposition: `name` and its labels to the value.
fn samples(text: &str) -> HashMap<(String, BTreeMap<String, String>), f64> {
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').expect("label=value");
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        out.insert((name.to_string(), labels), value.parse().expect("a number"));
    }
    out
}

fn key(name: &str, labels: &[(&str, &str)]) -> (String, BTreeMap<String, String>) {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (name.to_string(), labels)
}

#[tokio::test]
async fn metrics_count_the_traffic_and_the_documents() {
    let store = Arc::new(MemoryStore::new());
    let task = |n: u32, domain: &str, status: &str| {
        doc! {"job_task_id": format!("job-task-{n:012x}"), "domain_id": domain, "status": status,
        "created_at": bson::DateTime::from_millis(i64::from(n) * 1000)}
    };
    let docs = vec![
        task(1, "domain-a", "SUCCESS"),
        task(2, "domain-a", "SUCCESS"),
        task(3, "domain-a", "SUCCESS"),
        task(4, "domain-a", "FAILURE"),
        task(5, "domain-b", "SUCCESS"),
        task(6, "domain-b", "SUCCESS"),
        task(7, "domain-c", "PENDING"),
    ];
    store
        .insert(Service::Inventory.collection(), docs)
        .await
        .expect("insert");
    let store: Arc<dyn Store> = store;
    let service = Arc::new(JobService::new(Service::Inventory, store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = ServerConfig {
        metrics_domains: 2,
        ..ServerConfig::default()
    };
    tokio::spawn(async move {
        spacejobs_server::run_with(listener, service, &config, std::future::pending()).await
    });

    let mut grpc = JobTaskClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    for _ in 0..3 {
        let listed = grpc
            .list(JobTaskQuery {
                domain_id: "domain-a".into(),
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(listed.get_ref().total_count, 4);
    }
    let refused = grpc
        .stat(JobTaskStatQuery {
            domain_id: "domain-a".into(),
            query: Some(pb::StatisticsQuery::default()),
        })
        .await
        .expect_err("a stat query without distinct or aggregate");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/inventory/v1/job-tasks");
    for _ in 0..2 {
        let answer = http
            .post(format!("{base}/stat"))
            .json(&serde_json::json!({"domain_id": "domain-b", "query": {"distinct": "status"}}))
            .send()
            .await
            .expect("stat");
        assert!(answer.status().is_success());
    }
    let bad = http
        .post(format!("{base}/search"))
        .body("{not json")
        .send()
        .await
        .expect("search");
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);

    let scraped = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert!(scraped.status().is_success());
    let content_type = scraped.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = scraped.text().await.expect("text");
    let got = samples(&text);
    let value = |name: &str, labels: &[(&str, &str)]| {
        got.get(&key(name, labels))
            .copied()
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    let requests = "spacejobs_requests_total";
    let inventory = ("service", "inventory");
    for (method, transport, status, n) in [
        ("list", "grpc", "OK", 3.0),
        ("stat", "grpc", "ERROR_REQUIRED_PARAMETER", 1.0),
        ("stat", "rest", "OK", 2.0),
        ("list", "rest", "ERROR_INVALID_PARAMETER_TYPE", 1.0),
    ] {
        let labels = [
            inventory,
            ("method", method),
            ("transport", transport),
            ("status", status),
        ];
        assert_eq!(value(requests, &labels), n, "{labels:?}");
    }
    let histogram = "spacejobs_request_duration_seconds_count";
    let grpc_list = [inventory, ("method", "list"), ("transport", "grpc")];
    assert_eq!(value(histogram, &grpc_list), 3.0);
    let rest_stat = [inventory, ("method", "stat"), ("transport", "rest")];
    assert_eq!(value(histogram, &rest_stat), 2.0);
    for transport in ["grpc", "rest"] {
        let labels = [inventory, ("transport", transport)];
        assert_eq!(value("spacejobs_requests_in_flight", &labels), 0.0);
    }
    let collection = ("collection", "job_task");
    assert_eq!(value("spacejobs_documents", &[collection]), 7.0);
    let by_status = "spacejobs_documents_by_status";
    for (domain, status, n) in [
        ("domain-a", "SUCCESS", 3.0),
        ("domain-a", "FAILURE", 1.0),
        ("domain-b", "SUCCESS", 2.0),
        ("_other", "PENDING", 1.0),
    ] {
        let labels = [collection, ("domain", domain), ("status", status)];
        assert_eq!(value(by_status, &labels), n, "{labels:?}");
    }
    assert!(
        !text.contains("domain-c"),
        "domains past the limit are not named"
    );
}
