//! Proto messages as their proto3 JSON (snake_case names, enum names, RFC 3339 timestamps,
//! Structs as objects), for the REST routes. Unset fields are written with their defaults.

use crate::convert::struct_to_json;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};
use spacejobs_proto::{inventory, power_scheduler, spot_automation};

fn object(s: &Option<prost_types::Struct>) -> Value {
    Value::Object(s.as_ref().map(struct_to_json).unwrap_or_default())
}

fn timestamp(t: &Option<prost_types::Timestamp>) -> Value {
    match t {
        None => Value::String(String::new()),
        Some(t) => {
            let ms = t.seconds * 1000 + i64::from(t.nanos / 1_000_000);
            Value::String(spacejobs_query::time::format_iso(
                bson::DateTime::from_millis(ms),
            ))
        }
    }
}

fn errors<E>(
    errors: &[E],
    parts: impl Fn(&E) -> (&str, &str, &Option<prost_types::Struct>),
) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| {
                let (code, message, additional) = parts(e);
                json!({"error_code": code, "message": message, "additional": object(additional)})
            })
            .collect(),
    )
}

/// An enum as its name; the zero value (unset) as "", the default the corpus checks for.
fn enum_name(n: i32, name: impl Fn(i32) -> Option<&'static str>) -> &'static str {
    if n == 0 {
        ""
    } else {
        name(n).unwrap_or("")
    }
}

fn listing(results: Vec<Value>, total: i32) -> Value {
    json!({"results": results, "total_count": total})
}

/// `JobTasksInfo` as JSON (the tree of what the REST list writes, [`crate::raw_json`]).
pub fn job_tasks(r: inventory::JobTasksInfo) -> Value {
    // Plain data becomes a tree without failing; null would say so if it did.
    serde_json::to_value(JobTasksJson(&r)).unwrap_or(Value::Null)
}

/// One `JobTaskInfo` as its JSON object, appended to `out` (the REST list's fallback for a
/// stored document [`crate::raw_json`] cannot write straight).
pub(crate) fn write_job_task(
    info: &inventory::JobTaskInfo,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    serde_json::to_writer(out, &JobTaskJson(info))
}

struct JobTasksJson<'a>(&'a inventory::JobTasksInfo);

impl Serialize for JobTasksJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Rows<'a>(&'a [inventory::JobTaskInfo]);
        impl Serialize for Rows<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for t in self.0 {
                    seq.serialize_element(&JobTaskJson(t))?;
                }
                seq.end()
            }
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("results", &Rows(&self.0.results))?;
        map.serialize_entry("total_count", &self.0.total_count)?;
        map.end()
    }
}

struct JobTaskJson<'a>(&'a inventory::JobTaskInfo);

impl Serialize for JobTaskJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let status = enum_name(t.status, |n| {
            inventory::job_task_info::JobTaskStatus::try_from(n)
                .ok()
                .map(|s| s.as_str_name())
        });
        let mut map = s.serialize_map(Some(17))?;
        map.serialize_entry("job_task_id", &t.job_task_id)?;
        map.serialize_entry("status", status)?;
        map.serialize_entry("created_count", &t.created_count)?;
        map.serialize_entry("updated_count", &t.updated_count)?;
        map.serialize_entry("failure_count", &t.failure_count)?;
        map.serialize_entry("deleted_count", &t.deleted_count)?;
        map.serialize_entry("disconnected_count", &t.disconnected_count)?;
        map.serialize_entry(
            "errors",
            &errors(&t.errors, |e| (&e.error_code, &e.message, &e.additional)),
        )?;
        map.serialize_entry("job_id", &t.job_id)?;
        map.serialize_entry("secret_id", &t.secret_id)?;
        map.serialize_entry("provider", &t.provider)?;
        map.serialize_entry("service_account_id", &t.service_account_id)?;
        map.serialize_entry("project_id", &t.project_id)?;
        map.serialize_entry("domain_id", &t.domain_id)?;
        map.serialize_entry("created_at", &t.created_at)?;
        map.serialize_entry("started_at", &t.started_at)?;
        map.serialize_entry("finished_at", &t.finished_at)?;
        map.end()
    }
}

