//! The REST routes of the wire contract (axum): proto3 JSON in and out, `GET` list taking
//! the top-level fields as query parameters, errors as `{"error": {"code", "message"}}` with
//! the HTTP status of their class (the one place core errors become HTTP answers). Every
//! refusal is in that shape: bodies over the limit (413), request heads over the limit (431),
//! unknown paths (404), wrong methods (405), repeated query parameters (400).

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::{convert, json, trace};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Map, Value};
use spacejobs_core::store::Rendered;
use spacejobs_core::{Error, JobService, ListRequest, Result, Service, StatRequest, Store};
use spacejobs_exec::run_cpu;
use spacejobs_query::Method;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

type Shared = Arc<JobService<dyn Store>>;

/// The REST path prefix of a service (`/inventory/v1/job-tasks`).
pub fn base_path(service: Service) -> &'static str {
    match service {
        Service::Inventory => "/inventory/v1/job-tasks",
        Service::SpotAutomation => "/spot-automation/v1/jobs",
        Service::PowerScheduler => "/power-scheduler/v1/jobs",
    }
}

/// The routes: `GET {base}`, `POST {base}/search`, `POST {base}/stat` and, with
/// `config.enable_explain`, `POST {base}/explain/list` and `POST {base}/explain/stat`, with
/// bodies limited to `config.max_message_size` bytes (the gRPC message limit), counted in
/// `metrics`. Mount [`not_found`] as the fallback of the router they join.
pub fn router(service: Shared, config: &ServerConfig, metrics: &Metrics) -> Router {
    let base = base_path(service.service());
    let mut router = Router::new()
        .route(base, get(list_get))
        .route(&format!("{base}/search"), post(list_post))
        .route(&format!("{base}/stat"), post(stat_post));
    if config.enable_explain {
        router = router
            .route(&format!("{base}/explain/list"), post(explain_list))
            .route(&format!("{base}/explain/stat"), post(explain_stat));
    }
    router
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_message_size))
        .layer(Extension(BodyLimit(config.max_message_size)))
        .layer(Extension(metrics.clone()))
        .with_state(service)
}

/// A refusal in the `{"error": {"code", "message"}}` shape.
fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// A core error as an HTTP answer.
pub(crate) fn error_response(error: &Error) -> Response {
    if error.class() == spacejobs_core::ErrorClass::Internal {
        tracing::error!(error = %error, "internal error");
    }
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    refusal(status, error.code(), error.details())
}

/// Fallback for unknown paths: gRPC UNIMPLEMENTED for gRPC calls, else 404 in the `ERROR_*`
/// shape.
pub async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        return tonic::Status::unimplemented(format!("ERROR_NOT_FOUND: no method {path}"))
            .into_http();
    }
    error_response(&Error::NotFound {
        key: "path".into(),
        value: path,
    })
}

async fn method_not_allowed(request: Request) -> Response {
    let message = format!(
        "ERROR_METHOD_NOT_ALLOWED: {} is not allowed on {}",
        request.method(),
        request.uri().path()
    );
    refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        "ERROR_METHOD_NOT_ALLOWED",
        message,
    )
}

/// The length of `value`'s text, counted without writing it anywhere.
fn display_len(value: &impl std::fmt::Display) -> usize {
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = std::fmt::write(&mut count, format_args!("{value}"));
    count.0
}

/// Middleware: a request head (URI and headers) over `limit` bytes is refused with 431 in the
/// `ERROR_*` shape (hyper's own, larger, buffer limit answers without a body).
pub async fn head_limit(State(limit): State<usize>, request: Request, next: Next) -> Response {
    match head_refusal(&request, limit) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    }
}

/// The refusal of [`head_limit`] when the request's head is over `limit` bytes.
pub(crate) fn head_refusal(request: &Request, limit: usize) -> Option<Response> {
    let size = display_len(request.uri())
        + request
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>();
    (size > limit).then(|| {
        error_response(&Error::TooLarge {
            part: "headers".into(),
            limit,
        })
    })
}

/// The REST body limit, for the refusal's message.
#[derive(Debug, Clone, Copy)]
struct BodyLimit(usize);

fn body_json(body: std::result::Result<Bytes, BytesRejection>, limit: BodyLimit) -> Result<Value> {
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Error::TooLarge {
                part: "body".into(),
                limit: limit.0,
            })
        }
        Err(e) => {
            return Err(Error::InvalidParameterType {
                key: "body".into(),
                reason: e.body_text(),
            })
        }
    };
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(&body).map_err(|e| Error::InvalidParameterType {
        key: "body".into(),
        reason: format!("invalid JSON: {e}"),
    })
}

/// Answers one call: logs it, counts it in the metrics, renders its result or error.
async fn answer(
    service: &Shared,
    metrics: &Metrics,
    method: &'static str,
    request: &Value,
    work: impl std::future::Future<Output = Result<impl Into<Body>>>,
) -> Response {
    let started = Instant::now();
    let call = metrics.start(service.service().name(), method, "rest");
    let domain = request
        .get("domain_id")
        .and_then(|d| d.as_str())
        .unwrap_or("");
    let span = trace::request_span(service.service(), method, "rest", domain);
    let result = work.instrument(span.clone()).await;
    let status = result.as_ref().map_or_else(|e| e.code(), |_| "OK");
    call.finish(status);
    trace::finish(&span, status);
    span.in_scope(|| {
        tracing::info!(
            service = service.service().name(),
            method,
            domain,
            status,
            duration_ms = started.elapsed().as_secs_f64() * 1e3,
            "rest request"
        )
    });
    match result {
        Ok(body) => body.into().into_response(),
        Err(e) => error_response(&e),
    }
}

