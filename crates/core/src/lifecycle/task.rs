//! Task transitions: start, counts, errors, finish (which may finish the job).

use super::{error_document, Counts, Finished, Lifecycle, Outcome, JOBS, JOB_ID, TASKS, TASK_ID};
use crate::error::{Error, Result};
use crate::model::{ErrorInfo, Job, JobStatus, JobTask, JobTaskStatus};
use crate::store::Store;
use crate::write::{Update, Write, Written};
use spacejobs_exec::Deadline;
use spacejobs_query::plan::{Condition, Filter};
use spacejobs_query::ListPlan;

/// Job statuses a task may still change under.
pub(super) const OPEN_JOB: [&str; 2] = ["CREATED", "IN_PROGRESS"];

/// How often a finish re-reads and retries when concurrent finishes of the same job moved
/// `remained_tasks` under it (each retry means another finish got through).
const MAX_ATTEMPTS: usize = 10_000;

fn task_in(id: &str, status: JobTaskStatus) -> Filter {
    Filter::all([
        Condition::eq(TASK_ID, id),
        Condition::eq("status", status.name()),
    ])
}

impl<S: Store + ?Sized> Lifecycle<S> {
    /// PENDING → IN_PROGRESS, setting `started_at`; the job becomes IN_PROGRESS. Refused
    /// when the task is not PENDING or its job has ended.
    pub async fn start_task(&self, job_task_id: &str) -> Result<JobTask> {
        let deadline = self.deadline();
        let task = self.task(job_task_id).await?;
        let job = self.get(JOBS, JOB_ID, &task.job_id, &deadline).await?;
        let job_status = job.get_str("status").unwrap_or("(none)");
        if !OPEN_JOB.contains(&job_status) {
            let status = format!("job {} is {job_status}", task.job_id);
            return Err(invalid(TASKS, job_task_id, &status, "start"));
        }
        // A cancel after this check cancels the task while still PENDING (then the start
        // below matches nothing) or after it (then it cancels the running task).
        let now = self.now();
        let start = Update::new()
            .set("status", JobTaskStatus::InProgress.name())
            .set("started_at", now.clone());
        let created = Filter::all([
            Condition::eq(JOB_ID, task.job_id.as_str()),
            Condition::eq("status", JobStatus::Created.name()),
        ]);
        let running = Update::new()
            .set("status", JobStatus::InProgress.name())
            .set("updated_at", now);
        let writes = vec![
            Write::update_one(TASKS, task_in(job_task_id, JobTaskStatus::Pending), start),
            Write::update_many(JOBS, created, running),
        ];
        match self.store.write(writes, &deadline).await?.first() {
            Some(Written::One(doc)) => JobTask::from_document(doc.clone()),
            _ => Err(self
                .task_refusal(job_task_id, JobTaskStatus::Pending, "start", &deadline)
                .await),
        }
    }

    /// Adds counts to a running task. Refused when a count is negative or the task is not
    /// IN_PROGRESS.
    pub async fn add_counts(&self, job_task_id: &str, counts: Counts) -> Result<JobTask> {
        let fields = [
            ("created_count", counts.created),
            ("updated_count", counts.updated),
            ("failure_count", counts.failure),
            ("deleted_count", counts.deleted),
            ("disconnected_count", counts.disconnected),
        ];
        let mut update = Update::new();
        for (field, by) in fields {
            if by < 0 {
                return Err(Error::InvalidParameterType {
                    key: field.to_string(),
                    reason: format!("counts only grow, got {by}"),
                });
            }
            update = update.inc(field, by);
        }
        self.running_task_update(job_task_id, update, "add counts")
            .await
    }

    /// Appends an error to a running task (its job will end ERROR).
    pub async fn add_task_error(&self, job_task_id: &str, error: &ErrorInfo) -> Result<JobTask> {
        let update = Update::new().push("errors", vec![error_document(error)]);
        self.running_task_update(job_task_id, update, "add error")
            .await
    }

    async fn running_task_update(
        &self,
        job_task_id: &str,
        update: Update,
        action: &str,
    ) -> Result<JobTask> {
        let deadline = self.deadline();
        let filter = task_in(job_task_id, JobTaskStatus::InProgress);
        match self
            .store
            .update_one(TASKS, &filter, &update, &deadline)
            .await?
        {
            Some(doc) => JobTask::from_document(doc),
            None => Err(self
                .task_refusal(job_task_id, JobTaskStatus::InProgress, action, &deadline)
                .await),
        }
    }

