//! The import path against serde_json and bson's extended JSON reader, on generated lines
//! (escapes, unicode, odd numbers, nesting, keys given twice, bytes that are not UTF-8): a
//! file is either refused naming its first bad line, with nothing stored, or every line is
//! stored exactly as the reference reads it, and the store answers list and stat of the
//! domain after it, on the memory store and on the embedded store (also reopened).

use bson::{Bson, Document};
use proptest::prelude::*;
use serde_json::Value;
use spacejobs_cli::import::import_file;
use spacejobs_core::store::public_id_field;
use spacejobs_core::{JobService, Service, Store};
use spacejobs_engine::MemoryStore;
use std::sync::Arc;

/// A generated JSON value as text, and whether it gives some object a key twice.
#[derive(Debug, Clone)]
struct Json {
    text: String,
    repeats_a_key: bool,
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string")
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<bool>().prop_map(|b| b.to_string()),
        Just("null".to_string()),
        any::<i32>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just("-0".to_string()),
        Just("0.5".to_string()),
        Just("-1.25e-7".to_string()),
        Just("1e300".to_string()),
        Just("1.0".to_string()),
        "[a-zA-Z0-9 ]{0,12}".prop_map(|s| quoted(&s)),
        Just(r#""tab\tquote\"back\\slash\u00e9\ud83d\ude00""#.to_string()),
        Just(r#""line\nbreak \u0001""#.to_string()),
        "\\PC{0,6}".prop_map(|s| quoted(&s)),
    ]
}

/// A key: plain, unicode, dotted, escaped, or `$`-led (never first in its object).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}",
        Just("é".to_string()),
        Just("a.b".to_string()),
        Just("sp ace".to_string()),
        Just("$later".to_string()),
        Just("quo\"te".to_string()),
    ]
}

fn value() -> impl Strategy<Value = Json> {
    let leaf = scalar().prop_map(|text| Json {
        text,
        repeats_a_key: false,
    });
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| Json {
                repeats_a_key: items.iter().any(|i| i.repeats_a_key),
                text: format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|i| i.text.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            }),
            (prop::collection::vec((key(), inner), 1..4), any::<bool>())
                .prop_map(|(fields, repeat)| object(&fields, repeat, "k0")),
        ]
    })
}

/// An object of `fields` (the first key made plain), repeating its first key when `repeat`.
fn object(fields: &[(String, Json)], repeat: bool, first: &str) -> Json {
    let mut keys: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    let mut repeats = false;
    for (i, (k, v)) in fields.iter().enumerate() {
        let k = if i == 0 { first.to_string() } else { k.clone() };
        repeats |= keys.contains(&k) || v.repeats_a_key;
        parts.push(format!("{}:{}", quoted(&k), v.text));
        keys.push(k);
    }
    if repeat {
        parts.push(format!("{}:1", quoted(first)));
        repeats = true;
    }
    Json {
        text: format!("{{{}}}", parts.join(",")),
        repeats_a_key: repeats,
    }
}

/// A JobTask line: its required fields, then generated ones (`x_`-prefixed, never a field the
/// import reads), maybe one given twice.
fn line(n: usize) -> impl Strategy<Value = Json> {
    (
        prop::collection::vec((key(), value()), 0..5),
        prop::sample::select(vec!["PENDING", "SUCCESS", "FAILURE"]),
        prop::bool::weighted(0.1),
    )
        .prop_map(move |(extra, status, repeat)| {
            let mut fields = vec![
                (
                    "job_task_id".to_string(),
                    Json {
                        text: quoted(&format!("job-task-{n:012x}")),
                        repeats_a_key: false,
                    },
                ),
                (
                    "domain_id".to_string(),
                    Json {
                        text: quoted("domain-p"),
                        repeats_a_key: false,
                    },
                ),
                (
                    "status".to_string(),
                    Json {
                        text: quoted(status),
                        repeats_a_key: false,
                    },
                ),
                (
                    "created_at".to_string(),
                    Json {
                        text: quoted("2024-05-01T10:00:00.123Z"),
                        repeats_a_key: false,
                    },
                ),
            ];
            fields.extend(extra.into_iter().map(|(k, v)| (format!("x_{k}"), v)));
            object(&fields, repeat, "job_task_id")
        })
}

/// What the reference makes of an accepted line: serde_json, then bson's extended JSON
/// reader, the date field read as the import reads ISO 8601 dates.
fn reference(line: &str) -> Document {
    let value: Value = serde_json::from_str(line).expect("the reference reads it");
    let Ok(Bson::Document(mut doc)) = Bson::try_from(value) else {
        panic!("the reference reads an object: {line}");
    };
    let at = spacejobs_query::time::parse_iso("2024-05-01T10:00:00.123Z").expect("date");
    doc.insert("created_at", bson::DateTime::from_chrono(at));
    doc
}

async fn stores(dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn Store>)> {
    let embedded = spacejobs_embedded::EmbeddedStore::open(dir).expect("open");
    vec![
        ("memory", Arc::new(MemoryStore::new()) as Arc<dyn Store>),
        ("embedded", Arc::new(embedded) as Arc<dyn Store>),
    ]
}

