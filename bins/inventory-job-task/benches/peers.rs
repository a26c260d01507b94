//! Benchmark command (not a test): `cargo bench -p inventory-job-task --bench peers`.
//!
//! Generates JobTasks with a fixed seed (dated in the 30 days before 2026-01-01), then runs
//! the same queries on the same documents with:
//! - our engine in-process (`JobService` over the memory store: compile, evaluate, render
//!   the response's JSON body: `list_json_body` and `stat_json`);
//! - our release binary on the embedded store, over gRPC and over REST (loopback);
//! - mingo (npm, pinned in `bench/peers`) in node, in-process;
//! - mongomock (PyPI, pinned, `.venv-bench`) in Python, in-process.
//!
//! The peers get each query as our MongoDB store translates it (filter, sort, page,
//! projection, aggregation pipeline), so every engine answers the same question. Each time is
//! the median of at least 3 runs (up to 20, about a second per query and engine). Prints one
//! table per size with the ratios (peer time ÷ ours), our resident memory per document, the
//! import rate and the reopen time, and writes the last run to `BENCHMARKS.md`.
//!
//! Options (environment): `BENCH_DOCUMENTS` (comma-separated sizes, default `100000`),
//! `BENCH_MONGOMOCK_MAX` (largest size given to mongomock, default 100000: it needs minutes
//! beyond), `BENCH_SECONDS` (time per query and engine, default 1), `BENCH_RUNS` (most runs
//! per query and engine, default 20; raise it with `BENCH_SECONDS` to profile one query),
//! `BENCH_ENGINE_ONLY=1`
//! (time our engine in-process only, print its times and stop: for quick iterations),
//! `BENCH_QUERY` (only the queries whose name contains it).

use serde_json::{json, Value};

#[path = "report.rs"]
mod benchmarks_md;

use spacejobs_core::model::Service;
use spacejobs_core::request::{prepare_list, prepare_stat, ListRequest, StatRequest};
use spacejobs_core::{JobService, Store};
use spacejobs_engine::MemoryStore;
use spacejobs_proto::inventory::job_task_client::JobTaskClient;
use spacejobs_proto::inventory::{JobTaskQuery, JobTaskStatQuery};
use spacejobs_query::compile;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[allow(dead_code)] // only the binary's path and free ports are used here
#[path = "../tests/support/mod.rs"]
mod support;

const DOMAIN: &str = "domain-demo";

/// How many times each size is imported (the median is reported).
const IMPORT_RUNS: usize = 3;

/// 2026-01-01T00:00:00Z: the generated documents are dated in the 30 days before.
const ANCHOR_MS: i64 = 1_767_225_600_000;

#[derive(Clone, Copy, PartialEq)]
enum Method {
    List,
    Stat,
}

struct Spec {
    name: &'static str,
    method: Method,
    query: Value,
}

