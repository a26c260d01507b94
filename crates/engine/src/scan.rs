//! Filter scans over column cells, a block of rows at a time: each condition a tight loop over
//! the packed tags and value bits (exact tag-and-bits compares for strings, dates and
//! booleans, the cell test otherwise), the document engine only for cells that are not plain
//! scalars and for conditions no column answers. Blocks run in parallel (rayon) on large
//! collections; the deadline is checked once a block. `eq`/`in` of strings on a column with
//! a value index intersect its bitmaps first, and then no scan is needed when every
//! condition was indexed or few rows are left to test one by one.

use super::cell::{TAG_BOOL, TAG_COMPLEX, TAG_DATE, TAG_STR};
use super::column::Column;
use super::columns::{Cell, CellTest, Cmp};
use super::edges::EdgeBytes;
use super::filter::condition_matches;
use super::memo::{MATCH, NO_MATCH};
use super::packed::PackedDocs;
use super::stored::field_document;
use bson::RawDocument;
use rayon::prelude::*;
use roaring::RoaringBitmap;
use spacejobs_core::error::Result;
use spacejobs_exec::Deadline;
use spacejobs_query::plan::{Condition, Pattern};
use std::borrow::Cow;

/// Rows in a block.
const BLOCK: usize = 4096;
/// Collections with at least this many rows are scanned on rayon's threads.
const PARALLEL_ROWS: usize = 8 * BLOCK;

/// A filter condition, bound to its column when the cells can answer it.
pub(super) struct Bound<'a> {
    condition: &'a Condition,
    /// The top-level field the condition reads.
    field: &'a str,
    cells: Option<(&'a Column, Kernel<'a>)>,
}

