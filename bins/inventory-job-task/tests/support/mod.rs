//! The real binary on a fresh data directory filled with demo JobTasks, on a free loopback
//! port: shared by the binary's tests and the load command.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_inventory-job-task");

/// A running binary on a fresh data directory; killed when dropped.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// Where it serves.
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Fills a data directory with `documents` demo JobTasks and serves it with `flags`.
#[allow(dead_code)] // not every user starts it plainly
pub fn start(label: &str, documents: usize, flags: &[&str]) -> Server {
    start_with(label, documents, flags, None)
}

/// [`start`], the server started with its soft open-file limit lowered to `soft_nofile`.
#[allow(dead_code)] // not every user lowers it
pub fn start_with(
    label: &str,
    documents: usize,
    flags: &[&str],
    soft_nofile: Option<u32>,
) -> Server {
    launch(BINARY, label, documents, flags, soft_nofile, None)
}

/// [`start`] with another build of the binary (the load bench compares the image's).
#[allow(dead_code)] // the load bench's
pub fn start_binary(binary: &str, label: &str, documents: usize, flags: &[&str]) -> Server {
    launch(binary, label, documents, flags, None, None)
}

/// [`start`], the server's standard error (at `RUST_LOG=info`) written to the file `log`.
#[allow(dead_code)] // not every user reads the log
pub fn start_logged(
    label: &str,
    documents: usize,
    flags: &[&str],
    log: &std::path::Path,
) -> Server {
    launch(BINARY, label, documents, flags, None, Some(log))
}

fn launch(
    binary: &str,
    label: &str,
    documents: usize,
    flags: &[&str],
    soft_nofile: Option<u32>,
    log: Option<&std::path::Path>,
) -> Server {
    let dir = std::env::temp_dir().join(format!("spacejobs-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data_dir = dir.to_str().expect("utf-8 path");
    let status = Command::new(binary)
        .env_remove("MONGODB_URI")
        .args([
            "demo-data",
            "--count",
            &documents.to_string(),
            "--data-dir",
            data_dir,
        ])
        .stdout(Stdio::null())
        .status()
        .expect("demo-data");
    assert!(status.success(), "demo-data failed");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let mut command = match soft_nofile {
        None => Command::new(binary),
        Some(n) => {
            let mut sh = Command::new("sh");
            sh.args([
                "-c",
                &format!("ulimit -Sn {n} && exec \"$0\" \"$@\""),
                binary,
            ]);
            sh
        }
    };
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
        None => Stdio::null(),
    };
    let child = command
        .args(["--listen", &addr.to_string(), "--data-dir", data_dir])
        .args(flags)
        .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
        .env_remove("MONGODB_URI")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("serve");
    let mut server = Server { child, addr, dir };
    let until = Instant::now() + Duration::from_secs(120);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < until, "the server did not start");
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("the server exited at start: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}
