//! The cost fuzzer: no dimension of a request goes unbudgeted.
//!
//! The dimensions come from the query model itself ([`dimensions`]). Each is grown alone,
//! doubling from 1 up to what fits in one request message (4 MiB; nesting up to the
//! transports' own depth limit), then in pairs at the largest sizes each was answered at
//! alone, and every request is sent to a [`JobService`] over a dataset of
//! [`Config::documents`] JobTasks. Each must be either
//!
//! - refused: by the budget (`ERROR_DB_QUERY` naming the limit) within
//!   [`Bounds::refusal`], or by validation (an `INVALID_ARGUMENT` of its own); or
//! - answered within [`Bounds`]: CPU time at most `documents × (cpu_per_document +
//!   cpu_per_document_unit × units)` and peak memory at most `memory_fixed + documents ×
//!   (memory_per_document + memory_per_document_unit × units)`, `units` the grown sizes
//!   summed (an element or a level of nesting each, 64 bytes of text);
//!
//! and a size dimension (a length, a size, a depth) grown to its largest must be refused:
//! otherwise nothing bounds it. Any other outcome (a time-out, an internal error) is a
//! finding too. [`run`] returns the findings and a table per dimension: its largest
//! answered size, the limit that refused the next, and the worst CPU time and memory seen
//! at that edge.

pub mod dimensions;

use crate::Method;
use dimensions::{Dimension, Kind};
use serde_json::Value;
use spacejobs_core::{Error, ErrorClass, JobService, ListRequest, StatRequest, Store};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The largest request the transports accept (gRPC message and REST body).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting the transports decode (prost's recursion limit is 100, serde_json's
/// 128).
pub const MAX_DEPTH: usize = 100;

/// What a request may cost: CPU time and peak memory per document of the dataset, for the
/// request itself and for each unit of size grown into it (`units`, the grown sizes summed).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Longest a budget refusal may take (wall time, in the service).
    pub refusal: Duration,
    /// CPU time per document.
    pub cpu_per_document: Duration,
    /// CPU time per document and unit.
    pub cpu_per_document_unit: Duration,
    /// Peak memory per document, in bytes.
    pub memory_per_document: usize,
    /// Peak memory per document and unit, in bytes.
    pub memory_per_document_unit: usize,
    /// Peak memory any request may take besides, in bytes.
    pub memory_fixed: usize,
}

impl Bounds {
    /// The bounds of an optimised build; a debug build's CPU bounds are 20 times as large.
    pub fn for_this_build() -> Self {
        let slow = if cfg!(debug_assertions) { 20 } else { 1 };
        Bounds {
            refusal: Duration::from_millis(10),
            cpu_per_document: Duration::from_micros(20) * slow,
            cpu_per_document_unit: Duration::from_micros(1) * slow,
            memory_per_document: 2 * 1024,
            memory_per_document_unit: 256,
            memory_fixed: 16 * 1024 * 1024,
        }
    }

    /// The CPU time a request over `documents` with `units` of size may take.
    pub fn cpu(&self, documents: usize, units: usize) -> Duration {
        (self.cpu_per_document
            + self.cpu_per_document_unit * u32::try_from(units).unwrap_or(u32::MAX))
            * u32::try_from(documents).unwrap_or(u32::MAX)
    }

    /// The peak memory a request over `documents` with `units` of size may take.
    pub fn memory(&self, documents: usize, units: usize) -> usize {
        self.memory_fixed
            + documents * (self.memory_per_document + self.memory_per_document_unit * units)
    }
}

/// How peak memory is read: the test binary's counting allocator, reset before a request.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    /// Resets the peak to the current allocation.
    pub reset: fn(),
    /// Bytes allocated at most since the reset.
    pub peak: fn() -> usize,
}

impl Meter {
    /// No allocator to read: memory is not measured.
    pub fn none() -> Self {
        Meter {
            reset: || {},
            peak: || 0,
        }
    }
}

/// A fuzzer run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The documents the service holds (for the bounds).
    pub documents: usize,
    /// The domain the requests name.
    pub domain: String,
    /// The bounds to hold requests to.
    pub bounds: Bounds,
    /// How peak memory is read.
    pub meter: Meter,
    /// Pairs of dimensions grown together: at most this many (every pair when `None`).
    pub max_pairs: Option<usize>,
    /// Grow dimensions only to this size (the MongoDB run: the test server is slow).
    pub max_size: Option<usize>,
    /// Every doubling size of every dimension (the long run); else the largest, then 1, the
    /// limit and one past it.
    pub exhaustive: bool,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Answered.
    Answered,
    /// Refused by the budget, naming this limit.
    OverBudget(String),
    /// Refused as an invalid request (validation), with this code.
    Invalid(String),
    /// Any other error: always a finding.
    Failed(String),
}

