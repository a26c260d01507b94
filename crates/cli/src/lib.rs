//! The command line of the three service binaries: parse flags and environment (clap), fill
//! what they leave from SpaceONE's own config file when one is named ([`settings`]), build the
//! store (MongoDB when a URI or SpaceONE database is given, else the embedded store in a data
//! directory), then `serve` (gRPC + REST until SIGINT/SIGTERM), `import` or `export` JSON
//! Lines, add `demo-data`, `explain` a request or print the effective `config`.

pub mod demo;
pub mod export;
pub mod import;
pub mod json_line;
pub mod settings;
pub mod spaceone_config;
pub mod telemetry;

use clap::{Args, Parser, Subcommand};
use spacejobs_core::query::Method;
use spacejobs_core::{Authenticator, JobService, Limits, NoAuth, Service, Store};
use spacejobs_server::ServerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A SpaceONE-compatible Job/JobTask service (gRPC + REST)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// SpaceONE's own config file (GLOBAL, IMPORT and REMOTE_URL of `file://` files): its
    /// database, authentication handlers and port fill what no flag gives.
    #[arg(long, env = settings::CONFIG_FILE_ENV, global = true)]
    spaceone_config: Option<PathBuf>,
    /// Log lines as text (colours only on a terminal, never with NO_COLOR) or one JSON
    /// object a line.
    #[arg(long, env = "SPACEJOBS_LOG_FORMAT", value_enum, default_value_t = telemetry::LogFormat::Text, global = true)]
    log_format: telemetry::LogFormat,
    #[command(flatten)]
    store: StoreArgs,
    /// The options of `serve`, when no command is given: given with a command, they are
    /// refused rather than ignored (`serve`'s own go after it).
    #[command(flatten)]
    serve: ServeArgs,
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

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to serve gRPC and REST on.
    #[arg(long, env = "SPACEJOBS_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Fill an empty store with generated demo documents first.
    #[arg(long)]
    demo_data: bool,
    /// Serve `POST <base>/explain/list` and `/explain/stat` (query plans, for operators).
    #[arg(long, env = "SPACEJOBS_ENABLE_EXPLAIN")]
    enable_explain: bool,
    /// Serve `GET <base>/export` (the documents as JSON Lines, for operators).
    #[arg(long, env = "SPACEJOBS_ENABLE_EXPORT")]
    enable_export: bool,
    /// Do not serve the jobs dashboard (`GET /`).
    #[arg(long, env = "SPACEJOBS_NO_UI")]
    no_ui: bool,
    /// Export each request's span to this OpenTelemetry collector (OTLP/HTTP,
    /// `http://HOST:4318`); off when not given.
    #[arg(long, env = "SPACEJOBS_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC and REST until SIGINT/SIGTERM (the default).
    Serve(Box<ServeArgs>),
    /// Import documents from a JSON Lines file (the SpaceONE layout; all or nothing, except
    /// that on a MongoDB replica set an import over 10,000 documents is a series of
    /// transactions of 10,000, which `--skip-existing` resumes).
    Import {
        /// The JSON Lines file (`-` for standard input).
        file: PathBuf,
        /// Skip documents whose public id (`job_task_id`, `job_id`) is already stored: resumes
        /// an import that was cut short.
        #[arg(long)]
        skip_existing: bool,
    },
    /// Print how a list or stat request (its JSON, as the REST body or gRPC message) would be
    /// answered: the validated plan and the store's account of it (MongoDB: the exact
    /// commands and the server's explain of each), evaluating nothing.
    Explain {
        /// The method the request is for.
        #[arg(value_enum)]
        method: ExplainMethod,
        /// The request's JSON file (`-`, the default, for standard input).
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Write the service's documents as JSON Lines in the SpaceONE layout (what `import`
    /// reads). On the embedded store, stop the server first, or serve with --enable-export
    /// and ask `GET <base>/export`.
    Export {
        /// Where to write (`-`, the default, for standard output).
        #[arg(default_value = "-")]
        file: PathBuf,
        /// Only this domain's documents.
        #[arg(long)]
        domain_id: Option<String>,
    },
    /// Add a generated, realistic demo dataset.
    DemoData {
        /// Number of documents.
        #[arg(long, default_value_t = 240)]
        count: usize,
    },
    /// Print the effective settings of `serve` and where each came from (flag, environment,
    /// SpaceONE config file, default), secrets masked. Serve options go before `config`.
    Config,
}

