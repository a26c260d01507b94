//! The process as an orchestrator and a log pipeline see it: SIGTERM lets the call in flight
//! finish while new connections are refused, and the process exits 0 within its grace (past
//! the grace the rest is cancelled and it exits all the same); log lines written to a pipe
//! or file carry no terminal escapes, and `--log-format json` writes one JSON object a line,
//! a request's line with its method, domain, status and duration.

use crate::support::{start, start_logged, Server};
use crate::{heavy_stat, http_get};
use spacejobs_proto::inventory::job_task_client::JobTaskClient;
use std::net::TcpStream;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

fn terminate(server: &Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -TERM");
}

/// Waits for the process to exit: its status and how long after `since` it came.
fn exit_of(server: &mut Server, since: Instant, within: Duration) -> (ExitStatus, Duration) {
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return (status, since.elapsed());
        }
        assert!(since.elapsed() < within, "still running after {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn client(server: &Server) -> JobTaskClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    JobTaskClient::new(channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_call_in_flight_refuses_new_connections_and_exits_0() {
    let mut server = start("sigterm", 20_000, &["--shutdown-grace-ms", "20000"]);
    let mut stat = client(&server).await;
    let call = tokio::spawn(async move { stat.stat(heavy_stat()).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let signalled = Instant::now();
    terminate(&server);
    let addr = server.addr;
    let refused = tokio::task::spawn_blocking(move || loop {
        match TcpStream::connect(addr) {
            Err(_) => return Some(signalled.elapsed()),
            Ok(_) if signalled.elapsed() > Duration::from_secs(2) => return None,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    })
    .await
    .expect("join");
    let answer = call.await.expect("join");
    let completed = signalled.elapsed();
    let (status, exited) = tokio::task::spawn_blocking(move || {
        exit_of(&mut server, signalled, Duration::from_secs(20))
    })
    .await
    .expect("join");
    println!(
        "SIGTERM: new connections refused after {refused:?}, the call in flight answered after \
         {completed:?}, exit {status} after {exited:?}"
    );
    assert!(answer.is_ok(), "the call in flight completes: {answer:?}");
    assert!(
        refused.is_some(),
        "new connections are refused after SIGTERM"
    );
    assert!(status.success(), "exit 0: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_grace_the_call_is_cancelled_and_the_process_still_exits() {
    let mut server = start("grace", 20_000, &["--shutdown-grace-ms", "200"]);
    let mut stat = client(&server).await;
    let call = tokio::spawn(async move { stat.stat(heavy_stat()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = Instant::now();
    terminate(&server);
    let (status, exited) = tokio::task::spawn_blocking(move || {
        exit_of(&mut server, signalled, Duration::from_secs(10))
    })
    .await
    .expect("join");
    let answer = call.await.expect("join");
    println!("grace 200 ms: exit {status} after {exited:?}");
    assert!(status.success(), "exit 0: {status}");
    assert!(
        exited < Duration::from_millis(200 + 1000 + 800),
        "the grace, the exit wait and some slack: {exited:?}"
    );
    assert!(answer.is_err(), "the heavy stat did not finish in 200 ms");
}

#[test]
fn logs_in_a_pipe_have_no_escapes_and_json_lines_parse() {
    for format in ["text", "json"] {
        let log =
            std::env::temp_dir().join(format!("spacejobs-log-{format}-{}.log", std::process::id()));
        let server = start_logged(
            &format!("log-{format}"),
            20,
            &["--log-format", format],
            &log,
        );
        let path = "/inventory/v1/job-tasks?domain_id=domain-demo";
        assert_eq!(http_get(server.addr, path).expect("list"), 200);
        std::thread::sleep(Duration::from_millis(200));
        drop(server);
        let bytes = std::fs::read(&log).expect("log");
        let _ = std::fs::remove_file(&log);
        let text = String::from_utf8(bytes).expect("UTF-8 log");
        assert!(
            !text.contains('\u{1b}'),
            "{format}: an escape byte in {text}"
        );
        assert!(text.contains("serving gRPC and REST"), "{format}: {text}");
        if format == "text" {
            continue;
        }
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        for line in &lines {
            for key in ["timestamp", "level", "target", "message"] {
                assert!(line.get(key).is_some(), "{key} missing in {line}");
            }
        }
        let request = lines
            .iter()
            .find(|l| l["message"] == "rest request")
            .unwrap_or_else(|| panic!("no request line in {text}"));
        assert_eq!(request["method"], "list", "{request}");
        assert_eq!(request["domain"], "domain-demo", "{request}");
        assert_eq!(request["status"], "OK", "{request}");
        assert!(request["duration_ms"].is_f64(), "{request}");
    }
}
