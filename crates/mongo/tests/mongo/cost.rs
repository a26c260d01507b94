//! The cost fuzzer against the MongoDB store: every dimension of `Query` and
//! `StatisticsQuery` grown past its limit is refused by the same budget before anything
//! reaches the server (within 10 ms), and requests at the limits are answered by the server
//! within their bounds. (Peak memory is measured by the engine's run, `core/tests/cost.rs`;
//! here the time is the test server's, so the run is smaller.)

use crate::support::fresh_store;
use spacejobs_conformance::cost::{self, Bounds, Config, Meter};
use spacejobs_core::{JobService, Service, Store};
use std::sync::Arc;

const DOCUMENTS: usize = 600;

#[tokio::test]
async fn no_dimension_of_a_request_reaches_the_server_unbudgeted() {
    let store = fresh_store("cost").await;
    store
        .ensure_indexes(Service::Inventory)
        .await
        .expect("indexes");
    store
        .insert("job_task", cost::documents(DOCUMENTS, "domain-0"))
        .await
        .expect("insert");
    let service: JobService<dyn Store> =
        JobService::new(Service::Inventory, Arc::new(store) as Arc<dyn Store>);
    let config = Config {
        documents: DOCUMENTS,
        domain: "domain-0".into(),
        bounds: Bounds::for_this_build(),
        meter: Meter::none(),
        max_pairs: Some(5),
        max_size: None,
        exhaustive: false,
    };
    let report = cost::run(&service, &config).await;
    println!("{}", report.table());
    println!("{} requests", report.requests);
    assert!(
        report.findings.is_empty(),
        "{} findings:\n{}",
        report.findings.len(),
        report.findings.join("\n")
    );
}
