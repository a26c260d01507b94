//! Inserts keep their word on MongoDB: a batch whose last document repeats a stored public id
//! fails as `ERROR_NOT_UNIQUE` naming that id, and leaves none of its documents behind.

use crate::support;
use bson::doc;
use spacejobs_core::{Error, Query, Service, Store};
use spacejobs_query::compile;
use spacejobs_query::time::{Clock, SystemClock};

fn task(id: &str) -> bson::Document {
    doc! {"job_task_id": id, "status": "SUCCESS", "domain_id": "domain-w"}
}

#[tokio::test]
async fn a_failed_insert_leaves_nothing_behind_and_names_the_duplicate() {
    let store = support::fresh_store("writes").await;
    store
        .ensure_indexes(Service::Inventory)
        .await
        .expect("indexes");
    store
        .insert("job_task", vec![task("job-task-taken")])
        .await
        .expect("first");
    let mut batch: Vec<_> = (0..5).map(|i| task(&format!("job-task-new-{i}"))).collect();
    batch.push(task("job-task-taken"));
    let err = store
        .insert("job_task", batch)
        .await
        .expect_err("duplicate id");
    assert_eq!(
        err,
        Error::NotUnique {
            key: "job_task_id".into(),
            value: "job-task-taken".into()
        }
    );
    assert_eq!(err.code(), "ERROR_NOT_UNIQUE");
    let plan = compile::list(&Query::default(), &[], SystemClock.now()).expect("plan");
    let stored = store
        .list("job_task", &plan, &Default::default())
        .await
        .expect("list");
    assert_eq!(stored.total_count, 1, "none of the failed batch remains");
}
