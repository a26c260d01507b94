//! Filter conditions: each operator with the value it takes, dates as instants, patterns
//! compiled under the request's deadline.

use super::checks::{field_path, required_in, Options};
use super::patterns::{bounded_pattern, literal_pattern};
use crate::error::{Error, Result};
use crate::model::Condition as RawCondition;
use crate::plan::*;
use crate::time::{parse_iso, resolve_timediff};
use crate::value::json_to_bson;
use bson::Bson;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Every filter operator a condition may name (`filter`, `filter_or`).
pub const FILTER_OPERATORS: [&str; 24] = [
    "eq",
    "not",
    "lt",
    "lte",
    "gt",
    "gte",
    "exists",
    "contain",
    "not_contain",
    "regex",
    "in",
    "not_in",
    "contain_in",
    "not_contain_in",
    "regex_in",
    "match",
    "datetime_lt",
    "datetime_lte",
    "datetime_gt",
    "datetime_gte",
    "timediff_lt",
    "timediff_lte",
    "timediff_gt",
    "timediff_gte",
];

/// Operators whose values compile to patterns (regexes).
const PATTERN_OPERATORS: [&str; 6] = [
    "contain",
    "not_contain",
    "regex",
    "contain_in",
    "not_contain_in",
    "regex_in",
];

/// True when compiling these filters (or the keyword) builds patterns: the one part of
/// compiling that may take long (a regex's automaton); the rest takes time linear in a
/// query whose size the limits bound.
pub fn builds_patterns(
    filter: &[RawCondition],
    filter_or: &[RawCondition],
    keyword: &Option<String>,
) -> bool {
    keyword.is_some()
        || filter.iter().chain(filter_or).any(|c| {
            c.operator
                .as_deref()
                .is_some_and(|o| PATTERN_OPERATORS.contains(&o))
        })
}

/// Compiles filter conditions; `param` names the list in errors (`filter`, `filter_or`, …).
pub fn conditions(raw: &[RawCondition], param: &str, cx: &Options) -> Result<Vec<Condition>> {
    raw.iter().map(|c| condition(c, param, cx)).collect()
}

/// Compiles one filter condition.
pub fn condition(raw: &RawCondition, param: &str, cx: &Options) -> Result<Condition> {
    let key = required_in(&raw.key, param, "key")?;
    let operator = required_in(&raw.operator, param, "operator")?;
    let path = field_path(key, "filter key")?;
    let null = Value::Null;
    let value = raw.value.as_ref().unwrap_or(&null);
    let op = operator_value(key, operator, value, cx)?;
    let op = if DATE_FIELDS.contains(&key) {
        dates_as_instants(op)
    } else {
        op
    };
    Ok(Condition { path, op })
}

/// The fields the models declare as dates. A string compared with one of them is read as an
/// ISO 8601 instant, as the reference's ORM does (query.md §2).
pub const DATE_FIELDS: [&str; 4] = ["created_at", "started_at", "updated_at", "finished_at"];

/// `eq`/`not`/`in`/`not_in`/comparison values that are ISO 8601 strings become dates; other
/// values (and strings that are not dates) stay as given.
fn dates_as_instants(op: Op) -> Op {
    let instant = |value: Bson| match &value {
        Bson::String(text) => match parse_iso(text) {
            Some(dt) => Bson::DateTime(bson::DateTime::from_chrono(dt)),
            None => value,
        },
        _ => value,
    };
    let all = |values: Vec<Bson>| values.into_iter().map(instant).collect();
    match op {
        Op::Eq(v) => Op::Eq(instant(v)),
        Op::Ne(v) => Op::Ne(instant(v)),
        Op::Lt(v) => Op::Lt(instant(v)),
        Op::Lte(v) => Op::Lte(instant(v)),
        Op::Gt(v) => Op::Gt(instant(v)),
        Op::Gte(v) => Op::Gte(instant(v)),
        Op::In(vs) => Op::In(all(vs)),
        Op::NotIn(vs) => Op::NotIn(all(vs)),
        other => other,
    }
}

