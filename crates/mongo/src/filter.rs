//! Compiled filters as MongoDB query documents (`find` filters and `$match`).

use bson::{doc, Bson, Document};
use spacejobs_query::plan::{Condition, Filter, Op, Pattern};

/// `AND(all) AND OR(any)` as a query document (`{}` matches everything). Equality tests
/// share one document, as a hand-written query would; every other test goes into `$and`
/// (the SecantusDB test server answers range tests beside equalities wrongly when it plans
/// them on the compound index; `$and` keeps both servers right).
pub fn filter(filter: &Filter) -> Document {
    let mut merged = Document::new();
    let mut rest = Vec::new();
    for c in &filter.all {
        let term = condition(c);
        let plain = matches!(&c.op, Op::Eq(v) if !matches!(v, Bson::Document(_)));
        if plain && !merged.contains_key(c.path.as_str()) {
            merged.extend(term);
        } else {
            rest.push(term);
        }
    }
    if !filter.any.is_empty() {
        rest.push(doc! {"$or": filter.any.iter().map(condition).collect::<Vec<_>>()});
    }
    if !rest.is_empty() {
        merged.insert("$and", rest);
    }
    merged
}

fn on(path: &str, test: Document) -> Document {
    let mut d = Document::new();
    d.insert(path, test);
    d
}

fn regex(p: &Pattern) -> Document {
    doc! {"$regex": p.source.as_str(), "$options": "i"}
}

/// Matches nothing (`$in` of no values).
fn nothing(path: &str) -> Document {
    on(path, doc! {"$in": []})
}

/// One condition as a query document.
pub fn condition(c: &Condition) -> Document {
    let path = c.path.as_str();
    let null = |v: &Bson| matches!(v, Bson::Null);
    match &c.op {
        // A plain value is an equality test; documents keep `$eq` so their keys are never
        // read as operators.
        Op::Eq(v) if !matches!(v, Bson::Document(_)) => {
            let mut d = Document::new();
            d.insert(path, v.clone());
            d
        }
        Op::Eq(v) => on(path, doc! {"$eq": v.clone()}),
        Op::Ne(v) => on(path, doc! {"$ne": v.clone()}),
        Op::Lte(v) | Op::Gte(v) if null(v) => on(path, doc! {"$eq": Bson::Null}),
        Op::Lt(v) | Op::Gt(v) if null(v) => nothing(path),
        Op::Lt(v) => on(path, doc! {"$lt": v.clone()}),
        Op::Lte(v) => on(path, doc! {"$lte": v.clone()}),
        Op::Gt(v) => on(path, doc! {"$gt": v.clone()}),
        Op::Gte(v) => on(path, doc! {"$gte": v.clone()}),
        Op::Exists(e) => on(path, doc! {"$exists": *e}),
        Op::In(vs) => on(path, doc! {"$in": vs.clone()}),
        Op::NotIn(vs) => on(path, doc! {"$nin": vs.clone()}),
        Op::Matches(ps) => match ps.as_slice() {
            [] => nothing(path),
            [p] => on(path, regex(p)),
            ps => doc! {"$or": ps.iter().map(|p| on(path, regex(p))).collect::<Vec<_>>()},
        },
        Op::NotMatches(ps) => match ps.as_slice() {
            [] => Document::new(),
            ps => {
                doc! {"$and": ps.iter().map(|p| on(path, doc! {"$not": regex(p)})).collect::<Vec<_>>()}
            }
        },
        Op::ElemMatch(fields) => {
            let mut element = Document::new();
            for (p, v) in fields {
                element.insert(p.as_str(), doc! {"$eq": v.clone()});
            }
            on(path, doc! {"$elemMatch": element})
        }
    }
}
