//! One `tracing` span per request, gRPC and REST alike, named as OpenTelemetry expects
//! (`spaceone.api.inventory.v1.JobTask/list`, kind server, error status on failures). The
//! binaries export them with `--otlp-endpoint`; an embedding application's own subscriber
//! sees them like any span.

use crate::names::grpc_name;
use spacejobs_core::Service;
use tracing::field::Empty;
use tracing::Span;

/// The span of one request to `service`'s `method` over `transport` (`grpc` or `rest`) in
/// `domain`.
pub fn request_span(service: Service, method: &str, transport: &str, domain: &str) -> Span {
    tracing::info_span!(
        "request",
        "otel.name" = format!("{}/{method}", grpc_name(service)),
        "otel.kind" = "server",
        "otel.status_code" = Empty,
        "rpc.service" = grpc_name(service),
        "rpc.method" = method,
        "spacejobs.transport" = transport,
        "spacejobs.domain" = domain,
        "spacejobs.status" = Empty,
    )
}

/// Records how the request ended: `OK`, or its `ERROR_…` code (then an error span).
pub fn finish(span: &Span, status: &str) {
    span.record("spacejobs.status", status);
    if status != "OK" {
        span.record("otel.status_code", "ERROR");
    }
}
