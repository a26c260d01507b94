//! A dataset built only through the lifecycle API, and the cases of
//! `tests/lifecycle-corpus` run over it: what [`Lifecycle`] writes is what the services
//! list and stat.
//!
//! In domain `domain-life`, on a clock starting Monday 2026-01-05 08:00 UTC, one job a day:
//!
//! | job | project | created | tasks (provider) | what happens | job ends |
//! |---|---|---|---|---|---|
//! | A | project-1 | day 0 | aws, aws, google | counts, all succeed | SUCCESS |
//! | B | project-1 | day 1 | aws, azure | azure gets ERROR_AUTH and fails | ERROR |
//! | C | project-2 | day 2 | google, google | first started, job cancelled | CANCELED |
//! | D | project-2 | day 3 | aws | never started; timed out 2 h later | TIMEOUT |
//! | E | project-2 | day 4 | azure, azure | first succeeds, second runs; job error | IN_PROGRESS |
//! | F | project-1 | day 4 + 1 h | none | | SUCCESS |

use crate::{Corpus, Outcome, Report};
use chrono::{DateTime, Duration as Span, Utc};
use spacejobs_core::lifecycle::{Counts, Lifecycle, NewJob, NewTask, Outcome as End};
use spacejobs_core::model::ErrorInfo;
use spacejobs_core::{JobService, Service, Store};
use spacejobs_query::time::{Clock, ManualClock};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The domain of the scenario.
pub const DOMAIN: &str = "domain-life";

fn task(provider: &str) -> NewTask {
    NewTask {
        secret_id: format!("secret-{provider}"),
        provider: provider.to_string(),
        service_account_id: format!("sa-{provider}"),
        project_id: None,
    }
}

fn job(project: &str, providers: &[&str]) -> NewJob {
    NewJob {
        domain_id: DOMAIN.to_string(),
        project_id: project.to_string(),
        filter: bson::doc! {"region": "us-east-1"},
        tasks: providers.iter().map(|p| task(p)).collect(),
        ..NewJob::default()
    }
}

fn ok<T>(result: Result<T, spacejobs_core::Error>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("scenario: {what}: {e}"))
}

fn counts(created: i32, updated: i32, deleted: i32) -> Counts {
    Counts {
        created,
        updated,
        deleted,
        ..Counts::default()
    }
}

/// Writes the scenario into `store` through the lifecycle API.
pub async fn build<S: Store + ?Sized>(store: Arc<S>) {
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z")
        .expect("instant")
        .with_timezone(&Utc);
    let clock = Arc::new(ManualClock::new(start));
    let life = Lifecycle::new(store).with_clock(clock.clone());
    let at = |day: i64, minutes: i64| clock.set(start + Span::days(day) + Span::minutes(minutes));

    at(0, 0);
    let (_, a) = ok(
        life.create_job(job("project-1", &["aws", "aws", "google"]))
            .await,
        "A",
    );
    at(0, 1);
    for (t, c) in a
        .iter()
        .zip([counts(5, 1, 0), counts(3, 0, 0), counts(2, 0, 1)])
    {
        ok(life.start_task(&t.job_task_id).await, "A start");
        ok(life.add_counts(&t.job_task_id, c).await, "A counts");
    }
    at(0, 10);
    for t in &a {
        ok(
            life.finish_task(&t.job_task_id, End::Success).await,
            "A finish",
        );
    }

    at(1, 0);
    let (_, b) = ok(
        life.create_job(job("project-1", &["aws", "azure"])).await,
        "B",
    );
    at(1, 1);
    for t in &b {
        ok(life.start_task(&t.job_task_id).await, "B start");
    }
    let auth = ErrorInfo {
        error_code: "ERROR_AUTH".to_string(),
        message: "credentials expired".to_string(),
        ..ErrorInfo::default()
    };
    ok(
        life.add_task_error(&b[1].job_task_id, &auth).await,
        "B error",
    );
    at(1, 5);
    ok(
        life.finish_task(&b[0].job_task_id, End::Success).await,
        "B finish",
    );
    ok(
        life.finish_task(&b[1].job_task_id, End::Failure).await,
        "B fail",
    );

    at(2, 0);
    let (c_job, c) = ok(
        life.create_job(job("project-2", &["google", "google"]))
            .await,
        "C",
    );
    at(2, 1);
    ok(life.start_task(&c[0].job_task_id).await, "C start");
    at(2, 2);
    ok(life.cancel_job(&c_job.job_id).await, "C cancel");

    at(3, 0);
    ok(life.create_job(job("project-2", &["aws"])).await, "D");
    at(3, 120);
    let ended = ok(
        life.time_out_jobs(Duration::from_secs(3600), Some(DOMAIN))
            .await,
        "sweep",
    );
    assert_eq!(ended.len(), 1, "scenario: the sweep ends D only");

    at(4, 0);
    let (e_job, e) = ok(
        life.create_job(job("project-2", &["azure", "azure"])).await,
        "E",
    );
    at(4, 1);
    for t in &e {
        ok(life.start_task(&t.job_task_id).await, "E start");
    }
    ok(
        life.add_counts(&e[1].job_task_id, counts(7, 0, 0)).await,
        "E counts",
    );
    at(4, 3);
    ok(
        life.finish_task(&e[0].job_task_id, End::Success).await,
        "E finish",
    );
    let quota = ErrorInfo {
        error_code: "ERROR_QUOTA".to_string(),
        message: "quota exceeded".to_string(),
        ..ErrorInfo::default()
    };
    ok(
        life.add_job_error(&e_job.job_id, &quota).await,
        "E job error",
    );

    at(4, 60);
    ok(life.create_job(job("project-1", &[])).await, "F");
}

/// Loads `tests/lifecycle-corpus`.
pub fn corpus() -> Corpus {
    Corpus::load_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lifecycle-corpus"))
}

/// Builds the scenario in `store` and [`run`]s the lifecycle corpus over it.
pub async fn check<S: Store + ?Sized>(store: Arc<S>, label: &str) {
    build(store.clone()).await;
    run(store, label).await;
}

/// Runs the lifecycle corpus over a store holding the scenario, with the inventory (tasks)
/// and spot_automation (jobs) services; panics listing every failed case.
pub async fn run<S: Store + ?Sized>(store: Arc<S>, label: &str) {
    let corpus = corpus();
    let now = spacejobs_query::time::parse_iso(&corpus.now).expect("corpus now");
    let clock: Arc<dyn Clock> = Arc::new(spacejobs_query::time::FixedClock(now));
    let services = [Service::Inventory, Service::SpotAutomation]
        .map(|s| JobService::with_clock(s, store.clone(), clock.clone()));
    let mut report = Report::new(label);
    for case in &corpus.cases {
        let service = services
            .iter()
            .find(|s| s.service().name() == case.service)
            .unwrap_or_else(|| panic!("{}: service {}", case.name, case.service));
        let result = match case.method {
            crate::Method::List => service.list_json(&case.request).await,
            crate::Method::Stat => service.stat_json(&case.request).await,
        };
        report.record(case, &Outcome::of(result));
    }
    report.finish();
}
