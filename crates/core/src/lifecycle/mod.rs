//! The write side: jobs and their tasks through their lifecycle, as SpaceONE's own managers
//! record them, over any [`Store`].
//!
//! - [`Lifecycle::create_job`] writes a CREATED job (`total_tasks` = `remained_tasks` = N)
//!   and its N PENDING tasks together.
//! - A task goes PENDING → IN_PROGRESS ([`Lifecycle::start_task`], sets `started_at`; the job
//!   becomes IN_PROGRESS) → SUCCESS or FAILURE ([`Lifecycle::finish_task`], sets
//!   `finished_at`). While it runs its counts only grow ([`Lifecycle::add_counts`]) and errors
//!   are appended ([`Lifecycle::add_task_error`]).
//! - Each finished task decrements its job's `remained_tasks` atomically; the finish that
//!   reaches 0 finishes the job: SUCCESS, or ERROR when a task failed or an error was
//!   recorded (on a task or on the job, [`Lifecycle::add_job_error`]).
//! - [`Lifecycle::cancel_job`] and [`Lifecycle::time_out_jobs`] end an open job (CANCELED,
//!   TIMEOUT) and cancel its open tasks; [`Lifecycle::delete_job`] removes it with its tasks.
//!
//! Every status change is one conditional, atomic update on the expected status, so two
//! writers never both win: a change the status does not allow is [`Error::InvalidState`]
//! and changes nothing. The job document decides races: when a cancel and the last task's
//! finish meet, whichever ends the job wins and the other gets `InvalidState`.
//!
//! A change spanning documents is ordered so that a crash in between leaves nothing a reader
//! mistakes: a job is created with its tasks in one write where the store allows it (the
//! embedded and memory stores; on MongoDB the tasks go first), a cancel ends the job before
//! its tasks, a delete removes the tasks before the job. A cancel or delete cut short is
//! completed by calling it again.
//!
//! [`Error::InvalidState`]: crate::Error::InvalidState

mod job;
mod task;

use crate::error::{Error, Result};
use crate::model::{ErrorInfo, Job, JobTask};
use crate::store::Store;
use bson::{Bson, Document};
use spacejobs_exec::Deadline;
use spacejobs_query::plan::{Condition, Filter};
use spacejobs_query::time::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// The collection of jobs.
pub const JOBS: &str = "job";
/// The collection of tasks.
pub const TASKS: &str = "job_task";

/// A job to create, with its tasks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewJob {
    /// Domain (tenant); required.
    pub domain_id: String,
    /// Project.
    pub project_id: String,
    /// The job's target filter.
    pub filter: Document,
    /// Further fields stored on the job as given (power_scheduler: `schedule_id`,
    /// `controller_id`, `controller`). Lifecycle fields here are refused.
    pub extra: Document,
    /// The tasks; a job with none is finished (SUCCESS) when created.
    pub tasks: Vec<NewTask>,
}

/// A task to create with its job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTask {
    /// Secret used.
    pub secret_id: String,
    /// Cloud provider.
    pub provider: String,
    /// Service account.
    pub service_account_id: String,
    /// Project; the job's when `None`.
    pub project_id: Option<String>,
}

/// Counts added to a running task (each at least 0: counts only grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Resources created.
    pub created: i32,
    /// Resources updated.
    pub updated: i32,
    /// Resources that failed.
    pub failure: i32,
    /// Resources deleted.
    pub deleted: i32,
    /// Resources disconnected.
    pub disconnected: i32,
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// SUCCESS.
    Success,
    /// FAILURE (the job ends ERROR).
    Failure,
}

/// What [`Lifecycle::finish_task`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The task, finished.
    pub task: JobTask,
    /// Its job after the decrement (finished when `finished_job`).
    pub job: Job,
    /// True for the one finish that ended the job.
    pub finished_job: bool,
}

/// The lifecycle of the jobs and tasks in one store.
pub struct Lifecycle<S: ?Sized> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
}

impl<S: ?Sized> Clone for Lifecycle<S> {
    fn clone(&self) -> Self {
        Lifecycle {
            store: self.store.clone(),
            clock: self.clock.clone(),
            timeout: self.timeout,
        }
    }
}

impl<S: ?Sized> std::fmt::Debug for Lifecycle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("clock", &self.clock)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

const TASK_ID: &str = "job_task_id";
const JOB_ID: &str = "job_id";

impl<S: Store + ?Sized> Lifecycle<S> {
    /// The lifecycle over `store`, with the system clock and 30 s per operation.
    pub fn new(store: Arc<S>) -> Self {
        Lifecycle {
            store,
            clock: Arc::new(SystemClock),
            timeout: Duration::from_secs(30),
        }
    }

    /// The same, taking "now" (timestamps, the timeout sweep) from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same, giving each operation `timeout` before it fails with a deadline error.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The store written to.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    fn deadline(&self) -> Deadline {
        Deadline::after(self.timeout)
    }

    fn now(&self) -> Bson {
        Bson::DateTime(bson::DateTime::from_chrono(self.clock.now()))
    }

    /// The job `job_id`, or `NotFound`.
    pub async fn job(&self, job_id: &str) -> Result<Job> {
        Job::from_document(self.get(JOBS, JOB_ID, job_id, &self.deadline()).await?)
    }

    /// The task `job_task_id`, or `NotFound`.
    pub async fn task(&self, job_task_id: &str) -> Result<JobTask> {
        JobTask::from_document(
            self.get(TASKS, TASK_ID, job_task_id, &self.deadline())
                .await?,
        )
    }

    /// The tasks of job `job_id`, in creation order.
    pub async fn tasks(&self, job_id: &str) -> Result<Vec<JobTask>> {
        let filter = Filter::all([Condition::eq(JOB_ID, job_id)]);
        self.store
            .find(TASKS, &filter, &self.deadline())
            .await?
            .into_iter()
            .map(JobTask::from_document)
            .collect()
    }

    async fn get(
        &self,
        collection: &str,
        field: &str,
        id: &str,
        deadline: &Deadline,
    ) -> Result<Document> {
        let filter = Filter::all([Condition::eq(field, id)]);
        self.store
            .find(collection, &filter, deadline)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotFound {
                key: field.to_string(),
                value: id.to_string(),
            })
    }

    /// The error for a conditional update of `id` that matched nothing: `NotFound`, or
    /// `InvalidState` naming the status found.
    async fn refused(
        &self,
        collection: &str,
        field: &str,
        id: &str,
        action: &str,
        deadline: &Deadline,
    ) -> Error {
        match self.get(collection, field, id, deadline).await {
            Ok(doc) => Error::InvalidState {
                resource: collection.to_string(),
                id: id.to_string(),
                status: doc.get_str("status").unwrap_or("(none)").to_string(),
                action: action.to_string(),
            },
            Err(e) => e,
        }
    }
}

/// An error as stored in `errors`.
fn error_document(error: &ErrorInfo) -> Bson {
    Bson::Document(bson::doc! {
        "error_code": &error.error_code,
        "message": &error.message,
        "additional": error.additional.clone(),
    })
}
