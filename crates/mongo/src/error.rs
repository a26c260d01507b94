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
/// `Unavailable`, time-outs `Timeout`, server-side query failures `DbQuery`.
pub fn storage_error(err: mongodb::error::Error) -> CoreError {
    let message = err.to_string();
    match err.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::Shutdown => CoreError::Unavailable(message),
        ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            CoreError::Timeout(message)
        }
        ErrorKind::Io(_) | ErrorKind::DnsResolve { .. } => CoreError::Unavailable(message),
        // 50: MaxTimeMSExpired.
        ErrorKind::Command(c) if c.code == 50 => CoreError::Timeout(message),
        ErrorKind::Command(c) => CoreError::DbQuery(format!("{} (code {})", c.message, c.code)),
        _ => CoreError::Internal(message),
    }
}
