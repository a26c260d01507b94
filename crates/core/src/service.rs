//! The service logic shared by all binaries: admit a request (at most
//! [`Limits::max_in_flight`] at once), authenticate its caller and scope it to what they may
//! see ([`Authenticator`]), admit it again for its domain (at most
//! [`Limits::max_in_flight_per_domain`] of one domain, whose work the request pool shares
//! fairly with other domains'), pre-process it, check it against the budget, compile it and
//! ask the store, all within the request's [`Deadline`]. Transport
//! layers (gRPC, REST) convert messages to [`ListRequest`]/[`StatRequest`] and the answers
//! back, and nothing else.

use crate::auth::{Authenticator, CallInfo, Caller, NoAuth};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::Service;
use crate::request::{prepare_list, prepare_stat, ListRequest, StatRequest};
use crate::store::{ListOutput, Render, Rendered, StatOutput, Store};
use spacejobs_exec::{run_cpu_unless_small, Deadline, RequestPool};
use spacejobs_query::time::{Clock, SystemClock};
use spacejobs_query::{compile, ListPlan, Method, Plan, StatPlan};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One service (`JobTask` or `Job`) over a store (which may be a `dyn Store`).
pub struct JobService<S: ?Sized> {
    service: Service,
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    limits: Arc<Limits>,
    in_flight: Arc<Semaphore>,
    per_domain: Arc<DomainSlots>,
    authenticator: Arc<dyn Authenticator>,
    /// Where requests' CPU work runs (the process's shared pool when not given).
    pool: Option<RequestPool>,
}

/// Requests in flight by domain.
#[derive(Debug, Default)]
struct DomainSlots(Mutex<HashMap<String, usize>>);

/// A domain's place among its requests in flight, given back when dropped.
#[derive(Debug)]
struct DomainPermit {
    slots: Arc<DomainSlots>,
    domain: String,
}

impl Drop for DomainPermit {
    fn drop(&mut self) {
        let mut slots = self.slots.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = slots.get_mut(&self.domain) {
            *n -= 1;
            if *n == 0 {
                slots.remove(&self.domain);
            }
        }
    }
}

impl<S: ?Sized> Clone for JobService<S> {
    fn clone(&self) -> Self {
        JobService {
            service: self.service,
            store: self.store.clone(),
            clock: self.clock.clone(),
            limits: self.limits.clone(),
            in_flight: self.in_flight.clone(),
            per_domain: self.per_domain.clone(),
            authenticator: self.authenticator.clone(),
            pool: self.pool.clone(),
        }
    }
}

impl<S: ?Sized> std::fmt::Debug for JobService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobService")
            .field("service", &self.service)
            .field("clock", &self.clock)
            .field("limits", &self.limits)
            .field("authenticator", &self.authenticator)
            .finish()
    }
}

impl<S: Store + ?Sized> JobService<S> {
    /// The service over `store`, with the system clock.
    pub fn new(service: Service, store: Arc<S>) -> Self {
        Self::with_clock(service, store, Arc::new(SystemClock))
    }

    /// The service over `store`, taking "now" (for `timediff_*`) from `clock`.
    pub fn with_clock(service: Service, store: Arc<S>, clock: Arc<dyn Clock>) -> Self {
        let limits = Limits::default();
        JobService {
            service,
            store,
            clock,
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            per_domain: Arc::default(),
            limits: Arc::new(limits),
            authenticator: Arc::new(NoAuth),
            pool: None,
        }
    }

