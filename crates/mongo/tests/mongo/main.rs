//! MongoDB store tests, against the server at `MONGODB_URI` (scripts/test starts SecantusDB;
//! any real MongoDB works the same): the whole conformance corpus, documents written the way
//! the Python services write them, a differential property test against the in-memory
//! engine, and recovery after the server restarts.

mod cost;
mod differential;
mod explain;
mod lifecycle;
mod python_layout;
mod replica_set;
mod restart;
mod support;
mod writes;

use spacejobs_conformance::{Corpus, Method, Outcome, Report};
use spacejobs_core::{JobService, Service, Store};
use spacejobs_mongo::MongoStore;
use spacejobs_query::time::{parse_iso, FixedClock};
use std::sync::Arc;

async fn loaded(corpus: &Corpus, service: Service) -> Arc<MongoStore> {
    let store = support::fresh_store(service.name()).await;
    store.ensure_indexes(service).await.expect("indexes");
    // Start-up runs it every time: a second run must change nothing and not fail.
    store.ensure_indexes(service).await.expect("indexes again");
    store
        .insert(service.collection(), support::dataset(corpus, service))
        .await
        .expect("insert dataset");
    Arc::new(store)
}

#[tokio::test]
async fn corpus_passes_on_mongodb() {
    let corpus = Corpus::load();
    let clock = Arc::new(FixedClock(parse_iso(&corpus.now).expect("corpus now")));
    let mut services = Vec::new();
    for service in Service::ALL {
        services.push(JobService::with_clock(
            service,
            loaded(&corpus, service).await,
            clock.clone(),
        ));
    }
    let mut report = Report::new("mongodb");
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
    report.finish();
}
