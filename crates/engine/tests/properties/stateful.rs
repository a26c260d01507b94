//! The stateful property: a collection changed by a random interleaving of inserts,
//! replaces, deletes, lifecycle writes (status, counts and errors changed in place) and
//! compactions answers every list and stat after each step exactly as the document engine
//! answers over the same documents kept plainly, so the value indexes, the sorted rows, the
//! interned strings and the packed blocks stay right through writes.

use super::*;
use bson::{doc, Bson, Document};
use spacejobs_core::write::Update;

/// One change to the collection and to its plain copy.
#[derive(Debug, Clone)]
enum Step {
    /// Appends a variant of a corpus document.
    Insert(Variant),
    /// Replaces the document at a position (taken modulo the length) by a variant.
    Replace(usize, Variant),
    /// Removes the documents at these positions (modulo the length).
    Delete(Vec<usize>),
    /// What the lifecycle writes: a status, a count added, an error appended.
    Lifecycle(usize, &'static str, i32, bool),
    /// Every part of the upkeep: bytes packed again, columns built again.
    Compact,
}

/// A corpus document with some fields given other values, of any type a column meets.
#[derive(Debug, Clone)]
struct Variant {
    base: usize,
    status: Option<Bson>,
    created_at: Option<Bson>,
    job_id: Option<Bson>,
    created_count: Option<Bson>,
}

impl Variant {
    fn document(&self, n: usize) -> Document {
        let pool = dataset();
        let mut doc = pool[self.base % pool.len()].clone();
        doc.remove("_id");
        // A public id of its own, so the interned strings keep growing as they would.
        doc.insert("job_task_id", format!("job-task-s{n:011x}"));
        for (field, value) in [
            ("status", &self.status),
            ("created_at", &self.created_at),
            ("job_id", &self.job_id),
            ("created_count", &self.created_count),
        ] {
            match value {
                Some(Bson::Undefined) => {
                    doc.remove(field);
                }
                Some(value) => {
                    doc.insert(field, value.clone());
                }
                None => {}
            }
        }
        doc
    }
}

fn cell_value() -> impl Strategy<Value = Option<Bson>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(Bson::Undefined)), // removed
        1 => Just(Some(Bson::Null)),
        2 => prop::sample::select(vec!["SUCCESS", "FAILURE", "job-a00000000001", "job-s1", "aws"])
            .prop_map(|s| Some(Bson::String(s.into()))),
        2 => (1_654_000_000_000i64..1_657_000_000_000).prop_map(|ms| Some(Bson::DateTime(bson::DateTime::from_millis(ms)))),
        1 => (-3i64..40).prop_map(|n| Some(Bson::Int64(n))),
        1 => (-3i32..40).prop_map(|n| Some(Bson::Int32(n))),
        1 => Just(Some(Bson::Array(vec![Bson::String("SUCCESS".into())]))),
    ]
}

