//! The embedded store keeps what it acknowledged: across a clean reopen, and across a writer
//! killed with SIGKILL right after its insert returned; and the lifecycle suite on it,
//! including a writer killed in the middle of lifecycle writes.

mod lifecycle;

use bson::doc;
use spacejobs_core::{Query, Store};
use spacejobs_embedded::EmbeddedStore;
use spacejobs_query::compile;
use spacejobs_query::time::{Clock, SystemClock};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const WRITER_ENV: &str = "SPACEJOBS_EMBEDDED_WRITER_DIR";

async fn total(store: &EmbeddedStore) -> u64 {
    let plan = compile::list(&Query::default(), &[], SystemClock.now()).expect("plan");
    store
        .list("job", &plan, &Default::default())
        .await
        .expect("list")
        .total_count
}

/// A fresh directory under the system's temp dir, named for the test and process.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("spacejobs-embedded-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn a_large_collection_reopens_whole_and_a_corrupt_document_is_named() {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    let dir = temp_dir("large");
    let n = 40_000; // more than one chunk of the loader
    {
        let store = EmbeddedStore::open(&dir).expect("open");
        let docs = (0..n).map(|i| doc! {"job_id": format!("job-{i:012x}"), "n": i});
        store.insert("job", docs.collect()).await.expect("insert");
    }
    {
        let store = EmbeddedStore::open(&dir).expect("reopen");
        assert_eq!(total(&store).await, n as u64);
        let plan = compile::list(
            &serde_json::from_value(serde_json::json!({"page": {"start": 30001, "limit": 1}}))
                .expect("query"),
            &[],
            SystemClock.now(),
        )
        .expect("plan");
        let page = store
            .list("job", &plan, &Default::default())
            .await
            .expect("list");
        assert_eq!(page.documents[0].get_i32("n").ok(), Some(30_000));
    }
    // Bytes that are not a BSON document, written behind the store's back.
    let definition: TableDefinition<u64, &[u8]> = TableDefinition::new("job");
    let db = redb::Database::open(dir.join(spacejobs_embedded::DATABASE_FILE)).expect("file");
    let key = {
        let read = db.begin_read().expect("read");
        let table = read.open_table(definition).expect("table");
        let key = table
            .iter()
            .expect("iter")
            .nth(30_000)
            .expect("entry")
            .expect("entry")
            .0
            .value();
        key
    };
    let write = db.begin_write().expect("write");
    write
        .open_table(definition)
        .expect("table")
        .insert(key, &b"\x0c\x00\x00\x00\x02x\x00\xff\x00\x00\x00\x00"[..])
        .expect("insert");
    write.commit().expect("commit");
    drop(db);
    let Err(error) = EmbeddedStore::open(&dir) else {
        panic!("a corrupt document must refuse the open");
    };
    assert!(
        error
            .to_string()
            .contains(&format!("document {key} of job is corrupt")),
        "{error}"
    );
}

