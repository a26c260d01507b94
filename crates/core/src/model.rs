//! The documents: JobTask (inventory) and Job (spot_automation, power_scheduler), their
//! statuses and ids, and the per-service facts (collection, keyword and minimal fields).
//!
//! The serde layout is SpaceONE's MongoDB layout (`models.md`): field names as in the Info
//! messages, statuses as enum names, dates as BSON dates. Reading is tolerant, as documents
//! written by the Python services may lack optional fields or hold `null`.

use bson::oid::ObjectId;
use bson::{DateTime, Document};
use serde::{Deserialize, Deserializer, Serialize};

/// The three services this project replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `spaceone.api.inventory.v1.JobTask`
    Inventory,
    /// `spaceone.api.spot_automation.v1.Job`
    SpotAutomation,
    /// `spaceone.api.power_scheduler.v1.Job`
    PowerScheduler,
}

impl Service {
    /// All services.
    pub const ALL: [Service; 3] = [
        Service::Inventory,
        Service::SpotAutomation,
        Service::PowerScheduler,
    ];

    /// Short name (`inventory`, `spot_automation`, `power_scheduler`), also the default database.
    pub fn name(self) -> &'static str {
        match self {
            Service::Inventory => "inventory",
            Service::SpotAutomation => "spot_automation",
            Service::PowerScheduler => "power_scheduler",
        }
    }

    /// Looks a service up by its short name.
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The MongoDB collection (`job_task` or `job`).
    pub fn collection(self) -> &'static str {
        match self {
            Service::Inventory => "job_task",
            _ => "job",
        }
    }

    /// The public id field (`job_task_id` or `job_id`).
    pub fn id_field(self) -> &'static str {
        match self {
            Service::Inventory => "job_task_id",
            _ => "job_id",
        }
    }

    /// The id prefix (`job-task` or `job`).
    pub fn id_prefix(self) -> &'static str {
        match self {
            Service::Inventory => "job-task",
            _ => "job",
        }
    }

    /// Fields searched by `keyword`.
    pub fn keyword_fields(self) -> &'static [&'static str] {
        match self {
            Service::Inventory => &["job_task_id"],
            _ => &["job_id"],
        }
    }

    /// The model's minimal field set (`query.minimal`).
    pub fn minimal_fields(self) -> &'static [&'static str] {
        match self {
            Service::Inventory => &[
                "job_task_id",
                "status",
                "created_count",
                "updated_count",
                "deleted_count",
                "disconnected_count",
                "failure_count",
                "job_id",
                "created_at",
                "started_at",
                "finished_at",
            ],
            _ => &["job_id", "status", "created_at", "finished_at"],
        }
    }

    /// The top-level request fields that become `eq` filters (besides `query`).
    pub fn request_fields(self) -> &'static [&'static str] {
        match self {
            Service::Inventory => &[
                "job_task_id",
                "status",
                "job_id",
                "secret_id",
                "provider",
                "service_account_id",
                "project_id",
                "domain_id",
            ],
            Service::SpotAutomation => &["job_id", "status", "project_id", "domain_id"],
            Service::PowerScheduler => {
                &["job_id", "status", "schedule_id", "project_id", "domain_id"]
            }
        }
    }

    /// Status names in enum order (number 1 first); index 0 is the "not given" zero value.
    pub fn status_names(self) -> &'static [&'static str] {
        match self {
            Service::Inventory => &[
                "JOB_TASK_STATE_NONE",
                "PENDING",
                "CANCELED",
                "IN_PROGRESS",
                "SUCCESS",
                "FAILURE",
            ],
            Service::SpotAutomation => &[
                "JOB_STATUS_NONE",
                "CREATED",
                "CANCELED",
                "IN_PROGRESS",
                "SUCCESS",
                "ERROR",
                "TIMEOUT",
            ],
            Service::PowerScheduler => &[
                "JOB_STATE_NONE",
                "CREATED",
                "CANCELED",
                "IN_PROGRESS",
                "SUCCESS",
                "ERROR",
                "TIMEOUT",
            ],
        }
    }

    /// A new public id: `<prefix>-<12 lowercase hex>`.
    pub fn new_id(self) -> String {
        let bits: u64 = rand::random::<u64>() & 0xffff_ffff_ffff;
        format!("{}-{bits:012x}", self.id_prefix())
    }
}

/// Checks the public id format `<prefix>-<12 lowercase hex>`.
pub fn is_valid_id(service: Service, id: &str) -> bool {
    id.strip_prefix(service.id_prefix())
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            hex.len() == 12
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Reads `null` as the type's default (Python services write `None` for unset fields).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// JobTask statuses (`JobTaskInfo.JobTaskStatus`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobTaskStatus {
    /// Created, not started (new tasks).
    #[default]
    Pending,
    /// Canceled (final).
    Canceled,
    /// Running.
    InProgress,
    /// Finished well.
    Success,
    /// Finished with a failure.
    Failure,
}

