//! Column cells: a compact, contiguous copy of every top-level scalar field, so the common
//! filters (`eq`, `in`, comparisons, `exists`, and `contain`/`regex` with each distinct string
//! tried once, on a top-level field) and group-by on top-level keys scan flat arrays instead
//! of chasing pointers through documents.
//!
//! A cell that is not a plain scalar (an array, a sub-document, an ObjectId, …) is
//! [`Cell::Complex`]: evaluation then falls back to the document itself, so results are always
//! those of the document engine in [`super::filter`] and [`super::group`].

pub use super::cell::Cell;
use super::cell::{EMPTY_ARRAY, TAG_COMPLEX};
pub use super::column::Column;
use super::memo::{Memo, MATCH, NO_MATCH, UNTRIED};
use super::strings::{Recent, Strings};
use super::text_search;
use super::walk::{self, kind, Element};
use bson::Bson;
use hashbrown::HashMap;
use spacejobs_query::plan::{Condition, Op, Pattern};
use spacejobs_query::value::type_rank;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// A string never interned (compares unequal to every stored string).
const UNKNOWN_STRING: u32 = u32::MAX;

impl Cell {
    fn rank(self) -> u8 {
        match self {
            Cell::Missing | Cell::Null => 2,
            Cell::Int(_) | Cell::Double(_) => 3,
            Cell::Str(_) => 4,
            Cell::Bool(_) => 9,
            Cell::Date(_) => 10,
            Cell::Complex => 255,
        }
    }

    /// Equality as [`spacejobs_query::value::equal`] sees the values (Missing never equals).
    fn same(self, other: Cell) -> bool {
        match (self, other) {
            (Cell::Int(a), Cell::Int(b)) => a == b,
            (Cell::Int(a), Cell::Double(b)) | (Cell::Double(b), Cell::Int(a)) => (a as f64) == b,
            (Cell::Double(a), Cell::Double(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Cell::Str(a), Cell::Str(b)) => a == b && a != UNKNOWN_STRING,
            (Cell::Date(a), Cell::Date(b)) => a == b,
            (Cell::Bool(a), Cell::Bool(b)) => a == b,
            (Cell::Null, Cell::Null) => true,
            _ => false,
        }
    }

    /// Order within the numbers or within the dates (callers check the rank first).
    fn order(self, other: Cell) -> Ordering {
        match (self, other) {
            (Cell::Int(a), Cell::Int(b)) | (Cell::Date(a), Cell::Date(b)) => a.cmp(&b),
            (a, b) => {
                let (x, y) = (a.as_f64(), b.as_f64());
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                }
            }
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Cell::Int(i) => i as f64,
            Cell::Double(d) => d,
            _ => f64::NAN,
        }
    }
}

/// A cell as a hash-map key with `$group` equality (1 and 1.0 are one group).
#[derive(Debug, Clone, Copy)]
pub struct CellKey(pub Cell);

impl PartialEq for CellKey {
    fn eq(&self, other: &Self) -> bool {
        matches!((self.0, other.0), (Cell::Missing, Cell::Missing)) || self.0.same(other.0)
    }
}

impl Eq for CellKey {}

impl Hash for CellKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.0 {
            Cell::Missing => state.write_u8(0),
            Cell::Null => state.write_u8(1),
            Cell::Int(_) | Cell::Double(_) => {
                let f = self.0.as_f64();
                let f = if f == 0.0 { 0.0 } else { f };
                state.write_u64(f.to_bits());
            }
            Cell::Str(s) => state.write_u32(s),
            Cell::Date(d) => state.write_i64(d ^ 0x5bd1_e995),
            Cell::Bool(b) => state.write_u8(2 + u8::from(b)),
            Cell::Complex => state.write_u8(9),
        }
    }
}

