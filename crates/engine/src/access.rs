//! The access path: how a [`Collection`] answers a plan, decided in one place ([`list_path`],
//! [`stat_path`]) from the plan, the bound filter and the collection's columns, before any
//! row is read. The answer ([`super::answer`]) follows the path it is given and `explain`
//! describes the same value, so explain cannot name a path the engine did not take.
//!
//! A path that reads cells can meet a cell that is not a plain scalar (an array, a
//! sub-document) among the matching rows; it then answers that plan through the documents,
//! as each variant says.

use super::cell_group::{counts_on_index, groups_on_cells};
use super::collection::Collection;
use super::column::Column;
use super::reads::pipeline_reads;
use super::scan::{self, Bound};
use roaring::RoaringBitmap;
use spacejobs_query::plan::{ListPlan, Stage, StatKind, StatPlan};
use spacejobs_query::value::FieldPath;

/// How a list plan is answered.
#[derive(Debug)]
pub enum ListPath<'c> {
    /// `count_only`: the value indexes' cardinality when they answer the filter alone, else
    /// the scan's count; no document read.
    Count,
    /// The one sort key's rows in order (a date or integer column), walked from the wanted
    /// end, keeping `rows` (what the value indexes give for the whole filter) until `needed`
    /// are found; only the page's documents are read.
    OrderWalk {
        /// The sort column.
        column: &'c Column,
        /// The rows matching the filter.
        rows: RoaringBitmap,
        /// How many rows the page needs (skip + limit, at most the matches).
        needed: usize,
    },
    /// The scan, then the page selected on the sort columns' cells (every sort key a
    /// top-level column); only the page's documents are read. As [`ListPath::Documents`]
    /// when a matching row's sort cell is not a plain scalar.
    CellPage,
    /// The scan, then the matching documents parsed, unwound, sorted and paged on their
    /// values.
    Documents,
}

/// How a stat plan is answered.
#[derive(Debug)]
pub enum StatPath {
    /// The first group stage (counts by one plain key with a value index) from that key's
    /// value index, intersected with `rows` (what the value indexes give for the whole
    /// filter); no row visited. As [`StatPath::Cells`] when a matching row's key is not a
    /// plain string.
    IndexCounts {
        /// The rows matching the filter.
        rows: RoaringBitmap,
    },
    /// The scan, then `distinct` or the first group stage on the columns' cells. As
    /// [`StatPath::Documents`] when a matching row's cell is not a plain scalar.
    Cells,
    /// The scan, then an `unwind` and the `group` after it read straight from the
    /// documents' bytes. As [`StatPath::Documents`] when the group asks for what the bytes
    /// cannot give.
    RawUnwindGroup,
    /// The scan, then the matching documents parsed (only `reads`' fields when the stages
    /// name them all) and `distinct` or the stages run on them.
    Documents {
        /// The top-level fields the stages read, when known.
        reads: Option<Vec<String>>,
    },
}

/// The path of a list plan whose filter is bound as `all` and `any`.
pub fn list_path<'c>(
    collection: &'c Collection,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
    plan: &ListPlan,
) -> ListPath<'c> {
    if plan.unwind.is_some() {
        return ListPath::Documents;
    }
    if plan.count_only {
        return ListPath::Count;
    }
    if let Some((column, rows, needed)) = order_walk(collection, all, any, plan) {
        return ListPath::OrderWalk {
            column,
            rows,
            needed,
        };
    }
    if plan
        .sort
        .iter()
        .all(|s| top_level_column(collection, &s.path))
    {
        ListPath::CellPage
    } else {
        ListPath::Documents
    }
}

/// The path of a stat plan whose filter is bound as `all` and `any`.
pub fn stat_path(
    collection: &Collection,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
    plan: &StatPlan,
) -> StatPath {
    let documents = || StatPath::Documents {
        reads: document_reads(&plan.kind),
    };
    match &plan.kind {
        StatKind::Distinct(path) if top_level_column(collection, path) => StatPath::Cells,
        StatKind::Distinct(_) => documents(),
        StatKind::Aggregate(stages) => match stages.as_slice() {
            [Stage::Group(spec), ..] => {
                let columns = collection.columns();
                if counts_on_index(columns, spec) {
                    if let Some(rows) = scan::rows_by_index(collection.len(), all, any) {
                        return StatPath::IndexCounts { rows };
                    }
                }
                if groups_on_cells(columns, spec) {
                    StatPath::Cells
                } else {
                    documents()
                }
            }
            [Stage::Unwind(_), Stage::Group(_), ..] => StatPath::RawUnwindGroup,
            _ => documents(),
        },
    }
}

/// The top-level fields a stat answered from the documents reads (`distinct`'s field, or
/// what the stages name), when known: the documents are then parsed for those alone. The
/// reads of [`StatPath::Documents`], and of every path falling back to the documents.
pub(super) fn document_reads(kind: &StatKind) -> Option<Vec<String>> {
    match kind {
        StatKind::Distinct(path) => path.parts().first().map(|top| vec![top.clone()]),
        StatKind::Aggregate(stages) => pipeline_reads(stages),
    }
}

/// `(skip, skip + limit)` of a list plan.
pub(super) fn page_bounds(plan: &ListPlan) -> (usize, usize) {
    let skip = usize::try_from(plan.slice.skip).unwrap_or(usize::MAX);
    let limit = plan
        .slice
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    (skip, skip.saturating_add(limit))
}

