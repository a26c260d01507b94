//! The per-request budget: how much work one `list` or `stat` may ask for.
//!
//! [`Limits::check_list`] and [`Limits::check_stat`] walk the raw query (after pre-processing)
//! and count every dimension whose size multiplies work or memory, before anything is
//! compiled or sent to a store: the elements of list operators, keyword words, patterns and
//! their total bytes, conditions, stages, `only` fields, sort keys, group keys and fields,
//! `push` sub-fields, project fields, the bytes of every name (keys, paths, column names,
//! operators, date formats) and of every value, and how deeply values nest. A regex whose
//! shape makes a backtracking engine (MongoDB's PCRE) run for exponential time, a quantifier
//! over a quantified group, is refused here too, so it never reaches a database. Each refusal
//! is `ERROR_DB_QUERY` naming the limit.
//!
//! The defaults are far above what SpaceONE's console and clients send (tens of values, a few
//! group keys). The cost fuzzer (`spacejobs_conformance::cost`) grows every field of the
//! query model past these limits and checks each is refused, and that requests at the limits
//! stay within their CPU and memory bounds.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
use serde_json::Value;
use spacejobs_query::compile::{Options, REGEX_SIZE_LIMIT};
use spacejobs_query::model::{Condition, Group, Query, Sort, Stage, StatisticsQuery};
use std::time::Duration;

/// What one request may ask for, and how long it may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Elements in the value of one list operator (`in`, `not_in`, `contain_in`, `regex_in` …).
    pub max_values: usize,
    /// Words of `keyword`.
    pub max_keyword_words: usize,
    /// Patterns (`contain*`, `regex*` values and keyword words, per keyword field) in a request.
    pub max_patterns: usize,
    /// Total bytes of the request's pattern sources.
    pub max_regex_bytes: usize,
    /// Compiled size of all the request's patterns together (bytes, shared out among them).
    pub max_regex_compiled_bytes: usize,
    /// Filter conditions: `filter`, `filter_or`, `unwind.filter` and group field conditions.
    pub max_conditions: usize,
    /// Stages of an aggregation.
    pub max_stages: usize,
    /// Fields in `only`.
    pub max_only_fields: usize,
    /// Keys of a sort (a query's, or a sort stage's).
    pub max_sort_keys: usize,
    /// Keys of one group stage.
    pub max_group_keys: usize,
    /// Fields (accumulators) of one group stage, and sub-fields of one `push`.
    pub max_group_fields: usize,
    /// Fields of one project stage.
    pub max_project_fields: usize,
    /// Bytes of one name: a key or path, a column name, an operator, a date format, the
    /// `distinct` field, an `only` field.
    pub max_name_bytes: usize,
    /// Bytes of one text value in a condition (patterns count against `max_regex_bytes`).
    pub max_value_bytes: usize,
    /// How deeply a condition's value may nest lists and maps in one another.
    pub max_value_depth: usize,
    /// How long a request may run when the client asks for no shorter deadline.
    pub timeout: Duration,
    /// Requests evaluated at once by one service; more are refused as overloaded.
    pub max_in_flight: usize,
    /// Requests of one domain evaluated at once; more of it are refused as overloaded (the
    /// other domains' still come in).
    pub max_in_flight_per_domain: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_values: 1000,
            max_keyword_words: 32,
            max_patterns: 100,
            max_regex_bytes: 16 * 1024,
            max_regex_compiled_bytes: 8 * 1024 * 1024,
            max_conditions: 100,
            max_stages: 32,
            max_only_fields: 100,
            max_sort_keys: 32,
            max_group_keys: 32,
            max_group_fields: 64,
            max_project_fields: 64,
            max_name_bytes: 1024,
            max_value_bytes: 16 * 1024,
            max_value_depth: 8,
            timeout: spacejobs_exec::DEFAULT_TIMEOUT,
            max_in_flight: 64,
            max_in_flight_per_domain: 32,
        }
    }
}