/// Interned strings and one column of cells per top-level field, aligned with the documents.
#[derive(Debug, Default, Clone)]
pub struct Columns {
    strings: Strings,
    columns: Vec<Column>,
    /// Where each field's column is in `columns`.
    names: HashMap<String, usize>,
    /// The key met at each position of the last documents, and its column: documents of one
    /// shape find their columns by comparing key bytes, without hashing.
    hints: Vec<(Box<[u8]>, usize)>,
    /// The strings each column interned lately (by position in `columns`).
    recent: Vec<Recent>,
    rows: usize,
    /// Value indexes are paused (during a bulk load).
    unindexed: bool,
    /// Fields whose value index has no limit on distinct strings ([`Self::index_every_value`]).
    unbounded: Vec<String>,
}

impl Columns {
    /// Appends the cells of one more document, given as its BSON bytes.
    pub fn push(&mut self, doc: &[u8]) {
        self.rows += 1;
        for column in self.columns.iter_mut() {
            column.push_missing();
        }
        self.fill(self.rows - 1, doc, |_| {});
        for column in self.columns.iter_mut() {
            column.settle_order();
        }
    }

    /// Replaces the cells of row `row` with those of `doc` (BSON bytes; bytes that are not a
    /// document leave every cell missing).
    pub fn set(&mut self, row: usize, doc: &[u8]) {
        // Cells that keep their value are not touched (their sorted orders stay).
        let mut written = Vec::new();
        self.fill(row, doc, |slot| written.push(slot));
        for (slot, column) in self.columns.iter_mut().enumerate() {
            if !written.contains(&slot) {
                column.set(row, Cell::Missing);
            }
        }
    }

    /// Writes the cells of row `row` from `doc`, telling `written` the slot of each column
    /// written.
    fn fill(&mut self, row: usize, doc: &[u8], mut written: impl FnMut(usize)) {
        for (position, element) in walk::elements(doc).enumerate() {
            let slot = match self.hints.get(position) {
                Some((key, slot)) if **key == *element.key => *slot,
                _ => {
                    let Ok(key) = std::str::from_utf8(element.key) else {
                        continue;
                    };
                    let slot = self.slot(key);
                    let hint = (Box::from(element.key), slot);
                    let known = self.hints.len();
                    match self.hints.get_mut(position) {
                        Some(old) => *old = hint,
                        None if position == known => self.hints.push(hint),
                        None => {}
                    }
                    slot
                }
            };
            let encoded = if element.kind == kind::ARRAY && element.value.len() <= 5 {
                (TAG_COMPLEX, EMPTY_ARRAY)
            } else {
                self.cell_of(element, slot).tagged()
            };
            if let Some(column) = self.columns.get_mut(slot) {
                column.set_encoded(row, encoded);
                written(slot);
            }
        }
    }

    /// The position of the column of `field`, made (all missing) when new.
    fn slot(&mut self, field: &str) -> usize {
        if let Some(&slot) = self.names.get(field) {
            return slot;
        }
        let unbounded = self.unbounded.iter().any(|f| f == field);
        self.columns
            .push(Column::missing(self.rows, !self.unindexed, unbounded));
        self.recent.push(Recent::default());
        self.names.insert(field.to_string(), self.columns.len() - 1);
        self.columns.len() - 1
    }

    /// Keeps a value index of `field` however many distinct strings it holds: for a
    /// reference looked up one value at a time (a task's `job_id`: every finish asks for its
    /// job's tasks), which would otherwise be scanned for once the ids pass
    /// [`super::value_index::MOST_VALUES`]. An index costs about 100 bytes a distinct value.
    pub fn index_every_value(&mut self, field: &str) {
        if self.unbounded.iter().any(|f| f == field) {
            return;
        }
        self.unbounded.push(field.to_string());
        if let Some(&slot) = self.names.get(field) {
            self.columns[slot].index_unbounded(!self.unindexed);
        }
    }

    /// No rows, indexed like these columns ([`Self::index_every_value`] carried over).
    pub fn empty_like(&self) -> Columns {
        Columns {
            unbounded: self.unbounded.clone(),
            ..Columns::default()
        }
    }

