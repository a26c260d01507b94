//! How a [`Collection`] answers a plan, for `explain`: each filter condition's access path
//! (value index, column kernel or the documents' bytes), the scan, and the sort, page,
//! distinct or first stage. The conditions are bound as a query would bind them; no row is
//! scanned, sorted or grouped.

use super::cell_group::{counts_on_index, groups_on_cells};
use super::collection::Collection;
use super::reads::pipeline_reads;
use super::scan::{rows_by_index, strategy, Bound};
use crate::query::plan::{Filter, ListPlan, Stage, StatKind, StatPlan};
use crate::query::Plan;
use crate::value::FieldPath;
use serde_json::{json, Map, Value};

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
        let mut out = Map::new();
        let (all, any) = (self.bind(&plan.filter.all), self.bind(&plan.filter.any));
        let walk = self
            .order_walk(&all, &any, plan)
            .filter(|(column, ..)| column.sortable());
        let answer = if plan.count_only && plan.unwind.is_none() {
            "count of the matching rows (no document read)".to_string()
        } else if plan.unwind.is_some() {
            "matching documents parsed, unwound, filtered, sorted and paged".to_string()
        } else if let Some((_, matched, needed)) = walk {
            format!(
                "the sort column's rows in order (made on first use), walked from the {} end, \
                 keeping the {} rows the value indexes give until the first {needed} are \
                 found; only the page's documents are read{}",
                if plan.sort.first().is_some_and(|s| s.desc) {
                    "largest"
                } else {
                    "smallest"
                },
                matched.len(),
                if plan.projection.is_some() {
                    ", then projected"
                } else {
                    " as stored BSON"
                }
            )
        } else if plan.sort.iter().all(|s| self.top_level_column(&s.path)) {
            let k = plan.slice.limit.map(|l| plan.slice.skip.saturating_add(l));
            format!(
                "{} on the sort columns' cells; only the page's documents are read{}",
                match k {
                    Some(k) => format!("the first {k} rows selected"),
                    None => "all matching rows sorted".to_string(),
                },
                if plan.projection.is_some() {
                    ", then projected"
                } else {
                    " as stored BSON"
                }
            )
        } else {
            "matching documents parsed and sorted on their values, then paged".to_string()
        };
        out.insert("answer".into(), json!(answer));
        out
    }

    fn explain_stat(&self, plan: &StatPlan) -> Map<String, Value> {
        let mut out = Map::new();
        let answer = match &plan.kind {
            StatKind::Distinct(path) if self.top_level_column(path) => {
                "distinct values of the column's cells (documents read only where a cell is \
                 an array or document)"
                    .to_string()
            }
            StatKind::Distinct(_) => "distinct values read from the matching documents".into(),
            StatKind::Aggregate(stages) => {
                let (all, any) = (self.bind(&plan.filter.all), self.bind(&plan.filter.any));
                let indexed = rows_by_index(self.len(), &all, &any).is_some();
                let first = match stages.split_first() {
                    Some((Stage::Group(spec), _))
                        if indexed && counts_on_index(self.columns(), spec) =>
                    {
                        "the first group stage from the key's value index: each value's rows \
                         intersected with the filter's, no row visited (the cells answer when \
                         a matching row's key is not a plain string)"
                            .to_string()
                    }
                    Some((Stage::Group(spec), _)) if groups_on_cells(self.columns(), spec) => {
                        "the first group stage on the columns' cells (documents only where a \
                         cell is an array or document)"
                            .to_string()
                    }
                    Some((Stage::Unwind(_), rest))
                        if matches!(rest.first(), Some(Stage::Group(_))) =>
                    {
                        "unwind and group read straight from the documents' BSON".to_string()
                    }
                    _ => match pipeline_reads(stages) {
                        Some(fields) => format!(
                            "the stages over the matching documents, parsed (only {})",
                            fields.join(", ")
                        ),
                        None => "the stages over the matching documents, parsed".to_string(),
                    },
                };
                format!("{first}; the later stages over the rows it gives")
            }
        };
        out.insert("answer".into(), json!(answer));
        out
    }

    fn top_level_column(&self, path: &FieldPath) -> bool {
        matches!(path.parts(), [field] if self.columns().column(field).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::compile;
    use crate::query::model::{Query, StatisticsQuery};
    use bson::doc;

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
