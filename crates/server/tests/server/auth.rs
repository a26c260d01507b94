//! Authentication the SpaceONE way, over real ports, against a small identity server of our own
//! (tonic) that signs with a generated RSA key: a token reads its own domain only, PROJECT
//! callers see only their projects (list, distinct, group), bad tokens are UNAUTHENTICATED, an
//! identity refusal is PERMISSION_DENIED, identity down is UNAVAILABLE and served again once it
//! is back; the JWKS mode; health stays open.

use crate::support;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use spacejobs_auth::{JwksAuthenticator, SpaceOneAuthenticator};
use spacejobs_core::{Authenticator, JobService, Service, Store};
use spacejobs_engine::MemoryStore;
use spacejobs_proto::core::{
    AuthenticationRequest, AuthenticationResponse, AuthorizationRequest, AuthorizationResponse,
};
use spacejobs_proto::identity::authorization_server::{Authorization, AuthorizationServer};
use spacejobs_proto::identity::domain_server::{Domain, DomainServer};
use spacejobs_proto::inventory::job_task_client::JobTaskClient;
use spacejobs_proto::inventory::{JobTaskQuery, JobTaskStatQuery};
use spacejobs_server::convert;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

/// An RSA key made for this run with the openssl command line: the signing key and its JWK.
pub(crate) fn generated_key() -> (EncodingKey, Jwk) {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl genpkey failed");
    let key = EncodingKey::from_rsa_pem(&out.stdout).expect("RSA key");
    let jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("JWK");
    (key, jwk)
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

pub(crate) fn sign(key: &EncodingKey, claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key).expect("sign")
}

/// A token of user `user` in `domain`, valid for an hour.
fn token(key: &EncodingKey, domain: &str, user: &str, user_type: &str) -> String {
    sign(
        key,
        json!({"did": domain, "aud": user, "user_type": user_type, "exp": now() + 3600}),
    )
}

/// The identity service: serves the domain's JWK, and authorizes by the token's user:
/// `admin` → DOMAIN, `member` → PROJECT of project-1, anyone else is refused.
#[derive(Debug, Clone)]
struct Identity {
    domain: String,
    jwk: String,
}

fn user_of(metadata: &tonic::metadata::MetadataMap) -> Option<String> {
    let token = metadata.get("token")?.to_str().ok()?;
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims["aud"].as_str().map(str::to_string)
}

#[tonic::async_trait]
impl Domain for Identity {
    async fn get_public_key(
        &self,
        request: Request<AuthenticationRequest>,
    ) -> Result<Response<AuthenticationResponse>, Status> {
        let domain_id = request.into_inner().domain_id;
        if domain_id != self.domain {
            return Err(Status::not_found("ERROR_NOT_FOUND: domain"));
        }
        Ok(Response::new(AuthenticationResponse {
            domain_id,
            public_key: self.jwk.clone(),
        }))
    }
}

#[tonic::async_trait]
impl Authorization for Identity {
    async fn verify(
        &self,
        request: Request<AuthorizationRequest>,
    ) -> Result<Response<AuthorizationResponse>, Status> {
        let user = user_of(request.metadata());
        let asked = request.into_inner();
        assert_eq!(
            (asked.service.as_str(), asked.resource.as_str()),
            ("inventory", "JobTask")
        );
        match user.as_deref() {
            Some("admin") => Ok(Response::new(AuthorizationResponse {
                role_type: "DOMAIN".into(),
                ..Default::default()
            })),
            Some("member") => Ok(Response::new(AuthorizationResponse {
                role_type: "PROJECT".into(),
                projects: vec!["project-1".into()],
                ..Default::default()
            })),
            _ => Err(Status::permission_denied("ERROR_PERMISSION_DENIED")),
        }
    }
}

/// Serves identity on `addr` until the returned sender is dropped or sent to.
async fn start_identity(identity: Identity, addr: SocketAddr) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind identity");
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(DomainServer::new(identity.clone()))
            .add_service(AuthorizationServer::new(identity))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .expect("identity");
    });
    stop
}

