//! SpaceONE's own configuration file, read the way spaceone-core's `set_file_conf` reads it,
//! so a binary can take the place of a Python service with the deployment's config as is.
//!
//! The file (`SPACEONE_CONFIG_FILE`; the Helm charts mount it at
//! `/opt/spaceone/<service>/config/config.yaml`) has a `GLOBAL:` map, then `IMPORT:` and the
//! deprecated `REMOTE_URL:` lists of further files (`file:///…/database.yaml`, `shared.yaml`,
//! `application.yaml`). Each is applied in order over what came before, maps merged key by
//! key, anything else replaced, all over the reference service's own defaults
//! ([`reference_defaults`]). Only `file://` entries are read: an `http(s)://` or `consul://`
//! entry is refused, naming it. Which file set each value is kept, so `config` can say where
//! a setting came from.

use crate::{Error, Result};
use serde_json::{Map, Value};
use spacejobs_core::Service;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a value of the merged configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The Python service's built-in default (its `global_conf`).
    ReferenceDefault,
    /// A file: the config file itself or one it imports.
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::ReferenceDefault => f.write_str("the SpaceONE service's default"),
            Origin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The merged settings of a SpaceONE config file and the files it imports.
#[derive(Debug, Clone)]
pub struct SpaceOneConfig {
    /// The file named (`SPACEONE_CONFIG_FILE`).
    pub path: PathBuf,
    merged: Map<String, Value>,
    /// The origin of every leaf value, by dotted path (`DATABASES.default.host`).
    origins: BTreeMap<String, Origin>,
}

/// What the Python services assume before reading any file: inventory's `global_conf`
/// (release 1.9.7), with the service's own database name. The spot-automation and
/// power-scheduler services are taken to share these defaults.
pub fn reference_defaults(service: Service) -> Map<String, Value> {
    let defaults = serde_json::json!({
        "DATABASES": {
            "default": {
                "db": service.name(),
                "host": "localhost",
                "port": 27017,
                "username": "",
                "password": "",
                "read_preference": "SECONDARY_PREFERRED",
            }
        },
        "CONNECTORS": {
            "SpaceConnector": { "endpoints": { "identity": "grpc://identity:50051" } }
        },
    });
    match defaults {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl SpaceOneConfig {
    /// Reads `path` and every file it imports, over `service`'s reference defaults.
    pub fn load(path: &Path, service: Service) -> Result<Self> {
        let mut config = SpaceOneConfig {
            path: path.to_path_buf(),
            merged: Map::new(),
            origins: BTreeMap::new(),
        };
        config.apply(reference_defaults(service), &Origin::ReferenceDefault)?;
        let mut file = read_yaml(path)?;
        let origin = Origin::File(path.to_path_buf());
        match file.remove("GLOBAL") {
            Some(Value::Object(global)) => config.apply(global, &origin)?,
            Some(Value::Null) | None => {}
            Some(_) => return Err(invalid(path, "GLOBAL is not a map")),
        }
        for list in ["IMPORT", "REMOTE_URL"] {
            let uris = match file.remove(list) {
                Some(Value::Array(uris)) => uris,
                Some(Value::Null) | None => continue,
                Some(_) => return Err(invalid(path, &format!("{list} is not a list"))),
            };
            for uri in uris {
                let Value::String(uri) = uri else {
                    return Err(invalid(
                        path,
                        &format!("{list} holds an entry that is not text"),
                    ));
                };
                let imported = import_path(path, &uri)?;
                let settings = read_yaml(&imported)?;
                config.apply(settings, &Origin::File(imported))?;
            }
        }
        Ok(config)
    }

    /// Merges `settings` over the configuration: maps key by key, other values replaced.
    fn apply(&mut self, settings: Map<String, Value>, origin: &Origin) -> Result<()> {
        merge(&mut self.merged, settings, "", origin, &mut self.origins)
    }

    /// The value at a dotted path (`DATABASES.default.host`), if set and not null.
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut value = self.merged.get(parts.next()?)?;
        for part in parts {
            value = value.as_object()?.get(part)?;
        }
        (!value.is_null()).then_some(value)
    }

    /// Where the value at `path` (or, for a map, the last of its values) came from.
    pub fn origin(&self, path: &str) -> Option<&Origin> {
        self.origins.get(path).or_else(|| {
            let prefix = format!("{path}.");
            self.origins
                .range(prefix.clone()..)
                .take_while(|(key, _)| key.starts_with(&prefix))
                .map(|(_, origin)| origin)
                .find(|origin| matches!(origin, Origin::File(_)))
        })
    }

    /// The text at `path`: a string, or a number or boolean written as text.
    pub fn text(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Every leaf path set by a file (not by the reference defaults), in order.
    pub fn file_keys(&self) -> impl Iterator<Item = &str> {
        self.origins
            .iter()
            .filter(|(_, origin)| matches!(origin, Origin::File(_)))
            .map(|(path, _)| path.as_str())
    }
}

/// Merges `from` into `into` (`prefix` is the dotted path of `into`), recording each leaf's
/// origin. A map meeting a value that is not a map is an error naming the key.
fn merge(
    into: &mut Map<String, Value>,
    from: Map<String, Value>,
    prefix: &str,
    origin: &Origin,
    origins: &mut BTreeMap<String, Origin>,
) -> Result<()> {
    for (key, value) in from {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(map)) => {
                merge(existing, map, &path, origin, origins)?;
            }
            (Some(existing), value)
                if !existing.is_null()
                    && !value.is_null()
                    && (existing.is_object() != value.is_object()) =>
            {
                return Err(Error::Config(format!(
                    "SpaceONE config {origin}: {path} is {} here but {} before",
                    kind(&value),
                    kind(existing)
                )));
            }
            (_, Value::Object(map)) => {
                let mut fresh = Map::new();
                merge(&mut fresh, map, &path, origin, origins)?;
                into.insert(key, Value::Object(fresh));
            }
            (_, value) => {
                let nested = format!("{path}.");
                origins.retain(|k, _| !k.starts_with(&nested));
                origins.insert(path, origin.clone());
                into.insert(key, value);
            }
        }
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "a map",
        Value::Array(_) => "a list",
        Value::String(_) => "text",
        _ => "a value",
    }
}