#[tokio::test]
async fn documents_survive_a_reopen_in_order() {
    let dir = temp_dir("reopen");
    {
        let store = EmbeddedStore::open(&dir).expect("open");
        store
            .insert("job", vec![doc! {"job_id": "job-000000000001", "n": 1}])
            .await
            .expect("insert");
        store
            .insert(
                "job",
                vec![
                    doc! {"job_id": "job-000000000002", "n": 2},
                    doc! {"job_id": "job-000000000003", "n": 3},
                ],
            )
            .await
            .expect("insert");
    }
    let store = EmbeddedStore::open(&dir).expect("reopen");
    assert_eq!(total(&store).await, 3);
    let plan = compile::list(
        &serde_json::from_value(serde_json::json!({"sort": {"key": "n"}})).expect("query"),
        &[],
        SystemClock.now(),
    )
    .expect("plan");
    let ids: Vec<String> = store
        .list("job", &plan, &Default::default())
        .await
        .expect("list")
        .documents
        .iter()
        .map(|d| d.get_str("job_id").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        ids,
        ["job-000000000001", "job-000000000002", "job-000000000003"]
    );
    // Inserting after a reopen continues the key sequence instead of overwriting.
    store
        .insert("job", vec![doc! {"job_id": "job-000000000004", "n": 4}])
        .await
        .expect("insert");
    drop(store);
    assert_eq!(total(&EmbeddedStore::open(&dir).expect("reopen")).await, 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_batch_into_an_emptied_collection_continues_the_keys() {
    use spacejobs_core::write::Update;
    use spacejobs_query::plan::{Condition, Filter};
    let dir = temp_dir("emptied");
    let deadline = Default::default();
    {
        let store = EmbeddedStore::open(&dir).expect("open");
        let batch = |from: i32| {
            (from..from + 3)
                .map(|i| doc! {"job_id": format!("job-{i:012}"), "n": i})
                .collect::<Vec<_>>()
        };
        store.insert("job", batch(0)).await.expect("insert");
        let everything = Filter::all([Condition::exists("job_id", true)]);
        assert_eq!(
            store
                .delete("job", &everything, &deadline)
                .await
                .expect("delete"),
            3
        );
        // Empty again: this batch is filled beside its write, keyed after the deleted ones.
        store.insert("job", batch(10)).await.expect("insert");
        let one = Filter::all([Condition::eq("job_id", "job-000000000011")]);
        let changed = store
            .update_one("job", &one, &Update::new().set("n", 111), &deadline)
            .await
            .expect("update");
        assert_eq!(changed.and_then(|d| d.get_i32("n").ok()), Some(111));
    }
    let store = EmbeddedStore::open(&dir).expect("reopen");
    let plan = compile::list(
        &serde_json::from_value(serde_json::json!({"sort": {"key": "n"}})).expect("query"),
        &[],
        SystemClock.now(),
    )
    .expect("plan");
    let ns: Vec<i32> = store
        .list("job", &plan, &Default::default())
        .await
        .expect("list")
        .documents
        .iter()
        .filter_map(|d| d.get_i32("n").ok())
        .collect();
    assert_eq!(
        ns,
        [10, 12, 111],
        "no deleted document came back, the update stayed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn raw_documents_are_checked_whole_and_given_an_id() {
    use bson::RawDocumentBuf;
    let dir = temp_dir("raw");
    let store = EmbeddedStore::open(&dir).expect("open");
    let plain =
        RawDocumentBuf::try_from(&doc! {"job_id": "job-000000000001", "n": 1}).expect("raw");
    let corrupt =
        RawDocumentBuf::from_bytes(b"\x0c\x00\x00\x00\x02x\x00\xff\x00\x00\x00\x00".to_vec())
            .expect("a header that looks right");
    let refused = store.insert_raw("job", vec![plain.clone(), corrupt]).await;
    assert!(refused.is_err(), "a malformed document is refused");
    assert_eq!(total(&store).await, 0, "and nothing of its batch is stored");
    store.insert_raw("job", vec![plain]).await.expect("insert");
    drop(store);
    let store = EmbeddedStore::open(&dir).expect("reopen");
    let plan = compile::list(&Query::default(), &[], SystemClock.now()).expect("plan");
    let listed = store
        .list("job", &plan, &Default::default())
        .await
        .expect("list");
    let doc = listed.parsed().expect("documents").pop().expect("one");
    assert_eq!(doc.keys().next().map(String::as_str), Some("_id"));
    assert!(doc.get_object_id("_id").is_ok());
    assert_eq!(doc.get_i32("n").ok(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child side of the kill test: insert, say so, then wait to be killed.
async fn writer(dir: &Path) {
    let store = EmbeddedStore::open(dir).expect("open");
    store
        .insert(
            "job",
            vec![
                doc! {"job_id": "job-00000000000a"},
                doc! {"job_id": "job-00000000000b"},
            ],
        )
        .await
        .expect("insert");
    println!("acknowledged");
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[tokio::test]
async fn an_acknowledged_insert_survives_kill_9() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        writer(Path::new(&dir)).await;
        return;
    }
    let dir = temp_dir("kill");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "an_acknowledged_insert_survives_kill_9",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("stdout");
    let acknowledged = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("acknowledged"));
    assert!(acknowledged, "the writer never acknowledged");
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix: no chance to flush anything
    let _ = child.wait();
    let store = EmbeddedStore::open(&dir).expect("reopen after the crash");
    assert_eq!(total(&store).await, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_public_id_is_unique_across_inserts_and_reopens() {
    let dir = temp_dir("unique");
    let task = |id: &str| doc! {"job_task_id": id, "status": "SUCCESS", "domain_id": "d"};
    {
        let store = EmbeddedStore::open(&dir).expect("open");
        store
            .insert("job_task", vec![task("job-task-1")])
            .await
            .expect("first");
        let err = store
            .insert("job_task", vec![task("job-task-2"), task("job-task-1")])
            .await
            .expect_err("taken");
        assert_eq!(
            err,
            spacejobs_core::Error::NotUnique {
                key: "job_task_id".into(),
                value: "job-task-1".into()
            }
        );
        let err = store
            .insert("job_task", vec![task("job-task-3"), task("job-task-3")])
            .await
            .expect_err("repeated in the batch");
        assert_eq!(err.code(), "ERROR_NOT_UNIQUE");
        assert_eq!(
            store.count("job_task").await,
            1,
            "nothing of the failed batches"
        );
    }
    let store = EmbeddedStore::open(&dir).expect("reopen");
    assert_eq!(store.count("job_task").await, 1, "nothing on disk either");
    store
        .insert("job_task", vec![task("job-task-1")])
        .await
        .expect_err("still taken after a reopen");
    store
        .insert("job_task", vec![task("job-task-2")])
        .await
        .expect("free");
    let _ = std::fs::remove_dir_all(&dir);
}
