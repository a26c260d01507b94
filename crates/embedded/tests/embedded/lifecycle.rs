//! The lifecycle on the embedded store: the shared suite, a reopen that shows every change,
//! and a writer killed with SIGKILL in the middle of lifecycle writes.

use super::temp_dir;
use spacejobs_conformance::lifecycle::{new_job, run_all, snapshot};
use spacejobs_core::lifecycle::{Counts, Lifecycle, Outcome};
use spacejobs_core::model::{Job, JobStatus, JobTask, JobTaskStatus};
use spacejobs_embedded::EmbeddedStore;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

const LIFECYCLE_WRITER_ENV: &str = "SPACEJOBS_LIFECYCLE_WRITER_DIR";
/// Concurrent writers in the killed process.
const WRITERS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_suite_on_the_embedded_store() {
    let root = temp_dir("lifecycle");
    let fresh = |name: &'static str| {
        let dir = root.join(name);
        async move { Arc::new(EmbeddedStore::open(&dir).expect("open")) }
    };
    run_all(fresh, 50).await;
    // What the suite wrote (updates, cancels, deletes) reads back the same after a reopen.
    for name in [
        "outcomes",
        "illegal",
        "timeout",
        "delete",
        "cancel_race",
        "finishes",
    ] {
        let dir = root.join(name);
        let before = snapshot(&*Arc::new(EmbeddedStore::open(&dir).expect("open"))).await;
        // The race checks delete each round's job: they end empty.
        let emptied = ["cancel_race", "finishes"].contains(&name);
        assert_eq!(
            before.is_empty(),
            emptied,
            "{name}: {} documents",
            before.len()
        );
        let store = EmbeddedStore::open(&dir).expect("reopen");
        assert_eq!(snapshot(&store).await, before, "{name}: reopen differs");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The child side of the kill test: 64 workers drive jobs through their lifecycle at once
/// (their writes share group commits), printing each acknowledged change, until the process
/// is killed.
async fn lifecycle_writer(dir: &Path) {
    let store = Arc::new(EmbeddedStore::open(dir).expect("open"));
    let lifecycle = Arc::new(Lifecycle::new(store));
    let workers: Vec<_> = (0..WRITERS)
        .map(|worker| {
            let lifecycle = lifecycle.clone();
            tokio::spawn(async move {
                for round in 0usize.. {
                    drive(&lifecycle, worker * 1_000_000 + round).await;
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
}

/// One job: created, tasks started, counted and finished; every third cancelled halfway,
/// every seventh deleted at the end.
async fn drive(lifecycle: &Lifecycle<EmbeddedStore>, round: usize) {
    let (job, tasks) = lifecycle
        .create_job(new_job("domain-kill", 4))
        .await
        .expect("create");
    let deleting = round % 7 == 6;
    println!("ack job {} CREATED {}", job.job_id, u8::from(deleting));
    for (i, task) in tasks.iter().enumerate() {
        let id = &task.job_task_id;
        if round % 3 == 2 && i == 2 {
            lifecycle.cancel_job(&job.job_id).await.expect("cancel");
            println!("ack job {} CANCELED", job.job_id);
            return;
        }
        lifecycle.start_task(id).await.expect("start");
        println!("ack task {id} IN_PROGRESS {}", job.job_id);
        let counts = Counts {
            created: 1,
            ..Counts::default()
        };
        lifecycle.add_counts(id, counts).await.expect("counts");
        println!("ack count {id} 1 {}", job.job_id);
        let outcome = if round % 5 == 4 && i == 3 {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        let done = lifecycle.finish_task(id, outcome).await.expect("finish");
        println!("ack task {id} FINISHED {}", job.job_id);
        if done.finished_job {
            println!("ack job {} FINISHED", job.job_id);
        }
    }
    if deleting {
        lifecycle.delete_job(&job.job_id).await.expect("delete");
        println!("ack job {} DELETED", job.job_id);
    }
}

fn task_rank(status: JobTaskStatus) -> u8 {
    match status {
        JobTaskStatus::Pending => 0,
        JobTaskStatus::InProgress => 1,
        _ => 2,
    }
}

fn job_rank(status: JobStatus) -> u8 {
    match status {
        JobStatus::Created => 0,
        JobStatus::InProgress => 1,
        _ => 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_writes_survive_kill_9_whole() {
    if let Ok(dir) = std::env::var(LIFECYCLE_WRITER_ENV) {
        lifecycle_writer(Path::new(&dir)).await;
        return;
    }
    let dir = temp_dir("lifecycle-kill");
    // Five writers in turn on the same store, each killed at a different point.
    for run in 0..5u32 {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let acks = killed_writer(&dir, 300 + (seed % 1500) as usize + run as usize);
        check_after_kill(&dir, &acks).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the writer on `dir` and kills it with SIGKILL after `after` acknowledgements.
fn killed_writer(dir: &Path, after: usize) -> Vec<String> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "lifecycle::lifecycle_writes_survive_kill_9_whole",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LIFECYCLE_WRITER_ENV, dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut acks = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        // The first line follows the test harness's "test … ... " without a line break.
        if let Some(at) = line.find("ack ") {
            acks.push(line[at + 4..].to_string());
        }
        if acks.len() == after {
            break;
        }
    }
    child.kill().expect("SIGKILL"); // in the middle of the workers' writes
    let _ = child.wait();
    assert_eq!(acks.len(), after, "the writer stopped early");
    acks
}

/// Reopens `dir` and checks every acknowledged change is there and nothing is half-done.
async fn check_after_kill(dir: &Path, acks: &[String]) {
    let store = EmbeddedStore::open(dir).expect("reopen after the crash");
    let docs = snapshot(&store).await;
    let mut jobs: HashMap<String, Job> = HashMap::new();
    let mut tasks: Vec<JobTask> = Vec::new();
    for doc in docs {
        if doc.contains_key("job_task_id") {
            tasks.push(JobTask::from_document(doc).expect("task"));
        } else {
            let job = Job::from_document(doc).expect("job");
            jobs.insert(job.job_id.clone(), job);
        }
    }
    let task_by_id: HashMap<&str, &JobTask> =
        tasks.iter().map(|t| (t.job_task_id.as_str(), t)).collect();
    // Jobs the writer deletes in the end may be gone, acknowledged or not.
    let deleting: Vec<&str> = acks
        .iter()
        .filter_map(|a| a.strip_prefix("job ")?.strip_suffix(" CREATED 1"))
        .collect();
    // Every acknowledged change is there (or a later one the writer made before the kill).
    for ack in acks {
        let parts: Vec<&str> = ack.split(' ').collect();
        match parts.as_slice() {
            ["job", id, "CREATED", deleting] => {
                assert!(jobs.contains_key(*id) || *deleting == "1", "job {id} lost");
            }
            ["job", id, "DELETED"] => assert!(!jobs.contains_key(*id), "job {id} came back"),
            ["job", id, "CANCELED" | "FINISHED"] => {
                if let Some(job) = jobs.get(*id) {
                    assert_eq!(
                        job_rank(job.status),
                        2,
                        "job {id} not ended: {:?}",
                        job.status
                    );
                }
            }
            ["task", id, status, job] => match task_by_id.get(id) {
                Some(task) => {
                    let want = if *status == "IN_PROGRESS" { 1 } else { 2 };
                    assert!(task_rank(task.status) >= want, "task {id} went back");
                }
                None => assert!(deleting.contains(job), "task {id} lost"),
            },
            ["count", id, n, job] => match task_by_id.get(id) {
                Some(task) => {
                    let n: i32 = n.parse().expect("n");
                    assert!(task.created_count >= n, "count of {id} lost");
                }
                None => assert!(deleting.contains(job), "task {id} lost"),
            },
            other => panic!("unexpected ack {other:?}"),
        }
    }
    // Nothing half-done: every job agrees with its tasks, and no task lacks its job.
    let mut of_job: HashMap<&str, Vec<&JobTask>> = HashMap::new();
    for task in &tasks {
        assert!(
            jobs.contains_key(&task.job_id),
            "task {} has no job",
            task.job_task_id
        );
        of_job.entry(task.job_id.as_str()).or_default().push(task);
    }
    for job in jobs.values() {
        let mine = of_job.remove(job.job_id.as_str()).unwrap_or_default();
        assert_eq!(
            mine.len() as i32,
            job.total_tasks,
            "job {} tasks",
            job.job_id
        );
        let open = mine.iter().filter(|t| task_rank(t.status) < 2).count() as i32;
        let finished = mine
            .iter()
            .filter(|t| matches!(t.status, JobTaskStatus::Success | JobTaskStatus::Failure))
            .count() as i32;
        match job.status {
            JobStatus::Created | JobStatus::InProgress => {
                assert_eq!(
                    job.remained_tasks, open,
                    "job {} remained_tasks",
                    job.job_id
                );
                assert_eq!(job.total_tasks - finished, open, "job {}", job.job_id);
            }
            JobStatus::Canceled => {
                assert_eq!(open, 0, "canceled job {} has open tasks", job.job_id)
            }
            JobStatus::Success | JobStatus::Error => {
                assert_eq!((job.remained_tasks, open), (0, 0), "job {}", job.job_id);
                let failed = mine.iter().any(|t| t.status == JobTaskStatus::Failure);
                assert_eq!(
                    job.status == JobStatus::Error,
                    failed,
                    "job {} outcome",
                    job.job_id
                );
            }
            JobStatus::Timeout => panic!("no sweep ran"),
        }
    }
    println!(
        "after SIGKILL: {} jobs, {} tasks consistent with {} acks",
        jobs.len(),
        tasks.len(),
        acks.len()
    );
}

#[tokio::test]
async fn what_the_lifecycle_writes_the_services_answer_after_a_reopen() {
    let dir = temp_dir("lifecycle-scenario");
    spacejobs_conformance::scenario::build(Arc::new(EmbeddedStore::open(&dir).expect("open")))
        .await;
    let store = Arc::new(EmbeddedStore::open(&dir).expect("reopen"));
    spacejobs_conformance::scenario::run(store, "lifecycle, embedded (reopened)").await;
    let _ = std::fs::remove_dir_all(&dir);
}
