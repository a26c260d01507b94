//! The whole conformance corpus through real gRPC clients against `run` on a real port.
//! Requests come from the corpus's proto3 JSON; the few cases whose JSON cannot be written as
//! a protobuf message at all (a field of the wrong type, an unknown field) are counted as
//! skipped here and run over REST.

mod render;

use serde_json::Value;
use spacejobs_conformance::{Case, Corpus, Method, Outcome, Report};
use spacejobs_core::time::{parse_iso, FixedClock};
use spacejobs_core::{JobService, ListRequest, MemoryStore, Service, StatRequest, Store};
use spacejobs_proto::{inventory, power_scheduler, spot_automation};
use spacejobs_server::convert;
use std::sync::Arc;
use tonic::transport::Channel;

async fn start(corpus: &Corpus, service: Service) -> Channel {
    let store = Arc::new(MemoryStore::new());
    let docs = corpus
        .dataset(service.name())
        .into_iter()
        .map(|v| match bson::Bson::try_from(v) {
            Ok(bson::Bson::Document(d)) => d,
            other => panic!("dataset document: {other:?}"),
        })
        .collect();
    store
        .insert(service.collection(), docs)
        .await
        .expect("insert");
    let clock = Arc::new(FixedClock(parse_iso(&corpus.now).expect("now")));
    let store: Arc<dyn Store> = store;
    let logic = Arc::new(JobService::with_clock(service, store, clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(spacejobs_server::run(
        listener,
        logic,
        std::future::pending(),
    ));
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

fn status_outcome(status: tonic::Status) -> Outcome {
    let code = format!("{:?}", status.code());
    // tonic names codes in CamelCase; the corpus uses the gRPC names.
    let code = match code.as_str() {
        "InvalidArgument" => "INVALID_ARGUMENT",
        "NotFound" => "NOT_FOUND",
        "Unavailable" => "UNAVAILABLE",
        "DeadlineExceeded" => "DEADLINE_EXCEEDED",
        "Internal" => "INTERNAL",
        other => other,
    }
    .to_string();
    let message = status.message().to_string();
    let name = message.split(':').next().unwrap_or_default().to_string();
    Outcome::Error {
        code,
        name,
        message,
    }
}

async fn call(channels: &[(Service, Channel)], case: &Case, service: Service) -> Option<Outcome> {
    let channel = channels
        .iter()
        .find(|(s, _)| *s == service)
        .map(|(_, c)| c.clone())
        .expect("channel");
    let result: Result<Value, tonic::Status> = match case.method {
        Method::List => {
            let Ok(request) = ListRequest::from_json(service, &case.request) else {
                return None;
            };
            let query = request.query.as_ref().map(convert::query_to_proto);
            let field = |name: &str| request.fields.get(name).cloned().unwrap_or_default();
            let status = convert::status_of(service, &request.fields);
            match service {
                Service::Inventory => inventory::job_task_client::JobTaskClient::new(channel)
                    .list(inventory::JobTaskQuery {
                        query,
                        job_task_id: field("job_task_id"),
                        status,
                        job_id: field("job_id"),
                        secret_id: field("secret_id"),
                        provider: field("provider"),
                        service_account_id: field("service_account_id"),
                        project_id: field("project_id"),
                        domain_id: field("domain_id"),
                    })
                    .await
                    .map(|r| render::job_tasks(r.into_inner())),
                Service::SpotAutomation => spot_automation::job_client::JobClient::new(channel)
                    .list(spot_automation::JobsQuery {
                        query,
                        job_id: field("job_id"),
                        status,
                        project_id: field("project_id"),
                        domain_id: field("domain_id"),
                    })
                    .await
                    .map(|r| render::spot_jobs(r.into_inner())),
                Service::PowerScheduler => power_scheduler::job_client::JobClient::new(channel)
                    .list(power_scheduler::JobsQuery {
                        query,
                        job_id: field("job_id"),
                        status,
                        schedule_id: field("schedule_id"),
                        project_id: field("project_id"),
                        domain_id: field("domain_id"),
                    })
                    .await
                    .map(|r| render::power_jobs(r.into_inner())),
            }
        }
        Method::Stat => {
            let Ok(request) = StatRequest::from_json(&case.request) else {
                return None;
            };
            // A stage name the proto oneof does not have cannot be sent.
            if request
                .query
                .as_ref()
                .is_some_and(|q| q.aggregate.iter().any(|s| !s.unknown.is_empty()))
            {
                return None;
            }
            let query = request
                .query
                .as_ref()
                .map(convert::statistics_query_to_proto);
            let domain_id = request.domain_id.clone();
            match service {
                Service::Inventory => inventory::job_task_client::JobTaskClient::new(channel)
                    .stat(inventory::JobTaskStatQuery { query, domain_id })
                    .await
                    .map(|r| Value::Object(convert::struct_to_json(&r.into_inner()))),
                Service::SpotAutomation => spot_automation::job_client::JobClient::new(channel)
                    .stat(spot_automation::JobStatQuery { query, domain_id })
                    .await
                    .map(|r| Value::Object(convert::struct_to_json(&r.into_inner()))),
                Service::PowerScheduler => power_scheduler::job_client::JobClient::new(channel)
                    .stat(power_scheduler::JobStatQuery { query, domain_id })
                    .await
                    .map(|r| Value::Object(convert::struct_to_json(&r.into_inner()))),
            }
        }
    };
    Some(match result {
        Ok(v) => Outcome::Response(v),
        Err(status) => status_outcome(status),
    })
}

#[tokio::test]
async fn corpus_passes_over_grpc() {
    let corpus = Corpus::load();
    let mut channels = Vec::new();
    for service in Service::ALL {
        channels.push((service, start(&corpus, service).await));
    }
    let mut report = Report::new("grpc");
    let mut skipped = 0;
    for case in &corpus.cases {
        let service = Service::from_name(&case.service).expect("service");
        match call(&channels, case, service).await {
            Some(outcome) => report.record(case, &outcome),
            None => skipped += 1,
        }
    }
    println!("grpc: {skipped} cases not expressible as protobuf messages (run over REST)");
    assert!(skipped < 12, "too many cases skipped: {skipped}");
    report.finish();
}
