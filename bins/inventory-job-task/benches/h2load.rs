//! Rows of the load command driven by h2load (nghttp2's HTTP/2 load generator, written in C;
//! `bench/load/setup.sh` installs it): the same gRPC calls as the tonic clients, sent as
//! pre-encoded request bodies over one connection per client from one thread, so the clients
//! take less of the two cores they share with the server. h2load checks the HTTP status only;
//! the load command checks each request's gRPC answer with tonic first.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What one h2load run measured.
pub struct Outcome {
    /// Latency of every request that completed, sorted.
    pub latencies: Vec<Duration>,
    /// Requests that failed, errored, timed out or did not answer HTTP 200.
    pub errors: usize,
    /// CPU time h2load used (user and system), in seconds.
    pub cpu_seconds: f64,
}

/// True when h2load can be run, after `bench/load/setup.sh` installed it if it was missing.
pub fn available(root: &Path) -> bool {
    let installed = || {
        Command::new("h2load")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if installed() {
        return true;
    }
    let _ = Command::new("bash")
        .arg(root.join("bench/load/setup.sh"))
        .status();
    installed()
}

/// The gRPC path of `method` and its request as a gRPC message frame (uncompressed flag,
/// big-endian length, the message bytes).
pub fn request(method: &str, message: &[u8]) -> (&'static str, Vec<u8>) {
    let path = match method {
        "list" => "/spaceone.api.inventory.v1.JobTask/list",
        "stat" => "/spaceone.api.inventory.v1.JobTask/stat",
        _ => "/grpc.health.v1.Health/Check",
    };
    let len = u32::try_from(message.len()).expect("a small request");
    let mut frame = vec![0u8];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    (path, frame)
}

/// Runs h2load against `addr` for `seconds`: `clients` connections, one request in flight on
/// each, every request `path` with body `frame`. `None` when h2load could not run.
pub fn run(
    addr: SocketAddr,
    (path, frame): (&str, &[u8]),
    clients: usize,
    seconds: u64,
) -> Option<Outcome> {
    let dir = std::env::temp_dir().join(format!("spacejobs-h2load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let (body, log, summary) = (dir.join("body"), dir.join("log"), dir.join("summary"));
    std::fs::write(&body, frame).ok()?;
    // The shell waits for h2load, then prints its own /proc stat, whose children's times
    // (cutime, cstime) are h2load's CPU time.
    let script = r#"out="$1"; shift; h2load "$@" > "$out" 2>&1; cat /proc/$$/stat"#;
    let output = Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(&summary)
        .args(["-c", &clients.to_string(), "-m", "1", "-t", "1"])
        .args(["-D", &seconds.to_string()])
        .arg("-d")
        .arg(&body)
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg(format!("--log-file={}", log.display()))
        .arg(format!("http://{addr}{path}"))
        .output()
        .ok()?;
    // cutime and cstime: fields 16 and 17.
    let cpu_seconds = stat_seconds(&String::from_utf8_lossy(&output.stdout), 16)?;
    let summary = std::fs::read_to_string(&summary).ok()?;
    let mut latencies = Vec::new();
    let mut errors = 0;
    for line in std::fs::read_to_string(&log).ok()?.lines() {
        let mut columns = line.split('\t').skip(1);
        let (Some(status), Some(micros)) = (columns.next(), columns.next()) else {
            continue;
        };
        errors += usize::from(status != "200");
        if let Ok(micros) = micros.trim().parse::<u64>() {
            latencies.push(Duration::from_micros(micros));
        }
    }
    // "requests: N total, N started, N done, N succeeded, F failed, E errored, T timeout"
    let line = summary.lines().find(|l| l.starts_with("requests:"))?;
    for part in line.trim_start_matches("requests:").split(',') {
        let mut words = part.split_whitespace();
        if let (Some(count), Some("failed" | "errored" | "timeout")) = (words.next(), words.next())
        {
            errors += count.parse::<usize>().unwrap_or(0);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    latencies.sort();
    Some(Outcome {
        latencies,
        errors,
        cpu_seconds,
    })
}

/// The sum of the two CPU times (in USER_HZ ticks, 100 a second on Linux) at fields `first`
/// and `first + 1` of a `/proc/<pid>/stat` line, in seconds (fields numbered from 1, as
/// `proc(5)` numbers them: 14 and 15 are the process's own user and system time).
pub fn stat_seconds(stat: &str, first: usize) -> Option<f64> {
    // The fields after the command name (which may hold spaces) start at state, field 3.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(first - 3);
    let mut ticks = || fields.next()?.parse::<f64>().ok();
    Some((ticks()? + ticks()?) / 100.0)
}
