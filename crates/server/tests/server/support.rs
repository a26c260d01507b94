//! Starting a service on a free port over the corpus dataset: on the embedded store, or on
//! the MongoDB at `MONGODB_URI`.

use serde_json::Value;
use spacejobs_conformance::Corpus;
use spacejobs_core::{JobService, Limits, Service, Store};
use spacejobs_query::time::{parse_iso, FixedClock};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn dataset(corpus: &Corpus, service: Service) -> Vec<bson::Document> {
    corpus.documents(service.name())
}

/// Serves `service` over the corpus dataset (clock at the corpus's "now") on a free port,
/// on the binaries' default store: the embedded one, in a fresh data directory.
pub async fn start(corpus: &Corpus, service: Service) -> SocketAddr {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        std::env::temp_dir().join(format!("spacejobs-server-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store =
        Arc::new(spacejobs_embedded::EmbeddedStore::open(&dir).expect("open the embedded store"));
    store
        .insert(service.collection(), dataset(corpus, service))
        .await
        .expect("insert");
    serve(corpus, service, store).await
}

/// The same on a fresh database of the MongoDB at `MONGODB_URI`.
pub async fn start_on_mongodb(corpus: &Corpus, service: Service) -> SocketAddr {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let store = mongo_store(service, &format!("server_{}_{n}", service.name())).await;
    store
        .insert(service.collection(), dataset(corpus, service))
        .await
        .expect("insert");
    serve(corpus, service, Arc::new(store)).await
}

async fn serve(corpus: &Corpus, service: Service, store: Arc<dyn Store>) -> SocketAddr {
    let clock = Arc::new(FixedClock(parse_iso(&corpus.now).expect("now")));
    listen_on_free_port(JobService::with_clock(service, store, clock)).await
}

/// Serves `logic` on a free port.
pub async fn listen_on_free_port(logic: JobService<dyn Store>) -> SocketAddr {
    let logic = Arc::new(logic);
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

/// `n` generated JobTasks in `domain` (statuses, providers and days vary; ids unique across
/// domains), for load.
pub fn generated(n: usize, domain: &str) -> Vec<bson::Document> {
    let statuses = ["SUCCESS", "FAILURE", "IN_PROGRESS", "PENDING", "CANCELED"];
    let providers = ["aws", "google_cloud", "azure"];
    (0..n)
        .map(|i| {
            bson::doc! {
                "job_task_id": format!("job-task-{domain}-{i:06x}"),
                "job_id": format!("job-{:012x}", i / 16),
                "status": statuses[i % statuses.len()],
                "provider": providers[i % providers.len()],
                "project_id": format!("project-{}", i % 7),
                "domain_id": domain,
                "created_count": i64::try_from(i % 11).unwrap_or(0),
                "created_at": bson::DateTime::from_millis(1_700_000_000_000 + (i as i64) * 61_000),
            }
        })
        .collect()
}

/// Serves `service` over `store` with `limits` on a free port.
pub async fn serve_with(service: Service, store: Arc<dyn Store>, limits: Limits) -> SocketAddr {
    listen_on_free_port(JobService::new(service, store).with_limits(limits)).await
}

/// A fresh database of the MongoDB at `MONGODB_URI`, for `service`, with its indexes.
pub async fn mongo_store(service: Service, label: &str) -> spacejobs_mongo::MongoStore {
    let uri =
        std::env::var("MONGODB_URI").expect("MONGODB_URI is not set: run `bash scripts/test`");
    let mut config = spacejobs_mongo::MongoConfig::new(uri, service);
    config.database = format!("spacejobs_{label}_{}", std::process::id());
    let store = spacejobs_mongo::MongoStore::connect(&config)
        .await
        .expect("connect");
    store.database().drop().await.expect("drop");
    store.ensure_indexes(service).await.expect("indexes");
    store
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
