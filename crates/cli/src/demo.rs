//! A generated, realistic demo dataset (fixed seed, dates in the last 30 days), so a fresh
//! service shows something at once.

use crate::Result;
use bson::{doc, Bson, DateTime, Document};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spacejobs_core::{Deadline, Query, Service, Store};
use spacejobs_query::compile;
use spacejobs_query::time::{Clock, SystemClock};

/// The demo domain; a second one shows that domains never mix.
pub const DEMO_DOMAIN: &str = "domain-demo";
const OTHER_DOMAIN: &str = "domain-other";
const PROVIDERS: [&str; 3] = ["aws", "google_cloud", "azure"];
const ERRORS: [(&str, &str); 4] = [
    (
        "ERROR_AUTHENTICATION_FAILURE",
        "Authentication failed: the secret is expired",
    ),
    ("ERROR_COLLECTOR_TIMEOUT", "Collector timed out after 600 s"),
    ("ERROR_QUOTA_EXCEEDED", "API rate limit exceeded"),
    ("ERROR_NOT_FOUND", "Region not enabled for this account"),
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn errors(rng: &mut StdRng, n: usize) -> Vec<Bson> {
    (0..n)
        .map(|_| {
            let (code, message) = *pick(rng, &ERRORS);
            Bson::Document(doc! {"error_code": code, "message": message, "additional": {"region": *pick(rng, &["us-east-1", "ap-northeast-2", "europe-west1"])}})
        })
        .collect()
}

fn hex(rng: &mut StdRng) -> String {
    format!("{:012x}", rng.random::<u64>() & 0xffff_ffff_ffff)
}

/// `count` generated documents of the service, oldest first, dated in the 30 days before now.
pub fn documents(service: Service, count: usize) -> Vec<Document> {
    documents_before(service, count, SystemClock.now().timestamp_millis())
}

/// `count` generated documents of the service, oldest first, dated in the 30 days before
/// `now` (milliseconds since the epoch): the same documents for the same arguments.
pub fn documents_before(service: Service, count: usize, now: i64) -> Vec<Document> {
    let mut rng = StdRng::seed_from_u64(20_221_124);
    let span = 30 * 86_400_000i64;
    let mut out: Vec<(i64, Document)> = (0..count)
        .map(|i| {
            let created = now - rng.random_range(0..span);
            let domain = if i % 10 == 9 { OTHER_DOMAIN } else { DEMO_DOMAIN };
            let project = format!("project-{}", rng.random_range(1..=5));
            let provider = *pick(&mut rng, &PROVIDERS);
            let roll = rng.random_range(0..100);
            let started = created + rng.random_range(1_000..60_000);
            let finished = started + rng.random_range(10_000..1_800_000);
            let date = |ms: i64| Bson::DateTime(DateTime::from_millis(ms));
            let doc = match service {
                Service::Inventory => {
                    let status = match roll {
                        0..=59 => "SUCCESS",
                        60..=74 => "FAILURE",
                        75..=84 => "IN_PROGRESS",
                        85..=94 => "PENDING",
                        _ => "CANCELED",
                    };
                    let failed = status == "FAILURE";
                    let error_count = if failed { rng.random_range(1..3) } else { 0 };
                    doc! {
                        "job_task_id": format!("job-task-{}", hex(&mut rng)),
                        "status": status,
                        "created_count": rng.random_range(0..40),
                        "updated_count": rng.random_range(0..80),
                        "failure_count": if failed { rng.random_range(1..5) } else { 0 },
                        "deleted_count": rng.random_range(0..5),
                        "disconnected_count": rng.random_range(0..3),
                        "errors": errors(&mut rng, error_count),
                        "job_id": format!("job-{:012x}", i / 4),
                        "secret_id": format!("secret-{}", hex(&mut rng)),
                        "provider": provider,
                        "service_account_id": format!("sa-{}", rng.random_range(1..=8)),
                        "project_id": project,
                        "domain_id": domain,
                        "created_at": date(created),
                        "started_at": if status == "PENDING" { Bson::Null } else { date(started) },
                        "finished_at": if matches!(status, "SUCCESS" | "FAILURE" | "CANCELED") { date(finished) } else { Bson::Null },
                    }
                }
                Service::SpotAutomation | Service::PowerScheduler => {
                    let status = match roll {
                        0..=54 => "SUCCESS",
                        55..=69 => "ERROR",
                        70..=79 => "IN_PROGRESS",
                        80..=89 => "CREATED",
                        90..=94 => "TIMEOUT",
                        _ => "CANCELED",
                    };
                    let total = rng.random_range(1..8);
                    let done = matches!(status, "SUCCESS" | "ERROR" | "TIMEOUT");
                    let mut d = doc! {
                        "job_id": format!("job-{}", hex(&mut rng)),
                        "status": status,
                        "filter": {"region": *pick(&mut rng, &["us-east-1", "ap-northeast-2", "europe-west1"]), "provider": provider},
                        "total_tasks": total,
                        "remained_tasks": if done { 0 } else { rng.random_range(1..=total) },
                        "errors": errors(&mut rng, if status == "ERROR" { 1 } else { 0 }),
                        "project_id": project,
                        "domain_id": domain,
                    };
                    if service == Service::PowerScheduler {
                        let controller = rng.random_range(1..=3);
                        d.insert("schedule_id", format!("schedule-{}", rng.random_range(1..=4)));
                        d.insert("controller_id", format!("controller-{controller}"));
                        d.insert("controller", doc! {
                            "controller_id": format!("controller-{controller}"), "name": format!("{provider}-power-{controller}"),
                            "provider": provider, "capability": {"supported": ["start", "stop"]},
                            "plugin_info": {"plugin_id": format!("plugin-{provider}-power"), "version": "1.2.0", "options": {}, "provider": provider, "metadata": {}},
                            "tags": {"team": "ops"}, "created_at": date(now - span), "domain_id": domain,
                        });
                    }
                    d.insert("created_at", date(created));
                    d.insert("updated_at", date(if done { finished } else { started }));
                    d.insert("finished_at", if done { date(finished) } else { Bson::Null });
                    d
                }
            };
            (created, doc)
        })
        .collect();
    out.sort_by_key(|(created, _)| *created);
    out.into_iter().map(|(_, d)| d).collect()
}

/// Adds `count` demo documents; returns how many.
pub async fn add(service: Service, store: &dyn Store, count: usize) -> Result<usize> {
    let docs = documents(service, count);
    let n = docs.len();
    store.insert(service.collection(), docs).await?;
    Ok(n)
}

/// Adds demo documents when the collection is empty (so restarts do not add more).
pub async fn fill_if_empty(service: Service, store: &dyn Store, count: usize) -> Result<()> {
    let plan = compile::list(
        &Query {
            count_only: true,
            ..Query::default()
        },
        &[],
        SystemClock.now(),
    )
    .map_err(spacejobs_core::Error::from)?;
    if store
        .list(service.collection(), &plan, &Deadline::default())
        .await?
        .total_count
        == 0
    {
        let n = add(service, store, count).await?;
        tracing::info!(documents = n, domain = DEMO_DOMAIN, "added demo data");
    }
    Ok(())
}
