//! `StatisticsQuery.aggregate`: each stage (unwind, group, count, sort, project, limit, skip)
//! checked and compiled, with its group keys, accumulators and projections.

use super::checks::{column_name, field_path, required, sort_specs};
use crate::error::{Error, Result};
use crate::model::{self, Condition as RawCondition};
use crate::plan::*;
use crate::time::DateFormat;
use crate::value::{json_to_bson, FieldPath};
use serde_json::Value;

const STAGE_NAMES: &str = "unwind, group, count, sort, project, limit or skip";

pub(super) fn stages(raw: &[model::Stage]) -> Result<Vec<Stage>> {
    // Columns that are group keys at this point of the pipeline (kept by `project`).
    let mut key_columns: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(raw.len());
    for stage in raw {
        let given = [
            stage.unwind.is_some(),
            stage.group.is_some(),
            stage.count.is_some(),
            stage.sort.is_some(),
            stage.project.is_some(),
            stage.limit.is_some(),
            stage.skip.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given > 1 {
            return Err(Error::query(format!(
                "an aggregate stage holds exactly one of {STAGE_NAMES}"
            )));
        }
        if let (true, Some(name)) = (given == 1, stage.unknown.keys().next()) {
            return Err(Error::query(format!(
                "aggregate: '{name}' is no stage; a stage holds exactly one of {STAGE_NAMES}"
            )));
        }
        let compiled = if let Some(u) = &stage.unwind {
            Stage::Unwind(field_path(
                required(&u.path, "aggregate.unwind.path")?,
                "unwind path",
            )?)
        } else if let Some(g) = &stage.group {
            let spec = group(g)?;
            key_columns = spec.keys.iter().map(|k| k.name.clone()).collect();
            Stage::Group(spec)
        } else if let Some(c) = &stage.count {
            key_columns.clear();
            Stage::Count(column_name(
                required(&c.name, "aggregate.count.name")?,
                "count name",
            )?)
        } else if let Some(s) = &stage.sort {
            if s.keys.is_empty() && s.key.as_deref().unwrap_or("").is_empty() {
                return Err(Error::required("aggregate.sort.key"));
            }
            Stage::Sort(sort_specs(s, "aggregate.sort")?)
        } else if let Some(p) = &stage.project {
            let spec = project(p, &key_columns)?;
            key_columns = spec.keep.clone();
            Stage::Project(spec)
        } else if let Some(n) = stage.limit {
            let n = u64::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::query(format!(
                    "aggregate.limit must be a positive number, got {n}"
                ))
            })?;
            Stage::Limit(n)
        } else if let Some(n) = stage.skip {
            let n = u64::try_from(n).map_err(|_| {
                Error::query(format!("aggregate.skip must not be negative, got {n}"))
            })?;
            Stage::Skip(n)
        } else {
            let unknown = stage
                .unknown
                .keys()
                .next()
                .map_or(String::new(), |k| format!("'{k}' is unknown; "));
            return Err(Error::required(format!(
                "aggregate ({unknown}a stage is one of {STAGE_NAMES})"
            )));
        };
        out.push(compiled);
    }
    Ok(out)
}