impl Outcome {
    fn of(result: &Result<Value, Error>) -> Self {
        match result {
            Ok(_) => Outcome::Answered,
            Err(e) => {
                let text = e.to_string();
                if let Some(at) = text.find("the limit ") {
                    let limit = text[at + 10..].split_whitespace().next().unwrap_or("");
                    Outcome::OverBudget(limit.to_string())
                } else if e.class() == ErrorClass::InvalidArgument {
                    Outcome::Invalid(e.code().to_string())
                } else {
                    Outcome::Failed(format!("{}: {text}", e.code()))
                }
            }
        }
    }
}

/// One request's measurement.
#[derive(Debug, Clone)]
pub struct Measured {
    /// How it ended.
    pub outcome: Outcome,
    /// The error's message, if it failed.
    pub message: String,
    /// Wall time in the service.
    pub wall: Duration,
    /// Process CPU time it took.
    pub cpu: Duration,
    /// Peak memory it allocated, in bytes.
    pub memory: usize,
}

/// A dimension's row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// The dimension.
    pub dimension: String,
    /// The largest size answered (0: none).
    pub edge: usize,
    /// What refused the next size, if anything did.
    pub refused_by: String,
    /// Worst CPU time of an answered request.
    pub cpu: Duration,
    /// Worst peak memory of an answered request.
    pub memory: usize,
}

/// A fuzzer run's result.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests sent.
    pub requests: usize,
    /// Every finding: a request outside its bounds, or a dimension nothing bounds.
    pub findings: Vec<String>,
    /// One row per dimension.
    pub rows: Vec<Row>,
}

impl Report {
    /// The table of the rows, as Markdown.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| dimension | largest answered | refused by | worst CPU at the edge | worst memory at the edge |\n|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} ms | {:.1} MiB |",
                row.dimension,
                row.edge,
                row.refused_by,
                row.cpu.as_secs_f64() * 1e3,
                row.memory as f64 / (1024.0 * 1024.0),
            );
        }
        out
    }
}

/// Sends one request; its outcome, times and memory. The request is read from its JSON
/// first, as a transport does before the service sees it; the time and memory measured are
/// the service's: budget, compilation, evaluation and rendering the answer.
async fn measure(
    service: &JobService<dyn Store>,
    method: Method,
    request: &Value,
    meter: &Meter,
) -> Measured {
    let kind = service.service();
    let typed = match method {
        Method::List => ListRequest::from_json(kind, request).map(Typed::List),
        Method::Stat => StatRequest::from_json(request).map(Typed::Stat),
    };
    (meter.reset)();
    let cpu = cpu_time::ProcessTime::try_now().ok();
    let started = Instant::now();
    let result = match &typed {
        Ok(Typed::List(request)) => service
            .list(request)
            .await
            .map(|out| spacejobs_core::render::list_response(&out)),
        Ok(Typed::Stat(request)) => service
            .stat(request)
            .await
            .map(|out| spacejobs_core::render::stat_response(&out)),
        Err(e) => Err(e.clone()),
    };
    let wall = started.elapsed();
    // The request is freed after the clock stops: freeing is the transport's, not the
    // service's.
    drop(typed);
    let cpu = cpu.and_then(|c| c.try_elapsed().ok()).unwrap_or(wall);
    Measured {
        outcome: Outcome::of(&result),
        message: result.err().map(|e| e.to_string()).unwrap_or_default(),
        wall,
        cpu,
        memory: (meter.peak)(),
    }
}

enum Typed {
    List(ListRequest),
    Stat(StatRequest),
}

/// The sizes a dimension is grown to: doubling from 1 while the request fits in a message.
fn sizes(dimension: &Dimension, seed: &Value, max: Option<usize>) -> Vec<usize> {
    match dimension.kind {
        Kind::Number => vec![0, 1, i32::MAX as usize],
        Kind::Flag => vec![0, 1],
        Kind::Count | Kind::Bytes | Kind::Depth => {
            let cap = if dimension.kind == Kind::Depth {
                MAX_DEPTH
            } else {
                usize::MAX
            };
            let cap = cap.min(max.unwrap_or(usize::MAX));
            let mut out = Vec::new();
            let mut size = 1usize;
            while size <= cap {
                let Some(request) = dimensions::grow(seed, dimension, size) else {
                    break;
                };
                if serde_json::to_vec(&request).map_or(usize::MAX, |b| b.len()) > MAX_REQUEST_BYTES
                {
                    break;
                }
                out.push(size);
                size *= 2;
            }
            out
        }
    }
}

