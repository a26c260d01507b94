//! `stat` over documents in memory: distinct values and the aggregation pipeline.

use super::filter::matches;
use super::group::{add_row_value, group, Number};
use super::list::{sorted_order, unwind_rows};
use bson::{Bson, Document};
use spacejobs_core::error::{Error, Result};
use spacejobs_core::store::StatOutput;
use spacejobs_exec::Deadline;
use spacejobs_query::plan::{
    ConcatPart, ProjectExpr, ProjectSpec, Slice, Stage, StatKind, StatPlan,
};
use spacejobs_query::value::{compare, equal, FieldPath};
use std::borrow::Cow;
use std::time::Duration;

/// Evaluates a stat plan over documents.
pub fn stat<'a>(
    docs: impl IntoIterator<Item = &'a Document>,
    plan: &StatPlan,
) -> Result<StatOutput> {
    let matched: Vec<&Document> = docs
        .into_iter()
        .filter(|d| matches(d, &plan.filter))
        .collect();
    let results = match &plan.kind {
        StatKind::Distinct(path) => distinct(matched.into_iter(), path),
        StatKind::Aggregate(stages) => rows_to_results(pipeline(
            matched.into_iter().map(Cow::Borrowed).collect(),
            stages,
        )?),
    };
    Ok(paged(results, plan.page))
}

/// Pipeline output rows as stat results.
pub fn rows_to_results(rows: Vec<Document>) -> Vec<Bson> {
    rows.into_iter().map(Bson::Document).collect()
}

/// Applies a stat page: `total_count` and the slice.
pub fn paged(results: Vec<Bson>, page: Option<Slice>) -> StatOutput {
    let Some(slice) = page else {
        return StatOutput {
            results,
            total_count: None,
        };
    };
    let total_count = Some(results.len() as u64);
    let skip = usize::try_from(slice.skip).unwrap_or(usize::MAX);
    let limit = slice
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    StatOutput {
        results: results.into_iter().skip(skip).take(limit).collect(),
        total_count,
    }
}

/// Distinct non-null values at `path` (array elements count one by one), ascending.
pub fn distinct<'a>(docs: impl Iterator<Item = &'a Document>, path: &FieldPath) -> Vec<Bson> {
    let mut values: Vec<&Bson> = Vec::new();
    for doc in docs {
        path.any(doc, &mut |x| {
            if let Some(v) = x {
                if !matches!(v, Bson::Array(_) | Bson::Null | Bson::Undefined) {
                    values.push(v);
                }
            }
            false
        });
    }
    values.sort_by(|a, b| compare(a, b));
    values.dedup_by(|a, b| equal(a, b));
    values.into_iter().cloned().collect()
}

/// Runs the aggregate stages in order.
pub fn pipeline(rows: Vec<Cow<'_, Document>>, stages: &[Stage]) -> Result<Vec<Document>> {
    pipeline_within(rows, stages, &Deadline::after(Duration::MAX))
}

/// [`pipeline`], checking `deadline` before each stage and as a group goes.
pub fn pipeline_within(
    mut rows: Vec<Cow<'_, Document>>,
    stages: &[Stage],
    deadline: &Deadline,
) -> Result<Vec<Document>> {
    for stage in stages {
        deadline.check()?;
        rows = match stage {
            Stage::Unwind(path) => rows
                .iter()
                .flat_map(|row| unwind_rows(row, path))
                .map(Cow::Owned)
                .collect(),
            Stage::Group(spec) => group(&rows, spec, deadline)?
                .into_iter()
                .map(Cow::Owned)
                .collect(),
            Stage::Count(name) => {
                if rows.is_empty() {
                    Vec::new()
                } else {
                    let mut row = Document::new();
                    row.insert(name.clone(), Number::Int(rows.len() as i64).to_bson());
                    vec![Cow::Owned(row)]
                }
            }
            Stage::Sort(specs) => {
                let refs: Vec<&Document> = rows.iter().map(|r| r.as_ref()).collect();
                let order = sorted_order(&refs, specs, usize::MAX);
                let mut slots: Vec<Option<Cow<'_, Document>>> =
                    rows.into_iter().map(Some).collect();
                order.into_iter().filter_map(|i| slots[i].take()).collect()
            }
            Stage::Project(spec) => rows
                .iter()
                .map(|row| project(row, spec).map(Cow::Owned))
                .collect::<Result<Vec<_>>>()?,
            Stage::Limit(n) => rows
                .into_iter()
                .take(usize::try_from(*n).unwrap_or(usize::MAX))
                .collect(),
            Stage::Skip(n) => rows
                .into_iter()
                .skip(usize::try_from(*n).unwrap_or(usize::MAX))
                .collect(),
        };
    }
    Ok(rows.into_iter().map(Cow::into_owned).collect())
}

