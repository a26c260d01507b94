//! Test support: the server under test (`MONGODB_URI`), a fresh database per test, the corpus
//! datasets as BSON, and an own server process for the restart test.

use bson::Document;
use spacejobs_conformance::Corpus;
use spacejobs_core::Service;
use spacejobs_mongo::{MongoConfig, MongoStore};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The server all tests but the restart test use.
pub fn uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| {
        panic!("MONGODB_URI is not set: run `bash scripts/test` (it starts a test server) or point it at a MongoDB")
    })
}

/// A store on a database of its own (dropped first), named after the test.
pub async fn fresh_store(test: &str) -> MongoStore {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let config = MongoConfig {
        uri: uri(),
        database: format!("spacejobs_test_{test}_{}_{n}", std::process::id()),
        timeout: Duration::from_secs(10),
        overrides: Default::default(),
    };
    let store = MongoStore::connect(&config).await.expect("connect");
    store
        .database()
        .drop()
        .await
        .expect("drop the test database");
    store
}

/// A corpus dataset as BSON documents.
pub fn dataset(corpus: &Corpus, service: Service) -> Vec<Document> {
    corpus.documents(service.name())
}

/// A server process of the test's own, from `SPACEJOBS_MONGOD_CMD` (a command line with a
/// `{port}` placeholder; scripts/test sets it to SecantusDB). Killed on drop.
pub struct OwnServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl OwnServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> OwnServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        OwnServer::start_on(port)
    }

    /// Starts a single-node replica set (from `SPACEJOBS_MONGOD_RS_CMD`; scripts/test sets it
    /// to SecantusDB without `--standalone`) on a free port.
    pub fn start_replica_set() -> OwnServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        OwnServer::start_from("SPACEJOBS_MONGOD_RS_CMD", port)
    }

    /// Starts a server on `port` and waits until it accepts connections.
    pub fn start_on(port: u16) -> OwnServer {
        OwnServer::start_from("SPACEJOBS_MONGOD_CMD", port)
    }

    /// Starts the server command in environment variable `variable` on `port`.
    fn start_from(variable: &str, port: u16) -> OwnServer {
        let template = std::env::var(variable).unwrap_or_else(|_| {
            panic!("{variable} is not set: run `bash scripts/test`, or set it to a server command with {{port}}")
        });
        let line = template.replace("{port}", &port.to_string());
        let mut parts = line.split_whitespace();
        let program = parts.next().expect("a command");
        let child = Command::new(program)
            .args(parts)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start '{line}': {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server '{line}' did not listen within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        OwnServer {
            child: Some(child),
            port,
        }
    }

    /// Kills the server and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}
