//! Core of the SpaceONE Job/JobTask replacement: the `Query`/`StatisticsQuery` model and its
//! validation, the in-memory evaluation of both, the JobTask/Job models, the storage trait
//! (with an in-memory store), the service logic every binary shares, and the write side: the
//! job and task [`lifecycle`] over any store.
//!
//! Nothing here knows about gRPC or MongoDB. The flow of a request is:
//! [`request`] (pre-processing) → [`query::compile`] (validation into a plan) →
//! a [`Store`] (which may evaluate the plan with [`eval`]) → [`render`] (wire JSON).
//!
//! ```
//! use spacejobs_core::{query::compile, eval, time::SystemClock, time::Clock};
//! use bson::doc;
//!
//! let docs = vec![
//!     doc! {"job_id": "job-000000000001", "status": "SUCCESS", "domain_id": "d1"},
//!     doc! {"job_id": "job-000000000002", "status": "ERROR", "domain_id": "d1"},
//! ];
//! let query: spacejobs_core::Query = serde_json::from_value(serde_json::json!({
//!     "filter": [{"k": "status", "v": "SUCCESS", "o": "eq"}]
//! })).unwrap();
//! let plan = compile::list(&query, &[], SystemClock.now()).unwrap();
//! let out = eval::list(&docs, &plan).unwrap();
//! assert_eq!(out.total_count, 1);
//! assert_eq!(out.documents[0].get_str("job_id").unwrap(), "job-000000000001");
//! ```

pub mod auth;
pub mod error;
pub mod eval;
pub mod exec;
pub mod export;
pub mod lifecycle;
pub mod limits;
pub mod model;
pub mod query;
pub mod render;
pub mod request;
pub mod service;
pub mod store;
pub mod time;
pub mod value;
pub mod write;

pub use auth::{Authenticator, Caller, NoAuth};
pub use error::{Error, ErrorClass, Result};
pub use exec::Deadline;
pub use limits::Limits;
pub use model::Service;
pub use query::{Query, StatisticsQuery};
pub use request::{ListRequest, StatRequest};
pub use service::JobService;
pub use store::{MemoryStore, Store};