/// How a bound condition tests a block of cells.
enum Kernel<'a> {
    /// The cell's tag and bits equal one of these (or, negated, none of them).
    Exact(Vec<(u8, u64)>, bool),
    /// A date cell compared with a date.
    Dates(i64, Cmp),
    /// A pattern test whose memo already holds what most strings give (or will), with the
    /// edge bytes of anchored patterns that reject most strings before it.
    Memo(CellTest<'a>, Option<Box<EdgeBytes>>),
    /// Any other cell test, cell by cell.
    Cells(CellTest<'a>),
}

impl<'a> Kernel<'a> {
    fn of(test: CellTest<'a>) -> Self {
        match &test {
            CellTest::In(values, negate) => {
                let exact: Option<Vec<(u8, u64)>> = values
                    .iter()
                    .map(|v| match *v {
                        Cell::Str(id) => Some((TAG_STR, u64::from(id))),
                        Cell::Date(d) => Some((TAG_DATE, d as u64)),
                        Cell::Bool(b) => Some((TAG_BOOL, u64::from(b))),
                        _ => None,
                    })
                    .collect();
                match exact {
                    Some(keys) => Kernel::Exact(keys, *negate),
                    None => Kernel::Cells(test),
                }
            }
            CellTest::Compare(Cell::Date(d), cmp) => Kernel::Dates(*d, *cmp),
            CellTest::Matches { memo, patterns, .. } if !memo.is_empty() => {
                let edges = EdgeBytes::of(patterns).map(Box::new);
                Kernel::Memo(test, edges)
            }
            _ => Kernel::Cells(test),
        }
    }

    /// The test on one scalar cell.
    fn one(&self, tag: u8, bits: u64) -> bool {
        match self {
            Kernel::Exact(keys, negate) => keys.contains(&(tag, bits)) != *negate,
            Kernel::Dates(date, cmp) => tag == TAG_DATE && cmp.accepts((bits as i64).cmp(date)),
            Kernel::Cells(test) | Kernel::Memo(test, _) => test.eval(Cell::from_tagged(tag, bits)),
        }
    }

    /// `out[j]` = the test on cell `j` (whatever for complex cells, and for the rows not
    /// `wanted(j)` where the cell test is costly: those are not tested).
    /// `local` holds this thread's copies of the patterns (made on first need): a copied
    /// regex keeps its matching caches to the thread, where the shared one hands them out
    /// under a lock on every call.
    fn fill(
        &self,
        tags: &[u8],
        bits: &[u64],
        out: &mut [bool],
        wanted: impl Fn(usize) -> bool,
        local: &mut Option<Vec<Pattern>>,
    ) {
        match self {
            Kernel::Exact(keys, negate) => match keys.as_slice() {
                [(tag, value)] => {
                    for (o, (t, b)) in zip_cells(out, tags, bits) {
                        *o = (*t == *tag && *b == *value) != *negate;
                    }
                }
                keys => {
                    for (o, (t, b)) in zip_cells(out, tags, bits) {
                        *o = keys.iter().any(|(tag, value)| t == tag && b == value) != *negate;
                    }
                }
            },
            Kernel::Dates(date, cmp) => {
                let date = *date;
                let accept: fn(i64, i64) -> bool = match cmp {
                    Cmp::Lt => |a, b| a < b,
                    Cmp::Lte => |a, b| a <= b,
                    Cmp::Gt => |a, b| a > b,
                    Cmp::Gte => |a, b| a >= b,
                };
                for (o, (t, b)) in zip_cells(out, tags, bits) {
                    *o = *t == TAG_DATE && accept(*b as i64, date);
                }
            }
            Kernel::Memo(test, edges) => {
                let CellTest::Matches {
                    patterns,
                    strings,
                    memo,
                    negate,
                } = test
                else {
                    return;
                };
                // `out[j]`: the string cell may match (its edge bytes allow it).
                match edges {
                    Some(edges) => edges.mark(strings, tags, bits, &wanted, out),
                    None => {
                        for (j, (o, t)) in out.iter_mut().zip(tags).enumerate() {
                            *o = *t == TAG_STR && wanted(j);
                        }
                    }
                }
                for (o, (t, b)) in zip_cells(out, tags, bits) {
                    *o = match *t {
                        TAG_STR if !*o => *negate,
                        TAG_STR => match memo.get(*b as usize) {
                            Some(MATCH) => !negate,
                            Some(NO_MATCH) => *negate,
                            _ => {
                                let local = local.get_or_insert_with(|| patterns.to_vec());
                                test.eval_with(Cell::from_tagged(*t, *b), Some(local))
                            }
                        },
                        TAG_COMPLEX => false,
                        // Not a string: no pattern matches it.
                        _ => *negate,
                    };
                }
            }
            Kernel::Cells(test) => {
                if let (None, Some(patterns)) = (&local, test.patterns()) {
                    *local = Some(patterns.to_vec());
                }
                for (j, (o, (t, b))) in zip_cells(out, tags, bits).enumerate() {
                    *o = *t != TAG_COMPLEX
                        && wanted(j)
                        && test.eval_with(Cell::from_tagged(*t, *b), local.as_deref());
                }
            }
        }
    }
}

/// `out`'s slots with the cells they answer for.
fn zip_cells<'o>(
    out: &'o mut [bool],
    tags: &'o [u8],
    bits: &'o [u64],
) -> impl Iterator<Item = (&'o mut bool, (&'o u8, &'o u64))> {
    out.iter_mut().zip(tags.iter().zip(bits))
}

