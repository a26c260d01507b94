//! The database file's layout, shared by the store and its committer: one redb table per
//! collection, keyed by insertion sequence, each value a document's BSON bytes.

use redb::TableDefinition;

/// A document's BSON bytes.
pub(crate) type Encoded = Box<[u8]>;

/// The table of a collection.
pub(crate) fn table(name: &str) -> TableDefinition<'_, u64, &'static [u8]> {
    TableDefinition::new(name)
}

/// A storage failure (redb, the file) as the core's error.
pub(crate) fn storage(e: impl std::fmt::Display) -> spacejobs_core::Error {
    spacejobs_core::Error::Internal(format!("embedded store: {e}"))
}
