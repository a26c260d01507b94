//! The SpaceONE JobTask/Job services over gRPC and REST, on any spacejobs [`Store`].
//!
//! [`run`] serves one service on a listener until `shutdown` resolves, gRPC and the REST
//! routes of the wire contract on the same port: the SpaceONE service itself, gRPC health (answering under `""`, the short name and the full name, but not listed by reflection) and gRPC reflection v1 and
//! v1alpha (listing only the SpaceONE service, as SpaceONE's Python client requires), and
//! Prometheus metrics on `GET /metrics` ([`metrics`]), probes on `GET /healthz` and
//! `GET /readyz` ([`probes`]), and the jobs dashboard on `GET /`
//! ([`ui`], unless [`ServerConfig::ui`] is off). An embedding application can
//! instead mount [`routes`] in its own tonic server.
//!
//! Every call is bounded: its budget and deadline come from the core's [`Limits`] (the
//! client's `grpc-timeout` when shorter), its evaluation runs off the async workers, and
//! [`listen`] keeps connections in check ([`ServerConfig`]). Health stays outside all of it.
//!
//! [`Limits`]: spacejobs_core::Limits

pub mod coalesce;
pub mod config;
pub mod convert;
pub mod encoded_list;
pub mod export;
pub mod front;
pub mod grpc;
pub mod info;
pub mod json;
pub mod listen;
pub mod metrics;
mod names;
pub mod preencoded;
pub mod probes;
pub mod raw_info;
pub mod raw_json;
pub mod rest;
pub mod shape;
pub mod status;
pub mod structs;
pub mod trace;
pub mod ui;

pub use config::{tls_config, ServerConfig};
pub use metrics::Metrics;

use grpc::Handler;
use spacejobs_core::{JobService, Service, Store};
use spacejobs_proto::{inventory, power_scheduler, spot_automation, FILE_DESCRIPTOR_SET};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use names::grpc_name;

/// The gRPC routes of one service over `store`: the service, health and reflection. Request
/// messages are limited to `config.max_message_size` bytes; calls are counted in `metrics`.
pub async fn routes(
    service: Arc<JobService<dyn Store>>,
    config: &ServerConfig,
    metrics: &Metrics,
) -> Result<Routes, Box<dyn std::error::Error + Send + Sync>> {
    let max = config.max_message_size;
    let kind = service.service();
    let shape = shape::ShapeCheck::new(
        Handler::new(service.clone(), metrics.clone()),
        service.limits(),
        max,
    );
    let handler = Handler::new(service, metrics.clone());
    let mut routes = tonic::service::RoutesBuilder::default();
    match kind {
        Service::Inventory => {
            routes.add_service(
                inventory::job_task_server::JobTaskServer::new(handler)
                    .max_decoding_message_size(max),
            );
        }
        Service::SpotAutomation => {
            routes.add_service(
                spot_automation::job_server::JobServer::new(handler).max_decoding_message_size(max),
            );
        }
        Service::PowerScheduler => {
            routes.add_service(
                power_scheduler::job_server::JobServer::new(handler).max_decoding_message_size(max),
            );
        }
    }
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(grpc_name(kind), tonic_health::ServingStatus::Serving)
        .await;
    // SpaceONE's probes ask for the short name (`inventory`) too.
    for name in ["", kind.name()] {
        reporter
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    routes.add_service(health);
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            // Described (so `grpcurl … grpc.health.v1.Health/Check` works) but not listed.
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .include_reflection_service(false)
            .with_service_name(grpc_name(kind))
    };
    routes.add_service(reflection().build_v1()?);
    routes.add_service(reflection().build_v1alpha()?);
    let router = routes
        .routes()
        .into_axum_router()
        // Lists over their budget refused before the message is decoded.
        .layer(axum::middleware::from_fn_with_state(
            shape.clone(),
            shape::check_before_decoding,
        ))
        // Answers encoded on the request pool sent as they are.
        .layer(axum::middleware::from_fn(preencoded::send_preencoded));
    Ok(Routes::from(router))
}

/// Serves `service` on `listener` with the default [`ServerConfig`] until `shutdown`
/// resolves, then finishes the calls in flight.
pub async fn run(
    listener: TcpListener,
    service: Arc<JobService<dyn Store>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    run_with(listener, service, &ServerConfig::default(), shutdown).await
}

/// [`run`] with an explicit [`ServerConfig`].
pub async fn run_with(
    listener: TcpListener,
    service: Arc<JobService<dyn Store>>,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let metrics = Metrics::new(config.metrics_domains);
    let grpc = routes(service.clone(), config, &metrics)
        .await?
        .into_axum_router()
        .layer(axum::middleware::from_fn_with_state(
            config.max_message_size,
            status::oversize_message,
        ));
    let kind = service.service();
    let mut app = grpc
        .merge(rest::router(service.clone(), config, &metrics))
        .merge(metrics::router(service.clone(), metrics.clone()))
        .merge(probes::router(service.clone()));
    if config.enable_export {
        app = app.merge(export::router(service.clone(), &metrics));
    }
    if config.ui {
        app = app.merge(ui::router(kind));
    }
    let app = app
        .fallback(rest::not_found)
        .layer(axum::middleware::from_fn_with_state(
            config.max_header_bytes,
            rest::head_limit,
        ));
    // Inventory lists skip the router (same handler, same answers; see `front` for why).
    let list = (kind == Service::Inventory).then(|| {
        let handler = Handler::new(service.clone(), metrics.clone());
        let shape =
            shape::ShapeCheck::new(handler.clone(), service.limits(), config.max_message_size);
        encoded_list::ListRoute::new(handler, config.max_message_size, shape)
    });
    let app = front::Front::new(list, app, config.max_header_bytes);
    listen::serve(listener, app, config, shutdown).await?;
    Ok(())
}
