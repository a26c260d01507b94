//! Validation: raw [`model`](crate::model) queries become [`plan`](crate::plan)s, or a precise
//! error naming the offending key, operator or stage.

use super::model::{self, Condition as RawCondition};
use super::plan::*;
use crate::error::{Error, Result};
use crate::time::{parse_iso, resolve_timediff, DateFormat};
use crate::value::{json_to_bson, FieldPath};
use bson::Bson;
use chrono::{DateTime, Utc};
use serde_json::Value;
use spacejobs_exec::Deadline;

/// Longest regex source accepted (characters).
pub const MAX_REGEX_LEN: usize = 1024;
/// Compiled-size bound of one regex (and of its lazy DFA cache) when none is given.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What compilation needs besides the query.
#[derive(Debug, Clone)]
pub struct Options {
    /// "now", for `timediff_*`.
    pub now: DateTime<Utc>,
    /// Compiled-size bound of each regex (and of its lazy DFA cache), in bytes.
    pub regex_size_limit: usize,
    /// Checked before each pattern is compiled: compiling stops once it has passed.
    pub deadline: Option<Deadline>,
}

impl Options {
    /// Options at `now` with the default regex size bound and no deadline.
    pub fn new(now: DateTime<Utc>) -> Self {
        Options {
            now,
            regex_size_limit: REGEX_SIZE_LIMIT,
            deadline: None,
        }
    }

    fn check(&self) -> Result<()> {
        Ok(self.deadline.as_ref().map_or(Ok(()), Deadline::check)?)
    }
}

/// Checks a dotted key: no empty segment, no `$` operator injection.
pub fn field_path(key: &str, what: &str) -> Result<FieldPath> {
    let bad = key.is_empty()
        || key.split('.').any(|s| s.is_empty() || s.starts_with('$'))
        || key.contains('\0');
    if bad {
        return Err(Error::query(format!(
            "invalid {what} '{key}': a dotted field path without empty segments or '$'"
        )));
    }
    Ok(FieldPath::new(key))
}

/// Checks an output column name: not empty, no dot, no leading `$`.
fn column_name(name: &str, what: &str) -> Result<String> {
    if name.is_empty() || name.contains('.') || name.starts_with('$') || name.contains('\0') {
        return Err(Error::query(format!(
            "invalid {what} '{name}': a name without '.' that does not start with '$'"
        )));
    }
    Ok(name.to_string())
}

fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str> {
    present(value).ok_or_else(|| Error::required(key))
}

/// [`required`] for field `field` of an element of list `param` (the name written only when
/// it is missing).
fn required_in<'a>(value: &'a Option<String>, param: &str, field: &str) -> Result<&'a str> {
    present(value).ok_or_else(|| Error::required(format!("{param}.{field}")))
}

/// A string parameter that is given and not empty.
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Builds a case-insensitive pattern from regex source, with the length and default size bounds.
pub fn pattern(source: &str) -> Result<Pattern> {
    bounded_pattern(source, REGEX_SIZE_LIMIT)
}

/// A case-insensitive pattern whose compiled form and DFA cache stay under `size_limit` bytes.
pub fn bounded_pattern(source: &str, size_limit: usize) -> Result<Pattern> {
    super::pattern_cache::cached(source, size_limit, || build_pattern(source, size_limit))
}

/// [`bounded_pattern`], compiled anew.
fn build_pattern(source: &str, size_limit: usize) -> Result<Pattern> {
    if source.chars().count() > MAX_REGEX_LEN {
        return Err(Error::query(format!(
            "regex is longer than {MAX_REGEX_LEN} characters"
        )));
    }
    let regex = regex::RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(size_limit)
        .dfa_size_limit(size_limit)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => Error::query(format!(
                "regex '{source}' compiles to more than {limit} bytes, its share of the \
                 request's max_regex_compiled_bytes"
            )),
            e => Error::query(format!("invalid regex '{source}': {e}")),
        })?;
    Ok(Pattern {
        source: source.to_string(),
        regex,
        ascii_literal: None,
        anchors: anchors(source),
    })
}

