//! Aggregation expressions for field paths, dates and row conditions.
//!
//! A dotted path crossing an array (`errors.error_code`) is resolved level by level: at each
//! level an array is mapped over its sub-documents (`$map`/`$filter`), anything else is read
//! as a sub-document. MongoDB gives the same answer for `"$errors.error_code"` directly; the
//! SecantusDB test server does not walk arrays in expression paths, so this form is the one
//! both agree on.

use bson::{doc, Bson, Document};
use spacejobs_query::plan::{CompareOp, RowCondition};
use spacejobs_query::time::DateFormat;
use spacejobs_query::value::FieldPath;

/// The value at `path` as an aggregation expression.
pub fn path(path: &FieldPath) -> Bson {
    let parts = path.parts();
    resolve(format!("${}", parts[0]), &parts[1..], 0)
}

fn resolve(base: String, rest: &[String], depth: usize) -> Bson {
    let Some((first, tail)) = rest.split_first() else {
        return Bson::String(base);
    };
    let var = format!("e{depth}");
    let in_doc = resolve(format!("{base}.{first}"), tail, depth + 1);
    let in_element = resolve(format!("$${var}.{first}"), tail, depth + 1);
    let present = doc! {"$ne": [{"$type": in_element.clone()}, "missing"]};
    let over_array = doc! {"$map": {
        "input": {"$filter": {"input": base.as_str(), "as": var.as_str(), "cond": present}},
        "as": var.as_str(),
        "in": in_element,
    }};
    Bson::Document(doc! {"$cond": [{"$isArray": base.as_str()}, over_array, in_doc]})
}

/// A group key rendered with a date format (null for anything that is not a date).
pub fn date_key(value: Bson, format: &DateFormat) -> Bson {
    let rendered = match format {
        DateFormat::Year => doc! {"$year": value.clone()},
        DateFormat::Month => doc! {"$month": value.clone()},
        DateFormat::Day => doc! {"$dayOfMonth": value.clone()},
        DateFormat::Pattern(p) => {
            doc! {"$dateToString": {"format": p.as_str(), "date": value.clone()}}
        }
    };
    Bson::Document(doc! {"$cond": [{"$eq": [{"$type": value}, "date"]}, rendered, Bson::Null]})
}

/// The AND of group-field conditions as a boolean expression (values are literals, never
/// field references).
pub fn conditions(conditions: &[RowCondition]) -> Bson {
    let terms: Vec<Bson> = conditions
        .iter()
        .map(|c| {
            let op = match c.op {
                CompareOp::Eq => "$eq",
                CompareOp::Ne => "$ne",
                CompareOp::Gt => "$gt",
                CompareOp::Gte => "$gte",
                CompareOp::Lt => "$lt",
                CompareOp::Lte => "$lte",
            };
            let mut term = Document::new();
            term.insert(op, vec![path(&c.path), literal(c.value.clone())]);
            Bson::Document(term)
        })
        .collect();
    Bson::Document(doc! {"$and": terms})
}

/// A constant, protected from being read as a field path or an operator.
pub fn literal(value: Bson) -> Bson {
    Bson::Document(doc! {"$literal": value})
}
