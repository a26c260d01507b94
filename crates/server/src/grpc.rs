//! The gRPC services: each converts its request, calls the shared [`JobService`] within the
//! request's deadline (the configured timeout, or the client's `grpc-timeout` when shorter),
//! converts the answer off the async workers, and logs one line per request.

use crate::convert;
use crate::metrics::Metrics;
use crate::preencoded;
use crate::status::to_status;
use crate::trace;
use spacejobs_core::store::Rendered;
use spacejobs_core::ListOutput;
use spacejobs_core::{Deadline, Error, JobService, Result, Store};
use spacejobs_exec::run_cpu;
use spacejobs_proto::{core as pb, inventory, power_scheduler, spot_automation};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tracing::Instrument;

/// The client's `grpc-timeout` (`<digits><H|M|S|m|u|n>`, at most 8 digits), if valid.
pub fn grpc_timeout(metadata: &MetadataMap) -> Option<Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// One of the three services over a store.
#[derive(Debug, Clone)]
pub struct Handler {
    service: Arc<JobService<dyn Store>>,
    metrics: Metrics,
}

impl Handler {
    /// The handler of `service`'s API over `service`'s logic, counting calls in `metrics`.
    pub fn new(service: Arc<JobService<dyn Store>>, metrics: Metrics) -> Self {
        Handler { service, metrics }
    }

    /// Runs one call: logs method, domain, outcome and duration, counts it in the metrics;
    /// maps errors to statuses.
    async fn call<T, F>(
        &self,
        method: &'static str,
        domain: &str,
        work: F,
    ) -> Result<Response<T>, Status>
    where
        F: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let call = self
            .metrics
            .start(self.service.service().name(), method, "grpc");
        let span = trace::request_span(self.service.service(), method, "grpc", domain);
        let result = work.instrument(span.clone()).await;
        let outcome = match &result {
            Ok(_) => "OK",
            Err(e) => e.code(),
        };
        call.finish(outcome);
        trace::finish(&span, outcome);
        span.in_scope(|| {
            tracing::info!(
                service = self.service.service().name(),
                method,
                domain,
                status = outcome,
                duration_ms = started.elapsed().as_secs_f64() * 1e3,
                "request"
            )
        });
        result.map(Response::new).map_err(|e| to_status(&e))
    }

    /// A call refused before its message was decoded (its lists over the budget): counted,
    /// logged and answered as the handler answers its own refusals.
    pub async fn refuse(&self, method: &'static str, error: spacejobs_core::Error) -> Status {
        let refused: Result<Response<()>, Status> =
            self.call(method, "", async move { Err(error) }).await;
        refused.err().unwrap_or_else(|| Status::internal("refused"))
    }

    /// `list` of a Job service: [`Self::list`], the answer encoded on the request pool.
    async fn list_encoded<M: prost::Message + Default + Send + 'static>(
        &self,
        context: (Deadline, Option<String>),
        query: Option<&pb::Query>,
        fields: &[(&str, &str)],
        status: i32,
        domain: &str,
        info: fn(ListOutput) -> Result<M>,
    ) -> Result<Response<M>, Status> {
        let framed = self
            .list(context, query, fields, status, domain, move |out| {
                info(out).map(|message| preencoded::frame(&message))
            })
            .await?;
        Ok(preencoded::respond(framed))
    }

    /// `list` of any service: the query, the top-level string fields and the status number,
    /// answered in the service's Info message by `info`.
    async fn list(
        &self,
        (deadline, token): (Deadline, Option<String>),
        query: Option<&pb::Query>,
        fields: &[(&str, &str)],
        status: i32,
        domain: &str,
        frame: impl FnOnce(ListOutput) -> Result<Vec<u8>> + Send + 'static,
    ) -> Result<Vec<u8>, Status> {
        let answer = self
            .call("list", domain, async {
                let request = convert::list_request(self.service.service(), query, fields, status)?;
                let render = move |out| frame(out).map(Rendered::GrpcFrame);
                match self
                    .service
                    .list_rendered(&request, &deadline, token.as_deref(), render)
                    .await?
                {
                    Rendered::GrpcFrame(framed) => Ok(framed),
                    Rendered::Json(_) => {
                        Err(Error::Internal("a gRPC list rendered as JSON".into()))
                    }
                }
            })
            .await?;
        Ok(answer.into_inner())
    }

    /// `stat` of any service, the answer encoded on the request pool.
    async fn stat(
        &self,
        (deadline, token): (Deadline, Option<String>),
        query: Option<&pb::StatisticsQuery>,
        domain: &str,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let framed = self
            .call("stat", domain, async {
                let out = self
                    .service
                    .stat_within(
                        &convert::stat_request(query, domain),
                        &deadline,
                        token.as_deref(),
                    )
                    .await?;
                run_cpu(&deadline, move |_| {
                    Ok(preencoded::frame(&convert::stat_struct(&out)))
                })
                .await
            })
            .await?;
        Ok(preencoded::respond(framed.into_inner()))
    }

    /// The deadline of a request arriving now, and the caller's token (metadata `token`).
    fn context<R>(&self, request: &Request<R>) -> (Deadline, Option<String>) {
        let token = request
            .metadata()
            .get("token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        (
            self.service.deadline(grpc_timeout(request.metadata())),
            token,
        )
    }
}

