//! Inventory `list` answered with `JobTasksInfo` bytes written straight from the stored
//! documents ([`crate::raw_info`]): the gRPC route of `/spaceone.api.inventory.v1.JobTask/list`
//! in place of the generated one. The call goes through the same handler (deadline, token,
//! metrics, logs and spans); only the answer is not built as a message before it is encoded.

use crate::grpc::Handler;
use crate::raw_info::job_tasks_info_bytes;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{skip_field, DecodeContext, WireType};
use prost::DecodeError;
use spacejobs_core::eval::ListOutput;
use spacejobs_core::Result;
use spacejobs_proto::inventory::JobTaskQuery;
use std::convert::Infallible;
use std::task::{Context, Poll};
use tonic::codegen::{http, BoxFuture, Service};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// The gRPC path this route answers.
pub const PATH: &str = "/spaceone.api.inventory.v1.JobTask/list";

/// A message already encoded: its bytes are written as they are.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PreEncoded(pub Vec<u8>);

impl prost::Message for PreEncoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> std::result::Result<(), DecodeError> {
        // Only ever sent; a decoder learns nothing from it.
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// A list answer as `JobTasksInfo` bytes.
fn answer(out: ListOutput) -> Result<PreEncoded> {
    let total = i32::try_from(out.total_count).unwrap_or(i32::MAX);
    job_tasks_info_bytes(&out.documents, total).map(PreEncoded)
}

/// The unary method: the handler's inventory list, answered in bytes.
struct ListMethod(Handler);

impl tonic::server::UnaryService<JobTaskQuery> for ListMethod {
    type Response = PreEncoded;
    type Future = BoxFuture<Response<PreEncoded>, Status>;

    fn call(&mut self, request: Request<JobTaskQuery>) -> Self::Future {
        let handler = self.0.clone();
        Box::pin(async move { handler.job_task_list(request, answer).await })
    }
}

/// The route's HTTP service: decodes the request (at most `max_message_size` bytes), runs
/// [`ListMethod`], writes the answer.
#[derive(Clone)]
pub struct ListRoute {
    handler: Handler,
    max_message_size: usize,
}

impl ListRoute {
    /// The route over `handler`, refusing requests larger than `max_message_size`.
    pub fn new(handler: Handler, max_message_size: usize) -> Self {
        ListRoute {
            handler,
            max_message_size,
        }
    }
}

impl Service<http::Request<axum::body::Body>> for ListRoute {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<axum::body::Body>) -> Self::Future {
        let method = ListMethod(self.handler.clone());
        let max = self.max_message_size;
        Box::pin(async move {
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<PreEncoded, JobTaskQuery>::default())
                    .apply_max_message_size_config(Some(max), None);
            Ok(grpc.unary(method, request).await)
        })
    }
}
