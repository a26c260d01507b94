//! Compiled plans as JSON, for operators: what `explain` prints as "the validated plan".
//!
//! The shape follows the query model (`k`/`o`/`v` conditions, `key`/`name` group columns),
//! with everything the compiler resolved made explicit: values typed (dates as ISO 8601
//! instants, `timediff_*` already applied), keyword and scope conditions added, the default
//! sort filled in, text patterns as the case-insensitive regexes they became.

use super::plan::{
    Accumulator, CompareOp, ConcatPart, Condition, Filter, GroupSpec, ListPlan, Op, Pattern,
    ProjectExpr, PushSource, RowCondition, Slice, SortSpec, Stage, StatKind, StatPlan,
};
use crate::error::{Error, Result};
use crate::json::to_json;
use crate::time::DateFormat;
use crate::value::FieldPath;
use bson::Bson;
use serde_json::{json, Map, Value};

/// Which method a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `list`: documents.
    List,
    /// `stat`: distinct values or an aggregation.
    Stat,
}

impl Method {
    /// `list` or `stat`.
    pub fn name(self) -> &'static str {
        match self {
            Method::List => "list",
            Method::Stat => "stat",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "list" => Ok(Method::List),
            "stat" => Ok(Method::Stat),
            other => Err(Error::query(format!(
                "unknown method '{other}': explain takes list or stat"
            ))),
        }
    }
}

/// A compiled request of either method.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A compiled `list`.
    List(ListPlan),
    /// A compiled `stat`.
    Stat(StatPlan),
}

impl Plan {
    /// The method the plan answers.
    pub fn method(&self) -> Method {
        match self {
            Plan::List(_) => Method::List,
            Plan::Stat(_) => Method::Stat,
        }
    }

    /// The plan as JSON.
    pub fn describe(&self) -> Value {
        match self {
            Plan::List(plan) => list_plan(plan),
            Plan::Stat(plan) => stat_plan(plan),
        }
    }
}

/// A list plan as JSON.
pub fn list_plan(plan: &ListPlan) -> Value {
    let mut out = Map::new();
    out.insert("filter".into(), filter(&plan.filter));
    if let Some(unwind) = &plan.unwind {
        out.insert(
            "unwind".into(),
            json!({"path": unwind.path.as_str(), "filter": conditions(&unwind.filter)}),
        );
    }
    if plan.count_only {
        out.insert("count_only".into(), Value::Bool(true));
    } else {
        out.insert("sort".into(), sort(&plan.sort));
        out.insert("page".into(), slice(plan.slice));
        out.insert(
            "projection".into(),
            match &plan.projection {
                Some(paths) => paths.iter().map(|p| json!(p.as_str())).collect(),
                None => Value::String("whole documents".into()),
            },
        );
    }
    Value::Object(out)
}

/// A stat plan as JSON.
pub fn stat_plan(plan: &StatPlan) -> Value {
    let mut out = Map::new();
    out.insert("filter".into(), filter(&plan.filter));
    match &plan.kind {
        StatKind::Distinct(path) => {
            out.insert("distinct".into(), json!(path.as_str()));
        }
        StatKind::Aggregate(stages) => {
            out.insert("aggregate".into(), stages.iter().map(stage).collect());
        }
    }
    if let Some(page) = plan.page {
        out.insert("page".into(), slice(page));
    }
    Value::Object(out)
}

/// A filter: the conditions all of which hold (`all`) and, when any, those at least one
/// of which holds (`any`).
pub fn filter(filter: &Filter) -> Value {
    let mut out = Map::new();
    out.insert("all".into(), conditions(&filter.all));
    if !filter.any.is_empty() {
        out.insert("any".into(), conditions(&filter.any));
    }
    Value::Object(out)
}

fn conditions(conditions: &[Condition]) -> Value {
    conditions.iter().map(condition).collect()
}

