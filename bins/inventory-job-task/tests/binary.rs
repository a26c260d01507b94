//! The real binary, as an operator runs it: under clients that misbehave, abandoned and
//! timed-out requests stop using CPU (read from /proc), idle and half-sent connections are
//! closed after their timeouts, past the connection cap new connections are refused while
//! existing clients are served, and the soft open-file limit is raised at start; it
//! refuses to serve a non-loopback address without authentication; `explain` prints plans;
//! request spans reach an OpenTelemetry collector ([`telemetry`]); SIGTERM and the log
//! formats ([`process`]).

use serde_json::json;
use spacejobs_proto::inventory::job_task_client::JobTaskClient;
use spacejobs_proto::inventory::JobTaskStatQuery;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod process;
mod support;
mod telemetry;

use support::{start, start_with};

const DOMAIN: &str = "domain-demo";

/// CPU time the process has used (user + system), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based) of the line.
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn cpu_over(pid: u32, window: Duration) -> Duration {
    let before = cpu_time(pid);
    std::thread::sleep(window);
    cpu_time(pid).saturating_sub(before)
}

/// A stat that takes the server seconds: 100 regexes over every document's id.
fn heavy_stat() -> JobTaskStatQuery {
    let patterns: Vec<String> = (0..100).map(|i| format!("{i:02}.*[a-f].*[0-9]$")).collect();
    let query: spacejobs_core::StatisticsQuery = serde_json::from_value(json!({
        "filter": [{"k": "job_task_id", "v": patterns, "o": "regex_in"}],
        "aggregate": [{"group": {"keys": [{"key": "created_at", "name": "day", "date_format": "%Y-%m-%d"}],
                                 "fields": [{"operator": "count", "name": "n"}]}}],
    }))
    .expect("query");
    JobTaskStatQuery {
        query: Some(spacejobs_server::convert::statistics_query_to_proto(&query)),
        domain_id: DOMAIN.into(),
    }
}

/// A plain HTTP/1.1 GET on a new connection; the status line's code.
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {answer:?}")))
}

