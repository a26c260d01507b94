//! Property tests: random queries never panic, never error in unexpected ways, and never see a
//! document of another domain; the engine answers as the document engine, also through
//! random writes ([`stateful`]).

use proptest::prelude::*;
use serde_json::{json, Value};
use spacejobs_conformance::Corpus;
use spacejobs_core::request::{prepare_list, prepare_stat};
use spacejobs_core::{ListRequest, Service, StatRequest};
use spacejobs_engine as eval;
use spacejobs_query::time::parse_iso;
use spacejobs_query::{compile, ListPlan};
use std::sync::OnceLock;

#[path = "properties/stateful.rs"]
mod stateful;

const KEYS: &[&str] = &[
    "status",
    "provider",
    "created_count",
    "failure_count",
    "errors",
    "errors.error_code",
    "errors.0.error_code",
    "errors.additional.region",
    "filter.region",
    "domain_id",
    "job_task_id",
    "job_id",
    "created_at",
    "finished_at",
    "project_id",
    "secret_id",
    "nothing",
    "a.b.c",
];
/// Every filter operator, and one that does not exist.
fn operators() -> Vec<&'static str> {
    let mut all = compile::FILTER_OPERATORS.to_vec();
    all.push("bogus");
    all
}
const DOMAINS: &[&str] = &["domain-a", "domain-b", "domain-c"];

fn collection() -> &'static eval::Collection {
    static COLLECTION: OnceLock<eval::Collection> = OnceLock::new();
    COLLECTION.get_or_init(|| {
        eval::Collection::from_documents(dataset().iter().cloned()).expect("documents")
    })
}

/// The dataset repeated past 40 k rows, so scans take their parallel, multi-block path.
fn large_dataset() -> &'static Vec<bson::Document> {
    static DOCS: OnceLock<Vec<bson::Document>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let copies = 40_000 / dataset().len().max(1) + 1;
        (0..copies)
            .flat_map(|_| dataset().iter().cloned())
            .collect()
    })
}

fn large_collection() -> &'static eval::Collection {
    static COLLECTION: OnceLock<eval::Collection> = OnceLock::new();
    COLLECTION.get_or_init(|| {
        eval::Collection::from_documents(large_dataset().iter().cloned()).expect("documents")
    })
}

fn dataset() -> &'static Vec<bson::Document> {
    static DOCS: OnceLock<Vec<bson::Document>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let corpus = Corpus::load();
        Service::ALL
            .iter()
            .flat_map(|s| corpus.documents(s.name()))
            .collect()
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..30).prop_map(|n| json!(n)),
        (-5.0f64..30.0).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "SUCCESS",
            "aws",
            "domain-a",
            "domain-b",
            "ERROR_AUTH",
            "a",
            "",
            "(",
            "[a-z]+",
            ".*",
            "2022-06-15T00:00:00Z",
            "2022-06-15",
            "now-3d",
            "now/w+1h",
            "job-task-a00000000001",
        ])
        .prop_map(|s| json!(s)),
        "[a-zA-Z0-9 .*+?()\\[\\]^$|-]{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        2 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
        1 => (prop::sample::select(KEYS), scalar()).prop_map(|(k, v)| json!({ k: v })),
    ]
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "SUCCESS",
            "aws",
            "domain-a",
            "domain-b",
            "ERROR_AUTH",
            "a",
            "",
            "0000",
            "^job",
            "[a-z]+$"
        ])
        .prop_map(|s| json!(s)),
        "[a-zA-Z0-9 .*+?()\\[\\]^$|-]{0,8}".prop_map(Value::String),
    ]
}

