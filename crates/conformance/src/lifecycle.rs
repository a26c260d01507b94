//! The lifecycle suite: what every store must do under [`Lifecycle`], run by the memory,
//! embedded and MongoDB tests alike. Each check takes a fresh, empty store and panics with
//! what went wrong.

use spacejobs_core::lifecycle::{Counts, Lifecycle, NewJob, NewTask, Outcome, JOBS, TASKS};
use spacejobs_core::model::{ErrorInfo, JobStatus, JobTaskStatus};
use spacejobs_core::{Deadline, Error, Store};
use spacejobs_query::plan::Filter;
use spacejobs_query::time::{Clock, ManualClock};
use std::sync::Arc;
use std::time::Duration;

/// A job in `domain` with `tasks` tasks.
pub fn new_job(domain: &str, tasks: usize) -> NewJob {
    NewJob {
        domain_id: domain.to_string(),
        project_id: "project-1".to_string(),
        tasks: (0..tasks)
            .map(|i| NewTask {
                secret_id: format!("secret-{i}"),
                provider: "aws".to_string(),
                ..NewTask::default()
            })
            .collect(),
        ..NewJob::default()
    }
}

/// Every document of both lifecycle collections, to compare before and after a refusal.
pub async fn snapshot<S: Store + ?Sized>(store: &S) -> Vec<bson::Document> {
    let deadline = Deadline::after(Duration::from_secs(30));
    let mut all = Vec::new();
    for collection in [JOBS, TASKS] {
        let docs = store
            .find(collection, &Filter::default(), &deadline)
            .await
            .expect("find");
        all.extend(docs);
    }
    all
}

fn assert_invalid_state<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::InvalidState { .. }) => {}
        other => panic!("{what}: expected InvalidState, got {other:?}"),
    }
}

/// `rounds` times: a job of `tasks` tasks, all started, then all finished at once from as
/// many tokio tasks. `remained_tasks` ends at 0 and exactly one finish ends the job.
pub async fn concurrent_finishes<S: Store + ?Sized>(store: Arc<S>, rounds: usize, tasks: usize) {
    let lifecycle = Arc::new(Lifecycle::new(store));
    for round in 0..rounds {
        let (job, created) = lifecycle
            .create_job(new_job("domain-race", tasks))
            .await
            .expect("create");
        for task in &created {
            lifecycle
                .start_task(&task.job_task_id)
                .await
                .expect("start");
        }
        let finishes: Vec<_> = created
            .iter()
            .map(|task| {
                let (lifecycle, id) = (lifecycle.clone(), task.job_task_id.clone());
                tokio::spawn(async move { lifecycle.finish_task(&id, Outcome::Success).await })
            })
            .collect();
        let mut ended = 0;
        for finish in finishes {
            let done = finish.await.expect("join").expect("finish");
            ended += usize::from(done.finished_job);
        }
        let after = lifecycle.job(&job.job_id).await.expect("job");
        assert_eq!(ended, 1, "round {round}: {ended} finishes ended the job");
        assert_eq!(after.remained_tasks, 0, "round {round}: remained_tasks");
        assert_eq!(after.status, JobStatus::Success, "round {round}: status");
        assert!(after.finished_at.is_some(), "round {round}: finished_at");
        let states = lifecycle.tasks(&job.job_id).await.expect("tasks");
        assert!(states.iter().all(|t| t.status == JobTaskStatus::Success));
        // Keeps the collections small, so slow test servers take each round alike.
        lifecycle.delete_job(&job.job_id).await.expect("delete");
    }
}

