//! The in-memory engine: evaluation of compiled query plans ([`spacejobs_query`]) over
//! documents kept in memory, and the stores built on it.
//!
//! - Pure evaluation over documents: [`list`](fn@list), [`stat`](fn@stat), [`matches`](fn@matches) (the reference every
//!   faster path is tested against).
//! - [`Collection`]: one collection's documents packed as BSON bytes ([`packed`]) beside
//!   column cells ([`columns`]), value indexes and sorted rows, so the common filters, sorts
//!   and groups scan flat arrays; how it answers is chosen as a value (`access`) that list,
//!   stat and explain all follow.
//! - [`Collections`]: a service's collections, with writes planned in groups ([`Group`]);
//!   [`MemoryStore`] is the [`spacejobs_core::Store`] over them, and the embedded store keeps
//!   the same collections in memory beside its file.
//!
//! The engine is a store: its errors are the [`spacejobs_core::Error`] the `Store` trait
//! answers with. Work runs under the request's [`spacejobs_exec::Deadline`], on its pool.
//!
//! ```
//! use bson::doc;
//! use spacejobs_query::{compile, time::{Clock, SystemClock}, Query};
//!
//! let docs = vec![
//!     doc! {"job_id": "job-000000000001", "status": "SUCCESS", "domain_id": "d1"},
//!     doc! {"job_id": "job-000000000002", "status": "ERROR", "domain_id": "d1"},
//! ];
//! let query: Query = serde_json::from_value(serde_json::json!({
//!     "filter": [{"k": "status", "v": "SUCCESS", "o": "eq"}]
//! })).unwrap();
//! let plan = compile::list(&query, &[], SystemClock.now()).unwrap();
//! let out = spacejobs_engine::list(&docs, &plan).unwrap();
//! assert_eq!(out.total_count, 1);
//! assert_eq!(out.parsed().unwrap()[0].get_str("job_id").unwrap(), "job-000000000001");
//! ```

mod access;
mod answer;
pub mod cell;
pub mod cell_group;
pub mod collection;
mod collections;
pub mod column;
pub mod columns;
mod edges;
mod explain;
pub mod filter;
pub mod group;
pub mod list;
pub mod memo;
mod memory;
mod order;
pub mod packed;
mod public_ids;
pub mod raw_unwind;
pub mod reads;
mod scan;
mod sorted;
pub mod stat;
pub mod stored;
pub mod strings;
mod text_search;
pub mod value_index;
pub mod walk;
mod write_group;

pub use collection::Collection;
pub use collections::Collections;
pub use filter::matches;
pub use list::list;
pub use memory::MemoryStore;
pub use stat::stat;
pub use write_group::{Changed, Group, Slot};
