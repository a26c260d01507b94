//! Whether a document matches a compiled filter, with MongoDB's query semantics.

use bson::{Bson, Document};
use spacejobs_query::plan::{Condition, Filter, Op, Pattern};
use spacejobs_query::value::{compare, equal, type_rank, FieldPath};
use std::cmp::Ordering;

/// True when `doc` meets `AND(filter.all) AND OR(filter.any)`.
pub fn matches(doc: &Document, filter: &Filter) -> bool {
    filter.all.iter().all(|c| condition_matches(doc, c))
        && (filter.any.is_empty() || filter.any.iter().any(|c| condition_matches(doc, c)))
}

/// True when `doc` meets one condition.
pub fn condition_matches(doc: &Document, condition: &Condition) -> bool {
    let path = &condition.path;
    match &condition.op {
        Op::Eq(v) => equals(doc, path, v),
        Op::Ne(v) => !equals(doc, path, v),
        Op::Lt(v) => compares(doc, path, v, |o| o == Ordering::Less, false),
        Op::Lte(v) => compares(doc, path, v, |o| o != Ordering::Greater, true),
        Op::Gt(v) => compares(doc, path, v, |o| o == Ordering::Greater, false),
        Op::Gte(v) => compares(doc, path, v, |o| o != Ordering::Less, true),
        Op::Exists(expected) => path.any(doc, &mut |x| x.is_some()) == *expected,
        Op::In(values) => values.iter().any(|v| equals(doc, path, v)),
        Op::NotIn(values) => !values.iter().any(|v| equals(doc, path, v)),
        Op::Matches(patterns) => any_string_matches(doc, path, patterns),
        Op::NotMatches(patterns) => !any_string_matches(doc, path, patterns),
        Op::ElemMatch(fields) => path.any(doc, &mut |x| match x {
            Some(Bson::Array(items)) => items.iter().any(|item| match item {
                Bson::Document(d) => fields.iter().all(|(p, v)| equals(d, p, v)),
                _ => false,
            }),
            _ => false,
        }),
    }
}

/// `$eq`: any reached value equals `v`; `null` also matches a missing field.
fn equals(doc: &Document, path: &FieldPath, v: &Bson) -> bool {
    if matches!(v, Bson::Null) {
        path.any(doc, &mut |x| {
            matches!(x, None | Some(Bson::Null | Bson::Undefined))
        })
    } else {
        path.any(doc, &mut |x| x.is_some_and(|x| equal(x, v)))
    }
}

/// `$lt` and friends: only values of the same type class compare. Against `null`, the
/// inclusive forms behave like `eq null` and the strict forms match nothing.
fn compares(
    doc: &Document,
    path: &FieldPath,
    v: &Bson,
    accept: impl Fn(Ordering) -> bool,
    inclusive: bool,
) -> bool {
    if matches!(v, Bson::Null) {
        return inclusive && equals(doc, path, v);
    }
    let rank = type_rank(v);
    path.any(doc, &mut |x| {
        x.is_some_and(|x| type_rank(x) == rank && accept(compare(x, v)))
    })
}

fn any_string_matches(doc: &Document, path: &FieldPath, patterns: &[Pattern]) -> bool {
    path.any(doc, &mut |x| match x {
        Some(Bson::String(s)) => patterns.iter().any(|p| p.is_match(s)),
        _ => false,
    })
}