    /// Keeps the rows whose flag in `keep` is true (one flag per row), in order.
    pub fn retain(&mut self, keep: &[bool]) {
        for column in self.columns.iter_mut() {
            column.retain(keep);
        }
        self.rows = keep.iter().filter(|k| **k).count() + self.rows.saturating_sub(keep.len());
    }

    /// Makes room for about `rows` more rows (before a bulk load): their distinct strings,
    /// counted as two a row (ids that differ in every document), are hashed only once.
    pub fn reserve(&mut self, rows: usize) {
        self.strings.reserve(rows.saturating_mul(2));
    }

    /// Stops keeping value indexes, until [`Self::resume_indexes`] (a bulk load then builds
    /// each index once, in parallel, instead of row by row).
    pub fn pause_indexes(&mut self) {
        self.unindexed = true;
        for column in self.columns.iter_mut() {
            column.drop_index();
        }
    }

    /// Builds every column's value index again (on rayon, a column a task) and keeps them
    /// from now on.
    pub fn resume_indexes(&mut self) {
        use rayon::prelude::*;
        self.unindexed = false;
        self.columns
            .par_iter_mut()
            .for_each(|column| column.rebuild_index());
    }

    /// Gives back spare capacity (after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.strings.shrink_to_fit();
        for column in self.columns.iter_mut() {
            column.shrink_to_fit();
        }
    }

    /// The column of a top-level field, if any document has it.
    pub fn column(&self, field: &str) -> Option<&Column> {
        self.names
            .get(field)
            .and_then(|&slot| self.columns.get(slot))
    }

    /// The interned strings.
    pub fn strings(&self) -> &Strings {
        &self.strings
    }

    /// See [`Strings::install_table`].
    pub(super) fn install_strings_table(
        &mut self,
        table: hashbrown::HashTable<u32>,
    ) -> hashbrown::HashTable<u32> {
        self.strings.install_table(table)
    }

    /// Orders two scalar cells as [`spacejobs_query::value::compare`] orders their values (missing as
    /// null; strings bytewise).
    pub fn compare_cells(&self, a: Cell, b: Cell) -> Ordering {
        let (ra, rb) = (a.rank(), b.rank());
        if ra != rb {
            return ra.cmp(&rb);
        }
        match (a, b) {
            (Cell::Str(x), Cell::Str(y)) => self.strings.get(x).cmp(self.strings.get(y)),
            (Cell::Bool(x), Cell::Bool(y)) => x.cmp(&y),
            (Cell::Int(_) | Cell::Double(_), _) | (Cell::Date(_), _) => a.order(b),
            _ => Ordering::Equal,
        }
    }

    /// The value a cell stands for (`None` for Missing and Complex).
    pub fn value(&self, cell: Cell) -> Option<Bson> {
        Some(match cell {
            Cell::Missing | Cell::Complex => return None,
            Cell::Null => Bson::Null,
            Cell::Int(i) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
            Cell::Double(d) => Bson::Double(d),
            Cell::Str(s) => Bson::String(self.strings.get(s).to_string()),
            Cell::Date(d) => Bson::DateTime(bson::DateTime::from_millis(d)),
            Cell::Bool(b) => Bson::Boolean(b),
        })
    }

    /// The cell of an element of the column at `slot` (interning a string).
    fn cell_of(&mut self, element: Element<'_>, slot: usize) -> Cell {
        let bits = |e: Element<'_>| e.u64().unwrap_or_default();
        match element.kind {
            kind::NULL | kind::UNDEFINED => Cell::Null,
            kind::INT32 => element
                .i32()
                .map_or(Cell::Complex, |i| Cell::Int(i64::from(i))),
            kind::INT64 => Cell::Int(bits(element) as i64),
            kind::DOUBLE => Cell::Double(f64::from_bits(bits(element))),
            kind::DATETIME => Cell::Date(bits(element) as i64),
            kind::BOOLEAN => Cell::Bool(element.value.first().is_some_and(|b| *b != 0)),
            kind::STRING => {
                let interned = match (element.str(), self.recent.get_mut(slot)) {
                    (Some(s), Some(recent)) => self.strings.intern_recent(s, recent),
                    (Some(s), None) => self.strings.intern(s),
                    (None, _) => None,
                };
                interned.map_or(Cell::Complex, Cell::Str)
            }
            _ => Cell::Complex,
        }
    }

    /// A filter value as a cell, without interning (unknown strings match nothing).
    fn probe(&self, value: &Bson) -> Option<Cell> {
        let cell = match value {
            Bson::String(s) => Cell::Str(self.strings.find(s).unwrap_or(UNKNOWN_STRING)),
            Bson::Null | Bson::Undefined => Cell::Null,
            Bson::Int32(i) => Cell::Int(i64::from(*i)),
            Bson::Int64(i) => Cell::Int(*i),
            Bson::Double(d) => Cell::Double(*d),
            Bson::DateTime(d) => Cell::Date(d.timestamp_millis()),
            Bson::Boolean(b) => Cell::Bool(*b),
            _ => return None,
        };
        (cell.rank() == type_rank(value)).then_some(cell)
    }

    /// Binds a condition to a column test when its field is top-level and its operator and
    /// value are ones the cells answer exactly; `None` means "evaluate on documents".
    pub fn bind<'a>(&'a self, condition: &'a Condition) -> Option<CellTest<'a>> {
        let [field] = condition.path.parts() else {
            return None;
        };
        self.column(field)?;
        let probe = |v: &Bson| self.probe(v);
        let ordered = |v: &Bson| {
            probe(v).filter(|c| matches!(c, Cell::Int(_) | Cell::Double(_) | Cell::Date(_)))
        };
        Some(match &condition.op {
            Op::Eq(v) => CellTest::In(vec![probe(v)?], false),
            Op::Ne(v) => CellTest::In(vec![probe(v)?], true),
            Op::In(vs) => CellTest::In(vs.iter().map(probe).collect::<Option<_>>()?, false),
            Op::NotIn(vs) => CellTest::In(vs.iter().map(probe).collect::<Option<_>>()?, true),
            Op::Exists(e) => CellTest::Exists(*e),
            Op::Lt(v) => CellTest::Compare(ordered(v)?, Cmp::Lt),
            Op::Lte(v) => CellTest::Compare(ordered(v)?, Cmp::Lte),
            Op::Gt(v) => CellTest::Compare(ordered(v)?, Cmp::Gt),
            Op::Gte(v) => CellTest::Compare(ordered(v)?, Cmp::Gte),
            Op::Matches(patterns) | Op::NotMatches(patterns) => {
                let negate = matches!(condition.op, Op::NotMatches(_));
                self.bind_patterns(field, patterns, negate)
            }
            _ => return None,
        })
    }
}

