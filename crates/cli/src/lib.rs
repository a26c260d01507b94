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

mod args;
mod command;
mod error;

pub use args::{AuthArgs, AuthMode, LimitArgs, StoreArgs, TlsArgs};
use command::{parse, Cli, Command, ServeArgs};
pub use error::{Error, Result};

use spacejobs_core::{JobService, Service, Store};
use spacejobs_query::Method;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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
            .with_request_pool(args.limits.request_pool())
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
