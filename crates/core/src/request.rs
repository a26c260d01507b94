//! Requests as the services receive them, and the pre-processing of `query.md` §1 that every
//! service applies before any storage call: top-level fields become `eq` filters (which is
//! what scopes a query to its domain), `keyword` becomes `contain_in` conditions in
//! `filter_or`, and the list page limit gets its default and cap.

use crate::error::{Error, Result};
use crate::model::Service;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use spacejobs_query::model::{Condition, Page, Query, StatisticsQuery};
use std::collections::BTreeMap;

/// Default and maximum `page.limit` of `list`.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// A `list` request (`JobTaskQuery` / `JobsQuery`): the query and the top-level fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListRequest {
    /// `query`, if given.
    pub query: Option<Query>,
    /// Non-empty top-level fields (`domain_id`, `status` as its enum name, …).
    pub fields: BTreeMap<String, String>,
}

/// A `stat` request (`JobTaskStatQuery` / `JobStatQuery`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatRequest {
    /// `query` (required).
    pub query: Option<StatisticsQuery>,
    /// `domain_id` (required).
    pub domain_id: String,
}

fn parse<T: DeserializeOwned>(value: &Value, key: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." {
            key.to_string()
        } else {
            format!("{key}.{path}")
        };
        Error::InvalidParameterType {
            key,
            reason: e.into_inner().to_string(),
        }
    })
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| Error::InvalidParameterType {
            key: what.to_string(),
            reason: format!("expected a JSON object, got {value}"),
        })
}

/// A top-level field's value as a string; the status enum by name or number, its zero value
/// (and empty strings) as "not given".
fn field_value(service: Service, key: &str, value: &Value) -> Result<Option<String>> {
    let text = match (key, value) {
        (_, Value::Null) => return Ok(None),
        (_, Value::String(s)) => s.clone(),
        ("status", Value::Number(n)) => {
            let names = service.status_names();
            let name = n
                .as_u64()
                .and_then(|i| names.get(usize::try_from(i).ok()?))
                .ok_or_else(|| Error::InvalidParameterType {
                    key: key.into(),
                    reason: format!("unknown status number {n}"),
                })?;
            name.to_string()
        }
        _ => {
            return Err(Error::InvalidParameterType {
                key: key.into(),
                reason: format!("expected a string, got {value}"),
            })
        }
    };
    if key == "status" {
        let names = service.status_names();
        if !names.contains(&text.as_str()) {
            return Err(Error::InvalidParameterType {
                key: key.into(),
                reason: format!(
                    "unknown status '{text}'; expected one of {}",
                    names[1..].join(", ")
                ),
            });
        }
        if text == names[0] {
            return Ok(None);
        }
    }
    Ok((!text.is_empty()).then_some(text))
}

impl ListRequest {
    /// Reads the proto3 JSON form of the service's list request (snake_case or lowerCamelCase
    /// names), rejecting unknown fields.
    pub fn from_json(service: Service, value: &Value) -> Result<Self> {
        let mut request = ListRequest::default();
        for (key, v) in object(value, "request")? {
            let key = snake_case(key);
            if key == "query" {
                request.query = if v.is_null() {
                    None
                } else {
                    Some(parse(v, "query")?)
                };
            } else if service.request_fields().contains(&key.as_str()) {
                if let Some(text) = field_value(service, &key, v)? {
                    request.fields.insert(key, text);
                }
            } else {
                return Err(unknown_field(&key));
            }
        }
        Ok(request)
    }

    /// The request's `domain_id`, if given.
    pub fn domain_id(&self) -> Option<&str> {
        self.fields.get("domain_id").map(String::as_str)
    }
}

impl StatRequest {
    /// Reads the proto3 JSON form of a stat request, rejecting unknown fields.
    pub fn from_json(value: &Value) -> Result<Self> {
        let mut request = StatRequest::default();
        for (key, v) in object(value, "request")? {
            match snake_case(key).as_str() {
                "query" => {
                    request.query = if v.is_null() {
                        None
                    } else {
                        Some(parse(v, "query")?)
                    }
                }
                "domain_id" => {
                    request.domain_id =
                        field_value(Service::Inventory, "domain_id", v)?.unwrap_or_default()
                }
                other => return Err(unknown_field(other)),
            }
        }
        Ok(request)
    }
}

fn unknown_field(key: &str) -> Error {
    Error::InvalidParameterType {
        key: key.to_string(),
        reason: "unknown field".to_string(),
    }
}

