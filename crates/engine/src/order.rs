//! Pages read along a column's sorted row order ([`super::column::Column::sorted_rows`]):
//! a sorted page of the rows a filter matches is found by walking the order from the wanted
//! end and keeping the matching rows until the page is full, so its cost follows the page,
//! not the number of matches.

use roaring::RoaringBitmap;
use spacejobs_core::error::Result;
use spacejobs_exec::{Deadline, CHECK_EVERY};

/// The first `needed` rows of `matched` along `order` (every row, ascending by the column's
/// `bits`, ties in row order), from its end when `desc`; ties stay in row order both ways.
pub(super) fn walk_order(
    order: &[u32],
    bits: &[u64],
    matched: &RoaringBitmap,
    desc: bool,
    needed: usize,
    deadline: &Deadline,
) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(needed);
    let keep = |run: &[u32], out: &mut Vec<usize>| {
        for &row in run {
            if out.len() == needed {
                return;
            }
            if matched.contains(row) {
                out.push(row as usize);
            }
        }
    };
    let mut steps = 0usize;
    if !desc {
        for chunk in order.chunks(CHECK_EVERY * 16) {
            deadline.check()?;
            keep(chunk, &mut out);
            if out.len() == needed {
                break;
            }
        }
        return Ok(out);
    }
    let value = |p: usize| bits.get(order[p] as usize).copied();
    let mut end = order.len();
    while end > 0 && out.len() < needed {
        // The run of equal values that ends at `end`, taken in row order.
        let mut start = end - 1;
        while start > 0 && value(start - 1) == value(end - 1) {
            start -= 1;
        }
        keep(&order[start..end], &mut out);
        steps += end - start;
        if steps >= CHECK_EVERY * 16 {
            deadline.check()?;
            steps = 0;
        }
        end = start;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::{list, Collection};
    use bson::{doc, Bson, DateTime, Document};
    use spacejobs_query::plan::{Condition, Filter, ListPlan, Op, Slice, SortSpec};
    use spacejobs_query::value::FieldPath;

    fn task(i: i64, minutes: i64) -> Document {
        let status = ["SUCCESS", "FAILURE", "IN_PROGRESS"][(i % 3) as usize];
        doc! {
            "job_task_id": format!("job-task-{i:05}"),
            "status": status,
            "domain_id": if i % 4 == 0 { "domain-b" } else { "domain-a" },
            "created_at": DateTime::from_millis(1_700_000_000_000 + minutes * 60_000),
            "created_count": minutes,
        }
    }

    fn plan(filter: Vec<Condition>, key: &str, desc: bool, skip: u64, limit: u64) -> ListPlan {
        ListPlan {
            sort: vec![SortSpec {
                path: FieldPath::new(key),
                desc,
            }],
            slice: Slice {
                skip,
                limit: Some(limit),
            },
            ..ListPlan::matching(Filter {
                all: filter,
                any: vec![],
            })
        }
    }

    fn eq(field: &str, value: &str) -> Condition {
        Condition {
            path: FieldPath::new(field),
            op: Op::Eq(Bson::String(value.into())),
        }
    }

    /// Every page of a few filters, both ways, on a date and an integer column, equals the
    /// document engine's.
    fn assert_pages_agree(collection: &Collection, docs: &[Document]) {
        let filters = [
            vec![eq("status", "FAILURE")],
            vec![eq("status", "SUCCESS"), eq("domain_id", "domain-b")],
            vec![eq("domain_id", "domain-a")],
            vec![eq("status", "NOWHERE")],
        ];
        for filter in filters {
            for key in ["created_at", "created_count"] {
                for desc in [false, true] {
                    for (skip, limit) in [(0, 1), (0, 20), (3, 7), (40, 1000), (500, 5)] {
                        let plan = plan(filter.clone(), key, desc, skip, limit);
                        let got = collection.list(&plan, &Default::default());
                        let want = list(docs, &plan);
                        assert_eq!(got, want, "{key} desc {desc} {skip}+{limit} {filter:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn pages_along_the_sorted_order_equal_the_document_engine_through_changes() {
        // Minutes repeat (ties broken by insertion order both ways) and are not in row order.
        let mut docs: Vec<Document> = (0..600).map(|i| task(i, (i * 37) % 200)).collect();
        let mut collection = Collection::from_documents(docs.clone()).expect("documents");
        assert_pages_agree(&collection, &docs);
        // Appends in order go at the end of the order, one out of order in its place.
        for i in 600..650 {
            docs.push(task(i, 300 + i));
            collection.push(docs.last().expect("pushed")).expect("push");
        }
        assert_pages_agree(&collection, &docs);
        docs.push(task(650, 5));
        collection.push(&docs[650]).expect("push");
        assert_pages_agree(&collection, &docs);
        // An update keeping created_at, one changing it, and a document without it.
        let mut changed = docs[10].clone();
        changed.insert("status", "FAILURE");
        collection.replace(10, crate::collection::encode(&changed).expect("bytes"));
        docs[10] = changed;
        assert_pages_agree(&collection, &docs);
        let moved = task(11, 10_000);
        collection.replace(11, crate::collection::encode(&moved).expect("bytes"));
        docs[11] = moved;
        assert_pages_agree(&collection, &docs);
        let mut bare = task(651, 1);
        bare.remove("created_at");
        bare.remove("created_count");
        docs.push(bare);
        collection.push(&docs[651]).expect("push");
        assert_pages_agree(&collection, &docs);
        // Removing rows renumbers them.
        docs.remove(651);
        docs.remove(3);
        collection.remove(&[651, 3]);
        assert_pages_agree(&collection, &docs);
    }
}