/// What a walk over one request found.
#[derive(Debug, Default)]
struct Tally {
    conditions: usize,
    patterns: usize,
    regex_bytes: usize,
}

/// The budget's refusal: `what` is over the limit `name`, whose value is `limit`.
pub fn over_budget(name: &str, limit: usize, what: String) -> Error {
    Error::query(format!(
        "request over budget: {what}; the limit {name} is {limit}"
    ))
}

impl Limits {
    /// Checks a pre-processed `list` query against the budget; gives the options to compile
    /// it with at `now` (each regex's share of the compiled-size budget).
    pub fn check_list(&self, query: &Query, now: DateTime<Utc>) -> Result<Options> {
        let mut tally = Tally::default();
        self.keyword(query.keyword.as_deref())?;
        self.conditions(&query.filter, "filter", &mut tally)?;
        self.conditions(&query.filter_or, "filter_or", &mut tally)?;
        if let Some(unwind) = &query.unwind {
            self.name(unwind.path.as_deref(), "unwind.path")?;
            self.conditions(&unwind.filter, "unwind.filter", &mut tally)?;
        }
        self.count(
            query.only.len(),
            "max_only_fields",
            self.max_only_fields,
            "only",
        )?;
        for field in &query.only {
            self.name(Some(field), "only")?;
        }
        if let Some(sort) = &query.sort {
            self.sort(sort, "sort")?;
        }
        Ok(self.options(&tally, now))
    }

    /// Checks a pre-processed `stat` query against the budget; gives the options to compile
    /// it with at `now`.
    pub fn check_stat(&self, query: &StatisticsQuery, now: DateTime<Utc>) -> Result<Options> {
        let mut tally = Tally::default();
        self.keyword(query.keyword.as_deref())?;
        self.conditions(&query.filter, "filter", &mut tally)?;
        self.conditions(&query.filter_or, "filter_or", &mut tally)?;
        self.name(query.distinct.as_deref(), "distinct")?;
        self.count(
            query.aggregate.len(),
            "max_stages",
            self.max_stages,
            "aggregate",
        )?;
        for stage in &query.aggregate {
            self.stage(stage, &mut tally)?;
        }
        Ok(self.options(&tally, now))
    }

    /// One aggregation stage: its lists' lengths and its names.
    fn stage(&self, stage: &Stage, tally: &mut Tally) -> Result<()> {
        if let Some(unwind) = &stage.unwind {
            self.name(unwind.path.as_deref(), "aggregate.unwind.path")?;
        }
        if let Some(count) = &stage.count {
            self.name(count.name.as_deref(), "aggregate.count.name")?;
        }
        if let Some(sort) = &stage.sort {
            self.sort(sort, "aggregate.sort")?;
        }
        if let Some(group) = &stage.group {
            self.group(group, tally)?;
        }
        if let Some(project) = &stage.project {
            let param = "aggregate.project.fields";
            let fields = &project.fields;
            self.count(
                fields.len(),
                "max_project_fields",
                self.max_project_fields,
                param,
            )?;
            for field in fields {
                self.name(field.key.as_deref(), "aggregate.project.fields.key")?;
                self.name(field.name.as_deref(), "aggregate.project.fields.name")?;
                self.name(
                    field.operator.as_deref(),
                    "aggregate.project.fields.operator",
                )?;
            }
        }
        for name in stage.unknown.keys() {
            self.name(Some(name), "aggregate")?;
        }
        Ok(())
    }

