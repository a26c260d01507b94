//! The REST routes of the wire contract (axum): proto3 JSON in and out, `GET` list taking
//! the top-level fields as query parameters, errors as `{"error": {"code", "message"}}` with
//! the HTTP status of their class (the one place core errors become HTTP answers).

use crate::{convert, json};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use spacejobs_core::{Error, JobService, ListRequest, Result, Service, StatRequest, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

type Shared = Arc<JobService<dyn Store>>;

/// The REST path prefix of a service (`/inventory/v1/job-tasks`).
pub fn base_path(service: Service) -> &'static str {
    match service {
        Service::Inventory => "/inventory/v1/job-tasks",
        Service::SpotAutomation => "/spot-automation/v1/jobs",
        Service::PowerScheduler => "/power-scheduler/v1/jobs",
    }
}

/// The routes: `GET {base}`, `POST {base}/search`, `POST {base}/stat`.
pub fn router(service: Shared) -> Router {
    let base = base_path(service.service());
    Router::new()
        .route(base, get(list_get))
        .route(&format!("{base}/search"), post(list_post))
        .route(&format!("{base}/stat"), post(stat_post))
        .with_state(service)
}

/// A core error as an HTTP answer.
fn error_response(error: &Error) -> Response {
    let class = error.class();
    if class == spacejobs_core::ErrorClass::Internal {
        tracing::error!(error = %error, "internal error");
    }
    let status =
        StatusCode::from_u16(class.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = error.details();
    (
        status,
        Json(json!({"error": {"code": error.code(), "message": message}})),
    )
        .into_response()
}

fn body_json(body: &Bytes) -> Result<Value> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| Error::InvalidParameterType {
        key: "body".into(),
        reason: format!("invalid JSON: {e}"),
    })
}

async fn answer(
    service: &Shared,
    method: &str,
    request: &Value,
    work: impl std::future::Future<Output = Result<Value>>,
) -> Response {
    let started = Instant::now();
    let result = work.await;
    let domain = request
        .get("domain_id")
        .and_then(|d| d.as_str())
        .unwrap_or("");
    tracing::info!(
        service = service.service().name(),
        method,
        domain,
        status = result.as_ref().map_or_else(|e| e.code(), |_| "OK"),
        duration_ms = started.elapsed().as_secs_f64() * 1e3,
        "rest request"
    );
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

async fn list(service: &Shared, request: Value) -> Result<Value> {
    let kind = service.service();
    let out = service
        .list(&ListRequest::from_json(kind, &request)?)
        .await?;
    Ok(match kind {
        Service::Inventory => json::job_tasks(convert::job_tasks_info(out)?),
        Service::SpotAutomation => json::spot_jobs(convert::spot_jobs_info(out)?),
        Service::PowerScheduler => json::power_jobs(convert::power_jobs_info(out)?),
    })
}

async fn list_get(
    State(service): State<Shared>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let request = Value::Object(
        params
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    );
    answer(&service, "list", &request, list(&service, request.clone())).await
}

async fn list_post(State(service): State<Shared>, body: Bytes) -> Response {
    match body_json(&body) {
        Ok(request) => answer(&service, "list", &request, list(&service, request.clone())).await,
        Err(e) => error_response(&e),
    }
}

async fn stat_post(State(service): State<Shared>, body: Bytes) -> Response {
    let request = match body_json(&body) {
        Ok(request) => request,
        Err(e) => return error_response(&e),
    };
    let work = async {
        let out = service.stat(&StatRequest::from_json(&request)?).await?;
        Ok(spacejobs_core::render::stat_response(&out))
    };
    answer(&service, "stat", &request, work).await
}
