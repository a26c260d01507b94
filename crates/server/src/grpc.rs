//! The gRPC services: each converts its request, calls the shared [`JobService`], converts
//! the answer, and logs one line per request.

use crate::convert;
use crate::status::to_status;
use spacejobs_core::{JobService, Result, Service, Store};
use spacejobs_proto::{inventory, power_scheduler, spot_automation};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

/// One of the three services over a store.
#[derive(Debug, Clone)]
pub struct Handler {
    service: Arc<JobService<dyn Store>>,
}

impl Handler {
    /// The handler of `service`'s API over `service`'s logic.
    pub fn new(service: Arc<JobService<dyn Store>>) -> Self {
        Handler { service }
    }

    /// Runs one call: logs method, domain, outcome and duration; maps errors to statuses.
    async fn call<T, F>(&self, method: &str, domain: &str, work: F) -> Result<Response<T>, Status>
    where
        F: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let result = work.await;
        let outcome = match &result {
            Ok(_) => "OK",
            Err(e) => e.code(),
        };
        tracing::info!(
            service = self.service.service().name(),
            method,
            domain,
            status = outcome,
            duration_ms = started.elapsed().as_secs_f64() * 1e3,
            "request"
        );
        result.map(Response::new).map_err(|e| to_status(&e))
    }
}

fn kind(h: &Handler) -> Service {
    h.service.service()
}

#[tonic::async_trait]
impl inventory::job_task_server::JobTask for Handler {
    async fn list(
        &self,
        request: Request<inventory::JobTaskQuery>,
    ) -> Result<Response<inventory::JobTasksInfo>, Status> {
        let r = request.into_inner();
        self.call("list", &r.domain_id, async {
            let fields = [
                ("job_task_id", r.job_task_id.as_str()),
                ("job_id", &r.job_id),
                ("secret_id", &r.secret_id),
                ("provider", &r.provider),
                ("service_account_id", &r.service_account_id),
                ("project_id", &r.project_id),
                ("domain_id", &r.domain_id),
            ];
            let request = convert::list_request(kind(self), r.query.as_ref(), &fields, r.status)?;
            let out = self.service.list(&request).await?;
            Ok(inventory::JobTasksInfo {
                total_count: i32::try_from(out.total_count).unwrap_or(i32::MAX),
                results: out
                    .documents
                    .into_iter()
                    .map(convert::job_task_info)
                    .collect::<Result<_>>()?,
            })
        })
        .await
    }

    async fn stat(
        &self,
        request: Request<inventory::JobTaskStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let r = request.into_inner();
        self.call("stat", &r.domain_id, async {
            let out = self
                .service
                .stat(&convert::stat_request(r.query.as_ref(), &r.domain_id))
                .await?;
            Ok(convert::stat_struct(&out))
        })
        .await
    }
}

#[tonic::async_trait]
impl spot_automation::job_server::Job for Handler {
    async fn list(
        &self,
        request: Request<spot_automation::JobsQuery>,
    ) -> Result<Response<spot_automation::JobsInfo>, Status> {
        let r = request.into_inner();
        self.call("list", &r.domain_id, async {
            let fields = [
                ("job_id", r.job_id.as_str()),
                ("project_id", &r.project_id),
                ("domain_id", &r.domain_id),
            ];
            let request = convert::list_request(kind(self), r.query.as_ref(), &fields, r.status)?;
            let out = self.service.list(&request).await?;
            Ok(spot_automation::JobsInfo {
                total_count: i32::try_from(out.total_count).unwrap_or(i32::MAX),
                results: out
                    .documents
                    .into_iter()
                    .map(convert::spot_job_info)
                    .collect::<Result<_>>()?,
            })
        })
        .await
    }

    async fn stat(
        &self,
        request: Request<spot_automation::JobStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let r = request.into_inner();
        self.call("stat", &r.domain_id, async {
            let out = self
                .service
                .stat(&convert::stat_request(r.query.as_ref(), &r.domain_id))
                .await?;
            Ok(convert::stat_struct(&out))
        })
        .await
    }
}

#[tonic::async_trait]
impl power_scheduler::job_server::Job for Handler {
    async fn list(
        &self,
        request: Request<power_scheduler::JobsQuery>,
    ) -> Result<Response<power_scheduler::JobsInfo>, Status> {
        let r = request.into_inner();
        self.call("list", &r.domain_id, async {
            let fields = [
                ("job_id", r.job_id.as_str()),
                ("schedule_id", &r.schedule_id),
                ("project_id", &r.project_id),
                ("domain_id", &r.domain_id),
            ];
            let request = convert::list_request(kind(self), r.query.as_ref(), &fields, r.status)?;
            let out = self.service.list(&request).await?;
            Ok(power_scheduler::JobsInfo {
                total_count: i32::try_from(out.total_count).unwrap_or(i32::MAX),
                results: out
                    .documents
                    .into_iter()
                    .map(convert::power_job_info)
                    .collect::<Result<_>>()?,
            })
        })
        .await
    }

    async fn stat(
        &self,
        request: Request<power_scheduler::JobStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let r = request.into_inner();
        self.call("stat", &r.domain_id, async {
            let out = self
                .service
                .stat(&convert::stat_request(r.query.as_ref(), &r.domain_id))
                .await?;
            Ok(convert::stat_struct(&out))
        })
        .await
    }
}
