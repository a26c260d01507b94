//! Load command (not a test): `cargo bench -p inventory-job-task --bench load`.
//!
//! Starts the release binary on loopback over a fresh embedded store with 100 k demo JobTasks,
//! then for 1, 16 and 64 concurrent gRPC clients (one connection each) runs `list` (a status
//! filter, page of 20), `stat` (group by status with count) and, as the transport's ceiling,
//! `grpc.health.v1.Health/Check` (no work at all) for a few seconds each, while a
//! separate client checks `grpc.health.v1.Health/Check` every 20 ms; each row is run again
//! with h2load as the clients when it is installed (see `h2load.rs`). Prints throughput,
//! p50/p99 latency, the CPU time the server and the clients spend per request, the health
//! check's latency under that load beside its idle latency (as a ratio), and the server's
//! resident memory before and after. Everything is bounded in time and sends traffic to
//! 127.0.0.1 only.
//!
//! Options (environment): `LOAD_DOCUMENTS` (100000), `LOAD_SECONDS` per run (5),
//! `LOAD_METHODS` (`health,list,stat`), `LOAD_CLIENTS` (`1,16,64`). A whole run (neither of
//! the last two given) is recorded as the "Load" part of `BENCHMARKS.md`.
//!
//! `LOAD_COMPARE=target/image/inventory-job-task` (the container image's binary, built by
//! `scripts/image`) runs every row on this build and on that one, each on its own server
//! with the same documents, alternating for `LOAD_ROUNDS` (3) rounds, and prints the medians
//! side by side with their ratios; a whole run is recorded as the "Container image" part.

use prost::Message;
use serde_json::json;
use spacejobs_proto::inventory::{JobTaskQuery, JobTaskStatQuery};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[path = "report.rs"]
mod benchmarks_md;
#[path = "h2load.rs"]
mod h2load;
#[path = "../tests/support/mod.rs"]
mod support;

const DOMAIN: &str = "domain-demo";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time process `pid` has used so far (all threads, user and system).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    h2load::stat_seconds(&stat, 14).unwrap_or(0.0)
}

