//! The option groups the commands share: where the documents live, the request budget and
//! the transport's limits, authentication and TLS.

use crate::{Error, Result};
use clap::Args;
use spacejobs_core::{Authenticator, Limits, NoAuth};
use spacejobs_server::ServerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the documents live. These options apply to every command and may stand before or
/// after it.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// MongoDB connection string; without it the embedded store is used.
    #[arg(long, env = "MONGODB_URI", global = true)]
    pub mongodb_uri: Option<String>,
    /// MongoDB database (default: the service's SpaceONE database name).
    #[arg(long, env = "SPACEJOBS_DATABASE", global = true)]
    pub database: Option<String>,
    /// Seconds to wait for MongoDB before a call fails as unavailable.
    #[arg(long, default_value_t = 5, global = true)]
    pub mongodb_timeout: u64,
    /// Directory of the embedded store (default: ./data/<service>).
    #[arg(long, env = "SPACEJOBS_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Do not create the collections' indexes at start (SpaceONE's
    /// `DATABASE_AUTO_CREATE_INDEX: false`); e.g. for a read-only database user.
    #[arg(long, env = "SPACEJOBS_NO_CREATE_INDEXES", global = true)]
    pub no_create_indexes: bool,
    /// Connection settings over the URI's (from SpaceONE's `DATABASES.default`).
    #[arg(skip)]
    pub mongodb_overrides: spacejobs_mongo::ConnectionOverrides,
}

