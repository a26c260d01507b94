//! Documents as SpaceONE's Python services write them (mongoengine: extra fields, missing
//! optional fields, `null` dates and strings, int64 counters), inserted with the driver
//! itself, are listed, aggregated and read into the models without error.

use crate::support::fresh_store;
use bson::{doc, oid::ObjectId, DateTime};
use serde_json::json;
use spacejobs_core::model::{Job, JobTask, JobTaskStatus};
use spacejobs_core::{render, JobService, ListRequest, Service, StatRequest};
use std::sync::Arc;

#[tokio::test]
async fn python_written_documents_are_read() {
    let store = fresh_store("python_layout").await;
    let created = DateTime::parse_rfc3339_str("2022-06-17T08:00:00.680Z").expect("date");
    let raw = store.database().collection::<bson::Document>("job_task");
    raw.insert_many(vec![
        doc! {"_id": ObjectId::new(), "job_task_id": "job-task-0123456789ab", "status": "SUCCESS",
              "created_count": 3_i64, "updated_count": 1, "failure_count": 0, "deleted_count": 0, "disconnected_count": 0,
              "errors": [], "job_id": "job-0123456789ab", "secret_id": null, "provider": "aws",
              "service_account_id": "sa-1", "project_id": "project-1", "domain_id": "domain-py",
              "created_at": created, "started_at": created, "finished_at": null, "plugin_id": "extra-field"},
        doc! {"_id": ObjectId::new(), "job_task_id": "job-task-0123456789ac", "status": "FAILURE",
              "errors": [{"error_code": "ERROR_AUTH", "message": "denied", "additional": null}],
              "job_id": "job-0123456789ab", "domain_id": "domain-py", "created_at": created},
    ])
    .await
    .expect("raw insert");
    let service = JobService::new(Service::Inventory, Arc::new(store.clone()));
    let listed = service
        .list(
            &ListRequest::from_json(
                Service::Inventory,
                &json!({"domain_id": "domain-py", "query": {"sort": {"key": "job_task_id"}}}),
            )
            .expect("request"),
        )
        .await
        .expect("list");
    assert_eq!(listed.total_count, 2);
    let rendered = render::list_response(&listed);
    assert_eq!(
        rendered["results"][0]["created_at"],
        json!("2022-06-17T08:00:00.680Z")
    );
    assert_eq!(rendered["results"][0]["finished_at"], json!(null));
    let tasks: Vec<JobTask> = listed
        .documents
        .into_iter()
        .map(|d| JobTask::from_raw(&d).expect("model"))
        .collect();
    assert_eq!(tasks[0].status, JobTaskStatus::Success);
    assert_eq!(tasks[0].secret_id, "");
    assert_eq!(tasks[0].finished_at, None);
    assert_eq!(tasks[1].errors[0].error_code, "ERROR_AUTH");
    assert_eq!(tasks[1].created_count, 0);

    let stat = StatRequest::from_json(&json!({"domain_id": "domain-py", "query": {"aggregate": [
        {"group": {"keys": [{"key": "status", "name": "status"}], "fields": [{"operator": "sum", "key": "created_count", "name": "created"}]}},
        {"sort": {"key": "status"}}]}}))
    .expect("request");
    let stats = render::stat_response(&service.stat(&stat).await.expect("stat"));
    assert_eq!(
        stats,
        json!({"results": [{"status": "FAILURE", "created": 0}, {"status": "SUCCESS", "created": 3}]})
    );

    let jobs = store.database().collection::<bson::Document>("job");
    jobs.insert_one(doc! {"job_id": "job-0123456789ab", "status": "CREATED", "filter": {}, "total_tasks": 2,
        "remained_tasks": 2, "domain_id": "domain-py", "created_at": created, "updated_at": null,
        "schedule_id": "schedule-1", "controller": {"controller_id": "ctl-1", "name": "aws", "plugin_info": null}})
        .await
        .expect("raw insert");
    let jobs = JobService::new(Service::PowerScheduler, Arc::new(store));
    let listed = jobs
        .list(
            &ListRequest::from_json(
                Service::PowerScheduler,
                &json!({"domain_id": "domain-py", "schedule_id": "schedule-1"}),
            )
            .expect("request"),
        )
        .await
        .expect("list");
    let job = Job::from_raw(listed.documents.first().expect("one job")).expect("model");
    assert_eq!(
        job.controller.map(|c| c.controller_id),
        Some("ctl-1".to_string())
    );
    assert_eq!(job.updated_at, None);
}

/// A database the Python service indexed first: mongoengine made `job_task_id_1` without
/// `unique` and `created_at_1`; start-up's index creation leaves what conflicts as it is
/// (a warning) and still serves.
#[tokio::test]
async fn indexes_the_python_service_made_first_do_not_stop_start_up() {
    let store = fresh_store("python_indexes").await;
    let raw = store.database().collection::<bson::Document>("job_task");
    for keys in [
        doc! {"job_task_id": 1},
        doc! {"created_at": 1},
        doc! {"domain_id": 1},
    ] {
        raw.create_index(mongodb::IndexModel::builder().keys(keys).build())
            .await
            .expect("mongoengine's index");
    }
    store
        .ensure_indexes(Service::Inventory)
        .await
        .expect("start-up over the Python service's indexes");
    let names: Vec<String> = raw.list_index_names().await.expect("index names");
    assert!(names.contains(&"job_task_id_1".to_string()), "{names:?}");
    assert!(
        names.contains(&"status_1".to_string()),
        "ours were made: {names:?}"
    );
}