/// The machine's CPU time so far by state (the `cpu` line of /proc/stat: user, nice, system,
/// idle, iowait, irq, softirq, steal …), in clock ticks.
fn machine_ticks() -> Vec<u64> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    line.split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The share of the machine's CPU time the hypervisor took (steal) between two readings of
/// [`machine_ticks`], in percent: a virtual machine runs slower by about that much.
fn steal_percent(before: &[u64], after: &[u64]) -> f64 {
    let delta: Vec<u64> = after
        .iter()
        .zip(before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let total: u64 = delta.iter().take(8).sum();
    let steal = delta.get(7).copied().unwrap_or(0);
    100.0 * steal as f64 / total.max(1) as f64
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn list_request() -> JobTaskQuery {
    let query: spacejobs_core::Query = serde_json::from_value(json!({
        "filter": [{"k": "status", "v": "FAILURE", "o": "eq"}],
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

async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

/// Health-check latencies sampled every 20 ms until `until`.
async fn probe_health(addr: SocketAddr, until: Instant) -> Vec<Duration> {
    let mut health = HealthClient::new(connect(addr).await);
    let mut samples = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        health
            .check(HealthCheckRequest::default())
            .await
            .expect("health");
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples.sort();
    samples
}

/// The answer of `list` as the load clients read it: `total_count` (field 2) alone. The
/// documents (field 1) are skipped, not decoded, so that the clients, which share the machine
/// with the server, spend their time sending requests rather than building messages.
#[derive(Clone, PartialEq, prost::Message)]
struct ListedCount {
    #[prost(int32, tag = "2")]
    total_count: i32,
}

/// One call of `method`; true when it succeeded (a list must find documents).
async fn call(
    grpc: &mut tonic::client::Grpc<Channel>,
    method: &str,
    list: &JobTaskQuery,
    stat: &JobTaskStatQuery,
) -> bool {
    use tonic::codegen::http::uri::PathAndQuery;
    use tonic_prost::ProstCodec;
    if grpc.ready().await.is_err() {
        return false;
    }
    match method {
        "list" => grpc
            .unary(
                tonic::Request::new(list.clone()),
                PathAndQuery::from_static("/spaceone.api.inventory.v1.JobTask/list"),
                ProstCodec::<JobTaskQuery, ListedCount>::default(),
            )
            .await
            .is_ok_and(|r| r.get_ref().total_count > 0),
        "stat" => grpc
            .unary(
                tonic::Request::new(stat.clone()),
                PathAndQuery::from_static("/spaceone.api.inventory.v1.JobTask/stat"),
                ProstCodec::<JobTaskStatQuery, prost_types::Struct>::default(),
            )
            .await
            .is_ok(),
        _ => grpc
            .unary(
                tonic::Request::new(HealthCheckRequest::default()),
                PathAndQuery::from_static("/grpc.health.v1.Health/Check"),
                ProstCodec::<HealthCheckRequest, tonic_health::pb::HealthCheckResponse>::default(),
            )
            .await
            .is_ok(),
    }
}

/// Runs `clients` concurrent clients of `method` for `seconds`; latencies and errors.
async fn run(
    addr: SocketAddr,
    method: &str,
    clients: usize,
    seconds: u64,
) -> (Vec<Duration>, usize) {
    let until = Instant::now() + Duration::from_secs(seconds);
    let (list, stat) = (list_request(), stat_request());
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut grpc = tonic::client::Grpc::new(connect(addr).await);
        let (method, list, stat) = (method.to_string(), list.clone(), stat.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < until {
                let started = Instant::now();
                let ok = call(&mut grpc, &method, &list, &stat).await;
                latencies.push(started.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.expect("join");
        all.extend(latencies);
        errors += e;
    }
    all.sort();
    (all, errors)
}

/// One measured row: a method at a number of clients, driven by tonic or h2load.
#[derive(Debug, Clone)]
struct Row {
    label: String,
    clients: usize,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    server_us: f64,
    clients_us: f64,
    health_p50_ms: f64,
    health_p99_ms: f64,
    steal_percent: f64,
}

/// A server under load: its address and process id.
#[derive(Debug, Clone, Copy)]
struct Target {
    addr: SocketAddr,
    pid: u32,
}

/// Runs `clients` clients of `method` against `target` for `seconds` (by h2load when
/// `by_h2load`), with the health probe beside them.
async fn measure(
    target: Target,
    method: &str,
    clients: usize,
    seconds: u64,
    by_h2load: bool,
) -> Row {
    let Target { addr, pid } = target;
    let until = Instant::now() + Duration::from_secs(seconds);
    let health = tokio::spawn(probe_health(addr, until));
    let started = Instant::now();
    let cpu_before = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let ticks_before = machine_ticks();
    let (latencies, errors, h2load_cpu) = if by_h2load {
        let message = match method {
            "list" => list_request().encode_to_vec(),
            "stat" => stat_request().encode_to_vec(),
            _ => HealthCheckRequest::default().encode_to_vec(),
        };
        let (path, frame) = h2load::request(method, &message);
        let outcome = tokio::task::spawn_blocking(move || {
            h2load::run(addr, (path, &frame), clients, seconds)
        })
        .await
        .expect("join")
        .expect("h2load runs");
        (outcome.latencies, outcome.errors, outcome.cpu_seconds)
    } else {
        let (latencies, errors) = run(addr, method, clients, seconds).await;
        (latencies, errors, 0.0)
    };
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let steal_percent = steal_percent(&ticks_before, &machine_ticks());
    let requests = latencies.len().max(1) as f64;
    let health = health.await.expect("join");
    Row {
        label: if by_h2load {
            format!("{method} (h2load)")
        } else {
            method.to_string()
        },
        clients,
        requests_per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        errors,
        server_us: (cpu_after.0 - cpu_before.0) * 1e6 / requests,
        clients_us: (cpu_after.1 - cpu_before.1 + h2load_cpu) * 1e6 / requests,
        health_p50_ms: percentile(&health, 0.5),
        health_p99_ms: percentile(&health, 0.99),
        steal_percent,
    }
}

/// The admission limits the server runs with: every client is of one domain, and at the
/// defaults (64 requests at once, 32 of a domain) the rows of 64 clients would count fast
/// refusals (RESOURCE_EXHAUSTED) among their requests, which h2load cannot tell apart.
const ADMIT_ALL: [&str; 4] = [
    "--max-in-flight",
    "256",
    "--max-in-flight-per-domain",
    "256",
];

/// Starts a server with `documents` demo JobTasks: the process and where it serves.
fn serve(binary: &str, label: &str, documents: usize) -> (support::Server, Target) {
    let server = support::start_binary(binary, label, documents, &ADMIT_ALL);
    let target = Target {
        addr: server.addr,
        pid: server.child.id(),
    };
    (server, target)
}

/// The rows to run: every method, client count and driver asked for.
fn plan(h2load: bool) -> Vec<(String, usize, bool)> {
    // `health` is the transport's own ceiling on this machine: a gRPC call doing no work.
    let methods = env_list("LOAD_METHODS", "health,list,stat");
    let client_counts: Vec<usize> = env_list("LOAD_CLIENTS", "1,16,64")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    let drivers: &[bool] = if h2load { &[false, true] } else { &[false] };
    let mut rows = Vec::new();
    for method in &methods {
        for &clients in &client_counts {
            for &by_h2load in drivers {
                rows.push((method.clone(), clients, by_h2load));
            }
        }
    }
    rows
}

/// Checks each method answers through tonic before it is loaded.
async fn check_methods(target: Target, rows: &[(String, usize, bool)]) {
    for (method, _, _) in rows {
        let mut check = tonic::client::Grpc::new(connect(target.addr).await);
        let answers = call(&mut check, method, &list_request(), &stat_request()).await;
        assert!(
            answers,
            "{method} answers through tonic before it is loaded"
        );
    }
}

/// True when every method and client count ran (the run is recorded).
fn whole_run() -> bool {
    ["LOAD_METHODS", "LOAD_CLIENTS"]
        .iter()
        .all(|name| std::env::var_os(name).is_none())
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench` asks benches to list themselves.
    }
    let documents = env_number("LOAD_DOCUMENTS", 100_000);
    let seconds = env_number("LOAD_SECONDS", 5);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let h2load = h2load::available(&root);
    if !h2load {
        println!("(h2load is not installed and could not be: its rows are left out)");
    }
    println!("loading {documents} demo JobTasks …");
    let documents_count = usize::try_from(documents).unwrap_or(usize::MAX);
    if let Ok(other) = std::env::var("LOAD_COMPARE") {
        compare(&root, &other, documents_count, seconds, h2load).await;
        return;
    }
    let (server, target) = serve(support::BINARY, "load", documents_count);
    let pid = target.pid;
    let rss_before = rss_mib(pid);
    let idle = probe_health(target.addr, Instant::now() + Duration::from_secs(1)).await;
    let idle_p50 = percentile(&idle, 0.5);
    println!(
        "server: pid {pid}, {documents} documents, RSS {rss_before:.1} MiB; idle health p50 {idle_p50:.3} ms, p99 {:.3} ms",
        percentile(&idle, 0.99)
    );
    println!();
    let mut table = String::from(
        "| method | clients | requests/s | p50 ms | p99 ms | errors | server CPU µs/request | clients' CPU µs/request | server's cores ÷ its CPU per request | health p50 ms | health p99 ms | health p99 / idle p50 | hypervisor steal |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    print!("{table}");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rows = plan(h2load);
    check_methods(target, &rows).await;
    for (method, clients, by_h2load) in &rows {
        let r = measure(target, method, *clients, seconds, *by_h2load).await;
        let row = format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.0} | {:.0} | {:.3} | {:.3} | {:.1}× | {:.0} % |\n",
            r.label,
            r.clients,
            r.requests_per_second,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            r.server_us,
            r.clients_us,
            cores as f64 * 1e6 / r.server_us.max(1e-3),
            r.health_p50_ms,
            r.health_p99_ms,
            r.health_p99_ms / idle_p50.max(1e-3),
            r.steal_percent,
        );
        print!("{row}");
        table.push_str(&row);
    }
    let rss_after = rss_mib(pid);
    let memory = format!(
        "server RSS: before {rss_before:.1} MiB, after {rss_after:.1} MiB ({:.2}×)",
        rss_after / rss_before.max(1e-3)
    );
    println!("\n{memory}");
    drop(server);
    if whole_run() {
        let part = format!(
            "{}\n\nThe last run of `cargo bench -p inventory-job-task --bench load`, on {}: {}. \
             The release binary on its embedded store with {documents} demo JobTasks, over \
             loopback, with `--max-in-flight 256 --max-in-flight-per-domain 256` (every client \
             is of one domain: at the defaults, 64 and 32, the rows of 64 clients would count \
             refusals among their requests); the clients run in one process on the same cores, each on its own \
             connection, {seconds} s a row, reading only `total_count` of list answers; rows \
             marked h2load are the same calls sent by h2load (nghttp2's load generator, in C, \
             one thread, one connection a client), whose answers are checked by their HTTP \
             status after the same call was checked with tonic. `list`: \
             status FAILURE, page of 20 (newest first); `stat`: group by status with count; \
             `health`: the health check, which does no work (the transport's ceiling on this \
             machine). A separate client checks health every 20 ms meanwhile; idle health p50 \
             {idle_p50:.3} ms. CPU per request is the server's (or the clients' process's) \
             user and system time over the row divided by its requests; the clients take part \
             of the same cores, so the next column, the machine's {cores} cores divided by the \
             server's CPU per request, is the rate the server would reach with the cores to \
             itself (derived, not measured). Hypervisor steal is the share of the machine's \
             CPU time its hypervisor gave to others during the row (/proc/stat): on a shared \
             virtual machine the same binary runs slower by about that much.\n\n{table}\n{memory}.",
            benchmarks_md::LOAD_HEADING,
            chrono::Utc::now().format("%Y-%m-%d"),
            benchmarks_md::machine(),
        );
        benchmarks_md::write(&root, Some(benchmarks_md::LOAD_HEADING), &part);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// `LOAD_COMPARE`: every row on this build and on `other`, alternating, the medians side by
/// side with their ratios.
async fn compare(
    root: &std::path::Path,
    other: &str,
    documents: usize,
    seconds: u64,
    h2load: bool,
) {
    let rounds = usize::try_from(env_number("LOAD_ROUNDS", 3)).unwrap_or(3);
    let (_ours, ours) = serve(support::BINARY, "load-host", documents);
    let (_theirs, theirs) = serve(other, "load-other", documents);
    println!("this build: {}\nother build: {other}\n", support::BINARY);
    let rows = plan(h2load);
    check_methods(ours, &rows).await;
    check_methods(theirs, &rows).await;
    let mut table = String::from(
        "| method | clients | host requests/s | image requests/s | image ÷ host | host server CPU µs/request | image server CPU µs/request | host ÷ image |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    print!("{table}");
    for (method, clients, by_h2load) in &rows {
        let mut measured: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let target = [ours, theirs][which];
                measured[which].push(measure(target, method, *clients, seconds, *by_h2load).await);
            }
        }
        let rate = |rows: &[Row]| median(rows.iter().map(|r| r.requests_per_second).collect());
        let cpu = |rows: &[Row]| median(rows.iter().map(|r| r.server_us).collect());
        let (host_rate, image_rate) = (rate(&measured[0]), rate(&measured[1]));
        let (host_cpu, image_cpu) = (cpu(&measured[0]), cpu(&measured[1]));
        let row = format!(
            "| {} | {clients} | {host_rate:.0} | {image_rate:.0} | {:.2}× | {host_cpu:.0} | {image_cpu:.0} | {:.2}× |\n",
            measured[0][0].label,
            image_rate / host_rate.max(1e-3),
            host_cpu / image_cpu.max(1e-3),
        );
        print!("{row}");
        table.push_str(&row);
    }
    if whole_run() {
        // The other build as a path from the checkout's root, when it is under it.
        let shown = root
            .canonicalize()
            .ok()
            .and_then(|root| {
                let relative = std::path::Path::new(other).strip_prefix(root).ok()?;
                Some(relative.display().to_string())
            })
            .unwrap_or_else(|| other.to_string());
        let part = format!(
            "{}\n\nThe last run of `LOAD_COMPARE={shown} cargo bench -p inventory-job-task \
             --bench load`, on {}: {}. The container image's binary (built by \
             `scripts/image`: glibc linked statically, stripped) beside this checkout's release \
             build, each serving its own embedded store with the same {documents} demo \
             JobTasks, the rows of the load part alternating between the two for {rounds} \
             rounds of {seconds} s; medians. Above 1× the image's binary is faster.\n\n{table}",
            benchmarks_md::IMAGE_HEADING,
            chrono::Utc::now().format("%Y-%m-%d"),
            benchmarks_md::machine(),
        );
        benchmarks_md::write(root, Some(benchmarks_md::IMAGE_HEADING), &part);
    }
}
