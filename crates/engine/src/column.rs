//! [`Column`]: the cells of one field, packed, one per row of a collection.

use super::cell::{Cell, EMPTY_ARRAY, TAG_COMPLEX, TAG_MISSING, TAG_STR};
use super::sorted::SortedRows;
use super::value_index::{ValueIndex, MOST_VALUES};

/// The cells of one field, one per row, packed as a type tag and 8 bytes of value (9 bytes a
/// cell instead of the 16 of a [`Cell`]), with the rows of each string while the column has
/// few distinct strings, and (made when first sorted on) the rows in the order of the cells.
#[derive(Debug, Default, Clone)]
pub struct Column {
    tags: Vec<u8>,
    bits: Vec<u64>,
    index: Option<Box<ValueIndex>>,
    /// The value index is kept however many strings the column holds (a reference such as a
    /// task's `job_id`, looked up one value at a time), not dropped past [`MOST_VALUES`].
    unbounded: bool,
    /// The rows in the order of the cells (dates or integers), once sorted on.
    sorted: SortedRows,
}

impl Column {
    /// `rows` missing cells, with a value index when `indexed` (kept past [`MOST_VALUES`]
    /// strings when `unbounded`).
    pub(super) fn missing(rows: usize, indexed: bool, unbounded: bool) -> Self {
        Column {
            tags: vec![TAG_MISSING; rows],
            bits: vec![0; rows],
            index: indexed.then(Box::default),
            unbounded,
            sorted: SortedRows::default(),
        }
    }

    /// Drops the value index (before a bulk load; [`Self::rebuild_index`] makes it again).
    pub(super) fn drop_index(&mut self) {
        self.index = None;
    }

    /// Keeps the value index however many strings the column holds (built now, unless
    /// indexes are paused: `indexed` false).
    pub(super) fn index_unbounded(&mut self, indexed: bool) {
        self.unbounded = true;
        if indexed {
            self.rebuild_index();
        }
    }

    /// Builds the value index from the cells, unless the column has too many strings.
    pub(super) fn rebuild_index(&mut self) {
        self.index = None;
        let mut by_string: hashbrown::HashMap<u32, Vec<u32>> = hashbrown::HashMap::new();
        let mut complex = Vec::new();
        for (row, (&tag, &bits)) in self.tags.iter().zip(&self.bits).enumerate() {
            let Ok(row) = u32::try_from(row) else {
                return;
            };
            match tag {
                TAG_STR => {
                    let id = bits as u32;
                    let full = !self.unbounded && by_string.len() >= MOST_VALUES;
                    if full && !by_string.contains_key(&id) {
                        return;
                    }
                    by_string.entry(id).or_default().push(row);
                }
                TAG_COMPLEX => complex.push(row),
                _ => {}
            }
        }
        self.index = Some(Box::new(ValueIndex::from_rows(by_string, complex)));
    }

    /// The rows of each string, while the column has few distinct strings.
    pub fn index(&self) -> Option<&ValueIndex> {
        self.index.as_deref()
    }

    /// Records cell `(tag, bits)` at `row` in the index (dropping an index that grew too
    /// large to be worth it).
    fn index_cell(&mut self, row: usize, tag: u8, bits: u64) {
        let most = if self.unbounded {
            usize::MAX
        } else {
            MOST_VALUES
        };
        let Some(index) = self.index.as_deref_mut() else {
            return;
        };
        let kept = match (u32::try_from(row), tag) {
            (Ok(row), TAG_STR) => index.add_string(row, bits as u32, most),
            (Ok(row), TAG_COMPLEX) => {
                index.add_complex(row);
                true
            }
            (Ok(_), _) => true,
            (Err(_), _) => false,
        };
        if !kept {
            self.index = None;
        }
    }

    /// Removes cell `(tag, bits)` at `row` from the index.
    fn unindex_cell(&mut self, row: usize, tag: u8, bits: u64) {
        let (Some(index), Ok(row)) = (self.index.as_deref_mut(), u32::try_from(row)) else {
            return;
        };
        match tag {
            TAG_STR => index.remove(row, Some(bits as u32)),
            TAG_COMPLEX => index.remove(row, None),
            _ => {}
        }
    }

    /// True when the cells are all dates or all integers: the column has a sorted order
    /// ([`Self::sorted_rows`]), made or not yet.
    pub fn sortable(&self) -> bool {
        self.sorted.sortable(&self.tags)
    }

    /// Every row in ascending order of the cells, ties in row order, when the cells are all
    /// dates or all integers (made on first use, in parallel); `None` for other columns.
    pub fn sorted_rows(&self) -> Option<&[u32]> {
        self.sorted.get(&self.tags, &self.bits)
    }

    /// Drops a sorted order that does not cover every row (after a row was appended without
    /// a cell in this column).
    pub(super) fn settle_order(&mut self) {
        self.sorted.settle(self.tags.len());
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The cell of row `row` (Missing past the end).
    pub fn get(&self, row: usize) -> Cell {
        match (self.tags.get(row), self.bits.get(row)) {
            (Some(&tag), Some(&bits)) => Cell::from_tagged(tag, bits),
            _ => Cell::Missing,
        }
    }

    /// The packed tags, one per row.
    pub(super) fn tags(&self) -> &[u8] {
        &self.tags
    }

    /// The packed value bits, one per row.
    pub(super) fn bits(&self) -> &[u64] {
        &self.bits
    }

    /// True when row `row` holds an empty array (a [`Cell::Complex`] that unwinds to no row).
    pub fn is_empty_array(&self, row: usize) -> bool {
        self.tags.get(row) == Some(&TAG_COMPLEX) && self.bits.get(row) == Some(&EMPTY_ARRAY)
    }

    pub(super) fn set(&mut self, row: usize, cell: Cell) {
        self.set_encoded(row, cell.tagged());
    }

    pub(super) fn set_encoded(&mut self, row: usize, (tag, bits): (u8, u64)) {
        let (Some(&old_tag), Some(&old_bits)) = (self.tags.get(row), self.bits.get(row)) else {
            return;
        };
        if (old_tag, old_bits) == (tag, bits) {
            return;
        }
        self.unindex_cell(row, old_tag, old_bits);
        self.index_cell(row, tag, bits);
        // A row appended to the cells gets its first cell here.
        let appended = row + 1 == self.tags.len() && old_tag == TAG_MISSING;
        self.sorted.on_write(row, appended, tag, bits, &self.bits);
        self.tags[row] = tag;
        self.bits[row] = bits;
    }

    pub(super) fn push_missing(&mut self) {
        self.tags.push(TAG_MISSING);
        self.bits.push(0);
    }

    /// True when any of `rows` holds [`Cell::Complex`].
    pub fn any_complex(&self, rows: &[usize]) -> bool {
        rows.iter()
            .any(|&i| self.tags.get(i).is_some_and(|&t| t == TAG_COMPLEX))
    }

    pub(super) fn retain(&mut self, keep: &[bool]) {
        self.sorted.reset();
        let mut flags = keep.iter();
        self.tags.retain(|_| flags.next().copied().unwrap_or(true));
        let mut flags = keep.iter();
        self.bits.retain(|_| flags.next().copied().unwrap_or(true));
        if self.index.is_some() {
            self.rebuild_index();
        }
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.tags.shrink_to_fit();
        self.bits.shrink_to_fit();
        if let Some(index) = self.index.as_deref_mut() {
            index.shrink_to_fit();
        }
    }
}
