//! The cost fuzzer's bounded run on the in-memory engine (`spacejobs_conformance::cost`):
//! every dimension of `Query` and `StatisticsQuery` grown alone and, for a spread of pairs,
//! together, over 6,000 JobTasks; every request refused by the budget within 10 ms or
//! answered within its CPU and memory bounds, and no size dimension left unbounded. Its own
//! test binary: peak memory is read from a counting allocator, one request at a time.

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use spacejobs_conformance::cost::{self, Bounds, Config, Meter};
use spacejobs_core::{JobService, Service, Store};
use spacejobs_engine::MemoryStore;
use std::alloc::System;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const DOCUMENTS: usize = 6_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_dimension_of_a_request_goes_unbudgeted_on_the_engine() {
    let store = MemoryStore::new();
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
        meter: Meter {
            reset: || ALLOCATOR.reset_peak_memory(),
            peak: || ALLOCATOR.get_peak_memory(),
        },
        max_pairs: Some(30),
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
