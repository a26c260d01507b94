//! Conversions between the proto messages and the core model: requests into core
//! [`Query`](spacejobs_core::Query)/[`StatisticsQuery`](spacejobs_core::StatisticsQuery)/[`ListRequest`] (and back, for clients), and answers into
//! the response messages. A stored document becomes its Info message in [`crate::raw_info`]
//! (straight from its bytes) or [`crate::info`] (through the model); free-form parts are
//! `Struct`s of [`crate::structs`].

use serde_json::Value;
use spacejobs_core::model::Service;
use spacejobs_core::ListOutput;
use spacejobs_core::{render, Error, ListRequest, Result, StatRequest};
use spacejobs_proto::core as pb;
use spacejobs_proto::{inventory, power_scheduler, spot_automation};
use spacejobs_query::model as q;
use std::collections::BTreeMap;

use crate::info::status_number;
pub use crate::info::{job_task_info_by_model, power_job_info, spot_job_info};
pub use crate::structs::{json_to_struct, json_to_value, struct_to_json, value_to_json};

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn condition(f: &pb::Filter) -> q::Condition {
    use pb::filter::{KeyAlias, OperatorAlias, ValueAlias};
    q::Condition {
        key: match &f.key_alias {
            Some(KeyAlias::Key(k) | KeyAlias::K(k)) => text(k),
            None => None,
        },
        value: match &f.value_alias {
            Some(ValueAlias::Value(v) | ValueAlias::V(v)) => Some(value_to_json(v)),
            None => None,
        },
        operator: match &f.operator_alias {
            Some(OperatorAlias::Operator(o) | OperatorAlias::O(o)) => text(o),
            None => None,
        },
    }
}

fn sort_keys(keys: &[pb::SortKey]) -> Vec<q::SortKey> {
    keys.iter()
        .map(|k| q::SortKey {
            key: text(&k.key),
            desc: k.desc,
        })
        .collect()
}

fn page(p: &pb::Page) -> q::Page {
    q::Page {
        start: p.start,
        limit: p.limit,
    }
}

/// `core.v1.Query` as the core model.
pub fn query(p: &pb::Query) -> q::Query {
    q::Query {
        filter: p.filter.iter().map(condition).collect(),
        filter_or: p.filter_or.iter().map(condition).collect(),
        sort: p.sort.as_ref().map(|s| q::Sort {
            key: text(&s.key),
            desc: s.desc,
            keys: sort_keys(&s.keys),
        }),
        page: p.page.as_ref().map(page),
        minimal: p.minimal,
        count_only: p.count_only,
        only: p.only.clone(),
        keyword: text(&p.keyword),
        unwind: p.unwind.as_ref().map(|u| q::Unwind {
            path: text(&u.path),
            filter: u.filter.iter().map(condition).collect(),
        }),
    }
}

fn stage(s: &pb::StatisticsAggregate) -> q::Stage {
    use pb::statistics_aggregate::AggregateAlias as A;
    let mut out = q::Stage::default();
    match &s.aggregate_alias {
        Some(A::Unwind(u)) => {
            out.unwind = Some(q::AggregateUnwind {
                path: text(&u.path),
            })
        }
        Some(A::Group(g)) => out.group = Some(group(g)),
        Some(A::Count(c)) => {
            out.count = Some(q::AggregateCount {
                name: text(&c.name),
            })
        }
        Some(A::Sort(s)) => {
            out.sort = Some(q::Sort {
                key: text(&s.key),
                desc: s.desc,
                keys: sort_keys(&s.keys),
            })
        }
        Some(A::Project(p)) => out.project = Some(project(p)),
        Some(A::Limit(n)) => out.limit = Some(*n),
        Some(A::Skip(n)) => out.skip = Some(*n),
        None => {}
    }
    out
}