/// True once the peer has closed `stream` (read gives end of file or a reset).
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an error answer before closing
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_and_timed_out_requests_stop_using_cpu() {
    let server = start("cpu", 20_000, &[]);
    let pid = server.child.id();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    // The work is real: one heavy stat, left to finish, takes the server this long.
    let started = Instant::now();
    JobTaskClient::new(channel.clone())
        .stat(heavy_stat())
        .await
        .expect("heavy stat answered");
    let alone = started.elapsed();
    println!("one heavy stat alone: {:.0} ms", alone.as_secs_f64() * 1e3);
    assert!(
        alone > Duration::from_millis(600),
        "the stat must be heavy: {alone:?}"
    );

    for (how, budget) in [
        ("timed out (grpc-timeout 200 ms)", true),
        ("abandoned after 200 ms", false),
    ] {
        let calls: Vec<_> = (0..4)
            .map(|_| {
                let mut client = JobTaskClient::new(channel.clone());
                tokio::spawn(async move {
                    let mut request = tonic::Request::new(heavy_stat());
                    if budget {
                        request.set_timeout(Duration::from_millis(200));
                        client.stat(request).await.map(|_| ()).map_err(|s| s.code())
                    } else {
                        // No deadline: the client just goes away (the stream is reset).
                        match tokio::time::timeout(Duration::from_millis(200), client.stat(request))
                            .await
                        {
                            Ok(answer) => answer.map(|_| ()).map_err(|s| s.code()),
                            Err(_) => Err(tonic::Code::Cancelled),
                        }
                    }
                })
            })
            .collect();
        for call in calls {
            assert!(call.await.expect("join").is_err(), "{how}: ended early");
        }
        // Four heavy stats would keep both cores busy for three seconds; stopped, they use
        // none. Two one-second windows, so a machine busy with other tests that delays the
        // stop by a few hundred milliseconds does not fail it; unstopped work fills both.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let used = tokio::task::spawn_blocking(move || {
            let first = cpu_over(pid, Duration::from_secs(1));
            first.min(cpu_over(pid, Duration::from_secs(1)))
        })
        .await
        .expect("join");
        println!(
            "{how}: server CPU over the next second: {} ms",
            used.as_millis()
        );
        assert!(
            used < Duration::from_millis(200),
            "{how}: still using {used:?} of CPU"
        );
    }
    // And it serves.
    JobTaskClient::new(channel)
        .stat(heavy_stat())
        .await
        .expect("served after");
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_their_timeouts() {
    let server = start(
        "idle",
        10,
        &[
            "--idle-timeout-ms",
            "1000",
            "--header-read-timeout-ms",
            "1000",
        ],
    );
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    let mut half_sent: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).expect("connect");
            s.write_all(b"GET /inventory/v1/job-tasks?domain_id=x HTTP/1.1\r\nHost: te")
                .expect("write");
            s
        })
        .collect();
    // Right away, a real client is served beside them.
    let list_path = format!("/inventory/v1/job-tasks?domain_id={DOMAIN}");
    assert_eq!(http_get(server.addr, &list_path).expect("GET"), 200);
    std::thread::sleep(Duration::from_millis(3000));
    let idle_closed = idle.iter_mut().map(closed_by_peer).filter(|c| *c).count();
    let half_closed = half_sent
        .iter_mut()
        .map(closed_by_peer)
        .filter(|c| *c)
        .count();
    println!("after 3 s: {idle_closed}/20 idle and {half_closed}/20 half-sent connections closed");
    assert_eq!((idle_closed, half_closed), (20, 20));
    assert_eq!(http_get(server.addr, &list_path).expect("GET"), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_new_connections_are_refused_and_existing_clients_served() {
    let server = start("cap", 10, &["--max-connections", "8"]);
    let addr = server.addr;
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut client = JobTaskClient::new(channel);
    let stat = || JobTaskStatQuery {
        query: Some(spacejobs_server::convert::statistics_query_to_proto(
            &serde_json::from_value(json!({"distinct": "status"})).expect("query"),
        )),
        domain_id: DOMAIN.into(),
    };
    client.stat(stat()).await.expect("first client served");
    let holders: Vec<TcpStream> = (0..7)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // The ninth connection is accepted and closed at once.
    let mut ninth = TcpStream::connect(addr).expect("the kernel accepts");
    ninth.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").ok();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        closed_by_peer(&mut ninth),
        "past the cap the connection is refused"
    );
    // The existing client keeps being served.
    client
        .stat(stat())
        .await
        .expect("existing client still served");
    drop(holders);
    // Once connections close, new ones are served again.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match http_get(addr, &format!("/inventory/v1/job-tasks?domain_id={DOMAIN}")) {
            Ok(200) => break,
            other => assert!(Instant::now() < until, "not served again: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_soft_open_file_limit_is_raised_at_start() {
    let server = start_with("nofile", 10, &[], Some(256));
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    println!("{line}");
    assert_eq!(
        numbers[0], numbers[1],
        "soft limit raised to the hard one: {line}"
    );
}

#[test]
fn no_authentication_is_refused_off_loopback_unless_insecure() {
    let run = |args: &[&str]| {
        Command::new(support::BINARY)
            .env_remove("MONGODB_URI")
            .args(args)
            .args([
                "--data-dir",
                &std::env::temp_dir()
                    .join("spacejobs-noauth")
                    .to_string_lossy(),
            ])
            .output()
            .expect("run")
    };
    let refused = run(&["--listen", "0.0.0.0:0"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("without authentication") && stderr.contains("--insecure-no-auth"),
        "{stderr}"
    );
    let incomplete = run(&["--listen", "127.0.0.1:0", "--auth", "spaceone"]);
    assert!(!incomplete.status.success());
    assert!(String::from_utf8_lossy(&incomplete.stderr).contains("--identity-endpoint"));
    // With --insecure-no-auth it serves (and warns).
    let port = support::free_port();
    let mut child = Command::new(support::BINARY)
        .env_remove("MONGODB_URI")
        .args(["--listen", &format!("0.0.0.0:{port}"), "--insecure-no-auth"])
        .args([
            "--data-dir",
            &std::env::temp_dir()
                .join("spacejobs-noauth")
                .to_string_lossy(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let until = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "did not serve");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait");
    assert!(String::from_utf8_lossy(&output.stderr).contains("WITHOUT authentication"));
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
fn certificates(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=spacejobs test CA",
            days[0],
            days[1],
        ],
    );
    for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                ext,
                days[0],
                days[1],
            ],
        );
    }
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl")
}