fn specs() -> Vec<Spec> {
    let list = |name, query| Spec {
        name,
        method: Method::List,
        query,
    };
    let stat = |name, query| Spec {
        name,
        method: Method::Stat,
        query,
    };
    let group = |keys: Value, fields: Value| json!({"aggregate": [{"group": {"keys": keys, "fields": fields}}]});
    vec![
        list(
            "eq status, count",
            json!({"filter": [{"k": "status", "v": "FAILURE", "o": "eq"}], "count_only": true}),
        ),
        list(
            "range created_at, count",
            json!({"filter": [
            {"k": "created_at", "v": "2025-12-15T00:00:00Z", "o": "datetime_gte"},
            {"k": "created_at", "v": "2025-12-22T00:00:00Z", "o": "datetime_lt"}], "count_only": true}),
        ),
        list(
            "contain job_task_id, count",
            json!({"filter": [{"k": "job_task_id", "v": "ab1", "o": "contain"}], "count_only": true}),
        ),
        list(
            "regex secret_id, count",
            json!({"filter": [{"k": "secret_id", "v": "^secret-[0-7].*f$", "o": "regex"}], "count_only": true}),
        ),
        list(
            "filter_or of three, count",
            json!({"filter_or": [
            {"k": "status", "v": "FAILURE", "o": "eq"},
            {"k": "provider", "v": "azure", "o": "eq"},
            {"k": "project_id", "v": "project-3", "o": "eq"}], "count_only": true}),
        ),
        list(
            "not_in status, count",
            json!({"filter": [{"k": "status", "v": ["SUCCESS", "FAILURE"], "o": "not_in"}], "count_only": true}),
        ),
        list(
            "sort created_at desc, page 1000",
            json!({"sort": {"key": "created_at", "desc": true}, "page": {"start": 1, "limit": 1000}}),
        ),
        list("count_only (domain)", json!({"count_only": true})),
        list(
            "keyword, page 20",
            json!({"keyword": "quota", "page": {"limit": 20}}),
        ),
        stat("distinct project_id", json!({"distinct": "project_id"})),
        stat(
            "group status: count, sum, average",
            group(
                json!([{"key": "status", "name": "status"}]),
                json!([
            {"operator": "count", "name": "n"},
            {"operator": "sum", "key": "created_count", "name": "created"},
            {"operator": "average", "key": "updated_count", "name": "updated"}]),
            ),
        ),
        stat(
            "group by day (date_format)",
            group(
                json!([{"key": "created_at", "name": "day", "date_format": "%Y-%m-%d"}]),
                json!([{"operator": "count", "name": "n"}]),
            ),
        ),
        stat(
            "unwind errors, group error_code",
            json!({"aggregate": [
            {"unwind": {"path": "errors"}},
            {"group": {"keys": [{"key": "errors.error_code", "name": "code"}], "fields": [{"operator": "count", "name": "n"}]}}]}),
        ),
    ]
}

fn request(spec: &Spec) -> Value {
    json!({"domain_id": DOMAIN, "query": spec.query})
}

/// The query as our MongoDB store sends it, for the peers.
fn peer_query(spec: &Spec) -> Value {
    let now = chrono::DateTime::from_timestamp_millis(ANCHOR_MS).expect("anchor");
    let service = Service::Inventory;
    let out = match spec.method {
        Method::List => {
            let req = ListRequest::from_json(service, &request(spec)).expect("request");
            let query = prepare_list(service, &req).expect("prepare");
            let plan = compile::list(&query, service.minimal_fields(), now).expect("plan");
            let filter = spacejobs_mongo::filter::filter(&plan.filter);
            if plan.count_only {
                bson::doc! {"kind": "count", "filter": filter}
            } else {
                let mut find = bson::doc! {
                    "kind": "find", "filter": filter,
                    "sort": spacejobs_mongo::pipeline::sort(&plan.sort, &["_id"]),
                    "skip": plan.slice.skip as i64,
                };
                if let Some(limit) = plan.slice.limit {
                    find.insert("limit", limit as i64);
                }
                if let Some(paths) = &plan.projection {
                    find.insert("projection", spacejobs_mongo::pipeline::projection(paths));
                }
                find
            }
        }
        Method::Stat => {
            let req = StatRequest::from_json(&request(spec)).expect("request");
            let query = prepare_stat(service, &req).expect("prepare");
            let plan = compile::stat(&query, now).expect("plan");
            bson::doc! {"kind": "aggregate", "pipeline": spacejobs_mongo::pipeline::stat(&plan)}
        }
    };
    let mut out = plain(bson::Bson::Document(out).into_relaxed_extjson());
    out["name"] = json!(spec.name);
    out
}

/// Our MongoDB translation guards against values a peer's documents never hold here (an
/// array summed, a non-date formatted); the peers get the plain form, which answers the same
/// on these documents and which they all support: `{$sum: {$sum: x}}` → `{$sum: x}`, the
/// same for `$avg`, and `{$cond: [{$eq: [{$type: x}, "date"]}, e, null]}` → `e`.
fn plain(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some((op @ ("$sum" | "$avg"), Value::Object(inner))) =
                    map.iter().next().map(|(k, v)| (k.as_str(), v))
                {
                    if inner.len() == 1 && inner.contains_key(op) {
                        return json!({op: plain(inner[op].clone())});
                    }
                }
                if let Some(Value::Array(branches)) = map.get("$cond") {
                    let is_date_guard = branches.len() == 3
                        && branches[2].is_null()
                        && branches[0]["$eq"][1] == json!("date");
                    if is_date_guard {
                        return plain(branches[1].clone());
                    }
                }
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, plain(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(plain).collect()),
        other => other,
    }
}

fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

/// Runs `once` until the budget is spent (at least 3 and at most `BENCH_RUNS`, default 20,
/// times); the median.
async fn timed<F, Fut>(budget: Duration, mut once: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    once().await; // warm-up
    let start = Instant::now();
    let most: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut times = Vec::new();
    while times.len() < 3 || (start.elapsed() < budget && times.len() < most) {
        let t = Instant::now();
        once().await;
        times.push(t.elapsed());
    }
    median_ms(times)
}

/// A minimal HTTP/1.1 keep-alive client: POSTs JSON, reads the whole answer.
struct Http {
    stream: TcpStream,
}

impl Http {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Http { stream }
    }

    async fn post(&mut self, path: &str, body: &Value) -> usize {
        let body = body.to_string();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await.expect("write");
        self.stream.write_all(body.as_bytes()).await.expect("write");
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut chunk = [0u8; 64 * 1024];
        let (header_end, length) = loop {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                assert!(head.starts_with("http/1.1 200"), "REST answered {head}");
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .expect("content-length");
                break (end + 4, length);
            }
        };
        while buf.len() < header_end + length {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
        length
    }
}

fn rss_bytes(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb * 1024.0)
}

fn wait_for_port(addr: SocketAddr, child: &mut std::process::Child) {
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the server exited"
        );
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the server never listened"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Our release binary serving `dir`: (process, address, seconds until it listened).
fn serve(dir: &Path) -> (std::process::Child, SocketAddr, f64) {
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .expect("addr");
    let start = Instant::now();
    let mut child = Command::new(support::BINARY)
        .env_remove("MONGODB_URI")
        .env("RUST_LOG", "warn")
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    wait_for_port(addr, &mut child);
    (child, addr, start.elapsed().as_secs_f64())
}

fn run_peer(program: &Path, script: &Path, docs: &Path, queries: &Path, budget_ms: u64) -> Value {
    let out = Command::new(program)
        .arg(script)
        .arg(docs)
        .arg(queries)
        .arg(budget_ms.to_string())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(out.status.success(), "{} failed", script.display());
    serde_json::from_slice(&out.stdout).expect("peer output")
}

struct Row {
    name: &'static str,
    engine: f64,
    grpc: f64,
    rest: f64,
    mingo: Option<f64>,
    mongomock: Option<f64>,
}

fn cell(ms: Option<f64>) -> String {
    ms.map_or("n/a".to_string(), |ms| format!("{ms:.2} ms"))
}

fn ratio(peer: Option<f64>, ours: f64) -> String {
    peer.map_or("n/a".to_string(), |p| format!("{:.1}×", p / ours.max(1e-6)))
}

fn peer_ms(result: &Value, name: &str) -> Option<f64> {
    let r = &result["results"][name];
    if let Some(e) = r.get("error") {
        eprintln!("  peer could not run '{name}': {e}");
    }
    r.get("ms").and_then(Value::as_f64)
}

