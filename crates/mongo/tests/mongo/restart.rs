//! The store survives its server going away: calls (and the readiness `ping`) fail with the
//! storage-unavailable error within the configured time-out, and succeed again, on the same
//! store value, after the server is back.

use crate::support::OwnServer;
use bson::doc;
use spacejobs_core::{Error, Query, Store};
use spacejobs_mongo::{MongoConfig, MongoStore};
use spacejobs_query::compile;
use spacejobs_query::time::{Clock, SystemClock};
use std::time::{Duration, Instant};

#[tokio::test]
async fn unavailable_while_the_server_is_down_then_recovers() {
    let mut server = OwnServer::start();
    let timeout = Duration::from_secs(2);
    let config = MongoConfig {
        uri: format!("mongodb://127.0.0.1:{}", server.port),
        database: "spacejobs_restart".to_string(),
        timeout,
        overrides: Default::default(),
    };
    let store = MongoStore::connect(&config).await.expect("connect");
    store
        .insert(
            "job",
            vec![doc! {"job_id": "job-000000000001", "domain_id": "d"}],
        )
        .await
        .expect("insert");
    let plan = compile::list(&Query::default(), &[], SystemClock.now()).expect("plan");
    assert_eq!(
        store
            .list("job", &plan, &Default::default())
            .await
            .expect("list while up")
            .total_count,
        1
    );

    let ping_deadline = || spacejobs_core::Deadline::after(Duration::from_secs(5));
    store.ping(&ping_deadline()).await.expect("ping while up");

    server.stop();
    let started = Instant::now();
    let err = store
        .list("job", &plan, &Default::default())
        .await
        .expect_err("the server is down");
    let waited = started.elapsed();
    assert!(
        matches!(err, Error::Unavailable(_) | Error::Timeout(_)),
        "{err:?}"
    );
    assert_eq!(err.code(), "ERROR_DB_UNAVAILABLE");
    assert!(
        waited < timeout + Duration::from_secs(5),
        "failed after {waited:?}, time-out {timeout:?}"
    );

    let err = store
        .ping(&ping_deadline())
        .await
        .expect_err("ping while down");
    assert_eq!(err.code(), "ERROR_DB_UNAVAILABLE", "{err:?}");

    let _server = OwnServer::start_on(server.port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.list("job", &plan, &Default::default()).await {
            Ok(out) => {
                // The test server keeps no data across restarts; the call itself must work.
                assert!(out.total_count <= 1);
                store.ping(&ping_deadline()).await.expect("ping once back");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "no recovery within 30 s: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
