//! Plans as MongoDB sort/projection documents and aggregation pipelines.

use crate::expr;
use crate::filter::filter;
use bson::{doc, Bson, Document};
use spacejobs_query::plan::{
    Accumulator, ConcatPart, GroupSpec, ListPlan, ProjectExpr, ProjectSpec, PushSource, Slice,
    SortSpec, Stage, StatKind, StatPlan,
};
use spacejobs_query::value::FieldPath;

/// Name of the field holding an unwound element's index (a sort tiebreak, never returned).
const ELEMENT_INDEX: &str = "__spacejobs_element";

/// The sort document, with the `_id` (insertion order) tiebreak of `list`.
pub fn sort(specs: &[SortSpec], tiebreak: &[&str]) -> Document {
    let mut out = Document::new();
    for s in specs {
        if !out.contains_key(s.path.as_str()) {
            out.insert(s.path.as_str(), if s.desc { -1 } else { 1 });
        }
    }
    for key in tiebreak {
        if !out.contains_key(*key) {
            out.insert(*key, 1);
        }
    }
    out
}

/// An inclusion projection; a path below another included path is dropped (MongoDB rejects
/// the collision, and the outer path already returns it).
pub fn projection(paths: &[FieldPath]) -> Document {
    let mut out = Document::new();
    for p in paths {
        let covered = paths
            .iter()
            .any(|q| q != p && p.as_str().starts_with(&format!("{}.", q.as_str())));
        if !covered && !out.contains_key(p.as_str()) {
            out.insert(p.as_str(), 1);
        }
    }
    out
}

fn slice_stages(slice: Slice) -> Vec<Document> {
    let mut stages = Vec::new();
    if slice.skip > 0 {
        stages.push(doc! {"$skip": slice.skip as i64});
    }
    if let Some(limit) = slice.limit {
        stages.push(doc! {"$limit": limit as i64});
    }
    stages
}

/// Counts rows; a `$group` rather than `$count`, which some servers answer with a zero row
/// where MongoDB gives none.
fn count_stage(name: &str) -> Vec<Document> {
    let mut group = doc! {"_id": Bson::Null};
    group.insert(name, doc! {"$sum": 1});
    vec![doc! {"$group": group}, doc! {"$project": {"_id": 0}}]
}

/// `$facet` giving `{rows: [...], total: [{n}]}` for a paged answer.
fn paged(rows: Vec<Document>) -> Document {
    doc! {"$facet": {"rows": rows, "total": count_stage("n")}}
}

/// The pipeline of a list with `unwind` (a list without it is a plain `find`). Its single
/// output document is `{rows, total}`, or `{n}` (or none) for `count_only`.
pub fn unwind_list(plan: &ListPlan) -> Vec<Document> {
    let unwind = plan.unwind.as_ref().expect("an unwind list plan");
    let path = unwind.path.as_str();
    let mut stages = vec![
        doc! {"$match": filter(&plan.filter)},
        doc! {"$unwind": {"path": format!("${path}"), "includeArrayIndex": ELEMENT_INDEX}},
    ];
    if !unwind.filter.is_empty() {
        stages.push(doc! {"$match": filter(&spacejobs_query::plan::Filter { all: unwind.filter.clone(), any: Vec::new() })});
    }
    let mut rows = vec![doc! {"$sort": sort(&plan.sort, &["_id", ELEMENT_INDEX])}];
    rows.extend(slice_stages(plan.slice));
    let mut wrap = Document::new();
    wrap.insert(path, vec![Bson::String(format!("${path}"))]);
    rows.push(doc! {"$addFields": wrap});
    if let Some(paths) = &plan.projection {
        rows.push(doc! {"$project": projection(paths)});
    } else {
        rows.push(doc! {"$project": {ELEMENT_INDEX: 0}});
    }
    if plan.count_only {
        stages.extend(count_stage("n"));
    } else {
        stages.push(paged(rows));
    }
    stages
}

/// The pipeline of a stat. With a page its single output document is `{rows, total}`.
pub fn stat(plan: &StatPlan) -> Vec<Document> {
    let mut stages = vec![doc! {"$match": filter(&plan.filter)}];
    match &plan.kind {
        StatKind::Distinct(path) => {
            // Unwind every level, so array elements count one by one (and null, missing
            // and empty arrays drop out), then group the values.
            let parts = path.parts();
            for i in 1..=parts.len() {
                stages.push(doc! {"$unwind": format!("${}", parts[..i].join("."))});
            }
            stages.push(doc! {"$group": {"_id": format!("${}", path.as_str())}});
            stages.push(doc! {"$sort": {"_id": 1}});
        }
        StatKind::Aggregate(pipeline) => {
            for stage in pipeline {
                stages.extend(aggregate_stage(stage));
            }
        }
    }
    if let Some(slice) = plan.page {
        stages.push(paged(slice_stages(slice)));
    }
    stages
}

