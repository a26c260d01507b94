//! The whole conformance corpus through real gRPC clients against `run` on a real port.
//! Requests come from the corpus's proto3 JSON; the few cases whose JSON cannot be written as
//! a protobuf message at all (a field of the wrong type, an unknown field) are counted as
//! skipped here and run over REST.

use crate::support;
use serde_json::Value;
use spacejobs_conformance::{Case, Corpus, Method, Outcome, Report};
use spacejobs_core::{ListRequest, Service, StatRequest};
use spacejobs_proto::{inventory, power_scheduler, spot_automation};
use spacejobs_server::{convert, json};
use tonic::transport::Channel;

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
                    .map(|r| json::job_tasks(r.into_inner())),
                Service::SpotAutomation => spot_automation::job_client::JobClient::new(channel)
                    .list(spot_automation::JobsQuery {
                        query,
                        job_id: field("job_id"),
                        status,
                        project_id: field("project_id"),
                        domain_id: field("domain_id"),
                    })
                    .await
                    .map(|r| json::spot_jobs(r.into_inner())),
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
                    .map(|r| support::with_controller(json::power_jobs(r.into_inner()))),
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

async fn run_corpus(label: &str, corpus: &Corpus, addrs: Vec<(Service, std::net::SocketAddr)>) {
    let mut channels = Vec::new();
    for (service, addr) in addrs {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        channels.push((service, channel));
    }
    let mut report = Report::new(label);
    let mut skipped = 0;
    for case in &corpus.cases {
        let service = Service::from_name(&case.service).expect("service");
        match call(&channels, case, service).await {
            Some(outcome) => report.record(case, &outcome),
            None => skipped += 1,
        }
    }
    println!("{label}: {skipped} cases not expressible as protobuf messages (run over REST)");
    assert!(skipped < 12, "too many cases skipped: {skipped}");
    report.finish();
}

#[tokio::test]
async fn corpus_passes_over_grpc() {
    let corpus = Corpus::load();
    let mut addrs = Vec::new();
    for service in Service::ALL {
        addrs.push((service, support::start(&corpus, service).await));
    }
    run_corpus("grpc", &corpus, addrs).await;
}

/// The same through the binaries' MongoDB path (the server at `MONGODB_URI`).
#[tokio::test]
async fn corpus_passes_over_grpc_on_mongodb() {
    let corpus = Corpus::load();
    let mut addrs = Vec::new();
    for service in Service::ALL {
        addrs.push((service, support::start_on_mongodb(&corpus, service).await));
    }
    run_corpus("grpc on mongodb", &corpus, addrs).await;
}