/// Domain A (with projects 1..7 and two documents without a project) and domain B.
pub(crate) async fn store() -> Arc<dyn Store> {
    let store = MemoryStore::new();
    let mut documents = support::generated(70, "domain-a");
    for doc in documents.iter_mut().take(2) {
        doc.remove("project_id");
    }
    documents.extend(support::generated(30, "domain-b"));
    store.insert("job_task", documents).await.expect("insert");
    Arc::new(store)
}

async fn serve(authenticator: Arc<dyn Authenticator>) -> Channel {
    let logic =
        JobService::new(Service::Inventory, store().await).with_authenticator(authenticator);
    let addr = support::listen_on_free_port(logic).await;
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("token", token.parse().expect("ascii token"));
    }
    request
}

/// (total_count, distinct domain_ids, distinct project_ids) of a list naming `domain`.
async fn list(
    channel: &Channel,
    token: Option<&str>,
    domain: &str,
) -> Result<(u64, Vec<String>, Vec<String>), Status> {
    let out = JobTaskClient::new(channel.clone())
        .list(with_token(
            JobTaskQuery {
                domain_id: domain.into(),
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner();
    let mut domains: Vec<String> = out.results.iter().map(|r| r.domain_id.clone()).collect();
    let mut projects: Vec<String> = out.results.iter().map(|r| r.project_id.clone()).collect();
    domains.sort();
    domains.dedup();
    projects.sort();
    projects.dedup();
    Ok((
        u64::try_from(out.total_count).unwrap_or(0),
        domains,
        projects,
    ))
}

async fn stat(channel: &Channel, token: Option<&str>, query: Value) -> Result<Value, Status> {
    let query: spacejobs_core::StatisticsQuery = serde_json::from_value(query).expect("query");
    let out = JobTaskClient::new(channel.clone())
        .stat(with_token(
            JobTaskStatQuery {
                query: Some(convert::statistics_query_to_proto(&query)),
                domain_id: "domain-b".into(),
            },
            token,
        ))
        .await?
        .into_inner();
    Ok(Value::Object(convert::struct_to_json(&out))["results"].clone())
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

#[tokio::test]
async fn spaceone_mode_binds_callers_to_their_domain_and_projects() {
    let (key, jwk) = generated_key();
    let identity_addr = free_addr();
    let identity = Identity {
        domain: "domain-a".into(),
        jwk: serde_json::to_string(&jwk).expect("jwk"),
    };
    let stop = start_identity(identity.clone(), identity_addr).await;
    let auth =
        SpaceOneAuthenticator::new(&format!("grpc://{identity_addr}"), Duration::from_secs(2))
            .expect("authenticator");
    let channel = serve(Arc::new(auth)).await;

    // A DOMAIN caller of domain-a naming domain-b reads domain-a, and only it.
    let admin = token(&key, "domain-a", "admin", "USER");
    let (total, domains, _) = list(&channel, Some(&admin), "domain-b")
        .await
        .expect("admin");
    assert_eq!((total, domains), (70, vec!["domain-a".to_string()]));
    // A domain owner needs no authorization call, and is bound all the same.
    let owner = token(&key, "domain-a", "someone", "DOMAIN_OWNER");
    let (total, domains, _) = list(&channel, Some(&owner), "domain-b")
        .await
        .expect("owner");
    assert_eq!((total, domains), (70, vec!["domain-a".to_string()]));

    // A PROJECT caller sees project-1 and documents without a project: list, distinct, group.
    let member = token(&key, "domain-a", "member", "USER");
    let (total, domains, projects) = list(&channel, Some(&member), "domain-b")
        .await
        .expect("member");
    assert_eq!(domains, vec!["domain-a".to_string()]);
    assert_eq!(
        projects,
        vec![String::new(), "project-1".to_string()],
        "no project, project-1"
    );
    let expected = 2 + (2..70).filter(|i| i % 7 == 1).count() as u64;
    assert_eq!(total, expected);
    let distinct = stat(&channel, Some(&member), json!({"distinct": "project_id"}))
        .await
        .expect("distinct");
    assert_eq!(distinct, json!(["project-1"]));
    let groups = stat(
        &channel,
        Some(&member),
        json!({"aggregate": [{"group": {"keys": [{"key": "domain_id", "name": "d"}],
                                        "fields": [{"operator": "count", "name": "n"}]}}]}),
    )
    .await
    .expect("group");
    assert_eq!(groups, json!([{"d": "domain-a", "n": expected}]));

    // Bad tokens are UNAUTHENTICATED with SpaceONE's messages.
    let expired = sign(
        &key,
        json!({"did": "domain-a", "aud": "admin", "exp": now() - 10}),
    );
    let mut parts: Vec<String> = admin.split('.').map(str::to_string).collect();
    parts[1] = sign(
        &key,
        json!({"did": "domain-a", "aud": "admin", "user_type": "SYSTEM", "exp": now() + 3600}),
    )
    .split('.')
    .nth(1)
    .expect("payload")
    .to_string();
    let tampered = parts.join(".");
    let (other_key, _) = generated_key();
    let wrong_key = token(&other_key, "domain-a", "admin", "USER");
    let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
    let alg_none = format!(
        "{none_header}.{}.",
        admin.split('.').nth(1).expect("payload")
    );
    for (label, bad, message) in [
        ("missing", None, "Empty token provided."),
        ("garbage", Some("not-a-token"), "Cannot decode token."),
        (
            "expired",
            Some(expired.as_str()),
            "Token is invalid or expired.",
        ),
        (
            "tampered",
            Some(tampered.as_str()),
            "Token is invalid or expired.",
        ),
        (
            "wrong key",
            Some(wrong_key.as_str()),
            "Token is invalid or expired.",
        ),
        (
            "alg none",
            Some(alg_none.as_str()),
            "Token is invalid or expired.",
        ),
    ] {
        let status = list(&channel, bad, "domain-a").await.expect_err(label);
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
        assert!(
            status.message().starts_with("ERROR_AUTHENTICATE_FAILURE")
                && status.message().contains(message),
            "{label}: {status:?}"
        );
    }

    // Identity refuses → PERMISSION_DENIED.
    let stranger = token(&key, "domain-a", "stranger", "USER");
    let status = list(&channel, Some(&stranger), "domain-a")
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().starts_with("ERROR_PERMISSION_DENIED"),
        "{status:?}"
    );

    // Health stays open.
    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health without a token");
    assert_eq!(health.into_inner().status, 1);

    // Identity down → UNAVAILABLE; back → served again.
    drop(stop);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = list(&channel, Some(&admin), "domain-a")
        .await
        .expect_err("identity down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // Named as identity's fault, not the database's.
    assert!(
        status.message().starts_with("ERROR_GRPC_CONNECTION")
            && status.message().contains("channel = identity"),
        "{status:?}"
    );
    assert!(
        !status.message().contains("127.0.0.1"),
        "no address: {status:?}"
    );
    let _stop = start_identity(identity, identity_addr).await;
    let mut served = None;
    for _ in 0..50 {
        if let Ok(answer) = list(&channel, Some(&admin), "domain-a").await {
            served = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served.expect("served again").0, 70);
}

#[tokio::test]
async fn rest_takes_the_bearer_token() {
    let (key, jwk) = generated_key();
    let jwks = json!({"keys": [jwk]}).to_string();
    let auth = JwksAuthenticator::from_json(&jwks).expect("jwks");
    let logic =
        JobService::new(Service::Inventory, store().await).with_authenticator(Arc::new(auth));
    let addr = support::listen_on_free_port(logic).await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/inventory/v1/job-tasks/search");
    let member = sign(
        &key,
        json!({"did": "domain-a", "projects": ["project-2"], "exp": now() + 3600}),
    );
    let answer: Value = client
        .post(&url)
        .bearer_auth(&member)
        .json(&json!({"domain_id": "domain-b", "query": {"count_only": true}}))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let expected = 2 + (2..70).filter(|i| i % 7 == 2).count();
    assert_eq!(answer["total_count"], json!(expected), "{answer}");
    let refused = client
        .post(&url)
        .json(&json!({"domain_id": "domain-a"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status().as_u16(), 401);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "ERROR_AUTHENTICATE_FAILURE");
}

#[tokio::test]
async fn jwks_mode_binds_the_domain_and_the_projects_claim() {
    let (key, jwk) = generated_key();
    let auth = JwksAuthenticator::from_json(&json!({"keys": [jwk]}).to_string()).expect("jwks");
    let channel = serve(Arc::new(auth)).await;
    let domain_wide = sign(&key, json!({"did": "domain-b", "exp": now() + 3600}));
    let (total, domains, _) = list(&channel, Some(&domain_wide), "domain-a")
        .await
        .expect("domain");
    assert_eq!((total, domains), (30, vec!["domain-b".to_string()]));
    let scoped = sign(
        &key,
        json!({"did": "domain-a", "projects": ["project-3"], "exp": now() + 3600}),
    );
    let (_, _, projects) = list(&channel, Some(&scoped), "domain-a")
        .await
        .expect("projects");
    assert_eq!(projects, vec![String::new(), "project-3".to_string()]);
    let (other_key, _) = generated_key();
    let forged = sign(&other_key, json!({"did": "domain-a", "exp": now() + 3600}));
    let status = list(&channel, Some(&forged), "domain-a")
        .await
        .expect_err("forged");
    assert_eq!(status.code(), Code::Unauthenticated);
}

/// An API key as identity 1.9 mints it, with neither `exp` nor `user_type`.
fn api_key(key: &EncodingKey, domain: &str, user: &str) -> String {
    sign(
        key,
        json!({"cat": "API_KEY", "did": domain, "aud": user, "iat": now(),
               "api_key_id": "api-key-0123456789ab", "ver": "2020-12-07"}),
    )
}

#[tokio::test]
async fn api_keys_without_expiry_are_verified_then_authorized_by_identity() {
    let (key, jwk) = generated_key();
    let identity_addr = free_addr();
    let identity = Identity {
        domain: "domain-a".into(),
        jwk: serde_json::to_string(&jwk).expect("jwk"),
    };
    let _stop = start_identity(identity, identity_addr).await;
    let auth =
        SpaceOneAuthenticator::new(&format!("grpc://{identity_addr}"), Duration::from_secs(2))
            .expect("authenticator");
    let channel = serve(Arc::new(auth)).await;

    // Identity authorizes the admin's key: bound to its domain like any token.
    let admin = api_key(&key, "domain-a", "admin");
    let (total, domains, _) = list(&channel, Some(&admin), "domain-b")
        .await
        .expect("an API key without exp");
    assert_eq!((total, domains), (70, vec!["domain-a".to_string()]));
    // Authorization is identity's: a key it refuses is PERMISSION_DENIED.
    let stranger = api_key(&key, "domain-a", "stranger");
    let status = list(&channel, Some(&stranger), "domain-a")
        .await
        .expect_err("identity refuses");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // The signature is always verified; `nbf` is checked when present.
    let (other_key, _) = generated_key();
    let forged = api_key(&other_key, "domain-a", "admin");
    let not_yet = sign(
        &key,
        json!({"cat": "API_KEY", "did": "domain-a", "aud": "admin", "nbf": now() + 3600}),
    );
    for (label, bad) in [("forged", forged), ("not yet valid", not_yet)] {
        let status = list(&channel, Some(&bad), "domain-a")
            .await
            .expect_err(label);
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
        assert!(
            status.message().contains("Token is invalid or expired."),
            "{label}: {status:?}"
        );
    }
}
