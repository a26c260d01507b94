//! Rendering a list page: 20 stored JobTasks (failed ones, with errors and their details, as
//! a `status = FAILURE` page shows them) written as `JobTasksInfo` bytes straight from their
//! BSON, and, beside it, the same page through the model (serde, then prost) as the peer
//! that the straight path replaced; then the REST body, JSON straight from the BSON by the
//! same field table, beside the message turned into JSON as it was before. Run with
//! `cargo bench -p spacejobs-server --bench render`.

use bson::{doc, Bson, RawDocumentBuf};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prost::Message;
use spacejobs_server::raw_info::job_tasks_info_bytes;
use std::hint::black_box;

/// A page of `n` failed JobTasks shaped as the demo data stores them.
fn page(n: usize) -> Vec<RawDocumentBuf> {
    let start = 1_780_000_000_000i64;
    (0..n)
        .map(|i| {
            let created = start + i as i64 * 7_919_311;
            let date = |ms: i64| Bson::DateTime(bson::DateTime::from_millis(ms));
            let error = |k: usize| {
                doc! {"error_code": format!("ERROR_{k}"), "message": "The secret could not be read: access denied",
                "additional": {"region": "ap-northeast-2"}}
            };
            let errors: Vec<Bson> = (0..1 + i % 2).map(|k| Bson::Document(error(k))).collect();
            let document = doc! {
                "_id": bson::oid::ObjectId::from_bytes([i as u8; 12]),
                "job_task_id": format!("job-task-{i:012x}"),
                "status": "FAILURE",
                "created_count": (i % 40) as i32,
                "updated_count": (i % 80) as i32,
                "failure_count": 1 + (i % 4) as i32,
                "deleted_count": (i % 5) as i32,
                "disconnected_count": (i % 3) as i32,
                "errors": errors,
                "job_id": format!("job-{:012x}", i / 4),
                "secret_id": format!("secret-{:012x}", i * 977),
                "provider": "aws",
                "service_account_id": format!("sa-{}", i % 8),
                "project_id": format!("project-{}", i % 5),
                "domain_id": "domain-demo",
                "created_at": date(created),
                "started_at": date(created + 20_000),
                "finished_at": date(created + 620_000),
            };
            RawDocumentBuf::try_from(&document).expect("encodable")
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let documents = page(20);
    let mut group = c.benchmark_group("render page of 20");
    group.throughput(Throughput::Elements(documents.len() as u64));
    group.bench_function("straight from BSON", |b| {
        b.iter(|| job_tasks_info_bytes(black_box(&documents), 90_000).expect("rendered"))
    });
    group.bench_function("through the model", |b| {
        b.iter(|| {
            let results = documents
                .iter()
                .map(|d| spacejobs_server::convert::job_task_info_by_model(d).expect("model"))
                .collect();
            spacejobs_proto::inventory::JobTasksInfo {
                results,
                total_count: 90_000,
            }
            .encode_to_vec()
        })
    });
    // The REST body: JSON straight from the BSON by the same field table, beside the way it
    // was written before (the message, then its JSON).
    group.bench_function("JSON straight from BSON", |b| {
        b.iter(|| {
            // Both rows copy the page, as the second must to build its message.
            let page = black_box(&documents).clone();
            spacejobs_server::raw_json::job_tasks_body(&page, 90_000).expect("rendered")
        })
    });
    group.bench_function("JSON through the message", |b| {
        b.iter(|| {
            let out = spacejobs_core::ListOutput {
                documents: black_box(&documents).clone(),
                total_count: 90_000,
            };
            let info = spacejobs_server::convert::job_tasks_info(out).expect("message");
            serde_json::to_vec(&spacejobs_server::json::job_tasks(info)).expect("JSON")
        })
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
