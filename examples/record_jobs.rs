//! Records a job with its tasks the way a collector does, then reads them back through the
//! services: create the job, run the tasks concurrently (start, add counts, record an error,
//! finish), and list and stat what was written. The store is the embedded one (a redb file
//! in a temporary directory); any `Store` works the same, MongoDB included.
//!
//! Run: `cargo run -p spacejobs-examples --example record_jobs`

use serde_json::json;
use spacejobs_core::lifecycle::{Counts, Lifecycle, NewJob, NewTask, Outcome};
use spacejobs_core::model::{ErrorInfo, JobStatus};
use spacejobs_core::{JobService, Service};
use spacejobs_embedded::EmbeddedStore;
use std::path::Path;
use std::sync::Arc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Records one collection job over three accounts in the store at `dir`; returns its id and
/// how it ended.
async fn collect(dir: &Path) -> Result<(String, JobStatus), BoxError> {
    let store = Arc::new(EmbeddedStore::open(dir)?);
    let lifecycle = Arc::new(Lifecycle::new(store));
    let accounts = [
        ("aws", "secret-aws"),
        ("google", "secret-gcp"),
        ("azure", "secret-az"),
    ];
    let (job, tasks) = lifecycle
        .create_job(NewJob {
            domain_id: "domain-demo".to_string(),
            project_id: "project-demo".to_string(),
            tasks: accounts
                .iter()
                .map(|(provider, secret)| NewTask {
                    provider: provider.to_string(),
                    secret_id: secret.to_string(),
                    ..NewTask::default()
                })
                .collect(),
            ..NewJob::default()
        })
        .await?;
    println!("created {} with {} tasks", job.job_id, job.total_tasks);

    // One worker per task, as a collector's workers would run them.
    let workers: Vec<_> = tasks
        .into_iter()
        .map(|task| {
            let lifecycle = lifecycle.clone();
            tokio::spawn(async move {
                let id = task.job_task_id;
                lifecycle.start_task(&id).await?;
                let counts = Counts {
                    created: 12,
                    updated: 3,
                    ..Counts::default()
                };
                lifecycle.add_counts(&id, counts).await?;
                let outcome = if task.provider == "azure" {
                    let error = ErrorInfo {
                        error_code: "ERROR_AUTHENTICATE_FAILURE".to_string(),
                        message: "the secret's credentials expired".to_string(),
                        ..ErrorInfo::default()
                    };
                    lifecycle.add_task_error(&id, &error).await?;
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                let done = lifecycle.finish_task(&id, outcome).await?;
                Ok::<_, spacejobs_core::Error>(done)
            })
        })
        .collect();
    for worker in workers {
        let done = worker.await??;
        let last = if done.finished_job {
            ", the last: it ended the job"
        } else {
            ""
        };
        println!(
            "task {} ({}) {:?}{last}",
            done.task.job_task_id, done.task.provider, done.task.status
        );
    }

    // What the services answer about it: the tasks by status, and the job itself.
    let store = lifecycle.store().clone();
    let tasks = JobService::new(Service::Inventory, store.clone());
    let by_status = tasks
        .stat_json(&json!({
            "domain_id": "domain-demo",
            "query": {
                "filter": [{"k": "job_id", "v": job.job_id, "o": "eq"}],
                "aggregate": [
                    {"group": {"keys": [{"key": "status", "name": "status"}],
                               "fields": [{"operator": "count", "name": "tasks"},
                                          {"operator": "sum", "key": "created_count", "name": "created"}]}},
                    {"sort": {"key": "status"}}
                ]
            }
        }))
        .await?;
    println!("tasks by status: {}", by_status["results"]);
    let jobs = JobService::new(Service::SpotAutomation, store);
    let listed = jobs
        .list_json(&json!({"domain_id": "domain-demo", "job_id": job.job_id}))
        .await?;
    let row = &listed["results"][0];
    println!(
        "job {}: {} ({} of {} tasks remain)",
        row["job_id"], row["status"], row["remained_tasks"], row["total_tasks"]
    );
    let ended = lifecycle.job(&job.job_id).await?;
    Ok((job.job_id, ended.status))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("spacejobs-record-jobs-{}", std::process::id()));
    let (_, status) = collect(&dir).await?;
    println!("the job ended {status:?}: a task failed");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_failed_account_ends_the_job_in_error_and_the_services_see_it() {
        let dir =
            std::env::temp_dir().join(format!("spacejobs-record-test-{}", std::process::id()));
        let (job_id, status) = super::collect(&dir).await.expect("collect");
        assert_eq!(status, super::JobStatus::Error);
        // The embedded store kept it: a reopen reads the same job.
        let store = std::sync::Arc::new(super::EmbeddedStore::open(&dir).expect("reopen"));
        let job = super::Lifecycle::new(store)
            .job(&job_id)
            .await
            .expect("job");
        assert_eq!((job.remained_tasks, job.total_tasks), (0, 3));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
