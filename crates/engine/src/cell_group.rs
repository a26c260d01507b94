//! A `group` stage answered from column cells: keys on top-level fields (plain, or dates
//! formatted with `date_format`) and `count`/`sum`/`average` accumulators without conditions.
//! Dates are grouped by the span their format cannot tell apart (a day for `%Y-%m-%d`) and
//! each span is formatted once; spans that format alike (`%H` of different days) are merged.
//! Anything else returns `None`, and the document engine answers, with the same results.

use super::columns::{Cell, CellKey, Column, Columns};
use super::group::Number;
use bson::{Bson, Document};
use spacejobs_query::plan::{Accumulator, GroupSpec};
use spacejobs_query::time::DateFormat;
use std::collections::HashMap;

/// Where a group key comes from.
enum KeySource<'a> {
    Plain(&'a Column),
    Dated(&'a Column, &'a DateFormat, i64),
}

impl KeySource<'_> {
    fn cells(&self) -> &Column {
        match self {
            KeySource::Plain(cells) | KeySource::Dated(cells, ..) => cells,
        }
    }

    /// The grouping cell of row `i`: the cell, or for a date the start of its span.
    fn key(&self, i: usize) -> CellKey {
        match self {
            KeySource::Plain(cells) => CellKey(cells.get(i)),
            KeySource::Dated(cells, _, span) => CellKey(match cells.get(i) {
                Cell::Date(ms) => Cell::Date(ms.div_euclid(*span) * span),
                _ => Cell::Null,
            }),
        }
    }

    /// The key's value in a result row (`None`: the field is left out).
    fn value(&self, columns: &Columns, key: CellKey) -> Option<Bson> {
        match (self, key.0) {
            (KeySource::Plain(_), cell) => columns.value(cell),
            (KeySource::Dated(_, format, _), Cell::Date(ms)) => {
                Some(format.apply(bson::DateTime::from_millis(ms)))
            }
            (KeySource::Dated(..), _) => Some(Bson::Null),
        }
    }
}

