//! `unwind` then `group`, answered from the stored BSON bytes: only the rows an array
//! actually unwinds into are built, each holding just the paths the group reads, and the
//! document engine's [`group`] makes the result (so it is exactly the engine's); a group of
//! plain counts by string keys is counted on the bytes themselves, building no row at all.
//! Documents whose array is empty or missing cost one field lookup. Anything the bytes cannot
//! give without the engine's array rules (a read path through another array, nested paths
//! that overlap) returns `None`, and the caller evaluates the pipeline on documents.

use super::columns::{Cell, Column};
use super::group::{group, Number};
use super::list::set_path;
use super::reads::accumulator_paths;
use super::walk::{self, kind, Element};
use super::Collection;
use bson::{Bson, Document};
use hashbrown::HashMap;
use rayon::prelude::*;
use spacejobs_core::error::Result;
use spacejobs_exec::{Deadline, CHECK_EVERY};
use spacejobs_query::plan::{Accumulator, GroupSpec};
use spacejobs_query::value::FieldPath;
use std::borrow::Cow;

/// A path read by the group, split at the unwound field.
enum Read<'a> {
    /// Under the unwound element: the element itself (`[]`) or a path inside it.
    Element(&'a [String]),
    /// Elsewhere in the document.
    Document(&'a [String]),
}

/// The rows of `unwind <unwound>` over `matched`, grouped by `spec`; `None` when the bytes
/// cannot answer it exactly.
pub fn unwind_group(
    collection: &Collection,
    matched: &[usize],
    unwound: &FieldPath,
    spec: &GroupSpec,
    deadline: &Deadline,
) -> Result<Option<Vec<Document>>> {
    let [top] = unwound.parts() else {
        return Ok(None);
    };
    let paths = group_paths(spec);
    for (i, a) in paths.iter().enumerate() {
        let overlaps = paths.iter().skip(i + 1).any(|b| {
            let n = a.parts().len().min(b.parts().len());
            a.parts()[..n] == b.parts()[..n]
        });
        if overlaps {
            return Ok(None);
        }
    }
    let reads: Vec<(&FieldPath, Read<'_>)> = paths
        .iter()
        .map(|p| match p.parts().split_first() {
            Some((first, rest)) if first == top => (*p, Read::Element(rest)),
            _ => (*p, Read::Document(p.parts())),
        })
        .collect();
    if let Some(counted) = count_group(collection, matched, top, &reads, spec, deadline)? {
        return Ok(Some(counted));
    }
    let mut rows = Vec::new();
    for chunk in matched.chunks(CHECK_EVERY) {
        deadline.check()?;
        let complete = for_each_row(collection, chunk, top, |document, element| {
            let mut row = Document::new();
            for (path, read) in &reads {
                let found = match read {
                    Read::Element(rest) => walk_path(element, rest),
                    Read::Document(parts) => walk_path(document_element(document), parts),
                };
                match found.map(|found| found.map(|e| e.to_bson())) {
                    Ok(Some(Some(value))) => set_path(&mut row, path.parts(), value),
                    Ok(None) => {}
                    Ok(Some(None)) | Err(()) => return false,
                }
            }
            rows.push(row);
            true
        });
        if !complete {
            return Ok(None);
        }
    }
    deadline.check()?;
    let rows: Vec<Cow<'_, Document>> = rows.into_iter().map(Cow::Owned).collect();
    group(&rows, spec, deadline).map(Some)
}

/// Calls `each(document, element)` for every row `unwind <top>` makes of `rows`, in order;
/// false as soon as `each` returns false (the bytes cannot answer).
fn for_each_row<'c>(
    collection: &'c Collection,
    rows: &[usize],
    top: &str,
    mut each: impl FnMut(&'c [u8], Element<'c>) -> bool,
) -> bool {
    let cells = collection.columns().column(top);
    for &i in rows {
        if unwinds_to_nothing(cells, i) {
            continue;
        }
        let Some(document) = collection.raw_bytes(i) else {
            continue;
        };
        let Some(value) = walk::find(document, top) else {
            continue;
        };
        let complete = match value.kind {
            kind::NULL => true,
            kind::ARRAY => walk::elements(value.value).all(|e| each(document, e)),
            _ => each(document, value),
        };
        if !complete {
            return false;
        }
    }
    true
}

/// True when the cells tell that row `i` unwinds into no row (array empty, missing, null).
fn unwinds_to_nothing(cells: Option<&Column>, i: usize) -> bool {
    cells.is_none_or(|c| c.is_empty_array(i) || matches!(c.get(i), Cell::Missing | Cell::Null))
}

/// A whole document as an element, to walk paths from its top.
fn document_element(bytes: &[u8]) -> Element<'_> {
    Element {
        key: b"",
        kind: kind::DOCUMENT,
        value: bytes,
    }
}

