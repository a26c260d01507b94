//! The error of a command, and this crate's `Result`.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store cannot be opened or reached.
    #[error("store: {0}")]
    Store(String),
    /// A request or storage operation failed (shown with its `ERROR_…` code).
    #[error("{}: {}", .0.code(), .0)]
    Core(#[from] spacejobs_core::Error),
    /// An import file is unreadable or holds a bad document.
    #[error("{0}")]
    Import(String),
    /// The server failed.
    #[error("server: {0}")]
    Server(String),
    /// The flags do not make a valid configuration.
    #[error("{0}")]
    Config(String),
}