fn aggregate_stage(stage: &Stage) -> Vec<Document> {
    match stage {
        Stage::Unwind(path) => vec![doc! {"$unwind": format!("${}", path.as_str())}],
        Stage::Group(spec) => group(spec),
        Stage::Count(name) => count_stage(name),
        Stage::Sort(specs) => vec![doc! {"$sort": sort(specs, &[])}],
        Stage::Project(spec) => vec![doc! {"$project": project(spec)}],
        Stage::Limit(n) => vec![doc! {"$limit": *n as i64}],
        Stage::Skip(n) => vec![doc! {"$skip": *n as i64}],
    }
}

/// `$group` on the keys, then a `$project` that flattens the key columns beside the fields.
fn group(spec: &GroupSpec) -> Vec<Document> {
    let id = if spec.keys.is_empty() {
        Bson::Null
    } else {
        let mut id = Document::new();
        for key in &spec.keys {
            let value = expr::path(&key.path);
            let value = match &key.date_format {
                Some(format) => expr::date_key(value, format),
                None => value,
            };
            id.insert(key.name.as_str(), value);
        }
        Bson::Document(id)
    };
    let mut group = doc! {"_id": id};
    let mut flatten = doc! {"_id": 0};
    for key in &spec.keys {
        flatten.insert(key.name.as_str(), format!("$_id.{}", key.name));
    }
    for (name, acc) in &spec.fields {
        group.insert(name.as_str(), accumulator(acc));
        flatten.insert(name.as_str(), 1);
    }
    vec![doc! {"$group": group}, doc! {"$project": flatten}]
}

fn when(conditions: &[spacejobs_query::plan::RowCondition], then: Bson, otherwise: Bson) -> Bson {
    if conditions.is_empty() {
        then
    } else {
        Bson::Document(doc! {"$cond": [expr::conditions(conditions), then, otherwise]})
    }
}

fn accumulator(acc: &Accumulator) -> Document {
    // Inner $sum/$avg/$max/$min turn an array into its sum/average/max/min, and leave a
    // single value as it is, so the outer accumulator sees one value per row.
    let per_row = |op: &str, path: &FieldPath| {
        let mut d = Document::new();
        d.insert(op, expr::path(path));
        Bson::Document(d)
    };
    match acc {
        Accumulator::Count(conds) => doc! {"$sum": when(conds, Bson::Int32(1), Bson::Int32(0))},
        Accumulator::Sum(path, conds) => {
            doc! {"$sum": when(conds, per_row("$sum", path), Bson::Int32(0))}
        }
        Accumulator::Average(path, conds) => {
            doc! {"$avg": when(conds, per_row("$avg", path), Bson::Int32(0))}
        }
        Accumulator::Max(path) => doc! {"$max": per_row("$max", path)},
        Accumulator::Min(path) => doc! {"$min": per_row("$min", path)},
        Accumulator::First(path) => doc! {"$first": expr::path(path)},
        Accumulator::Last(path) => doc! {"$last": expr::path(path)},
        Accumulator::Push(PushSource::Value(path)) => doc! {"$push": expr::path(path)},
        Accumulator::Push(PushSource::Object(fields)) => {
            let mut object = Document::new();
            for (name, path) in fields {
                object.insert(name.as_str(), expr::path(path));
            }
            doc! {"$push": object}
        }
        Accumulator::AddToSet(path) => doc! {"$addToSet": expr::path(path)},
        Accumulator::MergeObjects(path) => doc! {"$mergeObjects": expr::path(path)},
    }
}

fn project(spec: &ProjectSpec) -> Document {
    let mut out = doc! {"_id": 0};
    for key in &spec.keep {
        out.insert(key.as_str(), 1);
    }
    for (name, e) in &spec.fields {
        let value = match e {
            ProjectExpr::Copy(path) => expr::path(path),
            ProjectExpr::Size(path) => {
                let v = expr::path(path);
                Bson::Document(doc! {"$cond": [{"$isArray": v.clone()}, {"$size": v}, Bson::Null]})
            }
            ProjectExpr::Sum(path) => Bson::Document(doc! {"$sum": expr::path(path)}),
            ProjectExpr::ArrayToObject(path) => {
                Bson::Document(doc! {"$arrayToObject": expr::path(path)})
            }
            ProjectExpr::ObjectToArray(path) => {
                Bson::Document(doc! {"$objectToArray": expr::path(path)})
            }
            ProjectExpr::Concat(parts) => Bson::Document(doc! {"$concat": parts
            .iter()
            .map(|p| match p {
                ConcatPart::Text(t) => expr::literal(Bson::String(t.clone())),
                ConcatPart::Column(path) => expr::path(path),
            })
            .collect::<Vec<_>>()}),
        };
        out.insert(name.as_str(), value);
    }
    out
}
