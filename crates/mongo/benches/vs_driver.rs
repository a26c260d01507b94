//! Our MongoDB store beside the same queries written by hand for the `mongodb` driver: prints
//! the median time of each and the ratio (target ≤ 1.2×). Needs a server at `MONGODB_URI`;
//! `bash scripts/bench-mongo` starts the SecantusDB test server for it. Times taken there are
//! the test server's (Python), not mongod's: only the ratio means something.

use bson::{doc, Document};
use futures_util::TryStreamExt;
use serde_json::json;
use spacejobs_core::{Query, StatisticsQuery, Store};
use spacejobs_mongo::{MongoConfig, MongoStore};
use spacejobs_query::compile;
use spacejobs_query::time::{Clock, SystemClock};
use std::future::Future;
use std::time::{Duration, Instant};

const DOCS: usize = 5_000;
const RUNS: usize = 15;
const STATUSES: [&str; 5] = ["PENDING", "CANCELED", "IN_PROGRESS", "SUCCESS", "FAILURE"];

fn job_task(i: usize) -> Document {
    doc! {
        "job_task_id": format!("job-task-{i:012x}"), "status": STATUSES[i % 5],
        "created_count": (i % 17) as i32, "updated_count": 0, "failure_count": (i % 3) as i32,
        "deleted_count": 0, "disconnected_count": 0, "errors": [], "job_id": format!("job-{:012x}", i / 10),
        "provider": "aws", "project_id": format!("project-{}", i % 20), "domain_id": format!("domain-{}", i % 2),
        "created_at": bson::DateTime::from_millis(1_650_000_000_000 + (i as i64 * 7_919) % 86_400_000_000),
    }
}

async fn median<F, Fut>(mut run: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..3 {
        run().await;
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        run().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[RUNS / 2]
}

#[tokio::main]
async fn main() {
    let Ok(uri) = std::env::var("MONGODB_URI") else {
        eprintln!("MONGODB_URI is not set: run `bash scripts/bench-mongo`");
        std::process::exit(2);
    };
    let config = MongoConfig {
        uri,
        database: "spacejobs_bench".into(),
        timeout: Duration::from_secs(30),
        overrides: Default::default(),
    };
    let store = MongoStore::connect(&config).await.expect("connect");
    store.database().drop().await.expect("drop");
    store
        .insert("job_task", (0..DOCS).map(job_task).collect())
        .await
        .expect("insert");
    let coll = store.database().collection::<Document>("job_task");
    let now = SystemClock.now();

    let list_query: Query = serde_json::from_value(json!({
        "filter": [{"k": "status", "v": "SUCCESS", "o": "eq"}, {"k": "domain_id", "v": "domain-1", "o": "eq"}],
        "sort": {"key": "created_at", "desc": true}, "page": {"limit": 100}})).expect("query");
    let list_plan = compile::list(&list_query, &[], now).expect("plan");
    let ours_list = median(|| async {
        assert_eq!(
            store
                .list("job_task", &list_plan, &Default::default())
                .await
                .expect("list")
                .documents
                .len(),
            100
        )
    })
    .await;
    let driver_list = median(|| async {
        let filter = doc! {"status": "SUCCESS", "domain_id": "domain-1"};
        coll.count_documents(filter.clone()).await.expect("count");
        let rows: Vec<Document> = coll
            .find(filter)
            .sort(doc! {"created_at": -1, "_id": 1})
            .limit(100)
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("rows");
        assert_eq!(rows.len(), 100);
    })
    .await;

    // The very documents our crate sends, through the driver: the crate's own overhead.
    let same_list = median(|| async {
        let filter = spacejobs_mongo::filter::filter(&list_plan.filter);
        coll.count_documents(filter.clone()).await.expect("count");
        let sort = spacejobs_mongo::pipeline::sort(&list_plan.sort, &["_id"]);
        let rows: Vec<Document> = coll
            .find(filter)
            .sort(sort)
            .limit(100)
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("rows");
        assert_eq!(rows.len(), 100);
    })
    .await;

    let stat_query: StatisticsQuery = serde_json::from_value(json!({
        "filter": [{"k": "domain_id", "v": "domain-1", "o": "eq"}],
        "aggregate": [{"group": {"keys": [{"key": "status", "name": "status"}], "fields": [
            {"operator": "count", "name": "n"}, {"operator": "sum", "key": "created_count", "name": "created"}]}}]})).expect("query");
    let stat_plan = compile::stat(&stat_query, now).expect("plan");
    let ours_stat = median(|| async {
        assert_eq!(
            store
                .stat("job_task", &stat_plan, &Default::default())
                .await
                .expect("stat")
                .results
                .len(),
            5
        )
    })
    .await;
    let driver_stat = median(|| async {
        let pipeline = vec![
            doc! {"$match": {"domain_id": "domain-1"}},
            doc! {"$group": {"_id": "$status", "n": {"$sum": 1}, "created": {"$sum": "$created_count"}}},
            // The same answer: flat rows with the key as a column.
            doc! {"$project": {"_id": 0, "status": "$_id", "n": 1, "created": 1}},
        ];
        let rows: Vec<Document> = coll.aggregate(pipeline).await.expect("aggregate").try_collect().await.expect("rows");
        assert_eq!(rows.len(), 5);
    })
    .await;

    let same_stat = median(|| async {
        let rows: Vec<Document> = coll
            .aggregate(spacejobs_mongo::pipeline::stat(&stat_plan))
            .await
            .expect("aggregate")
            .try_collect()
            .await
            .expect("rows");
        assert_eq!(rows.len(), 5);
    })
    .await;

    println!("spacejobs-mongo vs the mongodb driver, {DOCS} JobTasks, median of {RUNS} runs");
    println!("(absolute times are the test server's at MONGODB_URI, e.g. SecantusDB, not mongod's; compare the ratio)");
    println!("driver: the query written by hand for the driver; same: our translated query sent through the driver");
    println!(
        "{:<48} {:>10} {:>10} {:>7}",
        "query", "ours ms", "other ms", "ratio"
    );
    let rows = [
        (
            "list: 2 eq filters, sort, page 100 vs driver",
            ours_list,
            driver_list,
        ),
        (
            "list: 2 eq filters, sort, page 100 vs same",
            ours_list,
            same_list,
        ),
        (
            "stat: group by status, count + sum vs driver",
            ours_stat,
            driver_stat,
        ),
        (
            "stat: group by status, count + sum vs same",
            ours_stat,
            same_stat,
        ),
    ];
    for (name, ours, other) in rows {
        let (ours, other) = (ours.as_secs_f64(), other.as_secs_f64());
        println!(
            "{name:<48} {:>10.2} {:>10.2} {:>6.2}x",
            ours * 1e3,
            other * 1e3,
            ours / other
        );
    }
    store.database().drop().await.expect("drop");
}
