//! The per-request budget: how much work one `list` or `stat` may ask for.
//!
//! [`Limits::check_list`] and [`Limits::check_stat`] walk the raw query (after pre-processing)
//! and count what makes a request expensive before anything is compiled or sent to a store:
//! the elements of list operators, keyword words, patterns and their total bytes, conditions,
//! stages and `only` fields. A regex whose shape makes a backtracking engine (MongoDB's PCRE)
//! run for exponential time, a quantifier over a quantified group, is refused here too, so it
//! never reaches a database. Each refusal is `ERROR_DB_QUERY` naming the limit.
//!
//! The defaults are far above what SpaceONE's console and clients send (tens of values).

use crate::error::{Error, Result};
use crate::query::compile::{Options, REGEX_SIZE_LIMIT};
use crate::query::model::{Condition, Query, StatisticsQuery};
use chrono::{DateTime, Utc};
use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
use serde_json::Value;
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
    /// How long a request may run when the client asks for no shorter deadline.
    pub timeout: Duration,
    /// Requests evaluated at once by one service; more are refused as overloaded.
    pub max_in_flight: usize,
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
            timeout: Duration::from_secs(30),
            max_in_flight: 64,
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

fn over(name: &str, limit: usize, what: String) -> Error {
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
            self.conditions(&unwind.filter, "unwind.filter", &mut tally)?;
        }
        if query.only.len() > self.max_only_fields {
            return Err(over(
                "max_only_fields",
                self.max_only_fields,
                format!("'only' names {} fields", query.only.len()),
            ));
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
        if query.aggregate.len() > self.max_stages {
            return Err(over(
                "max_stages",
                self.max_stages,
                format!("the aggregation has {} stages", query.aggregate.len()),
            ));
        }
        for group in query.aggregate.iter().filter_map(|s| s.group.as_ref()) {
            for field in &group.fields {
                self.conditions(
                    &field.conditions,
                    "aggregate.group.fields.conditions",
                    &mut tally,
                )?;
            }
        }
        Ok(self.options(&tally, now))
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
        let words = keyword.unwrap_or("").split_whitespace().count();
        if words > self.max_keyword_words {
            return Err(over(
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
                return Err(over(
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
        let key = condition.key.as_deref().unwrap_or("");
        let operator = condition.operator.as_deref().unwrap_or("");
        let values: &[Value] = match &condition.value {
            Some(Value::Array(values)) => values,
            Some(value) => std::slice::from_ref(value),
            None => &[],
        };
        if values.len() > self.max_values {
            return Err(over(
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
            return Ok(());
        }
        for value in values {
            let Some(source) = value.as_str() else {
                continue; // compile names the wrong type
            };
            tally.patterns += 1;
            tally.regex_bytes += source.len();
            if tally.patterns > self.max_patterns {
                return Err(over(
                    "max_patterns",
                    self.max_patterns,
                    format!(
                        "more than {} patterns ({param} '{key}' {operator})",
                        self.max_patterns
                    ),
                ));
            }
            if tally.regex_bytes > self.max_regex_bytes {
                return Err(over(
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
