//! MongoDB storage for spacejobs: [`MongoStore`] implements the core [`Store`] trait by
//! translating compiled plans into MongoDB `find` filters and aggregation pipelines, so the
//! server does the query work and answers exactly like the in-memory engine.
//!
//! The layout is SpaceONE's (`models.md`): a database per service, collections `job_task`
//! and `job`, ObjectId `_id`, BSON dates, statuses as enum names. The translations only use
//! features on which MongoDB and the SecantusDB test server agree (see [`expr`]).
//!
//! [`Store`]: spacejobs_core::Store

pub mod commands;
pub mod connection;
pub mod error;
pub mod expr;
pub mod filter;
pub mod pipeline;
pub mod store;
pub mod transaction;

pub use connection::{ConnectionOverrides, ReadPreferenceName};
pub use error::{Error, Result};
pub use store::{MongoConfig, MongoStore};
