//! The query model: raw serde types ([`model`]), their validation ([`compile`]) and the
//! compiled plans every backend evaluates ([`plan`]).

pub mod compile;
pub mod explain;
pub mod model;
mod pattern_cache;
pub mod plan;

pub use explain::{Method, Plan};
pub use model::{Query, StatisticsQuery};
pub use plan::{ListPlan, StatPlan};
