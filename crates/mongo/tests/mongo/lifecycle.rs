//! The lifecycle suite on MongoDB: single-document atomic updates (`$inc`, conditional
//! `findOneAndUpdate` on the expected status) keep concurrent finishes and cancels exact.

use crate::support;
use spacejobs_conformance::lifecycle::run_all;
use spacejobs_core::Service;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_on_mongodb() {
    let fresh = |name: &'static str| async move {
        let store = support::fresh_store(&format!("lifecycle_{name}")).await;
        // Both lifecycle collections get their unique public ids.
        store
            .ensure_indexes(Service::SpotAutomation)
            .await
            .expect("indexes");
        Arc::new(store)
    };
    run_all(fresh, 50).await;
}

#[tokio::test]
async fn what_the_lifecycle_writes_the_services_answer_on_mongodb() {
    let store = support::fresh_store("lifecycle_scenario").await;
    store
        .ensure_indexes(Service::Inventory)
        .await
        .expect("indexes");
    spacejobs_conformance::scenario::check(Arc::new(store), "lifecycle, mongodb").await;
}