/// A failed task, an error on a task, an error on the job: each ends the job ERROR; a job
/// without trouble ends SUCCESS; a job without tasks is SUCCESS at once. Counts add up and
/// errors keep their order.
pub async fn outcomes_and_accumulation<S: Store + ?Sized>(store: Arc<S>) {
    let lifecycle = Lifecycle::new(store);
    let error = |code: &str| ErrorInfo {
        error_code: code.to_string(),
        message: format!("{code} happened"),
        ..ErrorInfo::default()
    };
    for trouble in ["none", "failed task", "task error", "job error"] {
        let (job, tasks) = lifecycle
            .create_job(new_job("domain-o", 2))
            .await
            .expect("create");
        for task in &tasks {
            lifecycle
                .start_task(&task.job_task_id)
                .await
                .expect("start");
        }
        let (first, second) = (&tasks[0].job_task_id, &tasks[1].job_task_id);
        let counts = Counts {
            created: 2,
            updated: 1,
            ..Counts::default()
        };
        lifecycle.add_counts(first, counts).await.expect("counts");
        let task = lifecycle.add_counts(first, counts).await.expect("counts");
        assert_eq!(
            (task.created_count, task.updated_count),
            (4, 2),
            "counts add up"
        );
        match trouble {
            "task error" => {
                lifecycle
                    .add_task_error(second, &error("E1"))
                    .await
                    .expect("error");
                let task = lifecycle
                    .add_task_error(second, &error("E2"))
                    .await
                    .expect("error");
                let codes: Vec<_> = task.errors.iter().map(|e| e.error_code.as_str()).collect();
                assert_eq!(codes, ["E1", "E2"], "errors keep their order");
            }
            "job error" => {
                lifecycle
                    .add_job_error(&job.job_id, &error("J1"))
                    .await
                    .expect("job error");
            }
            _ => {}
        }
        lifecycle
            .finish_task(first, Outcome::Success)
            .await
            .expect("finish");
        let outcome = if trouble == "failed task" {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        let done = lifecycle
            .finish_task(second, outcome)
            .await
            .expect("finish");
        let want = if trouble == "none" {
            JobStatus::Success
        } else {
            JobStatus::Error
        };
        assert!(done.finished_job, "{trouble}: the last finish ends the job");
        assert_eq!(done.job.status, want, "{trouble}");
        assert_eq!(lifecycle.job(&job.job_id).await.expect("job").status, want);
    }
    let (empty, _) = lifecycle
        .create_job(new_job("domain-o", 0))
        .await
        .expect("create");
    assert_eq!(empty.status, JobStatus::Success);
    assert!(empty.finished_at.is_some());
}

/// Illegal transitions are `InvalidState` (or `NotFound`, or a parameter error) and leave
/// every document as it was.
pub async fn illegal_transitions_change_nothing<S: Store + ?Sized>(store: Arc<S>) {
    let lifecycle = Lifecycle::new(store.clone());
    let (job, tasks) = lifecycle
        .create_job(new_job("domain-i", 2))
        .await
        .expect("create");
    let (first, second) = (&tasks[0].job_task_id, &tasks[1].job_task_id);
    let before = snapshot(&*store).await;
    assert_invalid_state(
        lifecycle.finish_task(first, Outcome::Success).await,
        "finish PENDING",
    );
    assert_invalid_state(
        lifecycle.add_counts(first, Counts::default()).await,
        "counts PENDING",
    );
    match lifecycle
        .add_counts(
            first,
            Counts {
                created: -1,
                ..Counts::default()
            },
        )
        .await
    {
        Err(Error::InvalidParameterType { key, .. }) => assert_eq!(key, "created_count"),
        other => panic!("negative count: {other:?}"),
    }
    match lifecycle.start_task("job-task-000000000000").await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("unknown task: {other:?}"),
    }
    assert_eq!(
        snapshot(&*store).await,
        before,
        "refusals changed documents"
    );

    lifecycle.start_task(first).await.expect("start");
    lifecycle
        .finish_task(first, Outcome::Success)
        .await
        .expect("finish");
    let before = snapshot(&*store).await;
    assert_invalid_state(lifecycle.start_task(first).await, "SUCCESS -> IN_PROGRESS");
    assert_invalid_state(
        lifecycle.finish_task(first, Outcome::Failure).await,
        "finish twice",
    );
    assert_invalid_state(
        lifecycle.add_task_error(first, &ErrorInfo::default()).await,
        "error on a finished task",
    );
    assert_eq!(
        snapshot(&*store).await,
        before,
        "refusals changed documents"
    );

    lifecycle.cancel_job(&job.job_id).await.expect("cancel");
    let canceled = lifecycle.task(second).await.expect("task");
    assert_eq!(
        canceled.status,
        JobTaskStatus::Canceled,
        "cancel ends open tasks"
    );
    assert_eq!(
        lifecycle.task(first).await.expect("task").status,
        JobTaskStatus::Success
    );
    let before = snapshot(&*store).await;
    assert_invalid_state(lifecycle.cancel_job(&job.job_id).await, "cancel twice");
    assert_invalid_state(
        lifecycle.start_task(second).await,
        "start under a canceled job",
    );
    assert_invalid_state(
        lifecycle
            .add_job_error(&job.job_id, &ErrorInfo::default())
            .await,
        "error on a canceled job",
    );
    assert_eq!(
        snapshot(&*store).await,
        before,
        "refusals changed documents"
    );
}

