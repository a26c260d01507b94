//! Authentication the SpaceONE way, for the spacejobs services: [`SpaceOneAuthenticator`]
//! verifies a caller's token (a JWT signed RS256 by identity with the domain's key) against
//! the domain's public key, fetched from identity and cached, then asks identity to authorize
//! the call; [`JwksAuthenticator`] verifies tokens against a JWKS file, for deployments without
//! SpaceONE. Both implement the core's [`Authenticator`], which the services call for every
//! request.
//!
//! [`Authenticator`]: spacejobs_core::Authenticator

pub mod jwks;
pub mod spaceone;
pub mod token;

pub use jwks::JwksAuthenticator;
pub use spaceone::SpaceOneAuthenticator;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong setting up an authenticator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JWKS file cannot be read or holds no usable key.
    #[error("JWKS file {path}: {reason}")]
    Jwks {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The identity endpoint is not a valid `grpc://HOST:PORT` (or `http://…`) address.
    #[error("identity endpoint '{0}': expected grpc://HOST:PORT")]
    Endpoint(String),
}
