//! `unwind` then `group`, answered from the stored BSON bytes: only the rows an array
//! actually unwinds into are built, each holding just the paths the group reads, and the
//! document engine's [`group`] makes the result (so it is exactly the engine's).
//! Documents whose array is empty or missing cost one field lookup. Anything the bytes cannot
//! give without the engine's array rules (a read path through another array, nested paths
//! that overlap) returns `None`, and the caller evaluates the pipeline on documents.

use super::columns::Cell;
use super::group::group;
use super::list::set_path;
use super::reads::accumulator_paths;
use super::Collection;
use crate::error::Result;
use crate::exec::{Deadline, CHECK_EVERY};
use crate::query::plan::GroupSpec;
use crate::value::FieldPath;
use bson::{Bson, Document, RawBsonRef, RawDocument};
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
    let cells = collection.columns().column(top);
    let unwinds_to_nothing = |i: usize| {
        cells.is_none_or(|c| c.is_empty_array(i) || matches!(c.get(i), Cell::Missing | Cell::Null))
    };
    let mut rows = Vec::new();
    for chunk in matched.chunks(CHECK_EVERY) {
        deadline.check()?;
        for &i in chunk {
            if unwinds_to_nothing(i) {
                continue;
            }
            let Some(raw) = collection.raw(i) else {
                continue;
            };
            let Some(value) = raw.get(top).ok().flatten() else {
                continue;
            };
            let mut row_of = |element: RawBsonRef<'_>| -> Option<Document> {
                let mut row = Document::new();
                for (path, read) in &reads {
                    let found = match read {
                        Read::Element([]) => Some(Bson::try_from(element).ok()?),
                        Read::Element(rest) => value_at(element, rest).ok()?,
                        Read::Document(parts) => value_at(RawBsonRef::Document(raw), parts).ok()?,
                    };
                    if let Some(found) = found {
                        set_path(&mut row, path.parts(), found);
                    }
                }
                Some(row)
            };
            match value {
                RawBsonRef::Null => {}
                RawBsonRef::Array(items) => {
                    for item in items {
                        let Some(row) = item.ok().and_then(&mut row_of) else {
                            return Ok(None);
                        };
                        rows.push(row);
                    }
                }
                other => match row_of(other) {
                    Some(row) => rows.push(row),
                    None => return Ok(None),
                },
            }
        }
    }
    deadline.check()?;
    let rows: Vec<Cow<'_, Document>> = rows.into_iter().map(Cow::Owned).collect();
    group(&rows, spec).map(Some)
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

/// The value at `parts` under `value` (a leaf array whole): `Ok(None)` when missing,
/// `Err(())` when the path goes through an array (the engine's array rules apply there).
fn value_at(value: RawBsonRef<'_>, parts: &[String]) -> std::result::Result<Option<Bson>, ()> {
    let Some((first, rest)) = parts.split_first() else {
        return Bson::try_from(value).map(Some).map_err(drop);
    };
    match value {
        RawBsonRef::Document(doc) => match field(doc, first)? {
            Some(inner) => value_at(inner, rest),
            None => Ok(None),
        },
        RawBsonRef::Array(_) => Err(()),
        _ => Ok(None),
    }
}

fn field<'a>(doc: &'a RawDocument, name: &str) -> std::result::Result<Option<RawBsonRef<'a>>, ()> {
    doc.get(name).map_err(drop)
}