/// `rounds` times: a job's last task finishing while the job is cancelled. Exactly one
/// wins; the loser gets `InvalidState`; the job shows the winner.
pub async fn cancel_races_finish<S: Store + ?Sized>(store: Arc<S>, rounds: usize) {
    // Atomic batches: a cancel that wins leaves no finished task under the canceled job.
    let atomic = store.batches_are_atomic().await;
    let lifecycle = Arc::new(Lifecycle::new(store));
    // How long a finish takes here, so the cancel's head start can cover it.
    let (job, tasks) = lifecycle
        .create_job(new_job("domain-c", 1))
        .await
        .expect("create");
    lifecycle
        .start_task(&tasks[0].job_task_id)
        .await
        .expect("start");
    let clock = std::time::Instant::now();
    lifecycle
        .finish_task(&tasks[0].job_task_id, Outcome::Success)
        .await
        .expect("finish");
    let finish_time = clock.elapsed();
    lifecycle.delete_job(&job.job_id).await.expect("delete");
    let (mut finishes, mut cancels, mut finished_under_canceled) = (0, 0, 0);
    for round in 0..rounds {
        let (job, tasks) = lifecycle
            .create_job(new_job("domain-c", 1))
            .await
            .expect("create");
        let id = tasks[0].job_task_id.clone();
        let task_id = id.clone();
        lifecycle.start_task(&id).await.expect("start");
        let (l1, l2, job_id) = (lifecycle.clone(), lifecycle.clone(), job.job_id.clone());
        let finish = tokio::spawn(async move { l1.finish_task(&id, Outcome::Success).await });
        // The cancel starts from 0 to 1.5 finishes late, spread over the rounds, so both
        // sides win some.
        let late = finish_time * u32::try_from(round % 10).unwrap_or(0) * 3 / 20;
        let cancel = tokio::spawn(async move {
            tokio::time::sleep(late).await;
            l2.cancel_job(&job_id).await
        });
        let (finish, cancel) = (finish.await.expect("join"), cancel.await.expect("join"));
        let status = lifecycle.job(&job.job_id).await.expect("job").status;
        match (finish, cancel) {
            (Ok(_), Err(Error::InvalidState { .. })) => {
                finishes += 1;
                assert_eq!(status, JobStatus::Success, "round {round}");
            }
            (Err(Error::InvalidState { .. }), Ok(_)) => {
                cancels += 1;
                assert_eq!(status, JobStatus::Canceled, "round {round}");
                let task = lifecycle.task(&task_id).await.expect("task").status;
                if atomic {
                    assert_eq!(
                        task,
                        JobTaskStatus::Canceled,
                        "round {round}: a finished task under a canceled job"
                    );
                } else if task != JobTaskStatus::Canceled {
                    finished_under_canceled += 1;
                }
            }
            (f, c) => panic!("round {round}: finish {f:?}, cancel {c:?}: exactly one must win"),
        }
        lifecycle.delete_job(&job.job_id).await.expect("delete");
    }
    println!(
        "cancel vs finish: finish won {finishes}, cancel won {cancels} of {rounds} \
         (atomic batches: {atomic}; a task left finished under the canceled job: \
         {finished_under_canceled})"
    );
}

