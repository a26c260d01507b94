//! Answers to list and stat plans over a [`Collection`], each following the access path
//! [`super::access`] decides: the value indexes, the columns' cells or the documents. All
//! give exactly the answers of the document engine ([`super::list()`], [`super::stat()`]).

use super::access::{document_reads, list_path, page_bounds, stat_path, ListPath, StatPath};
use super::cell::{TAG_DATE, TAG_INT};
use super::cell_group::{group_cells, group_counts_by_index};
use super::collection::Collection;
use super::columns::{Cell, CellKey, Column};
use super::list::{list_rows, project};
use super::order::walk_order;
use super::raw_unwind::unwind_group;
use super::scan;
use super::stat::{distinct, paged, pipeline_within, rows_to_results};
use bson::{Document, RawDocumentBuf};
use spacejobs_core::error::Result;
use spacejobs_core::store::{to_raw, ListOutput, StatOutput};
use spacejobs_exec::{Deadline, CHECK_EVERY};
use spacejobs_query::plan::{ListPlan, Stage, StatKind, StatPlan};
use std::borrow::Cow;

impl Collection {
    /// Answers a list plan, within `deadline`.
    pub fn list(&self, plan: &ListPlan, deadline: &Deadline) -> Result<ListOutput> {
        let (all, any) = self.bind_filter(&plan.filter);
        let cells_first = match list_path(self, &all, &any, plan) {
            ListPath::Count => {
                let total_count = match scan::count_by_index(self.len(), &all, &any) {
                    Some(n) => n,
                    None => scan::matching(self.raws(), &all, &any, deadline)?.len() as u64,
                };
                return Ok(ListOutput {
                    documents: Vec::new(),
                    total_count,
                });
            }
            ListPath::OrderWalk {
                column,
                rows,
                needed,
            } => match column.sorted_rows() {
                Some(order) => {
                    let desc = plan.sort.first().is_some_and(|s| s.desc);
                    let page = walk_order(order, column.bits(), &rows, desc, needed, deadline)?;
                    let (skip, _) = page_bounds(plan);
                    return Ok(ListOutput {
                        documents: self.page_documents(&page[skip.min(page.len())..], plan)?,
                        total_count: rows.len(),
                    });
                }
                // The path asks for a sortable column, which has an order; were it to have
                // none, the cells give the same page.
                None => true,
            },
            ListPath::CellPage => true,
            ListPath::Documents => false,
        };
        let matched = scan::matching(self.raws(), &all, &any, deadline)?;
        if cells_first {
            if let Some(out) = self.page_by_cells(&matched, plan)? {
                return Ok(out);
            }
        }
        // Parsed one at a time as the list takes them: only the page's rows are kept.
        let docs = matched.iter().enumerate().map(|(n, &i)| {
            if n % CHECK_EVERY == 0 {
                deadline.check()?;
            }
            self.document(i)
        });
        list_rows(docs, plan)
    }

    /// Answers a stat plan, within `deadline`.
    pub fn stat(&self, plan: &StatPlan, deadline: &Deadline) -> Result<StatOutput> {
        let (all, any) = self.bind_filter(&plan.filter);
        let mut path = stat_path(self, &all, &any, plan);
        if let (StatPath::IndexCounts { rows }, StatKind::Aggregate(stages)) = (&path, &plan.kind) {
            if let Some((Stage::Group(spec), rest)) = stages.split_first() {
                if let Some(grouped) = group_counts_by_index(self.columns(), spec, rows) {
                    deadline.check()?;
                    let rows = pipeline_within(
                        grouped.into_iter().map(Cow::Owned).collect(),
                        rest,
                        deadline,
                    )?;
                    deadline.check()?;
                    return Ok(paged(rows_to_results(rows), plan.page));
                }
            }
            path = StatPath::Cells;
        }
        let matched = scan::matching(self.raws(), &all, &any, deadline)?;
        deadline.check()?;
        // The fields to parse where the path reads the documents, or falls back to them.
        let reads = match &path {
            StatPath::Documents { reads } => reads.clone(),
            _ => document_reads(&plan.kind),
        };
        let results = match &plan.kind {
            StatKind::Distinct(field) => {
                let on_cells = match path {
                    StatPath::Cells => self.distinct_cells(field, &matched),
                    _ => None,
                };
                match on_cells {
                    Some(values) => values,
                    None => {
                        let docs = self.documents_reading(&matched, reads.as_deref(), deadline)?;
                        distinct(docs.iter(), field)
                    }
                }
            }
            StatKind::Aggregate(stages) => {
                let first = match (&path, stages.as_slice()) {
                    (StatPath::Cells, [Stage::Group(spec), rest @ ..]) => {
                        group_cells(self.columns(), spec, &matched).map(|grouped| (grouped, rest))
                    }
                    (
                        StatPath::RawUnwindGroup,
                        [Stage::Unwind(path), Stage::Group(spec), rest @ ..],
                    ) => unwind_group(self, &matched, path, spec, deadline)?
                        .map(|grouped| (grouped, rest)),
                    _ => None,
                };
                let rows = match first {
                    Some((grouped, rest)) => {
                        deadline.check()?;
                        pipeline_within(
                            grouped.into_iter().map(Cow::Owned).collect(),
                            rest,
                            deadline,
                        )?
                    }
                    None => self.pipeline(&matched, stages, reads.as_deref(), deadline)?,
                };
                deadline.check()?;
                rows_to_results(rows)
            }
        };
        Ok(paged(results, plan.page))
    }