    /// The same service with other [`Limits`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
        self.limits = Arc::new(limits);
        self
    }

    /// The same service asking `authenticator` who calls (the default is [`NoAuth`]).
    pub fn with_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = authenticator;
        self
    }

    /// "Now" by the service's clock.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The request budget in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The deadline of a request arriving now: the configured timeout, or the client's when
    /// that is shorter.
    pub fn deadline(&self, client: Option<Duration>) -> Deadline {
        let deadline = Deadline::within(self.limits.timeout, client);
        match &self.pool {
            Some(pool) => deadline.with_pool(pool.clone()),
            None => deadline,
        }
    }

    /// The same service running requests' CPU work on `pool` (by default the process's
    /// shared pool, [`RequestPool::shared`]).
    pub fn with_request_pool(mut self, pool: RequestPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The caller of `call` (within the deadline), or `None` when requests go as sent.
    pub(crate) async fn authenticate(
        &self,
        call: &CallInfo<'_>,
        deadline: &Deadline,
    ) -> Result<Option<Caller>> {
        tokio::time::timeout(deadline.remaining(), self.authenticator.authenticate(call))
            .await
            .unwrap_or_else(|_| Err(deadline.exceeded().into()))
    }

    /// A place among the requests in flight, or `Overloaded`.
    fn admit(&self) -> Result<OwnedSemaphorePermit> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Overloaded {
                limit: self.limits.max_in_flight,
                scope: "service",
            })
    }

    /// A place among the requests in flight of `domain` (the caller's, once scoped), and the
    /// deadline named after it, or `Overloaded` naming the per-domain limit.
    fn admit_domain(&self, domain: &str, deadline: &Deadline) -> Result<DomainPermit> {
        let limit = self.limits.max_in_flight_per_domain;
        let mut slots = self
            .per_domain
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = slots.entry(domain.to_string()).or_insert(0);
        if *n >= limit {
            return Err(Error::Overloaded {
                limit,
                scope: "domain",
            });
        }
        *n += 1;
        drop(slots);
        deadline.set_tenant(domain);
        Ok(DomainPermit {
            slots: self.per_domain.clone(),
            domain: domain.to_string(),
        })
    }

    /// Which service this is.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// `list` within the default deadline, without a token.
    pub async fn list(&self, request: &ListRequest) -> Result<ListOutput> {
        self.list_within(request, &self.deadline(None), None).await
    }

    /// `list`: admit, authenticate `token` (scoping the request to the caller), pre-process,
    /// check the budget, compile, query the store.
    pub async fn list_within(
        &self,
        request: &ListRequest,
        deadline: &Deadline,
        token: Option<&str>,
    ) -> Result<ListOutput> {
        let _permit = self.admit()?;
        let (plan, _domain) = self.list_plan(request, deadline, token).await?;
        self.store
            .list(self.service.collection(), &plan, deadline)
            .await
    }

    /// [`Self::list_within`], then `render` on the answer (a gRPC frame, JSON) on the request
    /// pool, in the store's own evaluation task when it has one.
    pub async fn list_rendered(
        &self,
        request: &ListRequest,
        deadline: &Deadline,
        token: Option<&str>,
        render: impl FnOnce(ListOutput) -> Result<Rendered> + Send + 'static,
    ) -> Result<Rendered> {
        let _permit = self.admit()?;
        let (plan, _domain) = self.list_plan(request, deadline, token).await?;
        let render: Render = Box::new(render);
        self.store
            .list_rendered(self.service.collection(), plan, deadline, render)
            .await
    }

    /// The plan of a `list`: authenticate `token` (scoping the request to the caller),
    /// pre-process, check the budget, compile (on the request pool when it builds patterns).
    async fn list_plan(
        &self,
        request: &ListRequest,
        deadline: &Deadline,
        token: Option<&str>,
    ) -> Result<(ListPlan, DomainPermit)> {
        let call = CallInfo {
            service: self.service,
            verb: "list",
            token,
            domain_id: request.domain_id().unwrap_or(""),
            project_id: request.fields.get("project_id").map(String::as_str),
        };
        let mut request = Cow::Borrowed(request);
        if let Some(caller) = self.authenticate(&call, deadline).await? {
            caller.scope_list(request.to_mut());
        }
        let permit = self.admit_domain(request.domain_id().unwrap_or(""), deadline)?;
        // The budget first on the query as sent, before anything copies it: an oversized
        // request is refused in time independent of its size.
        if let Some(raw) = &request.query {
            self.limits.check_list(raw, self.clock.now())?;
        }
        let query = prepare_list(self.service, &request)?;
        let options = compile::Options {
            deadline: Some(deadline.clone()),
            ..self.limits.check_list(&query, self.clock.now())?
        };
        let minimal = self.service.minimal_fields();
        let small = !compile::builds_patterns(&query.filter, &query.filter_or, &query.keyword);
        let plan = run_cpu_unless_small(deadline, small, move |_| {
            compile::list_with(&query, minimal, &options)
        })
        .await?;
        Ok((plan, permit))
    }

    /// `list` of a request in its proto3 JSON form, answered as the wire's JSON
    /// (`{"results": [...], "total_count": N}`; documents without MongoDB's `_id`).
    pub async fn list_json(&self, request: &serde_json::Value) -> Result<serde_json::Value> {
        let request = ListRequest::from_json(self.service, request)?;
        Ok(crate::render::list_response(&self.list(&request).await?))
    }

    /// [`Self::list_json`] answered as the JSON body's bytes, written straight from the
    /// listed documents' BSON (no tree of JSON values in between).
    pub async fn list_json_body(&self, request: &serde_json::Value) -> Result<Vec<u8>> {
        let request = ListRequest::from_json(self.service, request)?;
        Ok(crate::render::list_body(&self.list(&request).await?))
    }

    /// `stat` of a request in its proto3 JSON form, answered as the response Struct's JSON.
    pub async fn stat_json(&self, request: &serde_json::Value) -> Result<serde_json::Value> {
        let request = StatRequest::from_json(request)?;
        Ok(crate::render::stat_response(&self.stat(&request).await?))
    }

    /// `stat` within the default deadline, without a token.
    pub async fn stat(&self, request: &StatRequest) -> Result<StatOutput> {
        self.stat_within(request, &self.deadline(None), None).await
    }

    /// `stat`: admit, authenticate `token` (scoping the request to the caller), pre-process,
    /// check the budget, compile, query the store.
    pub async fn stat_within(
        &self,
        request: &StatRequest,
        deadline: &Deadline,
        token: Option<&str>,
    ) -> Result<StatOutput> {
        let _permit = self.admit()?;
        let (plan, _domain) = self.stat_plan(request, deadline, token).await?;
        self.store
            .stat(self.service.collection(), &plan, deadline)
            .await
    }

    /// The plan of a `stat`: authenticate `token` (scoping the request to the caller),
    /// pre-process, check the budget, compile (on the request pool when it builds patterns).
    async fn stat_plan(
        &self,
        request: &StatRequest,
        deadline: &Deadline,
        token: Option<&str>,
    ) -> Result<(StatPlan, DomainPermit)> {
        let call = CallInfo {
            service: self.service,
            verb: "stat",
            token,
            domain_id: &request.domain_id,
            project_id: None,
        };
        let mut request = Cow::Borrowed(request);
        if let Some(caller) = self.authenticate(&call, deadline).await? {
            caller.scope_stat(request.to_mut());
        }
        let permit = self.admit_domain(&request.domain_id, deadline)?;
        if let Some(raw) = &request.query {
            self.limits.check_stat(raw, self.clock.now())?;
        }
        let query = prepare_stat(self.service, &request)?;
        let options = compile::Options {
            deadline: Some(deadline.clone()),
            ..self.limits.check_stat(&query, self.clock.now())?
        };
        let small = !compile::builds_patterns(&query.filter, &query.filter_or, &query.keyword);
        let plan = run_cpu_unless_small(deadline, small, move |_| {
            compile::stat_with(&query, &options)
        })
        .await?;
        Ok((plan, permit))
    }

    /// The validated plan of a `list` or `stat` request in its proto3 JSON form, as `token`'s
    /// caller would have it answered (scoped, pre-processed, within the budget).
    pub async fn plan_json(
        &self,
        method: Method,
        request: &serde_json::Value,
        deadline: &Deadline,
        token: Option<&str>,
    ) -> Result<Plan> {
        Ok(match method {
            Method::List => {
                let request = ListRequest::from_json(self.service, request)?;
                Plan::List(self.list_plan(&request, deadline, token).await?.0)
            }
            Method::Stat => {
                let request = StatRequest::from_json(request)?;
                Plan::Stat(self.stat_plan(&request, deadline, token).await?.0)
            }
        })
    }

    /// How a `list` or `stat` request in its proto3 JSON form would be answered, evaluating
    /// nothing: `{"service", "method", "plan", "store"}`, the validated plan
    /// ([`Plan::describe`]) and the store's own account of it ([`Store::explain`]).
    pub async fn explain_json(
        &self,
        method: Method,
        request: &serde_json::Value,
        deadline: &Deadline,
        token: Option<&str>,
    ) -> Result<serde_json::Value> {
        let _permit = self.admit()?;
        let plan = self.plan_json(method, request, deadline, token).await?;
        self.explain_plan(&plan, deadline).await
    }

    /// [`Self::explain_json`] of a plan already made (by [`Self::plan_json`]).
    pub async fn explain_plan(
        &self,
        plan: &Plan,
        deadline: &Deadline,
    ) -> Result<serde_json::Value> {
        let store = self
            .store
            .explain(self.service.collection(), plan, deadline)
            .await?;
        Ok(serde_json::json!({
            "service": self.service.name(),
            "method": plan.method().name(),
            "plan": plan.describe(),
            "store": store,
        }))
    }
}