/// The units of size a dimension grown to `size` counts for: an element or a level of
/// nesting each, 64 bytes of text, none for a number or a flag.
fn units(dimension: &Dimension, size: usize) -> usize {
    match dimension.kind {
        Kind::Count | Kind::Depth => size,
        Kind::Bytes => size.div_ceil(64),
        Kind::Number | Kind::Flag => 0,
    }
}

/// Checks one measurement against the bounds; a finding when outside them.
fn check(config: &Config, label: &str, units: usize, m: &Measured) -> Option<String> {
    let bounds = &config.bounds;
    match &m.outcome {
        Outcome::OverBudget(limit) if m.wall > bounds.refusal => Some(format!(
            "{label}: refused by {limit} after {:.1} ms (bound {:.0} ms)",
            m.wall.as_secs_f64() * 1e3,
            bounds.refusal.as_secs_f64() * 1e3
        )),
        Outcome::Answered => {
            let cpu = bounds.cpu(config.documents, units);
            let memory = bounds.memory(config.documents, units);
            if m.cpu > cpu {
                Some(format!(
                    "{label}: answered with {:.1} ms of CPU (bound {:.1} ms)",
                    m.cpu.as_secs_f64() * 1e3,
                    cpu.as_secs_f64() * 1e3
                ))
            } else if m.memory > memory {
                Some(format!(
                    "{label}: answered with {:.1} MiB at peak (bound {:.1} MiB)",
                    m.memory as f64 / 1048576.0,
                    memory as f64 / 1048576.0
                ))
            } else {
                None
            }
        }
        Outcome::Failed(error) => Some(format!("{label}: {error}")),
        _ => None,
    }
}

/// The limit's value a budget refusal names (`… the limit max_group_keys is 32`).
fn limit_value(error: &Measured) -> Option<usize> {
    match &error.outcome {
        Outcome::OverBudget(_) => {
            let after = error.message.rsplit(" is ").next()?;
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        }
        _ => None,
    }
}

/// Measures `dimension` grown to the sizes to try: every size in an exhaustive run; else
/// the largest first and, when the budget refuses it naming its limit, 1, the limit and one
/// past it (doubling from 1 when it names none).
async fn sizes_tried(
    service: &JobService<dyn Store>,
    config: &Config,
    dimension: &Dimension,
    seed: &Value,
) -> Vec<(usize, Measured)> {
    let all = sizes(dimension, seed, config.max_size);
    let mut tried: Vec<(usize, Measured)> = Vec::new();
    let measure_at = |size: usize| {
        let request = dimensions::grow(seed, dimension, size);
        async move {
            match request {
                Some(request) => {
                    Some(measure(service, dimension.method, &request, &config.meter).await)
                }
                None => None,
            }
        }
    };
    let mut todo: Vec<usize> = all.clone();
    if !config.exhaustive && dimension.is_size() {
        if let Some(&largest) = all.last() {
            if let Some(m) = measure_at(largest).await {
                let limit = limit_value(&m);
                tried.push((largest, m));
                todo = match limit {
                    Some(limit) => [1, limit, limit + 1]
                        .into_iter()
                        .filter(|s| *s < largest)
                        .collect(),
                    None => all[..all.len() - 1].to_vec(),
                };
            }
        }
    }
    for size in todo {
        if tried.iter().any(|(s, _)| *s == size) {
            continue;
        }
        if let Some(m) = measure_at(size).await {
            tried.push((size, m));
        }
    }
    tried.sort_by_key(|(size, _)| *size);
    if !config.exhaustive {
        // The edge between the largest answered and the smallest refused, by halving
        // (the seed's own content can take part of a limit).
        loop {
            let answered = tried
                .iter()
                .filter(|(_, m)| m.outcome == Outcome::Answered)
                .map(|(s, _)| *s)
                .max();
            let Some(lo) = answered else { break };
            let Some(hi) = tried.iter().map(|(s, _)| *s).filter(|s| *s > lo).min() else {
                break;
            };
            if hi - lo <= 1 {
                break;
            }
            let mid = lo + (hi - lo) / 2;
            let Some(m) = measure_at(mid).await else {
                break;
            };
            tried.push((mid, m));
            tried.sort_by_key(|(size, _)| *size);
        }
    }
    tried
}

