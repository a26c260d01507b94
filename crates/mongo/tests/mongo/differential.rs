//! Differential property test: random valid queries over the corpus dataset get the same
//! answer from MongoDB as from the in-memory engine. The seed is printed at the start; set
//! `SPACEJOBS_SEED` to replay a run.

use crate::support::{dataset, fresh_store};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use spacejobs_conformance::{json_equal, Corpus};
use spacejobs_core::{render, JobService, ListRequest, Service, StatRequest, Store};
use spacejobs_engine::MemoryStore;
use spacejobs_mongo::MongoStore;
use spacejobs_query::time::{parse_iso, FixedClock};
use std::sync::Arc;

const KEYS: &[&str] = &[
    "status",
    "provider",
    "created_count",
    "failure_count",
    "errors.error_code",
    "job_id",
    "created_at",
    "finished_at",
    "project_id",
    "secret_id",
    "job_task_id",
    "errors.message",
];
const WORDS: &[&str] = &[
    "SUCCESS",
    "FAILURE",
    "aws",
    "azure",
    "google_cloud",
    "project-1",
    "project-3",
    "ERROR_AUTH",
    "ERROR_TIMEOUT",
    "secret-2",
    "job-a00000000002",
    "a",
    "00001",
    "timed out",
];
const PATTERNS: &[&str] = &[
    "^job-a",
    "cloud$",
    "ERROR_(AUTH|QUOTA)",
    "[0-9]{2}",
    "^a",
    "e",
];

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1i64..25).prop_map(|n| json!(n)),
        (-1.0f64..25.0).prop_map(|n| json!((n * 4.0).round() / 4.0)),
        prop::sample::select(WORDS).prop_map(|s| json!(s)),
    ]
    .boxed()
}

fn word() -> BoxedStrategy<Value> {
    prop::sample::select(WORDS).prop_map(|s| json!(s)).boxed()
}

fn condition() -> impl Strategy<Value = Value> {
    fn pick<T: Clone + std::fmt::Debug + 'static>(
        items: impl Into<Vec<T>>,
    ) -> prop::sample::Select<T> {
        prop::sample::select(items.into())
    }
    let typed = prop_oneof![
        (pick(vec!["eq", "not", "lt", "lte", "gt", "gte"]), scalar()),
        (
            pick(vec!["exists"]),
            any::<bool>().prop_map(Value::Bool).boxed()
        ),
        (pick(vec!["contain", "not_contain"]), word()),
        (
            pick(vec!["regex"]),
            pick(PATTERNS.to_vec()).prop_map(|s| json!(s)).boxed()
        ),
        (
            pick(vec!["in", "not_in"]),
            prop::collection::vec(scalar(), 0..3)
                .prop_map(Value::Array)
                .boxed()
        ),
        (
            pick(vec!["contain_in", "not_contain_in"]),
            prop::collection::vec(word(), 0..3)
                .prop_map(Value::Array)
                .boxed()
        ),
        (
            pick(vec!["regex_in"]),
            prop::collection::vec(pick(PATTERNS.to_vec()).prop_map(|s| json!(s)), 1..3)
                .prop_map(Value::Array)
                .boxed()
        ),
        (
            pick(vec!["datetime_gt", "datetime_lte"]),
            pick(vec![
                "2022-06-15T00:00:00Z",
                "2022-06-01T10:00:00.500Z",
                "2022-06-28"
            ])
            .prop_map(|s| json!(s))
            .boxed()
        ),
        (
            pick(vec!["timediff_lt", "timediff_gte"]),
            pick(vec!["now-3d", "now/w", "now/m-2w", "now/d-30d"])
                .prop_map(|s| json!(s))
                .boxed()
        ),
    ];
    let matching = (
        pick(vec!["ERROR_AUTH", "ERROR_TIMEOUT", "x"]),
        pick(vec!["error_code", "message"]),
    )
        .prop_map(|(v, k)| json!({"k": "errors", "o": "match", "v": {k: v}}));
    prop_oneof![
        9 => (pick(KEYS.to_vec()), typed).prop_map(|(k, (o, v))| json!({"k": k, "o": o, "v": v})),
        1 => matching,
    ]
}

fn list_request() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(condition(), 0..3),
        prop::collection::vec(condition(), 0..2),
        (prop::sample::select(KEYS), any::<bool>(), 0u32..8, 0u32..5),
        (0u8..4, prop::collection::vec(prop::sample::select(KEYS), 1..3), any::<bool>()),
        (prop::option::of(prop::sample::select(vec!["0000", "a0000000000 00009", "b000"])), prop::sample::select(vec!["domain-a", "domain-b"])),
    )
        .prop_map(|(filter, filter_or, (sort, desc, start, limit), (shape, only, count_only), (keyword, domain))| {
            let mut query = json!({"filter": filter, "filter_or": filter_or, "sort": {"key": sort, "desc": desc},
                "page": {"start": start, "limit": limit}, "count_only": count_only, "keyword": keyword});
            match shape {
                1 => query["minimal"] = json!(true),
                2 => query["only"] = json!(only),
                3 => {
                    query["only"] = json!(["job_task_id"]);
                    query["unwind"] = json!({"path": "errors"});
                }
                _ => {}
            }
            json!({"domain_id": domain, "query": query})
        })
}