#[tokio::main]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sizes: Vec<usize> = std::env::var("BENCH_DOCUMENTS")
        .unwrap_or_else(|_| "100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mongomock_max: usize = std::env::var("BENCH_MONGOMOCK_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    let status = Command::new("bash")
        .arg(root.join("bench/peers/setup.sh"))
        .status()
        .expect("bench/peers/setup.sh");
    assert!(status.success(), "installing the peers failed");
    let work = root.join("target/bench-peers");
    std::fs::create_dir_all(&work).expect("work dir");
    let only = std::env::var("BENCH_QUERY").unwrap_or_default();
    let specs: Vec<Spec> = specs()
        .into_iter()
        .filter(|s| s.name.contains(only.as_str()))
        .collect();
    let mut report = String::new();

    for &n in &sizes {
        println!("== {n} generated JobTasks");
        let docs = spacejobs_cli::demo::documents_before(Service::Inventory, n, ANCHOR_MS);
        let docs_path = work.join(format!("jobtasks-{n}.jsonl"));
        {
            let mut text = String::with_capacity(n * 700);
            for doc in &docs {
                let value = bson::Bson::Document(doc.clone()).into_relaxed_extjson();
                text.push_str(&value.to_string());
                text.push('\n');
            }
            std::fs::write(&docs_path, text).expect("write documents");
        }
        let queries_path = work.join("queries.json");
        let peer_queries: Vec<Value> = specs.iter().map(peer_query).collect();
        std::fs::write(&queries_path, Value::Array(peer_queries).to_string()).expect("queries");

        // Our engine, in-process.
        let store = Arc::new(MemoryStore::new());
        store
            .insert(Service::Inventory.collection(), docs)
            .await
            .expect("load");
        let engine = JobService::new(Service::Inventory, store);
        let mut engine_ms = Vec::new();
        for spec in &specs {
            let req = request(spec);
            let ms = timed(budget, || async {
                match spec.method {
                    Method::List => engine.list_json_body(&req).await.map(drop).expect("list"),
                    Method::Stat => engine.stat_json(&req).await.map(drop).expect("stat"),
                }
            })
            .await;
            engine_ms.push(ms);
        }
        drop(engine);
        if std::env::var("BENCH_ENGINE_ONLY").is_ok_and(|v| v == "1") {
            for (spec, ms) in specs.iter().zip(&engine_ms) {
                println!("{:<40} {ms:>9.2} ms", spec.name);
            }
            continue;
        }

        // Our binary: import, reopen, memory, then gRPC and REST.
        let data_dir = work.join(format!("data-{n}"));
        let _ = std::fs::remove_dir_all(&data_dir);
        let (mut empty, _, _) = serve(&data_dir);
        let rss_empty = rss_bytes(empty.id());
        let _ = empty.kill();
        let _ = empty.wait();
        // The median of three imports, each into an empty directory (the last one stays).
        let mut import_times = Vec::new();
        for run in 0..IMPORT_RUNS {
            if run > 0 {
                let _ = std::fs::remove_dir_all(&data_dir);
            }
            let t = Instant::now();
            let status = Command::new(support::BINARY)
                .env_remove("MONGODB_URI")
                .arg("import")
                .arg(&docs_path)
                .arg("--data-dir")
                .arg(&data_dir)
                .stdout(Stdio::null())
                .status()
                .expect("import");
            assert!(status.success(), "import failed");
            import_times.push(t.elapsed());
        }
        let import_rate = n as f64 / (median_ms(import_times) / 1000.0);
        let (mut server, addr, reopen_s) = serve(&data_dir);
        let rss_loaded = rss_bytes(server.id());
        let mut grpc = JobTaskClient::connect(format!("http://{addr}"))
            .await
            .expect("grpc")
            .max_decoding_message_size(64 << 20);
        let mut http = Http::connect(addr).await;
        let mut grpc_ms = Vec::new();
        let mut rest_ms = Vec::new();
        for spec in &specs {
            let req = request(spec);
            let ms = match spec.method {
                Method::List => {
                    let query: spacejobs_core::Query =
                        serde_json::from_value(spec.query.clone()).expect("query");
                    let message = JobTaskQuery {
                        query: Some(spacejobs_server::convert::query_to_proto(&query)),
                        domain_id: DOMAIN.into(),
                        ..Default::default()
                    };
                    timed(budget, || {
                        let (mut c, m) = (grpc.clone(), message.clone());
                        async move {
                            c.list(m).await.expect("grpc list");
                        }
                    })
                    .await
                }
                Method::Stat => {
                    let query: spacejobs_core::StatisticsQuery =
                        serde_json::from_value(spec.query.clone()).expect("query");
                    let message = JobTaskStatQuery {
                        query: Some(spacejobs_server::convert::statistics_query_to_proto(&query)),
                        domain_id: DOMAIN.into(),
                    };
                    timed(budget, || {
                        let (mut c, m) = (grpc.clone(), message.clone());
                        async move {
                            c.stat(m).await.expect("grpc stat");
                        }
                    })
                    .await
                }
            };
            grpc_ms.push(ms);
            let path = match spec.method {
                Method::List => "/inventory/v1/job-tasks/search",
                Method::Stat => "/inventory/v1/job-tasks/stat",
            };
            let mut times = Vec::new();
            http.post(path, &req).await;
            let start = Instant::now();
            while times.len() < 3 || (start.elapsed() < budget && times.len() < 20) {
                let t = Instant::now();
                http.post(path, &req).await;
                times.push(t.elapsed());
            }
            rest_ms.push(median_ms(times));
        }
        grpc = grpc.max_decoding_message_size(4 << 20);
        drop(grpc);
        let _ = server.kill();
        let _ = server.wait();

        // The peers.
        let budget_ms = (seconds * 2000.0) as u64;
        println!("   mingo …");
        let mingo = run_peer(
            Path::new("node"),
            &root.join("bench/peers/mingo.mjs"),
            &docs_path,
            &queries_path,
            budget_ms,
        );
        let mongomock = (n <= mongomock_max).then(|| {
            println!("   mongomock …");
            run_peer(
                &root.join(".venv-bench/bin/python"),
                &root.join("bench/peers/mongomock_peer.py"),
                &docs_path,
                &queries_path,
                budget_ms,
            )
        });

        let rows: Vec<Row> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| Row {
                name: spec.name,
                engine: engine_ms[i],
                grpc: grpc_ms[i],
                rest: rest_ms[i],
                mingo: peer_ms(&mingo, spec.name),
                mongomock: mongomock.as_ref().and_then(|m| peer_ms(m, spec.name)),
            })
            .collect();
        let mut table = String::new();
        let _ = writeln!(
            table,
            "### {n} JobTasks ({} in the queried domain)\n",
            n - n / 10
        );
        let _ = writeln!(table, "| query | engine | gRPC | REST | mingo | mongomock | mingo ÷ engine | mongomock ÷ engine | mingo ÷ gRPC | mingo ÷ REST |");
        let _ = writeln!(table, "|---|---|---|---|---|---|---|---|---|---|");
        for r in &rows {
            let _ = writeln!(
                table,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.name,
                cell(Some(r.engine)),
                cell(Some(r.grpc)),
                cell(Some(r.rest)),
                cell(r.mingo),
                cell(r.mongomock),
                ratio(r.mingo, r.engine),
                ratio(r.mongomock, r.engine),
                ratio(r.mingo, r.grpc),
                ratio(r.mingo, r.rest),
            );
        }
        let mingo_rss = mingo["rss_bytes_per_document"].as_f64().unwrap_or(0.0);
        let ours_rss = (rss_loaded - rss_empty) / n as f64;
        let _ = writeln!(
            table,
            "\nResident memory per document: ours (embedded store, served) {:.0} B, node holding \
             the documents for mingo {:.0} B ({:.2}×). Import: {:.0} documents/s (the binary's \
             `import`, one file, start to finish; the median of 3). Reopen: {:.2} s until the server listened \
             with {n} documents loaded.\n",
            ours_rss,
            mingo_rss,
            ours_rss / mingo_rss.max(1.0),
            import_rate,
            reopen_s
        );
        print!("{table}");
        report.push_str(&table);
        let _ = std::fs::remove_dir_all(&data_dir);
    }

    let machine = benchmarks_md::machine();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    let text = format!(
        "# Benchmarks\n\nThe last run of `cargo bench -p inventory-job-task --bench peers`, on {date}: \
         {machine}. Medians of at least 3 runs. \"engine\" is our service logic \
         in-process over the memory store (compile, evaluate, render the JSON body); gRPC and REST are the \
         release binary on its embedded store over loopback; mingo 7.2.7 (node) and mongomock \
         4.3.0 (Python) run in-process on the same documents with each query as our MongoDB \
         store translates it. Ratios are the peer's time divided by ours: above 1 we are \
         faster.\n\n{report}"
    );
    if report.is_empty() {
        return; // engine only: nothing to record
    }
    benchmarks_md::write(&root, None, &text);
}