    /// A group stage: keys, fields, `push` sub-fields and conditions.
    fn group(&self, group: &Group, tally: &mut Tally) -> Result<()> {
        let keys = &group.keys;
        self.count(
            keys.len(),
            "max_group_keys",
            self.max_group_keys,
            "aggregate.group.keys",
        )?;
        for key in keys {
            self.name(key.key.as_deref(), "aggregate.group.keys.key")?;
            self.name(key.name.as_deref(), "aggregate.group.keys.name")?;
            self.name(
                key.date_format.as_deref(),
                "aggregate.group.keys.date_format",
            )?;
        }
        let fields = &group.fields;
        let param = "aggregate.group.fields";
        self.count(
            fields.len(),
            "max_group_fields",
            self.max_group_fields,
            param,
        )?;
        for field in fields {
            self.name(field.key.as_deref(), "aggregate.group.fields.key")?;
            self.name(field.name.as_deref(), "aggregate.group.fields.name")?;
            self.name(field.operator.as_deref(), "aggregate.group.fields.operator")?;
            let param = "aggregate.group.fields.fields";
            let sub = &field.fields;
            self.count(sub.len(), "max_group_fields", self.max_group_fields, param)?;
            for sub in sub {
                self.name(sub.key.as_deref(), "aggregate.group.fields.fields.key")?;
                self.name(sub.name.as_deref(), "aggregate.group.fields.fields.name")?;
            }
            self.conditions(
                &field.conditions,
                "aggregate.group.fields.conditions",
                tally,
            )?;
        }
        Ok(())
    }

    /// A sort: its keys and their names.
    fn sort(&self, sort: &Sort, param: &str) -> Result<()> {
        self.name(sort.key.as_deref(), param)?;
        let keys = &sort.keys;
        self.count(
            keys.len(),
            "max_sort_keys",
            self.max_sort_keys,
            &format!("{param}.keys"),
        )?;
        for key in keys {
            self.name(key.key.as_deref(), &format!("{param}.keys"))?;
        }
        Ok(())
    }

    /// `len` elements of `param` against the limit `name`.
    fn count(&self, len: usize, name: &str, limit: usize, param: &str) -> Result<()> {
        if len > limit {
            return Err(over_budget(
                name,
                limit,
                format!("'{param}' has {len} elements"),
            ));
        }
        Ok(())
    }

    /// A name (key, path, column, operator, format) against `max_name_bytes`.
    fn name(&self, name: Option<&str>, param: &str) -> Result<()> {
        let len = name.map_or(0, str::len);
        if len > self.max_name_bytes {
            return Err(over_budget(
                "max_name_bytes",
                self.max_name_bytes,
                format!("a name in '{param}' has {len} bytes"),
            ));
        }
        Ok(())
    }

