//! The command line as clap parses it: the commands, the serve options, and where each
//! option may stand.

use crate::{AuthArgs, LimitArgs, StoreArgs, TlsArgs};
use clap::{Args, Parser, Subcommand};
use spacejobs_query::Method;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The environment variable naming SpaceONE's config file.
pub const CONFIG_FILE_ENV: &str = "SPACEONE_CONFIG_FILE";

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A SpaceONE-compatible Job/JobTask service (gRPC + REST)."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// SpaceONE's own config file (GLOBAL, IMPORT and REMOTE_URL of `file://` files): its
    /// database, authentication handlers and port fill what no flag gives.
    #[arg(long, env = CONFIG_FILE_ENV, global = true)]
    pub(crate) spaceone_config: Option<PathBuf>,
    /// Log lines as text (colours only on a terminal, never with NO_COLOR) or one JSON
    /// object a line.
    #[arg(long, env = "SPACEJOBS_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::LogFormat::Text, global = true)]
    pub(crate) log_format: crate::telemetry::LogFormat,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The options of `serve`, when no command is given: given with a command, they are
    /// refused rather than ignored (`serve`'s own go after it).
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// Address to serve gRPC and REST on.
    #[arg(long, env = "SPACEJOBS_LISTEN", default_value = "127.0.0.1:50051")]
    pub(crate) listen: SocketAddr,
    /// Fill an empty store with generated demo documents first.
    #[arg(long)]
    pub(crate) demo_data: bool,
    /// Serve `POST <base>/explain/list` and `/explain/stat` (query plans, for operators).
    #[arg(long, env = "SPACEJOBS_ENABLE_EXPLAIN")]
    pub(crate) enable_explain: bool,
    /// Serve `GET <base>/export` (the documents as JSON Lines, for operators).
    #[arg(long, env = "SPACEJOBS_ENABLE_EXPORT")]
    pub(crate) enable_export: bool,
    /// Do not serve the jobs dashboard (`GET /`).
    #[arg(long, env = "SPACEJOBS_NO_UI")]
    pub(crate) no_ui: bool,
    /// Export each request's span to this OpenTelemetry collector (OTLP/HTTP,
    /// `http://HOST:4318`); off when not given.
    #[arg(long, env = "SPACEJOBS_OTLP_ENDPOINT")]
    pub(crate) otlp_endpoint: Option<String>,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    #[command(flatten)]
    pub(crate) auth: AuthArgs,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
pub(crate) enum ExplainMethod {
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

/// The serve option given on the command line before a command other than `serve`, if any:
/// such an option would otherwise be silently ignored.
pub(crate) fn misplaced_serve_option(matches: &clap::ArgMatches) -> Option<String> {
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
pub(crate) fn parse() -> (Cli, clap::ArgMatches) {
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