/// The timeout sweep, with a clock moved by hand: jobs open past the timeout become TIMEOUT
/// with their open tasks CANCELED; finished, recent and other domains' jobs stay.
pub async fn timeout_sweep<S: Store + ?Sized>(store: Arc<S>) {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z")
        .expect("instant")
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(start));
    let lifecycle = Lifecycle::new(store).with_clock(clock.clone());
    let create = |domain: &'static str, tasks| lifecycle.create_job(new_job(domain, tasks));
    let (idle, _) = create("domain-t", 1).await.expect("create");
    let (running, running_tasks) = create("domain-t", 2).await.expect("create");
    lifecycle
        .start_task(&running_tasks[0].job_task_id)
        .await
        .expect("start");
    let (done, done_tasks) = create("domain-t", 1).await.expect("create");
    lifecycle
        .start_task(&done_tasks[0].job_task_id)
        .await
        .expect("start");
    lifecycle
        .finish_task(&done_tasks[0].job_task_id, Outcome::Success)
        .await
        .expect("finish");
    let (elsewhere, _) = create("domain-other", 1).await.expect("create");
    clock.advance(chrono::Duration::hours(2));
    let (recent, _) = create("domain-t", 1).await.expect("create");

    let hour = Duration::from_secs(3600);
    let ended = lifecycle
        .time_out_jobs(hour, Some("domain-t"))
        .await
        .expect("sweep");
    let mut ids: Vec<_> = ended.iter().map(|j| j.job_id.clone()).collect();
    ids.sort();
    let mut want = vec![idle.job_id.clone(), running.job_id.clone()];
    want.sort();
    assert_eq!(
        ids, want,
        "the sweep ends the stale open jobs of the domain"
    );
    for job in &ended {
        assert_eq!(job.status, JobStatus::Timeout);
        assert_eq!(
            job.finished_at.map(|d| d.to_chrono()),
            Some(Clock::now(&*clock))
        );
    }
    for task in lifecycle.tasks(&running.job_id).await.expect("tasks") {
        assert_eq!(
            task.status,
            JobTaskStatus::Canceled,
            "open tasks of a timed-out job"
        );
    }
    let status = |id: String| {
        let lifecycle = &lifecycle;
        async move { lifecycle.job(&id).await.expect("job").status }
    };
    assert_eq!(status(done.job_id.clone()).await, JobStatus::Success);
    assert_eq!(status(recent.job_id.clone()).await, JobStatus::Created);
    assert_eq!(status(elsewhere.job_id.clone()).await, JobStatus::Created);
    assert!(lifecycle
        .time_out_jobs(hour, Some("domain-t"))
        .await
        .expect("sweep")
        .is_empty());
    clock.advance(chrono::Duration::hours(2));
    let ended = lifecycle.time_out_jobs(hour, None).await.expect("sweep");
    assert_eq!(ended.len(), 2, "later, every domain's stale jobs");
}

/// Deleting a job removes it with its tasks; a second delete is `NotFound`.
pub async fn delete_removes_job_and_tasks<S: Store + ?Sized>(store: Arc<S>) {
    let lifecycle = Lifecycle::new(store);
    let (keep, _) = lifecycle
        .create_job(new_job("domain-d", 1))
        .await
        .expect("create");
    let (job, _) = lifecycle
        .create_job(new_job("domain-d", 3))
        .await
        .expect("create");
    assert_eq!(lifecycle.delete_job(&job.job_id).await.expect("delete"), 3);
    assert!(lifecycle
        .tasks(&job.job_id)
        .await
        .expect("tasks")
        .is_empty());
    match lifecycle.delete_job(&job.job_id).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("second delete: {other:?}"),
    }
    assert_eq!(lifecycle.tasks(&keep.job_id).await.expect("tasks").len(), 1);
}

/// Every check above, each on a fresh store from `fresh` (named after the check).
pub async fn run_all<S, F, Fut>(fresh: F, rounds: usize)
where
    S: Store + ?Sized,
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = Arc<S>>,
{
    outcomes_and_accumulation(fresh("outcomes").await).await;
    illegal_transitions_change_nothing(fresh("illegal").await).await;
    timeout_sweep(fresh("timeout").await).await;
    delete_removes_job_and_tasks(fresh("delete").await).await;
    cancel_races_finish(fresh("cancel_race").await, rounds).await;
    concurrent_finishes(fresh("finishes").await, rounds, 64).await;
}
