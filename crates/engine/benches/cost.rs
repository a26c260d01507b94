//! The cost fuzzer's long run (not a test): `cargo bench -p spacejobs-engine --bench cost`.
//!
//! Every dimension of `Query` and `StatisticsQuery` grown alone through every doubling size
//! a message holds, then every pair of them together at their largest answered sizes, over
//! `COST_DOCUMENTS` (6000) JobTasks on the in-memory engine, in an optimised build. Prints
//! the table: each dimension, the largest size answered, the limit that refused the next,
//! and the worst CPU time and peak memory seen at that edge; then any finding (and exits
//! non-zero when there is one).

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use spacejobs_conformance::cost::{self, Bounds, Config, Meter};
use spacejobs_core::{JobService, Service, Store};
use spacejobs_engine::MemoryStore;
use std::alloc::System;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench` asks benches to list themselves.
    }
    let documents: usize = std::env::var("COST_DOCUMENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6_000);
    let store = MemoryStore::new();
    store
        .insert("job_task", cost::documents(documents, "domain-0"))
        .await
        .expect("insert");
    let service: JobService<dyn Store> =
        JobService::new(Service::Inventory, Arc::new(store) as Arc<dyn Store>);
    let config = Config {
        documents,
        domain: "domain-0".into(),
        bounds: Bounds::for_this_build(),
        meter: Meter {
            reset: || ALLOCATOR.reset_peak_memory(),
            peak: || ALLOCATOR.get_peak_memory(),
        },
        max_pairs: None,
        max_size: None,
        exhaustive: true,
    };
    let started = std::time::Instant::now();
    let report = cost::run(&service, &config).await;
    println!("{}", report.table());
    println!(
        "{} requests over {documents} JobTasks in {:.0} s; bounds: CPU {} µs a document + {} µs a \
         document and unit, memory {} MiB + {} B a document + {} B a document and unit",
        report.requests,
        started.elapsed().as_secs_f64(),
        config.bounds.cpu_per_document.as_micros(),
        config.bounds.cpu_per_document_unit.as_micros(),
        config.bounds.memory_fixed >> 20,
        config.bounds.memory_per_document,
        config.bounds.memory_per_document_unit,
    );
    if !report.findings.is_empty() {
        println!(
            "{} findings:\n{}",
            report.findings.len(),
            report.findings.join("\n")
        );
        std::process::exit(1);
    }
    println!("no findings");
}