async fn stored(store: &dyn Store) -> Vec<Document> {
    let filter = spacejobs_query::plan::Filter::default();
    let mut docs = store
        .find("job_task", &filter, &Default::default())
        .await
        .expect("read back");
    for doc in &mut docs {
        doc.remove("_id");
    }
    docs
}

async fn answers_its_domain(store: Arc<dyn Store>) {
    let service = JobService::new(Service::Inventory, store);
    let list = serde_json::json!({"domain_id": "domain-p", "query": {"page": {"limit": 1000}}});
    service.list_json(&list).await.expect("list answers");
    let stat = serde_json::json!({"domain_id": "domain-p", "query": {"aggregate": [
        {"group": {"keys": [{"key": "status", "name": "s"}], "fields": [{"operator": "count", "name": "n"}]}}]}});
    service.stat_json(&stat).await.expect("stat answers");
}

async fn check(lines: Vec<Json>, not_utf8_at: Option<usize>) {
    let dir = std::env::temp_dir().join(format!(
        "spacejobs-import-lines-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut bytes: Vec<u8> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if not_utf8_at == Some(i) {
            bytes.extend_from_slice(b"{\"job_task_id\": \"\xff\xfe\"}\n");
        }
        bytes.extend_from_slice(line.text.as_bytes());
        bytes.push(b'\n');
    }
    let file = dir.join("lines.jsonl");
    std::fs::write(&file, &bytes).expect("write");
    let first_bad = lines.iter().position(|l| l.repeats_a_key);
    let expected_error_line = match (not_utf8_at, first_bad) {
        (Some(at), _) => Some(at + 1),
        (None, Some(at)) => Some(at + 1),
        (None, None) => None,
    };
    for (name, store) in stores(&dir.join("db")).await {
        let outcome = import_file(Service::Inventory, store.as_ref(), &file).await;
        match expected_error_line {
            Some(line) => {
                let err = outcome
                    .expect_err("a bad line refuses the file")
                    .to_string();
                assert!(err.starts_with(&format!("line {line}:")), "{name}: {err}");
                assert!(
                    stored(store.as_ref()).await.is_empty(),
                    "{name}: nothing stored"
                );
            }
            None => {
                outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
                let expected: Vec<Document> = lines.iter().map(|l| reference(&l.text)).collect();
                let mut got = stored(store.as_ref()).await;
                let id = public_id_field("job_task").expect("id field");
                got.sort_by(|a, b| a.get_str(id).unwrap_or("").cmp(b.get_str(id).unwrap_or("")));
                assert_eq!(
                    got, expected,
                    "{name}: stored as the reference reads the lines"
                );
                answers_its_domain(store).await;
            }
        }
    }
    // The embedded store reopened reads what it kept.
    if expected_error_line.is_none() {
        let reopened: Arc<dyn Store> =
            Arc::new(spacejobs_embedded::EmbeddedStore::open(&dir.join("db")).expect("reopen"));
        assert_eq!(
            stored(reopened.as_ref()).await.len(),
            lines.len(),
            "reopened"
        );
        answers_its_domain(reopened).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_file_is_refused_at_its_first_bad_line_or_stored_as_the_reference_reads_it(
        lines in (1usize..6).prop_flat_map(|n| (0..n).map(line).collect::<Vec<_>>()),
        not_utf8 in prop::option::weighted(0.1, 0usize..6),
    ) {
        let not_utf8_at = not_utf8.filter(|at| *at < lines.len());
        tokio::runtime::Runtime::new().expect("runtime").block_on(check(lines, not_utf8_at));
    }
}

/// An import cut short is resumed with `--skip-existing`: the documents already stored are
/// skipped, the rest imported; without it the same file is refused naming the first stored
/// id's line, and nothing is added.
#[tokio::test]
async fn skip_existing_resumes_an_import_cut_short() {
    let dir = std::env::temp_dir().join(format!("spacejobs-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let line =
        |i: usize| format!("{{\"job_task_id\": \"job-task-{i:012}\", \"domain_id\": \"d\"}}\n");
    let (first, whole) = (dir.join("first.jsonl"), dir.join("whole.jsonl"));
    std::fs::write(&first, (0..3).map(line).collect::<String>()).expect("write");
    std::fs::write(&whole, (0..5).map(line).collect::<String>()).expect("write");
    let store = MemoryStore::new();
    let imported =
        spacejobs_cli::import::import_file_with(Service::Inventory, &store, &first, false)
            .await
            .expect("the first part");
    assert_eq!(imported, (3, 0));
    let err = import_file(Service::Inventory, &store, &whole)
        .await
        .expect_err("ids already stored");
    assert!(err.to_string().contains("line 1"), "{err}");
    let resumed = spacejobs_cli::import::import_file_with(Service::Inventory, &store, &whole, true)
        .await
        .expect("resumed");
    assert_eq!(resumed, (2, 3), "two imported, three skipped");
    let stored = store
        .find("job_task", &Default::default(), &Default::default())
        .await
        .expect("find");
    assert_eq!(stored.len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}
