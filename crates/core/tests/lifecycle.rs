//! The lifecycle suite on the in-memory store.

use spacejobs_conformance::lifecycle::run_all;
use spacejobs_core::MemoryStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_on_the_memory_store() {
    run_all(|_| async { Arc::new(MemoryStore::new()) }, 50).await;
}

#[tokio::test]
async fn what_the_lifecycle_writes_the_services_answer_on_the_memory_store() {
    spacejobs_conformance::scenario::check(Arc::new(MemoryStore::new()), "lifecycle, memory").await;
}

/// What a group commit relies on: each batch planned into a group sees the batches before
/// it (changes, removals, documents a change made match), nothing reaches memory until the
/// group is applied, and a batch that cannot apply leaves the group as it was.
#[tokio::test]
async fn batches_planned_into_one_group_see_the_ones_before_them() {
    use bson::doc;
    use spacejobs_core::query::plan::{Condition, Filter};
    use spacejobs_core::store::{Collections, Group};
    use spacejobs_core::write::{Update, Write, Written};
    use spacejobs_core::Deadline;

    let collections = Collections::new();
    collections
        .append(
            "job",
            vec![
                doc! {"job_id": "job-1", "status": "CREATED", "remained_tasks": 2},
                doc! {"job_id": "job-2", "status": "CREATED", "remained_tasks": 1},
                doc! {"job_id": "job-3", "status": "SUCCESS", "remained_tasks": 0},
            ],
        )
        .expect("append");
    let deadline = Deadline::default();
    let mut group = Group::new();
    let mut plan = |writes: Vec<Write>| {
        collections
            .plan_into(&mut group, writes, &deadline)
            .expect("plan")
    };
    let finish_one = |id: &str| {
        Write::update_one(
            "job",
            Filter::all([
                Condition::eq("job_id", id),
                Condition::gt("remained_tasks", 0),
            ]),
            Update::new().inc("remained_tasks", -1),
        )
    };
    // job-1: 2 → 1 → 0, then nothing left to finish (the third sees the first two).
    assert!(plan(vec![finish_one("job-1")]).is_some());
    assert!(plan(vec![finish_one("job-1")]).is_some());
    assert_eq!(plan(vec![finish_one("job-1")]), None);
    // job-3 became "open" in the group: a filter on the changed value finds it.
    let reopen = Write::update_one(
        "job",
        Filter::all([Condition::eq("job_id", "job-3")]),
        Update::new().set("status", "IN_PROGRESS"),
    );
    assert!(plan(vec![reopen]).is_some());
    let started = Write::update_many(
        "job",
        Filter::all([Condition::eq("status", "IN_PROGRESS")]),
        Update::new().set("seen", true),
    );
    assert_eq!(plan(vec![started]), Some(vec![Written::Many(1)]));
    // job-2 removed in the group: a later batch no longer finds it.
    let delete = Write::delete("job", Filter::all([Condition::eq("job_id", "job-2")]));
    assert_eq!(plan(vec![delete]), Some(vec![Written::Deleted(1)]));
    assert_eq!(plan(vec![finish_one("job-2")]), None);
    assert_eq!(group.batches(), 5);

    // Nothing applied yet.
    assert_eq!(
        rows(&collections).await,
        [
            ("job-1".to_string(), 2, false),
            ("job-2".to_string(), 1, false),
            ("job-3".to_string(), 0, false),
        ]
    );
    collections.apply_group(group);
    assert_eq!(
        rows(&collections).await,
        [
            ("job-1".to_string(), 0, false),
            ("job-3".to_string(), 0, true)
        ]
    );
}

/// `(job_id, remained_tasks, seen)` of every job, sorted.
async fn rows(collections: &spacejobs_core::store::Collections) -> Vec<(String, i32, bool)> {
    let all = spacejobs_core::query::plan::Filter::default();
    let deadline = spacejobs_core::Deadline::default();
    let mut out: Vec<(String, i32, bool)> = collections
        .find("job", &all, &deadline)
        .await
        .expect("find")
        .into_iter()
        .map(|d| {
            (
                d.get_str("job_id").unwrap_or("").to_string(),
                d.get_i32("remained_tasks").unwrap_or(-1),
                d.get_bool("seen").unwrap_or(false),
            )
        })
        .collect();
    out.sort();
    out
}