/// spot_automation `JobsInfo` as JSON.
pub fn spot_jobs(r: spot_automation::JobsInfo) -> Value {
    let rows = r
        .results
        .iter()
        .map(|j| {
            let status = enum_name(j.status, |n| spot_automation::job_info::Status::try_from(n).ok().map(|s| s.as_str_name()));
            json!({
                "job_id": j.job_id, "status": status, "filter": object(&j.filter), "total_tasks": j.total_tasks,
                "remained_tasks": j.remained_tasks, "errors": errors(&j.errors, |e| (&e.error_code, &e.message, &e.additional)),
                "project_id": j.project_id, "domain_id": j.domain_id,
                "created_at": j.created_at, "updated_at": j.updated_at, "finished_at": j.finished_at,
            })
        })
        .collect();
    listing(rows, r.total_count)
}

/// power_scheduler `JobsInfo` as JSON.
pub fn power_jobs(r: power_scheduler::JobsInfo) -> Value {
    let rows = r
        .results
        .iter()
        .map(|j| {
            let status = enum_name(j.status, |n| power_scheduler::job_info::Status::try_from(n).ok().map(|s| s.as_str_name()));
            let mut row = json!({
                "job_id": j.job_id, "status": status, "filter": object(&j.filter), "total_tasks": j.total_tasks,
                "remained_tasks": j.remained_tasks, "errors": errors(&j.errors, |e| (&e.error_code, &e.message, &e.additional)),
                "project_id": j.project_id, "domain_id": j.domain_id,
                "created_at": timestamp(&j.created_at), "updated_at": timestamp(&j.updated_at), "finished_at": timestamp(&j.finished_at),
            });
            if let Some(c) = &j.controller_info {
                let plugin = c.plugin_info.as_ref().map(|p| {
                    json!({"plugin_id": p.plugin_id, "version": p.version, "options": object(&p.options),
                           "provider": p.provider, "metadata": object(&p.metadata)})
                });
                let controller: Map<String, Value> = serde_json::from_value(json!({
                    "controller_id": c.controller_id, "name": c.name, "provider": c.provider,
                    "capability": object(&c.capability), "plugin_info": plugin, "tags": object(&c.tags),
                    "created_at": timestamp(&c.created_at), "domain_id": c.domain_id,
                }))
                .unwrap_or_default();
                row["controller_info"] = Value::Object(controller);
            }
            row
        })
        .collect();
    listing(rows, r.total_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_task_bodies_are_the_proto3_json_of_the_messages() {
        let additional = crate::convert::json_to_struct(
            json!({"region": "us-east-1", "n": 2})
                .as_object()
                .expect("object"),
        );
        let info = inventory::JobTasksInfo {
            results: vec![
                inventory::JobTaskInfo {
                    job_task_id: "job-task-0123456789ab".into(),
                    status: 4,
                    created_count: 3,
                    errors: vec![inventory::ErrorInfo {
                        error_code: "ERROR_AUTH".into(),
                        message: "denied \"here\"".into(),
                        additional: Some(additional),
                    }],
                    created_at: "2022-06-17T08:09:10.680Z".into(),
                    ..Default::default()
                },
                inventory::JobTaskInfo::default(),
            ],
            total_count: 7,
        };
        let body = job_tasks(info);
        let unset = json!({
            "job_task_id": "", "status": "", "created_count": 0, "updated_count": 0,
            "failure_count": 0, "deleted_count": 0, "disconnected_count": 0, "errors": [],
            "job_id": "", "secret_id": "", "provider": "", "service_account_id": "",
            "project_id": "", "domain_id": "", "created_at": "", "started_at": "",
            "finished_at": "",
        });
        let mut first = unset.clone();
        first["job_task_id"] = json!("job-task-0123456789ab");
        first["status"] = json!("SUCCESS");
        first["created_count"] = json!(3);
        first["errors"] = json!([{"error_code": "ERROR_AUTH", "message": "denied \"here\"",
                                  "additional": {"region": "us-east-1", "n": 2}}]);
        first["created_at"] = json!("2022-06-17T08:09:10.680Z");
        assert_eq!(body, json!({"results": [first, unset], "total_count": 7}));
        assert_eq!(body["results"][1]["status"], "");
    }
}
