//! [`Collection`]: documents in insertion order plus their column cells, answering list and
//! stat plans. Filters on top-level fields and groups on top-level keys read the cells; all
//! else (and every cell that is not a plain scalar) goes through the document engine, so the
//! answers are exactly those of [`super::list()`] and [`super::stat()`].

use super::cell_group::group_cells;
use super::columns::{Cell, CellKey, CellTest, Columns};
use super::filter::condition_matches;
use super::list::{list_matched, project, ListOutput};
use super::stat::{distinct, paged, pipeline_within, rows_to_results, StatOutput};
use crate::error::Result;
use crate::exec::{Deadline, CHECK_EVERY};
use crate::query::plan::{Condition, Filter, ListPlan, Stage, StatKind, StatPlan};
use bson::Document;
use std::borrow::Cow;

/// Documents in insertion order with column cells for fast scans. Each document has a
/// sequence number, given in insertion order and never reused, that a durable store uses
/// as its key.
#[derive(Debug, Default, Clone)]
pub struct Collection {
    docs: Vec<Document>,
    seqs: Vec<u64>,
    next_seq: u64,
    columns: Columns,
}

/// A filter condition bound to its column when the cells can answer it.
struct Bound<'a> {
    condition: &'a Condition,
    cells: Option<(&'a [Cell], CellTest<'a>)>,
}

impl Bound<'_> {
    fn test(&self, i: usize, doc: &Document) -> bool {
        match &self.cells {
            Some((cells, test)) => match cells.get(i) {
                Some(Cell::Complex) | None => condition_matches(doc, self.condition),
                Some(cell) => test.eval(*cell),
            },
            None => condition_matches(doc, self.condition),
        }
    }
}

impl Collection {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a document under the next sequence number.
    pub fn push(&mut self, doc: Document) {
        self.push_at(self.next_seq, doc);
    }

    /// Appends a document under sequence number `seq` (loading a durable store, whose keys
    /// ascend).
    pub fn push_at(&mut self, seq: u64, doc: Document) {
        self.columns.push(&doc);
        self.docs.push(doc);
        self.seqs.push(seq);
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
    }

    /// The sequence number the next pushed document gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The sequence number of the document at `index`.
    pub fn seq(&self, index: usize) -> Option<u64> {
        self.seqs.get(index).copied()
    }

    /// Replaces the document at `index` (an index past the end changes nothing).
    pub fn replace(&mut self, index: usize, doc: Document) {
        if index < self.docs.len() {
            self.columns.set(index, &doc);
            self.docs[index] = doc;
        }
    }

    /// Removes the documents at `indices` (ascending or not), keeping the others in order.
    pub fn remove(&mut self, indices: &[usize]) {
        let mut keep = vec![true; self.docs.len()];
        for &i in indices {
            if let Some(k) = keep.get_mut(i) {
                *k = false;
            }
        }
        self.columns.retain(&keep);
        let mut flags = keep.iter();
        self.docs.retain(|_| flags.next().copied().unwrap_or(true));
        let mut flags = keep.iter();
        self.seqs.retain(|_| flags.next().copied().unwrap_or(true));
    }

    /// The documents, in insertion order.
    pub fn documents(&self) -> &[Document] {
        &self.docs
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// True when there are no documents.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    fn bind<'a>(&'a self, conditions: &'a [Condition]) -> Vec<Bound<'a>> {
        conditions
            .iter()
            .map(|condition| Bound {
                condition,
                cells: self.columns.bind(condition).and_then(|test| {
                    let [field] = condition.path.parts() else {
                        return None;
                    };
                    Some((self.columns.column(field)?, test))
                }),
            })
            .collect()
    }

    /// Indices of the documents matching `filter`, in insertion order; stops with an error
    /// once `deadline` has passed or was cancelled.
    pub fn matching(&self, filter: &Filter, deadline: &Deadline) -> Result<Vec<usize>> {
        let all = self.bind(&filter.all);
        let any = self.bind(&filter.any);
        let mut out = Vec::new();
        for start in (0..self.docs.len()).step_by(CHECK_EVERY) {
            deadline.check()?;
            let end = (start + CHECK_EVERY).min(self.docs.len());
            out.extend((start..end).filter(|&i| {
                let doc = &self.docs[i];
                all.iter().all(|b| b.test(i, doc))
                    && (any.is_empty() || any.iter().any(|b| b.test(i, doc)))
            }));
        }
        Ok(out)
    }

