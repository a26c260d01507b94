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
//! `LOAD_METHODS` (`health,list,stat`), `LOAD_CLIENTS` (`1,16,64`), `LOAD_BINARY` (another
//! build of the binary, e.g. the container image's, `target/image/inventory-job-task`). A
//! whole run of this build (none of the last three given) is recorded as the "Load" part of
//! `BENCHMARKS.md`.

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

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench` asks benches to list themselves.
    }
    let documents = env_number("LOAD_DOCUMENTS", 100_000);
    let seconds = env_number("LOAD_SECONDS", 5);
    println!("loading {documents} demo JobTasks …");
    let documents_count = usize::try_from(documents).unwrap_or(usize::MAX);
    let binary = std::env::var("LOAD_BINARY").unwrap_or_else(|_| support::BINARY.to_string());
    println!("binary: {binary}");
    let server = support::start_binary(&binary, "load", documents_count, &[]);
    let (pid, addr) = (server.child.id(), server.addr);
    let rss_before = rss_mib(pid);
    let idle = probe_health(addr, Instant::now() + Duration::from_secs(1)).await;
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
    // `health` is the transport's own ceiling on this machine: a gRPC call doing no work.
    let methods = env_list("LOAD_METHODS", "health,list,stat");
    let client_counts: Vec<usize> = env_list("LOAD_CLIENTS", "1,16,64")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let h2load = h2load::available(&root);
    if !h2load {
        println!("(h2load is not installed and could not be: its rows are left out)");
    }
    for method in &methods {
        let mut check = tonic::client::Grpc::new(connect(addr).await);
        let answers = call(&mut check, method, &list_request(), &stat_request()).await;
        assert!(
            answers,
            "{method} answers through tonic before it is loaded"
        );
        for &clients in &client_counts {
            let drivers: &[bool] = if h2load { &[false, true] } else { &[false] };
            for &by_h2load in drivers {
                let until = Instant::now() + Duration::from_secs(seconds);
                let health = tokio::spawn(probe_health(addr, until));
                let started = Instant::now();
                let cpu_before = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
                let ticks_before = machine_ticks();
                let (latencies, errors, h2load_cpu) = if by_h2load {
                    let message = match method.as_str() {
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
                let steal = steal_percent(&ticks_before, &machine_ticks());
                let requests = latencies.len().max(1) as f64;
                let server_us = (cpu_after.0 - cpu_before.0) * 1e6 / requests;
                let clients_us = (cpu_after.1 - cpu_before.1 + h2load_cpu) * 1e6 / requests;
                let health = health.await.expect("join");
                let health_p99 = percentile(&health, 0.99);
                let label = if by_h2load {
                    format!("{method} (h2load)")
                } else {
                    method.clone()
                };
                let row = format!(
                    "| {label} | {clients} | {:.0} | {:.2} | {:.2} | {errors} | {server_us:.0} | {clients_us:.0} | {:.0} | {:.3} | {:.3} | {:.1}× | {steal:.0} % |\n",
                    latencies.len() as f64 / elapsed,
                    percentile(&latencies, 0.5),
                    percentile(&latencies, 0.99),
                    cores as f64 * 1e6 / server_us.max(1e-3),
                    percentile(&health, 0.5),
                    health_p99,
                    health_p99 / idle_p50.max(1e-3),
                );
                print!("{row}");
                table.push_str(&row);
            }
        }
    }
    let rss_after = rss_mib(pid);
    let memory = format!(
        "server RSS: before {rss_before:.1} MiB, after {rss_after:.1} MiB ({:.2}×)",
        rss_after / rss_before.max(1e-3)
    );
    println!("\n{memory}");
    drop(server);
    // Only a whole run (every method and client count) of this build is recorded.
    if ["LOAD_METHODS", "LOAD_CLIENTS", "LOAD_BINARY"]
        .iter()
        .all(|name| std::env::var_os(name).is_none())
    {
        let part = format!(
            "{}\n\nThe last run of `cargo bench -p inventory-job-task --bench load`, on {}: {}. \
             The release binary on its embedded store with {documents} demo JobTasks, over \
             loopback; the clients run in one process on the same cores, each on its own \
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
        benchmarks_md::write(&root, None, Some(&part));
    }
}
