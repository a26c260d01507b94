//! The dimensions of a request, derived from the query model's JSON schema (schemars, from
//! the serde types themselves): every list has a length, every text a size, every free value
//! (a condition's `value`) a length, a size and a depth, every number an extreme and every
//! flag two values. A field added to the model later is a dimension at once; [`seeds`] must
//! hold it for it to be grown, which [`uncovered`] checks.
//!
//! A dimension is grown in a copy of a seed request ([`grow`]): lists by repeating their
//! elements (names made distinct, so a group's columns stay valid), texts by padding, values
//! by nesting.

use crate::Method;
use serde_json::{json, Map, Value};
use std::fmt;

/// One step of a path into a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// A named field.
    Field(String),
    /// Any element of a list.
    Item,
    /// Any entry of a map beside the named fields (a stage's unknown names).
    Entry,
}

/// How a dimension grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Elements of a list (or entries of a map).
    Count,
    /// Bytes of a text.
    Bytes,
    /// Nesting of a free value.
    Depth,
    /// A number set to an extreme.
    Number,
    /// A flag set and unset.
    Flag,
}

/// One dimension: a path into the request of a method, and how it grows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    /// The method whose request holds it.
    pub method: Method,
    /// The path from the request's `query`.
    pub path: Vec<Step>,
    /// How it grows.
    pub kind: Kind,
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match self.method {
            Method::List => "list",
            Method::Stat => "stat",
        };
        let mut path = String::new();
        for step in &self.path {
            match step {
                Step::Field(name) if path.is_empty() => path.push_str(name),
                Step::Field(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                Step::Item => path.push_str("[]"),
                Step::Entry => path.push_str(".*"),
            }
        }
        let kind = match self.kind {
            Kind::Count => "length",
            Kind::Bytes => "bytes",
            Kind::Depth => "depth",
            Kind::Number => "number",
            Kind::Flag => "flag",
        };
        write!(f, "{method} {path} ({kind})")
    }
}

impl Dimension {
    /// True for the dimensions a budget must bound: lengths, sizes and depths.
    pub fn is_size(&self) -> bool {
        matches!(self.kind, Kind::Count | Kind::Bytes | Kind::Depth)
    }
}

/// Every dimension of the `list` query and of the `stat` query.
pub fn all() -> Vec<Dimension> {
    let mut out = Vec::new();
    for (method, schema) in [
        (
            Method::List,
            schemars::schema_for!(spacejobs_core::Query).to_value(),
        ),
        (
            Method::Stat,
            schemars::schema_for!(spacejobs_core::StatisticsQuery).to_value(),
        ),
    ] {
        let mut found = Vec::new();
        walk(&schema, &schema, &mut Vec::new(), &mut found, 0);
        for (path, kind) in found {
            let dimension = Dimension { method, path, kind };
            if !out.contains(&dimension) {
                out.push(dimension);
            }
        }
    }
    out
}

/// The schema a `$ref` names, or the node itself.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            root.get("$defs")
                .and_then(|defs| defs.get(name))
                .unwrap_or(node)
        }
        None => node,
    }
}

