//! Answers encoded off the async workers. A handler that made its answer's protobuf bytes on
//! the request pool ([`frame`]) returns a placeholder message carrying them
//! ([`respond`]); [`send_preencoded`], a layer on the gRPC routes, sends those bytes as the
//! answer's one frame in place of the placeholder, which is never encoded. A stat of a
//! `push` over thousands of documents is several megabytes: encoded by tonic on an async
//! worker, it held that worker (seconds in a debug build) and the health checks behind it.

use http_body::{Body, Frame};
use prost::bytes::Bytes;
use prost::Message;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::codegen::http;

/// The gRPC frame header: a compression flag and the message's length (big-endian).
pub const HEADER: usize = 5;

/// An answer's gRPC frame (header and message), made before the response is.
#[derive(Debug, Clone)]
pub struct PreEncoded(pub Bytes);

/// `message` as one gRPC frame: the header, then its bytes.
pub fn frame(message: &impl Message) -> Vec<u8> {
    let len = message.encoded_len();
    let mut framed = Vec::with_capacity(HEADER + len);
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    message.encode_raw(&mut framed);
    framed
}

/// The response whose answer is `framed` (made by [`frame`]): an empty placeholder of the
/// method's type, never encoded, with the frame beside it.
pub fn respond<T: Default>(framed: Vec<u8>) -> tonic::Response<T> {
    let mut response = tonic::Response::new(T::default());
    response
        .extensions_mut()
        .insert(PreEncoded(Bytes::from(framed)));
    response
}

/// Middleware on the gRPC routes: a response carrying a [`PreEncoded`] frame is sent as that
/// frame and the `grpc-status: 0` trailer, its placeholder body dropped unread.
pub async fn send_preencoded(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    match response.extensions_mut().remove::<PreEncoded>() {
        Some(PreEncoded(frame)) => response.map(|_| axum::body::Body::new(unary(frame))),
        None => response,
    }
}

/// A unary answer's body: `frame`, then the trailer `grpc-status: 0`.
pub fn unary(frame: Bytes) -> Unary {
    Unary {
        frame: Some(frame),
        trailers: true,
    }
}

/// A unary answer's body: its one frame, then the trailer `grpc-status: 0`.
pub struct Unary {
    frame: Option<Bytes>,
    trailers: bool,
}

impl Body for Unary {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(frame) = this.frame.take() {
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        if std::mem::take(&mut this.trailers) {
            let mut trailers = http::HeaderMap::with_capacity(1);
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.frame.is_none() && !self.trailers
    }
}
