//! Starting a service on a free port over the corpus dataset.

use serde_json::Value;
use spacejobs_conformance::Corpus;
use spacejobs_core::time::{parse_iso, FixedClock};
use spacejobs_core::{JobService, MemoryStore, Service, Store};
use std::net::SocketAddr;
use std::sync::Arc;

/// Serves `service` over the corpus dataset (clock at the corpus's "now") on a free port.
pub async fn start(corpus: &Corpus, service: Service) -> SocketAddr {
    let store = Arc::new(MemoryStore::new());
    let docs = corpus
        .dataset(service.name())
        .into_iter()
        .map(|v| match bson::Bson::try_from(v) {
            Ok(bson::Bson::Document(d)) => d,
            other => panic!("dataset document: {other:?}"),
        })
        .collect();
    store
        .insert(service.collection(), docs)
        .await
        .expect("insert");
    let clock = Arc::new(FixedClock(parse_iso(&corpus.now).expect("now")));
    let store: Arc<dyn Store> = store;
    let logic = Arc::new(JobService::with_clock(service, store, clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(spacejobs_server::run(
        listener,
        logic,
        std::future::pending(),
    ));
    addr
}

/// The corpus names the embedded document `controller`, as stored; the wire calls it
/// `controller_info`.
pub fn with_controller(mut response: Value) -> Value {
    if let Some(rows) = response["results"].as_array_mut() {
        for row in rows {
            if let Some(c) = row
                .as_object_mut()
                .and_then(|r| r.remove("controller_info"))
            {
                row["controller"] = c;
            }
        }
    }
    response
}
