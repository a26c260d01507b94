//! Bad input over gRPC gets the right code and a message naming the problem, never a panic,
//! and the server keeps serving.

use crate::support;
use spacejobs_conformance::Corpus;
use spacejobs_core::Service;
use spacejobs_proto::core as pb;
use spacejobs_proto::inventory::{job_task_client::JobTaskClient, JobTaskQuery, JobTaskStatQuery};
use tonic::Code;

fn filter(key: &str, operator: &str, value: prost_types::Value) -> pb::Filter {
    pb::Filter {
        key_alias: Some(pb::filter::KeyAlias::K(key.into())),
        value_alias: Some(pb::filter::ValueAlias::V(value)),
        operator_alias: Some(pb::filter::OperatorAlias::O(operator.into())),
    }
}

fn text(s: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(prost_types::value::Kind::StringValue(s.into())),
    }
}

#[tokio::test]
async fn bad_grpc_input_is_answered_precisely() {
    let corpus = Corpus::load();
    let addr = support::start(&corpus, Service::Inventory).await;
    let mut client = JobTaskClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let query = |filters: Vec<pb::Filter>| {
        Some(pb::Query {
            filter: filters,
            ..Default::default()
        })
    };
    let domain = |q: Option<pb::Query>| JobTaskQuery {
        query: q,
        domain_id: "domain-a".into(),
        ..Default::default()
    };

    let cases: Vec<(JobTaskQuery, Code, &[&str])> = vec![
        (
            JobTaskQuery::default(),
            Code::InvalidArgument,
            &["ERROR_REQUIRED_PARAMETER", "domain_id"],
        ),
        (
            domain(query(vec![filter("status", "like", text("x"))])),
            Code::InvalidArgument,
            &["ERROR_DB_QUERY", "like"],
        ),
        (
            domain(query(vec![filter("status", "in", text("SUCCESS"))])),
            Code::InvalidArgument,
            &["ERROR_OPERATOR_LIST_VALUE_TYPE", "status"],
        ),
        (
            JobTaskQuery {
                status: 42,
                domain_id: "domain-a".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
            &["ERROR_INVALID_PARAMETER_TYPE", "status"],
        ),
        (
            domain(query(vec![filter("provider", "regex", text("(a"))])),
            Code::InvalidArgument,
            &["ERROR_DB_QUERY", "regex"],
        ),
    ];
    for (request, code, words) in cases {
        let status = client.list(request.clone()).await.expect_err("an error");
        assert_eq!(status.code(), code, "{request:?}: {status:?}");
        for word in words {
            assert!(
                status.message().contains(word),
                "{request:?}: '{}' lacks '{word}'",
                status.message()
            );
        }
    }
    let err = client
        .stat(JobTaskStatQuery {
            query: None,
            domain_id: "domain-a".into(),
        })
        .await
        .expect_err("no query");
    assert!(err.message().contains("key = query"), "{err:?}");

    // A huge page limit is capped, not an error.
    let huge = pb::Query {
        page: Some(pb::Page {
            start: u32::MAX,
            limit: u32::MAX,
        }),
        ..Default::default()
    };
    let out = client
        .list(domain(Some(huge)))
        .await
        .expect("capped")
        .into_inner();
    assert_eq!((out.total_count, out.results.len()), (9, 0));

    // An oversize message is refused as RESOURCE_EXHAUSTED in the ERROR_* shape.
    let limit = spacejobs_server::ServerConfig::default().max_message_size;
    let big = pb::Query {
        keyword: "x".repeat(limit + 1),
        ..Default::default()
    };
    let status = client.list(domain(Some(big))).await.expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().starts_with("ERROR_REQUEST_TOO_LARGE")
            && status.message().contains(&format!("limit = {limit} bytes")),
        "{status:?}"
    );

    // The server keeps serving.
    let ok = client
        .list(domain(None))
        .await
        .expect("still serving")
        .into_inner();
    assert_eq!(ok.total_count, 9);
}
