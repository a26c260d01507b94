//! `list` over documents in memory: filter, unwind, sort with a stable tiebreak, page and
//! projection.

use super::filter::{condition_matches, matches};
use bson::{Bson, Document};
use spacejobs_core::error::Result;
use spacejobs_core::store::{to_raw, ListOutput};
use spacejobs_query::plan::{ListPlan, SortSpec};
use spacejobs_query::value::{compare, FieldPath};
use std::cmp::Ordering;

/// Evaluates a list plan over documents given in insertion order (their identity order).
pub fn list<'a>(
    docs: impl IntoIterator<Item = &'a Document>,
    plan: &ListPlan,
) -> Result<ListOutput> {
    let matched = docs
        .into_iter()
        .filter(|d| matches(d, &plan.filter))
        .map(|d| Ok(d.clone()));
    list_rows(matched, plan)
}

/// The rest of a list once the filter has chosen the documents, arriving one at a time in
/// insertion order (a store parses them from its bytes as they come): unwind, count, sort,
/// page, projection. Only the `skip + limit` first rows in sort order are kept (twice that
/// between two prunings), so memory follows the page asked for, not the number of matches.
pub fn list_rows(
    docs: impl Iterator<Item = Result<Document>>,
    plan: &ListPlan,
) -> Result<ListOutput> {
    let skip = usize::try_from(plan.slice.skip).unwrap_or(usize::MAX);
    let limit = plan
        .slice
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let needed = if plan.count_only {
        0
    } else {
        skip.saturating_add(limit)
    };
    let mut best = Best::new(&plan.sort, needed);
    let mut total_count = 0u64;
    for doc in docs {
        let doc = doc?;
        match &plan.unwind {
            None => {
                total_count += 1;
                best.offer(doc);
            }
            Some(unwind) => {
                for row in unwind_rows(&doc, &unwind.path) {
                    if unwind.filter.iter().all(|c| condition_matches(&row, c)) {
                        total_count += 1;
                        best.offer(row);
                    }
                }
            }
        }
    }
    let documents = best
        .into_sorted()
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|row| {
            let mut doc = match &plan.projection {
                Some(paths) => project(&row, paths),
                None => row,
            };
            if let Some(unwind) = &plan.unwind {
                // On the wire the array field holds just its one element.
                wrap_in_array(&mut doc, unwind.path.parts());
            }
            to_raw(&doc)
        })
        .collect::<Result<_>>()?;
    Ok(ListOutput {
        documents,
        total_count,
    })
}

/// The rows that may still be on the page: the first `needed` in sort order (ties in arrival
/// order) of those offered.
struct Best<'s> {
    sort: &'s [SortSpec],
    needed: usize,
    /// Kept rows with their arrival number.
    rows: Vec<(Document, u64)>,
    arrived: u64,
}

impl<'s> Best<'s> {
    fn new(sort: &'s [SortSpec], needed: usize) -> Self {
        Best {
            sort,
            needed,
            rows: Vec::new(),
            arrived: 0,
        }
    }

    fn offer(&mut self, row: Document) {
        let seq = self.arrived;
        self.arrived += 1;
        if self.needed == 0 {
            return;
        }
        if self.sort.is_empty() {
            // Arrival order is the order: the first `needed` are the page.
            if self.rows.len() < self.needed {
                self.rows.push((row, seq));
            }
            return;
        }
        self.rows.push((row, seq));
        if self.rows.len() >= self.needed.saturating_mul(2).max(64) {
            self.prune();
        }
    }

    /// Keeps the first `needed` rows in sort order.
    fn prune(&mut self) {
        if self.rows.len() <= self.needed {
            return;
        }
        let rows: Vec<&Document> = self.rows.iter().map(|(row, _)| row).collect();
        let mut keep = vec![false; self.rows.len()];
        for i in sorted_order(&rows, self.sort, self.needed) {
            keep[i] = true;
        }
        let mut flags = keep.into_iter();
        self.rows.retain(|_| flags.next().unwrap_or(false));
    }

    /// The kept rows in sort order, ties in arrival order.
    fn into_sorted(mut self) -> Vec<Document> {
        if self.sort.is_empty() {
            return self.rows.into_iter().map(|(row, _)| row).collect();
        }
        self.prune();
        let rows: Vec<&Document> = self.rows.iter().map(|(row, _)| row).collect();
        let order = sorted_order(&rows, self.sort, usize::MAX);
        let mut slots: Vec<Option<Document>> =
            self.rows.into_iter().map(|(row, _)| Some(row)).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    }
}