/// What [`ListPath::OrderWalk`] walks, when it applies: the one sort key's column (all dates
/// or all integers), the rows the value indexes give for the whole filter, and how many rows
/// the page needs; `None` also when the matches are so few that the walk would be long (it
/// meets about `needed × rows / matches` rows, where going through the matches costs about
/// their number).
fn order_walk<'c>(
    collection: &'c Collection,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
    plan: &ListPlan,
) -> Option<(&'c Column, RoaringBitmap, usize)> {
    let [spec] = plan.sort.as_slice() else {
        return None;
    };
    let [field] = spec.path.parts() else {
        return None;
    };
    let column = collection.columns().column(field)?;
    if !column.sortable() {
        return None;
    }
    let rows = scan::rows_by_index(collection.len(), all, any)?;
    let found = usize::try_from(rows.len()).unwrap_or(usize::MAX);
    let needed = page_bounds(plan).1.min(found);
    let walk = (needed as u128) * (collection.len() as u128);
    (walk <= 4 * (found as u128) * (found as u128)).then_some((column, rows, needed))
}

/// True when `path` is a top-level field with a column.
fn top_level_column(collection: &Collection, path: &FieldPath) -> bool {
    matches!(path.parts(), [field] if collection.columns().column(field).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use serde_json::{json, Value};
    use spacejobs_query::compile;
    use spacejobs_query::model::{Query, StatisticsQuery};

    /// 1,000 tasks: status and provider indexed strings, counts, dates, errors, a nested field.
    fn collection() -> Collection {
        Collection::from_documents((0..1000).map(|i| {
            let status = ["SUCCESS", "FAILURE", "PENDING"][i % 3];
            let provider = ["aws", "google"][i % 2];
            doc! {
                "status": status,
                "provider": provider,
                "created_count": i as i64,
                "created_at": bson::DateTime::from_millis(1_700_000_000_000 + i as i64 * 60_000),
                "errors": (0..i % 3).map(|e| doc! {"code": format!("E{e}")}).collect::<Vec<_>>(),
                "nested": {"a": i as i64},
            }
        }))
        .unwrap()
    }

    fn list(collection: &Collection, query: Value) -> String {
        let query: Query = serde_json::from_value(query).unwrap();
        let plan = compile::list(&query, &[], chrono::Utc::now()).unwrap();
        let (all, any) = collection.bind_filter(&plan.filter);
        let path = list_path(collection, &all, &any, &plan);
        format!("{path:?}")
            .split([' ', '{'])
            .next()
            .unwrap()
            .to_string()
    }

    fn stat(collection: &Collection, query: Value) -> String {
        let query: StatisticsQuery = serde_json::from_value(query).unwrap();
        let plan = compile::stat(&query, chrono::Utc::now()).unwrap();
        let (all, any) = collection.bind_filter(&plan.filter);
        let path = stat_path(collection, &all, &any, &plan);
        format!("{path:?}")
            .split([' ', '{'])
            .next()
            .unwrap()
            .to_string()
    }

    #[test]
    fn each_list_path_is_chosen_where_it_applies() {
        let c = collection();
        let status = json!([{"k": "status", "v": "FAILURE", "o": "eq"}]);
        assert_eq!(
            list(&c, json!({"filter": status, "count_only": true})),
            "Count"
        );
        // The indexes answer the filter, one date sort key, a small page: walk the order.
        let page = json!({"filter": status, "sort": {"key": "created_at", "desc": true},
                          "page": {"limit": 5}});
        assert_eq!(list(&c, page), "OrderWalk");
        // A filter the indexes cannot answer alone: scan, then the page on the cells.
        let scanned = json!({"filter": [{"k": "nested.a", "v": 3, "o": "gt"}],
                             "sort": {"key": "created_at"}, "page": {"limit": 5}});
        assert_eq!(list(&c, scanned), "CellPage");
        // A sort on a nested field, or an unwind: the documents.
        assert_eq!(list(&c, json!({"sort": {"key": "nested.a"}})), "Documents");
        let unwind = json!({"unwind": {"path": "errors"}, "only": ["errors"], "count_only": true});
        assert_eq!(list(&c, unwind), "Documents");
    }

    #[test]
    fn each_stat_path_is_chosen_where_it_applies() {
        let c = collection();
        let count_by = |key: &str| {
            json!({"aggregate": [{"group": {"keys": [{"key": key, "name": "k"}],
                                            "fields": [{"operator": "count", "name": "n"}]}}],
                   "filter": [{"k": "provider", "v": "aws", "o": "eq"}]})
        };
        assert_eq!(stat(&c, count_by("status")), "IndexCounts");
        // A sum besides the count: not the index's counts, the cells.
        let summed = json!({"aggregate": [{"group": {"keys": [{"key": "status", "name": "k"}],
                                                     "fields": [{"operator": "sum", "key": "created_count", "name": "n"}]}}]});
        assert_eq!(stat(&c, summed), "Cells");
        assert_eq!(stat(&c, count_by("nested.a")), "Documents");
        assert_eq!(stat(&c, json!({"distinct": "provider"})), "Cells");
        assert_eq!(stat(&c, json!({"distinct": "errors.code"})), "Documents");
        let unwind = json!({"aggregate": [
            {"unwind": {"path": "errors"}},
            {"group": {"keys": [{"key": "errors.code", "name": "code"}],
                       "fields": [{"operator": "count", "name": "n"}]}}]});
        assert_eq!(stat(&c, unwind), "RawUnwindGroup");
        assert_eq!(
            stat(&c, json!({"aggregate": [{"count": {"name": "n"}}]})),
            "Documents"
        );
    }
}