enum CellAccumulator<'a> {
    Count,
    Sum(&'a Column),
    Average(&'a Column),
}

#[derive(Clone, Copy)]
enum Total {
    Number(Number),
    Average(f64, u64),
}

impl Total {
    fn add(self, other: Total) -> Total {
        match (self, other) {
            (Total::Number(a), Total::Number(Number::Int(b))) => Total::Number(a.plus_int(b)),
            (Total::Number(a), Total::Number(Number::Float(b))) => Total::Number(a.plus_float(b)),
            (Total::Average(s, n), Total::Average(t, m)) => Total::Average(s + t, n + m),
            (a, _) => a,
        }
    }

    fn to_bson(self) -> Bson {
        match self {
            Total::Number(n) => n.to_bson(),
            Total::Average(_, 0) => Bson::Null,
            Total::Average(sum, n) => Bson::Double(sum / n as f64),
        }
    }
}

/// The span (ms) within which `format` renders every instant alike, aligned to the epoch.
fn span(format: &DateFormat) -> i64 {
    const DAY: i64 = 86_400_000;
    match format {
        DateFormat::Year | DateFormat::Month | DateFormat::Day => DAY,
        DateFormat::Pattern(p) => {
            let mut span = DAY;
            let mut chars = p.chars();
            while let Some(c) = chars.next() {
                if c == '%' {
                    span = span.min(match chars.next() {
                        Some('H') => 3_600_000,
                        Some('M') => 60_000,
                        Some('S') => 1_000,
                        Some('L') => 1,
                        _ => DAY,
                    });
                }
            }
            span
        }
    }
}

/// A group: its key cells and its totals, one per accumulator.
type Group = (Box<[CellKey]>, Vec<Total>);

/// Groups and their counts from the value index of a single plain key, when every
/// accumulator is a count and every matched row holds a string of the key: each group's
/// count is the size of its rows among `matched`, in order of first appearance.
fn counts_by_index(
    keys: &[KeySource<'_>],
    accumulators: &[CellAccumulator<'_>],
    rows: &roaring::RoaringBitmap,
) -> Option<Vec<Group>> {
    let [KeySource::Plain(cells)] = keys else {
        return None;
    };
    if !counted_on_index(keys, accumulators) {
        return None;
    }
    let index = cells.index()?;
    let mut found: Vec<(u32, u32, u64)> = index
        .strings()
        .filter_map(|(id, holding)| {
            let among = holding & rows;
            Some((among.min()?, id, among.len()))
        })
        .collect();
    // Rows holding no string of the key (absent, null, other types) take the slow path.
    if found.iter().map(|(_, _, n)| n).sum::<u64>() != rows.len() {
        return None;
    }
    found.sort_unstable();
    Some(
        found
            .into_iter()
            .map(|(_, id, n)| {
                let count = Total::Number(Number::Int(i64::try_from(n).unwrap_or(i64::MAX)));
                (
                    vec![CellKey(Cell::Str(id))].into_boxed_slice(),
                    vec![count; accumulators.len()],
                )
            })
            .collect(),
    )
}

/// Groups by the key cells and their totals, row by row, in order of first appearance.
/// `strings` is the number of interned strings: with one plain key, the groups of string
/// cells are found by string id in a table (slot + 1, 0 for none) instead of by hashing.
fn accumulate(
    keys: &[KeySource<'_>],
    accumulators: &[CellAccumulator<'_>],
    initial: &[Total],
    matched: &[usize],
    strings: usize,
) -> Vec<Group> {
    let mut index: hashbrown::HashMap<Box<[CellKey]>, usize> = hashbrown::HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut key: Vec<CellKey> = Vec::with_capacity(keys.len());
    let single = match keys {
        [KeySource::Plain(cells)] => Some(*cells),
        _ => None,
    };
    let mut by_string: Vec<u32> = vec![0; if single.is_some() { strings } else { 0 }];
    // The previous row's key and group: runs of one key skip the hash table.
    let (mut last_key, mut last_slot): (Vec<Cell>, Option<usize>) = (Vec::new(), None);
    for &i in matched {
        let string = match single.map(|cells| cells.get(i)) {
            Some(Cell::Str(id)) => Some(id as usize),
            _ => None,
        };
        let known = string
            .and_then(|id| by_string.get(id))
            .and_then(|&slot| (slot as usize).checked_sub(1));
        let slot = match known {
            Some(slot) => slot,
            None => {
                key.clear();
                key.extend(keys.iter().map(|k| k.key(i)));
                let repeated =
                    last_slot.filter(|_| last_key.iter().zip(&key).all(|(a, b)| *a == b.0));
                let slot = match repeated.or_else(|| index.get(key.as_slice()).copied()) {
                    Some(slot) => slot,
                    None => {
                        groups.push((key.clone().into_boxed_slice(), initial.to_vec()));
                        index.insert(key.clone().into_boxed_slice(), groups.len() - 1);
                        groups.len() - 1
                    }
                };
                if repeated.is_none() {
                    last_key.clear();
                    last_key.extend(key.iter().map(|k| k.0));
                    last_slot = Some(slot);
                }
                if let Some(entry) = string.and_then(|id| by_string.get_mut(id)) {
                    *entry = u32::try_from(slot + 1).unwrap_or(0);
                }
                slot
            }
        };
        for (total, acc) in groups[slot].1.iter_mut().zip(accumulators) {
            *total = match (acc, *total) {
                (CellAccumulator::Count, t) => t.add(Total::Number(Number::Int(1))),
                (CellAccumulator::Sum(cells), t) => match cells.get(i) {
                    Cell::Int(v) => t.add(Total::Number(Number::Int(v))),
                    Cell::Double(v) => t.add(Total::Number(Number::Float(v))),
                    _ => t,
                },
                (CellAccumulator::Average(cells), Total::Average(sum, n)) => match cells.get(i) {
                    Cell::Int(v) => Total::Average(sum + v as f64, n + 1),
                    Cell::Double(v) => Total::Average(sum + v, n + 1),
                    _ => Total::Average(sum, n),
                },
                (_, t) => t,
            };
        }
    }
    groups
}

/// True when `spec` can be answered from the cells of `columns` (every key and summed field
/// a top-level column, no conditional accumulator), as long as the cells it reads are plain
/// scalars.
pub fn groups_on_cells(columns: &Columns, spec: &GroupSpec) -> bool {
    sources(columns, spec).is_some()
}

/// True when `spec` counts by one plain key whose column has a value index: over rows the
/// value indexes give, [`group_counts_by_index`] answers it unless a row's key is not a
/// plain string.
pub fn counts_on_index(columns: &Columns, spec: &GroupSpec) -> bool {
    sources(columns, spec)
        .is_some_and(|(keys, accumulators)| counted_on_index(&keys, &accumulators))
}

/// True when the groups are counts by one plain key whose column has a value index.
fn counted_on_index(keys: &[KeySource<'_>], accumulators: &[CellAccumulator<'_>]) -> bool {
    matches!(keys, [KeySource::Plain(cells)] if cells.index().is_some())
        && accumulators
            .iter()
            .all(|a| matches!(a, CellAccumulator::Count))
}

/// The key columns and accumulators of `spec` over `columns`, when the cells can answer it.
fn sources<'a>(
    columns: &'a Columns,
    spec: &'a GroupSpec,
) -> Option<(Vec<KeySource<'a>>, Vec<CellAccumulator<'a>>)> {
    let column = |path: &spacejobs_query::value::FieldPath| match path.parts() {
        [field] => columns.column(field),
        _ => None,
    };
    let mut keys = Vec::with_capacity(spec.keys.len());
    for key in &spec.keys {
        let cells = column(&key.path)?;
        keys.push(match &key.date_format {
            None => KeySource::Plain(cells),
            Some(format) => KeySource::Dated(cells, format, span(format)),
        });
    }
    let mut accumulators = Vec::with_capacity(spec.fields.len());
    for (_, acc) in &spec.fields {
        accumulators.push(match acc {
            Accumulator::Count(conditions) if conditions.is_empty() => CellAccumulator::Count,
            Accumulator::Sum(path, conditions) if conditions.is_empty() => {
                CellAccumulator::Sum(column(path)?)
            }
            Accumulator::Average(path, conditions) if conditions.is_empty() => {
                CellAccumulator::Average(column(path)?)
            }
            _ => return None,
        });
    }
    Some((keys, accumulators))
}

/// Answers `spec` over the rows `matched` from `columns`, or `None` when the cells cannot.
pub fn group_cells(
    columns: &Columns,
    spec: &GroupSpec,
    matched: &[usize],
) -> Option<Vec<Document>> {
    let (keys, accumulators) = sources(columns, spec)?;
    let complex = |cells: &Column| cells.any_complex(matched);
    let complex_input = accumulators.iter().any(|a| match a {
        CellAccumulator::Sum(c) | CellAccumulator::Average(c) => complex(c),
        CellAccumulator::Count => false,
    });
    if complex_input || keys.iter().any(|k| complex(k.cells())) {
        return None;
    }
    let initial: Vec<Total> = accumulators
        .iter()
        .map(|a| match a {
            CellAccumulator::Average(_) => Total::Average(0.0, 0),
            _ => Total::Number(Number::Int(0)),
        })
        .collect();
    let by_index = || {
        if !counted_on_index(&keys, &accumulators) {
            return None;
        }
        let rows = roaring::RoaringBitmap::from_sorted_iter(
            matched
                .iter()
                .map(|&i| u32::try_from(i).unwrap_or(u32::MAX)),
        )
        .ok()?;
        counts_by_index(&keys, &accumulators, &rows)
    };
    let groups = by_index().unwrap_or_else(|| {
        let strings = columns.strings().len();
        accumulate(&keys, &accumulators, &initial, matched, strings)
    });
    Some(render_groups(columns, spec, &keys, groups))
}

/// [`group_cells`] over the rows of a bitmap, when the key's value index alone gives the
/// groups (one plain key, counts only); `None` otherwise.
pub fn group_counts_by_index(
    columns: &Columns,
    spec: &GroupSpec,
    rows: &roaring::RoaringBitmap,
) -> Option<Vec<Document>> {
    let (keys, accumulators) = sources(columns, spec)?;
    let groups = counts_by_index(&keys, &accumulators, rows)?;
    Some(render_groups(columns, spec, &keys, groups))
}

/// The groups as result rows: keys rendered (spans of a date that render alike become one
/// group, in first order), then the totals.
fn render_groups(
    columns: &Columns,
    spec: &GroupSpec,
    keys: &[KeySource<'_>],
    groups: Vec<Group>,
) -> Vec<Document> {
    // Render the keys; spans of a date that render alike become one group, in first order.
    let mut rows: Vec<(Vec<Option<Bson>>, Vec<Total>)> = Vec::with_capacity(groups.len());
    let mut rendered: HashMap<String, usize> = HashMap::new();
    for (key, totals) in groups {
        let values: Vec<Option<Bson>> = keys
            .iter()
            .zip(key.iter())
            .map(|(source, cell)| source.value(columns, *cell))
            .collect();
        let name = format!("{values:?}");
        match rendered.get(&name) {
            Some(&slot) => {
                for (t, more) in rows[slot].1.iter_mut().zip(totals) {
                    *t = t.add(more);
                }
            }
            None => {
                rendered.insert(name, rows.len());
                rows.push((values, totals));
            }
        }
    }
    rows.into_iter()
        .map(|(values, totals)| {
            let mut row = Document::new();
            for (spec_key, value) in spec.keys.iter().zip(values) {
                if let Some(value) = value {
                    row.insert(spec_key.name.clone(), value);
                }
            }
            for ((name, _), total) in spec.fields.iter().zip(totals) {
                row.insert(name.clone(), total.to_bson());
            }
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{stat, Collection};
    use bson::{doc, Bson, Document};
    use spacejobs_query::compile;
    use spacejobs_query::time::{Clock, SystemClock};

    #[test]
    fn groups_and_distinct_values_over_cells_answer_like_the_document_engine() {
        // Projects in short runs (200 of them, each string id seen many times), a key of
        // mixed types, numbers both int and double.
        let docs: Vec<Document> = (0..3000)
            .map(|i: i32| {
                let kind = match i % 5 {
                    0 => Bson::Int32(i % 3),
                    1 => Bson::Null,
                    2 => Bson::String(format!("k{}", i % 4)),
                    _ => Bson::String("k1".into()),
                };
                let n = if i % 2 == 0 {
                    Bson::Int32(i % 7)
                } else {
                    Bson::Double(0.5)
                };
                let mut d =
                    doc! {"project": format!("project-{}", (i / 3) % 200), "kind": kind, "n": n};
                if i % 9 == 0 {
                    d.remove("kind");
                }
                d
            })
            .collect();
        let collection = Collection::from_documents(docs.clone()).expect("documents");
        let group = |key: &str| {
            serde_json::json!({"aggregate": [{"group": {
                "keys": [{"key": key, "name": "k"}],
                "fields": [
                    {"name": "c", "operator": "count"},
                    {"key": "n", "name": "s", "operator": "sum"},
                    {"key": "n", "name": "a", "operator": "average"},
                ],
            }}]})
        };
        // Counts alone, over rows the value indexes find: the key's bitmaps answer.
        let counts = |key: &str, filter: serde_json::Value| {
            serde_json::json!({"filter": [filter], "aggregate": [
                {"group": {"keys": [{"key": key, "name": "k"}],
                           "fields": [{"name": "c", "operator": "count"}]}},
                {"sort": {"key": "c", "desc": true}},
            ]})
        };
        let queries = [
            counts(
                "kind",
                serde_json::json!({"k": "project", "v": ["project-1", "project-7"], "o": "in"}),
            ),
            counts(
                "project",
                serde_json::json!({"k": "kind", "v": "k1", "o": "eq"}),
            ),
            counts(
                "project",
                serde_json::json!({"k": "kind", "v": "nothing", "o": "eq"}),
            ),
            group("project"),
            group("kind"),
            serde_json::json!({"distinct": "project"}),
            serde_json::json!({"distinct": "kind"}),
        ];
        for query in queries {
            let parsed = serde_json::from_value(query.clone()).expect("query");
            let plan = compile::stat(&parsed, SystemClock.now()).expect("plan");
            let expected = stat(&docs, &plan).expect("document engine");
            let got = collection.stat(&plan, &Default::default()).expect("cells");
            assert_eq!(got, expected, "{query}");
        }
    }
}