/// Indices of the first `needed` rows in sort order; ties keep the input (insertion) order.
pub fn sorted_order(rows: &[&Document], sort: &[SortSpec], needed: usize) -> Vec<usize> {
    type Keyed<'r> = (Vec<Option<&'r Bson>>, usize);
    let mut keyed: Vec<Keyed<'_>> = rows
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            (
                sort.iter()
                    .map(|s| sort_value(doc, &s.path, s.desc))
                    .collect(),
                i,
            )
        })
        .collect();
    // The index makes the order total, so selecting the first rows first is deterministic.
    let order = |(a, i): &Keyed<'_>, (b, j): &Keyed<'_>| compare_keys(a, b, sort).then(i.cmp(j));
    if needed < keyed.len() {
        if needed == 0 {
            return Vec::new();
        }
        keyed.select_nth_unstable_by(needed - 1, order);
        keyed.truncate(needed);
    }
    keyed.sort_unstable_by(order);
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Compares two sort-key tuples (missing sorts as null).
pub fn compare_keys(a: &[Option<&Bson>], b: &[Option<&Bson>], sort: &[SortSpec]) -> Ordering {
    for ((x, y), spec) in a.iter().zip(b).zip(sort) {
        let o = compare(x.unwrap_or(&Bson::Null), y.unwrap_or(&Bson::Null));
        let o = if spec.desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// The value a document sorts by: for arrays the smallest element ascending and the largest
/// descending (MongoDB); `None` (null) when missing.
pub fn sort_value<'a>(doc: &'a Document, path: &FieldPath, desc: bool) -> Option<&'a Bson> {
    let mut best: Option<&'a Bson> = None;
    path.any(doc, &mut |x| {
        if let Some(v) = x {
            if !matches!(v, Bson::Array(_)) {
                let better = best.is_none_or(|b| {
                    let o = compare(v, b);
                    if desc {
                        o == Ordering::Greater
                    } else {
                        o == Ordering::Less
                    }
                });
                if better {
                    best = Some(v);
                }
            }
        }
        false
    });
    best
}

/// One row per element of the array at `path`; the field holds the element itself.
/// Missing, null and empty arrays give no row; a scalar gives the row unchanged.
pub fn unwind_rows(doc: &Document, path: &FieldPath) -> Vec<Document> {
    match path.resolve(doc).as_deref() {
        None | Some(Bson::Null) => Vec::new(),
        Some(Bson::Array(items)) => items
            .iter()
            .map(|item| {
                let mut row = doc.clone();
                set_path(&mut row, path.parts(), item.clone());
                row
            })
            .collect(),
        Some(_) => vec![doc.clone()],
    }
}

/// Sets the value at a dotted path, creating sub-documents as needed.
pub fn set_path(doc: &mut Document, parts: &[String], value: Bson) {
    match parts {
        [] => {}
        [last] => {
            doc.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            if !matches!(doc.get(first), Some(Bson::Document(_))) {
                doc.insert(first.clone(), Document::new());
            }
            if let Some(Bson::Document(sub)) = doc.get_mut(first) {
                set_path(sub, rest, value);
            }
        }
    }
}

fn wrap_in_array(doc: &mut Document, parts: &[String]) {
    match parts {
        [] => {}
        [last] => {
            if let Some(v) = doc.get_mut(last) {
                let element = std::mem::replace(v, Bson::Null);
                *v = Bson::Array(vec![element]);
            }
        }
        [first, rest @ ..] => {
            if let Some(Bson::Document(sub)) = doc.get_mut(first) {
                wrap_in_array(sub, rest);
            }
        }
    }
}

/// An inclusion projection like MongoDB's: the listed paths (through sub-documents and
/// arrays of sub-documents) and `_id`, in the document's own field order.
pub fn project(doc: &Document, paths: &[FieldPath]) -> Document {
    let parts: Vec<&[String]> = paths.iter().map(|p| p.parts()).collect();
    let mut out = project_parts(doc, &parts);
    if let Some(id) = doc.get("_id") {
        if !out.contains_key("_id") {
            let mut with_id = Document::new();
            with_id.insert("_id", id.clone());
            with_id.extend(out);
            out = with_id;
        }
    }
    out
}

fn project_parts(doc: &Document, paths: &[&[String]]) -> Document {
    let mut out = Document::new();
    for (key, value) in doc {
        let mut whole = false;
        let mut rests: Vec<&[String]> = Vec::new();
        for p in paths {
            if p.first() == Some(key) {
                if p.len() == 1 {
                    whole = true;
                } else {
                    rests.push(&p[1..]);
                }
            }
        }
        if whole {
            out.insert(key.clone(), value.clone());
        } else if !rests.is_empty() {
            if let Some(v) = project_value(value, &rests) {
                out.insert(key.clone(), v);
            }
        }
    }
    out
}

fn project_value(value: &Bson, rests: &[&[String]]) -> Option<Bson> {
    match value {
        Bson::Document(d) => Some(Bson::Document(project_parts(d, rests))),
        Bson::Array(items) => Some(Bson::Array(
            items
                .iter()
                .filter_map(|i| project_value(i, rests))
                .collect(),
        )),
        _ => None,
    }
}
