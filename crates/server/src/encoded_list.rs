//! Inventory `list` answered with `JobTasksInfo` bytes written straight from the stored
//! documents ([`crate::raw_info`]): the gRPC route of `/spaceone.api.inventory.v1.JobTask/list`
//! in place of the generated one. The call goes through the same handler (deadline, token,
//! metrics, logs and spans); only the framing is done here: the request's one message is
//! read from the body, and the answer is written once, behind its gRPC frame header, and
//! sent as it is (one data frame, then the `grpc-status` trailer), without tonic's encoder
//! copying it into a buffer of its own. Errors are answered as tonic answers them. Only the
//! server of [`crate::run_with`] routes here ([`crate::front`], where its measured gain is);
//! [`crate::routes`], for embedding, answers with tonic's route.

use crate::grpc::Handler;
use crate::raw_info::framed_job_tasks_info;
use crate::shape::ShapeCheck;
use crate::status::to_status;
use http_body_util::BodyExt;
use prost::bytes::Bytes;
use prost::Message;
use spacejobs_core::{Error, Result};
use spacejobs_proto::inventory::JobTaskQuery;
use std::convert::Infallible;
use std::task::{Context, Poll};
use tonic::codegen::{http, BoxFuture, Service};
use tonic::{Request, Status};

/// The gRPC path this route answers.
pub const PATH: &str = "/spaceone.api.inventory.v1.JobTask/list";

use crate::preencoded::HEADER;

/// The route's HTTP service: reads the request (its message at most `max_message_size`
/// bytes), runs the handler's inventory list, writes the answer.
#[derive(Clone)]
pub struct ListRoute {
    handler: Handler,
    max_message_size: usize,
    shape: ShapeCheck,
}

impl ListRoute {
    /// The route over `handler`, refusing requests larger than `max_message_size`, and
    /// those whose lists `shape` finds over the budget before decoding them.
    pub fn new(handler: Handler, max_message_size: usize, shape: ShapeCheck) -> Self {
        ListRoute {
            handler,
            max_message_size,
            shape,
        }
    }

    /// The answer's frame, or the status to answer with.
    async fn answer(self, request: http::Request<axum::body::Body>) -> Result<Bytes, Status> {
        let (parts, body) = request.into_parts();
        if let Some(encoding) = parts.headers.get("grpc-encoding") {
            if encoding != "identity" {
                let name = String::from_utf8_lossy(encoding.as_bytes());
                return Err(Status::unimplemented(format!(
                    "Content is compressed with `{name}` which isn't supported"
                )));
            }
        }
        let bytes = read_frame(body, self.max_message_size, &self.shape).await?;
        if let Some(refusal) = self.shape.refusal(PATH, &bytes).await {
            return Err(refusal);
        }
        let query = decode_frame(&bytes)?;
        let request = Request::from_http(http::Request::from_parts(parts, query));
        let framed = self
            .handler
            .job_task_list(request, framed_job_tasks_info)
            .await?;
        Ok(Bytes::from(framed))
    }
}

/// The one message frame of a unary request's body, read to the body's end; a message over
/// the limit is refused as the server's size middleware words tonic's refusal, and one whose
/// start is over the budget as soon as that start arrives (`shape`).
async fn read_frame(
    mut body: axum::body::Body,
    max: usize,
    shape: &ShapeCheck,
) -> Result<Vec<u8>, Status> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut walk_at = crate::shape::WALK_FIRST;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Status::internal(format!("request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        bytes.extend_from_slice(&data);
        // A message over the limit, or more bytes than one message of the limit (a body
        // that goes on past its message), is not read further.
        let declared = declared_len(&bytes).unwrap_or(0);
        if declared > max || bytes.len() > HEADER.saturating_add(max) {
            return Err(to_status(&Error::TooLarge {
                part: "message".into(),
                limit: max,
            }));
        }
        if bytes.len() >= walk_at {
            walk_at = bytes.len().saturating_mul(2);
            if let Some(refusal) = shape.refusal(PATH, &bytes).await {
                return Err(refusal);
            }
        }
    }
    Ok(bytes)
}

/// The message of a frame; the statuses are tonic's for the same faults.
fn decode_frame(bytes: &[u8]) -> Result<JobTaskQuery, Status> {
    let Some(flag) = bytes.first() else {
        return Err(Status::internal("Missing request message."));
    };
    match flag {
        0 => {}
        1 => {
            return Err(Status::internal(
                "protocol error: received message with compressed-flag but no grpc-encoding was specified",
            ))
        }
        f => {
            return Err(Status::internal(format!(
                "protocol error: received message with invalid compression flag: {f} (valid flags are 0 and 1), while receiving a request"
            )))
        }
    }
    let message = declared_len(bytes).and_then(|len| bytes.get(HEADER..HEADER + len));
    let message = message.ok_or_else(|| Status::internal("Unexpected EOF decoding stream."))?;
    JobTaskQuery::decode(message).map_err(|e| Status::internal(e.to_string()))
}

/// The message length a frame header declares, once the header is there.
fn declared_len(bytes: &[u8]) -> Option<usize> {
    let header: [u8; 4] = bytes.get(1..HEADER)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(header)).ok()
}

impl Service<http::Request<axum::body::Body>> for ListRoute {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<axum::body::Body>) -> Self::Future {
        let route = self.clone();
        Box::pin(async move {
            Ok(match route.answer(request).await {
                Ok(frame) => {
                    let mut response = http::Response::new(tonic::body::Body::new(
                        crate::preencoded::unary(frame),
                    ));
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/grpc"),
                    );
                    response
                }
                Err(status) => status.into_http(),
            })
        })
    }
}
