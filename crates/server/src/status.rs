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
        ErrorClass::Internal => Code::Internal,
    };
    if code == Code::Internal {
        tracing::error!(error = %error, "internal error");
    }
    Status::new(code, error.details())
}
