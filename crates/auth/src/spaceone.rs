//! [`SpaceOneAuthenticator`]: what spaceone-core 1.9 does with a call's token.
//!
//! 1. Authentication: the token's unverified `did` claim names the domain; that domain's
//!    public JWK comes from identity (`Domain/get_public_key`, cached per domain, bounded, and
//!    fetched again when the cached key does not verify a token) and verifies signature and
//!    expiry.
//! 2. Authorization: unless the token's `user_type` is `DOMAIN_OWNER`, identity's
//!    `Authorization/verify` is asked (service, resource, verb, scope PROJECT, the request's
//!    domain and project), with the caller's token passed on as metadata; it answers the role
//!    and the caller's projects. A refusal is `ERROR_PERMISSION_DENIED`.
//!
//! Identity unreachable is UNAVAILABLE `ERROR_GRPC_CONNECTION` naming identity (and the call
//! is served again once identity is back).

use crate::token::{self, Claims};
use crate::{Error, Result};
use async_trait::async_trait;
use jsonwebtoken::jwk::Jwk;
use spacejobs_core::auth::{CallInfo, Caller, RoleType};
use spacejobs_core::{Authenticator, Service};
use spacejobs_proto::core::{
    authorization_request::Scope, AuthenticationRequest, AuthorizationRequest,
};
use spacejobs_proto::identity::authorization_client::AuthorizationClient;
use spacejobs_proto::identity::domain_client::DomainClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// How long a domain's public key is kept.
const KEY_TTL: Duration = Duration::from_secs(600);
/// A cached key that fails to verify a token is fetched again only when at least this old.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// How many domains' keys are kept at most.
const MAX_KEYS: usize = 1024;

/// Domains' public keys, with when each was fetched.
type KeyCache = Arc<Mutex<HashMap<String, (Instant, Arc<Jwk>)>>>;

/// Authenticates and authorizes callers with SpaceONE's identity service.
#[derive(Debug, Clone)]
pub struct SpaceOneAuthenticator {
    channel: Channel,
    keys: KeyCache,
}

/// `Service` → the (service, resource) identity authorizes.
fn resource(service: Service) -> (&'static str, &'static str) {
    match service {
        Service::Inventory => ("inventory", "JobTask"),
        Service::SpotAutomation => ("spot_automation", "Job"),
        Service::PowerScheduler => ("power_scheduler", "Job"),
    }
}

/// A request to identity, carrying the caller's token.
fn with_token<T>(message: T, token: &str) -> spacejobs_core::Result<Request<T>> {
    let mut request = Request::new(message);
    let value = token
        .parse()
        .map_err(|_| spacejobs_core::Error::Unauthenticated("Cannot decode token.".into()))?;
    request.metadata_mut().insert("token", value);
    Ok(request)
}

fn unavailable(status: &Status) -> spacejobs_core::Error {
    tracing::warn!(%status, "identity service call failed");
    spacejobs_core::Error::GrpcConnection {
        channel: "identity".into(),
        message: "the identity service cannot be reached".into(),
    }
}

fn is_unreachable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown
    ) || status.message().contains("transport error")
}

impl SpaceOneAuthenticator {
    /// Talks to identity at `endpoint` (`grpc://HOST:PORT`); connects lazily, so a service can
    /// start before identity does.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self> {
        let uri = match endpoint.split_once("://") {
            Some(("grpc" | "http", rest)) => format!("http://{rest}"),
            _ => return Err(Error::Endpoint(endpoint.to_string())),
        };
        let channel = Endpoint::from_shared(uri)
            .map_err(|_| Error::Endpoint(endpoint.to_string()))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .connect_lazy();
        Ok(SpaceOneAuthenticator {
            channel,
            keys: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The domain's cached key and when it was fetched.
    fn cached(&self, domain_id: &str) -> Option<(Instant, Arc<Jwk>)> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(domain_id)
            .filter(|(at, _)| at.elapsed() < KEY_TTL)
            .cloned()
    }

    /// `token` verified with its domain's key: the cached one, else (or when the cached key
    /// does not verify it: identity may have rotated it) the key identity answers now.
    async fn verified(&self, domain_id: &str, token: &str) -> spacejobs_core::Result<Claims> {
        if let Some((fetched, jwk)) = self.cached(domain_id) {
            match token::verify(token, &jwk) {
                Ok(claims) => return Ok(claims),
                // A key fetched moments ago is current: bad tokens must not hammer identity.
                Err(e) if fetched.elapsed() < REFETCH_AFTER => return Err(e),
                Err(_) => {}
            }
        }
        let jwk = self.fetch_public_key(domain_id, token).await?;
        token::verify(token, &jwk)
    }

    /// The domain's public key from identity, remembered for [`KEY_TTL`].
    async fn fetch_public_key(
        &self,
        domain_id: &str,
        token: &str,
    ) -> spacejobs_core::Result<Arc<Jwk>> {
        let request = with_token(
            AuthenticationRequest {
                domain_id: domain_id.to_string(),
            },
            token,
        )?;
        let answer = DomainClient::new(self.channel.clone())
            .get_public_key(request)
            .await
            .map_err(|status| {
                if is_unreachable(&status) {
                    unavailable(&status)
                } else {
                    spacejobs_core::Error::Unauthenticated("Token is invalid or expired.".into())
                }
            })?
            .into_inner();
        let jwk: Jwk = serde_json::from_str(&answer.public_key).map_err(|e| {
            tracing::warn!(error = %e, domain_id, "identity answered an unreadable public key");
            spacejobs_core::Error::Unauthenticated("Token is invalid or expired.".into())
        })?;
        let jwk = Arc::new(jwk);
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, (at, _)| at.elapsed() < KEY_TTL);
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
        }
        keys.insert(domain_id.to_string(), (Instant::now(), jwk.clone()));
        Ok(jwk)
    }

    /// Identity's `Authorization/verify` of the call: the role and projects.
    async fn authorize(
        &self,
        call: &CallInfo<'_>,
        token: &str,
    ) -> spacejobs_core::Result<(RoleType, Vec<String>)> {
        let (service, resource) = resource(call.service);
        let request = with_token(
            AuthorizationRequest {
                service: service.into(),
                resource: resource.into(),
                verb: call.verb.into(),
                scope: Scope::Project.into(),
                domain_id: call.domain_id.into(),
                project_id: call.project_id.unwrap_or_default().into(),
                ..Default::default()
            },
            token,
        )?;
        match AuthorizationClient::new(self.channel.clone())
            .verify(request)
            .await
        {
            Ok(answer) => {
                let answer = answer.into_inner();
                Ok((RoleType::parse(&answer.role_type), answer.projects))
            }
            Err(status) if is_unreachable(&status) => Err(unavailable(&status)),
            Err(status) => {
                tracing::info!(%status, "identity refused the call");
                Err(spacejobs_core::Error::PermissionDenied)
            }
        }
    }
}

#[async_trait]
impl Authenticator for SpaceOneAuthenticator {
    async fn authenticate(&self, call: &CallInfo<'_>) -> spacejobs_core::Result<Option<Caller>> {
        let token = token::required(call.token)?;
        let domain_id = token::unverified(token)?
            .did
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                spacejobs_core::Error::Unauthenticated("Empty domain_id provided.".into())
            })?;
        let claims = self.verified(&domain_id, token).await?;
        let (role, projects) = if claims.user_type.as_deref() == Some("DOMAIN_OWNER") {
            (RoleType::Domain, Vec::new())
        } else {
            self.authorize(call, token).await?
        };
        Ok(Some(Caller {
            domain_id,
            role,
            projects,
        }))
    }
}
