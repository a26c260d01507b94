//! [`ServerConfig`]: the transport's limits, timeouts and TLS (the request budget itself is
//! the core's [`spacejobs_core::Limits`]); [`tls_config`] builds the TLS side from PEM files.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How the server treats connections and request sizes.
#[derive(Debug, Clone)]
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
    /// TLS for every connection (gRPC and REST on the same port), or plaintext when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Domains named in the document metrics (those with the most documents; the rest
    /// are summed as one).
    pub metrics_domains: usize,
    /// Serve `POST {base}/explain/list` and `/explain/stat` (operators' query plans; off by
    /// default).
    pub enable_explain: bool,
    /// Serve the jobs dashboard on `GET /` and `/ui/…`.
    pub ui: bool,
    /// Serve `GET {base}/export` (the documents as JSON Lines; operators', off by default).
    pub enable_export: bool,
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
            tls: None,
            metrics_domains: 20,
            enable_explain: false,
            ui: true,
            enable_export: false,
        }
    }
}

/// A TLS server configuration from PEM files: the certificate chain, its private key and,
/// when given, the CA whose client certificates are required. ALPN offers HTTP/2 and
/// HTTP/1.1 (gRPC and REST on one port).
pub fn tls_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let read = |what: &str, path: &Path| format!("{what} {}: ", path.display());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| read("certificate", cert) + &e.to_string())?;
    if certs.is_empty() {
        return Err(read("certificate", cert) + "no certificate in the file");
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| read("private key", key) + &e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca)
                .map_err(|e| read("client CA", ca) + &e.to_string())?
            {
                roots
                    .add(cert.map_err(|e| read("client CA", ca) + &e.to_string())?)
                    .map_err(|e| read("client CA", ca) + &e.to_string())?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| read("client CA", ca) + &e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, private_key)
        .map_err(|e| read("certificate", cert) + &e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
