//! In-memory evaluation of compiled plans over documents: pure functions, no I/O.
//! [`Collection`] adds column cells that let the common filters and groups scan flat arrays.

mod access;
mod answer;
pub mod cell;
pub mod cell_group;
pub mod collection;
pub mod column;
pub mod columns;
mod edges;
mod explain;
pub mod filter;
pub mod group;
pub mod list;
pub mod memo;
mod order;
pub mod packed;
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

pub use collection::Collection;
pub use filter::matches;
pub use list::{list, to_raw, ListOutput};
pub use stat::{stat, StatOutput};