/// A condition whose value mostly fits its operator (so most queries get evaluated), and
/// sometimes any operator with any value.
fn condition() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(KEYS);
    let pick = |ops: &'static [&'static str]| prop::sample::select(ops);
    let typed = prop_oneof![
        (
            pick(&["eq", "not", "lt", "lte", "gt", "gte"]),
            scalar().boxed()
        ),
        (
            pick(&["exists"]),
            any::<bool>().prop_map(Value::Bool).boxed()
        ),
        (pick(&["contain", "not_contain", "regex"]), text().boxed()),
        (
            pick(&["in", "not_in"]),
            prop::collection::vec(scalar(), 0..4)
                .prop_map(Value::Array)
                .boxed()
        ),
        (
            pick(&["contain_in", "not_contain_in", "regex_in"]),
            prop::collection::vec(text(), 0..3)
                .prop_map(Value::Array)
                .boxed()
        ),
        (
            pick(&["match"]),
            (prop::sample::select(KEYS), scalar())
                .prop_map(|(k, v)| json!({ k: v }))
                .boxed()
        ),
        (
            pick(&["datetime_gt", "datetime_lte"]),
            prop::sample::select(vec![
                "2022-06-15T00:00:00Z",
                "2022-06-01",
                "2022-06-28T09:00:00.000+09:00"
            ])
            .prop_map(|s| json!(s))
            .boxed()
        ),
        (
            pick(&["timediff_lt", "timediff_gte"]),
            prop::sample::select(vec!["now", "now-3d", "now/w+1h", "now/m-2w", "now/d"])
                .prop_map(|s| json!(s))
                .boxed()
        ),
    ];
    prop_oneof![
        9 => (key.clone(), typed).prop_map(|(k, (o, v))| json!({"k": k, "o": o, "v": v})),
        1 => (key, prop::sample::select(operators()), value()).prop_map(|(k, o, v)| json!({"k": k, "o": o, "v": v})),
    ]
}

fn list_request() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(condition(), 0..3),
        prop::collection::vec(condition(), 0..3),
        (prop::option::of(prop::sample::select(KEYS)), any::<bool>(), 0u32..12, 0u32..6),
        (any::<bool>(), any::<bool>(), prop::collection::vec(prop::sample::select(KEYS), 0..3)),
        (prop::option::of("[a0-9 ]{0,8}"), any::<bool>(), prop::sample::select(DOMAINS)),
    )
        .prop_map(|(filter, filter_or, (sort_key, desc, start, limit), (minimal, count_only, only), (keyword, unwind, domain))| {
            let mut query = json!({
                "filter": filter, "filter_or": filter_or,
                "page": {"start": start, "limit": limit}, "minimal": minimal, "count_only": count_only,
                "only": only, "keyword": keyword,
            });
            // Without a sort, the page is in insertion order.
            if let Some(key) = sort_key {
                query["sort"] = json!({"key": key, "desc": desc});
            }
            if unwind {
                query["unwind"] = json!({"path": "errors", "filter": [{"k": "errors.error_code", "v": "ERROR_AUTH", "o": "not"}]});
            }
            json!({"domain_id": domain, "query": query})
        })
}

fn stage() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(KEYS);
    let group_op = prop::sample::select(vec![
        "count",
        "sum",
        "average",
        "max",
        "min",
        "first",
        "last",
        "push",
        "add_to_set",
        "merge_objects",
    ]);
    let project_op = prop::sample::select(vec![
        "",
        "size",
        "sum",
        "array_to_object",
        "object_to_array",
        "concat",
    ]);
    let date_format = prop::sample::select(vec![
        "",
        "year",
        "month",
        "day",
        "%Y-%m-%d",
        "%H:%M:%S.%L",
        "%H",
        "%d",
    ]);
    prop_oneof![
        key.clone().prop_map(|k| json!({"unwind": {"path": k}})),
        (key.clone(), key.clone(), group_op, date_format, prop::option::of(condition())).prop_map(|(k, f, op, df, cond)| {
            let mut field = json!({"key": f, "name": "v", "operator": op});
            if let Some(c) = cond {
                field["conditions"] = json!([{"key": c["k"], "value": c["v"], "operator": "gt"}]);
            }
            json!({"group": {"keys": [{"key": k, "name": "k", "date_format": df}], "fields": [field]}})
        }),
        Just(json!({"count": {"name": "n"}})),
        (prop::sample::select(vec!["k", "v", "n", "status", "created_at"]), any::<bool>())
            .prop_map(|(k, d)| json!({"sort": {"key": k, "desc": d}})),
        (prop::sample::select(vec!["k", "v", "errors", "filter", "$k|-|$v", "status"]), project_op, any::<bool>())
            .prop_map(|(k, op, ex)| json!({"project": {"fields": [{"key": k, "name": "p", "operator": op}], "exclude_keys": ex}})),
        (1i32..4).prop_map(|n| json!({"limit": n})),
        (0i32..4).prop_map(|n| json!({"skip": n})),
    ]
}