/// One condition as `{"k", "o", "v"}`.
pub fn condition(condition: &Condition) -> Value {
    let values = |vs: &[Bson]| Value::Array(vs.iter().map(to_json).collect());
    let (o, v) = match &condition.op {
        Op::Eq(v) => ("eq", to_json(v)),
        Op::Ne(v) => ("not", to_json(v)),
        Op::Lt(v) => ("lt", to_json(v)),
        Op::Lte(v) => ("lte", to_json(v)),
        Op::Gt(v) => ("gt", to_json(v)),
        Op::Gte(v) => ("gte", to_json(v)),
        Op::Exists(e) => ("exists", Value::Bool(*e)),
        Op::In(vs) => ("in", values(vs)),
        Op::NotIn(vs) => ("not_in", values(vs)),
        Op::Matches(ps) => ("regex_in (case-insensitive)", patterns(ps)),
        Op::NotMatches(ps) => ("not_regex_in (case-insensitive)", patterns(ps)),
        Op::ElemMatch(fields) => (
            "elem_match",
            Value::Object(
                fields
                    .iter()
                    .map(|(p, v)| (p.as_str().to_string(), to_json(v)))
                    .collect(),
            ),
        ),
    };
    json!({"k": condition.path.as_str(), "o": o, "v": v})
}

fn patterns(patterns: &[Pattern]) -> Value {
    patterns.iter().map(|p| json!(p.source)).collect()
}

fn sort(specs: &[SortSpec]) -> Value {
    specs
        .iter()
        .map(|s| json!({"key": s.path.as_str(), "desc": s.desc}))
        .collect()
}

fn slice(slice: Slice) -> Value {
    json!({"skip": slice.skip, "limit": slice.limit})
}

fn stage(stage: &Stage) -> Value {
    match stage {
        Stage::Unwind(path) => json!({"unwind": {"path": path.as_str()}}),
        Stage::Group(spec) => json!({"group": group(spec)}),
        Stage::Count(name) => json!({"count": {"name": name}}),
        Stage::Sort(specs) => json!({"sort": sort(specs)}),
        Stage::Project(spec) => {
            let fields: Map<String, Value> = spec
                .fields
                .iter()
                .map(|(name, expr)| (name.clone(), project(expr)))
                .collect();
            json!({"project": {"fields": fields, "keep": spec.keep}})
        }
        Stage::Limit(n) => json!({"limit": n}),
        Stage::Skip(n) => json!({"skip": n}),
    }
}

fn group(spec: &GroupSpec) -> Value {
    let keys: Vec<Value> = spec
        .keys
        .iter()
        .map(|k| {
            let mut key = json!({"key": k.path.as_str(), "name": k.name});
            if let Some(format) = &k.date_format {
                key["date_format"] = json!(date_format(format));
            }
            key
        })
        .collect();
    let fields: Vec<Value> = spec
        .fields
        .iter()
        .map(|(name, acc)| {
            let mut field = accumulator(acc);
            field["name"] = json!(name);
            field
        })
        .collect();
    json!({"keys": keys, "fields": fields})
}

fn accumulator(acc: &Accumulator) -> Value {
    let keyed =
        |operator: &str, path: &FieldPath| json!({"operator": operator, "key": path.as_str()});
    let with = |mut field: Value, conds: &[RowCondition]| {
        if !conds.is_empty() {
            field["conditions"] = conds.iter().map(row_condition).collect();
        }
        field
    };
    match acc {
        Accumulator::Count(conds) => with(json!({"operator": "count"}), conds),
        Accumulator::Sum(path, conds) => with(keyed("sum", path), conds),
        Accumulator::Average(path, conds) => with(keyed("average", path), conds),
        Accumulator::Max(path) => keyed("max", path),
        Accumulator::Min(path) => keyed("min", path),
        Accumulator::First(path) => keyed("first", path),
        Accumulator::Last(path) => keyed("last", path),
        Accumulator::Push(PushSource::Value(path)) => keyed("push", path),
        Accumulator::Push(PushSource::Object(fields)) => {
            let object: Map<String, Value> = fields
                .iter()
                .map(|(name, path)| (name.clone(), json!(path.as_str())))
                .collect();
            json!({"operator": "push", "fields": object})
        }
        Accumulator::AddToSet(path) => keyed("add_to_set", path),
        Accumulator::MergeObjects(path) => keyed("merge_objects", path),
    }
}

