//! On a replica set (a SecantusDB single-node set of the test's own) the store uses
//! transactions: an import of 10,000 documents is seen whole or not at all by a reader while
//! it runs, a failed one leaves nothing, one killed halfway leaves nothing; the lifecycle
//! suite passes (concurrent finishes of one job conflict and are run again), and a cancel
//! racing the last finish never leaves a finished task under the canceled job. The suite on a standalone server (`MONGODB_URI` in scripts/test) shows the
//! behaviour without transactions.

use crate::support::OwnServer;
use bson::doc;
use spacejobs_conformance::lifecycle::{
    cancel_races_finish, concurrent_finishes, delete_removes_job_and_tasks,
    illegal_transitions_change_nothing, outcomes_and_accumulation, timeout_sweep,
};
use spacejobs_core::{Error, Service, Store};
use spacejobs_mongo::transaction::MOST_IN_TRANSACTION;
use spacejobs_mongo::{MongoConfig, MongoStore};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const KILLED_IMPORT_ENV: &str = "SPACEJOBS_KILLED_IMPORT_URI";

async fn store_on(uri: &str, database: &str) -> MongoStore {
    let config = MongoConfig {
        uri: uri.to_string(),
        database: database.to_string(),
        timeout: Duration::from_secs(30),
        overrides: Default::default(),
    };
    let store = MongoStore::connect(&config).await.expect("connect");
    store
        .ensure_indexes(Service::SpotAutomation)
        .await
        .expect("indexes");
    store
}

fn uri_of(server: &OwnServer) -> String {
    format!("mongodb://127.0.0.1:{}/?directConnection=true", server.port)
}

fn tasks(prefix: &str, n: usize) -> Vec<bson::Document> {
    (0..n)
        .map(|i| doc! {"job_task_id": format!("{prefix}-{i}"), "status": "SUCCESS", "domain_id": "domain-rs"})
        .collect()
}

async fn count(store: &MongoStore) -> u64 {
    store
        .database()
        .collection::<bson::Document>("job_task")
        .count_documents(doc! {})
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_replica_set_imports_and_lifecycle_batches_are_transactions() {
    if let Ok(uri) = std::env::var(KILLED_IMPORT_ENV) {
        // The child side of the killed import.
        let store = store_on(&uri, "spacejobs_rs_killed").await;
        println!("inserting");
        store
            .insert("job_task", tasks("killed", MOST_IN_TRANSACTION))
            .await
            .expect("insert");
        println!("import done");
        return;
    }
    let server = OwnServer::start_replica_set();
    let uri = uri_of(&server);
    let store = Arc::new(store_on(&uri, "spacejobs_rs").await);
    assert!(
        store.has_transactions().await,
        "a replica set has transactions"
    );
    assert!(store.batches_are_atomic().await);

    // An import of 10,000: a reader meanwhile sees none or all of it.
    let (reader_store, stop) = (
        store.clone(),
        Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
    let stop_reader = stop.clone();
    let reader = tokio::spawn(async move {
        let mut seen = std::collections::BTreeSet::new();
        while !stop_reader.load(std::sync::atomic::Ordering::Relaxed) {
            seen.insert(count(&reader_store).await);
        }
        seen
    });
    store
        .insert("job_task", tasks("whole", MOST_IN_TRANSACTION))
        .await
        .expect("import");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = reader.await.expect("reader");
    println!("counts a reader saw during the import: {seen:?}");
    assert!(
        seen.iter()
            .all(|&n| n == 0 || n == MOST_IN_TRANSACTION as u64),
        "a reader saw part of the import: {seen:?}"
    );

    // A failed import (its last document repeats a stored id) leaves nothing.
    let mut failing = tasks("failing", MOST_IN_TRANSACTION - 1);
    failing.push(doc! {"job_task_id": "whole-0", "domain_id": "domain-rs"});
    let err = store
        .insert("job_task", failing)
        .await
        .expect_err("duplicate");
    assert!(matches!(err, Error::NotUnique { .. }), "{err:?}");
    assert_eq!(count(&store).await, MOST_IN_TRANSACTION as u64);

    // An import killed halfway leaves nothing.
    let killed = store_on(&uri, "spacejobs_rs_killed").await;
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "replica_set::on_a_replica_set_imports_and_lifecycle_batches_are_transactions",
            "--exact",
            "--nocapture",
        ])
        .env(KILLED_IMPORT_ENV, &uri)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the importer");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.contains("inserting") {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let done = lines
        .map_while(Result::ok)
        .any(|l| l.contains("import done"));
    let left = count(&killed).await;
    println!("killed import: {left} documents left (it had answered: {done})");
    assert!(
        left == 0 || (done && left == MOST_IN_TRANSACTION as u64),
        "a killed import left {left} documents"
    );

    // The lifecycle suite, with batches that are transactions (fewer rounds than on the
    // standalone server: every write on this server's replica set costs tens of ms).
    outcomes_and_accumulation(store.clone()).await;
    illegal_transitions_change_nothing(store.clone()).await;
    timeout_sweep(store.clone()).await;
    delete_removes_job_and_tasks(store.clone()).await;
    cancel_races_finish(store.clone(), 10).await;
    // Finishes of one job's tasks at once conflict in their transactions: each is run again.
    concurrent_finishes(store.clone(), 2, 8).await;
}