    /// IN_PROGRESS → SUCCESS or FAILURE, setting `finished_at`, with one less remained task
    /// on the job, written together; the finish that leaves none also finishes the job
    /// (SUCCESS, or ERROR when a task failed or an error was recorded). Refused, changing
    /// nothing, when the task is not IN_PROGRESS or its job has ended.
    ///
    /// On a store without multi-document batches (MongoDB) the task is changed before the
    /// job: a job ended (a cancel) between the two leaves the task finished and answers
    /// `InvalidState`.
    pub async fn finish_task(&self, job_task_id: &str, outcome: Outcome) -> Result<Finished> {
        let deadline = self.deadline();
        let now = self.now();
        let status = match outcome {
            Outcome::Success => JobTaskStatus::Success,
            Outcome::Failure => JobTaskStatus::Failure,
        };
        // Set when the store applied the task's change but not the job's (no batches).
        let mut finished: Option<JobTask> = None;
        for _ in 0..MAX_ATTEMPTS {
            let task = match &finished {
                Some(task) => task.clone(),
                None => self.task(job_task_id).await?,
            };
            if finished.is_none() && task.status != JobTaskStatus::InProgress {
                return Err(invalid(TASKS, job_task_id, task.status.name(), "finish"));
            }
            let job = Job::from_document(self.get(JOBS, JOB_ID, &task.job_id, &deadline).await?)?;
            if !OPEN_JOB.contains(&job.status.name()) {
                let status = format!("job {} is {}", job.job_id, job.status.name());
                return Err(invalid(TASKS, job_task_id, &status, "finish"));
            }
            if job.remained_tasks <= 0 {
                let status = format!("{} with no remained tasks", job.status.name());
                return Err(invalid(JOBS, &job.job_id, &status, "finish a task of"));
            }
            let last = job.remained_tasks == 1;
            let mut task_filter = task_in(job_task_id, JobTaskStatus::InProgress);
            let mut job_filter = Filter::all([
                Condition::eq(JOB_ID, job.job_id.as_str()),
                Condition::eq("status", job.status.name()),
            ]);
            let mut job_update = Update::new()
                .inc("remained_tasks", -1)
                .set("updated_at", now.clone());
            if last {
                let failed = outcome == Outcome::Failure
                    || !job.errors.is_empty()
                    || self.any_task_failed(&job.job_id, &deadline).await?;
                if !failed {
                    // An error recorded meanwhile turns the answer to ERROR: try again.
                    let none = || Condition::exists("errors.error_code", false);
                    task_filter.all.push(none());
                    job_filter.all.push(none());
                }
                let end = if failed {
                    JobStatus::Error
                } else {
                    JobStatus::Success
                };
                job_filter.all.push(Condition::eq("remained_tasks", 1));
                job_update = job_update
                    .set("status", end.name())
                    .set("finished_at", now.clone());
            } else {
                job_filter.all.push(Condition::gt("remained_tasks", 1));
            }
            let mut writes = Vec::with_capacity(2);
            if finished.is_none() {
                let update = Update::new()
                    .set("status", status.name())
                    .set("finished_at", now.clone());
                writes.push(Write::update_one(TASKS, task_filter, update));
            }
            writes.push(Write::update_one(JOBS, job_filter, job_update));
            let written = self.store.write(writes, &deadline).await?;
            let done = |task: JobTask, job: &bson::Document| {
                Ok(Finished {
                    task,
                    job: Job::from_document(job.clone())?,
                    finished_job: last,
                })
            };
            match (finished.take(), written.as_slice()) {
                (None, [Written::One(t), Written::One(j)]) => {
                    return done(JobTask::from_document(t.clone())?, j)
                }
                (Some(task), [Written::One(j)]) => return done(task, j),
                (None, [Written::One(t)]) => finished = Some(JobTask::from_document(t.clone())?),
                (before, _) => finished = before,
            }
        }
        Err(Error::Internal(format!(
            "finishing {job_task_id}: gave up after {MAX_ATTEMPTS} concurrent changes"
        )))
    }

    /// True when a task of the job failed or recorded an error.
    async fn any_task_failed(&self, job_id: &str, deadline: &Deadline) -> Result<bool> {
        let filter = Filter::all([Condition::eq(JOB_ID, job_id)]).and_any([
            Condition::eq("status", JobTaskStatus::Failure.name()),
            Condition::exists("errors.error_code", true),
        ]);
        let out = self
            .store
            .list(TASKS, &ListPlan::count(filter), deadline)
            .await?;
        Ok(out.total_count > 0)
    }

    /// Why a change of a task expected in status `expected` matched nothing: the task is
    /// gone (`NotFound`), in another status, or its job has ended (`InvalidState`).
    async fn task_refusal(
        &self,
        job_task_id: &str,
        expected: JobTaskStatus,
        action: &str,
        deadline: &Deadline,
    ) -> Error {
        let task = match self.get(TASKS, TASK_ID, job_task_id, deadline).await {
            Ok(doc) => doc,
            Err(e) => return e,
        };
        let status = task.get_str("status").unwrap_or("(none)");
        if status != expected.name() {
            return invalid(TASKS, job_task_id, status, action);
        }
        let job_id = task.get_str(JOB_ID).unwrap_or_default();
        match self.get(JOBS, JOB_ID, job_id, deadline).await {
            Ok(job) => {
                let job_status = job.get_str("status").unwrap_or("(none)");
                invalid(
                    TASKS,
                    job_task_id,
                    &format!("job {job_id} is {job_status}"),
                    action,
                )
            }
            Err(e) => e,
        }
    }
}

/// [`Error::InvalidState`].
pub(super) fn invalid(resource: &str, id: &str, status: &str, action: &str) -> Error {
    Error::InvalidState {
        resource: resource.to_string(),
        id: id.to_string(),
        status: status.to_string(),
        action: action.to_string(),
    }
}
