//! The effective settings of a command and where each came from. Precedence: a flag, then
//! its environment variable, then SpaceONE's own config ([`SpaceOneConfig`], named by
//! `--spaceone-config` or `SPACEONE_CONFIG_FILE`) and `SPACEONE_PORT`, then the default.
//!
//! What SpaceONE's config sets here: `DATABASES.default` → the MongoDB store (`host`, `port`,
//! `db`, `username`, `password`, `authentication_source`, `read_preference`, `maxPoolSize`,
//! `ssl`/`tls`, `tlsCAFile`; `DATABASE_AUTO_CREATE_INDEX`); a non-empty `HANDLERS.authentication` → `--auth spaceone`, with
//! identity's endpoint from the handler's `uri` or `CONNECTORS`; `SPACEONE_PORT` (or `PORT`)
//! → `--listen 0.0.0.0:PORT`. Keys the service does not use are named once in a warning.
//! The `config` command prints every setting with its source, secrets masked.

use crate::command::{Cli, Command};
use crate::spaceone_config::{Origin, SpaceOneConfig};
use crate::{AuthMode, Error, Result};
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde_json::Value;
use spacejobs_core::Service;
use spacejobs_mongo::{ConnectionOverrides, ReadPreferenceName};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

pub use crate::command::CONFIG_FILE_ENV;
/// The environment variable of SpaceONE's listen port (all interfaces).
pub const PORT_ENV: &str = "SPACEONE_PORT";

/// Where a setting's value came from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(String),
    /// SpaceONE's config: the keys read, each with the file that set it.
    SpaceOne(Vec<(String, Origin)>),
    /// The built-in default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::Default => f.write_str("default"),
            Source::SpaceOne(keys) => {
                let mut by_origin: Vec<(&Origin, Vec<&str>)> = Vec::new();
                for (key, origin) in keys {
                    match by_origin.iter_mut().find(|(o, _)| *o == origin) {
                        Some((_, keys)) => keys.push(key),
                        None => by_origin.push((origin, vec![key])),
                    }
                }
                let parts: Vec<String> = by_origin
                    .into_iter()
                    .map(|(origin, keys)| format!("{origin} ({})", keys.join(", ")))
                    .collect();
                f.write_str(&parts.join("; "))
            }
        }
    }
}

/// One effective setting.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The flag's name (`listen`, `mongodb-uri` …).
    pub name: String,
    /// Its value as text, secrets masked.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// The settings of a command, as resolved.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    /// Every setting, in flag order.
    pub settings: Vec<Setting>,
    /// SpaceONE config keys the service does not use.
    pub unused: Vec<String>,
}

impl Effective {
    fn set(&mut self, name: &str, value: String, source: Source) {
        let setting = Setting {
            name: name.to_string(),
            value,
            source,
        };
        match self.settings.iter_mut().find(|s| s.name == name) {
            Some(existing) => *existing = setting,
            None => self.settings.push(setting),
        }
    }

    /// The settings as an aligned table, then the unused SpaceONE keys.
    pub fn render(&self) -> String {
        let width = |f: fn(&Setting) -> usize| self.settings.iter().map(f).max().unwrap_or(0);
        let (name_width, value_width) = (width(|s| s.name.len()), width(|s| s.value.len()));
        let mut out = String::new();
        for s in &self.settings {
            let _ = writeln!(
                out,
                "{:name_width$}  {:value_width$}  {}",
                s.name, s.value, s.source
            );
        }
        if !self.unused.is_empty() {
            let _ = writeln!(
                out,
                "\nSpaceONE settings not used by this service: {}",
                self.unused.join(", ")
            );
        }
        out
    }
}

/// `uri` with the password of its user part replaced by `****`.
pub fn mask_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, hosts)) => {
            let user = match user.split_once(':') {
                Some((name, _)) => format!("{name}:****"),
                None => user.to_string(),
            };
            format!("{scheme}://{user}@{hosts}{tail}")
        }
        None => uri.to_string(),
    }
}

/// `uri` as shown: masked, with the user given beside it written in (password masked).
fn with_user(uri: &str, user: Option<&str>, password: bool) -> String {
    let masked = mask_uri(uri);
    match (user, masked.split_once("://")) {
        (Some(user), Some((scheme, rest)))
            if !rest[..rest.find('/').unwrap_or(rest.len())].contains('@') =>
        {
            let secret = if password { ":****" } else { "" };
            format!("{scheme}://{user}{secret}@{rest}")
        }
        _ => masked,
    }
}

