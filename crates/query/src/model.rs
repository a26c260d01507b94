//! The request-side Query and StatisticsQuery of `spaceone.api.core.v1`, as plain serde types.
//!
//! These mirror the proto messages field for field and accept the proto3 JSON forms (snake_case
//! and lowerCamelCase names, the long and the short aliases `key`/`k`, `value`/`v`,
//! `operator`/`o`, `name`/`n`). They are not validated: [`crate::compile`] turns them into
//! plans, with precise errors. Each derives its JSON schema (schemars), from which the cost
//! fuzzer takes the dimensions of a request.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One filter condition `{key|k, value|v, operator|o}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Dotted path of the field.
    #[serde(alias = "k", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Value compared with the field (absent = null).
    #[serde(alias = "v", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Operator name (`eq`, `contain_in`, …).
    #[serde(alias = "o", default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

impl Condition {
    /// A condition from its three parts.
    pub fn new(key: impl Into<String>, operator: impl Into<String>, value: Value) -> Self {
        Condition {
            key: Some(key.into()),
            value: Some(value),
            operator: Some(operator.into()),
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    /// Dotted path (or, in stat, a column name).
    #[serde(default)]
    pub key: Option<String>,
    /// Descending when true.
    #[serde(default)]
    pub desc: bool,
}

/// `Sort`: a single key or a list of keys (`keys` wins when both are given).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sort {
    /// Single sort key.
    #[serde(default)]
    pub key: Option<String>,
    /// Descending when true (single key form).
    #[serde(default)]
    pub desc: bool,
    /// Several keys, most significant first.
    #[serde(default)]
    pub keys: Vec<SortKey>,
}

/// `Page`: 1-based `start`, `limit` (0 = no limit).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// 1-based first row (0 and 1 both mean the first).
    #[serde(default, deserialize_with = "de_u32")]
    pub start: u32,
    /// Number of rows; 0 means no limit.
    #[serde(default, deserialize_with = "de_u32")]
    pub limit: u32,
}

/// Query `unwind`: one row per element of the array at `path`, optionally filtered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unwind {
    /// Path of the array field.
    #[serde(default)]
    pub path: Option<String>,
    /// Conditions on the unwound rows.
    #[serde(default)]
    pub filter: Vec<Condition>,
}

/// `spaceone.api.core.v1.Query`, the `list` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// AND-ed conditions.
    #[serde(default)]
    pub filter: Vec<Condition>,
    /// OR-ed conditions.
    #[serde(default, alias = "filterOr")]
    pub filter_or: Vec<Condition>,
    /// Result order.
    #[serde(default)]
    pub sort: Option<Sort>,
    /// Paging.
    #[serde(default)]
    pub page: Option<Page>,
    /// Return the model's minimal field set.
    #[serde(default)]
    pub minimal: bool,
    /// Return only `total_count`.
    #[serde(default, alias = "countOnly")]
    pub count_only: bool,
    /// Return only these fields (plus the sort keys).
    #[serde(default)]
    pub only: Vec<String>,
    /// Free-text search over the model's keyword fields.
    #[serde(default)]
    pub keyword: Option<String>,
    /// One row per array element.
    #[serde(default)]
    pub unwind: Option<Unwind>,
}

/// `AggregateGroupKey`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupKey {
    /// Path (or column) to group by.
    #[serde(alias = "k", default)]
    pub key: Option<String>,
    /// Output column name.
    #[serde(alias = "n", default)]
    pub name: Option<String>,
    /// `year`, `month`, `day` or a strftime-style format applied to a date.
    #[serde(default, alias = "dateFormat")]
    pub date_format: Option<String>,
}

/// `AggregateGroupSubField`: `{key, name}` of a `push` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubField {
    /// Path (or column) read.
    #[serde(alias = "k", default)]
    pub key: Option<String>,
    /// Name in the pushed object.
    #[serde(alias = "n", default)]
    pub name: Option<String>,
}

/// `AggregateGroupField`: one accumulator of a group stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupField {
    /// Path (or column) accumulated; not needed by `count`.
    #[serde(alias = "k", default)]
    pub key: Option<String>,
    /// Output column name.
    #[serde(alias = "n", default)]
    pub name: Option<String>,
    /// Accumulator (`count`, `sum`, `average`, …).
    #[serde(alias = "o", default)]
    pub operator: Option<String>,
    /// Sub-fields of a `push` object.
    #[serde(default)]
    pub fields: Vec<SubField>,
    /// AND-ed conditions for `count`, `sum`, `average`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// `AggregateGroup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group keys.
    #[serde(default)]
    pub keys: Vec<GroupKey>,
    /// Accumulated fields.
    #[serde(default)]
    pub fields: Vec<GroupField>,
}

/// `AggregateProjectField`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectField {
    /// Path or column (for `concat`, a `|`-separated list).
    #[serde(alias = "k", default)]
    pub key: Option<String>,
    /// Output column name.
    #[serde(alias = "n", default)]
    pub name: Option<String>,
    /// Optional operator (`size`, `sum`, `array_to_object`, `object_to_array`, `concat`).
    #[serde(alias = "o", default)]
    pub operator: Option<String>,
}

/// `AggregateProject`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Output fields.
    #[serde(default)]
    pub fields: Vec<ProjectField>,
    /// Drop the group key columns.
    #[serde(default, alias = "excludeKeys")]
    pub exclude_keys: bool,
}

/// `AggregateUnwind`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateUnwind {
    /// Path of the array.
    #[serde(default)]
    pub path: Option<String>,
}

/// `AggregateCount`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateCount {
    /// Output column name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `StatisticsAggregate`: one stage (a oneof on the wire). Unknown stage names are kept in
/// `unknown` so validation can name them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stage {
    /// `unwind` stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unwind: Option<AggregateUnwind>,
    /// `group` stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// `count` stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<AggregateCount>,
    /// `sort` stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<Sort>,
    /// `project` stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Project>,
    /// `limit` stage.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_opt_i32"
    )]
    pub limit: Option<i32>,
    /// `skip` stage.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_opt_i32"
    )]
    pub skip: Option<i32>,
    /// Names that are no stage.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `spaceone.api.core.v1.StatisticsQuery`, the `stat` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatisticsQuery {
    /// AND-ed conditions.
    #[serde(default)]
    pub filter: Vec<Condition>,
    /// OR-ed conditions.
    #[serde(default, alias = "filterOr")]
    pub filter_or: Vec<Condition>,
    /// Pipeline stages.
    #[serde(default)]
    pub aggregate: Vec<Stage>,
    /// Paging of the output rows (or distinct values).
    #[serde(default)]
    pub page: Option<Page>,
    /// Field whose distinct values are returned.
    #[serde(default)]
    pub distinct: Option<String>,
    /// Free-text search over the model's keyword fields.
    #[serde(default)]
    pub keyword: Option<String>,
}

/// Proto3 JSON allows 32-bit integers as numbers or as decimal strings.
fn de_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = Value::deserialize(d)?;
    int_from_json(&v)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            serde::de::Error::custom(format!("expected an unsigned 32-bit integer, got {v}"))
        })
}

fn de_opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    int_from_json(&v)
        .and_then(|n| i32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a 32-bit integer, got {v}")))
}

fn int_from_json(v: &Value) -> Option<i64> {
    match v {
        Value::Null => Some(0),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
