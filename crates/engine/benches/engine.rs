//! Throughput of the in-memory engine over generated JobTask documents (100 k and 1 M):
//! a single-condition filter scan, list (filter + sort + page), group-by-count and
//! group-by-status with count and sum. Criterion prints the throughput in documents/s
//! ("elem/s"). The documents sit in a `Collection`, as in the stores. Run with `cargo bench -p spacejobs-engine --bench engine`.

use bson::{doc, Document};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::json;
use spacejobs_core::{Query, StatisticsQuery};
use spacejobs_engine as eval;
use spacejobs_query::compile;
use spacejobs_query::time::{Clock, SystemClock};
use std::hint::black_box;

const STATUSES: [&str; 5] = ["PENDING", "CANCELED", "IN_PROGRESS", "SUCCESS", "FAILURE"];
const PROVIDERS: [&str; 3] = ["aws", "google_cloud", "azure"];

fn job_tasks(n: usize) -> Vec<Document> {
    let start = 1_650_000_000_000i64;
    (0..n)
        .map(|i| {
            let created = bson::DateTime::from_millis(start + (i as i64 * 7_919) % 86_400_000_000);
            doc! {
                "_id": bson::oid::ObjectId::new(),
                "job_task_id": format!("job-task-{i:012x}"),
                "status": STATUSES[i % 5],
                "created_count": (i % 17) as i32,
                "updated_count": (i % 5) as i32,
                "failure_count": (i % 3) as i32,
                "deleted_count": 0,
                "disconnected_count": 0,
                "errors": [],
                "job_id": format!("job-{:012x}", i / 10),
                "secret_id": format!("secret-{}", i % 50),
                "provider": PROVIDERS[i % 3],
                "service_account_id": format!("sa-{}", i % 50),
                "project_id": format!("project-{}", i % 20),
                "domain_id": format!("domain-{}", i % 4),
                "created_at": created,
                "started_at": created,
                "finished_at": bson::Bson::Null,
            }
        })
        .collect()
}

fn list_plan(query: serde_json::Value) -> spacejobs_query::ListPlan {
    let query: Query = serde_json::from_value(query).expect("query");
    compile::list(&query, &[], SystemClock.now()).expect("plan")
}

fn stat_plan(query: serde_json::Value) -> spacejobs_query::StatPlan {
    let query: StatisticsQuery = serde_json::from_value(query).expect("query");
    compile::stat(&query, SystemClock.now()).expect("plan")
}

fn bench(c: &mut Criterion) {
    let scan = list_plan(
        json!({"filter": [{"k": "status", "v": "SUCCESS", "o": "eq"}], "count_only": true}),
    );
    let list = list_plan(json!({
        "filter": [{"k": "status", "v": "SUCCESS", "o": "eq"}],
        "sort": {"key": "created_at", "desc": true}, "page": {"start": 1, "limit": 100}
    }));
    let count = stat_plan(json!({"aggregate": [
        {"group": {"keys": [{"key": "status", "name": "status"}], "fields": [{"operator": "count", "name": "n"}]}}]}));
    let sum = stat_plan(json!({"aggregate": [
        {"group": {"keys": [{"key": "status", "name": "status"}], "fields": [
            {"operator": "count", "name": "n"}, {"operator": "sum", "key": "created_count", "name": "created"}]}}]}));
    let deadline = spacejobs_core::Deadline::after(std::time::Duration::from_secs(3600));
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        let docs = eval::Collection::from_documents(job_tasks(n)).expect("documents");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("filter_scan_eq", n), &docs, |b, d| {
            b.iter(|| black_box(d.list(&scan, &deadline).expect("list").total_count))
        });
        group.bench_with_input(
            BenchmarkId::new("list_filter_sort_page", n),
            &docs,
            |b, d| b.iter(|| black_box(d.list(&list, &deadline).expect("list").documents.len())),
        );
        group.bench_with_input(BenchmarkId::new("group_by_count", n), &docs, |b, d| {
            b.iter(|| black_box(d.stat(&count, &deadline).map(|o| o.results.len())))
        });
        group.bench_with_input(BenchmarkId::new("group_count_sum", n), &docs, |b, d| {
            b.iter(|| black_box(d.stat(&sum, &deadline).map(|o| o.results.len())))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