/// `domainId` → `domain_id` (proto3 JSON accepts both names).
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `keyword` → one `contain_in` condition per keyword field, or nothing for a blank keyword.
pub fn keyword_conditions(service: Service, keyword: Option<&str>) -> Vec<Condition> {
    let words: Vec<Value> = keyword
        .unwrap_or("")
        .split_whitespace()
        .map(|w| Value::String(w.to_string()))
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    service
        .keyword_fields()
        .iter()
        .map(|field| Condition::new(*field, "contain_in", Value::Array(words.clone())))
        .collect()
}

fn require_domain(domain_id: Option<&str>) -> Result<&str> {
    domain_id
        .filter(|d| !d.is_empty())
        .ok_or_else(|| Error::required("domain_id"))
}

/// Pre-processes a list request into the query to compile.
pub fn prepare_list(service: Service, request: &ListRequest) -> Result<Query> {
    require_domain(request.domain_id())?;
    let mut query = request.query.clone().unwrap_or_default();
    for (key, value) in &request.fields {
        query
            .filter
            .push(Condition::new(key.as_str(), "eq", json!(value)));
    }
    query
        .filter_or
        .extend(keyword_conditions(service, query.keyword.as_deref()));
    let page = query.page.get_or_insert(Page::default());
    page.limit = if page.limit == 0 {
        MAX_PAGE_LIMIT
    } else {
        page.limit.min(MAX_PAGE_LIMIT)
    };
    Ok(query)
}

/// Pre-processes a stat request into the query to compile.
pub fn prepare_stat(service: Service, request: &StatRequest) -> Result<StatisticsQuery> {
    let domain_id = require_domain(Some(&request.domain_id))?;
    let mut query = request
        .query
        .clone()
        .ok_or_else(|| Error::required("query"))?;
    query
        .filter
        .push(Condition::new("domain_id", "eq", json!(domain_id)));
    query
        .filter_or
        .extend(keyword_conditions(service, query.keyword.as_deref()));
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_fields_keyword_and_page_are_folded_into_the_query() {
        let request = ListRequest::from_json(
            Service::Inventory,
            &json!({"domainId": "d1", "status": "SUCCESS", "provider": "",
                    "query": {"keyword": "  ab  cd ", "page": {"limit": 5000}}}),
        )
        .expect("valid request");
        let query = prepare_list(Service::Inventory, &request).expect("valid");
        assert_eq!(query.filter.len(), 2);
        assert!(query
            .filter
            .contains(&Condition::new("domain_id", "eq", json!("d1"))));
        assert!(query
            .filter
            .contains(&Condition::new("status", "eq", json!("SUCCESS"))));
        assert_eq!(
            query.filter_or,
            vec![Condition::new(
                "job_task_id",
                "contain_in",
                json!(["ab", "cd"])
            )]
        );
        assert_eq!(query.page.map(|p| p.limit), Some(MAX_PAGE_LIMIT));
    }

    #[test]
    fn missing_domain_and_bad_fields_are_named() {
        let err = prepare_list(Service::Inventory, &ListRequest::default()).expect_err("no domain");
        assert_eq!(
            err.details(),
            "ERROR_REQUIRED_PARAMETER: Required parameter. (key = domain_id)"
        );
        let err = ListRequest::from_json(Service::SpotAutomation, &json!({"provider": "aws"}))
            .expect_err("unknown");
        assert!(err.to_string().contains("provider"), "{err}");
        let err = ListRequest::from_json(Service::SpotAutomation, &json!({"status": "PENDING"}))
            .expect_err("enum");
        assert!(err.to_string().contains("PENDING"), "{err}");
        let err = ListRequest::from_json(
            Service::Inventory,
            &json!({"query": {"page": {"limit": "x"}}}),
        )
        .expect_err("type");
        assert!(err.to_string().contains("query.page.limit"), "{err}");
        let err = prepare_stat(
            Service::Inventory,
            &StatRequest {
                query: None,
                domain_id: "d".into(),
            },
        )
        .expect_err("no query");
        assert!(err.to_string().contains("key = query"), "{err}");
    }

    #[test]
    fn status_zero_value_means_not_given() {
        let request = ListRequest::from_json(
            Service::PowerScheduler,
            &json!({"status": "JOB_STATE_NONE", "domain_id": "d"}),
        )
        .expect("valid");
        assert_eq!(request.fields.len(), 1);
        let request = ListRequest::from_json(
            Service::PowerScheduler,
            &json!({"status": 6, "domain_id": "d"}),
        )
        .expect("valid");
        assert_eq!(
            request.fields.get("status").map(String::as_str),
            Some("TIMEOUT")
        );
    }
}