fn operator_value(key: &str, operator: &str, value: &Value, cx: &Options) -> Result<Op> {
    let scalar_only = || -> Result<()> {
        if value.is_array() {
            return Err(Error::OperatorValueType {
                key: key.into(),
                operator: operator.into(),
            });
        }
        Ok(())
    };
    let list = || -> Result<&Vec<Value>> {
        value
            .as_array()
            .ok_or_else(|| Error::OperatorListValueType {
                key: key.into(),
                operator: operator.into(),
            })
    };
    let text = |v: &Value| -> Result<String> {
        cx.check()?;
        v.as_str().map(str::to_string).ok_or_else(|| {
            Error::query(format!(
                "operator '{operator}' on key '{key}' needs string values, got {v}"
            ))
        })
    };
    let comparable = || -> Result<Bson> {
        scalar_only()?;
        if value.is_object() {
            return Err(Error::OperatorValueType {
                key: key.into(),
                operator: operator.into(),
            });
        }
        Ok(json_to_bson(value))
    };
    let instant = |dt: DateTime<Utc>| Bson::DateTime(bson::DateTime::from_chrono(dt));
    let date = || -> Result<Bson> {
        scalar_only()?;
        let t = text(value)?;
        parse_iso(&t).map(instant).ok_or_else(|| {
            Error::query(format!(
                "invalid date '{t}' for operator '{operator}' on key '{key}': use ISO 8601"
            ))
        })
    };
    let timediff = || -> Result<Bson> {
        scalar_only()?;
        resolve_timediff(&text(value)?, cx.now)
            .map(instant)
            .map_err(|e| Error::query(format!("{e} (key = {key}, operator = {operator})")))
    };
    Ok(match operator {
        "eq" => {
            scalar_only()?;
            Op::Eq(json_to_bson(value))
        }
        "not" => {
            scalar_only()?;
            Op::Ne(json_to_bson(value))
        }
        "lt" => Op::Lt(comparable()?),
        "lte" => Op::Lte(comparable()?),
        "gt" => Op::Gt(comparable()?),
        "gte" => Op::Gte(comparable()?),
        "exists" => match value {
            Value::Bool(b) => Op::Exists(*b),
            _ => {
                return Err(Error::OperatorBooleanType {
                    key: key.into(),
                    operator: operator.into(),
                })
            }
        },
        "contain" | "not_contain" | "regex" => {
            scalar_only()?;
            let t = text(value)?;
            let p = if operator == "regex" {
                bounded_pattern(&t, cx.regex_size_limit)?
            } else {
                literal_pattern(&t, cx.regex_size_limit)?
            };
            if operator == "not_contain" {
                Op::NotMatches(vec![p])
            } else {
                Op::Matches(vec![p])
            }
        }
        "in" => Op::In(list()?.iter().map(json_to_bson).collect()),
        "not_in" => Op::NotIn(list()?.iter().map(json_to_bson).collect()),
        "contain_in" | "not_contain_in" | "regex_in" => {
            let patterns = list()?
                .iter()
                .map(|v| {
                    let t = text(v)?;
                    if operator == "regex_in" {
                        bounded_pattern(&t, cx.regex_size_limit)
                    } else {
                        literal_pattern(&t, cx.regex_size_limit)
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            if operator == "not_contain_in" {
                Op::NotMatches(patterns)
            } else {
                Op::Matches(patterns)
            }
        }
        "match" => {
            let Value::Object(map) = value else {
                return Err(Error::OperatorDictValueType {
                    key: key.into(),
                    operator: operator.into(),
                });
            };
            let fields = map
                .iter()
                .map(|(k, v)| Ok((field_path(k, "match sub-key")?, json_to_bson(v))))
                .collect::<Result<Vec<_>>>()?;
            Op::ElemMatch(fields)
        }
        "datetime_lt" => Op::Lt(date()?),
        "datetime_lte" => Op::Lte(date()?),
        "datetime_gt" => Op::Gt(date()?),
        "datetime_gte" => Op::Gte(date()?),
        "timediff_lt" => Op::Lt(timediff()?),
        "timediff_lte" => Op::Lte(timediff()?),
        "timediff_gt" => Op::Gt(timediff()?),
        "timediff_gte" => Op::Gte(timediff()?),
        other => {
            return Err(Error::query(format!(
                "unsupported filter operator '{other}' (key = {key})"
            )))
        }
    })
}

pub(super) fn filter(all: &[RawCondition], any: &[RawCondition], cx: &Options) -> Result<Filter> {
    Ok(Filter {
        all: conditions(all, "filter", cx)?,
        any: conditions(any, "filter_or", cx)?,
    })
}
