//! Stored documents as the Info messages of the three services, read through the core's serde
//! model: the path every document can take, whatever the types of its fields.

use crate::structs::document_struct;
use spacejobs_core::model::{self, Service};
use spacejobs_core::Result;
use spacejobs_proto::{inventory, power_scheduler, spot_automation};
use spacejobs_query::time;

fn iso(dt: Option<bson::DateTime>) -> String {
    dt.map(time::format_iso).unwrap_or_default()
}

fn timestamp(dt: Option<bson::DateTime>) -> Option<prost_types::Timestamp> {
    dt.map(|d| {
        let ms = d.timestamp_millis();
        prost_types::Timestamp {
            seconds: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
        }
    })
}

/// The number of status `name` in the service's Info enum (0, the default, when unknown).
pub(crate) fn status_number(name: &str, service: Service) -> i32 {
    service
        .status_names()
        .iter()
        .position(|s| *s == name)
        .and_then(|i| i32::try_from(i).ok())
        .unwrap_or(0)
}

/// The status enum number of a stored document; 0 (the proto default) when the document,
/// or its projection, has none.
fn wire_status(doc: &bson::RawDocument, service: Service) -> i32 {
    match doc.get_str("status") {
        Ok(s) => status_number(s, service),
        Err(_) => 0,
    }
}

/// Stored errors as a service's `ErrorInfo` messages (three packages, one shape).
fn error_infos<T>(
    errors: Vec<model::ErrorInfo>,
    make: impl Fn(String, String, Option<prost_types::Struct>) -> T,
) -> Vec<T> {
    errors
        .into_iter()
        .map(|e| make(e.error_code, e.message, document_struct(&e.additional)))
        .collect()
}

/// A stored JobTask as `JobTaskInfo`, read through the serde model: what every document
/// gives (`crate::raw_info` reads the common ones faster, and falls back to this).
pub fn job_task_info_by_model(doc: &bson::RawDocument) -> Result<inventory::JobTaskInfo> {
    let status = wire_status(doc, Service::Inventory);
    let t = model::JobTask::from_raw(doc)?;
    Ok(inventory::JobTaskInfo {
        job_task_id: t.job_task_id,
        status,
        created_count: t.created_count,
        updated_count: t.updated_count,
        failure_count: t.failure_count,
        deleted_count: t.deleted_count,
        disconnected_count: t.disconnected_count,
        errors: error_infos(t.errors, |error_code, message, additional| {
            inventory::ErrorInfo {
                error_code,
                message,
                additional,
            }
        }),
        job_id: t.job_id,
        secret_id: t.secret_id,
        provider: t.provider,
        service_account_id: t.service_account_id,
        project_id: t.project_id,
        domain_id: t.domain_id,
        created_at: iso(t.created_at),
        started_at: iso(t.started_at),
        finished_at: iso(t.finished_at),
    })
}

/// A stored spot_automation Job as `JobInfo`.
pub fn spot_job_info(doc: &bson::RawDocument) -> Result<spot_automation::JobInfo> {
    let status = wire_status(doc, Service::SpotAutomation);
    let j = model::Job::from_raw(doc)?;
    Ok(spot_automation::JobInfo {
        job_id: j.job_id,
        status,
        filter: document_struct(&j.filter),
        total_tasks: j.total_tasks,
        remained_tasks: j.remained_tasks,
        errors: error_infos(j.errors, |error_code, message, additional| {
            spot_automation::ErrorInfo {
                error_code,
                message,
                additional,
            }
        }),
        project_id: j.project_id,
        domain_id: j.domain_id,
        created_at: iso(j.created_at),
        updated_at: iso(j.updated_at),
        finished_at: iso(j.finished_at),
    })
}

/// A stored power_scheduler Job as `JobInfo` (timestamps, and `controller_info` from the
/// embedded controller).
pub fn power_job_info(doc: &bson::RawDocument) -> Result<power_scheduler::JobInfo> {
    let status = wire_status(doc, Service::PowerScheduler);
    let j = model::Job::from_raw(doc)?;
    Ok(power_scheduler::JobInfo {
        job_id: j.job_id,
        status,
        filter: document_struct(&j.filter),
        total_tasks: j.total_tasks,
        remained_tasks: j.remained_tasks,
        errors: error_infos(j.errors, |error_code, message, additional| {
            power_scheduler::ErrorInfo {
                error_code,
                message,
                additional,
            }
        }),
        controller_info: j.controller.map(|c| power_scheduler::ControllerInfo {
            controller_id: c.controller_id,
            name: c.name,
            provider: c.provider,
            capability: document_struct(&c.capability),
            plugin_info: Some(power_scheduler::PluginInfo {
                plugin_id: c.plugin_info.plugin_id,
                version: c.plugin_info.version,
                options: document_struct(&c.plugin_info.options),
                provider: c.plugin_info.provider,
                metadata: document_struct(&c.plugin_info.metadata),
            }),
            tags: document_struct(&c.tags),
            created_at: timestamp(c.created_at),
            domain_id: c.domain_id,
        }),
        project_id: j.project_id,
        domain_id: j.domain_id,
        created_at: timestamp(j.created_at),
        updated_at: timestamp(j.updated_at),
        finished_at: timestamp(j.finished_at),
    })
}