/// Runs the fuzzer against `service` (holding `config.documents` documents in
/// `config.domain`): every dimension alone, then pairs.
pub async fn run(service: &JobService<dyn Store>, config: &Config) -> Report {
    let mut report = Report::default();
    let mut edges: Vec<(Dimension, usize)> = Vec::new();
    for dimension in dimensions::all() {
        let Some(seed) = dimensions::seed_of(&dimension, &config.domain) else {
            report
                .findings
                .push(format!("{dimension}: no seed holds it"));
            continue;
        };
        let mut row = Row {
            dimension: dimension.to_string(),
            edge: 0,
            refused_by: "-".into(),
            cpu: Duration::ZERO,
            memory: 0,
        };
        let tried = sizes_tried(service, config, &dimension, &seed).await;
        report.requests += tried.len();
        for (size, m) in &tried {
            let units = units(&dimension, *size);
            if let Some(finding) = check(config, &format!("{dimension} at {size}"), units, m) {
                report.findings.push(finding);
            }
            match &m.outcome {
                Outcome::Answered => {
                    row.edge = *size;
                    row.cpu = row.cpu.max(m.cpu);
                    row.memory = row.memory.max(m.memory);
                }
                Outcome::OverBudget(limit) if row.refused_by == "-" => {
                    row.refused_by = match limit_value(m) {
                        Some(value) => format!("{limit} = {value}"),
                        None => limit.clone(),
                    };
                }
                Outcome::Invalid(code) if row.refused_by == "-" => {
                    row.refused_by = format!("validation ({code})");
                }
                _ => {}
            }
        }
        let largest = tried.last().map(|(_, m)| &m.outcome);
        if dimension.is_size() && config.max_size.is_none() && largest == Some(&Outcome::Answered) {
            report.findings.push(format!(
                "{dimension}: answered at the largest size a message holds; no limit bounds it"
            ));
        }
        if dimension.is_size() && row.edge > 0 {
            edges.push((dimension, row.edge));
        }
        report.rows.push(row);
    }
    pairs(service, config, &edges, &mut report).await;
    report
}

/// Grows pairs of dimensions of one seed together, each at its edge.
async fn pairs(
    service: &JobService<dyn Store>,
    config: &Config,
    edges: &[(Dimension, usize)],
    report: &mut Report,
) {
    let mut candidates = Vec::new();
    for (i, (a, size_a)) in edges.iter().enumerate() {
        for (b, size_b) in &edges[i + 1..] {
            if a.method != b.method {
                continue;
            }
            let Some(seed) = dimensions::seed_of(a, &config.domain) else {
                continue;
            };
            let grown = dimensions::grow(&seed, a, *size_a)
                .and_then(|once| dimensions::grow(&once, b, *size_b));
            if let Some(request) = grown {
                let units = units(a, *size_a) + units(b, *size_b);
                candidates.push((
                    format!("{a} at {size_a} with {b} at {size_b}"),
                    a.method,
                    request,
                    units,
                ));
            }
        }
    }
    // A spread of pairs when bounded: every n-th, so each dimension takes part.
    let step = match config.max_pairs {
        Some(max) if max > 0 && candidates.len() > max => candidates.len().div_ceil(max),
        Some(0) => return,
        _ => 1,
    };
    for (label, method, request, units) in candidates.into_iter().step_by(step) {
        if serde_json::to_vec(&request).map_or(usize::MAX, |b| b.len()) > MAX_REQUEST_BYTES {
            continue;
        }
        let m = measure(service, method, &request, &config.meter).await;
        report.requests += 1;
        if let Some(finding) = check(config, &label, units, &m) {
            report.findings.push(finding);
        }
    }
}

/// `n` JobTasks in `domain`, as the fuzzer's dataset: statuses, providers, jobs, projects and
/// days vary; every fifth has two errors.
pub fn documents(n: usize, domain: &str) -> Vec<bson::Document> {
    let statuses = ["SUCCESS", "FAILURE", "IN_PROGRESS", "PENDING", "CANCELED"];
    let providers = ["aws", "google_cloud", "azure"];
    (0..n)
        .map(|i| {
            let at = bson::DateTime::from_millis(1_700_000_000_000 + i as i64 * 61_000);
            let errors: Vec<bson::Bson> = if i % 5 == 0 {
                ["ERROR_TIMEOUT", "ERROR_AUTH"]
                    .iter()
                    .map(|code| bson::bson!({"error_code": *code, "message": "failed", "additional": {"n": i as i64}}))
                    .collect()
            } else {
                Vec::new()
            };
            bson::doc! {
                "job_task_id": format!("job-task-{i:012x}"),
                "job_id": format!("job-{:012x}", i / 16),
                "status": statuses[i % statuses.len()],
                "provider": providers[i % providers.len()],
                "project_id": format!("project-{}", i % 7),
                "service_account_id": format!("sa-{}", i % 11),
                "secret_id": format!("secret-{}", i % 13),
                "domain_id": domain,
                "created_count": (i % 17) as i64,
                "updated_count": (i % 5) as i64,
                "failure_count": (i % 3) as i64,
                "deleted_count": 0_i64,
                "disconnected_count": 0_i64,
                "errors": errors,
                "created_at": at,
                "started_at": at,
                "finished_at": bson::DateTime::from_millis(at.timestamp_millis() + 30_000),
            }
        })
        .collect()
}