impl<'a> Bound<'a> {
    /// Binds each condition; the ones the cells answer come first (AND and OR do not depend
    /// on the order, and the cheap tests then narrow the rows the document tests see).
    pub(super) fn all(
        conditions: &'a [Condition],
        column: impl Fn(&'a Condition) -> Option<(&'a Column, CellTest<'a>)>,
    ) -> Vec<Self> {
        let mut bound: Vec<Bound<'a>> = conditions
            .iter()
            .map(|condition| Bound {
                condition,
                field: condition.path.parts().first().map_or("", String::as_str),
                cells: column(condition).map(|(c, test)| (c, Kernel::of(test))),
            })
            .collect();
        bound.sort_by_key(|b| b.cells.is_none());
        bound
    }

    /// The condition, as `explain` shows it: `{"k", "o", "access"}`, where `access` says how
    /// the rows are tested (the value index, a column kernel, or the documents' bytes).
    pub(super) fn explain(&self) -> serde_json::Value {
        let access = match &self.cells {
            None => "documents: the field is read from each document's BSON",
            Some(_) if self.indexed(0).is_some() => "value index: the values' row bitmaps",
            Some((_, Kernel::Exact(..))) => "column: packed cells compared exactly",
            Some((_, Kernel::Dates(..))) => "column: date cells compared as instants",
            Some((_, Kernel::Memo(..))) => {
                "column: each distinct string tried once (literal search or regex), remembered"
            }
            Some((_, Kernel::Cells(_))) => "column: cell by cell",
        };
        let mut out = spacejobs_query::explain::condition(self.condition);
        out["access"] = serde_json::Value::from(access);
        out
    }

    /// The condition on the document of row `i`.
    fn on_document(&self, raws: &PackedDocs, i: usize) -> bool {
        let raw = raws.get(i).and_then(|r| RawDocument::from_bytes(r).ok());
        let doc = raw
            .map(|r| field_document(r, self.field))
            .unwrap_or_default();
        condition_matches(&doc, self.condition)
    }

    /// The condition on row `i`.
    fn test_one(&self, raws: &PackedDocs, i: usize) -> bool {
        if let Some((column, kernel)) = &self.cells {
            if let (Some(&tag), Some(&bits)) = (column.tags().get(i), column.bits().get(i)) {
                if tag != TAG_COMPLEX {
                    return kernel.one(tag, bits);
                }
            }
        }
        self.on_document(raws, i)
    }

    /// For `eq`/`in` (and `ne`/`not_in`) of strings on an indexed column: the rows where the
    /// condition holds for sure, and the rows it cannot tell (cells that are not plain
    /// scalars).
    fn indexed(&self, rows: usize) -> Option<(Cow<'a, RoaringBitmap>, &'a RoaringBitmap)> {
        let Some((column, Kernel::Exact(keys, negate))) = &self.cells else {
            return None;
        };
        let index = column.index()?;
        if keys.iter().any(|(tag, _)| *tag != TAG_STR) {
            return None;
        }
        let ids: Vec<u32> = keys.iter().map(|(_, id)| *id as u32).collect();
        let holding = index.rows_of(&ids);
        if !negate {
            return Some((holding, index.complex()));
        }
        let mut others = RoaringBitmap::new();
        others.insert_range(0..u32::try_from(rows).ok()?);
        others -= holding.as_ref();
        others -= index.complex();
        Some((Cow::Owned(others), index.complex()))
    }

    /// The cells of rows `start..start + n`, when the column has them all.
    fn cells(&self, start: usize, n: usize) -> Option<(&Kernel<'a>, &[u8], &[u64])> {
        let (column, kernel) = self.cells.as_ref()?;
        let tags = column.tags().get(start..start + n)?;
        let bits = column.bits().get(start..start + n)?;
        Some((kernel, tags, bits))
    }

    /// `out[j]` = the condition on row `start + j`, for the rows where `wanted(j)`; `local`
    /// as [`Kernel::fill`] takes it.
    fn test(
        &self,
        raws: &PackedDocs,
        start: usize,
        out: &mut [bool],
        wanted: impl Fn(usize) -> bool,
        local: &mut Option<Vec<Pattern>>,
    ) {
        match self.cells(start, out.len()) {
            Some((kernel, tags, bits)) => {
                kernel.fill(tags, bits, out, &wanted, local);
                if tags.contains(&TAG_COMPLEX) {
                    for (j, _) in tags.iter().enumerate().filter(|(_, t)| **t == TAG_COMPLEX) {
                        out[j] = wanted(j) && self.on_document(raws, start + j);
                    }
                }
            }
            None => {
                for (j, o) in out.iter_mut().enumerate() {
                    *o = wanted(j) && self.on_document(raws, start + j);
                }
            }
        }
    }
}

/// Indices of the rows meeting `AND(all) AND OR(any)`, in order; stops with an error once
/// `deadline` has passed or was cancelled.
pub(super) fn matching(
    raws: &PackedDocs,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
    deadline: &Deadline,
) -> Result<Vec<usize>> {
    if let Some(rows) = by_index(raws, all, any, deadline)? {
        return Ok(rows);
    }
    let blocks = raws.len().div_ceil(BLOCK);
    // Each thread's copies of the conditions' patterns, one slot a condition.
    let locals = || -> Vec<Option<Vec<Pattern>>> { vec![None; all.len() + any.len()] };
    let block = |locals: &mut Vec<Option<Vec<Pattern>>>, b: usize| -> Result<Vec<usize>> {
        deadline.check()?;
        let start = b * BLOCK;
        let end = (start + BLOCK).min(raws.len());
        Ok(scan_block(raws, all, any, start, end - start, locals))
    };
    if raws.len() < PARALLEL_ROWS {
        let (mut out, mut locals) = (Vec::new(), locals());
        for b in 0..blocks {
            out.extend(block(&mut locals, b)?);
        }
        return Ok(out);
    }
    let parts: Vec<Vec<usize>> = (0..blocks)
        .into_par_iter()
        .map_init(locals, block)
        .collect::<Result<_>>()?;
    Ok(parts.concat())
}

/// True when row `i` meets `AND(all) AND OR(any)`, cell by cell (the document engine only
/// for cells that are not plain scalars).
pub(super) fn row_matches(
    raws: &PackedDocs,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
    i: usize,
) -> bool {
    i < raws.len() && all.iter().all(|b| b.test_one(raws, i)) && meets_any(raws, any, i)
}

/// True when row `i` meets one of `any` (or `any` is empty).
fn meets_any(raws: &PackedDocs, any: &[Bound<'_>], i: usize) -> bool {
    any.is_empty() || any.iter().any(|b| b.test_one(raws, i))
}

/// What the value indexes tell of a filter.
struct IndexAnswer<'b, 'a> {
    /// Rows meeting every indexed condition for sure.
    sure: RoaringBitmap,
    /// Rows an indexed column cannot tell (not plain scalars): every condition, row by row.
    unsure: RoaringBitmap,
    /// The AND-ed conditions left to test on `sure`.
    rest: Vec<&'b Bound<'a>>,
    /// The OR-ed conditions left to test on `sure` (none when all were indexed).
    any_left: &'b [Bound<'a>],
}

/// The value indexes' answer to `AND(all) AND OR(any)`; `None` when no AND-ed condition is
/// indexed.
fn index_answer<'b, 'a>(
    rows: usize,
    all: &'b [Bound<'a>],
    any: &'b [Bound<'a>],
) -> Option<IndexAnswer<'b, 'a>> {
    // The index's own bitmaps are intersected without copying them first.
    let mut sure: Option<Cow<'a, RoaringBitmap>> = None;
    let mut unsure = RoaringBitmap::new();
    let mut rest = Vec::new();
    for bound in all {
        match bound.indexed(rows) {
            Some((matching, complex)) => {
                sure = Some(match sure {
                    None => matching,
                    Some(sure) => Cow::Owned(sure.as_ref() & matching.as_ref()),
                });
                unsure |= complex;
            }
            None => rest.push(bound),
        }
    }
    let mut sure = sure?.into_owned();
    let any_indexed: Option<Vec<_>> = any.iter().map(|b| b.indexed(rows)).collect();
    let any_left: &[Bound<'_>] = match any_indexed {
        Some(indexed) if !indexed.is_empty() => {
            let mut either = RoaringBitmap::new();
            for (matching, complex) in indexed {
                either |= matching.as_ref();
                unsure |= complex;
            }
            sure &= either;
            &[]
        }
        _ => any,
    };
    Some(IndexAnswer {
        sure,
        unsure,
        rest,
        any_left,
    })
}

