//! How a [`Collection`] answers a plan, for `explain`: each filter condition's access path
//! (value index, column kernel or the documents' bytes), the scan, and the access path of the
//! sort, page, distinct or first stage ([`super::access`], the value the answer follows).
//! The conditions are bound as a query would bind them; no row is scanned, sorted or grouped.

use super::access::{list_path, stat_path, ListPath, StatPath};
use super::collection::Collection;
use super::scan::{strategy, Bound};
use serde_json::{json, Map, Value};
use spacejobs_query::plan::{Filter, ListPlan, StatKind, StatPlan};
use spacejobs_query::Plan;

impl Collection {
    /// What this collection would do to answer `plan`.
    pub fn explain(&self, plan: &Plan) -> Value {
        let (filter, mut out) = match plan {
            Plan::List(plan) => (&plan.filter, self.explain_list(plan)),
            Plan::Stat(plan) => (&plan.filter, self.explain_stat(plan)),
        };
        let filtered = self.explain_filter(filter);
        out.insert("documents".into(), json!(self.len()));
        out.extend(filtered);
        Value::Object(out)
    }

    fn explain_filter(&self, filter: &Filter) -> Map<String, Value> {
        let (all, any) = self.bind_filter(filter);
        let mut out = Map::new();
        out.insert(
            "conditions".into(),
            all.iter().map(Bound::explain).collect(),
        );
        if !any.is_empty() {
            out.insert(
                "any_conditions".into(),
                any.iter().map(Bound::explain).collect(),
            );
        }
        out.insert("rows".into(), json!(strategy(self.len(), &all, &any)));
        out
    }

    fn explain_list(&self, plan: &ListPlan) -> Map<String, Value> {
        let (all, any) = self.bind_filter(&plan.filter);
        let read = if plan.projection.is_some() {
            ", then projected"
        } else {
            " as stored BSON"
        };
        let answer = match list_path(self, &all, &any, plan) {
            ListPath::Count => "count of the matching rows (no document read)".to_string(),
            ListPath::OrderWalk { rows, needed, .. } => format!(
                "the sort column's rows in order (made on first use), walked from the {} end, \
                 keeping the {} rows the value indexes give until the first {needed} are \
                 found; only the page's documents are read{read}",
                if plan.sort.first().is_some_and(|s| s.desc) {
                    "largest"
                } else {
                    "smallest"
                },
                rows.len(),
            ),
            ListPath::CellPage => {
                let k = plan.slice.limit.map(|l| plan.slice.skip.saturating_add(l));
                format!(
                    "{} on the sort columns' cells; only the page's documents are read{read}",
                    match k {
                        Some(k) => format!("the first {k} rows selected"),
                        None => "all matching rows sorted".to_string(),
                    },
                )
            }
            ListPath::Documents if plan.unwind.is_some() => {
                "matching documents parsed, unwound, filtered, sorted and paged".to_string()
            }
            ListPath::Documents => {
                "matching documents parsed and sorted on their values, then paged".to_string()
            }
        };
        let mut out = Map::new();
        out.insert("answer".into(), json!(answer));
        out
    }

