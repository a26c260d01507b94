//! Core of the SpaceONE Job/JobTask replacement: the JobTask/Job models, request scoping,
//! the storage trait ([`Store`]) and the answers it gives, the service logic every binary
//! shares ([`JobService`]), and the write side: the job and task [`lifecycle`] over any store.
//!
//! Nothing here knows about gRPC, MongoDB or how documents are kept in memory. The flow of a
//! request is: [`request`] (pre-processing) → [`spacejobs_query::compile`] (validation into a
//! plan) → a [`Store`] (the in-memory engine of spacejobs-engine, the embedded store, or
//! MongoDB) → [`render`] (wire JSON). CPU-heavy work runs under a [`Deadline`] on the request
//! pool of spacejobs-exec.

pub mod auth;
pub mod error;
pub mod export;
pub mod lifecycle;
pub mod limits;
pub mod model;
pub mod render;
pub mod request;
pub mod service;
pub mod store;
pub mod write;

pub use auth::{Authenticator, Caller, NoAuth};
pub use error::{Error, ErrorClass, Result};
pub use limits::Limits;
pub use model::Service;
pub use request::{ListRequest, StatRequest};
pub use service::JobService;
pub use spacejobs_exec::Deadline;
pub use spacejobs_query::{Query, StatisticsQuery};
pub use store::{ListOutput, StatOutput, Store};
