//! The one error type of the exec crate: why bounded work stopped before it answered.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why work run under a [`crate::Deadline`] gave no answer. Callers keep their own error
/// types: the runners ([`crate::run_cpu`]) take any error that converts from this one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request's deadline passed before it was answered.
    #[error("Request timed out. (deadline = {budget_ms} ms)")]
    DeadlineExceeded {
        /// The time the request was given, in milliseconds.
        budget_ms: u64,
    },
    /// The caller went away before the answer was ready.
    #[error("Request cancelled by the caller.")]
    Cancelled,
    /// The work panicked or its answer was lost on the way back.
    #[error("Internal error: {0}")]
    Internal(String),
}