/// The methods `explain` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExplainMethod {
    /// `list` (the body of `POST <base>/search`).
    List,
    /// `stat` (the body of `POST <base>/stat`).
    Stat,
}

impl From<ExplainMethod> for Method {
    fn from(method: ExplainMethod) -> Self {
        match method {
            ExplainMethod::List => Method::List,
            ExplainMethod::Stat => Method::Stat,
        }
    }
}

/// `explain`: the request read from `file`, explained by the store the flags name. On the
/// embedded store the MongoDB commands the same request would send are added
/// (`mongodb_commands`), so a plan can be checked before pointing a binary at MongoDB.
async fn explain(
    service: Service,
    store: &StoreArgs,
    method: Method,
    file: &std::path::Path,
) -> Result<serde_json::Value> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
    let request: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{} is not JSON: {e}", file.display())))?;
    let on_mongodb = store.mongodb_uri.is_some();
    let opened = open_store(service, store).await.map_err(|e| match e {
        Error::Store(message) if message.contains("already open") => Error::Store(format!(
            "{message} (a running server holds the embedded store: stop it, or ask its REST \
             route, served with --enable-explain)"
        )),
        other => other,
    })?;
    let logic = JobService::new(service, opened);
    let deadline = logic.deadline(None);
    let plan = logic.plan_json(method, &request, &deadline, None).await?;
    let mut out = logic.explain_plan(&plan, &deadline).await?;
    if !on_mongodb {
        let commands = spacejobs_mongo::commands::commands(service.collection(), &plan);
        out["mongodb_commands"] = commands
            .into_iter()
            .map(|c| bson::Bson::Document(c).into_relaxed_extjson())
            .collect();
    }
    Ok(out)
}