fn group(g: &pb::AggregateGroup) -> q::Group {
    use pb::aggregate_group_field as gf;
    use pb::aggregate_group_key as gk;
    use pb::aggregate_group_sub_field as sf;
    use pb::aggregate_sub_condition as sc;
    q::Group {
        keys: g
            .keys
            .iter()
            .map(|k| q::GroupKey {
                key: match &k.key_alias {
                    Some(gk::KeyAlias::Key(v) | gk::KeyAlias::K(v)) => text(v),
                    None => None,
                },
                name: match &k.name_alias {
                    Some(gk::NameAlias::Name(v) | gk::NameAlias::N(v)) => text(v),
                    None => None,
                },
                date_format: text(&k.date_format),
            })
            .collect(),
        fields: g
            .fields
            .iter()
            .map(|f| q::GroupField {
                key: match &f.key_alias {
                    Some(gf::KeyAlias::Key(v) | gf::KeyAlias::K(v)) => text(v),
                    None => None,
                },
                name: match &f.name_alias {
                    Some(gf::NameAlias::Name(v) | gf::NameAlias::N(v)) => text(v),
                    None => None,
                },
                operator: match &f.operator_alias {
                    Some(gf::OperatorAlias::Operator(v) | gf::OperatorAlias::O(v)) => text(v),
                    None => None,
                },
                fields: f
                    .fields
                    .iter()
                    .map(|s| q::SubField {
                        key: match &s.key_alias {
                            Some(sf::KeyAlias::Key(v) | sf::KeyAlias::K(v)) => text(v),
                            None => None,
                        },
                        name: match &s.name_alias {
                            Some(sf::NameAlias::Name(v) | sf::NameAlias::N(v)) => text(v),
                            None => None,
                        },
                    })
                    .collect(),
                conditions: f
                    .conditions
                    .iter()
                    .map(|c| q::Condition {
                        key: match &c.key_alias {
                            Some(sc::KeyAlias::Key(v) | sc::KeyAlias::K(v)) => text(v),
                            None => None,
                        },
                        value: match &c.value_alias {
                            Some(sc::ValueAlias::Value(v) | sc::ValueAlias::V(v)) => {
                                Some(value_to_json(v))
                            }
                            None => None,
                        },
                        operator: match &c.operator_alias {
                            Some(sc::OperatorAlias::Operator(v) | sc::OperatorAlias::O(v)) => {
                                text(v)
                            }
                            None => None,
                        },
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn project(p: &pb::AggregateProject) -> q::Project {
    use pb::aggregate_project_field as pf;
    q::Project {
        fields: p
            .fields
            .iter()
            .map(|f| q::ProjectField {
                key: match &f.key_alias {
                    Some(pf::KeyAlias::Key(v) | pf::KeyAlias::K(v)) => text(v),
                    None => None,
                },
                name: match &f.name_alias {
                    Some(pf::NameAlias::Name(v) | pf::NameAlias::N(v)) => text(v),
                    None => None,
                },
                operator: match &f.operator_alias {
                    Some(pf::OperatorAlias::Operator(v) | pf::OperatorAlias::O(v)) => text(v),
                    None => None,
                },
            })
            .collect(),
        exclude_keys: p.exclude_keys,
    }
}

/// `core.v1.StatisticsQuery` as the core model.
pub fn statistics_query(p: &pb::StatisticsQuery) -> q::StatisticsQuery {
    q::StatisticsQuery {
        filter: p.filter.iter().map(condition).collect(),
        filter_or: p.filter_or.iter().map(condition).collect(),
        aggregate: p.aggregate.iter().map(stage).collect(),
        page: p.page.as_ref().map(page),
        distinct: text(&p.distinct),
        keyword: text(&p.keyword),
    }
}

/// A list request from its query and top-level fields (`(name, value)`; the status as its
/// enum number, 0 meaning "not given").
pub fn list_request(
    service: Service,
    query: Option<&pb::Query>,
    strings: &[(&str, &str)],
    status: i32,
) -> Result<ListRequest> {
    let mut fields = BTreeMap::new();
    for (name, value) in strings {
        if !value.is_empty() {
            fields.insert((*name).to_string(), (*value).to_string());
        }
    }
    if status != 0 {
        let name = usize::try_from(status)
            .ok()
            .and_then(|i| service.status_names().get(i))
            .ok_or_else(|| Error::InvalidParameterType {
                key: "status".into(),
                reason: format!("unknown status number {status}"),
            })?;
        fields.insert("status".to_string(), (*name).to_string());
    }
    Ok(ListRequest {
        query: query.map(self::query),
        fields,
    })
}

/// A stat request.
pub fn stat_request(query: Option<&pb::StatisticsQuery>, domain_id: &str) -> StatRequest {
    StatRequest {
        query: query.map(statistics_query),
        domain_id: domain_id.to_string(),
    }
}

/// A stored JobTask as `JobTaskInfo`.
pub fn job_task_info(doc: &bson::RawDocument) -> Result<inventory::JobTaskInfo> {
    match crate::raw_info::job_task_info(doc) {
        Some(info) => Ok(info),
        None => job_task_info_by_model(doc),
    }
}

/// A stat output as the response Struct.
pub fn stat_struct(output: &spacejobs_core::StatOutput) -> prost_types::Struct {
    match render::stat_response(output) {
        Value::Object(map) => json_to_struct(&map),
        _ => prost_types::Struct::default(),
    }
}

// ---- The other direction, for Rust clients (the examples and the tests build their
// ---- requests from the proto3 JSON form via the core model).

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn filter_to_proto(c: &q::Condition) -> pb::Filter {
    use pb::filter::{KeyAlias, OperatorAlias, ValueAlias};
    pb::Filter {
        key_alias: c.key.clone().map(KeyAlias::Key),
        value_alias: c
            .value
            .as_ref()
            .map(|v| ValueAlias::Value(json_to_value(v))),
        operator_alias: c.operator.clone().map(OperatorAlias::Operator),
    }
}

fn sort_keys_to_proto(keys: &[q::SortKey]) -> Vec<pb::SortKey> {
    keys.iter()
        .map(|k| pb::SortKey {
            key: opt(&k.key),
            desc: k.desc,
        })
        .collect()
}

/// The core `Query` as `core.v1.Query`.
pub fn query_to_proto(q: &q::Query) -> pb::Query {
    pb::Query {
        filter: q.filter.iter().map(filter_to_proto).collect(),
        filter_or: q.filter_or.iter().map(filter_to_proto).collect(),
        sort: q.sort.as_ref().map(|s| pb::Sort {
            key: opt(&s.key),
            desc: s.desc,
            keys: sort_keys_to_proto(&s.keys),
        }),
        page: q.page.map(|p| pb::Page {
            start: p.start,
            limit: p.limit,
        }),
        minimal: q.minimal,
        count_only: q.count_only,
        only: q.only.clone(),
        keyword: opt(&q.keyword),
        unwind: q.unwind.as_ref().map(|u| pb::Unwind {
            path: opt(&u.path),
            filter: u.filter.iter().map(filter_to_proto).collect(),
        }),
    }
}

/// The core `StatisticsQuery` as `core.v1.StatisticsQuery`.
pub fn statistics_query_to_proto(q: &q::StatisticsQuery) -> pb::StatisticsQuery {
    use pb::statistics_aggregate::AggregateAlias as A;
    let stage = |s: &q::Stage| {
        let alias = if let Some(u) = &s.unwind {
            Some(A::Unwind(pb::AggregateUnwind { path: opt(&u.path) }))
        } else if let Some(g) = &s.group {
            Some(A::Group(pb::AggregateGroup {
                keys: g
                    .keys
                    .iter()
                    .map(|k| pb::AggregateGroupKey {
                        key_alias: k.key.clone().map(pb::aggregate_group_key::KeyAlias::Key),
                        name_alias: k.name.clone().map(pb::aggregate_group_key::NameAlias::Name),
                        date_format: opt(&k.date_format),
                    })
                    .collect(),
                fields: g
                    .fields
                    .iter()
                    .map(|f| pb::AggregateGroupField {
                        key_alias: f.key.clone().map(pb::aggregate_group_field::KeyAlias::Key),
                        name_alias: f
                            .name
                            .clone()
                            .map(pb::aggregate_group_field::NameAlias::Name),
                        operator_alias: f
                            .operator
                            .clone()
                            .map(pb::aggregate_group_field::OperatorAlias::Operator),
                        fields: f
                            .fields
                            .iter()
                            .map(|s| pb::AggregateGroupSubField {
                                key_alias: s
                                    .key
                                    .clone()
                                    .map(pb::aggregate_group_sub_field::KeyAlias::Key),
                                name_alias: s
                                    .name
                                    .clone()
                                    .map(pb::aggregate_group_sub_field::NameAlias::Name),
                            })
                            .collect(),
                        conditions: f
                            .conditions
                            .iter()
                            .map(|c| pb::AggregateSubCondition {
                                key_alias: c
                                    .key
                                    .clone()
                                    .map(pb::aggregate_sub_condition::KeyAlias::Key),
                                value_alias: c.value.as_ref().map(|v| {
                                    pb::aggregate_sub_condition::ValueAlias::Value(json_to_value(v))
                                }),
                                operator_alias: c
                                    .operator
                                    .clone()
                                    .map(pb::aggregate_sub_condition::OperatorAlias::Operator),
                            })
                            .collect(),
                    })
                    .collect(),
            }))
        } else if let Some(c) = &s.count {
            Some(A::Count(pb::AggregateCount { name: opt(&c.name) }))
        } else if let Some(so) = &s.sort {
            Some(A::Sort(pb::AggregateSort {
                key: opt(&so.key),
                desc: so.desc,
                keys: sort_keys_to_proto(&so.keys),
            }))
        } else if let Some(p) = &s.project {
            Some(A::Project(pb::AggregateProject {
                fields: p
                    .fields
                    .iter()
                    .map(|f| pb::AggregateProjectField {
                        key_alias: f
                            .key
                            .clone()
                            .map(pb::aggregate_project_field::KeyAlias::Key),
                        name_alias: f
                            .name
                            .clone()
                            .map(pb::aggregate_project_field::NameAlias::Name),
                        operator_alias: f
                            .operator
                            .clone()
                            .map(pb::aggregate_project_field::OperatorAlias::Operator),
                    })
                    .collect(),
                exclude_keys: p.exclude_keys,
            }))
        } else if let Some(n) = s.limit {
            Some(A::Limit(n))
        } else {
            s.skip.map(A::Skip)
        };
        pb::StatisticsAggregate {
            aggregate_alias: alias,
        }
    };
    pb::StatisticsQuery {
        filter: q.filter.iter().map(filter_to_proto).collect(),
        filter_or: q.filter_or.iter().map(filter_to_proto).collect(),
        aggregate: q.aggregate.iter().map(stage).collect(),
        page: q.page.map(|p| pb::Page {
            start: p.start,
            limit: p.limit,
        }),
        distinct: opt(&q.distinct),
        keyword: opt(&q.keyword),
    }
}

/// The status number of a status name in a service's request enum (0 when absent).
pub fn status_of(service: Service, fields: &BTreeMap<String, String>) -> i32 {
    fields
        .get("status")
        .map_or(0, |s| status_number(s, service))
}

fn total_count(out: &ListOutput) -> i32 {
    i32::try_from(out.total_count).unwrap_or(i32::MAX)
}

/// A list answer as inventory `JobTasksInfo`.
pub fn job_tasks_info(out: ListOutput) -> Result<inventory::JobTasksInfo> {
    let total_count = total_count(&out);
    Ok(inventory::JobTasksInfo {
        results: out
            .documents
            .iter()
            .map(|d| job_task_info(d))
            .collect::<Result<_>>()?,
        total_count,
    })
}

/// A list answer as spot_automation `JobsInfo`.
pub fn spot_jobs_info(out: ListOutput) -> Result<spot_automation::JobsInfo> {
    let total_count = total_count(&out);
    Ok(spot_automation::JobsInfo {
        results: out
            .documents
            .iter()
            .map(|d| spot_job_info(d))
            .collect::<Result<_>>()?,
        total_count,
    })
}

/// A list answer as power_scheduler `JobsInfo`.
pub fn power_jobs_info(out: ListOutput) -> Result<power_scheduler::JobsInfo> {
    let total_count = total_count(&out);
    Ok(power_scheduler::JobsInfo {
        results: out
            .documents
            .iter()
            .map(|d| power_job_info(d))
            .collect::<Result<_>>()?,
        total_count,
    })
}