fn variant() -> impl Strategy<Value = Variant> {
    (
        0usize..64,
        cell_value(),
        cell_value(),
        cell_value(),
        cell_value(),
    )
        .prop_map(
            |(base, status, created_at, job_id, created_count)| Variant {
                base,
                status,
                created_at,
                job_id,
                created_count,
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => variant().prop_map(Step::Insert),
        2 => (any::<usize>(), variant()).prop_map(|(i, v)| Step::Replace(i, v)),
        1 => prop::collection::vec(any::<usize>(), 1..4).prop_map(Step::Delete),
        3 => (
            any::<usize>(),
            prop::sample::select(vec!["PENDING", "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELED"]),
            0i32..5,
            any::<bool>()
        )
            .prop_map(|(i, status, by, error)| Step::Lifecycle(i, status, by, error)),
        1 => Just(Step::Compact),
    ]
}

/// A stat answer with every integer as an int64: the cells keep an integer's value, not
/// whether it was stored in 32 or 64 bits, and the answers show both alike (a number in a
/// `Struct`, an integer in JSON).
fn wide_integers(mut output: spacejobs_core::StatOutput) -> spacejobs_core::StatOutput {
    fn widen(value: &mut Bson) {
        match value {
            Bson::Int32(n) => *value = Bson::Int64(i64::from(*n)),
            Bson::Array(items) => items.iter_mut().for_each(widen),
            Bson::Document(doc) => doc.iter_mut().for_each(|(_, v)| widen(v)),
            _ => {}
        }
    }
    output.results.iter_mut().for_each(widen);
    output
}

/// Applies `step` to both; `n` numbers the inserted documents.
fn apply(step: &Step, collection: &mut eval::Collection, plain: &mut Vec<Document>, n: usize) {
    let at = |i: usize, len: usize| (len > 0).then(|| i % len);
    match step {
        Step::Insert(variant) => {
            let doc = variant.document(n);
            collection.push(&doc).expect("push");
            plain.push(doc);
        }
        Step::Replace(i, variant) => {
            if let Some(i) = at(*i, plain.len()) {
                let doc = variant.document(n);
                collection.replace(i, eval::collection::encode(&doc).expect("encode"));
                plain[i] = doc;
            }
        }
        Step::Delete(rows) => {
            let mut rows: Vec<usize> = rows.iter().filter_map(|&i| at(i, plain.len())).collect();
            rows.sort_unstable();
            rows.dedup();
            collection.remove(&rows);
            for &i in rows.iter().rev() {
                plain.remove(i);
            }
        }
        Step::Lifecycle(i, status, by, error) => {
            if let Some(i) = at(*i, plain.len()) {
                let mut update = Update::new()
                    .set("status", *status)
                    .inc("created_count", *by);
                if *error {
                    let error =
                        doc! {"error_code": "ERROR_STATEFUL", "message": "m", "additional": {}};
                    update = update.push("errors", vec![Bson::Document(error)]);
                }
                // A count of another type is not the lifecycle's to add to: leave the document.
                if let Ok(doc) = update.apply(plain[i].clone()) {
                    collection.replace(i, eval::collection::encode(&doc).expect("encode"));
                    plain[i] = doc;
                }
            }
        }
        Step::Compact => {
            let (installed, _) = collection.install(collection.compaction());
            assert!(installed, "a compaction built from the collection installs");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// After every step, lists and stats answer as the document engine over the plain copy.
    #[test]
    fn writes_keep_the_engine_answering_like_the_documents(
        start in 0usize..40,
        steps in prop::collection::vec(step(), 1..24),
        lists in prop::collection::vec(list_request(), 3),
        stats in prop::collection::vec(stat_request(), 2),
    ) {
        // Beside the random lists, pages that walk a date or integer column in order (the
        // sorted rows are made by the first, then kept through the writes).
        let walks = [
            json!({"domain_id": "domain-a", "query": {"sort": {"key": "created_at", "desc": true}, "page": {"limit": 3}}}),
            json!({"domain_id": "domain-a", "status": "SUCCESS", "query": {"sort": {"key": "created_at"}, "page": {"limit": 2}}}),
            json!({"domain_id": "domain-a", "query": {"sort": {"key": "created_count", "desc": true}, "page": {"start": 2, "limit": 2}}}),
        ];
        let lists: Vec<ListPlan> = lists.iter().chain(&walks).filter_map(list_plan).collect();
        let stats: Vec<_> = stats.iter().filter_map(stat_plan).collect();
        let mut plain: Vec<Document> = Vec::new();
        let mut collection = eval::Collection::new();
        // As the stores keep it: every value of `job_id` indexed.
        collection.index_every_value("job_id");
        for n in 0..start {
            apply(&Step::Insert(Variant { base: n, status: None, created_at: None, job_id: None, created_count: None }), &mut collection, &mut plain, n);
        }
        for (k, step) in steps.iter().enumerate() {
            apply(step, &mut collection, &mut plain, start + k);
            prop_assert_eq!(collection.len(), plain.len());
            for plan in &lists {
                let expected = eval::list(&plain, plan);
                prop_assert_eq!(&collection.list(plan, &Default::default()), &expected, "after step {} {:?}", k, step);
                for (row, doc) in plain.iter().enumerate() {
                    prop_assert_eq!(collection.row_matches(row, &plan.filter), eval::filter::matches(doc, &plan.filter), "row {} after step {} {:?}", row, k, step);
                }
            }
            for plan in &stats {
                let answer = collection.stat(plan, &Default::default()).map(wide_integers);
                let expected = eval::stat(&plain, plan).map(wide_integers);
                prop_assert_eq!(answer, expected, "after step {} {:?}", k, step);
            }
        }
    }
}