fn invalid(path: &Path, what: &str) -> Error {
    Error::Config(format!("SpaceONE config {}: {what}", path.display()))
}

/// A YAML file's top-level map (an empty file is an empty map).
fn read_yaml(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("SpaceONE config {}: {e}", path.display())))?;
    let value: Value = yaml_serde::from_str(&text)
        .map_err(|e| Error::Config(format!("SpaceONE config {}: {e}", path.display())))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid(path, "the file does not hold a map")),
    }
}

/// The file an `IMPORT`/`REMOTE_URL` entry names: `file:///abs/path` (as Python's `urlparse`
/// reads it, a host part is ignored); other schemes are refused.
fn import_path(config: &Path, uri: &str) -> Result<PathBuf> {
    let refuse = |why: &str| {
        Error::Config(format!(
            "SpaceONE config {}: cannot import '{uri}': {why}",
            config.display()
        ))
    };
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(refuse("expected file:///PATH"));
    };
    match scheme {
        "file" => {
            let path = match rest.find('/') {
                Some(0) => rest,
                Some(at) => &rest[at..],
                None => return Err(refuse("expected file:///PATH")),
            };
            Ok(PathBuf::from(path))
        }
        "http" | "https" | "consul" => Err(refuse(
            "only file:// entries are read; put the remote settings in a file and name it \
             with file:///PATH",
        )),
        _ => Err(refuse("unknown scheme; expected file:///PATH")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("spacejobs-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn files_apply_in_order_over_the_defaults_maps_merged_key_by_key() {
        let dir = temp_dir("merge");
        let database = write(
            &dir,
            "database.yaml",
            "DATABASES:\n  default:\n    host: mongodb\n    password: first\n",
        );
        let shared = write(
            &dir,
            "shared.yaml",
            "DATABASES:\n  default:\n    password: second\nHANDLERS:\n  authentication: []\n",
        );
        let main = write(
            &dir,
            "config.yaml",
            &format!(
                "GLOBAL:\n  MAX_WORKERS: 1000\n  DATABASES:\n    default:\n      db: inv\n      \
                 port: 27018\nREMOTE_URL:\n- file://{}\nIMPORT:\n- file://{}\n",
                database.display(),
                shared.display()
            ),
        );
        let config = SpaceOneConfig::load(&main, Service::Inventory).unwrap();
        assert_eq!(config.text("DATABASES.default.db").as_deref(), Some("inv"));
        assert_eq!(
            config.text("DATABASES.default.host").as_deref(),
            Some("mongodb")
        );
        assert_eq!(
            config.text("DATABASES.default.port").as_deref(),
            Some("27018")
        );
        // IMPORT comes before REMOTE_URL, as in spaceone-core.
        assert_eq!(
            config.text("DATABASES.default.password").as_deref(),
            Some("first")
        );
        assert_eq!(
            config.origin("DATABASES.default.password"),
            Some(&Origin::File(database.clone()))
        );
        assert_eq!(
            config.text("DATABASES.default.read_preference").as_deref(),
            Some("SECONDARY_PREFERRED")
        );
        assert_eq!(
            config.origin("DATABASES.default.read_preference"),
            Some(&Origin::ReferenceDefault)
        );
        assert_eq!(
            config.origin("DATABASES.default.db"),
            Some(&Origin::File(main))
        );
        assert!(config.get("HANDLERS.authentication").is_some());
        let keys: Vec<&str> = config.file_keys().collect();
        assert!(keys.contains(&"MAX_WORKERS"), "{keys:?}");
    }

    #[test]
    fn remote_entries_are_refused_naming_them() {
        let dir = temp_dir("remote");
        for uri in ["http://config/x.yaml", "consul://consul:8500/x"] {
            let main = write(&dir, "config.yaml", &format!("IMPORT:\n- {uri}\n"));
            let err = SpaceOneConfig::load(&main, Service::Inventory)
                .unwrap_err()
                .to_string();
            assert!(err.contains(uri) && err.contains("file://"), "{err}");
        }
    }

    #[test]
    fn a_missing_import_or_a_map_replaced_by_text_is_an_error_naming_it() {
        let dir = temp_dir("bad");
        let main = write(
            &dir,
            "config.yaml",
            "IMPORT:\n- file:///nonexistent/db.yaml\n",
        );
        let err = SpaceOneConfig::load(&main, Service::Inventory)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/db.yaml"), "{err}");
        let main = write(&dir, "config.yaml", "GLOBAL:\n  DATABASES: mongodb\n");
        let err = SpaceOneConfig::load(&main, Service::Inventory)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DATABASES is text here but a map before"),
            "{err}"
        );
    }
}
