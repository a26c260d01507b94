//! [`ServerConfig`]: the transport's limits and timeouts (the request budget itself is the
//! core's [`spacejobs_core::Limits`]).

use std::time::Duration;

/// How the server treats connections and request sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Largest gRPC request message and REST request body, in bytes (one limit for both).
    pub max_message_size: usize,
    /// Largest request head (URI and headers), in bytes; larger is refused with 431.
    pub max_header_bytes: usize,
    /// An HTTP/1 request's head must arrive within this time, or the connection is closed.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moving for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 keepalive ping interval (dead peers are found and dropped).
    pub keepalive_interval: Duration,
    /// How long an HTTP/2 keepalive ping may go unanswered.
    pub keepalive_timeout: Duration,
    /// Connections open at once; past it new ones are closed at accept.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams on one connection.
    pub max_concurrent_streams: u32,
    /// How long shutdown waits for calls in flight before closing their connections.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_message_size: 4 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_concurrent_streams: 128,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}