fn stat_request() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(condition(), 0..3),
        prop::collection::vec(condition(), 0..2),
        prop::collection::vec(stage(), 0..5),
        prop::option::of(prop::sample::select(KEYS)),
        (0u32..4, 0u32..4, prop::sample::select(DOMAINS)),
    )
        .prop_map(|(filter, filter_or, aggregate, distinct, (start, limit, domain))| {
            json!({"domain_id": domain, "query": {
                "filter": filter, "filter_or": filter_or, "aggregate": aggregate, "distinct": distinct,
                "page": {"start": start, "limit": limit},
            }})
        })
}

fn now() -> chrono::DateTime<chrono::Utc> {
    parse_iso("2022-07-01T12:00:00Z").expect("valid")
}

/// The plan of a generated stat request, when it is one the service accepts.
fn stat_plan(request: &Value) -> Option<spacejobs_query::StatPlan> {
    let parsed = StatRequest::from_json(request).ok()?;
    let query = prepare_stat(Service::Inventory, &parsed).ok()?;
    compile::stat(&query, now()).ok()
}

/// The plan of a generated list request, when it is one the service accepts.
fn list_plan(request: &Value) -> Option<ListPlan> {
    let parsed = ListRequest::from_json(Service::Inventory, request).ok()?;
    let query = prepare_list(Service::Inventory, &parsed).ok()?;
    compile::list(&query, Service::Inventory.minimal_fields(), now()).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every list result belongs to the requested domain, whatever the filters say.
    #[test]
    fn list_never_leaves_the_domain(request in list_request()) {
        let domain = request["domain_id"].as_str().unwrap_or_default().to_string();
        let Some(mut plan) = list_plan(&request) else { return Ok(()) };
        // Keep domain_id in projected results so the property can be checked on them.
        if let Some(fields) = plan.projection.as_mut() {
            fields.push(spacejobs_query::value::FieldPath::new("domain_id"));
        }
        let out = eval::list(dataset(), &plan).expect("the documents list");
        // The column-accelerated collection answers exactly like the document engine.
        prop_assert_eq!(&collection().list(&plan, &Default::default()), &Ok(out.clone()));
        prop_assert!(out.documents.len() as u64 <= out.total_count);
        for doc in &out.documents {
            prop_assert_eq!(doc.get_str("domain_id").ok(), Some(domain.as_str()), "{:?}", doc);
        }
    }

    /// Stat never panics, and its matched documents stay in the domain.
    #[test]
    fn stat_never_panics_or_leaves_the_domain(request in stat_request()) {
        let domain = request["domain_id"].as_str().unwrap_or_default().to_string();
        let Ok(parsed) = StatRequest::from_json(&request) else { return Ok(()) };
        let Ok(query) = prepare_stat(Service::SpotAutomation, &parsed) else { return Ok(()) };
        let Ok(mut plan) = compile::stat(&query, now()) else { return Ok(()) };
        let plain = eval::stat(dataset(), &plan);
        prop_assert_eq!(collection().stat(&plan, &Default::default()), plain);
        plan.kind = compile::stat(&serde_json::from_value(json!({"distinct": "domain_id"})).expect("query"), now())
            .expect("plan")
            .kind;
        plan.page = None;
        let domains = eval::stat(dataset(), &plan).expect("distinct");
        prop_assert!(domains.results.iter().all(|d| d.as_str() == Some(domain.as_str())), "{:?}", domains.results);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Over a collection large enough to be scanned in parallel blocks, the columns still
    /// answer exactly like the document engine.
    #[test]
    fn large_collections_answer_like_the_document_engine(request in list_request()) {
        let Some(plan) = list_plan(&request) else { return Ok(()) };
        let out = eval::list(large_dataset(), &plan).expect("the documents list");
        prop_assert_eq!(&large_collection().list(&plan, &Default::default()), &Ok(out));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// A document judged alone from its cells (how a write finds the one document a public
    /// id names) is judged as the document engine judges it.
    #[test]
    fn one_row_is_judged_like_the_document_engine(request in list_request()) {
        let Some(plan) = list_plan(&request) else { return Ok(()) };
        for (row, doc) in dataset().iter().enumerate() {
            prop_assert_eq!(
                collection().row_matches(row, &plan.filter),
                eval::filter::matches(doc, &plan.filter),
                "row {}", row
            );
        }
    }
}
