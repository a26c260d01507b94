//! The lifecycle suite on the in-memory store.

use spacejobs_conformance::lifecycle::run_all;
use spacejobs_engine::MemoryStore;
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
    use spacejobs_core::write::{Update, Write, Written};
    use spacejobs_core::Deadline;
    use spacejobs_engine::{Collections, Group};
    use spacejobs_query::plan::{Condition, Filter};

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
            .plan_into(&mut group, &writes, &deadline)
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
async fn rows(collections: &spacejobs_engine::Collections) -> Vec<(String, i32, bool)> {
    let all = spacejobs_query::plan::Filter::default();
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

/// A store that keeps deleting what it inserted keeps its memory: the strings only removed
/// documents held are reclaimed (the columns built again), and what is left answers as
/// before: lookups by public id, uniqueness, filters.
#[tokio::test]
async fn strings_of_removed_documents_are_reclaimed() {
    use bson::doc;
    use spacejobs_core::write::Write;
    use spacejobs_core::Deadline;
    use spacejobs_engine::{Collections, Group};
    use spacejobs_query::plan::{Condition, Filter};

    let collections = Collections::new();
    let deadline = Deadline::default();
    let mut most_strings = 0;
    for round in 0..12 {
        let batch: Vec<_> = (0..20_000)
            .map(|i| doc! {"job_id": format!("job-{round}-{i}"), "round": round, "status": "CREATED"})
            .collect();
        collections.append("job", batch).expect("append");
        if round > 0 {
            // The round before goes, but for one document.
            let gone = Filter::all([
                Condition::eq("round", round - 1),
                Condition {
                    path: spacejobs_query::value::FieldPath::new("job_id"),
                    op: spacejobs_query::plan::Op::Ne(format!("job-{}-7", round - 1).into()),
                },
            ]);
            let mut group = Group::new();
            collections
                .plan_into(&mut group, &[Write::delete("job", gone)], &deadline)
                .expect("plan")
                .expect("a delete always applies");
            collections.apply_group(group);
        }
        let strings = collections.strings_of("job");
        most_strings = most_strings.max(strings);
    }
    // 240,000 ids were inserted; about 20,000 are alive at once.
    assert!(
        most_strings < 100_000,
        "interned strings reached {most_strings}"
    );
    let one = |id: &str| Filter::all([Condition::eq("job_id", id)]);
    for round in 0..11 {
        let found = collections
            .find("job", &one(&format!("job-{round}-7")), &deadline)
            .await
            .expect("find");
        assert_eq!(found.len(), 1, "the kept job of round {round}");
        let gone = collections
            .find("job", &one(&format!("job-{round}-8")), &deadline)
            .await
            .expect("find");
        assert!(gone.is_empty(), "a removed job of round {round}");
    }
    let again = vec![doc! {"job_id": "job-3-7"}];
    assert!(
        collections.check_unique("job", &again).is_err(),
        "a kept id stays taken"
    );
    let freed = vec![doc! {"job_id": "job-3-8"}];
    assert!(
        collections.check_unique("job", &freed).is_ok(),
        "a removed id is free"
    );
    assert_eq!(collections.count("job"), 20_000 + 11);
    // Every document rewritten three times: the bytes are packed again beside the live
    // blocks and swapped in; each document reads back as last written.
    for pass in 0..3 {
        let mut group = Group::new();
        let all = Write::update_many(
            "job",
            Filter::default(),
            spacejobs_core::write::Update::new().set("pass", pass),
        );
        collections
            .plan_into(&mut group, &[all], &deadline)
            .expect("plan")
            .expect("update");
        collections.apply_group(group);
    }
    let every = collections
        .find("job", &Filter::default(), &deadline)
        .await
        .expect("find");
    assert_eq!(every.len(), 20_011);
    assert!(every.iter().all(|d| d.get_i32("pass").ok() == Some(2)));
}
