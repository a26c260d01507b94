//! The one error type of the core crate, with SpaceONE's `ERROR_*` names.
//!
//! Every backend and service returns [`Error`]; the gRPC and REST layers map its
//! [`Error::class`] to a status code in exactly one place each. A query the query language
//! (spacejobs-query) refuses is carried whole ([`Error::Query`]); bounded work's errors
//! (spacejobs-exec) become the variant of the same name here, with the same text.

/// Result alias used throughout the core crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while answering `list` or `stat`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A parameter has the wrong JSON/proto type.
    #[error("Invalid parameter type. (key = {key}, reason = {reason})")]
    InvalidParameterType {
        /// Dotted name of the parameter.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A query the query language refuses (a required part missing, an operator given the
    /// wrong kind of value, a bad regex, date or stage), with the query crate's own name and
    /// text; also what a request's `domain_id` or stat query missing, or a bad stored value,
    /// is reported as ([`Error::required`], [`Error::query`]).
    #[error(transparent)]
    Query(spacejobs_query::Error),
    /// A document cannot be stored as BSON (e.g. a field name holding a NUL character).
    #[error("Document is invalid. (reason = {0})")]
    InvalidDocument(String),
    /// A document asked for by id does not exist.
    #[error("Resource not found. (key = {key}, value = {value})")]
    NotFound {
        /// Name of the id field.
        key: String,
        /// The id that was asked for.
        value: String,
    },
    /// A document's public id is already taken (SpaceONE's `ERROR_NOT_UNIQUE`).
    #[error("Value is not unique. (key = {key}, value = {value})")]
    NotUnique {
        /// The id field (`job_task_id`, `job_id`).
        key: String,
        /// The id.
        value: String,
    },
    /// A lifecycle change the document's current status does not allow (e.g. cancelling a job
    /// that finished); nothing was changed.
    #[error(
        "Invalid state. (resource = {resource}, id = {id}, status = {status}, action = {action})"
    )]
    InvalidState {
        /// `job` or `job_task`.
        resource: String,
        /// The public id.
        id: String,
        /// The status found.
        status: String,
        /// What was refused (`start`, `finish`, `cancel`, …).
        action: String,
    },
    /// The storage backend cannot be reached.
    #[error("Database is unavailable. (reason = {0})")]
    Unavailable(String),
    /// Another service this one calls (identity) cannot be reached: SpaceONE's
    /// `ERROR_GRPC_CONNECTION`, naming the service, never its address.
    #[error("Server is unavailable. (channel = {channel}, message = {message})")]
    GrpcConnection {
        /// The service called (`identity`).
        channel: String,
        /// What failed.
        message: String,
    },
    /// The storage backend did not answer in time.
    #[error("Database timed out. (reason = {0})")]
    Timeout(String),
    /// The caller's token is missing, undecodable, badly signed or expired.
    #[error("Authenticate failure. (message = {0})")]
    Unauthenticated(String),
    /// The caller may not make this request.
    #[error("Permission denied.")]
    PermissionDenied,
    /// The request's deadline passed before it was answered.
    #[error("Request timed out. (deadline = {budget_ms} ms)")]
    DeadlineExceeded {
        /// The time the request was given, in milliseconds.
        budget_ms: u64,
    },
    /// The caller went away before the answer was ready.
    #[error("Request cancelled by the caller.")]
    Cancelled,
    /// Too many requests are being evaluated; the client should retry later.
    #[error("Too many requests in flight. (limit = {limit}, per {scope})")]
    Overloaded {
        /// The configured `max_in_flight` or `max_in_flight_per_domain`.
        limit: usize,
        /// `service` or `domain`: which limit it is.
        scope: &'static str,
    },
    /// The request itself is larger than the server accepts (body, message, headers).
    #[error("Request too large. (limit = {limit} bytes, part = {part})")]
    TooLarge {
        /// Which part was too large (`body`, `message`, `headers`).
        part: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Anything else; the message is logged, never sent to clients.
    #[error("Internal error: {0}")]
    Internal(String),
}

/// How an [`Error`] is reported to a client, independent of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// gRPC INVALID_ARGUMENT, HTTP 400.
    InvalidArgument,
    /// gRPC NOT_FOUND, HTTP 404.
    NotFound,
    /// gRPC UNAVAILABLE, HTTP 503.
    Unavailable,
    /// gRPC DEADLINE_EXCEEDED, HTTP 504.
    DeadlineExceeded,
    /// gRPC RESOURCE_EXHAUSTED, HTTP 503 (overloaded) or 413 (too large).
    ResourceExhausted,
    /// gRPC CANCELLED, HTTP 499.
    Cancelled,
    /// gRPC ALREADY_EXISTS, HTTP 409.
    AlreadyExists,
    /// gRPC FAILED_PRECONDITION, HTTP 409.
    FailedPrecondition,
    /// gRPC UNAUTHENTICATED, HTTP 401.
    Unauthenticated,
    /// gRPC PERMISSION_DENIED, HTTP 403.
    PermissionDenied,
    /// gRPC INTERNAL, HTTP 500.
    Internal,
}

