//! [`SortedRows`]: a column's rows in the order of its cells, for columns whose cells are all
//! dates or all integers. Made by the first sort on the column (in parallel), then kept
//! through writes: a changed cell moves its row (a binary search and a shift), an appended
//! row goes in its place (at the end when it is the newest); a cell of another type or
//! removed rows drop it, and the next sort decides again (as does a date or integer written
//! to a column found unsortable).

use super::cell::{TAG_DATE, TAG_INT};
use std::sync::OnceLock;

/// The rows of a column in ascending `(value, row)` order, with the one tag all its cells
/// have.
#[derive(Debug, Clone)]
struct Sorted {
    tag: u8,
    rows: Vec<u32>,
}

/// A column's sorted rows: not decided yet, decided unsortable (`None` inside), or made.
#[derive(Debug, Default, Clone)]
pub(super) struct SortedRows(OnceLock<Option<Sorted>>);

/// The tag all `tags` share when it is a date or an integer.
fn sortable_tag(tags: &[u8]) -> Option<u8> {
    let tag = *tags.first()?;
    ((tag == TAG_DATE || tag == TAG_INT) && tags.iter().all(|&t| t == tag)).then_some(tag)
}

impl SortedRows {
    /// True when the cells are all dates or all integers (made or not).
    pub(super) fn sortable(&self, tags: &[u8]) -> bool {
        match self.0.get() {
            Some(decided) => decided.is_some(),
            None => sortable_tag(tags).is_some(),
        }
    }

    /// Every row in ascending order of the cells (`bits` read as `i64`), ties in row order;
    /// made on first use; `None` for a column of other cells.
    pub(super) fn get(&self, tags: &[u8], bits: &[u64]) -> Option<&[u32]> {
        let sorted = self.0.get_or_init(|| {
            use rayon::slice::ParallelSliceMut;
            let tag = sortable_tag(tags)?;
            let mut keyed: Vec<(i64, u32)> = Vec::with_capacity(bits.len());
            for (row, &value) in bits.iter().enumerate() {
                keyed.push((value as i64, u32::try_from(row).ok()?));
            }
            keyed.par_sort_unstable();
            Some(Sorted {
                tag,
                rows: keyed.into_iter().map(|(_, row)| row).collect(),
            })
        });
        sorted
            .as_ref()
            .map(|s| s.rows.as_slice())
            .filter(|rows| rows.len() == tags.len())
    }

    /// Keeps the order through cell `(tag, value)` about to be written at `row`, where
    /// `bits` still holds the old values and `appended` says the row is new (not in the
    /// order yet).
    pub(super) fn on_write(
        &mut self,
        row: usize,
        appended: bool,
        tag: u8,
        value: u64,
        bits: &[u64],
    ) {
        let kept = match (self.0.get_mut(), u32::try_from(row)) {
            (None, _) => return,
            // Decided unsortable: only a date or an integer may change that.
            (Some(None), _) => tag != TAG_DATE && tag != TAG_INT,
            (Some(Some(sorted)), Ok(row)) if sorted.tag == tag => {
                let key = |r: u32| (bits.get(r as usize).map_or(0, |&b| b as i64), r);
                if !appended {
                    match sorted.rows.binary_search_by_key(&key(row), |&r| key(r)) {
                        Ok(at) => {
                            sorted.rows.remove(at);
                        }
                        Err(_) => return self.reset(),
                    }
                }
                let new = (value as i64, row);
                let at = sorted.rows.partition_point(|&r| key(r) < new);
                sorted.rows.insert(at, row);
                true
            }
            _ => false,
        };
        if !kept {
            self.reset();
        }
    }

    /// Drops an order that does not cover `rows` rows (a row was appended without a cell in
    /// this column).
    pub(super) fn settle(&mut self, rows: usize) {
        if let Some(Some(sorted)) = self.0.get() {
            if sorted.rows.len() != rows {
                self.reset();
            }
        }
    }

    /// Forgets the order (and whether the column is sortable).
    pub(super) fn reset(&mut self) {
        self.0 = OnceLock::new();
    }
}
