//! Job transitions: create (with its tasks), errors, cancel, the timeout sweep, delete.

use super::task::OPEN_JOB;
use super::{error_document, Lifecycle, NewJob, JOBS, JOB_ID, TASKS};
use crate::error::{Error, Result};
use crate::model::{ErrorInfo, Job, JobStatus, JobTask, JobTaskStatus, Service};
use crate::store::Store;
use crate::write::{Update, Write, Written};
use bson::{doc, Bson, Document};
use spacejobs_query::plan::{Condition, Filter};
use std::time::Duration;

/// Fields of a job the lifecycle owns, refused in [`NewJob::extra`].
const OWNED: [&str; 11] = [
    "_id",
    "job_id",
    "status",
    "filter",
    "total_tasks",
    "remained_tasks",
    "errors",
    "project_id",
    "domain_id",
    "created_at",
    "updated_at",
];

impl<S: Store + ?Sized> Lifecycle<S> {
    /// Creates a CREATED job with `total_tasks` = `remained_tasks` = its number of tasks,
    /// and those tasks PENDING, written together. A job without tasks is created finished
    /// (SUCCESS). Refused without a `domain_id`, or when `extra` names a lifecycle field.
    pub async fn create_job(&self, new: NewJob) -> Result<(Job, Vec<JobTask>)> {
        if new.domain_id.is_empty() {
            return Err(Error::required("domain_id"));
        }
        if let Some(field) = new
            .extra
            .keys()
            .find(|k| OWNED.contains(&k.as_str()) || *k == "finished_at")
        {
            return Err(Error::InvalidParameterType {
                key: format!("extra.{field}"),
                reason: "set by the lifecycle, not by the caller".to_string(),
            });
        }
        let total = i32::try_from(new.tasks.len()).map_err(|_| Error::InvalidParameterType {
            key: "tasks".to_string(),
            reason: format!("{} tasks is more than a job holds", new.tasks.len()),
        })?;
        let now = self.now();
        let job_id = Service::SpotAutomation.new_id();
        let (status, finished_at) = if total == 0 {
            (JobStatus::Success, now.clone())
        } else {
            (JobStatus::Created, Bson::Null)
        };
        let mut job = doc! {
            "_id": bson::oid::ObjectId::new(),
            "job_id": &job_id,
            "status": status.name(),
            "filter": new.filter,
            "total_tasks": total,
            "remained_tasks": total,
            "errors": [],
            "project_id": &new.project_id,
            "domain_id": &new.domain_id,
        };
        job.extend(new.extra);
        job.insert("created_at", now.clone());
        job.insert("updated_at", now.clone());
        job.insert("finished_at", finished_at);
        let tasks: Vec<Document> = new
            .tasks
            .iter()
            .map(|t| {
                doc! {
                    "_id": bson::oid::ObjectId::new(),
                    "job_task_id": Service::Inventory.new_id(),
                    "status": JobTaskStatus::Pending.name(),
                    "created_count": 0, "updated_count": 0, "failure_count": 0,
                    "deleted_count": 0, "disconnected_count": 0,
                    "errors": [],
                    "job_id": &job_id,
                    "secret_id": &t.secret_id,
                    "provider": &t.provider,
                    "service_account_id": &t.service_account_id,
                    "project_id": t.project_id.as_ref().unwrap_or(&new.project_id),
                    "domain_id": &new.domain_id,
                    "created_at": now.clone(),
                    "started_at": Bson::Null,
                    "finished_at": Bson::Null,
                }
            })
            .collect();
        // Tasks first: a crash in between (on a store without multi-collection writes)
        // leaves tasks no job names, never a job waiting for tasks that do not exist.
        self.store
            .insert_together(
                vec![
                    (TASKS.to_string(), tasks.clone()),
                    (JOBS.to_string(), vec![job.clone()]),
                ],
                &self.deadline(),
            )
            .await?;
        Ok((
            Job::from_document(job)?,
            tasks
                .into_iter()
                .map(JobTask::from_document)
                .collect::<Result<_>>()?,
        ))
    }

    /// Appends an error to an open job (it will end ERROR).
    pub async fn add_job_error(&self, job_id: &str, error: &ErrorInfo) -> Result<Job> {
        let deadline = self.deadline();
        let filter = open_job(job_id);
        let update = Update::new()
            .push("errors", vec![error_document(error)])
            .set("updated_at", self.now());
        match self
            .store
            .update_one(JOBS, &filter, &update, &deadline)
            .await?
        {
            Some(doc) => Job::from_document(doc),
            None => Err(self
                .refused(JOBS, JOB_ID, job_id, "add error", &deadline)
                .await),
        }
    }

