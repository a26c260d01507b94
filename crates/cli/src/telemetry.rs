//! Logging and, with `--otlp-endpoint`, OpenTelemetry span export: every request's span (see
//! `spacejobs_server::trace`) goes in batches to an OTLP/HTTP collector (protobuf, `POST
//! <endpoint>/v1/traces`). Off by default; the log lines to standard error are the same
//! either way.
//!
//! Log lines are text, coloured only when standard error is a terminal and `NO_COLOR` is
//! unset, or with `--log-format json` one JSON object a line (`timestamp`, `level`, `target`,
//! `message` and the event's fields at the top level: a request's line carries its
//! `service`, `method`, `domain`, `status` and `duration_ms`), as log pipelines expect.

use crate::{Error, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use spacejobs_core::Service;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object a line.
    Json,
}

/// Colours only for a person at a terminal who has not asked for none (`NO_COLOR`).
fn use_colour() -> bool {
    use std::io::IsTerminal;
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_colour && std::io::stderr().is_terminal()
}

/// The span exporter while it runs; [`Telemetry::shutdown`] sends what is left.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans not yet exported, and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                eprintln!("warning: OpenTelemetry export did not finish: {e}");
            }
        }
    }
}

/// The traces URL of an OTLP/HTTP endpoint: `/v1/traces` added unless it is there.
fn traces_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if endpoint.ends_with("/v1/traces") {
        endpoint.to_string()
    } else {
        format!("{endpoint}/v1/traces")
    }
}

/// Installs the global subscriber: log lines to standard error (`RUST_LOG`, default info) in
/// `format` and, when `otlp_endpoint` is given, the spans to that collector as service
/// `spacejobs-<service>`.
pub fn init(service: Service, format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt.with_ansi(use_colour()).boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
    }
    .with_filter(filter);
    let Some(endpoint) = otlp_endpoint else {
        tracing_subscriber::registry().with(fmt).init();
        return Ok(Telemetry::default());
    };
    if !endpoint.starts_with("http://") {
        return Err(Error::Config(format!(
            "--otlp-endpoint {endpoint}: give the collector's OTLP/HTTP address, \
             http://HOST:4318"
        )));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint))
        .build()
        .map_err(|e| Error::Config(format!("--otlp-endpoint {endpoint}: {e}")))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(format!("spacejobs-{}", service.name()))
                .build(),
        )
        .build();
    // The request spans (and the lines logged in them) whatever RUST_LOG says.
    let spans = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("spacejobs"))
        .with_filter(Targets::new().with_target("spacejobs_server", Level::INFO));
    tracing_subscriber::registry().with(fmt).with(spans).init();
    tracing::info!(endpoint = %traces_url(endpoint), "exporting request spans (OTLP/HTTP)");
    Ok(Telemetry {
        provider: Some(provider),
    })
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