/// The value source of `id` in the command's matches (a subcommand's first).
fn value_source(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    let known = |m: &ArgMatches| {
        m.try_get_raw(id)
            .ok()
            .flatten()
            .and_then(|_| m.value_source(id))
    };
    let sub = matches.subcommand().map(|(_, sub)| sub);
    sub.and_then(known).or_else(|| known(matches))
}

/// True when `id` was given as a flag or by its environment variable.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        value_source(matches, id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// The generic rows: every flag of the command with its value and source.
fn flag_rows(command: &clap::Command, matches: &ArgMatches, out: &mut Effective) {
    let sub = matches.subcommand().map(|(_, sub)| sub);
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") || arg.is_hide_set() {
            continue;
        }
        let raw = sub
            .and_then(|sub| sub.try_get_raw(id).ok().flatten())
            .or_else(|| matches.try_get_raw(id).ok().flatten());
        let value = raw.map_or_else(
            || "-".to_string(),
            |values| {
                values
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            },
        );
        let source = match value_source(matches, id) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env(
                arg.get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            _ => Source::Default,
        };
        let name = arg.get_long().unwrap_or(id).to_string();
        let value = if name == "mongodb-uri" {
            mask_uri(&value)
        } else {
            value
        };
        out.set(&name, value, source);
    }
}

/// Resolves `cli`'s settings: SpaceONE's config and `SPACEONE_PORT` fill what no flag or
/// environment variable gave. Returns every setting with its source.
pub(crate) fn resolve(service: Service, cli: &mut Cli, matches: &ArgMatches) -> Result<Effective> {
    let mut out = Effective::default();
    let command = <Cli as clap::CommandFactory>::command();
    flag_rows(&command, matches, &mut out);
    let listen_given = given(matches, "listen");
    if !listen_given {
        if let Some(port) = std::env::var(PORT_ENV).ok().filter(|p| !p.is_empty()) {
            let port: u16 = port
                .parse()
                .map_err(|_| Error::Config(format!("{PORT_ENV}={port}: expected a port number")))?;
            set_listen(cli, port);
            out.set("listen", listen_text(port), Source::Env(PORT_ENV.into()));
        }
    }
    let Some(path) = cli.spaceone_config.clone() else {
        return Ok(out);
    };
    let config = SpaceOneConfig::load(&path, service)?;
    let mut used: Vec<String> = vec!["PORT".into()];
    if !listen_given && std::env::var_os(PORT_ENV).is_none() {
        if let Some(port) = config.text("PORT") {
            let port: u16 = port.parse().map_err(|_| {
                Error::Config(format!("SpaceONE config: PORT {port} is not a port number"))
            })?;
            set_listen(cli, port);
            out.set("listen", listen_text(port), source(&config, &["PORT"]));
        }
    }
    database(&config, cli, matches, &mut out, &mut used)?;
    authentication(&config, cli, matches, &mut out, &mut used);
    out.unused = unused(&config, &used);
    Ok(out)
}

fn listen_text(port: u16) -> String {
    SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).to_string()
}

fn set_listen(cli: &mut Cli, port: u16) {
    let listen = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    cli.serve.listen = listen;
    if let Some(Command::Serve(args)) = &mut cli.command {
        args.listen = listen;
    }
}

/// The source of a setting read from `keys` of the config (those set).
fn source(config: &SpaceOneConfig, keys: &[&str]) -> Source {
    Source::SpaceOne(
        keys.iter()
            .filter_map(|key| Some((key.to_string(), config.origin(key)?.clone())))
            .collect(),
    )
}

/// The keys of `DATABASES.default` the MongoDB connection is made of.
const DATABASE_KEYS: [&str; 11] = [
    "host",
    "port",
    "username",
    "password",
    "authentication_source",
    "authSource",
    "read_preference",
    "maxPoolSize",
    "ssl",
    "tls",
    "tlsCAFile",
];

