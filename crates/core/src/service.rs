//! The service logic shared by all binaries: pre-process a request, compile it, ask the store.
//! Transport layers (gRPC, REST) convert messages to [`ListRequest`]/[`StatRequest`] and the
//! answers back, and nothing else.

use crate::error::Result;
use crate::eval::{ListOutput, StatOutput};
use crate::model::Service;
use crate::query::compile;
use crate::request::{prepare_list, prepare_stat, ListRequest, StatRequest};
use crate::store::Store;
use crate::time::{Clock, SystemClock};
use std::sync::Arc;

/// One service (`JobTask` or `Job`) over a store (which may be a `dyn Store`).
pub struct JobService<S: ?Sized> {
    service: Service,
    store: Arc<S>,
    clock: Arc<dyn Clock>,
}

impl<S: ?Sized> Clone for JobService<S> {
    fn clone(&self) -> Self {
        JobService {
            service: self.service,
            store: self.store.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<S: ?Sized> std::fmt::Debug for JobService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobService")
            .field("service", &self.service)
            .field("clock", &self.clock)
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
        JobService {
            service,
            store,
            clock,
        }
    }

    /// Which service this is.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// `list`: pre-process, validate, query the store.
    pub async fn list(&self, request: &ListRequest) -> Result<ListOutput> {
        let query = prepare_list(self.service, request)?;
        let plan = compile::list(&query, self.service.minimal_fields(), self.clock.now())?;
        self.store.list(self.service.collection(), &plan).await
    }

    /// `list` of a request in its proto3 JSON form, answered as the wire's JSON
    /// (`{"results": [...], "total_count": N}`; documents without MongoDB's `_id`).
    pub async fn list_json(&self, request: &serde_json::Value) -> Result<serde_json::Value> {
        let request = ListRequest::from_json(self.service, request)?;
        Ok(crate::render::list_response(&self.list(&request).await?))
    }

    /// `stat` of a request in its proto3 JSON form, answered as the response Struct's JSON.
    pub async fn stat_json(&self, request: &serde_json::Value) -> Result<serde_json::Value> {
        let request = StatRequest::from_json(request)?;
        Ok(crate::render::stat_response(&self.stat(&request).await?))
    }

    /// `stat`: pre-process, validate, query the store.
    pub async fn stat(&self, request: &StatRequest) -> Result<StatOutput> {
        let query = prepare_stat(self.service, request)?;
        let plan = compile::stat(&query, self.clock.now())?;
        self.store.stat(self.service.collection(), &plan).await
    }
}
