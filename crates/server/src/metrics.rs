//! Prometheus metrics, served on the service's own port as `GET /metrics` in the text
//! exposition format: requests by service, method, transport and status, their latency,
//! the requests in flight, and, read from the store at each scrape, the service's documents
//! by domain and status. Label values are bounded: statuses are the error codes, and only
//! the `domain_limit` domains with the most documents are named (the rest are summed under
//! `domain="_other"`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bson::Bson;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use spacejobs_core::{JobService, Result, StatisticsQuery, Store};
use spacejobs_query::compile;
use spacejobs_query::time::{Clock, SystemClock};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// The label value of the domains past the limit.
pub const OTHER_DOMAINS: &str = "_other";

/// Latency buckets, in seconds: from a memory-store answer to a slow MongoDB query.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A server's metrics (cheap to share: every metric is reference-counted inside).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGaugeVec,
    documents: IntGaugeVec,
    by_status: IntGaugeVec,
    domain_limit: usize,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("domain_limit", &self.domain_limit)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Fresh metrics naming at most `domain_limit` domains.
    pub fn new(domain_limit: usize) -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("spacejobs_requests_total", "Requests answered, by outcome."),
            &["service", "method", "transport", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "spacejobs_request_duration_seconds",
                "Time from a request's arrival to its answer.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["service", "method", "transport"],
        )
        .expect("valid metric");
        let in_flight = IntGaugeVec::new(
            Opts::new("spacejobs_requests_in_flight", "Requests being answered."),
            &["service", "transport"],
        )
        .expect("valid metric");
        let documents = IntGaugeVec::new(
            Opts::new(
                "spacejobs_documents",
                "Documents in the service's collection.",
            ),
            &["collection"],
        )
        .expect("valid metric");
        let by_status = IntGaugeVec::new(
            Opts::new(
                "spacejobs_documents_by_status",
                "Documents of the service's collection by domain and status.",
            ),
            &["collection", "domain", "status"],
        )
        .expect("valid metric");
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(documents.clone()),
            Box::new(by_status.clone()),
        ] {
            registry.register(metric).expect("unique metric names");
        }
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            documents,
            by_status,
            domain_limit,
        }
    }

    /// A request arriving: counted in flight until its [`Call`] finishes or is dropped.
    pub fn start(
        &self,
        service: &'static str,
        method: &'static str,
        transport: &'static str,
    ) -> Call {
        self.in_flight
            .with_label_values(&[service, transport])
            .inc();
        Call {
            metrics: self.clone(),
            labels: [service, method, transport],
            started: Instant::now(),
            done: false,
        }
    }

    /// The text exposition of every metric, the document gauges read from `service`'s store
    /// first.
    pub async fn render(&self, service: &JobService<dyn Store>) -> Result<String> {
        self.refresh_documents(service).await?;
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .map_err(|e| spacejobs_core::Error::Internal(format!("metrics: {e}")))?;
        String::from_utf8(text)
            .map_err(|e| spacejobs_core::Error::Internal(format!("metrics: {e}")))
    }

    /// Sets the document gauges from a group by domain and status over the whole collection.
    async fn refresh_documents(&self, service: &JobService<dyn Store>) -> Result<()> {
        let query: StatisticsQuery = serde_json::from_value(serde_json::json!({
            "aggregate": [{"group": {
                "keys": [{"key": "domain_id", "name": "domain"}, {"key": "status", "name": "status"}],
                "fields": [{"name": "n", "operator": "count"}],
            }}]
        }))
        .map_err(|e| spacejobs_core::Error::Internal(format!("metrics query: {e}")))?;
        let plan = compile::stat(&query, SystemClock.now())?;
        let collection = service.service().collection();
        let out = service
            .store()
            .stat(collection, &plan, &service.deadline(None))
            .await?;
        // (domain, status) -> documents, and each domain's total.
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut per_domain: BTreeMap<String, i64> = BTreeMap::new();
        for row in &out.results {
            let Bson::Document(row) = row else { continue };
            let text = |key: &str| row.get_str(key).unwrap_or("").to_string();
            let n = match row.get("n") {
                Some(Bson::Int32(n)) => i64::from(*n),
                Some(Bson::Int64(n)) => *n,
                _ => 0,
            };
            *counts.entry((text("domain"), text("status"))).or_default() += n;
            *per_domain.entry(text("domain")).or_default() += n;
        }
        let mut busiest: Vec<(&String, &i64)> = per_domain.iter().collect();
        busiest.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let named: Vec<&String> = busiest
            .into_iter()
            .take(self.domain_limit)
            .map(|(d, _)| d)
            .collect();
        let mut labelled: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for ((domain, status), n) in &counts {
            let domain = if named.contains(&domain) {
                domain.as_str()
            } else {
                OTHER_DOMAINS
            };
            *labelled.entry((domain, status.as_str())).or_default() += n;
        }
        self.by_status.reset();
        for ((domain, status), n) in labelled {
            self.by_status
                .with_label_values(&[collection, domain, status])
                .set(n);
        }
        self.documents
            .with_label_values(&[collection])
            .set(per_domain.values().sum());
        Ok(())
    }
}

/// A request being answered (see [`Metrics::start`]).
#[derive(Debug)]
pub struct Call {
    metrics: Metrics,
    labels: [&'static str; 3],
    started: Instant,
    done: bool,
}

impl Call {
    /// The request answered with `status` (`OK` or an error code).
    pub fn finish(mut self, status: &str) {
        self.record(status);
    }

    fn record(&mut self, status: &str) {
        if self.done {
            return;
        }
        self.done = true;
        let [service, method, transport] = self.labels;
        let m = &self.metrics;
        m.in_flight.with_label_values(&[service, transport]).dec();
        m.requests
            .with_label_values(&[service, method, transport, status])
            .inc();
        m.latency
            .with_label_values(&[service, method, transport])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    /// A request dropped before its answer (the client went away) counts as cancelled.
    fn drop(&mut self) {
        self.record("CANCELLED");
    }
}

/// `GET /metrics` over `service`'s store.
pub fn router(service: Arc<JobService<dyn Store>>, metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((service, metrics))
}

async fn scrape(
    State((service, metrics)): State<(Arc<JobService<dyn Store>>, Metrics)>,
) -> Response {
    match metrics.render(&service).await {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics scrape failed");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}