    /// Answers a list plan, within `deadline`.
    pub fn list(&self, plan: &ListPlan, deadline: &Deadline) -> Result<ListOutput> {
        let matched = self.matching(&plan.filter, deadline)?;
        if plan.count_only && plan.unwind.is_none() {
            return Ok(ListOutput {
                documents: Vec::new(),
                total_count: matched.len() as u64,
            });
        }
        if plan.unwind.is_none() {
            if let Some(out) = self.page_by_cells(&matched, plan) {
                return Ok(out);
            }
        }
        let docs: Vec<&Document> = matched.iter().map(|&i| &self.docs[i]).collect();
        deadline.check()?;
        Ok(list_matched(&docs, plan))
    }

    /// The distinct values of a top-level column of scalar cells among `matched` (null and
    /// missing left out), sorted as [`distinct`] sorts them; `None` when the cells cannot.
    fn distinct_cells(
        &self,
        path: &crate::value::FieldPath,
        matched: &[usize],
    ) -> Option<Vec<bson::Bson>> {
        let [field] = path.parts() else {
            return None;
        };
        let cells = self.columns.column(field)?;
        let mut seen = std::collections::HashSet::new();
        for &i in matched {
            match cells[i] {
                Cell::Complex => return None,
                Cell::Missing | Cell::Null => {}
                cell => {
                    seen.insert(CellKey(cell));
                }
            }
        }
        let mut unique: Vec<Cell> = seen.into_iter().map(|k| k.0).collect();
        unique.sort_by(|a, b| self.columns.compare_cells(*a, *b));
        Some(
            unique
                .into_iter()
                .filter_map(|c| self.columns.value(c))
                .collect(),
        )
    }

    /// The sorted page of `matched` when every sort key is a top-level column of scalar
    /// cells: the first `skip + limit` rows are selected on the cells (ties in insertion
    /// order), and only the page's documents are read.
    fn page_by_cells(&self, matched: &[usize], plan: &ListPlan) -> Option<ListOutput> {
        let mut keys = Vec::with_capacity(plan.sort.len());
        for spec in &plan.sort {
            let [field] = spec.path.parts() else {
                return None;
            };
            let cells = self.columns.column(field)?;
            if matched.iter().any(|&i| matches!(cells[i], Cell::Complex)) {
                return None;
            }
            keys.push((cells, spec.desc));
        }
        let order = |a: &usize, b: &usize| {
            for (cells, desc) in &keys {
                let o = self.columns.compare_cells(cells[*a], cells[*b]);
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            a.cmp(b)
        };
        let skip = usize::try_from(plan.slice.skip).unwrap_or(usize::MAX);
        let limit = plan
            .slice
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let needed = skip.saturating_add(limit).min(matched.len());
        let mut rows = matched.to_vec();
        if needed == 0 {
            rows.clear();
        } else if needed < rows.len() {
            rows.select_nth_unstable_by(needed - 1, order);
            rows.truncate(needed);
        }
        rows.sort_unstable_by(order);
        let documents = rows
            .into_iter()
            .skip(skip)
            .map(|i| match &plan.projection {
                Some(paths) => project(&self.docs[i], paths),
                None => self.docs[i].clone(),
            })
            .collect();
        Some(ListOutput {
            documents,
            total_count: matched.len() as u64,
        })
    }

    /// Answers a stat plan, within `deadline`.
    pub fn stat(&self, plan: &StatPlan, deadline: &Deadline) -> Result<StatOutput> {
        let matched = self.matching(&plan.filter, deadline)?;
        deadline.check()?;
        let results = match &plan.kind {
            StatKind::Distinct(path) => match self.distinct_cells(path, &matched) {
                Some(values) => values,
                None => distinct(matched.iter().map(|&i| &self.docs[i]), path),
            },
            StatKind::Aggregate(stages) => {
                let rows = match stages.split_first() {
                    Some((Stage::Group(spec), rest)) => {
                        match group_cells(&self.columns, spec, &matched) {
                            Some(grouped) => {
                                deadline.check()?;
                                pipeline_within(
                                    grouped.into_iter().map(Cow::Owned).collect(),
                                    rest,
                                    deadline,
                                )?
                            }
                            None => self.pipeline(&matched, stages, deadline)?,
                        }
                    }
                    _ => self.pipeline(&matched, stages, deadline)?,
                };
                deadline.check()?;
                rows_to_results(rows)
            }
        };
        Ok(paged(results, plan.page))
    }

    fn pipeline(
        &self,
        matched: &[usize],
        stages: &[Stage],
        deadline: &Deadline,
    ) -> Result<Vec<Document>> {
        pipeline_within(
            matched
                .iter()
                .map(|&i| Cow::Borrowed(&self.docs[i]))
                .collect(),
            stages,
            deadline,
        )
    }
}

impl FromIterator<Document> for Collection {
    fn from_iter<I: IntoIterator<Item = Document>>(iter: I) -> Self {
        let mut collection = Collection::new();
        for doc in iter {
            collection.push(doc);
        }
        collection
    }
}