impl ErrorClass {
    /// The gRPC status code name (`INVALID_ARGUMENT`, …).
    pub fn grpc_name(self) -> &'static str {
        match self {
            ErrorClass::InvalidArgument => "INVALID_ARGUMENT",
            ErrorClass::NotFound => "NOT_FOUND",
            ErrorClass::Unavailable => "UNAVAILABLE",
            ErrorClass::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorClass::ResourceExhausted => "RESOURCE_EXHAUSTED",
            ErrorClass::Cancelled => "CANCELLED",
            ErrorClass::AlreadyExists => "ALREADY_EXISTS",
            ErrorClass::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorClass::Unauthenticated => "UNAUTHENTICATED",
            ErrorClass::PermissionDenied => "PERMISSION_DENIED",
            ErrorClass::Internal => "INTERNAL",
        }
    }

    /// The HTTP status code of the REST routes (see also [`Error::http_status`]).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorClass::InvalidArgument => 400,
            ErrorClass::NotFound => 404,
            ErrorClass::Unavailable => 503,
            ErrorClass::DeadlineExceeded => 504,
            ErrorClass::ResourceExhausted => 503,
            ErrorClass::Cancelled => 499,
            ErrorClass::AlreadyExists | ErrorClass::FailedPrecondition => 409,
            ErrorClass::Unauthenticated => 401,
            ErrorClass::PermissionDenied => 403,
            ErrorClass::Internal => 500,
        }
    }
}

impl Error {
    /// A required parameter is missing (SpaceONE's `ERROR_REQUIRED_PARAMETER`).
    pub fn required(key: impl Into<String>) -> Self {
        Error::Query(spacejobs_query::Error::required(key))
    }

    /// Any other bad query (SpaceONE's `ERROR_DB_QUERY`).
    pub fn query(reason: impl Into<String>) -> Self {
        Error::Query(spacejobs_query::Error::query(reason))
    }

    /// SpaceONE's error name, e.g. `ERROR_REQUIRED_PARAMETER`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Query(query) => query.code(),
            Error::InvalidParameterType { .. } => "ERROR_INVALID_PARAMETER_TYPE",
            Error::InvalidDocument(_) => "ERROR_INVALID_DOCUMENT",
            Error::NotFound { .. } => "ERROR_NOT_FOUND",
            Error::NotUnique { .. } => "ERROR_NOT_UNIQUE",
            Error::InvalidState { .. } => "ERROR_INVALID_STATE",
            Error::Unavailable(_) | Error::Timeout(_) => "ERROR_DB_UNAVAILABLE",
            Error::GrpcConnection { .. } => "ERROR_GRPC_CONNECTION",
            Error::Unauthenticated(_) => "ERROR_AUTHENTICATE_FAILURE",
            Error::PermissionDenied => "ERROR_PERMISSION_DENIED",
            Error::DeadlineExceeded { .. } => "ERROR_REQUEST_TIMEOUT",
            Error::Cancelled => "ERROR_CANCELLED",
            Error::Overloaded { .. } => "ERROR_TOO_MANY_REQUESTS",
            Error::TooLarge { .. } => "ERROR_REQUEST_TOO_LARGE",
            Error::Internal(_) => "ERROR_UNKNOWN",
        }
    }

    /// The transport-independent class that decides the gRPC and HTTP codes.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::NotFound { .. } => ErrorClass::NotFound,
            Error::NotUnique { .. } => ErrorClass::AlreadyExists,
            Error::InvalidState { .. } => ErrorClass::FailedPrecondition,
            Error::Unavailable(_) | Error::GrpcConnection { .. } => ErrorClass::Unavailable,
            Error::Timeout(_) | Error::DeadlineExceeded { .. } => ErrorClass::DeadlineExceeded,
            Error::Cancelled => ErrorClass::Cancelled,
            Error::Unauthenticated(_) => ErrorClass::Unauthenticated,
            Error::PermissionDenied => ErrorClass::PermissionDenied,
            Error::Overloaded { .. } | Error::TooLarge { .. } => ErrorClass::ResourceExhausted,
            Error::Internal(_) => ErrorClass::Internal,
            _ => ErrorClass::InvalidArgument,
        }
    }

    /// The HTTP status of this error: its class's, but 413 for a request too large.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::TooLarge { part, .. } if part == "headers" => 431,
            Error::TooLarge { .. } => 413,
            other => other.class().http_status(),
        }
    }

    /// The client-facing details string: `"<ERROR_CODE>: <message>"`.
    ///
    /// Internal errors never leak their details.
    pub fn details(&self) -> String {
        match self {
            Error::Internal(_) => "ERROR_UNKNOWN: Internal error.".to_string(),
            other => format!("{}: {}", other.code(), other),
        }
    }
}

impl From<spacejobs_exec::Error> for Error {
    fn from(e: spacejobs_exec::Error) -> Self {
        match e {
            spacejobs_exec::Error::DeadlineExceeded { budget_ms } => {
                Error::DeadlineExceeded { budget_ms }
            }
            spacejobs_exec::Error::Cancelled => Error::Cancelled,
            spacejobs_exec::Error::Internal(message) => Error::Internal(message),
        }
    }
}

impl From<spacejobs_query::Error> for Error {
    fn from(e: spacejobs_query::Error) -> Self {
        match e {
            // Out of time or abandoned while compiling: the request's own error.
            spacejobs_query::Error::Stopped(stopped) => stopped.into(),
            refused => Error::Query(refused),
        }
    }
}