/// The literal starts and ends an anchored regex's matches must have (none known: empty).
fn anchors(source: &str) -> Anchors {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    use regex_syntax::hir::Look;
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(source)
    else {
        return Anchors::default();
    };
    let props = hir.properties();
    let ends = |kind: ExtractKind, anchored: bool| -> Vec<Box<[u8]>> {
        if !anchored {
            return Vec::new();
        }
        let seq = Extractor::new().kind(kind).extract(&hir);
        let Some(literals) = seq.literals() else {
            return Vec::new();
        };
        let mut folded: Vec<Box<[u8]>> = literals
            .iter()
            .map(|l| l.as_bytes().to_ascii_lowercase().into())
            .collect();
        if folded.is_empty() || folded.iter().any(|l| l.is_empty()) {
            return Vec::new();
        }
        folded.sort();
        folded.dedup();
        folded
    };
    Anchors {
        prefixes: ends(
            ExtractKind::Prefix,
            props.look_set_prefix().contains(Look::Start),
        ),
        suffixes: ends(
            ExtractKind::Suffix,
            props.look_set_suffix().contains(Look::End),
        ),
    }
}

/// A pattern matching `text` literally, case-insensitively.
pub fn literal_pattern(text: &str, size_limit: usize) -> Result<Pattern> {
    let mut pattern = bounded_pattern(&regex::escape(text), size_limit)?;
    if text.is_ascii() {
        pattern.ascii_literal = Some(text.to_ascii_lowercase().into_bytes().into());
    }
    Ok(pattern)
}

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

fn filter(all: &[RawCondition], any: &[RawCondition], cx: &Options) -> Result<Filter> {
    Ok(Filter {
        all: conditions(all, "filter", cx)?,
        any: conditions(any, "filter_or", cx)?,
    })
}

fn sort_specs(sort: &model::Sort, param: &str) -> Result<Vec<SortSpec>> {
    if !sort.keys.is_empty() {
        return sort
            .keys
            .iter()
            .map(|k| {
                let key = required_in(&k.key, param, "keys.key")?;
                Ok(SortSpec {
                    path: field_path(key, "sort key")?,
                    desc: k.desc,
                })
            })
            .collect();
    }
    let key = required_in(&sort.key, param, "key")?;
    Ok(vec![SortSpec {
        path: field_path(key, "sort key")?,
        desc: sort.desc,
    }])
}

fn slice(page: &model::Page) -> Slice {
    Slice {
        skip: u64::from(page.start.max(1) - 1),
        limit: (page.limit > 0).then_some(u64::from(page.limit)),
    }
}

/// Compiles a `list` query. `minimal_fields` is the model's minimal field set.
pub fn list(query: &model::Query, minimal_fields: &[&str], now: DateTime<Utc>) -> Result<ListPlan> {
    list_with(query, minimal_fields, &Options::new(now))
}

/// Compiles a `list` query with explicit [`Options`].
pub fn list_with(query: &model::Query, minimal_fields: &[&str], cx: &Options) -> Result<ListPlan> {
    let filter = filter(&query.filter, &query.filter_or, cx)?;
    let sort = match &query.sort {
        Some(s) => sort_specs(s, "sort")?,
        None => vec![SortSpec {
            path: FieldPath::new("created_at"),
            desc: true,
        }],
    };
    let mut projection = if query.minimal {
        Some(
            minimal_fields
                .iter()
                .map(|f| FieldPath::new(f))
                .collect::<Vec<_>>(),
        )
    } else if !query.only.is_empty() {
        Some(
            query
                .only
                .iter()
                .map(|k| field_path(k, "only key"))
                .collect::<Result<Vec<_>>>()?,
        )
    } else {
        None
    };
    let unwind = match &query.unwind {
        None => None,
        Some(u) => {
            let path = field_path(required(&u.path, "unwind.path")?, "unwind path")?;
            let Some(fields) = projection.as_mut() else {
                return Err(Error::required("only"));
            };
            if !fields.contains(&path) {
                fields.push(path.clone());
            }
            Some(UnwindSpec {
                path,
                filter: conditions(&u.filter, "unwind.filter", cx)?,
            })
        }
    };
    if let Some(fields) = projection.as_mut() {
        for s in &sort {
            if !fields.contains(&s.path) {
                fields.push(s.path.clone());
            }
        }
    }
    Ok(ListPlan {
        filter,
        sort,
        slice: query.page.as_ref().map(slice).unwrap_or_default(),
        projection,
        count_only: query.count_only,
        unwind,
    })
}

