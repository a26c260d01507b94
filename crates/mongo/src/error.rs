//! The MongoDB crate's error type, and the one mapping of driver errors to core errors.

use mongodb::error::ErrorKind;
use spacejobs_core::Error as CoreError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while setting up the MongoDB store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection string or options are invalid.
    #[error("invalid MongoDB configuration: {0}")]
    Config(String),
    /// A storage operation failed.
    #[error(transparent)]
    Storage(#[from] CoreError),
}

/// Maps a driver error to the core error the services report: unreachable servers become
/// `Unavailable`, time-outs `Timeout`, server-side query failures `ERROR_DB_QUERY` (with the server's
/// message about the query). The driver's text, which names server addresses and topology,
/// goes to the log, never into the error a client sees.
pub fn storage_error(err: mongodb::error::Error) -> CoreError {
    tracing::warn!(error = %err, "MongoDB operation failed");
    match err.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::Shutdown => CoreError::Unavailable("the database cannot be reached".into()),
        ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            CoreError::Timeout("the database did not answer in time".into())
        }
        ErrorKind::Io(_) | ErrorKind::DnsResolve { .. } => {
            CoreError::Unavailable("the connection to the database failed".into())
        }
        // 50: MaxTimeMSExpired; the store turns it into the request's deadline error.
        ErrorKind::Command(c) if c.code == 50 => {
            CoreError::Timeout("the database stopped the query at its time limit".into())
        }
        // The server's own message says what is wrong with the query; the driver's wrapper
        // around it (and any address) stays in the log.
        ErrorKind::Command(c) => CoreError::query(format!(
            "the database refused the query: {} ({}, code {})",
            c.message, c.code_name, c.code
        )),
        _ => CoreError::Internal(err.to_string()),
    }
}

/// True for MongoDB's MaxTimeMSExpired (code 50): the server stopped at our `maxTimeMS`.
pub fn is_max_time_expired(err: &mongodb::error::Error) -> bool {
    matches!(err.kind.as_ref(), ErrorKind::Command(c) if c.code == 50)
}
