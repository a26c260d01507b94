//! Write command (not a test): `cargo bench -p inventory-job-task --bench writes`.
//!
//! Lifecycle transitions per second (create a job of 4 tasks, then start, count and finish
//! each task: 13 acknowledged writes a job) at 1, 16 and 64 concurrent writers, on the
//! embedded store (durable: every write synced before it is acknowledged) and in memory,
//! with, as the reference line, the disk's own syncs per second measured in the same
//! directory (a 4 KiB write and `fdatasync`, one after another). Beside each row, the p50 and
//! p99 of a read (a list: status filter, newest first, page of 20, over 50 000 JobTasks)
//! made by two readers while the writers run, and the same readers' figures with no writer.
//! Everything runs in this process, through the `Store` trait, on the same machine, with the
//! service binaries' allocator (mimalloc).
//!
//! Options (environment): `WRITES_SECONDS` per row (5), `WRITES_CLIENTS` (`1,16,64`),
//! `WRITES_STORES` (`embedded,memory`),
//! `WRITES_DIR` (a directory on the disk to measure; the system's temporary directory). A
//! whole run (neither of the last two given) is recorded as the "Writes" part of `BENCHMARKS.md`.

use serde_json::json;
use spacejobs_conformance::lifecycle::new_job;
use spacejobs_core::lifecycle::{Counts, Lifecycle, Outcome};
use spacejobs_core::{Deadline, Query, Store};
use spacejobs_embedded::EmbeddedStore;
use spacejobs_engine::MemoryStore;
use spacejobs_query::time::{Clock, SystemClock};
use spacejobs_query::{compile, ListPlan};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "report.rs"]
mod benchmarks_md;

const HEADING: &str = "## Writes";
const READ_DOCUMENTS: usize = 50_000;
const READERS: usize = 2;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The disk's syncs per second: a 4 KiB write then `fdatasync`, for `seconds`.
fn disk_syncs_per_second(dir: &Path, seconds: f64) -> f64 {
    let path = dir.join("syncs.probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    let block = vec![7u8; 4096];
    let started = Instant::now();
    let mut syncs = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        syncs += 1;
    }
    let rate = syncs as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);
    rate
}

fn read_plan() -> ListPlan {
    let query: Query = serde_json::from_value(json!({
        "filter": [{"k": "status", "v": "FAILURE", "o": "eq"}],
        "sort": {"key": "created_at", "desc": true},
        "page": {"start": 1, "limit": 20}
    }))
    .expect("query");
    compile::list(&query, &[], SystemClock.now()).expect("plan")
}

/// 50 000 JobTasks of other jobs, for the readers.
async fn seed<S: Store>(store: &S) {
    const STATUSES: [&str; 5] = ["PENDING", "CANCELED", "IN_PROGRESS", "SUCCESS", "FAILURE"];
    let start = 1_650_000_000_000i64;
    let docs = (0..READ_DOCUMENTS)
        .map(|i| {
            bson::doc! {
                "job_task_id": format!("job-task-seed-{i:08x}"),
                "status": STATUSES[i % 5],
                "job_id": format!("job-seed-{}", i / 10),
                "domain_id": "domain-seed",
                "project_id": "project-1",
                "created_count": 0, "updated_count": 0, "failure_count": 0,
                "deleted_count": 0, "disconnected_count": 0, "errors": [],
                "created_at": bson::DateTime::from_millis(start + i as i64 * 1000),
            }
        })
        .collect();
    store.insert("job_task", docs).await.expect("seed");
}

/// Read latencies in microseconds, sorted.
type Latencies = Vec<u64>;

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// Two readers listing until `stop`; their latencies.
fn readers<S: Store + 'static>(
    store: Arc<S>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Latencies>> {
    (0..READERS)
        .map(|_| {
            let (store, stop, plan) = (store.clone(), stop.clone(), read_plan());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    let deadline = Deadline::after(Duration::from_secs(30));
                    store
                        .list("job_task", &plan, &deadline)
                        .await
                        .expect("list");
                    seen.push(began.elapsed().as_micros() as u64);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen
            })
        })
        .collect()
}

async fn gather(handles: Vec<tokio::task::JoinHandle<Latencies>>) -> Latencies {
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("reader"));
    }
    all.sort_unstable();
    all
}

/// One job through its lifecycle; each acknowledged write counted.
async fn drive<S: Store + 'static>(lifecycle: &Lifecycle<S>, done: &AtomicU64) {
    let (_, tasks) = lifecycle
        .create_job(new_job("domain-writes", 4))
        .await
        .expect("create");
    done.fetch_add(1, Ordering::Relaxed);
    for task in tasks {
        let id = &task.job_task_id;
        lifecycle.start_task(id).await.expect("start");
        done.fetch_add(1, Ordering::Relaxed);
        let counts = Counts {
            created: 1,
            ..Counts::default()
        };
        lifecycle.add_counts(id, counts).await.expect("counts");
        done.fetch_add(1, Ordering::Relaxed);
        lifecycle
            .finish_task(id, Outcome::Success)
            .await
            .expect("finish");
        done.fetch_add(1, Ordering::Relaxed);
    }
}