/// Compiles a `stat` query.
pub fn stat(query: &model::StatisticsQuery, now: DateTime<Utc>) -> Result<StatPlan> {
    stat_with(query, &Options::new(now))
}

/// Compiles a `stat` query with explicit [`Options`].
pub fn stat_with(query: &model::StatisticsQuery, cx: &Options) -> Result<StatPlan> {
    let filter = filter(&query.filter, &query.filter_or, cx)?;
    let distinct = query.distinct.as_deref().filter(|d| !d.is_empty());
    let kind = match (distinct, query.aggregate.is_empty()) {
        (None, true) => return Err(Error::required("aggregate")),
        (Some(_), false) => {
            return Err(Error::query("give either aggregate or distinct, not both"));
        }
        (Some(d), true) => StatKind::Distinct(field_path(d, "distinct key")?),
        (None, false) => StatKind::Aggregate(stages(&query.aggregate)?),
    };
    let page = query.page.as_ref().filter(|p| p.limit > 0).map(slice);
    Ok(StatPlan { filter, kind, page })
}

const STAGE_NAMES: &str = "unwind, group, count, sort, project, limit or skip";

fn stages(raw: &[model::Stage]) -> Result<Vec<Stage>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        crate::time::parse_iso("2022-07-01T12:00:00Z").expect("valid")
    }

    #[test]
    fn builds_patterns_exactly_when_compiling_makes_patterns() {
        let values = [
            json!("x"),
            json!(["x"]),
            json!(true),
            json!({"k": "x"}),
            json!("now"),
            json!("2022-06-01"),
        ];
        for operator in FILTER_OPERATORS {
            let raw = |v: &Value| RawCondition::new("status", operator, v.clone());
            let compiled = values
                .iter()
                .find_map(|v| condition(&raw(v), "filter", &Options::new(now())).ok())
                .unwrap_or_else(|| panic!("'{operator}' compiles with one of the values"));
            let patterns = matches!(compiled.op, Op::Matches(_) | Op::NotMatches(_));
            let said = builds_patterns(&[raw(&values[0])], &[], &None);
            assert_eq!(said, patterns, "{operator}");
            assert_eq!(builds_patterns(&[], &[raw(&values[0])], &None), patterns);
        }
        assert!(builds_patterns(&[], &[], &Some("word".into())));
        assert!(!builds_patterns(&[], &[], &None));
    }

    #[test]
    fn anchored_regexes_filter_by_their_literal_ends_like_the_regex() {
        let secret = pattern("^secret-[0-7].*f$").expect("pattern");
        assert_eq!(secret.anchors.suffixes, vec![Box::from(*b"f")]);
        assert!(!secret.anchors.prefixes.is_empty());
        let sources = [
            "^secret-[0-7].*f$",
            "^ab",
            "cd$",
            "^(ab|cd)x$",
            "(?m)^a",
            "^a|b$",
            "^k",
            "k$",
            "^$",
            "^.*$",
            r"^\d+$",
            "^(?-i:Ab)c",
            "^é",
            "^a?b",
        ];
        let texts = [
            "",
            "secret-1abf",
            "SECRET-7xF",
            "secret-8abf",
            "secret-1abe",
            "ab",
            "xab",
            "ABc",
            "abcd",
            "cdx",
            "abx",
            "x\na",
            "b",
            "a",
            "\u{212a}",
            "K",
            "xk",
            "123",
            "12a",
            "Abc",
            "abc",
            "é",
            "É",
            "bcd",
        ];
        for source in sources {
            let p = pattern(source).expect("pattern");
            for text in texts {
                assert_eq!(
                    p.is_match(text),
                    p.regex.is_match(text),
                    "{source:?} on {text:?}"
                );
            }
        }
    }

    #[test]
    fn literal_patterns_match_like_their_regex() {
        let long = format!("{}Ab1", "xa".repeat(40));
        let long_miss = "ka".repeat(40);
        // 64 bytes, the longest text compared in 8-byte windows, with the needle at its end.
        let edge = format!("{}ab1XYZ12", "z".repeat(55));
        let texts = [
            &edge,
            &edge[1..],
            "job-task-ABCDEFGH",
            "xyz12",
            "",
            "ab",
            "AB1",
            "xxAb1",
            "a",
            "aab1",
            "ab1ab",
            "ka",
            "\u{212a}a",
            "ſ",
            "S",
            "éab1",
            "a.b",
            "axb",
            "Ab",
            &long,
            &long_miss,
            "xa@b1",
            "a`b1",
            "A@B1",
        ];
        let needles = [
            "ab1",
            "AB",
            "",
            "k",
            "s",
            "a.b",
            "é",
            "b",
            "abcdefgh",
            "xyz12",
            "ab1xyz12",
            "task-abcdefgh",
        ];
        for needle in needles {
            let pattern = literal_pattern(needle, REGEX_SIZE_LIMIT).expect("pattern");
            assert_eq!(pattern.ascii_literal.is_some(), needle.is_ascii());
            for text in texts {
                assert_eq!(
                    pattern.is_match(text),
                    pattern.regex.is_match(text),
                    "{needle:?} in {text:?}"
                );
            }
        }
    }

    fn list_error(query: Value) -> Error {
        let query: model::Query = serde_json::from_value(query).expect("query parses");
        list(&query, &[], now()).expect_err("invalid query")
    }

    fn stat_error(query: Value) -> Error {
        let query: model::StatisticsQuery = serde_json::from_value(query).expect("query parses");
        stat(&query, now()).expect_err("invalid query")
    }

    /// Every filter error has SpaceONE's name and a message naming the key and operator.
    #[test]
    fn filter_errors_name_the_key_and_operator() {
        let cases = [
            (
                json!({"k": "status", "v": ["A"], "o": "eq"}),
                "ERROR_OPERATOR_VALUE_TYPE",
                &["status", "eq"][..],
            ),
            (
                json!({"k": "created_count", "v": {"a": 1}, "o": "lt"}),
                "ERROR_OPERATOR_VALUE_TYPE",
                &["created_count", "lt"],
            ),
            (
                json!({"k": "job_id", "v": "x", "o": "in"}),
                "ERROR_OPERATOR_LIST_VALUE_TYPE",
                &["job_id", "in"],
            ),
            (
                json!({"k": "job_id", "v": "x", "o": "regex_in"}),
                "ERROR_OPERATOR_LIST_VALUE_TYPE",
                &["job_id", "regex_in"],
            ),
            (
                json!({"k": "errors", "v": "x", "o": "match"}),
                "ERROR_OPERATOR_DICT_VALUE_TYPE",
                &["errors", "match"],
            ),
            (
                json!({"k": "secret_id", "v": 1, "o": "exists"}),
                "ERROR_OPERATOR_BOOLEAN_TYPE",
                &["secret_id", "exists"],
            ),
            (
                json!({"k": "status", "v": "x", "o": "startswith"}),
                "ERROR_DB_QUERY",
                &["startswith", "status"],
            ),
            (
                json!({"k": "provider", "v": "a(", "o": "regex"}),
                "ERROR_DB_QUERY",
                &["regex", "a("],
            ),
            (
                json!({"k": "created_at", "v": "soon", "o": "datetime_lt"}),
                "ERROR_DB_QUERY",
                &["soon", "created_at", "datetime_lt"],
            ),
            (
                json!({"k": "created_at", "v": "now-1y", "o": "timediff_lt"}),
                "ERROR_DB_QUERY",
                &["now-1y", "created_at"],
            ),
            (
                json!({"k": "provider", "v": true, "o": "contain"}),
                "ERROR_DB_QUERY",
                &["provider", "contain"],
            ),
            (
                json!({"k": "a.$gt", "v": 1, "o": "eq"}),
                "ERROR_DB_QUERY",
                &["a.$gt"],
            ),
            (
                json!({"v": 1, "o": "eq"}),
                "ERROR_REQUIRED_PARAMETER",
                &["filter.key"],
            ),
            (
                json!({"k": "status", "v": 1}),
                "ERROR_REQUIRED_PARAMETER",
                &["filter.operator"],
            ),
        ];
        for (condition, code, words) in cases {
            let err = list_error(json!({ "filter": [condition.clone()] }));
            assert_eq!(err.code(), code, "{condition}: {err}");
            for word in words {
                assert!(
                    err.to_string().contains(word),
                    "{condition}: '{err}' lacks '{word}'"
                );
            }
        }
    }

    #[test]
    fn regexes_are_bounded() {
        let long = "a".repeat(MAX_REGEX_LEN + 1);
        let err = list_error(json!({"filter": [{"k": "provider", "v": long, "o": "regex"}]}));
        assert!(err.to_string().contains("longer than 1024"), "{err}");
        // A literal `contain` is escaped, never interpreted.
        let ok: model::Query =
            serde_json::from_value(json!({"filter": [{"k": "p", "v": "a(b", "o": "contain"}]}))
                .expect("parses");
        assert!(list(&ok, &[], now()).is_ok());
    }

    #[test]
    fn stage_errors_name_the_stage_part() {
        let cases = [
            (json!({}), "aggregate"),
            (
                json!({"aggregate": [{"unwind": {}}]}),
                "aggregate.unwind.path",
            ),
            (
                json!({"aggregate": [{"count": {}}]}),
                "aggregate.count.name",
            ),
            (json!({"aggregate": [{"sort": {}}]}), "aggregate.sort.key"),
            (
                json!({"aggregate": [{"group": {}}]}),
                "aggregate.group.keys",
            ),
            (
                json!({"aggregate": [{"group": {"fields": [{"operator": "sum", "name": "s"}]}}]}),
                "aggregate.group.fields.key",
            ),
            (
                json!({"aggregate": [{"project": {}}]}),
                "aggregate.project.fields",
            ),
            (json!({"aggregate": [{"pivot": {}}]}), "'pivot' is unknown"),
        ];
        for (query, key) in cases {
            let err = stat_error(query.clone());
            assert_eq!(err.code(), "ERROR_REQUIRED_PARAMETER", "{query}");
            assert!(
                err.to_string().contains(key),
                "{query}: '{err}' lacks '{key}'"
            );
        }
        let err = stat_error(
            json!({"aggregate": [{"group": {"fields": [{"operator": "max", "key": "a", "name": "m",
            "conditions": [{"key": "s", "value": 1, "operator": "eq"}]}]}}]}),
        );
        assert_eq!(err.code(), "ERROR_DB_QUERY");
        assert!(
            err.to_string().contains("max") && err.to_string().contains("name = m"),
            "{err}"
        );
    }

    #[test]
    fn list_plan_defaults_and_projection() {
        let query: model::Query =
            serde_json::from_value(json!({"only": ["job_id"], "page": {"start": 0, "limit": 5}}))
                .expect("parses");
        let plan = list(&query, &[], now()).expect("valid");
        assert_eq!(
            plan.sort,
            vec![SortSpec {
                path: FieldPath::new("created_at"),
                desc: true
            }]
        );
        assert_eq!(
            plan.slice,
            Slice {
                skip: 0,
                limit: Some(5)
            }
        );
        let fields: Vec<&str> = plan
            .projection
            .iter()
            .flatten()
            .map(FieldPath::as_str)
            .collect();
        assert_eq!(fields, ["job_id", "created_at"]);
    }
}