fn row_condition(c: &RowCondition) -> Value {
    let o = match c.op {
        CompareOp::Eq => "eq",
        CompareOp::Ne => "not",
        CompareOp::Gt => "gt",
        CompareOp::Gte => "gte",
        CompareOp::Lt => "lt",
        CompareOp::Lte => "lte",
    };
    json!({"k": c.path.as_str(), "o": o, "v": to_json(&c.value)})
}

fn project(expr: &ProjectExpr) -> Value {
    match expr {
        ProjectExpr::Copy(path) => json!({"key": path.as_str()}),
        ProjectExpr::Size(path) => json!({"operator": "size", "key": path.as_str()}),
        ProjectExpr::Sum(path) => json!({"operator": "sum", "key": path.as_str()}),
        ProjectExpr::ArrayToObject(path) => {
            json!({"operator": "array_to_object", "key": path.as_str()})
        }
        ProjectExpr::ObjectToArray(path) => {
            json!({"operator": "object_to_array", "key": path.as_str()})
        }
        ProjectExpr::Concat(parts) => {
            let items: Vec<Value> = parts
                .iter()
                .map(|part| match part {
                    ConcatPart::Text(text) => json!(text),
                    ConcatPart::Column(path) => json!({"key": path.as_str()}),
                })
                .collect();
            json!({"operator": "concat", "items": items})
        }
    }
}

fn date_format(format: &DateFormat) -> &str {
    match format {
        DateFormat::Year => "year",
        DateFormat::Month => "month",
        DateFormat::Day => "day",
        DateFormat::Pattern(pattern) => pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile;
    use crate::model::{Query, StatisticsQuery};
    use chrono::TimeZone;

    #[test]
    fn a_list_plan_shows_what_the_compiler_resolved() {
        let query: Query = serde_json::from_value(json!({
            "filter": [
                {"k": "status", "v": "FAILURE", "o": "eq"},
                {"k": "created_at", "v": "2024-01-02", "o": "gte"},
                {"k": "job_task_id", "v": "a.b", "o": "contain"}
            ],
            "filter_or": [{"k": "provider", "v": ["aws", "gcp"], "o": "in"}],
            "page": {"start": 3, "limit": 10},
            "only": ["job_task_id"]
        }))
        .unwrap();
        let now = chrono::Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        let plan = compile::list(&query, &[], now).unwrap();
        let described = list_plan(&plan);
        assert_eq!(
            described["filter"]["all"][0],
            json!({"k": "status", "o": "eq", "v": "FAILURE"})
        );
        // The day became an instant; the literal became an escaped regex.
        assert_eq!(
            described["filter"]["all"][1]["v"],
            "2024-01-02T00:00:00.000Z"
        );
        assert_eq!(described["filter"]["all"][2]["v"], json!(["a\\.b"]));
        assert_eq!(described["filter"]["any"][0]["v"], json!(["aws", "gcp"]));
        assert_eq!(
            described["sort"],
            json!([{"key": "created_at", "desc": true}])
        );
        assert_eq!(described["page"], json!({"skip": 2, "limit": 10}));
        assert!(described["projection"]
            .as_array()
            .unwrap()
            .contains(&json!("job_task_id")));
    }

    #[test]
    fn a_stat_plan_shows_its_stages() {
        let query: StatisticsQuery = serde_json::from_value(json!({
            "aggregate": [
                {"group": {
                    "keys": [{"key": "created_at", "name": "day", "date_format": "%Y-%m-%d"}],
                    "fields": [{"operator": "count", "name": "failed",
                                "conditions": [{"k": "status", "v": "FAILURE", "o": "eq"}]}]
                }},
                {"sort": {"key": "day"}}
            ]
        }))
        .unwrap();
        let plan = compile::stat(&query, chrono::Utc::now()).unwrap();
        let described = Plan::Stat(plan).describe();
        let group = &described["aggregate"][0]["group"];
        assert_eq!(group["keys"][0]["date_format"], "%Y-%m-%d");
        assert_eq!(group["fields"][0]["operator"], "count");
        assert_eq!(group["fields"][0]["name"], "failed");
        assert_eq!(group["fields"][0]["conditions"][0]["v"], "FAILURE");
        assert_eq!(
            described["aggregate"][1],
            json!({"sort": [{"key": "day", "desc": false}]})
        );
    }
}