/// How [`matching`] goes about `rows` rows for these conditions, as `explain` says it.
pub(super) fn strategy(rows: usize, all: &[Bound<'_>], any: &[Bound<'_>]) -> String {
    let scan = if rows < PARALLEL_ROWS {
        format!("a scan of {rows} rows, {BLOCK} a block, on one thread")
    } else {
        format!("a scan of {rows} rows, {BLOCK} a block, blocks in parallel")
    };
    match index_answer(rows, all, any) {
        None => scan,
        Some(answer) if answer.rest.is_empty() && answer.any_left.is_empty() => {
            format!("the value indexes alone ({} rows)", answer.sure.len())
        }
        Some(answer) if answer.sure.len().saturating_mul(8) <= rows as u64 => format!(
            "the value indexes ({} rows), then the other conditions on those rows",
            answer.sure.len()
        ),
        Some(answer) => format!(
            "{scan} (the value indexes leave {} rows, too many to test one by one)",
            answer.sure.len()
        ),
    }
}

/// The fewest rows any one indexed AND-ed condition leaves (those meeting it, and those its
/// index cannot tell): a bound of the filter's candidate rows, found without intersecting
/// the conditions' rows; `None` when no AND-ed condition is indexed.
pub(super) fn fewest_candidates(rows: usize, all: &[Bound<'_>]) -> Option<u64> {
    all.iter()
        .filter_map(|bound| bound.indexed(rows))
        .map(|(matching, complex)| matching.len() + complex.len())
        .min()
}

/// The rows meeting the filter, when the value indexes alone tell them.
pub(super) fn rows_by_index(
    rows: usize,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
) -> Option<RoaringBitmap> {
    let answer = index_answer(rows, all, any)?;
    let complete = answer.rest.is_empty() && answer.any_left.is_empty() && answer.unsure.is_empty();
    complete.then_some(answer.sure)
}

/// The number of rows meeting the filter, when the value indexes alone tell it.
pub(super) fn count_by_index(rows: usize, all: &[Bound<'_>], any: &[Bound<'_>]) -> Option<u64> {
    rows_by_index(rows, all, any).map(|rows| rows.len())
}

/// The matching rows from the value indexes, when every condition is indexed or the indexed
/// ones leave few rows to test one by one; `None` to scan instead.
fn by_index(
    raws: &PackedDocs,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
    deadline: &Deadline,
) -> Result<Option<Vec<usize>>> {
    let Some(IndexAnswer {
        sure,
        unsure,
        rest,
        any_left,
    }) = index_answer(raws.len(), all, any)
    else {
        return Ok(None);
    };
    let selective = sure.len().saturating_mul(8) <= raws.len() as u64;
    let all_indexed = rest.is_empty() && any_left.is_empty();
    if !all_indexed && !selective {
        return Ok(None);
    }
    let meets = |i: usize, all: &[&Bound<'_>], any: &[Bound<'_>]| {
        all.iter().all(|b| b.test_one(raws, i)) && meets_any(raws, any, i)
    };
    let mut out = Vec::with_capacity(sure.len() as usize);
    let rows = sure
        .iter()
        .map(|row| row as usize)
        .filter(|&i| i < raws.len());
    if all_indexed {
        out.extend(rows);
    } else {
        for (n, i) in rows.enumerate() {
            if n % BLOCK == 0 {
                deadline.check()?;
            }
            if meets(i, &rest, any_left) {
                out.push(i);
            }
        }
    }
    // Rows whose cell is not a scalar in an indexed column: every condition, on the row.
    if !unsure.is_empty() {
        deadline.check()?;
        let every: Vec<&Bound<'_>> = all.iter().collect();
        out.extend(
            unsure
                .iter()
                .map(|row| row as usize)
                .filter(|&i| i < raws.len() && meets(i, &every, any)),
        );
        out.sort_unstable();
        out.dedup();
    }
    Ok(Some(out))
}

fn scan_block(
    raws: &PackedDocs,
    all: &[Bound<'_>],
    any: &[Bound<'_>],
    start: usize,
    n: usize,
    locals: &mut Vec<Option<Vec<Pattern>>>,
) -> Vec<usize> {
    let mut alive = vec![true; n];
    let mut hits = vec![false; n];
    // One slot a condition, so that no condition is left out of the zips below.
    locals.resize(all.len() + any.len(), None);
    let (all_locals, any_locals) = locals.split_at_mut(all.len());
    for (bound, local) in all.iter().zip(all_locals) {
        bound.test(raws, start, &mut hits, |j| alive[j], local);
        let mut left = false;
        for (a, h) in alive.iter_mut().zip(&hits) {
            *a &= *h;
            left |= *a;
        }
        if !left {
            return Vec::new();
        }
    }
    if !any.is_empty() {
        let mut met = vec![false; n];
        for (bound, local) in any.iter().zip(any_locals) {
            bound.test(raws, start, &mut hits, |j| alive[j] && !met[j], local);
            for (m, h) in met.iter_mut().zip(&hits) {
                *m |= *h;
            }
        }
        for (a, m) in alive.iter_mut().zip(&met) {
            *a &= *m;
        }
    }
    alive
        .iter()
        .enumerate()
        .filter(|(_, a)| **a)
        .map(|(j, _)| start + j)
        .collect()
}
