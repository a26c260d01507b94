//! `GET {base}/export` (served with [`ServerConfig::enable_export`], off by default): the
//! documents the caller may read, as JSON Lines in the SpaceONE layout (`import` reads them
//! back), streamed chunk by chunk from the running service without stopping it. The caller's
//! token is taken as `list` takes it (a caller bound to a domain exports only its own);
//! `?domain_id=` names one domain, and without authentication its absence means every
//! domain. An operators' route: keep it behind the operators' network.
//!
//! [`ServerConfig::enable_export`]: crate::ServerConfig::enable_export

use crate::metrics::Metrics;
use crate::rest::{base_path, bearer, error_response};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use spacejobs_core::{JobService, Store};
use std::sync::Arc;

type Shared = Arc<JobService<dyn Store>>;

/// The export route of `service`.
pub fn router(service: Shared, metrics: &Metrics) -> Router {
    let path = format!("{}/export", base_path(service.service()));
    Router::new()
        .route(&path, get(export))
        .with_state((service, metrics.clone()))
}

/// The query parameters of an export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    domain_id: Option<String>,
}

async fn export(
    State((service, metrics)): State<(Shared, Metrics)>,
    headers: HeaderMap,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let call = metrics.start(service.service().name(), "export", "rest");
    let params = match params {
        Ok(Query(params)) => params,
        Err(e) => {
            let error = spacejobs_core::Error::InvalidParameterType {
                key: "export".into(),
                reason: e.body_text(),
            };
            call.finish(error.code());
            return error_response(&error);
        }
    };
    let domain = params.domain_id.filter(|d| !d.is_empty());
    let export = match service.export(domain.as_deref(), bearer(&headers)).await {
        Ok(export) => export,
        Err(e) => {
            call.finish(e.code());
            return error_response(&e);
        }
    };
    tracing::info!(domain = domain.as_deref().unwrap_or("*"), "export started");
    // Chunk by chunk; a failure ends the body early (the client sees the stream cut).
    let lines = futures_util::stream::unfold(Some(export), |state| async move {
        let mut export = state?;
        match export.next_lines().await {
            Ok(Some(text)) => Some((Ok(axum::body::Bytes::from(text)), Some(export))),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "export stopped");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    call.finish("OK");
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(lines),
    )
        .into_response()
}
