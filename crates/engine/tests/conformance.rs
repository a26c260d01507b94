//! Runs the whole shared conformance corpus through the service logic over [`MemoryStore`].

use spacejobs_conformance::{Corpus, Method, Outcome, Report};
use spacejobs_core::{JobService, Service, Store};
use spacejobs_engine::MemoryStore;
use spacejobs_query::time::{parse_iso, FixedClock};
use std::sync::Arc;

async fn load(corpus: &Corpus, service: Service) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let docs = corpus.documents(service.name());
    store
        .insert(service.collection(), docs)
        .await
        .expect("insert dataset");
    store
}

#[tokio::test]
async fn corpus_passes_on_the_memory_store() {
    let corpus = Corpus::load();
    let clock = Arc::new(FixedClock(parse_iso(&corpus.now).expect("corpus now")));
    let mut services = Vec::new();
    for service in Service::ALL {
        let store = load(&corpus, service).await;
        services.push(JobService::with_clock(service, store, clock.clone()));
    }
    let mut report = Report::new("memory");
    for case in &corpus.cases {
        let service = Service::from_name(&case.service).expect("known service");
        let svc = services
            .iter()
            .find(|s| s.service() == service)
            .expect("service");
        let result = match case.method {
            Method::List => svc.list_json(&case.request).await,
            Method::Stat => svc.stat_json(&case.request).await,
        };
        report.record(case, &Outcome::of(result));
    }
    assert!(
        corpus.cases.len() >= 150,
        "the corpus has {} cases",
        corpus.cases.len()
    );
    report.finish();
}