/// The node's type, the first that is not `null`.
fn type_of(node: &Value) -> Option<&str> {
    match node.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

fn walk(
    root: &Value,
    node: &Value,
    path: &mut Vec<Step>,
    out: &mut Vec<(Vec<Step>, Kind)>,
    depth: usize,
) {
    if depth > 32 {
        return; // a recursive schema: the model has none
    }
    let node = resolve(root, node);
    if let Some(variants) = node
        .get("anyOf")
        .or_else(|| node.get("oneOf"))
        .and_then(Value::as_array)
    {
        for variant in variants {
            if type_of(variant) != Some("null") {
                walk(root, variant, path, out, depth + 1);
            }
        }
        return;
    }
    let push = |out: &mut Vec<(Vec<Step>, Kind)>, path: &Vec<Step>, kind| {
        out.push((path.clone(), kind));
    };
    match type_of(node) {
        Some("object") => {
            if let Some(properties) = node.get("properties").and_then(Value::as_object) {
                for (name, sub) in properties {
                    path.push(Step::Field(name.clone()));
                    walk(root, sub, path, out, depth + 1);
                    path.pop();
                }
            }
            if let Some(extra) = node
                .get("additionalProperties")
                .filter(|e| **e != Value::Bool(false))
            {
                push(out, path, Kind::Count);
                path.push(Step::Entry);
                walk(root, extra, path, out, depth + 1);
                path.pop();
            }
        }
        Some("array") => {
            push(out, path, Kind::Count);
            if let Some(items) = node.get("items") {
                path.push(Step::Item);
                walk(root, items, path, out, depth + 1);
                path.pop();
            }
        }
        Some("string") => push(out, path, Kind::Bytes),
        Some("integer" | "number") => push(out, path, Kind::Number),
        Some("boolean") => push(out, path, Kind::Flag),
        _ => {
            // A free value (`serde_json::Value`): any of them.
            for kind in [Kind::Count, Kind::Bytes, Kind::Depth] {
                push(out, path, kind);
            }
        }
    }
}

/// The seed requests of a method: valid requests over the fuzzer's dataset that together
/// hold every field of the model.
pub fn seeds(method: Method, domain: &str) -> Vec<Value> {
    let condition = |key: &str, value: Value, operator: &str| json!({"key": key, "value": value, "operator": operator});
    match method {
        Method::List => vec![
            json!({"domain_id": domain, "query": {
                "filter": [condition("job_id", json!(["job-000000000001", "job-000000000002"]), "in")],
                "filter_or": [condition("provider", json!(["aws"]), "in"), condition("job_task_id", json!("job-task"), "contain")],
                "sort": {"key": "created_at", "desc": true, "keys": [{"key": "created_at", "desc": true}]},
                "page": {"start": 1, "limit": 20},
                "minimal": false,
                "count_only": false,
                "only": ["job_task_id", "status"],
                "keyword": "job",
            }}),
            json!({"domain_id": domain, "query": {
                "unwind": {"path": "errors", "filter": [condition("errors.error_code", json!(["ERROR_TIMEOUT"]), "in")]},
                "only": ["job_task_id", "errors"],
                "page": {"limit": 20},
            }}),
        ],
        Method::Stat => vec![
            json!({"domain_id": domain, "query": {
                "filter": [condition("status", json!(["SUCCESS", "FAILURE"]), "in")],
                "filter_or": [condition("provider", json!(["aws"]), "in"), condition("job_task_id", json!("job-task"), "contain")],
                "keyword": "job",
                "page": {"start": 1, "limit": 20},
                "aggregate": [
                    {"unwind": {"path": "errors"}},
                    {"group": {
                        "keys": [
                            {"key": "status", "name": "status"},
                            {"key": "created_at", "name": "day", "date_format": "%Y-%m-%d"},
                        ],
                        "fields": [
                            {"key": "created_count", "name": "n", "operator": "sum",
                             "conditions": [condition("provider", json!("aws"), "eq")]},
                            {"name": "jobs", "operator": "push", "fields": [{"key": "job_id", "name": "id"}]},
                        ],
                    }},
                    {"project": {"fields": [{"key": "n", "name": "total"}, {"key": "jobs", "name": "jobs", "operator": "size"}], "exclude_keys": false}},
                    {"sort": {"key": "total", "desc": true, "keys": [{"key": "total", "desc": true}]}},
                    {"skip": 0},
                    {"limit": 10},
                    {"count": {"name": "rows"}},
                ],
            }}),
            json!({"domain_id": domain, "query": {
                "distinct": "provider",
                "filter": [condition("status", json!("SUCCESS"), "eq")],
            }}),
        ],
    }
}

/// The node at `path` under `value` (the first element of a list that has the rest of the
/// path), creating the entry of a map step.
fn find_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let Some((step, rest)) = path.split_first() else {
        return Some(value);
    };
    match step {
        Step::Field(name) => find_mut(value.as_object_mut()?.get_mut(name)?, rest),
        Step::Item => {
            let items = value.as_array_mut()?;
            let at = items
                .iter_mut()
                .position(|item| find_mut(item, rest).is_some())?;
            find_mut(&mut items[at], rest)
        }
        Step::Entry => {
            let map = value.as_object_mut()?;
            let entry = map.entry("fuzzed_entry").or_insert(Value::Null);
            find_mut(entry, rest)
        }
    }
}

/// The seed of `dimension`'s method that holds its path (its `query` part), if any.
pub fn seed_of(dimension: &Dimension, domain: &str) -> Option<Value> {
    seeds(dimension.method, domain).into_iter().find(|seed| {
        let mut seed = seed.clone();
        locate(&mut seed, dimension).is_some()
    })
}

fn locate<'a>(request: &'a mut Value, dimension: &Dimension) -> Option<&'a mut Value> {
    find_mut(request.get_mut("query")?, &dimension.path)
}