    /// CREATED/IN_PROGRESS → CANCELED (final), setting `finished_at`, together with the
    /// job's PENDING and IN_PROGRESS tasks. Refused when the job has ended; on a job already
    /// CANCELED its open tasks are canceled first (completing a cancel a crash cut short on
    /// a store without batches).
    pub async fn cancel_job(&self, job_id: &str) -> Result<Job> {
        self.end_job(job_id, JobStatus::Canceled, open_job(job_id), "cancel")
            .await
    }

    /// Ends an open job matching `filter` with `end`, and cancels its open tasks.
    async fn end_job(
        &self,
        job_id: &str,
        end: JobStatus,
        filter: Filter,
        action: &str,
    ) -> Result<Job> {
        let deadline = self.deadline();
        let now = self.now();
        let update = Update::new()
            .set("status", end.name())
            .set("finished_at", now.clone())
            .set("updated_at", now.clone());
        let writes = vec![
            Write::update_one(JOBS, filter, update),
            open_tasks(job_id, now.clone()),
        ];
        if let [Written::One(job), ..] = self.store.write(writes, &deadline).await?.as_slice() {
            return Job::from_document(job.clone());
        }
        let refusal = self.refused(JOBS, JOB_ID, job_id, action, &deadline).await;
        if matches!(&refusal, Error::InvalidState { status, .. } if status == end.name()) {
            self.store
                .write(vec![open_tasks(job_id, now)], &deadline)
                .await?;
        }
        Err(refusal)
    }

    /// Ends every job still CREATED/IN_PROGRESS that was created more than `timeout` before
    /// now (the clock's): TIMEOUT with `finished_at`, its open tasks CANCELED. Only
    /// `domain_id`'s jobs when given. The jobs this call ended.
    pub async fn time_out_jobs(
        &self,
        timeout: Duration,
        domain_id: Option<&str>,
    ) -> Result<Vec<Job>> {
        let now = self.clock.now();
        let cutoff = chrono::Duration::from_std(timeout)
            .ok()
            .and_then(|t| now.checked_sub_signed(t))
            .ok_or_else(|| Error::InvalidParameterType {
                key: "timeout".to_string(),
                reason: format!("{timeout:?} reaches before the start of time"),
            })?;
        let stale = |job_id: Option<&str>| {
            let mut conditions = vec![
                Condition::one_of("status", OPEN_JOB),
                Condition::lt("created_at", bson::DateTime::from_chrono(cutoff)),
            ];
            conditions.extend(domain_id.map(|d| Condition::eq("domain_id", d)));
            conditions.extend(job_id.map(|id| Condition::eq(JOB_ID, id)));
            Filter::all(conditions)
        };
        let found = self
            .store
            .find(JOBS, &stale(None), &self.deadline())
            .await?;
        let mut ended = Vec::new();
        for doc in found {
            let Ok(job_id) = doc.get_str(JOB_ID) else {
                continue;
            };
            // Conditional again: a job that finished since the scan is left alone.
            match self
                .end_job(job_id, JobStatus::Timeout, stale(Some(job_id)), "time out")
                .await
            {
                Ok(job) => ended.push(job),
                Err(Error::InvalidState { .. } | Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }

    /// Removes the job and its tasks, together (tasks first on a store without batches, so
    /// an interrupted delete leaves a job to delete again, never tasks no job names). The
    /// number of tasks removed; `NotFound` when there is no such job.
    pub async fn delete_job(&self, job_id: &str) -> Result<u64> {
        let deadline = self.deadline();
        self.get(JOBS, JOB_ID, job_id, &deadline).await?;
        let by_job = Filter::all([Condition::eq(JOB_ID, job_id)]);
        let writes = vec![
            Write::delete(TASKS, by_job.clone()),
            Write::delete(JOBS, by_job),
        ];
        match self.store.write(writes, &deadline).await?.first() {
            Some(Written::Deleted(n)) => Ok(*n),
            _ => Ok(0),
        }
    }
}

fn open_job(job_id: &str) -> Filter {
    Filter::all([
        Condition::eq(JOB_ID, job_id),
        Condition::one_of("status", OPEN_JOB),
    ])
}

/// Cancels the PENDING and IN_PROGRESS tasks of a job.
fn open_tasks(job_id: &str, now: Bson) -> Write {
    let filter = Filter::all([
        Condition::eq(JOB_ID, job_id),
        Condition::one_of(
            "status",
            [
                JobTaskStatus::Pending.name(),
                JobTaskStatus::InProgress.name(),
            ],
        ),
    ]);
    let update = Update::new()
        .set("status", JobTaskStatus::Canceled.name())
        .set("finished_at", now);
    Write::update_many(TASKS, filter, update)
}