    /// The distinct values of a top-level column of scalar cells among `matched` (null and
    /// missing left out), sorted as [`distinct`] sorts them; `None` when the cells cannot.
    fn distinct_cells(
        &self,
        path: &spacejobs_query::value::FieldPath,
        matched: &[usize],
    ) -> Option<Vec<bson::Bson>> {
        let [field] = path.parts() else {
            return None;
        };
        let cells = self.columns().column(field)?;
        // Strings are marked in a bitset by id (no hashing); other values go to a set.
        let mut strings = vec![0u64; self.columns().strings().len().div_ceil(64)];
        let mut seen = hashbrown::HashSet::new();
        let mut last = Cell::Missing;
        for &i in matched {
            match cells.get(i) {
                Cell::Complex => return None,
                Cell::Missing | Cell::Null => {}
                Cell::Str(id) => {
                    if let Some(word) = strings.get_mut(id as usize / 64) {
                        *word |= 1 << (id % 64);
                    }
                }
                // Runs of one value (rows of one project, one status) are looked up once.
                cell if cell == last => {}
                cell => {
                    seen.insert(CellKey(cell));
                    last = cell;
                }
            }
        }
        let mut unique: Vec<Cell> = seen.into_iter().map(|k| k.0).collect();
        for (w, &word) in strings.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                unique.push(Cell::Str(w as u32 * 64 + bit));
            }
        }
        unique.sort_by(|a, b| self.columns().compare_cells(*a, *b));
        Some(
            unique
                .into_iter()
                .filter_map(|c| self.columns().value(c))
                .collect(),
        )
    }

    /// The sorted page of `matched` when every sort key is a top-level column of scalar
    /// cells: the first `skip + limit` rows are selected on the cells (ties in insertion
    /// order), and only the page's documents are read.
    fn page_by_cells(&self, matched: &[usize], plan: &ListPlan) -> Result<Option<ListOutput>> {
        let mut keys = Vec::with_capacity(plan.sort.len());
        for spec in &plan.sort {
            let [field] = spec.path.parts() else {
                return Ok(None);
            };
            let Some(cells) = self.columns().column(field) else {
                return Ok(None);
            };
            if cells.any_complex(matched) {
                return Ok(None);
            }
            keys.push((cells, spec.desc));
        }
        let order = |a: &usize, b: &usize| {
            for (cells, desc) in &keys {
                let o = self.columns().compare_cells(cells.get(*a), cells.get(*b));
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            a.cmp(b)
        };
        let (skip, needed) = page_bounds(plan);
        let needed = needed.min(matched.len());
        let rows = match keys.as_slice() {
            [(cells, desc)] => top_by_number(cells, matched, *desc, needed),
            _ => None,
        };
        let rows = rows.unwrap_or_else(|| {
            let mut rows = matched.to_vec();
            if needed == 0 {
                rows.clear();
            } else if needed < rows.len() {
                rows.select_nth_unstable_by(needed - 1, order);
                rows.truncate(needed);
            }
            rows.sort_unstable_by(order);
            rows
        });
        Ok(Some(ListOutput {
            documents: self.page_documents(&rows[skip.min(rows.len())..], plan)?,
            total_count: matched.len() as u64,
        }))
    }

    /// The documents of a page's rows, projected when the plan says so.
    fn page_documents(&self, rows: &[usize], plan: &ListPlan) -> Result<Vec<RawDocumentBuf>> {
        rows.iter()
            .map(|&i| match &plan.projection {
                Some(paths) => to_raw(&project(&self.document(i)?, paths)),
                None => self.raw_copy(i),
            })
            .collect()
    }

    /// The stages over the documents at `matched`, parsed (only `reads`' fields when given).
    fn pipeline(
        &self,
        matched: &[usize],
        stages: &[Stage],
        reads: Option<&[String]>,
        deadline: &Deadline,
    ) -> Result<Vec<Document>> {
        let docs = self.documents_reading(matched, reads, deadline)?;
        pipeline_within(docs.into_iter().map(Cow::Owned).collect(), stages, deadline)
    }
}

/// The first `needed` of `matched` in the order of one column whose cells there are all dates
/// or all integers (ties in row order), selected on plain `(key, row)` pairs; `None` for other
/// columns.
fn top_by_number(
    cells: &Column,
    matched: &[usize],
    desc: bool,
    needed: usize,
) -> Option<Vec<usize>> {
    let (tags, bits) = (cells.tags(), cells.bits());
    let tag = *tags.get(*matched.first()?)?;
    if tag != TAG_DATE && tag != TAG_INT {
        return None;
    }
    let mut keyed: Vec<(i64, u32)> = Vec::with_capacity(matched.len());
    for &i in matched {
        if tags.get(i) != Some(&tag) {
            return None;
        }
        let key = *bits.get(i)? as i64;
        // `!key` orders the keys the other way round, without overflow.
        keyed.push((if desc { !key } else { key }, u32::try_from(i).ok()?));
    }
    if needed == 0 {
        return Some(Vec::new());
    }
    if needed < keyed.len() {
        keyed.select_nth_unstable(needed - 1);
        keyed.truncate(needed);
    }
    keyed.sort_unstable();
    Some(keyed.into_iter().map(|(_, i)| i as usize).collect())
}