/// The dimensions no seed holds: each must be added to [`seeds`] to be grown.
pub fn uncovered(domain: &str) -> Vec<Dimension> {
    all()
        .into_iter()
        .filter(|d| seed_of(d, domain).is_none())
        .collect()
}

/// Gives every `name` under `value` the suffix `_{n}` (so repeated group keys and fields
/// make distinct columns).
fn distinct_names(value: &mut Value, n: usize) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(text) if key == "name" => text.push_str(&format!("_{n}")),
                    other => distinct_names(other, n),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| distinct_names(item, n)),
        _ => {}
    }
}

/// `text` padded (or cut) to `bytes` bytes.
fn sized(text: &str, bytes: usize) -> String {
    let mut out: String = text.chars().take(bytes).collect();
    while out.len() < bytes {
        out.push('x');
    }
    out
}

/// `request` with `dimension` grown to `size`; `None` when the request does not hold it.
pub fn grow(request: &Value, dimension: &Dimension, size: usize) -> Option<Value> {
    let mut request = request.clone();
    let node = locate(&mut request, dimension)?;
    match dimension.kind {
        Kind::Count => match node {
            Value::Array(items) if !items.is_empty() => {
                let original = items.len();
                let grown: Vec<Value> = (0..size)
                    .map(|i| {
                        let mut item = items[i % original].clone();
                        if i >= original {
                            distinct_names(&mut item, i);
                        }
                        item
                    })
                    .collect();
                *items = grown;
            }
            Value::Object(map) => {
                let extra: Map<String, Value> = (0..size)
                    .map(|i| (format!("fuzzed_{i}"), json!({})))
                    .collect();
                map.extend(extra);
            }
            other => *other = Value::Array(vec![other.clone(); size]),
        },
        Kind::Bytes => match node {
            Value::String(text) => *text = sized(text, size),
            Value::Array(items) => match items.iter_mut().find_map(|i| match i {
                Value::String(text) => Some(text),
                _ => None,
            }) {
                Some(text) => *text = sized(text, size),
                None => items.insert(0, Value::String(sized("", size))),
            },
            other => *other = Value::String(sized("", size)),
        },
        Kind::Depth => {
            for _ in 0..size {
                *node = Value::Array(vec![node.take()]);
            }
        }
        Kind::Number => *node = json!(size),
        Kind::Flag => *node = Value::Bool(size % 2 == 1),
    }
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_model_is_a_dimension_a_seed_holds() {
        let dimensions = all();
        let names: Vec<String> = dimensions.iter().map(ToString::to_string).collect();
        for expected in [
            "stat aggregate[].group.keys (length)",
            "stat aggregate[].group.keys[].name (bytes)",
            "stat aggregate[].group.fields[].fields (length)",
            "stat aggregate[].project.fields (length)",
            "list filter[].value (depth)",
            "list sort.keys (length)",
            "list only (length)",
            "list page.limit (number)",
            "list count_only (flag)",
            "stat distinct (bytes)",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:#?}"
            );
        }
        let uncovered = uncovered("domain-0");
        assert!(
            uncovered.is_empty(),
            "fields of the query model no seed holds (add them to cost::dimensions::seeds): {:#?}",
            uncovered
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn growing_repeats_elements_with_distinct_names_pads_texts_and_nests_values() {
        let keys = Dimension {
            method: Method::Stat,
            path: ["aggregate", "", "group", "keys"]
                .iter()
                .map(|s| {
                    if s.is_empty() {
                        Step::Item
                    } else {
                        Step::Field((*s).into())
                    }
                })
                .collect(),
            kind: Kind::Count,
        };
        let seed = seed_of(&keys, "d").expect("a seed holds group keys");
        let grown = grow(&seed, &keys, 5).expect("grown");
        let names: Vec<&str> = grown["query"]["aggregate"][1]["group"]["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["status", "day", "status_2", "day_3", "status_4"]);
        let value = Dimension {
            method: Method::List,
            path: vec![
                Step::Field("filter".into()),
                Step::Item,
                Step::Field("value".into()),
            ],
            kind: Kind::Depth,
        };
        let grown = grow(&seed_of(&value, "d").expect("seed"), &value, 3).expect("grown");
        assert_eq!(
            grown["query"]["filter"][0]["value"],
            json!([[[["job-000000000001", "job-000000000002"]]]])
        );
    }
}