/// The element at `parts` under `element` (a leaf array whole): `Ok(None)` when missing,
/// `Err(())` when the path goes through an array.
fn walk_path<'a>(
    element: Element<'a>,
    parts: &[String],
) -> std::result::Result<Option<Element<'a>>, ()> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(Some(element));
    };
    match element.kind {
        kind::DOCUMENT => match walk::find(element.value, first) {
            Some(inner) => walk_path(inner, rest),
            None => Ok(None),
        },
        kind::ARRAY => Err(()),
        _ => Ok(None),
    }
}

/// Matched rows a parallel task of [`count_group`] counts.
const ROWS_A_TASK: usize = 4096;

/// Counts by key, in order of first appearance.
#[derive(Default)]
struct Counts<'c> {
    index: HashMap<Vec<KeyPart<'c>>, usize>,
    groups: Vec<(Vec<KeyPart<'c>>, i64)>,
}

impl<'c> Counts<'c> {
    fn add(&mut self, key: &[KeyPart<'c>], n: i64) {
        match self.index.get(key) {
            Some(&slot) => self.groups[slot].1 += n,
            None => {
                self.index.insert(key.to_vec(), self.groups.len());
                self.groups.push((key.to_vec(), n));
            }
        }
    }
}

/// The counts of the rows `unwind <top>` makes of `rows`; `None` when a key is not a
/// string, null or absent.
fn count_rows<'c>(
    collection: &'c Collection,
    rows: &[usize],
    top: &str,
    key_reads: &[&Read<'_>],
) -> Option<Counts<'c>> {
    let mut counts = Counts::default();
    let mut key = Vec::with_capacity(key_reads.len());
    let mut count = |document: &'c [u8], element: Element<'c>| -> bool {
        key.clear();
        for read in key_reads {
            let found = match read {
                Read::Element(rest) => walk_path(element, rest),
                Read::Document(parts) => walk_path(document_element(document), parts),
            };
            let part = match found {
                Ok(None) => KeyPart::Missing,
                Ok(Some(e)) if e.kind == kind::NULL => KeyPart::Null,
                Ok(Some(e)) => match e.str() {
                    Some(s) => KeyPart::Str(s),
                    None => return false,
                },
                Err(()) => return false,
            };
            key.push(part);
        }
        counts.add(&key, 1);
        true
    };
    for_each_row(collection, rows, top, &mut count).then_some(counts)
}

/// A group key value the bytes compare exactly: absent, null, or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum KeyPart<'a> {
    Missing,
    Null,
    Str(&'a str),
}

/// Groups counted straight from the bytes, without a row document: when every accumulator
/// is an unconditional `count` and every key (no date format) is a string, null or absent.
/// Groups come in order of first appearance, as [`group`] gives them; `None` otherwise.
fn count_group<'c>(
    collection: &'c Collection,
    matched: &[usize],
    top: &str,
    reads: &[(&FieldPath, Read<'_>)],
    spec: &GroupSpec,
    deadline: &Deadline,
) -> Result<Option<Vec<Document>>> {
    let counts_only = spec
        .fields
        .iter()
        .all(|(_, acc)| matches!(acc, Accumulator::Count(conds) if conds.is_empty()));
    if !counts_only || spec.keys.iter().any(|k| k.date_format.is_some()) {
        return Ok(None);
    }
    let key_reads: Option<Vec<&Read<'_>>> = spec
        .keys
        .iter()
        .map(|k| {
            reads
                .iter()
                .find(|(p, _)| p.parts() == k.path.parts())
                .map(|(_, r)| r)
        })
        .collect();
    let Some(key_reads) = key_reads else {
        return Ok(None);
    };
    let chunks: Vec<Option<Counts<'c>>> = matched
        .par_chunks(ROWS_A_TASK)
        .map(|rows| {
            deadline.check()?;
            Ok(count_rows(collection, rows, top, &key_reads))
        })
        .collect::<Result<_>>()?;
    let mut counts = Counts::default();
    for chunk in chunks {
        let Some(chunk) = chunk else {
            return Ok(None);
        };
        for (key, n) in chunk.groups {
            counts.add(&key, n);
        }
    }
    let groups = counts.groups;
    Ok(Some(
        groups
            .into_iter()
            .map(|(key, n)| {
                let mut out = Document::new();
                for (k, part) in spec.keys.iter().zip(key) {
                    match part {
                        KeyPart::Missing => {}
                        KeyPart::Null => {
                            out.insert(k.name.clone(), Bson::Null);
                        }
                        KeyPart::Str(s) => {
                            out.insert(k.name.clone(), s);
                        }
                    }
                }
                for (name, _) in &spec.fields {
                    out.insert(name.clone(), Number::Int(n).to_bson());
                }
                out
            })
            .collect(),
    ))
}

/// Every path the group stage reads.
fn group_paths(spec: &GroupSpec) -> Vec<&FieldPath> {
    let mut paths: Vec<&FieldPath> = spec.keys.iter().map(|k| &k.path).collect();
    for (_, accumulator) in &spec.fields {
        paths.extend(accumulator_paths(accumulator));
    }
    paths.sort_by(|a, b| a.parts().cmp(b.parts()));
    paths.dedup_by(|a, b| a.parts() == b.parts());
    paths
}