    fn explain_stat(&self, plan: &StatPlan) -> Map<String, Value> {
        let (all, any) = self.bind_filter(&plan.filter);
        let path = stat_path(self, &all, &any, plan);
        let answer = match (&plan.kind, path) {
            (StatKind::Distinct(_), StatPath::Cells) => {
                "distinct values of the column's cells (documents read only where a cell is \
                 an array or document)"
                    .to_string()
            }
            (StatKind::Distinct(_), _) => "distinct values read from the matching documents".into(),
            (StatKind::Aggregate(_), path) => {
                let first = match path {
                    StatPath::IndexCounts { .. } => {
                        "the first group stage from the key's value index: each value's rows \
                         intersected with the filter's, no row visited (the cells answer when \
                         a matching row's key is not a plain string)"
                            .to_string()
                    }
                    StatPath::Cells => "the first group stage on the columns' cells (documents \
                                        only where a cell is an array or document)"
                        .to_string(),
                    StatPath::RawUnwindGroup => {
                        "unwind and group read straight from the documents' BSON".to_string()
                    }
                    StatPath::Documents {
                        reads: Some(fields),
                    } => format!(
                        "the stages over the matching documents, parsed (only {})",
                        fields.join(", ")
                    ),
                    StatPath::Documents { reads: None } => {
                        "the stages over the matching documents, parsed".to_string()
                    }
                };
                format!("{first}; the later stages over the rows it gives")
            }
        };
        let mut out = Map::new();
        out.insert("answer".into(), json!(answer));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use spacejobs_query::compile;
    use spacejobs_query::model::{Query, StatisticsQuery};

    fn collection() -> Collection {
        Collection::from_documents((0..100).map(|i| {
            doc! {
                "status": if i % 3 == 0 { "FAILURE" } else { "SUCCESS" },
                "created_at": bson::DateTime::from_millis(1_700_000_000_000 + i * 60_000),
                "nested": {"a": i},
            }
        }))
        .unwrap()
    }

    fn list(query: Value) -> Value {
        let query: Query = serde_json::from_value(query).unwrap();
        let plan = compile::list(&query, &[], chrono::Utc::now()).unwrap();
        collection().explain(&Plan::List(plan))
    }

    fn stat(query: Value) -> Value {
        let query: StatisticsQuery = serde_json::from_value(query).unwrap();
        let plan = compile::stat(&query, chrono::Utc::now()).unwrap();
        collection().explain(&Plan::Stat(plan))
    }

    fn access(explained: &Value, key: &str) -> String {
        let conditions = explained["conditions"].as_array().unwrap();
        let found = conditions.iter().find(|c| c["k"] == key).unwrap();
        found["access"].as_str().unwrap().to_string()
    }

    #[test]
    fn each_condition_names_its_access_path() {
        let explained = list(json!({"filter": [
            {"k": "status", "v": "FAILURE", "o": "eq"},
            {"k": "created_at", "v": "2023-11-14T22:30:00Z", "o": "gte"},
            {"k": "nested.a", "v": 3, "o": "gt"}
        ], "page": {"limit": 5}}));
        assert_eq!(explained["documents"], 100);
        assert!(access(&explained, "status").starts_with("value index"));
        assert!(access(&explained, "created_at").starts_with("column: date cells"));
        assert!(access(&explained, "nested.a").starts_with("documents"));
        assert!(explained["answer"]
            .as_str()
            .unwrap()
            .starts_with("the first 5 rows selected on the sort columns' cells"));
        let only_indexed = list(json!({"filter": [{"k": "status", "v": "FAILURE", "o": "eq"}]}));
        assert_eq!(only_indexed["rows"], "the value indexes alone (34 rows)");
        let scanned = list(json!({"filter": [{"k": "nested.a", "v": 3, "o": "gt"}]}));
        assert!(scanned["rows"]
            .as_str()
            .unwrap()
            .starts_with("a scan of 100 rows"));
    }

    #[test]
    fn sorts_counts_and_stages_say_how_they_are_answered() {
        let by_nested = list(json!({"sort": {"key": "nested.a"}}));
        assert!(by_nested["answer"]
            .as_str()
            .unwrap()
            .contains("parsed and sorted"));
        let counted = list(json!({"count_only": true}));
        assert!(counted["answer"].as_str().unwrap().starts_with("count"));
        // The value indexes answer the filter: the page walks created_at's order.
        let walked = list(
            json!({"filter": [{"k": "status", "v": "FAILURE", "o": "eq"}],
                                 "page": {"limit": 3}}),
        );
        assert_eq!(
            walked["answer"],
            "the sort column's rows in order (made on first use), walked from the largest \
             end, keeping the 34 rows the value indexes give until the first 3 are found; \
             only the page's documents are read as stored BSON"
        );
        let count_by_status = |filter: Value| {
            stat(json!({"filter": filter, "aggregate": [{"group": {
                "keys": [{"key": "status", "name": "status"}],
                "fields": [{"operator": "count", "name": "n"}]
            }}]}))
        };
        let counts = count_by_status(json!([{"k": "status", "v": "FAILURE", "o": "eq"}]));
        assert!(counts["answer"]
            .as_str()
            .unwrap()
            .starts_with("the first group stage from the key's value index"));
        let grouped = count_by_status(json!([]));
        assert!(grouped["answer"]
            .as_str()
            .unwrap()
            .starts_with("the first group stage on the columns' cells"));
        let conditional = stat(json!({"aggregate": [{"group": {
            "keys": [{"key": "status", "name": "status"}],
            "fields": [{"operator": "count", "name": "n",
                        "conditions": [{"k": "status", "v": "FAILURE", "o": "eq"}]}]
        }}]}));
        assert!(conditional["answer"]
            .as_str()
            .unwrap()
            .starts_with("the stages over the matching documents, parsed (only status)"));
        let distinct = stat(json!({"distinct": "status"}));
        assert!(distinct["answer"]
            .as_str()
            .unwrap()
            .starts_with("distinct values of the column's cells"));
    }
}