    /// A condition's value: its nesting against `max_value_depth`, its text against
    /// `max_value_bytes` (patterns are counted apart).
    fn value(&self, value: &Value, param: &str, key: &str, depth: usize) -> Result<()> {
        match value {
            Value::Array(_) | Value::Object(_) if depth >= self.max_value_depth => {
                Err(over_budget(
                    "max_value_depth",
                    self.max_value_depth,
                    format!("the value of {param} condition '{key}' nests deeper"),
                ))
            }
            Value::Array(items) => items
                .iter()
                .try_for_each(|item| self.value(item, param, key, depth + 1)),
            Value::Object(map) => map.iter().try_for_each(|(name, item)| {
                self.name(Some(name), param)?;
                self.value(item, param, key, depth + 1)
            }),
            Value::String(text) if text.len() > self.max_value_bytes => Err(over_budget(
                "max_value_bytes",
                self.max_value_bytes,
                format!(
                    "a value of {param} condition '{key}' has {} bytes",
                    text.len()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Compile options giving each pattern an equal share of the compiled-size budget.
    fn options(&self, tally: &Tally, now: DateTime<Utc>) -> Options {
        Options {
            now,
            regex_size_limit: (self.max_regex_compiled_bytes / tally.patterns.max(1))
                .min(REGEX_SIZE_LIMIT),
            deadline: None,
        }
    }

    fn keyword(&self, keyword: Option<&str>) -> Result<()> {
        let keyword = keyword.unwrap_or("");
        // Its words become patterns: their bytes count against the patterns' budget, here
        // once, before the words are copied into conditions.
        if keyword.len() > self.max_regex_bytes {
            return Err(over_budget(
                "max_regex_bytes",
                self.max_regex_bytes,
                format!("keyword has {} bytes", keyword.len()),
            ));
        }
        let words = keyword.split_whitespace().count();
        if words > self.max_keyword_words {
            return Err(over_budget(
                "max_keyword_words",
                self.max_keyword_words,
                format!("keyword has {words} words"),
            ));
        }
        Ok(())
    }

    fn conditions(&self, conditions: &[Condition], param: &str, tally: &mut Tally) -> Result<()> {
        for condition in conditions {
            tally.conditions += 1;
            if tally.conditions > self.max_conditions {
                return Err(over_budget(
                    "max_conditions",
                    self.max_conditions,
                    format!("more than {} conditions", self.max_conditions),
                ));
            }
            self.condition(condition, param, tally)?;
        }
        Ok(())
    }

    fn condition(&self, condition: &Condition, param: &str, tally: &mut Tally) -> Result<()> {
        self.name(condition.key.as_deref(), param)?;
        self.name(condition.operator.as_deref(), param)?;
        let key = condition.key.as_deref().unwrap_or("");
        let operator = condition.operator.as_deref().unwrap_or("");
        let values: &[Value] = match &condition.value {
            Some(Value::Array(values)) => values,
            Some(value) => std::slice::from_ref(value),
            None => &[],
        };
        if values.len() > self.max_values {
            return Err(over_budget(
                "max_values",
                self.max_values,
                format!(
                    "{param} condition '{key}' {operator} has {} values",
                    values.len()
                ),
            ));
        }
        let is_regex = matches!(operator, "regex" | "regex_in");
        if !(is_regex || operator.contains("contain")) {
            if let Some(value) = &condition.value {
                self.value(value, param, key, 0)?;
            }
            return Ok(());
        }
        for value in values {
            let Some(source) = value.as_str() else {
                // Compile names the wrong type; its nesting is bounded all the same.
                self.value(value, param, key, 1)?;
                continue;
            };
            tally.patterns += 1;
            tally.regex_bytes += source.len();
            if tally.patterns > self.max_patterns {
                return Err(over_budget(
                    "max_patterns",
                    self.max_patterns,
                    format!(
                        "more than {} patterns ({param} '{key}' {operator})",
                        self.max_patterns
                    ),
                ));
            }
            if tally.regex_bytes > self.max_regex_bytes {
                return Err(over_budget(
                    "max_regex_bytes",
                    self.max_regex_bytes,
                    format!(
                        "patterns of more than {} bytes in all",
                        self.max_regex_bytes
                    ),
                ));
            }
            if is_regex {
                backtracking_safe(source, key)?;
            }
        }
        Ok(())
    }
}

/// Refuses a regex that repeats a group holding a repetition of variable length, such as
/// `(a+)+`, `(x*y?)*` or `(.*a){3}`: a backtracking engine (MongoDB's) can take exponential
/// or high polynomial time on it. A pattern that does not parse is left to compilation, which
/// names the syntax error.
fn backtracking_safe(source: &str, key: &str) -> Result<()> {
    let Ok(ast) = regex_syntax::ast::parse::Parser::new().parse(source) else {
        return Ok(());
    };
    if nested_repetition(&ast, false) {
        return Err(Error::query(format!(
            "regex '{source}' on key '{key}' repeats a group that holds a variable repetition \
             (such as '(a+)+'); a backtracking database can take exponential time on it"
        )));
    }
    Ok(())
}

/// The most times a repetition may match (`None`: unbounded) and the fewest.
fn bounds(kind: &RepetitionKind) -> (u32, Option<u32>) {
    match kind {
        RepetitionKind::ZeroOrOne => (0, Some(1)),
        RepetitionKind::ZeroOrMore => (0, None),
        RepetitionKind::OneOrMore => (1, None),
        RepetitionKind::Range(RepetitionRange::Exactly(n)) => (*n, Some(*n)),
        RepetitionKind::Range(RepetitionRange::AtLeast(n)) => (*n, None),
        RepetitionKind::Range(RepetitionRange::Bounded(min, max)) => (*min, Some(*max)),
    }
}

/// True when a repetition of variable length stands inside one that repeats more than once.
fn nested_repetition(ast: &Ast, inside_repeat: bool) -> bool {
    match ast {
        Ast::Repetition(rep) => {
            let (min, max) = bounds(&rep.op.kind);
            if inside_repeat && max != Some(min) {
                return true;
            }
            let repeats = max.is_none_or(|m| m > 1);
            nested_repetition(&rep.ast, inside_repeat || repeats)
        }
        Ast::Group(group) => nested_repetition(&group.ast, inside_repeat),
        Ast::Alternation(alt) => alt.asts.iter().any(|a| nested_repetition(a, inside_repeat)),
        Ast::Concat(concat) => concat
            .asts
            .iter()
            .any(|a| nested_repetition(a, inside_repeat)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(query: Value) -> Result<Options> {
        Limits::default().check_list(&serde_json::from_value(query).expect("query"), Utc::now())
    }

    #[test]
    fn refusals_name_the_limit() {
        let many: Vec<String> = (0..1001).map(|i| format!("v{i}")).collect();
        let err = list(json!({"filter": [{"k": "job_id", "v": many, "o": "in"}]})).unwrap_err();
        assert!(err.to_string().contains("max_values is 1000"), "{err}");
        let patterns: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
        let err =
            list(json!({"filter": [{"k": "job_id", "v": patterns, "o": "regex_in"}]})).unwrap_err();
        assert!(err.to_string().contains("max_patterns is 100"), "{err}");
        let words = vec!["w"; 33].join(" ");
        let err = list(json!({"keyword": words})).unwrap_err();
        assert!(err.to_string().contains("max_keyword_words"), "{err}");
        let conditions: Vec<Value> = (0..101)
            .map(|_| json!({"k": "status", "v": "SUCCESS", "o": "eq"}))
            .collect();
        let err = list(json!({"filter_or": conditions})).unwrap_err();
        assert!(err.to_string().contains("max_conditions"), "{err}");
        let err = list(json!({"filter": [{"k": "x", "v": "a".repeat(17_000), "o": "contain"}]}))
            .unwrap_err();
        assert!(err.to_string().contains("max_regex_bytes"), "{err}");
    }

    #[test]
    fn nested_quantifiers_are_refused_and_ordinary_regexes_pass() {
        for bad in ["(a+)+$", "(x*y?)*", "((ab)*c)+", "(a|b+){2,}", "(.*a){3}"] {
            let err = list(json!({"filter": [{"k": "v", "v": bad, "o": "regex"}]})).unwrap_err();
            assert_eq!(err.code(), "ERROR_DB_QUERY", "{bad}");
        }
        for good in [
            "^job-[0-9a-f]+$",
            "a+b*",
            "(ab)+",
            "(abc)?d*",
            "x{2,5}",
            "([",
        ] {
            list(json!({"filter": [{"k": "v", "v": good, "o": "regex"}]})).expect(good);
        }
        // Literal text is escaped, so `contain` never counts as nested.
        list(json!({"filter": [{"k": "v", "v": "(a+)+", "o": "contain"}]})).expect("contain");
    }

    #[test]
    fn ordinary_console_queries_are_within_budget() {
        let ids: Vec<String> = (0..50).map(|i| format!("job-{i:012}")).collect();
        list(json!({
            "filter": [{"k": "job_id", "v": ids, "o": "in"}],
            "keyword": "aws failure",
            "only": ["job_id", "status"],
        }))
        .expect("within budget");
    }
}
