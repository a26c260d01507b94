//! Validation: raw [`model`] queries become [`plan`](crate::plan)s, or a precise
//! error naming the offending key, operator or stage.

mod checks;
mod conditions;
mod patterns;
mod stages;

pub use checks::{field_path, Options};
use checks::{required, slice, sort_specs};
use conditions::filter;
pub use conditions::{builds_patterns, condition, conditions, DATE_FIELDS, FILTER_OPERATORS};
pub use patterns::{bounded_pattern, literal_pattern, pattern, MAX_REGEX_LEN, REGEX_SIZE_LIMIT};
use stages::stages;

use crate::error::{Error, Result};
use crate::model;
use crate::plan::*;
use crate::value::FieldPath;
use chrono::{DateTime, Utc};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Condition as RawCondition;
    use serde_json::{json, Value};

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
