//! `export` then `import` keeps every document as it was, on every store: the embedded store's
//! documents exported (in three chunks), imported into MongoDB (the server at `MONGODB_URI`),
//! exported again, imported into the memory store and exported a third time give the same
//! lines; a domain's export holds that domain's documents only.

use bson::{doc, Bson, Document};
use spacejobs_cli::export::export_file;
use spacejobs_cli::import::import_file;
use spacejobs_core::{Service, Store};
use spacejobs_engine::MemoryStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "spacejobs-export-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// JobTasks of two domains with every type the layout uses: dates (and a null one), 32- and
/// 64-bit counts, errors with nested `additional`, strings with escapes and unicode.
fn documents() -> Vec<Document> {
    (0..2500)
        .map(|i: i64| {
            let at = bson::DateTime::from_millis(1_655_452_800_680 + i * 60_001);
            let status = ["SUCCESS", "FAILURE", "PENDING"][(i % 3) as usize];
            let errors = if i % 4 == 0 {
                vec![Bson::Document(
                    doc! {"error_code": "ERROR_X", "message": "quote \" é 😀\nline",
                    "additional": {"region": "us-east-1", "n": i, "f": 0.5}},
                )]
            } else {
                Vec::new()
            };
            doc! {
                "job_task_id": format!("job-task-{i:012x}"),
                "status": status,
                "created_count": (i % 7) as i32,
                "total_count": i64::MAX - i,
                "errors": errors,
                "job_id": format!("job-{:012x}", i / 10),
                "domain_id": if i % 5 == 0 { "domain-b" } else { "domain-a" },
                "created_at": at,
                "finished_at": if i % 2 == 0 { Bson::DateTime(at) } else { Bson::Null },
            }
        })
        .collect()
}

/// The file's lines, in `_id` order (MongoDB exports in that order; the others in insertion
/// order, the same here).
fn lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

async fn mongo(label: &str) -> Arc<dyn Store> {
    let uri = std::env::var("MONGODB_URI")
        .expect("MONGODB_URI is not set: run `bash scripts/test` (it starts a test server)");
    let mut config = spacejobs_mongo::MongoConfig::new(uri, Service::Inventory);
    config.database = format!("spacejobs_export_{label}_{}", std::process::id());
    let store = spacejobs_mongo::MongoStore::connect(&config)
        .await
        .expect("connect");
    store.database().drop().await.expect("drop");
    store
        .ensure_indexes(Service::Inventory)
        .await
        .expect("indexes");
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_keeps_every_document_on_every_store() {
    let dir = work_dir();
    let embedded: Arc<dyn Store> =
        Arc::new(spacejobs_embedded::EmbeddedStore::open(&dir.join("db")).expect("open"));
    embedded
        .insert("job_task", documents())
        .await
        .expect("insert");
    let from_embedded = dir.join("embedded.jsonl");
    let n = export_file(Service::Inventory, embedded.clone(), None, &from_embedded)
        .await
        .expect("export the embedded store");
    assert_eq!(n, 2500);

    let mongodb = mongo("roundtrip").await;
    import_file(Service::Inventory, mongodb.as_ref(), &from_embedded)
        .await
        .expect("import into MongoDB");
    let from_mongodb = dir.join("mongodb.jsonl");
    export_file(Service::Inventory, mongodb.clone(), None, &from_mongodb)
        .await
        .expect("export MongoDB");

    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    import_file(Service::Inventory, memory.as_ref(), &from_mongodb)
        .await
        .expect("import into memory");
    let from_memory = dir.join("memory.jsonl");
    export_file(Service::Inventory, memory, None, &from_memory)
        .await
        .expect("export memory");

    let first = lines(&from_embedded);
    assert_eq!(first.len(), 2500);
    assert!(
        first[0].contains(r#""total_count":{"$numberLong":"#),
        "{}",
        first[0]
    );
    assert_eq!(lines(&from_mongodb), first, "embedded → MongoDB");
    assert_eq!(lines(&from_memory), first, "MongoDB → memory");

    // One domain's export: its documents only, the same lines.
    for store in [embedded, mongodb] {
        let domain_b = dir.join("domain-b.jsonl");
        let n = export_file(Service::Inventory, store, Some("domain-b"), &domain_b)
            .await
            .expect("export one domain");
        assert_eq!(n, 500);
        let expected: Vec<String> = first
            .iter()
            .filter(|l| l.contains(r#""domain_id":"domain-b""#))
            .cloned()
            .collect();
        assert_eq!(lines(&domain_b), expected);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
