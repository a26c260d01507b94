//! `explain` on MongoDB: the commands it shows are the ones the store sends (run as shown,
//! they give the page `list` gives), each with the server's own explain of it.

use crate::support;
use bson::{doc, Bson, Document};
use serde_json::json;
use spacejobs_core::{JobService, Service, Store};
use spacejobs_query::Method;
use std::sync::Arc;

fn task(i: i64) -> Document {
    doc! {
        "job_task_id": format!("job-task-{i:04}"),
        "status": if i % 4 == 0 { "FAILURE" } else { "SUCCESS" },
        "domain_id": "domain-x",
        "created_at": bson::DateTime::from_millis(1_700_000_000_000 + i * 1000),
    }
}

#[tokio::test]
async fn explain_shows_the_commands_sent_and_the_servers_plan() {
    let store = support::fresh_store("explain").await;
    store
        .ensure_indexes(Service::Inventory)
        .await
        .expect("indexes");
    store
        .insert("job_task", (0..40).map(task).collect())
        .await
        .expect("insert");
    let database = store.database().clone();
    let service = JobService::new(Service::Inventory, Arc::new(store));
    let deadline = service.deadline(None);
    let request = json!({
        "domain_id": "domain-x",
        "status": "FAILURE",
        "query": {"page": {"start": 2, "limit": 3}, "only": ["job_task_id"]}
    });
    let explained = service
        .explain_json(Method::List, &request, &deadline, None)
        .await
        .expect("explain list");
    assert_eq!(explained["method"], "list");
    let store_part = &explained["store"];
    assert_eq!(store_part["store"], "mongodb");
    let commands = store_part["commands"].as_array().expect("commands");
    assert_eq!(commands.len(), 2, "a count, then the page's find");
    assert_eq!(
        commands[0]["pipeline"][0]["$match"],
        json!({"domain_id": "domain-x", "status": "FAILURE"})
    );
    let find = &commands[1];
    // The sort keeps its key order: created_at first, the _id tiebreak after.
    let sort_keys: Vec<&String> = find["sort"].as_object().expect("sort").keys().collect();
    assert_eq!(sort_keys, ["created_at", "_id"]);
    assert_eq!(
        (find["skip"].clone(), find["limit"].clone()),
        (json!(1), json!(3))
    );
    // The server explains each command it would get.
    let server = store_part["server_explain"].as_array().expect("server");
    assert_eq!(server.len(), 2);
    for answer in server {
        assert!(
            answer.get("queryPlanner").is_some() || answer.get("stages").is_some(),
            "{answer}"
        );
    }
    // Run as shown, the find gives the page list gives.
    let command = match Bson::try_from(find.clone()).expect("extended JSON") {
        Bson::Document(command) => command,
        other => panic!("not a document: {other}"),
    };
    let answer = database.run_command(command).await.expect("find as shown");
    let batch = answer
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .expect("firstBatch");
    let shown: Vec<&str> = batch
        .iter()
        .filter_map(|d| d.as_document()?.get_str("job_task_id").ok())
        .collect();
    let listed = service.list_json(&request).await.expect("list")["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["job_task_id"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert_eq!(shown, listed);
    assert_eq!(shown, ["job-task-0032", "job-task-0028", "job-task-0024"]);

    let stat = json!({"domain_id": "domain-x", "query": {"distinct": "status"}});
    let explained = service
        .explain_json(Method::Stat, &stat, &deadline, None)
        .await
        .expect("explain stat");
    let commands = explained["store"]["commands"].as_array().expect("commands");
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["aggregate"], "job_task");
    assert_eq!(explained["plan"]["distinct"], "status");
    // A bad request is refused as list would refuse it.
    let bad =
        json!({"domain_id": "domain-x", "query": {"filter": [{"k": "status", "o": "bogus"}]}});
    let err = service
        .explain_json(Method::List, &bad, &deadline, None)
        .await
        .expect_err("bad operator");
    assert_eq!(err.code(), "ERROR_DB_QUERY");
}
