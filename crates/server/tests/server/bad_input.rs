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

/// A codec that sends and receives a message's bytes as they are, so a test can send what
/// no generated client would.
#[derive(Default, Clone, Copy)]
struct RawBytes;

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;

    fn encoder(&mut self) -> RawBytes {
        RawBytes
    }

    fn decoder(&mut self) -> RawBytes {
        RawBytes
    }
}

impl tonic::codec::Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let bytes = src.chunk().to_vec();
        src.advance(bytes.len());
        Ok(Some(bytes))
    }
}

#[tokio::test]
async fn the_inventory_list_route_reads_and_refuses_frames_as_tonic_does() {
    use prost::Message;
    let corpus = Corpus::load();
    let addr = support::start(&corpus, Service::Inventory).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/spaceone.api.inventory.v1.JobTask/list",
    );
    let call = |request: tonic::Request<Vec<u8>>| {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        let path = path.clone();
        async move {
            grpc.ready().await.expect("ready");
            grpc.unary(request, path, RawBytes).await
        }
    };
    let query = JobTaskQuery {
        domain_id: "domain-a".into(),
        ..Default::default()
    };
    // The bytes the route writes are the message the generated client reads.
    let raw = call(tonic::Request::new(query.encode_to_vec()))
        .await
        .expect("answered")
        .into_inner();
    let answer = spacejobs_proto::inventory::JobTasksInfo::decode(raw.as_slice()).expect("decodes");
    let mut client = JobTaskClient::new(channel.clone());
    let typed = client.list(query.clone()).await.expect("answered");
    assert_eq!(answer, typed.into_inner());
    assert_eq!(answer.total_count, 9);

    // Bytes that are not a JobTaskQuery: INTERNAL, as tonic answers a message it cannot
    // decode.
    let status = call(tonic::Request::new(vec![0xff, 0xff, 0xff]))
        .await
        .expect_err("not a message");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    // A compression the server does not take: UNIMPLEMENTED, naming it.
    let mut gzip = tonic::Request::new(query.encode_to_vec());
    gzip.metadata_mut()
        .insert("grpc-encoding", "gzip".parse().expect("value"));
    let status = call(gzip).await.expect_err("compressed");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("gzip"), "{status:?}");
    // Two messages, each within the limit but together over it: the body is not read on.
    let limit = spacejobs_server::ServerConfig::default().max_message_size;
    let half = vec![0x0a; limit / 2 + 16];
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("ready");
    let stream = tokio_stream::iter(vec![half.clone(), half]);
    let status = grpc
        .client_streaming(tonic::Request::new(stream), path.clone(), RawBytes)
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // A request head over the limit is refused on this path too.
    let mut big_head = tonic::Request::new(query.encode_to_vec());
    let limit = spacejobs_server::ServerConfig::default().max_header_bytes;
    big_head
        .metadata_mut()
        .insert("x-padding", "p".repeat(limit).parse().expect("value"));
    assert!(call(big_head).await.is_err(), "a head over the limit");
    // The server keeps serving.
    assert!(client.list(query).await.is_ok());
}