/// The request budget and the transport's limits (see docs/operations.md, "Limits").
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Longest a request may run, in milliseconds (a shorter client `grpc-timeout` wins).
    #[arg(long, env = "SPACEJOBS_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Requests evaluated at once; more get RESOURCE_EXHAUSTED / 503.
    #[arg(long, env = "SPACEJOBS_MAX_IN_FLIGHT", default_value_t = 64)]
    pub max_in_flight: usize,
    /// Requests of one domain evaluated at once; more of it get RESOURCE_EXHAUSTED / 503.
    #[arg(long, env = "SPACEJOBS_MAX_IN_FLIGHT_PER_DOMAIN", default_value_t = 32)]
    pub max_in_flight_per_domain: usize,
    /// Threads of the request pool, which runs requests' CPU work (filters, sorts, groups,
    /// rendering) off the async workers; one domain runs on at most as many as there are
    /// cores. Default: twice the cores.
    #[arg(long, env = "SPACEJOBS_REQUEST_THREADS")]
    pub request_threads: Option<usize>,
    /// Elements in one list operator's value (`in`, `contain_in`, `regex_in` …).
    #[arg(long, env = "SPACEJOBS_MAX_VALUES", default_value_t = 1000)]
    pub max_values: usize,
    /// Words of `keyword`.
    #[arg(long, env = "SPACEJOBS_MAX_KEYWORD_WORDS", default_value_t = 32)]
    pub max_keyword_words: usize,
    /// Substring and regex patterns in one request.
    #[arg(long, env = "SPACEJOBS_MAX_PATTERNS", default_value_t = 100)]
    pub max_patterns: usize,
    /// Total bytes of a request's patterns.
    #[arg(long, env = "SPACEJOBS_MAX_REGEX_BYTES", default_value_t = 16 * 1024)]
    pub max_regex_bytes: usize,
    /// Compiled size of a request's patterns together, in bytes.
    #[arg(long, env = "SPACEJOBS_MAX_REGEX_COMPILED_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_regex_compiled_bytes: usize,
    /// Filter conditions in one request.
    #[arg(long, env = "SPACEJOBS_MAX_CONDITIONS", default_value_t = 100)]
    pub max_conditions: usize,
    /// Stages of one aggregation.
    #[arg(long, env = "SPACEJOBS_MAX_STAGES", default_value_t = 32)]
    pub max_stages: usize,
    /// Fields in `only`.
    #[arg(long, env = "SPACEJOBS_MAX_ONLY_FIELDS", default_value_t = 100)]
    pub max_only_fields: usize,
    /// Keys of a sort (a query's or a sort stage's).
    #[arg(long, env = "SPACEJOBS_MAX_SORT_KEYS", default_value_t = 32)]
    pub max_sort_keys: usize,
    /// Keys of one group stage.
    #[arg(long, env = "SPACEJOBS_MAX_GROUP_KEYS", default_value_t = 32)]
    pub max_group_keys: usize,
    /// Fields of one group stage, and sub-fields of one `push`.
    #[arg(long, env = "SPACEJOBS_MAX_GROUP_FIELDS", default_value_t = 64)]
    pub max_group_fields: usize,
    /// Fields of one project stage.
    #[arg(long, env = "SPACEJOBS_MAX_PROJECT_FIELDS", default_value_t = 64)]
    pub max_project_fields: usize,
    /// Bytes of one name (key, path, column name, operator, date format).
    #[arg(long, env = "SPACEJOBS_MAX_NAME_BYTES", default_value_t = 1024)]
    pub max_name_bytes: usize,
    /// Bytes of one text value in a condition.
    #[arg(long, env = "SPACEJOBS_MAX_VALUE_BYTES", default_value_t = 16 * 1024)]
    pub max_value_bytes: usize,
    /// Nesting of a condition's value (lists and maps in one another).
    #[arg(long, env = "SPACEJOBS_MAX_VALUE_DEPTH", default_value_t = 8)]
    pub max_value_depth: usize,
    /// Largest gRPC request message and REST body, in bytes.
    #[arg(long, env = "SPACEJOBS_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Largest request head (URI and headers), in bytes.
    #[arg(long, env = "SPACEJOBS_MAX_HEADER_BYTES", default_value_t = 64 * 1024)]
    pub max_header_bytes: usize,
    /// An HTTP/1 request head must arrive within this many milliseconds.
    #[arg(
        long,
        env = "SPACEJOBS_HEADER_READ_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub header_read_timeout_ms: u64,
    /// Close a connection idle (nothing in flight, no bytes) for this many milliseconds.
    #[arg(long, env = "SPACEJOBS_IDLE_TIMEOUT_MS", default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// On SIGTERM, how long calls in flight may take to finish (new connections are refused
    /// at once); past it they are cancelled and the process exits. Keep it below the
    /// orchestrator's own grace (Kubernetes: 30 s).
    #[arg(long, env = "SPACEJOBS_SHUTDOWN_GRACE_MS", default_value_t = 25_000)]
    pub shutdown_grace_ms: u64,
    /// Connections served at once; more are closed at accept.
    #[arg(long, env = "SPACEJOBS_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Domains named in the `/metrics` document gauges (those with the most documents; the
    /// rest are summed under `domain="_other"`).
    #[arg(long, env = "SPACEJOBS_METRICS_DOMAINS", default_value_t = 20)]
    pub metrics_domains: usize,
}

impl LimitArgs {
    /// The request pool of `--request-threads`; without it the process's shared pool, so
    /// work under a deadline naming no pool does not start a second one.
    pub fn request_pool(&self) -> spacejobs_exec::RequestPool {
        use spacejobs_exec::RequestPool;
        match self.request_threads {
            Some(threads) => RequestPool::new(threads),
            None => RequestPool::shared().clone(),
        }
    }

    /// The core request budget.
    pub fn limits(&self) -> Limits {
        Limits {
            max_values: self.max_values,
            max_keyword_words: self.max_keyword_words,
            max_patterns: self.max_patterns,
            max_regex_bytes: self.max_regex_bytes,
            max_regex_compiled_bytes: self.max_regex_compiled_bytes,
            max_conditions: self.max_conditions,
            max_stages: self.max_stages,
            max_only_fields: self.max_only_fields,
            max_sort_keys: self.max_sort_keys,
            max_group_keys: self.max_group_keys,
            max_group_fields: self.max_group_fields,
            max_project_fields: self.max_project_fields,
            max_name_bytes: self.max_name_bytes,
            max_value_bytes: self.max_value_bytes,
            max_value_depth: self.max_value_depth,
            timeout: Duration::from_millis(self.request_timeout_ms),
            max_in_flight: self.max_in_flight.max(1),
            max_in_flight_per_domain: self.max_in_flight_per_domain.max(1),
        }
    }