/// Job statuses (`JobInfo.Status`) of both Job services.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Created, no task finished yet (new jobs).
    #[default]
    Created,
    /// Canceled (final).
    Canceled,
    /// Running.
    InProgress,
    /// All tasks finished well.
    Success,
    /// A task failed or an error was recorded.
    Error,
    /// Not finished within its timeout.
    Timeout,
}

impl JobTaskStatus {
    /// The enum name as stored and sent (`SUCCESS`).
    pub fn name(self) -> &'static str {
        match self {
            JobTaskStatus::Pending => "PENDING",
            JobTaskStatus::Canceled => "CANCELED",
            JobTaskStatus::InProgress => "IN_PROGRESS",
            JobTaskStatus::Success => "SUCCESS",
            JobTaskStatus::Failure => "FAILURE",
        }
    }
}

impl JobStatus {
    /// The enum name as stored and sent (`SUCCESS`).
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Created => "CREATED",
            JobStatus::Canceled => "CANCELED",
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Success => "SUCCESS",
            JobStatus::Error => "ERROR",
            JobStatus::Timeout => "TIMEOUT",
        }
    }
}

/// One recorded error (`ErrorInfo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorInfo {
    /// SpaceONE error code.
    #[serde(deserialize_with = "nullable")]
    pub error_code: String,
    /// Human-readable message.
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    /// Free-form details.
    #[serde(deserialize_with = "nullable")]
    pub additional: Document,
}

/// An inventory JobTask document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobTask {
    /// MongoDB `_id`.
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    pub object_id: Option<ObjectId>,
    /// Public id (`job-task-…`).
    #[serde(deserialize_with = "nullable")]
    pub job_task_id: String,
    /// Status.
    #[serde(deserialize_with = "nullable")]
    pub status: JobTaskStatus,
    /// Resources created.
    #[serde(deserialize_with = "nullable")]
    pub created_count: i32,
    /// Resources updated.
    #[serde(deserialize_with = "nullable")]
    pub updated_count: i32,
    /// Resources that failed.
    #[serde(deserialize_with = "nullable")]
    pub failure_count: i32,
    /// Resources deleted.
    #[serde(deserialize_with = "nullable")]
    pub deleted_count: i32,
    /// Resources disconnected.
    #[serde(deserialize_with = "nullable")]
    pub disconnected_count: i32,
    /// Errors, appended in order.
    #[serde(deserialize_with = "nullable")]
    pub errors: Vec<ErrorInfo>,
    /// The job this task belongs to.
    #[serde(deserialize_with = "nullable")]
    pub job_id: String,
    /// Secret used.
    #[serde(deserialize_with = "nullable")]
    pub secret_id: String,
    /// Cloud provider.
    #[serde(deserialize_with = "nullable")]
    pub provider: String,
    /// Service account.
    #[serde(deserialize_with = "nullable")]
    pub service_account_id: String,
    /// Project.
    #[serde(deserialize_with = "nullable")]
    pub project_id: String,
    /// Domain (tenant).
    #[serde(deserialize_with = "nullable")]
    pub domain_id: String,
    /// Creation time.
    pub created_at: Option<DateTime>,
    /// Start time.
    pub started_at: Option<DateTime>,
    /// Finish time.
    pub finished_at: Option<DateTime>,
}

/// `PluginInfo` of a power_scheduler controller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginInfo {
    /// Plugin id.
    #[serde(deserialize_with = "nullable")]
    pub plugin_id: String,
    /// Plugin version.
    #[serde(deserialize_with = "nullable")]
    pub version: String,
    /// Options.
    #[serde(deserialize_with = "nullable")]
    pub options: Document,
    /// Provider.
    #[serde(deserialize_with = "nullable")]
    pub provider: String,
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: Document,
}

/// The controller embedded in a power_scheduler Job (answered as `controller_info`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Controller {
    /// Controller id.
    #[serde(deserialize_with = "nullable")]
    pub controller_id: String,
    /// Name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Provider.
    #[serde(deserialize_with = "nullable")]
    pub provider: String,
    /// Capability.
    #[serde(deserialize_with = "nullable")]
    pub capability: Document,
    /// Plugin.
    #[serde(deserialize_with = "nullable")]
    pub plugin_info: PluginInfo,
    /// Tags.
    #[serde(deserialize_with = "nullable")]
    pub tags: Document,
    /// Creation time.
    pub created_at: Option<DateTime>,
    /// Domain.
    #[serde(deserialize_with = "nullable")]
    pub domain_id: String,
}

