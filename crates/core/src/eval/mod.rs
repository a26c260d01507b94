//! In-memory evaluation of compiled plans over documents: pure functions, no I/O.

pub mod filter;
pub mod group;
pub mod list;
pub mod stat;

pub use filter::matches;
pub use list::{list, ListOutput};
pub use stat::{stat, StatOutput};
