//! The lifecycle suite on the in-memory store.

use spacejobs_conformance::lifecycle::run_all;
use spacejobs_core::MemoryStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_on_the_memory_store() {
    run_all(|_| async { Arc::new(MemoryStore::new()) }, 50).await;
}

#[tokio::test]
async fn what_the_lifecycle_writes_the_services_answer_on_the_memory_store() {
    spacejobs_conformance::scenario::check(Arc::new(MemoryStore::new()), "lifecycle, memory").await;
}
