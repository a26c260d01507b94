//! [`JwksAuthenticator`]: for deployments without SpaceONE. Tokens (RS256/ES256 …) are verified
//! against the keys of a JWKS file; the caller is bound to the token's `did` domain, and to the
//! projects of its `projects` claim when it has one. No identity service is called.

use crate::token::{self, Claims};
use crate::{Error, Result};
use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use spacejobs_core::auth::{CallInfo, Caller, RoleType};
use spacejobs_core::Authenticator;
use std::path::Path;

/// Verifies tokens against the keys of a JWKS file.
#[derive(Debug, Clone)]
pub struct JwksAuthenticator {
    keys: JwkSet,
}

impl JwksAuthenticator {
    /// Reads the JWKS (`{"keys": [...]}`) at `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let fail = |reason: String| Error::Jwks {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        Self::from_json(&text).map_err(|e| match e {
            Error::Jwks { reason, .. } => fail(reason),
            other => other,
        })
    }

    /// A JWKS document as text.
    pub fn from_json(text: &str) -> Result<Self> {
        let keys: JwkSet = serde_json::from_str(text).map_err(|e| Error::Jwks {
            path: String::new(),
            reason: format!("not a JWKS document: {e}"),
        })?;
        if keys.keys.is_empty() {
            return Err(Error::Jwks {
                path: String::new(),
                reason: "no keys".into(),
            });
        }
        Ok(JwksAuthenticator { keys })
    }

    /// The verified claims of `token`: the key named by its `kid`, else any key that verifies.
    fn verify(&self, token: &str) -> spacejobs_core::Result<Claims> {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        if let Some(jwk) = kid.as_deref().and_then(|kid| self.keys.find(kid)) {
            return token::verify(token, jwk);
        }
        let mut last = None;
        for jwk in &self.keys.keys {
            match token::verify(token, jwk) {
                Ok(claims) => return Ok(claims),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            spacejobs_core::Error::Unauthenticated("Token is invalid or expired.".into())
        }))
    }
}

#[async_trait]
impl Authenticator for JwksAuthenticator {
    async fn authenticate(&self, call: &CallInfo<'_>) -> spacejobs_core::Result<Option<Caller>> {
        let token = token::required(call.token)?;
        token::unverified(token)?;
        let claims = self.verify(token)?;
        let domain_id = claims.did.filter(|d| !d.is_empty()).ok_or_else(|| {
            spacejobs_core::Error::Unauthenticated("Empty domain_id provided.".into())
        })?;
        Ok(Some(match claims.projects {
            Some(projects) => Caller {
                domain_id,
                role: RoleType::Project,
                projects,
            },
            None => Caller {
                domain_id,
                role: RoleType::Domain,
                projects: Vec::new(),
            },
        }))
    }
}
