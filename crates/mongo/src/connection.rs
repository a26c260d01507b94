//! [`ConnectionOverrides`]: connection settings given beside the connection string, applied
//! over the string's own, as mongoengine applies SpaceONE's `DATABASES` keys (`username`,
//! `read_preference`, `maxPoolSize` …) over its `host`.

use crate::error::{Error, Result};
use mongodb::options::{
    ClientOptions, Credential, ReadPreference, SelectionCriteria, Tls, TlsOptions,
};
use std::path::PathBuf;

/// A read preference by its SpaceONE (pymongo) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPreferenceName {
    /// `PRIMARY`
    Primary,
    /// `PRIMARY_PREFERRED`
    PrimaryPreferred,
    /// `SECONDARY`
    Secondary,
    /// `SECONDARY_PREFERRED` (the inventory service's default)
    SecondaryPreferred,
    /// `NEAREST`
    Nearest,
}

impl ReadPreferenceName {
    /// The name in pymongo's spelling (`SECONDARY_PREFERRED`), any case, or `None`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "PRIMARY" => ReadPreferenceName::Primary,
            "PRIMARY_PREFERRED" => ReadPreferenceName::PrimaryPreferred,
            "SECONDARY" => ReadPreferenceName::Secondary,
            "SECONDARY_PREFERRED" => ReadPreferenceName::SecondaryPreferred,
            "NEAREST" => ReadPreferenceName::Nearest,
            _ => return None,
        })
    }

    /// The pymongo spelling (`SECONDARY_PREFERRED`).
    pub fn name(self) -> &'static str {
        match self {
            ReadPreferenceName::Primary => "PRIMARY",
            ReadPreferenceName::PrimaryPreferred => "PRIMARY_PREFERRED",
            ReadPreferenceName::Secondary => "SECONDARY",
            ReadPreferenceName::SecondaryPreferred => "SECONDARY_PREFERRED",
            ReadPreferenceName::Nearest => "NEAREST",
        }
    }

    fn read_preference(self) -> ReadPreference {
        match self {
            ReadPreferenceName::Primary => ReadPreference::Primary,
            ReadPreferenceName::PrimaryPreferred => {
                ReadPreference::PrimaryPreferred { options: None }
            }
            ReadPreferenceName::Secondary => ReadPreference::Secondary { options: None },
            ReadPreferenceName::SecondaryPreferred => {
                ReadPreference::SecondaryPreferred { options: None }
            }
            ReadPreferenceName::Nearest => ReadPreference::Nearest { options: None },
        }
    }
}

/// Settings applied over those of the connection string; `None` leaves the string's.
#[derive(Clone, Default)]
pub struct ConnectionOverrides {
    /// User name (with `password`, SCRAM authentication).
    pub username: Option<String>,
    /// Password of `username`.
    pub password: Option<String>,
    /// The database the user is defined in (`authSource`).
    pub auth_source: Option<String>,
    /// Where reads go.
    pub read_preference: Option<ReadPreferenceName>,
    /// Connections per server at most.
    pub max_pool_size: Option<u32>,
    /// TLS on or off.
    pub tls: Option<bool>,
    /// CA certificates to verify the server with (PEM).
    pub tls_ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for ConnectionOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionOverrides")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("auth_source", &self.auth_source)
            .field("read_preference", &self.read_preference)
            .field("max_pool_size", &self.max_pool_size)
            .field("tls", &self.tls)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish()
    }
}

impl ConnectionOverrides {
    /// Applies the settings given over `options`.
    pub fn apply(&self, options: &mut ClientOptions) -> Result<()> {
        if self.username.is_some() || self.password.is_some() || self.auth_source.is_some() {
            let credential = options.credential.get_or_insert_with(Credential::default);
            if let Some(username) = &self.username {
                credential.username = Some(username.clone());
            }
            if let Some(password) = &self.password {
                credential.password = Some(password.clone());
            }
            if let Some(source) = &self.auth_source {
                credential.source = Some(source.clone());
            }
            if credential.username.is_none() {
                return Err(Error::Config(
                    "a password or authentication source is given without a user name".into(),
                ));
            }
        }
        if let Some(name) = self.read_preference {
            options.selection_criteria =
                Some(SelectionCriteria::ReadPreference(name.read_preference()));
        }
        if let Some(size) = self.max_pool_size {
            options.max_pool_size = Some(size);
        }
        match (self.tls, &self.tls_ca_file) {
            (Some(false), _) => options.tls = Some(Tls::Disabled),
            (Some(true), ca) | (None, ca @ Some(_)) => {
                let mut tls = match options.tls.take() {
                    Some(Tls::Enabled(tls)) => tls,
                    _ => TlsOptions::default(),
                };
                if let Some(ca) = ca {
                    tls.ca_file_path = Some(ca.clone());
                }
                options.tls = Some(Tls::Enabled(tls));
            }
            (None, None) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overrides_win_over_the_connection_string() {
        let mut options =
            ClientOptions::parse("mongodb://a:b@db:27017/?readPreference=primary&maxPoolSize=5")
                .await
                .unwrap();
        let overrides = ConnectionOverrides {
            password: Some("secret".into()),
            auth_source: Some("admin".into()),
            read_preference: ReadPreferenceName::parse("secondary_preferred"),
            max_pool_size: Some(200),
            ..Default::default()
        };
        overrides.apply(&mut options).unwrap();
        let credential = options.credential.as_ref().unwrap();
        assert_eq!(credential.username.as_deref(), Some("a"));
        assert_eq!(credential.password.as_deref(), Some("secret"));
        assert_eq!(credential.source.as_deref(), Some("admin"));
        assert!(matches!(
            options.selection_criteria,
            Some(SelectionCriteria::ReadPreference(
                ReadPreference::SecondaryPreferred { .. }
            ))
        ));
        assert_eq!(options.max_pool_size, Some(200));
        assert!(!format!("{overrides:?}").contains("secret"));
    }

    #[tokio::test]
    async fn a_password_without_a_user_is_refused() {
        let mut options = ClientOptions::parse("mongodb://db:27017").await.unwrap();
        let overrides = ConnectionOverrides {
            password: Some("secret".into()),
            ..Default::default()
        };
        let err = overrides.apply(&mut options).unwrap_err().to_string();
        assert!(
            err.contains("without a user name") && !err.contains("secret"),
            "{err}"
        );
    }
}