fn group(raw: &model::Group) -> Result<GroupSpec> {
    if raw.keys.is_empty() && raw.fields.is_empty() {
        return Err(Error::required("aggregate.group.keys"));
    }
    let keys = raw
        .keys
        .iter()
        .map(|k| {
            let key = required(&k.key, "aggregate.group.keys.key")?;
            let name = required(&k.name, "aggregate.group.keys.name")?;
            Ok(GroupKeySpec {
                path: field_path(key, "group key")?,
                name: column_name(name, "group key name")?,
                date_format: k
                    .date_format
                    .as_deref()
                    .filter(|f| !f.is_empty())
                    .map(DateFormat::parse)
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let fields = raw
        .fields
        .iter()
        .map(group_field)
        .collect::<Result<Vec<_>>>()?;
    Ok(GroupSpec { keys, fields })
}

fn group_field(f: &model::GroupField) -> Result<(String, Accumulator)> {
    let name = column_name(
        required(&f.name, "aggregate.group.fields.name")?,
        "group field name",
    )?;
    let operator = required(&f.operator, "aggregate.group.fields.operator")?;
    let key = || -> Result<FieldPath> {
        field_path(
            required(&f.key, "aggregate.group.fields.key")?,
            "group field key",
        )
    };
    let conditions = f
        .conditions
        .iter()
        .map(row_condition)
        .collect::<Result<Vec<_>>>()?;
    if !conditions.is_empty() && !matches!(operator, "count" | "sum" | "average") {
        return Err(Error::query(format!(
            "conditions are only allowed with count, sum and average, not '{operator}' (name = {name})"
        )));
    }
    let acc = match operator {
        "count" => Accumulator::Count(conditions),
        "sum" => Accumulator::Sum(key()?, conditions),
        "average" => Accumulator::Average(key()?, conditions),
        "max" => Accumulator::Max(key()?),
        "min" => Accumulator::Min(key()?),
        "first" => Accumulator::First(key()?),
        "last" => Accumulator::Last(key()?),
        "add_to_set" => Accumulator::AddToSet(key()?),
        "merge_objects" => Accumulator::MergeObjects(key()?),
        "push" if !f.fields.is_empty() => Accumulator::Push(PushSource::Object(
            f.fields
                .iter()
                .map(|s| {
                    let k = required(&s.key, "aggregate.group.fields.fields.key")?;
                    let n = required(&s.name, "aggregate.group.fields.fields.name")?;
                    Ok((
                        column_name(n, "push field name")?,
                        field_path(k, "push field key")?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        "push" => Accumulator::Push(PushSource::Value(key()?)),
        other => {
            return Err(Error::query(format!(
                "unsupported group operator '{other}' (name = {name})"
            )))
        }
    };
    Ok((name, acc))
}

fn row_condition(c: &RawCondition) -> Result<RowCondition> {
    let key = required(&c.key, "aggregate.group.fields.conditions.key")?;
    let operator = required(&c.operator, "aggregate.group.fields.conditions.operator")?;
    let op = match operator {
        "eq" => CompareOp::Eq,
        "not" => CompareOp::Ne,
        "gt" => CompareOp::Gt,
        "gte" => CompareOp::Gte,
        "lt" => CompareOp::Lt,
        "lte" => CompareOp::Lte,
        other => {
            return Err(Error::query(format!(
                "unsupported condition operator '{other}' (key = {key}); use eq, not, gt, gte, lt or lte"
            )))
        }
    };
    let value = json_to_bson(c.value.as_ref().unwrap_or(&Value::Null));
    Ok(RowCondition {
        path: field_path(key, "condition key")?,
        op,
        value,
    })
}

fn project(raw: &model::Project, key_columns: &[String]) -> Result<ProjectSpec> {
    if raw.fields.is_empty() {
        return Err(Error::required("aggregate.project.fields"));
    }
    let fields = raw
        .fields
        .iter()
        .map(|f| {
            let key = required(&f.key, "aggregate.project.fields.key")?;
            let name = column_name(
                required(&f.name, "aggregate.project.fields.name")?,
                "project field name",
            )?;
            let path = || field_path(key, "project key");
            let expr = match f.operator.as_deref().unwrap_or("") {
                "" => ProjectExpr::Copy(path()?),
                "size" => ProjectExpr::Size(path()?),
                "sum" => ProjectExpr::Sum(path()?),
                "array_to_object" => ProjectExpr::ArrayToObject(path()?),
                "object_to_array" => ProjectExpr::ObjectToArray(path()?),
                "concat" => ProjectExpr::Concat(
                    key.split('|')
                        .map(|item| match item.strip_prefix('$') {
                            Some(column) => {
                                Ok(ConcatPart::Column(field_path(column, "concat column")?))
                            }
                            None => Ok(ConcatPart::Text(item.to_string())),
                        })
                        .collect::<Result<Vec<_>>>()?,
                ),
                other => {
                    return Err(Error::query(format!(
                        "unsupported project operator '{other}' (name = {name})"
                    )))
                }
            };
            Ok((name, expr))
        })
        .collect::<Result<Vec<_>>>()?;
    let keep = if raw.exclude_keys {
        Vec::new()
    } else {
        key_columns
            .iter()
            .filter(|k| !fields.iter().any(|(n, _)| n == *k))
            .cloned()
            .collect()
    };
    Ok(ProjectSpec { fields, keep })
}