impl Handler {
    /// Inventory `list`, its answer framed by `frame`.
    pub(crate) async fn job_task_list(
        &self,
        request: Request<inventory::JobTaskQuery>,
        frame: fn(ListOutput) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>, Status> {
        let context = self.context(&request);
        let r = request.into_inner();
        let fields = [
            ("job_task_id", r.job_task_id.as_str()),
            ("job_id", &r.job_id),
            ("secret_id", &r.secret_id),
            ("provider", &r.provider),
            ("service_account_id", &r.service_account_id),
            ("project_id", &r.project_id),
            ("domain_id", &r.domain_id),
        ];
        self.list(
            context,
            r.query.as_ref(),
            &fields,
            r.status,
            &r.domain_id,
            frame,
        )
        .await
    }
}

#[tonic::async_trait]
impl inventory::job_task_server::JobTask for Handler {
    /// The answer's `JobTasksInfo` bytes written straight from the stored documents on the
    /// request pool ([`crate::raw_info`]), sent as they are ([`crate::preencoded`]).
    async fn list(
        &self,
        request: Request<inventory::JobTaskQuery>,
    ) -> Result<Response<inventory::JobTasksInfo>, Status> {
        let framed = self
            .job_task_list(request, crate::raw_info::framed_job_tasks_info)
            .await?;
        Ok(preencoded::respond(framed))
    }

    async fn stat(
        &self,
        request: Request<inventory::JobTaskStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let context = self.context(&request);
        let r = request.into_inner();
        self.stat(context, r.query.as_ref(), &r.domain_id).await
    }
}

#[tonic::async_trait]
impl spot_automation::job_server::Job for Handler {
    async fn list(
        &self,
        request: Request<spot_automation::JobsQuery>,
    ) -> Result<Response<spot_automation::JobsInfo>, Status> {
        let context = self.context(&request);
        let r = request.into_inner();
        let fields = [
            ("job_id", r.job_id.as_str()),
            ("project_id", &r.project_id),
            ("domain_id", &r.domain_id),
        ];
        self.list_encoded(
            context,
            r.query.as_ref(),
            &fields,
            r.status,
            &r.domain_id,
            convert::spot_jobs_info,
        )
        .await
    }

    async fn stat(
        &self,
        request: Request<spot_automation::JobStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let context = self.context(&request);
        let r = request.into_inner();
        self.stat(context, r.query.as_ref(), &r.domain_id).await
    }
}

#[tonic::async_trait]
impl power_scheduler::job_server::Job for Handler {
    async fn list(
        &self,
        request: Request<power_scheduler::JobsQuery>,
    ) -> Result<Response<power_scheduler::JobsInfo>, Status> {
        let context = self.context(&request);
        let r = request.into_inner();
        let fields = [
            ("job_id", r.job_id.as_str()),
            ("schedule_id", &r.schedule_id),
            ("project_id", &r.project_id),
            ("domain_id", &r.domain_id),
        ];
        self.list_encoded(
            context,
            r.query.as_ref(),
            &fields,
            r.status,
            &r.domain_id,
            convert::power_jobs_info,
        )
        .await
    }

    async fn stat(
        &self,
        request: Request<power_scheduler::JobStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let context = self.context(&request);
        let r = request.into_inner();
        self.stat(context, r.query.as_ref(), &r.domain_id).await
    }
}