struct Row {
    writers: usize,
    per_second: f64,
    read: (f64, f64),
    /// The longest read.
    worst: f64,
}

/// `writers` writers for `seconds` with the readers beside them.
async fn run_row<S: Store + 'static>(store: Arc<S>, writers: usize, seconds: f64) -> Row {
    let lifecycle = Arc::new(Lifecycle::new(store.clone()));
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let reading = readers(store, stop.clone());
    let began = Instant::now();
    let writing: Vec<_> = (0..writers)
        .map(|_| {
            let (lifecycle, stop, done) = (lifecycle.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    drive(&lifecycle, &done).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let counted = done.load(Ordering::Relaxed);
    let elapsed = began.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in writing {
        w.await.expect("writer");
    }
    let read = gather(reading).await;
    Row {
        writers,
        per_second: counted as f64 / elapsed,
        read: (percentile(&read, 0.5), percentile(&read, 0.99)),
        worst: percentile(&read, 1.0),
    }
}

async fn idle<S: Store + 'static>(store: Arc<S>, seconds: f64) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let reading = readers(store, stop.clone());
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let read = gather(reading).await;
    (percentile(&read, 0.5), percentile(&read, 0.99))
}

async fn store_rows<S: Store + 'static>(
    name: &str,
    store: Arc<S>,
    clients: &[usize],
    seconds: f64,
) -> Vec<String> {
    seed(&*store).await;
    let (idle50, idle99) = idle(store.clone(), seconds).await;
    println!("{name}: idle reads p50 {idle50:.2} ms, p99 {idle99:.2} ms");
    let mut lines = Vec::new();
    for &writers in clients {
        let row = run_row(store.clone(), writers, seconds).await;
        let line = format!(
            "| {name} | {} | {:.0} | {:.2} / {:.2} / {:.1} ms | {:.2} / {:.2} ms | {:.1}x |",
            row.writers,
            row.per_second,
            row.read.0,
            row.read.1,
            row.worst,
            idle50,
            idle99,
            row.read.1 / idle99.max(0.001),
        );
        println!("{line}");
        lines.push(line);
    }
    lines
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds = env_number("WRITES_SECONDS", 5) as f64;
    let whole = std::env::var("WRITES_CLIENTS").is_err() && std::env::var("WRITES_STORES").is_err();
    let clients: Vec<usize> = std::env::var("WRITES_CLIENTS")
        .unwrap_or_else(|_| "1,16,64".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let base = std::env::var_os("WRITES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("spacejobs-writes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let syncs = disk_syncs_per_second(&dir, 3.0);
    println!(
        "disk: {syncs:.0} syncs/s (4 KiB write + fdatasync) in {}",
        dir.display()
    );

    let stores = std::env::var("WRITES_STORES").unwrap_or_else(|_| "embedded,memory".into());
    let mut lines = Vec::new();
    if stores.contains("embedded") {
        let embedded = Arc::new(EmbeddedStore::open(&dir.join("store")).expect("open"));
        lines.extend(store_rows("embedded (durable)", embedded, &clients, seconds).await);
    }
    if stores.contains("memory") {
        let memory = Arc::new(MemoryStore::new());
        lines.extend(store_rows("memory", memory, &clients, seconds).await);
    }
    let _ = std::fs::remove_dir_all(&dir);

    if whole {
        let text = format!(
            "{HEADING}\n\n`cargo bench -p inventory-job-task --bench writes` on {machine}, {date}. \
             Lifecycle transitions a second (a job of 4 tasks created, then each task started, \
             counted and finished: 13 acknowledged writes a job) by concurrent writers through \
             the `Store` trait; reads are lists (status filter, newest first, page of 20) over \
             {READ_DOCUMENTS} JobTasks by {READERS} readers during the writes, beside the same \
             readers with no writer. The disk here makes {syncs:.0} syncs a second (4 KiB write + \
             fdatasync): a durable store that syncs once per write cannot pass that.\n\n\
             | store | writers | transitions/s | read p50 / p99 / worst (writing) | read p50 / p99 (idle) | p99 writing ÷ idle |\n\
             |---|---|---|---|---|---|\n{rows}\n",
            machine = benchmarks_md::machine(),
            date = date(),
            rows = lines.join("\n"),
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        benchmarks_md::write(&root, Some(HEADING), &text);
    }
}

fn date() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "today".into(), |s| s.trim().to_string())
}