/// A Job document of spot_automation or power_scheduler (the `schedule_id`/`controller`
/// fields are power_scheduler's and absent in spot_automation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    /// MongoDB `_id`.
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    pub object_id: Option<ObjectId>,
    /// Public id (`job-…`).
    #[serde(deserialize_with = "nullable")]
    pub job_id: String,
    /// Status.
    #[serde(deserialize_with = "nullable")]
    pub status: JobStatus,
    /// The job's target filter.
    #[serde(deserialize_with = "nullable")]
    pub filter: Document,
    /// Number of tasks.
    #[serde(deserialize_with = "nullable")]
    pub total_tasks: i32,
    /// Tasks not finished yet.
    #[serde(deserialize_with = "nullable")]
    pub remained_tasks: i32,
    /// Errors, appended in order.
    #[serde(deserialize_with = "nullable")]
    pub errors: Vec<ErrorInfo>,
    /// Project.
    #[serde(deserialize_with = "nullable")]
    pub project_id: String,
    /// Domain (tenant).
    #[serde(deserialize_with = "nullable")]
    pub domain_id: String,
    /// power_scheduler: the schedule that started the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// power_scheduler: the controller's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_id: Option<String>,
    /// power_scheduler: the controller document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller: Option<Controller>,
    /// Creation time.
    pub created_at: Option<DateTime>,
    /// Last change.
    pub updated_at: Option<DateTime>,
    /// Finish time.
    pub finished_at: Option<DateTime>,
}

impl JobTask {
    /// Reads a stored document (tolerant of missing fields and nulls).
    pub fn from_document(doc: Document) -> crate::Result<Self> {
        bson::deserialize_from_document(doc)
            .map_err(|e| crate::Error::Internal(format!("unreadable job_task document: {e}")))
    }

    /// [`Self::from_document`], read straight from the document's BSON bytes.
    pub fn from_raw(raw: &bson::RawDocument) -> crate::Result<Self> {
        bson::deserialize_from_slice(raw.as_bytes())
            .map_err(|e| crate::Error::Internal(format!("unreadable job_task document: {e}")))
    }
}

impl Job {
    /// Reads a stored document (tolerant of missing fields and nulls).
    pub fn from_document(doc: Document) -> crate::Result<Self> {
        bson::deserialize_from_document(doc)
            .map_err(|e| crate::Error::Internal(format!("unreadable job document: {e}")))
    }

    /// [`Self::from_document`], read straight from the document's BSON bytes.
    pub fn from_raw(raw: &bson::RawDocument) -> crate::Result<Self> {
        bson::deserialize_from_slice(raw.as_bytes())
            .map_err(|e| crate::Error::Internal(format!("unreadable job document: {e}")))
    }
}

/// The public id field of a collection's documents (`job_task_id` of `job_task`, `job_id` of
/// `job`), unique in every store.
pub fn public_id_field(collection: &str) -> Option<&'static str> {
    match collection {
        "job_task" => Some("job_task_id"),
        "job" => Some("job_id"),
        _ => None,
    }
}

/// The fields of collection `collection` that name another document, looked up one value
/// at a time by the lifecycle (a job's tasks): the in-memory collections index every value
/// of them.
pub fn reference_fields(collection: &str) -> &'static [&'static str] {
    match collection {
        "job_task" => &["job_id"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn ids_have_the_prefix_and_twelve_hex_digits() {
        for service in Service::ALL {
            let id = service.new_id();
            assert!(is_valid_id(service, &id), "{id}");
        }
        assert!(is_valid_id(Service::Inventory, "job-task-0123456789ab"));
        assert!(!is_valid_id(Service::Inventory, "job-0123456789ab"));
        assert!(!is_valid_id(Service::SpotAutomation, "job-0123456789AB"));
    }

    #[test]
    fn python_written_documents_with_nulls_and_extra_fields_are_read() {
        let stored = doc! {
            "job_task_id": "job-task-0123456789ab", "status": "SUCCESS", "secret_id": null,
            "errors": [{"error_code": "E", "message": null}], "finished_at": null,
            "created_at": DateTime::from_millis(1_655_452_800_680), "_cls": "JobTask",
        };
        let task = JobTask::from_document(stored.clone()).expect("readable");
        let bytes = bson::RawDocumentBuf::try_from(&stored).expect("bytes");
        assert_eq!(
            JobTask::from_raw(&bytes).expect("readable from bytes"),
            task
        );
        assert_eq!(task.status, JobTaskStatus::Success);
        assert_eq!(task.secret_id, "");
        assert_eq!(task.errors[0].error_code, "E");
        assert_eq!(
            task.created_at,
            Some(DateTime::from_millis(1_655_452_800_680))
        );
        let stored = doc! {"job_id": "job-0123456789ab", "status": "TIMEOUT",
        "controller": {"controller_id": "ctl-1", "plugin_info": {"plugin_id": "p"}}};
        let job = Job::from_document(stored.clone()).expect("readable");
        let bytes = bson::RawDocumentBuf::try_from(&stored).expect("bytes");
        assert_eq!(Job::from_raw(&bytes).expect("readable from bytes"), job);
        assert_eq!(
            job.controller.map(|c| c.plugin_info.plugin_id),
            Some("p".to_string())
        );
    }
}