impl Columns {
    /// The test of a string column against `patterns`: on a column with a value index, the
    /// patterns tried once on each of its strings (few matching: equality to those, which
    /// the index answers); else each row's string, remembering what each distinct string
    /// gave when a pattern needs the regex (literal searches are cheaper than the memo).
    fn bind_patterns<'a>(
        &'a self,
        field: &str,
        patterns: &'a [Pattern],
        negate: bool,
    ) -> CellTest<'a> {
        let matches = |id: u32| patterns.iter().any(|p| p.is_match(self.strings.get(id)));
        let index = self.column(field).and_then(Column::index);
        let memo = if let Some(index) = index {
            let (hits, misses): (Vec<u32>, Vec<u32>) = index
                .strings()
                .map(|(id, _)| id)
                .partition(|&id| matches(id));
            if hits.len() <= MOST_EQUAL {
                return CellTest::In(hits.into_iter().map(Cell::Str).collect(), negate);
            }
            let memo = self.untried_memo();
            for (ids, tried) in [(hits, MATCH), (misses, NO_MATCH)] {
                for id in ids {
                    memo.set(id as usize, tried);
                }
            }
            memo
        } else {
            let needles: Option<Vec<&[u8]>> = patterns
                .iter()
                .map(|p| p.ascii_literal.as_deref())
                .collect();
            let rows = self.column(field).map_or(0, Column::len);
            let (text, _) = self.strings.arena();
            match needles {
                // Literals, and an arena not much larger than the rows' strings: one pass
                // over the arena instead of a search per row.
                Some(needles) if text.len() <= rows.saturating_mul(ARENA_BYTES_PER_ROW) => {
                    text_search::search(&self.strings, &needles).unwrap_or_default()
                }
                Some(_) => Memo::default(),
                None => self.untried_memo(),
            }
        };
        CellTest::Matches {
            patterns,
            strings: &self.strings,
            memo,
            negate,
        }
    }

    fn untried_memo(&self) -> Memo {
        Memo::new(self.strings.len(), UNTRIED)
    }
}