/// `DATABASES.default` → the MongoDB store (its server unless `--mongodb-uri`/`MONGODB_URI`
/// names one, its database unless `--database` does), and `DATABASE_AUTO_CREATE_INDEX`.
fn database(
    config: &SpaceOneConfig,
    cli: &mut Cli,
    matches: &ArgMatches,
    out: &mut Effective,
    used: &mut Vec<String>,
) -> Result<()> {
    const PREFIX: &str = "DATABASES.default";
    if config.get(PREFIX).is_none() {
        return Ok(());
    }
    let key = |name: &str| format!("{PREFIX}.{name}");
    let text = |name: &str| config.text(&key(name)).filter(|t| !t.is_empty());
    used.push(key("db"));
    if !given(matches, "database") {
        if let Some(db) = text("db") {
            out.set("database", db.clone(), source(config, &[&key("db")]));
            cli.store.database = Some(db);
        }
    }
    used.push("DATABASE_AUTO_CREATE_INDEX".into());
    let auto_index = config
        .get("DATABASE_AUTO_CREATE_INDEX")
        .and_then(Value::as_bool);
    if auto_index == Some(false) && !given(matches, "no_create_indexes") {
        cli.store.no_create_indexes = true;
        out.set(
            "no-create-indexes",
            "true".into(),
            source(config, &["DATABASE_AUTO_CREATE_INDEX"]),
        );
    }
    if given(matches, "mongodb_uri") {
        return Ok(());
    }
    used.extend(DATABASE_KEYS.iter().map(|k| key(k)));
    let host = config.get(&key("host"));
    let hosts: Vec<String> = match host {
        Some(Value::String(h)) => vec![h.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|h| h.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let uri = match hosts.first() {
        Some(h) if h.starts_with("mongodb://") || h.starts_with("mongodb+srv://") => h.clone(),
        Some(_) => {
            let port = text("port");
            let with_port = |h: &String| match &port {
                Some(port) if !h.contains(':') => format!("{h}:{port}"),
                _ => h.clone(),
            };
            format!(
                "mongodb://{}/",
                hosts.iter().map(with_port).collect::<Vec<_>>().join(",")
            )
        }
        None => {
            return Err(Error::Config(format!(
                "SpaceONE config: {PREFIX}.host is missing or not text"
            )))
        }
    };
    let read_preference = match text("read_preference") {
        Some(name) => match ReadPreferenceName::parse(&name) {
            Some(preference) => Some(preference),
            None => {
                tracing::warn!(
                    read_preference = %name,
                    "SpaceONE config: unknown read preference ignored, as spaceone-core does"
                );
                None
            }
        },
        None => None,
    };
    let max_pool_size = match text("maxPoolSize") {
        Some(size) => Some(size.parse::<u32>().map_err(|_| {
            Error::Config(format!(
                "SpaceONE config: {PREFIX}.maxPoolSize {size} is not a whole number"
            ))
        })?),
        None => None,
    };
    let tls = text("tls").or_else(|| text("ssl")).map(|flag| {
        matches!(
            flag.to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1"
        )
    });
    let overrides = ConnectionOverrides {
        username: text("username"),
        password: text("password"),
        auth_source: text("authentication_source").or_else(|| text("authSource")),
        read_preference,
        max_pool_size,
        tls,
        tls_ca_file: text("tlsCAFile").map(Into::into),
    };
    let connection_keys = [
        "host",
        "port",
        "username",
        "password",
        "authentication_source",
        "authSource",
    ]
    .map(key);
    let connection_keys: Vec<&str> = connection_keys.iter().map(String::as_str).collect();
    let shown = with_user(
        &uri,
        overrides.username.as_deref(),
        overrides.password.is_some(),
    );
    out.set("mongodb-uri", shown, source(config, &connection_keys));
    let extra = [
        (
            "read-preference",
            read_preference.map(|p| p.name().to_string()),
            vec![key("read_preference")],
        ),
        (
            "max-pool-size",
            max_pool_size.map(|n| n.to_string()),
            vec![key("maxPoolSize")],
        ),
        (
            "mongodb-tls",
            tls.map(|t| t.to_string()),
            vec![key("tls"), key("ssl"), key("tlsCAFile")],
        ),
    ];
    for (name, value, keys) in extra {
        if let Some(value) = value {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            out.set(name, value, source(config, &keys));
        }
    }
    cli.store.mongodb_uri = Some(uri);
    cli.store.mongodb_overrides = overrides;
    Ok(())
}

/// The `scheme://host:port` part of a handler's `grpc://identity:50051/v1/Domain/…` uri.
fn endpoint_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    Some(format!("{scheme}://{authority}"))
}

/// The first handler of `HANDLERS.<kind>` and its `uri`, when the list is not empty.
fn first_handler(config: &SpaceOneConfig, kind: &str) -> Option<Option<String>> {
    let handlers = config.get(&format!("HANDLERS.{kind}"))?.as_array()?;
    let first = handlers.first()?;
    Some(first.get("uri").and_then(Value::as_str).map(str::to_string))
}

/// A non-empty `HANDLERS.authentication` → `--auth spaceone` against identity at the
/// handler's endpoint, else `CONNECTORS`' identity endpoint.
fn authentication(
    config: &SpaceOneConfig,
    cli: &mut Cli,
    matches: &ArgMatches,
    out: &mut Effective,
    used: &mut Vec<String>,
) {
    let Some(handler_uri) = first_handler(config, "authentication") else {
        return;
    };
    used.extend(["authentication", "authorization", "mutation"].map(|k| format!("HANDLERS.{k}")));
    if !given(matches, "auth") {
        set_auth(cli, |auth| auth.auth = AuthMode::Spaceone);
        out.set(
            "auth",
            "spaceone".into(),
            source(config, &["HANDLERS.authentication"]),
        );
    }
    if given(matches, "identity_endpoint") {
        return;
    }
    let connectors = [
        "CONNECTORS.SpaceConnector.endpoints.identity",
        "CONNECTORS.IdentityConnector.endpoint.v1",
    ];
    let found = handler_uri
        .as_deref()
        .and_then(endpoint_of)
        .map(|e| (e, "HANDLERS.authentication"))
        .or_else(|| {
            connectors
                .iter()
                .find_map(|key| Some((config.text(key)?, *key)))
        });
    if let Some(Some(authorization)) = first_handler(config, "authorization") {
        let (authn, authz) = (
            found.as_ref().map(|f| f.0.clone()),
            endpoint_of(&authorization),
        );
        if authz.is_some() && authn != authz {
            tracing::warn!(
                authentication = ?authn,
                authorization = ?authz,
                "SpaceONE config: the two handlers name different identity endpoints; the \
                 authentication handler's is used for both"
            );
        }
    }
    if let Some((endpoint, key)) = found {
        used.push(key.to_string());
        out.set(
            "identity-endpoint",
            endpoint.clone(),
            source(config, &[key]),
        );
        set_auth(cli, |auth| auth.identity_endpoint = Some(endpoint.clone()));
    }
}

fn set_auth(cli: &mut Cli, set: impl Fn(&mut crate::AuthArgs)) {
    set(&mut cli.serve.auth);
    if let Some(Command::Serve(args)) = &mut cli.command {
        set(&mut args.auth);
    }
}

/// The keys files set that no used key covers: a top-level key whose every value is unused
/// is named alone (`CACHES`), otherwise each unused path.
fn unused(config: &SpaceOneConfig, used: &[String]) -> Vec<String> {
    let is_used = |key: &str| {
        used.iter().any(|u| {
            key == u || key.starts_with(&format!("{u}.")) || u.starts_with(&format!("{key}."))
        })
    };
    let unused: Vec<&str> = config.file_keys().filter(|k| !is_used(k)).collect();
    let mut out: Vec<String> = Vec::new();
    for key in &unused {
        let top = key.split('.').next().unwrap_or(key);
        let whole_top_unused = config
            .file_keys()
            .filter(|k| k.split('.').next() == Some(top))
            .all(|k| !is_used(k));
        let name = if whole_top_unused { top } else { key };
        if out.last().map(String::as_str) != Some(name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask_uri;

    #[test]
    fn passwords_are_masked_in_connection_strings() {
        assert_eq!(
            mask_uri("mongodb://user:s3cret@db:27017/x?authSource=admin"),
            "mongodb://user:****@db:27017/x?authSource=admin"
        );
        assert_eq!(
            mask_uri("mongodb+srv://u:p@w@cluster.example.com"),
            "mongodb+srv://u:****@cluster.example.com"
        );
        assert_eq!(mask_uri("mongodb://db:27017"), "mongodb://db:27017");
        assert_eq!(mask_uri("-"), "-");
    }
}
