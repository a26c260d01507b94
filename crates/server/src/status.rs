//! The one place where core errors become gRPC statuses.

use spacejobs_core::{Error, ErrorClass};
use tonic::{Code, Status};

/// A core error as a `tonic::Status`: the class picks the code, the message is SpaceONE's
/// `"<ERROR_CODE>: <message>"` (internal details are logged, never sent).
pub fn to_status(error: &Error) -> Status {
    let code = match error.class() {
        ErrorClass::InvalidArgument => Code::InvalidArgument,
        ErrorClass::NotFound => Code::NotFound,
        ErrorClass::Unavailable => Code::Unavailable,
        ErrorClass::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorClass::ResourceExhausted => Code::ResourceExhausted,
        ErrorClass::Cancelled => Code::Cancelled,
        ErrorClass::AlreadyExists => Code::AlreadyExists,
        ErrorClass::FailedPrecondition => Code::FailedPrecondition,
        ErrorClass::Unauthenticated => Code::Unauthenticated,
        ErrorClass::PermissionDenied => Code::PermissionDenied,
        ErrorClass::Internal => Code::Internal,
    };
    if code == Code::Internal {
        tracing::error!(error = %error, "internal error");
    }
    Status::new(code, error.details())
}

/// Middleware on the gRPC routes: tonic answers a request message over the size limit with
/// OUT_OF_RANGE and its own text; we answer RESOURCE_EXHAUSTED in the `ERROR_*` shape, as for
/// every other refusal, naming `limit` (the configured message size). (Our services never
/// answer OUT_OF_RANGE otherwise.)
pub async fn oversize_message(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    // `Code::OutOfRange` (11) as the `grpc-status` header writes it.
    const OUT_OF_RANGE: &[u8] = b"11";
    debug_assert_eq!(Code::OutOfRange as i32, 11);
    if response.headers().get("grpc-status").map(|v| v.as_bytes()) != Some(OUT_OF_RANGE) {
        return response;
    }
    let error = Error::TooLarge {
        part: "message".into(),
        limit,
    };
    let replacement = to_status(&error).into_http::<axum::body::Body>();
    for name in ["grpc-status", "grpc-message"] {
        if let Some(value) = replacement.headers().get(name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}