/// Largest arena, per row of the column, that a literal search covers in one pass (a row's
/// own search costs about as much as a pass over a few hundred arena bytes).
const ARENA_BYTES_PER_ROW: usize = 128;

/// Most strings a pattern test on an indexed column becomes equality to.
const MOST_EQUAL: usize = 64;

/// The ordering a comparison accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
}

impl Cmp {
    /// True when `o` (the cell against the value) is accepted.
    pub fn accepts(self, o: Ordering) -> bool {
        match self {
            Cmp::Lt => o == Ordering::Less,
            Cmp::Lte => o != Ordering::Greater,
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Gte => o != Ordering::Less,
        }
    }
}

/// A condition answered from one cell (never called with [`Cell::Complex`]).
#[derive(Debug)]
pub enum CellTest<'a> {
    /// Equal to any of the values (null also matches Missing); negated when the flag is set.
    In(Vec<Cell>, bool),
    /// Present or absent.
    Exists(bool),
    /// Same type class and the ordering is accepted.
    Compare(Cell, Cmp),
    /// A string matching any of the patterns (negated: none matching, or not a string).
    /// With a `memo`, each distinct string is tried about once per scan (untried, 1 match,
    /// 2 no match; shared by the threads of a parallel scan); without one (empty), each
    /// row's string is tried.
    Matches {
        /// The patterns.
        patterns: &'a [Pattern],
        /// The interned strings, by id.
        strings: &'a Strings,
        /// What each string gave.
        memo: Memo,
        /// `not_contain`: true when no pattern matches.
        negate: bool,
    },
}

impl CellTest<'_> {
    /// Evaluates the test on a scalar cell.
    pub fn eval(&self, cell: Cell) -> bool {
        self.eval_with(cell, None)
    }

    /// The patterns of a [`CellTest::Matches`].
    pub fn patterns(&self) -> Option<&[Pattern]> {
        match self {
            CellTest::Matches { patterns, .. } => Some(patterns),
            _ => None,
        }
    }

    /// [`Self::eval`], with `local` copies of the patterns when given (a copied regex has its
    /// own cache pool, fastest on the thread that uses it first).
    pub fn eval_with(&self, cell: Cell, local: Option<&[Pattern]>) -> bool {
        match self {
            CellTest::In(values, negate) => {
                let hit = values.iter().any(|v| match v {
                    Cell::Null => matches!(cell, Cell::Null | Cell::Missing),
                    v => v.same(cell),
                });
                hit != *negate
            }
            CellTest::Exists(expected) => !matches!(cell, Cell::Missing) == *expected,
            CellTest::Compare(value, cmp) => {
                cell.rank() == value.rank() && cmp.accepts(cell.order(*value))
            }
            CellTest::Matches {
                patterns,
                strings,
                memo,
                negate,
            } => {
                let hit = match cell {
                    Cell::Str(id) => {
                        let tried = || {
                            let text = strings.get(id);
                            local.unwrap_or(patterns).iter().any(|p| p.is_match(text))
                        };
                        match memo.get(id as usize) {
                            Some(UNTRIED) => {
                                let hit = tried();
                                memo.set(id as usize, if hit { MATCH } else { NO_MATCH });
                                hit
                            }
                            Some(seen) => seen == MATCH,
                            None => tried(),
                        }
                    }
                    _ => false,
                };
                hit != *negate
            }
        }
    }
}