fn stat_request() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "status",
        "provider",
        "project_id",
        "secret_id",
        "job_id",
        "created_at",
    ]);
    let field = prop::sample::select(vec![
        json!({"operator": "count", "name": "f"}),
        json!({"operator": "count", "name": "f", "conditions": [{"key": "status", "value": "SUCCESS", "operator": "eq"}]}),
        json!({"operator": "sum", "key": "created_count", "name": "f"}),
        json!({"operator": "sum", "key": "failure_count", "name": "f", "conditions": [{"key": "created_count", "value": 2, "operator": "gte"}]}),
        json!({"operator": "average", "key": "created_count", "name": "f"}),
        json!({"operator": "max", "key": "created_at", "name": "f"}),
        json!({"operator": "min", "key": "errors.error_code", "name": "f"}),
    ]);
    let date_format =
        prop::sample::select(vec![None, Some("year"), Some("month"), Some("%Y-%m-%d")]);
    let aggregate = prop_oneof![
        (key, field, date_format, any::<bool>(), 0i32..3).prop_map(|(k, f, df, desc, skip)| {
            let mut group_key = json!({"key": k, "name": "k"});
            if let (Some(df), "created_at") = (df, k) {
                group_key["date_format"] = json!(df);
            }
            json!([{"group": {"keys": [group_key], "fields": [f]}}, {"sort": {"key": "k", "desc": desc}}, {"skip": skip}])
        }),
        Just(json!([{"unwind": {"path": "errors"}}, {"group": {"keys": [{"key": "errors.error_code", "name": "k"}], "fields": [{"operator": "count", "name": "n"}]}}])),
        Just(json!([{"count": {"name": "n"}}])),
    ];
    let kind = prop_oneof![
        aggregate.prop_map(|a| json!({"aggregate": a})),
        prop::sample::select(KEYS).prop_map(|d| json!({"distinct": d})),
    ];
    (
        prop::collection::vec(condition(), 0..3),
        kind,
        0u32..3,
        prop::sample::select(vec!["domain-a", "domain-b"]),
    )
        .prop_map(|(filter, mut query, limit, domain)| {
            query["filter"] = json!(filter);
            query["page"] = json!({"limit": limit});
            json!({"domain_id": domain, "query": query})
        })
}

/// Both backends' answer to one request, as JSON or as `error <code>`.
async fn answers(
    memory: &JobService<MemoryStore>,
    mongo: &JobService<MongoStore>,
    list: bool,
    request: &Value,
) -> (Value, Value) {
    let as_json = |r: spacejobs_core::Result<Value>| {
        r.unwrap_or_else(|e| json!(format!("error {}", e.code())))
    };
    if list {
        let Ok(parsed) = ListRequest::from_json(Service::Inventory, request) else {
            return (json!(null), json!(null));
        };
        let m = as_json(
            memory
                .list(&parsed)
                .await
                .map(|o| render::list_response(&o)),
        );
        let g = as_json(mongo.list(&parsed).await.map(|o| render::list_response(&o)));
        (m, g)
    } else {
        let Ok(parsed) = StatRequest::from_json(request) else {
            return (json!(null), json!(null));
        };
        let m = as_json(
            memory
                .stat(&parsed)
                .await
                .map(|o| render::stat_response(&o)),
        );
        let g = as_json(mongo.stat(&parsed).await.map(|o| render::stat_response(&o)));
        (m, g)
    }
}

/// Equal answers; stat rows may come in any order when the pipeline leaves it open.
fn same(list: bool, a: &Value, b: &Value) -> bool {
    if list || !a.is_object() || !b.is_object() {
        return json_equal(a, b);
    }
    let rows = |v: &Value| v["results"].as_array().cloned().unwrap_or_default();
    let (mut left, right) = (rows(a), rows(b));
    a.get("total_count") == b.get("total_count")
        && left.len() == right.len()
        && right
            .iter()
            .all(|r| match left.iter().position(|l| json_equal(l, r)) {
                Some(i) => {
                    left.remove(i);
                    true
                }
                None => false,
            })
}

#[test]
fn mongodb_answers_like_the_memory_engine() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let corpus = Corpus::load();
    let clock = Arc::new(FixedClock(parse_iso(&corpus.now).expect("corpus now")));
    let docs = dataset(&corpus, Service::Inventory);
    let (memory, mongo) = runtime.block_on(async {
        let memory = Arc::new(MemoryStore::new());
        memory
            .insert("job_task", docs.clone())
            .await
            .expect("insert");
        let mongo = fresh_store("differential").await;
        mongo.insert("job_task", docs).await.expect("insert");
        (
            JobService::with_clock(Service::Inventory, memory, clock.clone()),
            JobService::with_clock(Service::Inventory, Arc::new(mongo), clock.clone()),
        )
    });
    let seed: u64 = std::env::var("SPACEJOBS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand_seed);
    println!("differential test seed: {seed} (replay with SPACEJOBS_SEED={seed})");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    };
    for list in [true, false] {
        let mut runner = TestRunner::new_with_rng(
            config.clone(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
        );
        let strategy = if list {
            list_request().boxed()
        } else {
            stat_request().boxed()
        };
        let result = runner.run(&strategy, |request| {
            let (m, g) = runtime.block_on(answers(&memory, &mongo, list, &request));
            prop_assert!(
                same(list, &m, &g),
                "seed {seed}\nrequest {request}\nmemory  {m}\nmongodb {g}"
            );
            Ok(())
        });
        if let Err(e) = result {
            panic!(
                "{} differential failed (seed {seed}): {e}",
                if list { "list" } else { "stat" }
            );
        }
    }
    println!("differential: 600 cases, 600 passed, 0 failed");
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
}