    /// The transport's configuration.
    pub fn server(&self) -> ServerConfig {
        ServerConfig {
            max_message_size: self.max_message_bytes,
            max_header_bytes: self.max_header_bytes,
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
            max_connections: self.max_connections.max(1),
            metrics_domains: self.metrics_domains,
            ..ServerConfig::default()
        }
    }
}

/// How callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// No authentication: only on a loopback address (or with --insecure-no-auth).
    None,
    /// SpaceONE's: tokens verified with identity's keys, calls authorized by identity.
    Spaceone,
    /// Tokens verified against a JWKS file; no identity calls.
    Jwks,
}

/// Authentication flags (see docs/operations.md, "Authentication").
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// How callers are authenticated.
    #[arg(long, env = "SPACEJOBS_AUTH", value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,
    /// SpaceONE identity, for `--auth spaceone` (`grpc://HOST:PORT`).
    #[arg(long, env = "SPACEJOBS_IDENTITY_ENDPOINT")]
    pub identity_endpoint: Option<String>,
    /// Milliseconds an identity call may take.
    #[arg(long, env = "SPACEJOBS_IDENTITY_TIMEOUT_MS", default_value_t = 5_000)]
    pub identity_timeout_ms: u64,
    /// The JWKS file, for `--auth jwks`.
    #[arg(long, env = "SPACEJOBS_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Serve without authentication on a non-loopback address (a warning is logged).
    #[arg(long, env = "SPACEJOBS_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
}

impl AuthArgs {
    /// The authenticator the flags choose, refusing `none` off loopback unless insecure.
    pub fn authenticator(&self, listen: SocketAddr) -> Result<Arc<dyn Authenticator>> {
        match self.auth {
            AuthMode::None => {
                if !listen.ip().is_loopback() {
                    if !self.insecure_no_auth {
                        return Err(Error::Config(format!(
                            "refusing to serve {listen} without authentication: choose --auth \
                             spaceone or jwks, or give --insecure-no-auth"
                        )));
                    }
                    tracing::warn!(%listen, "serving WITHOUT authentication on a non-loopback address");
                }
                Ok(Arc::new(NoAuth))
            }
            AuthMode::Spaceone => {
                let endpoint = self.identity_endpoint.as_deref().ok_or_else(|| {
                    Error::Config(
                        "--auth spaceone needs --identity-endpoint grpc://HOST:PORT".into(),
                    )
                })?;
                let timeout = Duration::from_millis(self.identity_timeout_ms);
                Ok(Arc::new(
                    spacejobs_auth::SpaceOneAuthenticator::new(endpoint, timeout)
                        .map_err(|e| Error::Config(e.to_string()))?,
                ))
            }
            AuthMode::Jwks => {
                let path = self
                    .jwks_file
                    .as_deref()
                    .ok_or_else(|| Error::Config("--auth jwks needs --jwks-file PATH".into()))?;
                Ok(Arc::new(
                    spacejobs_auth::JwksAuthenticator::from_file(path)
                        .map_err(|e| Error::Config(e.to_string()))?,
                ))
            }
        }
    }
}

/// TLS flags: gRPC and REST on the same port.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// PEM certificate chain; with --tls-key, every connection is TLS.
    #[arg(long, env = "SPACEJOBS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "SPACEJOBS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): clients must present a certificate it signed.
    #[arg(long, env = "SPACEJOBS_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS configuration, or `None` for plaintext.
    pub fn config(&self) -> Result<Option<Arc<rustls::ServerConfig>>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                spacejobs_server::tls_config(cert, key, self.tls_client_ca.as_deref())
                    .map(Some)
                    .map_err(Error::Config)
            }
            _ => Ok(None),
        }
    }
}