/// [`answer`] of a call whose request was read as `request`: `work` runs on it, or the
/// error reading it is the answer.
async fn answer_request<B, F>(
    service: &Shared,
    metrics: &Metrics,
    method: &'static str,
    request: Result<Value>,
    work: impl FnOnce(Value) -> F,
) -> Response
where
    B: Into<Body>,
    F: std::future::Future<Output = Result<B>>,
{
    match request {
        Ok(request) => {
            let work = work(request.clone());
            answer(service, metrics, method, &request, work).await
        }
        Err(e) => {
            answer(service, metrics, method, &Value::Null, async {
                Err::<Body, _>(e)
            })
            .await
        }
    }
}

/// The caller's token from `Authorization: Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

async fn list(service: &Shared, request: Value, token: Option<&str>) -> Result<Body> {
    let kind = service.service();
    let deadline = service.deadline(None);
    let request = ListRequest::from_json(kind, &request)?;
    let rendered = service
        .list_rendered(&request, &deadline, token, move |out| {
            let tree = match kind {
                Service::Inventory => {
                    return crate::raw_json::job_tasks_body(&out.documents, out.total_count)
                        .map(Rendered::Json)
                }
                Service::SpotAutomation => json::spot_jobs(convert::spot_jobs_info(out)?),
                Service::PowerScheduler => json::power_jobs(convert::power_jobs_info(out)?),
            };
            serde_json::to_vec(&tree)
                .map(Rendered::Json)
                .map_err(|e| Error::Internal(format!("a list's JSON: {e}")))
        })
        .await?;
    match rendered {
        Rendered::Json(bytes) => Ok(Body::Bytes(bytes)),
        Rendered::GrpcFrame(_) => Err(Error::Internal("a REST list rendered for gRPC".into())),
    }
}

/// An answer's JSON: a tree of values, or bytes already written.
enum Body {
    Tree(Value),
    Bytes(Vec<u8>),
}

impl From<Value> for Body {
    fn from(value: Value) -> Self {
        Body::Tree(value)
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        match self {
            Body::Tree(value) => Json(value).into_response(),
            Body::Bytes(bytes) => (
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
        }
    }
}

/// The query string as an object of strings; a parameter given twice is refused (a gateway
/// that checks the first `domain_id` must not be bypassed by a second one).
fn query_params(query: Option<&str>) -> Result<Value> {
    let mut params = Map::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let key = key.into_owned();
        if params.contains_key(&key) {
            return Err(Error::InvalidParameterType {
                key,
                reason: "the query parameter is given more than once".into(),
            });
        }
        params.insert(key, Value::String(value.into_owned()));
    }
    Ok(Value::Object(params))
}

async fn list_get(
    State(service): State<Shared>,
    Extension(metrics): Extension<Metrics>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = bearer(&headers);
    let request = query_params(query.as_deref());
    answer_request(&service, &metrics, "list", request, |request| {
        list(&service, request, token)
    })
    .await
}

async fn list_post(
    State(service): State<Shared>,
    Extension(limit): Extension<BodyLimit>,
    Extension(metrics): Extension<Metrics>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let token = bearer(&headers);
    let request = body_json(body, limit);
    answer_request(&service, &metrics, "list", request, |request| {
        list(&service, request, token)
    })
    .await
}

async fn stat_post(
    State(service): State<Shared>,
    Extension(limit): Extension<BodyLimit>,
    Extension(metrics): Extension<Metrics>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let token = bearer(&headers);
    let request = body_json(body, limit);
    let logic = &service;
    answer_request(&service, &metrics, "stat", request, |request| async move {
        let deadline = logic.deadline(None);
        let request = StatRequest::from_json(&request)?;
        let out = logic.stat_within(&request, &deadline, token).await?;
        run_cpu(&deadline, move |_| {
            Ok(spacejobs_core::render::stat_response(&out))
        })
        .await
    })
    .await
}

async fn explain_list(
    State(service): State<Shared>,
    Extension(limit): Extension<BodyLimit>,
    Extension(metrics): Extension<Metrics>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    explain(service, Method::List, limit, metrics, headers, body).await
}

async fn explain_stat(
    State(service): State<Shared>,
    Extension(limit): Extension<BodyLimit>,
    Extension(metrics): Extension<Metrics>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    explain(service, Method::Stat, limit, metrics, headers, body).await
}

/// `explain` of a list or stat body, as the caller's token would have it answered.
async fn explain(
    service: Shared,
    method: Method,
    limit: BodyLimit,
    metrics: Metrics,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let token = bearer(&headers);
    let request = body_json(body, limit);
    let logic = &service;
    answer_request(
        &service,
        &metrics,
        "explain",
        request,
        |request| async move {
            let deadline = logic.deadline(None);
            logic.explain_json(method, &request, &deadline, token).await
        },
    )
    .await
}
