//! The SpaceONE query language: the raw serde types of `Query` and `StatisticsQuery`
//! ([`model`]), their validation ([`compile`]) into the plans every backend evaluates
//! ([`plan`]), what a plan asks for in words ([`explain`]), and the values, paths and times
//! plans are made of ([`value`], [`time`], [`json`]).
//!
//! Both the in-memory engine and the MongoDB store answer these plans; nothing here knows
//! about either, nor about gRPC.
//!
//! ```
//! use spacejobs_query::{compile, time::{Clock, SystemClock}, Query};
//!
//! let query: Query = serde_json::from_value(serde_json::json!({
//!     "filter": [{"k": "status", "v": "SUCCESS", "o": "eq"}],
//!     "page": {"limit": 10}
//! })).unwrap();
//! let plan = compile::list(&query, &[], SystemClock.now()).unwrap();
//! assert_eq!(plan.slice.limit, Some(10));
//! assert!(compile::list(
//!     &serde_json::from_value(serde_json::json!({"filter": [{"k": "a", "v": 1, "o": "nope"}]})).unwrap(),
//!     &[],
//!     SystemClock.now(),
//! ).is_err());
//! ```

pub mod compile;
pub mod error;
pub mod explain;
pub mod json;
pub mod model;
mod pattern_cache;
pub mod plan;
pub mod time;
pub mod value;

pub use error::{Error, Result};
pub use explain::{Method, Plan};
pub use model::{Query, StatisticsQuery};
pub use plan::{ListPlan, StatPlan};
