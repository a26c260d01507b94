//! The jobs dashboard: a page and its script, embedded in the binary (no CDN), served on
//! `GET /` (redirected to `/ui/`, keeping the query) and `/ui/…`. The page reads everything
//! through the service's own REST `list` and `stat`, with the caller's token, so it sees what
//! the API lets that caller see and nothing else.

use crate::rest::base_path;
use axum::extract::RawQuery;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use spacejobs_core::Service;

const PAGE: &str = include_str!("../ui/index.html");
const SCRIPT: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/style.css");

/// The dashboard's title for a service.
fn title(service: Service) -> &'static str {
    match service {
        Service::Inventory => "Inventory collector tasks",
        Service::SpotAutomation => "Spot automation jobs",
        Service::PowerScheduler => "Power scheduler jobs",
    }
}

/// The page for `service`: which API it reads and what it calls things.
fn page(service: Service) -> String {
    PAGE.replace("{{TITLE}}", title(service))
        .replace("{{SERVICE}}", service.name())
        .replace("{{BASE}}", base_path(service))
}

/// A static asset with its type; the page, script and style change only with the binary.
fn asset(content_type: &'static str, body: impl Into<String>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body.into(),
    )
        .into_response()
}

/// The dashboard's routes for `service`.
pub fn router(service: Service) -> Router {
    let html = page(service);
    Router::new()
        .route("/", get(to_ui))
        .route("/ui", get(to_ui))
        .route(
            "/ui/",
            get(move || {
                let html = html.clone();
                async move { asset("text/html; charset=utf-8", html) }
            }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/ui/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

/// `/` and `/ui` lead to `/ui/`, with the query (`?domain_id=…`) kept.
async fn to_ui(RawQuery(query): RawQuery) -> Redirect {
    match query {
        Some(query) => Redirect::to(&format!("/ui/?{query}")),
        None => Redirect::to("/ui/"),
    }
}