#[test]
fn tls_serves_grpc_and_rest_on_one_port_and_refuses_plaintext() {
    let dir = std::env::temp_dir().join(format!("spacejobs-certs-{}", std::process::id()));
    certificates(&dir);
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let server = start(
        "tls",
        10,
        &[
            "--tls-cert",
            &file("server.pem"),
            "--tls-key",
            &file("server.key"),
        ],
    );
    let base = format!("https://{}", server.addr);
    let answer = curl(&[
        "--cacert",
        &file("ca.pem"),
        &format!("{base}/inventory/v1/job-tasks?domain_id={DOMAIN}"),
    ]);
    let body = String::from_utf8_lossy(&answer.stdout);
    assert!(
        answer.status.success()
            && body.contains("\"total_count\":")
            && body.contains("domain-demo"),
        "{body} {answer:?}"
    );
    // Plaintext HTTP on the TLS port gets no answer.
    let plain = http_get(
        server.addr,
        &format!("/inventory/v1/job-tasks?domain_id={DOMAIN}"),
    );
    assert!(plain.is_err(), "plaintext answered: {plain:?}");
    // grpcurl over TLS (installed by scripts/python-env.sh; skipped where it is not).
    if let Ok(grpcurl) = std::env::var("GRPCURL") {
        let listed = Command::new(&grpcurl)
            .args(["-cacert", &file("ca.pem"), &server.addr.to_string(), "list"])
            .output()
            .expect("grpcurl");
        let names = String::from_utf8_lossy(&listed.stdout);
        assert_eq!(
            names.trim(),
            "spaceone.api.inventory.v1.JobTask",
            "{listed:?}"
        );
        let plaintext = Command::new(&grpcurl)
            .args([
                "-plaintext",
                "-max-time",
                "5",
                &server.addr.to_string(),
                "list",
            ])
            .output()
            .expect("grpcurl");
        assert!(!plaintext.status.success(), "plaintext gRPC was served");
    }
    drop(server);

    // With a client CA, a client without a certificate is refused, one with is served.
    let server = start(
        "mtls",
        10,
        &[
            "--tls-cert",
            &file("server.pem"),
            "--tls-key",
            &file("server.key"),
            "--tls-client-ca",
            &file("ca.pem"),
        ],
    );
    let url = format!(
        "https://{}/inventory/v1/job-tasks?domain_id={DOMAIN}",
        server.addr
    );
    let refused = curl(&["--cacert", &file("ca.pem"), &url]);
    assert!(
        !String::from_utf8_lossy(&refused.stdout).contains("total_count"),
        "{refused:?}"
    );
    let served = curl(&[
        "--cacert",
        &file("ca.pem"),
        "--cert",
        &file("client.pem"),
        "--key",
        &file("client.key"),
        &url,
    ]);
    assert!(
        String::from_utf8_lossy(&served.stdout).contains("\"total_count\":"),
        "{served:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn options_before_the_command_are_honoured_or_refused_never_ignored() {
    let dir = std::env::temp_dir().join(format!("spacejobs-options-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("tasks.jsonl");
    std::fs::write(
        &file,
        "{\"job_task_id\": \"job-task-1\", \"status\": \"SUCCESS\", \"domain_id\": \"d\"}\n",
    )
    .expect("write");
    let run = |args: &[&str]| {
        Command::new(support::BINARY)
            .env_remove("MONGODB_URI")
            .env_remove("SPACEJOBS_DATA_DIR")
            .current_dir(&dir)
            .args(args)
            .output()
            .expect("run")
    };
    let file = file.to_string_lossy().into_owned();
    // A store option before the command applies to it, as it does after.
    let before = run(&["--data-dir", "before", "import", &file]);
    assert!(before.status.success(), "{before:?}");
    assert!(
        dir.join("before/spacejobs.redb").exists(),
        "imported where --data-dir said"
    );
    assert!(!dir.join("data").exists(), "not into the default directory");
    let after = run(&["import", &file, "--data-dir", "after"]);
    assert!(after.status.success(), "{after:?}");
    assert!(dir.join("after/spacejobs.redb").exists());
    // A serve option with another command is refused, and nothing is written.
    let misplaced = run(&[
        "--listen",
        "127.0.0.1:1",
        "import",
        &file,
        "--data-dir",
        "refused",
    ]);
    assert_eq!(misplaced.status.code(), Some(2), "{misplaced:?}");
    let stderr = String::from_utf8_lossy(&misplaced.stderr);
    assert!(
        stderr.contains("--listen is an option of `serve`"),
        "{stderr}"
    );
    assert!(!dir.join("refused").exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn importing_the_same_file_twice_is_refused_naming_the_line_and_id() {
    let dir = std::env::temp_dir().join(format!("spacejobs-reimport-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("tasks.jsonl");
    std::fs::write(
        &file,
        "{\"job_task_id\": \"job-task-1\", \"status\": \"SUCCESS\", \"domain_id\": \"d\"}\n\n\
         {\"job_task_id\": \"job-task-2\", \"status\": \"FAILURE\", \"domain_id\": \"d\"}\n",
    )
    .expect("write");
    let import = |path: &std::path::Path| {
        Command::new(support::BINARY)
            .env_remove("MONGODB_URI")
            .args(["import", &path.to_string_lossy(), "--data-dir"])
            .arg(dir.join("db"))
            .output()
            .expect("import")
    };
    assert!(import(&file).status.success());
    let again = import(&file);
    assert!(
        !again.status.success(),
        "a second import of the same ids is refused"
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("line 1: ERROR_NOT_UNIQUE") && stderr.contains("value = job-task-1"),
        "{stderr}"
    );
    // Only the new id of a mixed file would be fine; the whole file is refused all the same.
    let mixed = dir.join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"job_task_id\": \"job-task-3\", \"status\": \"SUCCESS\", \"domain_id\": \"d\"}\n\
         {\"job_task_id\": \"job-task-2\", \"status\": \"SUCCESS\", \"domain_id\": \"d\"}\n",
    )
    .expect("write");
    let refused = import(&mixed);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 2: ERROR_NOT_UNIQUE"), "{stderr}");
    let new_only = dir.join("new.jsonl");
    std::fs::write(
        &new_only,
        "{\"job_task_id\": \"job-task-3\", \"status\": \"SUCCESS\", \"domain_id\": \"d\"}\n",
    )
    .expect("write");
    assert!(
        import(&new_only).status.success(),
        "job-task-3 was not half-imported"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_prints_the_plan_on_the_embedded_store_and_on_mongodb() {
    let dir = std::env::temp_dir().join(format!("spacejobs-explain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let data = dir.join("data").to_string_lossy().into_owned();
    let run = |args: &[&str], stdin: &str, mongodb: Option<&str>| {
        let mut command = Command::new(support::BINARY);
        command.env_remove("MONGODB_URI").args(args);
        if let Some(uri) = mongodb {
            command.args(["--mongodb-uri", uri, "--database", "spacejobs_explain_cli"]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("output")
    };
    let added = run(
        &["--data-dir", &data, "demo-data", "--count", "300"],
        "",
        None,
    );
    assert!(added.status.success(), "{added:?}");
    let list = dir.join("list.json");
    std::fs::write(
        &list,
        json!({"domain_id": DOMAIN, "status": "FAILURE", "query": {"page": {"limit": 3}}})
            .to_string(),
    )
    .expect("write");
    let list = list.to_string_lossy().into_owned();
    let parse = |out: &std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    };
    let explained = parse(&run(
        &["--data-dir", &data, "explain", "list", &list],
        "",
        None,
    ));
    assert_eq!(explained["method"], "list");
    assert_eq!(explained["store"]["store"], "embedded");
    assert_eq!(explained["store"]["engine"]["documents"], 300);
    let commands = explained["mongodb_commands"].as_array().expect("commands");
    assert_eq!(commands[1]["find"], "job_task");
    assert_eq!(commands[1]["limit"], 3);
    // From standard input, a stat.
    let stat = json!({"domain_id": DOMAIN, "query": {"distinct": "provider"}}).to_string();
    let explained = parse(&run(&["--data-dir", &data, "explain", "stat"], &stat, None));
    assert_eq!(explained["plan"]["distinct"], "provider");
    // Bad input is named, not explained.
    let bad = run(&["--data-dir", &data, "explain", "list"], "{not json", None);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is not JSON"),
        "{bad:?}"
    );
    let unknown =
        json!({"domain_id": DOMAIN, "query": {"filter": [{"k": "status", "o": "bogus"}]}})
            .to_string();
    let refused = run(&["--data-dir", &data, "explain", "list"], &unknown, None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("ERROR_DB_QUERY"),
        "{refused:?}"
    );
    // On MongoDB: the commands and the server's explain of each.
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI: run `bash scripts/test`");
    let explained = parse(&run(&["explain", "list", &list], "", Some(&uri)));
    assert_eq!(explained["store"]["store"], "mongodb");
    assert_eq!(explained["store"]["database"], "spacejobs_explain_cli");
    let server = explained["store"]["server_explain"]
        .as_array()
        .expect("server");
    assert_eq!(server.len(), 2);
    assert!(server[1].get("queryPlanner").is_some(), "{explained}");
    let _ = std::fs::remove_dir_all(&dir);
}