fn project(row: &Document, spec: &ProjectSpec) -> Result<Document> {
    let mut out = Document::new();
    for key in &spec.keep {
        if let Some(v) = row.get(key) {
            out.insert(key.clone(), v.clone());
        }
    }
    for (name, expr) in &spec.fields {
        if let Some(v) = project_value(row, expr)? {
            out.insert(name.clone(), v);
        }
    }
    Ok(out)
}

/// One project expression; `None` leaves the column out (a copy of a missing field).
fn project_value(row: &Document, expr: &ProjectExpr) -> Result<Option<Bson>> {
    Ok(match expr {
        ProjectExpr::Copy(path) => path.resolve(row).map(Cow::into_owned),
        ProjectExpr::Size(path) => Some(match path.resolve(row).as_deref() {
            Some(Bson::Array(items)) => Bson::Int32(i32::try_from(items.len()).unwrap_or(i32::MAX)),
            _ => Bson::Null,
        }),
        ProjectExpr::Sum(path) => {
            Some(add_row_value(Number::Int(0), path.resolve(row).as_deref()).to_bson())
        }
        ProjectExpr::ArrayToObject(path) => Some(match path.resolve(row).as_deref() {
            None | Some(Bson::Null) => Bson::Null,
            Some(Bson::Array(items)) => Bson::Document(array_to_object(items, path)?),
            Some(other) => return Err(shape_error("array_to_object", "an array", path, other)),
        }),
        ProjectExpr::ObjectToArray(path) => Some(match path.resolve(row).as_deref() {
            None | Some(Bson::Null) => Bson::Null,
            Some(Bson::Document(d)) => Bson::Array(
                d.iter()
                    .map(|(k, v)| {
                        let mut pair = Document::new();
                        pair.insert("k", k.clone());
                        pair.insert("v", v.clone());
                        Bson::Document(pair)
                    })
                    .collect(),
            ),
            Some(other) => return Err(shape_error("object_to_array", "an object", path, other)),
        }),
        ProjectExpr::Concat(parts) => {
            let mut text = String::new();
            for part in parts {
                match part {
                    ConcatPart::Text(t) => text.push_str(t),
                    ConcatPart::Column(path) => match path.resolve(row).as_deref() {
                        None | Some(Bson::Null) => return Ok(Some(Bson::Null)),
                        Some(Bson::String(s)) => text.push_str(s),
                        Some(other) => return Err(shape_error("concat", "strings", path, other)),
                    },
                }
            }
            Some(Bson::String(text))
        }
    })
}

fn shape_error(operator: &str, expected: &str, path: &FieldPath, found: &Bson) -> Error {
    Error::query(format!(
        "project operator '{operator}' needs {expected} at '{}', found {found}",
        path.as_str()
    ))
}

fn array_to_object(items: &[Bson], path: &FieldPath) -> Result<Document> {
    let mut out = Document::new();
    for item in items {
        let (k, v) = match item {
            Bson::Document(d) if d.len() == 2 => match (d.get("k"), d.get("v")) {
                (Some(Bson::String(k)), Some(v)) => (k.clone(), v.clone()),
                _ => return Err(shape_error("array_to_object", "{k, v} pairs", path, item)),
            },
            Bson::Array(pair) if pair.len() == 2 => match &pair[0] {
                Bson::String(k) => (k.clone(), pair[1].clone()),
                _ => return Err(shape_error("array_to_object", "[k, v] pairs", path, item)),
            },
            _ => return Err(shape_error("array_to_object", "{k, v} pairs", path, item)),
        };
        out.insert(k, v);
    }
    Ok(out)
}
