//! Soak command (not a test): `cargo bench -p spacejobs-server --bench soak`.
//!
//! One process serves the inventory JobTask service on 127.0.0.1 over an embedded store, as
//! an embedding user would run it, and for `SOAK_MINUTES` (60) keeps a mixed load on it:
//! gRPC readers (`list` and `stat` of one domain), lifecycle writers on the same store (jobs
//! of 4 tasks created, started, counted, finished, then deleted), an import of 1,000 JobTasks
//! every 10 s (the batch of three imports before is deleted, so the data stays the same
//! size), and an export of a domain through `GET …/export` every 30 s. Every minute it
//! prints the process's resident memory, its open files, the JobTasks stored and the size
//! of the database file, the reads' p99 in that minute, the writes, imports and exports
//! made, and the errors seen; at the end a summary, exiting 1 on
//! any error. Loopback only, bounded in time. Options: `SOAK_MINUTES`, `SOAK_READERS` (8),
//! `SOAK_WRITERS` (16). It runs on the service binaries' allocator (mimalloc), as the image
//! does.

use serde_json::json;
use spacejobs_conformance::lifecycle::new_job;
use spacejobs_core::lifecycle::{Counts, Lifecycle, Outcome};
use spacejobs_core::{Deadline, JobService, Service, Store};
use spacejobs_embedded::EmbeddedStore;
use spacejobs_proto::inventory::job_task_client::JobTaskClient;
use spacejobs_proto::inventory::{JobTaskQuery, JobTaskStatQuery};
use spacejobs_query::plan::{Condition, Filter};
use spacejobs_server::ServerConfig;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DOMAIN: &str = "domain-soak";
const SEED: usize = 20_000;
const IMPORT: usize = 1_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the workers count, read and reset once a minute.
#[derive(Default)]
struct Tally {
    reads: Mutex<Vec<u64>>,
    writes: AtomicU64,
    imports: AtomicU64,
    exports: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Tally {
    fn error(&self, what: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(what.to_string());
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn list_request() -> JobTaskQuery {
    let query: spacejobs_core::Query = serde_json::from_value(json!({
        "filter": [{"k": "status", "v": "FAILURE", "o": "eq"}],
        "sort": {"key": "created_at", "desc": true},
        "page": {"start": 1, "limit": 20}
    }))
    .expect("query");
    JobTaskQuery {
        query: Some(spacejobs_server::convert::query_to_proto(&query)),
        domain_id: DOMAIN.into(),
        ..Default::default()
    }
}

fn stat_request() -> JobTaskStatQuery {
    let query: spacejobs_core::StatisticsQuery = serde_json::from_value(json!({
        "aggregate": [{"group": {"keys": [{"key": "status", "name": "status"}],
                                 "fields": [{"operator": "count", "name": "count"}]}}]
    }))
    .expect("query");
    JobTaskStatQuery {
        query: Some(spacejobs_server::convert::statistics_query_to_proto(&query)),
        domain_id: DOMAIN.into(),
    }
}

/// JobTasks of import batch `batch`, with ids of their own.
fn batch_documents(batch: u64) -> Vec<bson::Document> {
    let mut docs = spacejobs_conformance::cost::documents(IMPORT, DOMAIN);
    for (i, doc) in docs.iter_mut().enumerate() {
        doc.insert("job_task_id", format!("job-task-import-{batch}-{i}"));
        doc.insert("import_batch", batch as i64);
    }
    docs
}

async fn reader(addr: std::net::SocketAddr, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let channel = match tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
    {
        Ok(channel) => channel,
        Err(e) => return tally.error(format!("connect: {e}")),
    };
    let mut client = JobTaskClient::new(channel);
    let (list, stat) = (list_request(), stat_request());
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let began = Instant::now();
        let answer = if n % 2 == 0 {
            client.list(list.clone()).await.map(|_| ())
        } else {
            client.stat(stat.clone()).await.map(|_| ())
        };
        match answer {
            Ok(()) => {
                let us = began.elapsed().as_micros() as u64;
                tally
                    .reads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(us);
            }
            Err(status) => tally.error(format!("read: {status:?}")),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn writer(
    lifecycle: Arc<Lifecycle<EmbeddedStore>>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = one_job(&lifecycle, &tally).await {
            tally.error(format!("lifecycle: {e}"));
        }
    }
}

async fn one_job(
    lifecycle: &Lifecycle<EmbeddedStore>,
    tally: &Tally,
) -> spacejobs_core::Result<()> {
    let (job, tasks) = lifecycle.create_job(new_job(DOMAIN, 4)).await?;
    tally.writes.fetch_add(1, Ordering::Relaxed);
    for task in tasks {
        let id = &task.job_task_id;
        lifecycle.start_task(id).await?;
        let counts = Counts {
            created: 1,
            ..Counts::default()
        };
        lifecycle.add_counts(id, counts).await?;
        lifecycle.finish_task(id, Outcome::Success).await?;
        tally.writes.fetch_add(3, Ordering::Relaxed);
    }
    lifecycle.delete_job(&job.job_id).await?;
    tally.writes.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn importer(store: Arc<EmbeddedStore>, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    for batch in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match store.insert("job_task", batch_documents(batch)).await {
            Ok(()) => tally.imports.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                tally.error(format!("import: {e}"));
                0
            }
        };
        if let Some(old) = batch.checked_sub(3) {
            let filter = Filter::all([Condition::eq("import_batch", old as i64)]);
            let deadline = Deadline::after(Duration::from_secs(30));
            match store.delete("job_task", &filter, &deadline).await {
                Ok(n) if n == IMPORT as u64 => {}
                Ok(n) => tally.error(format!("batch {old}: deleted {n}")),
                Err(e) => tally.error(format!("delete batch {old}: {e}")),
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

async fn exporter(url: String, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    while !stop.load(Ordering::Relaxed) {
        let answer = client.get(format!("{url}?domain_id={DOMAIN}")).send().await;
        match answer {
            Ok(a) if a.status().is_success() => match a.text().await {
                Ok(text) if text.lines().count() >= SEED => {
                    tally.exports.fetch_add(1, Ordering::Relaxed);
                }
                Ok(text) => tally.error(format!("export: {} lines", text.lines().count())),
                Err(e) => tally.error(format!("export body: {e}")),
            },
            Ok(a) => tally.error(format!("export: HTTP {}", a.status())),
            Err(e) => tally.error(format!("export: {e}")),
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

#[tokio::main]
async fn main() {
    let minutes = env_number("SOAK_MINUTES", 60);
    let readers = env_number("SOAK_READERS", 8);
    let writers = env_number("SOAK_WRITERS", 16);
    let dir = std::env::temp_dir().join(format!("spacejobs-soak-{}", std::process::id()));
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open the store"));
    store
        .insert(
            "job_task",
            spacejobs_conformance::cost::documents(SEED, DOMAIN),
        )
        .await
        .expect("seed");
    let shared: Arc<dyn Store> = store.clone();
    let service = Arc::new(JobService::new(Service::Inventory, shared));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = ServerConfig {
        enable_export: true,
        ..ServerConfig::default()
    };
    tokio::spawn(async move {
        spacejobs_server::run_with(listener, service, &config, std::future::pending()).await
    });
    println!(
        "soak: {minutes} min on {addr}: {readers} gRPC readers, {writers} lifecycle writers, \
         an import of {IMPORT} every 10 s, an export every 30 s; store in {}",
        dir.display()
    );

    let (tally, stop) = (Arc::new(Tally::default()), Arc::new(AtomicBool::new(false)));
    let lifecycle = Arc::new(Lifecycle::new(store.clone()));
    let mut tasks = Vec::new();
    for _ in 0..readers {
        tasks.push(tokio::spawn(reader(addr, tally.clone(), stop.clone())));
    }
    for _ in 0..writers {
        tasks.push(tokio::spawn(writer(
            lifecycle.clone(),
            tally.clone(),
            stop.clone(),
        )));
    }
    tasks.push(tokio::spawn(importer(
        store.clone(),
        tally.clone(),
        stop.clone(),
    )));
    let url = format!("http://{addr}/inventory/v1/job-tasks/export");
    tasks.push(tokio::spawn(exporter(url, tally.clone(), stop.clone())));

    println!(
        "| minute | RSS MiB | open files | JobTasks | file MiB | reads | read p99 ms | writes | imports | exports | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let (mut first, mut last) = (None, (0.0, 0));
    let mut errors = 0;
    for minute in 1..=minutes {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut reads = std::mem::take(&mut *tally.reads.lock().unwrap_or_else(|e| e.into_inner()));
        reads.sort_unstable();
        let p99 = reads
            .get((reads.len() as f64 * 0.99) as usize)
            .or(reads.last())
            .map_or(0.0, |&us| us as f64 / 1000.0);
        let (rss, files) = (rss_mib(), open_files());
        let tasks_stored = store.count("job_task").await;
        let file_mib = std::fs::metadata(dir.join(spacejobs_embedded::DATABASE_FILE))
            .map_or(0.0, |m| m.len() as f64 / (1 << 20) as f64);
        let minute_errors = tally.errors.swap(0, Ordering::Relaxed);
        errors += minute_errors;
        println!(
            "| {minute} | {rss:.0} | {files} | {tasks_stored} | {file_mib:.0} | {} | {p99:.2} | {} | {} | {} | {minute_errors} |",
            reads.len(),
            tally.writes.swap(0, Ordering::Relaxed),
            tally.imports.swap(0, Ordering::Relaxed),
            tally.exports.swap(0, Ordering::Relaxed),
        );
        if let Some(e) = tally
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            println!("  last error: {e}");
        }
        first.get_or_insert((rss, files));
        last = (rss, files);
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    let (rss0, files0) = first.unwrap_or_default();
    println!(
        "soak summary: {minutes} min; RSS {rss0:.0} -> {:.0} MiB (minute 1 -> {minutes}); open files \
         {files0} -> {}; errors {errors}",
        last.0, last.1
    );
    let _ = std::fs::remove_dir_all(&dir);
    if errors > 0 {
        std::process::exit(1);
    }
}