/// Opens the store the arguments name: MongoDB (with its indexes ensured) or embedded.
pub async fn open_store(service: Service, args: &StoreArgs) -> Result<Arc<dyn Store>> {
    match &args.mongodb_uri {
        Some(uri) => {
            let mut config = spacejobs_mongo::MongoConfig::new(uri.clone(), service);
            if let Some(db) = &args.database {
                config.database = db.clone();
            }
            config.timeout = std::time::Duration::from_secs(args.mongodb_timeout);
            config.overrides = args.mongodb_overrides.clone();
            let store = spacejobs_mongo::MongoStore::connect(&config)
                .await
                .map_err(|e| Error::Store(e.to_string()))?;
            if !args.no_create_indexes {
                store.ensure_indexes(service).await?;
            }
            tracing::info!(database = %config.database, "using MongoDB");
            Ok(Arc::new(store))
        }
        None => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("data").join(service.name()));
            let store = spacejobs_embedded::EmbeddedStore::open(&dir)
                .map_err(|e| Error::Store(e.to_string()))?;
            tracing::info!(data_dir = %dir.display(), "using the embedded store");
            Ok(Arc::new(store))
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Raises the soft open-file limit to the hard one, so connections are not refused early.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

async fn serve(service: Service, args: ServeArgs, store: &StoreArgs) -> Result<()> {
    let authenticator = args.auth.authenticator(args.listen)?;
    let mut server = args.limits.server();
    server.tls = args.tls.config()?;
    server.enable_explain = args.enable_explain;
    server.enable_export = args.enable_export;
    server.ui = !args.no_ui;
    raise_open_file_limit();
    let store = open_store(service, store).await?;
    if args.demo_data {
        demo::fill_if_empty(service, store.as_ref(), 240).await?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::Server(format!("bind {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Server(e.to_string()))?;
    tracing::info!(
        %addr,
        service = spacejobs_server::grpc_name(service),
        tls = server.tls.is_some(),
        "serving gRPC and REST"
    );
    let logic = Arc::new(
        JobService::new(service, store)
            .with_limits(args.limits.limits())
            .with_authenticator(authenticator),
    );
    spacejobs_server::run_with(listener, logic, &server, shutdown_signal())
        .await
        .map_err(|e| Error::Server(e.to_string()))
}

async fn execute(service: Service, cli: Cli, effective: settings::Effective) -> Result<()> {
    match cli.command {
        None => serve(service, cli.serve, &cli.store).await,
        Some(Command::Serve(args)) => serve(service, *args, &cli.store).await,
        Some(Command::Import {
            file,
            skip_existing,
        }) => {
            let store = open_store(service, &cli.store).await?;
            let (count, skipped) =
                import::import_file_with(service, store.as_ref(), &file, skip_existing).await?;
            if skip_existing {
                println!(
                    "imported {count} documents into {} ({skipped} already stored, skipped)",
                    service.collection()
                );
            } else {
                println!("imported {count} documents into {}", service.collection());
            }
            Ok(())
        }
        Some(Command::Explain { method, file }) => {
            let out = explain(service, &cli.store, method.into(), &file).await?;
            let text = serde_json::to_string_pretty(&out)
                .map_err(|e| Error::Server(format!("cannot print the explanation: {e}")))?;
            println!("{text}");
            Ok(())
        }
        Some(Command::Export { file, domain_id }) => {
            let store = open_store(service, &cli.store).await?;
            let count = export::export_file(service, store, domain_id.as_deref(), &file).await?;
            eprintln!("exported {count} documents of {}", service.collection());
            Ok(())
        }
        Some(Command::DemoData { count }) => {
            let store = open_store(service, &cli.store).await?;
            let added = demo::add(service, store.as_ref(), count).await?;
            println!("added {added} demo documents to {}", service.collection());
            Ok(())
        }
        Some(Command::Config) => {
            print!("{}", effective.render());
            Ok(())
        }
    }
}

/// The serve option given on the command line before a command other than `serve`, if any:
/// such an option would otherwise be silently ignored.
fn misplaced_serve_option(matches: &clap::ArgMatches) -> Option<String> {
    if matches!(matches.subcommand_name()?, "config") {
        return None;
    }
    let serve_only = <ServeArgs as Args>::augment_args(clap::Command::new("serve"));
    let given = serve_only
        .get_arguments()
        .find(|arg| {
            matches.value_source(arg.get_id().as_str())
                == Some(clap::parser::ValueSource::CommandLine)
        })
        .map(|arg| arg.get_long().unwrap_or(arg.get_id().as_str()).to_string());
    given
}

/// Parses the command line; options are accepted before or after the command where they
/// apply, and refused (never ignored) where they do not.
fn parse() -> (Cli, clap::ArgMatches) {
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    if let Some(option) = misplaced_serve_option(&matches) {
        let command = matches.subcommand_name().unwrap_or_default();
        eprintln!(
            "error: --{option} is an option of `serve`; it does nothing for `{command}` (give it \
             after `serve`, or leave it out)"
        );
        std::process::exit(2);
    }
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    (cli, matches)
}

/// How long, after the server stopped, work still running (a request past the shutdown
/// grace) may hold the process before it exits anyway.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// Runs a binary's command line for `service`.
pub fn main(service: Service) -> ExitCode {
    let (mut cli, matches) = parse();
    let otlp_endpoint = match &cli.command {
        None => cli.serve.otlp_endpoint.clone(),
        Some(Command::Serve(args)) => args.otlp_endpoint.clone(),
        Some(_) => None,
    };
    let telemetry = match telemetry::init(service, cli.log_format, otlp_endpoint.as_deref()) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = settings::resolve(service, &mut cli, &matches).and_then(|effective| {
        if !effective.unused.is_empty() && !matches!(cli.command, Some(Command::Config)) {
            tracing::warn!(
                keys = %effective.unused.join(", "),
                "SpaceONE config settings this service does not use"
            );
        }
        runtime.block_on(execute(service, cli, effective))
    });
    runtime.shutdown_timeout(EXIT_WAIT);
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
