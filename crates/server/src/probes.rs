//! HTTP probes for orchestrators, outside authentication and the request budget:
//! `GET /healthz` answers 200 while the process serves; `GET /readyz` answers 200 only while
//! the store answers (a `ping` within [`READY_WITHIN`]), else 503 with the `ERROR_*` body of
//! the REST routes, so a load balancer stops sending requests to a server whose database is
//! gone and sends them again once it is back.

use crate::rest::error_response;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use spacejobs_core::{Deadline, Error, JobService, Store};
use std::sync::Arc;
use std::time::Duration;

/// How long `/readyz` waits for the store.
pub const READY_WITHIN: Duration = Duration::from_secs(2);

/// The probe routes of `service`.
pub fn router(service: Arc<JobService<dyn Store>>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(service)
}

async fn healthz() -> Response {
    Json(json!({"status": "SERVING"})).into_response()
}

async fn readyz(State(service): State<Arc<JobService<dyn Store>>>) -> Response {
    let deadline = Deadline::after(READY_WITHIN);
    match service.store().ping(&deadline).await {
        Ok(()) => Json(json!({"status": "SERVING"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            let error = match e {
                Error::Unavailable(_) => e,
                _ => Error::Unavailable(format!(
                    "the database did not answer within {} s",
                    READY_WITHIN.as_secs()
                )),
            };
            error_response(&error)
        }
    }
}
