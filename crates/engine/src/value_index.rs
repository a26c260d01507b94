//! [`ValueIndex`]: for a column of few distinct strings (status, provider, domain_id,
//! project_id …), the rows holding each string as a compressed bitmap, plus the rows whose
//! cell is not a plain scalar. `eq`/`in`/`ne`/`not_in` filters on such columns then
//! intersect bitmaps instead of scanning every row, and a group by such a column that only
//! counts reads the bitmaps' sizes. A column whose strings turn out to be many (ids) drops
//! its index (a bulk load tries again, and stops as soon as the strings are too many).

use hashbrown::HashMap;
use roaring::RoaringBitmap;
use std::borrow::Cow;

/// Distinct strings past which a column is not indexed.
pub(super) const MOST_VALUES: usize = 1024;

/// The rows of each string of one column, and its complex rows.
#[derive(Debug, Default, Clone)]
pub struct ValueIndex {
    by_string: HashMap<u32, RoaringBitmap>,
    complex: RoaringBitmap,
}

impl ValueIndex {
    /// An index of the rows of each string (ascending) and of the complex rows (ascending).
    pub fn from_rows(by_string: HashMap<u32, Vec<u32>>, complex: Vec<u32>) -> Self {
        let bitmap = |rows: Vec<u32>| {
            RoaringBitmap::from_sorted_iter(rows.iter().copied())
                .unwrap_or_else(|_| rows.into_iter().collect())
        };
        ValueIndex {
            by_string: by_string
                .into_iter()
                .map(|(id, rows)| (id, bitmap(rows)))
                .collect(),
            complex: bitmap(complex),
        }
    }

    /// Records that `row` holds string `id`; false once the column has more than `most`
    /// strings ([`MOST_VALUES`] unless the column is a reference), too many to be worth
    /// indexing (the caller drops the index).
    pub fn add_string(&mut self, row: u32, id: u32, most: usize) -> bool {
        if !self.by_string.contains_key(&id) && self.by_string.len() >= most {
            return false;
        }
        let rows = self.by_string.entry(id).or_default();
        // Rows mostly come in ascending order (loads, appends): push is the fast path.
        if !rows.push(row) {
            rows.insert(row);
        }
        true
    }

    /// Records that `row` holds a cell the bitmaps cannot answer.
    pub fn add_complex(&mut self, row: u32) {
        if !self.complex.push(row) {
            self.complex.insert(row);
        }
    }

    /// Forgets what `row` held.
    pub fn remove(&mut self, row: u32, id: Option<u32>) {
        match id {
            Some(id) => {
                if let Some(rows) = self.by_string.get_mut(&id) {
                    rows.remove(row);
                    if rows.is_empty() {
                        self.by_string.remove(&id);
                    }
                }
            }
            None => {
                self.complex.remove(row);
            }
        }
    }

    /// The rows holding any of `ids`: the index's own bitmap, not a copy, for one id.
    pub fn rows_of(&self, ids: &[u32]) -> Cow<'_, RoaringBitmap> {
        if let [id] = ids {
            return match self.by_string.get(id) {
                Some(found) => Cow::Borrowed(found),
                None => Cow::Owned(RoaringBitmap::new()),
            };
        }
        let mut rows = RoaringBitmap::new();
        for id in ids {
            if let Some(found) = self.by_string.get(id) {
                rows |= found;
            }
        }
        Cow::Owned(rows)
    }

    /// Each indexed string with its rows.
    pub fn strings(&self) -> impl Iterator<Item = (u32, &RoaringBitmap)> {
        self.by_string.iter().map(|(id, rows)| (*id, rows))
    }

    /// The rows whose cell is not a plain scalar.
    pub fn complex(&self) -> &RoaringBitmap {
        &self.complex
    }

    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.by_string.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use crate::{matches, Collection};
    use bson::{doc, Bson, Document};
    use spacejobs_query::plan::{Condition, Filter, Op};
    use spacejobs_query::value::FieldPath;

    fn eq(field: &str, value: &str) -> Condition {
        Condition {
            path: FieldPath::new(field),
            op: Op::Eq(Bson::String(value.into())),
        }
    }

    fn within(field: &str, values: &[&str]) -> Condition {
        Condition {
            path: FieldPath::new(field),
            op: Op::In(values.iter().map(|v| Bson::String((*v).into())).collect()),
        }
    }

    fn not(condition: Condition) -> Condition {
        let op = match condition.op {
            Op::Eq(v) => Op::Ne(v),
            Op::In(vs) => Op::NotIn(vs),
            other => other,
        };
        Condition { op, ..condition }
    }

    /// What the document engine says, row by row.
    fn expected(docs: &[Document], filter: &Filter) -> Vec<usize> {
        (0..docs.len())
            .filter(|&i| matches(&docs[i], filter))
            .collect()
    }

    #[test]
    fn pattern_filters_answer_like_the_document_engine_on_every_kind_of_column() {
        use spacejobs_query::compile::{literal_pattern, pattern};
        // `id`: unique strings (no value index); `group`: 300 strings (indexed, many match);
        // `tag`: a few (indexed, few match); all with other types mixed in.
        let docs: Vec<Document> = (0..3000)
            .map(|i| {
                let id = match i % 11 {
                    0 => Bson::Int32(i),
                    1 => Bson::Array(vec![format!("job-task-{i:04x}").into(), 5.into()]),
                    2 => Bson::Null,
                    3 => format!("JOB-TASK-{i:04X}").into(),
                    // The Kelvin sign folds to 'k' in the regex, not in an ASCII search.
                    4 => format!("job-task-\u{212a}{i:03x}").into(),
                    // The long s folds to 's' in the regex: a first byte no ASCII case has.
                    5 => format!("\u{17f}ecret-{i:04x}").into(),
                    _ => format!("job-task-{i:04x}").into(),
                };
                let tag = ["alpha", "Beta", "gamma", "é-delta"][i as usize % 4];
                doc! {"id": id, "group": format!("group-{}", i % 300), "tag": tag}
            })
            .collect();
        let collection = Collection::from_documents(docs.clone()).expect("documents");
        let literal = |text: &str| literal_pattern(text, 1 << 20).expect("pattern");
        let regex = |source: &str| pattern(source).expect("pattern");
        let cases = [
            ("id", vec![literal("a1")]),
            ("id", vec![literal("TASK-0f")]),
            ("id", vec![literal("task-k")]),
            // In the arena "job-task-001c" is followed by "group-28": no string holds it.
            ("id", vec![literal("cgroup")]),
            ("id", vec![regex("^job-task-0.*f$")]),
            ("id", vec![regex("[0-3]$"), literal("b")]),
            ("id", vec![regex("^secret-.*[0-3]$")]),
            ("id", vec![regex("^JOB-task-\\d"), regex("e$")]),
            ("group", vec![literal("group-1")]),
            ("group", vec![regex("^group-2[0-9]$")]),
            ("tag", vec![literal("ET")]),
            ("tag", vec![regex("^(al|é)")]),
            ("tag", vec![literal("nowhere")]),
        ];
        for (field, patterns) in cases {
            for negate in [false, true] {
                let op = if negate {
                    Op::NotMatches(patterns.clone())
                } else {
                    Op::Matches(patterns.clone())
                };
                let filter = Filter {
                    all: vec![Condition {
                        path: FieldPath::new(field),
                        op,
                    }],
                    any: vec![],
                };
                let got = collection
                    .matching(&filter, &Default::default())
                    .expect("matching");
                assert_eq!(got, expected(&docs, &filter), "{filter:?}");
            }
        }
    }

    #[test]
    fn indexed_filters_answer_like_the_document_engine_through_changes() {
        let mut docs: Vec<Document> = (0..200)
            .map(|i| match i % 7 {
                0 => doc! {"tag": "a", "kind": "x"},
                1 => doc! {"tag": ["a", "b"], "kind": "y"},
                2 => doc! {"tag": "b", "kind": ["x", "y"]},
                3 => doc! {"tag": {"a": 1}, "kind": "x"},
                4 => doc! {"kind": "y"},
                5 => doc! {"tag": Bson::Null, "kind": "x"},
                _ => doc! {"tag": "c", "kind": "z"},
            })
            .collect();
        let mut collection = Collection::from_documents(docs.clone()).expect("documents");
        let filters = [
            Filter {
                all: vec![eq("tag", "a")],
                any: vec![],
            },
            Filter {
                all: vec![within("tag", &["a", "c"]), eq("kind", "x")],
                any: vec![],
            },
            Filter {
                all: vec![eq("kind", "y")],
                any: vec![eq("tag", "b"), eq("tag", "zz")],
            },
            Filter {
                all: vec![eq("tag", "nowhere")],
                any: vec![],
            },
            Filter {
                all: vec![not(within("tag", &["a", "c"])), eq("kind", "x")],
                any: vec![],
            },
            Filter {
                all: vec![within("tag", &["a", "b", "c"])],
                any: vec![not(within("kind", &["x"])), eq("tag", "c")],
            },
        ];
        let check = |collection: &Collection, docs: &[Document]| {
            for filter in &filters {
                let got = collection
                    .matching(filter, &Default::default())
                    .expect("matching");
                assert_eq!(got, expected(docs, filter), "{filter:?}");
            }
        };
        check(&collection, &docs);
        // Replaced documents move between bitmaps (a string becomes an array and back).
        for i in (0..200).step_by(3) {
            let replacement = if i % 2 == 0 {
                doc! {"tag": ["c", "a"], "kind": "x"}
            } else {
                doc! {"tag": "a", "kind": "z"}
            };
            collection.replace(i, crate::stored::encode(&replacement).expect("encode"));
            docs[i] = replacement;
        }
        check(&collection, &docs);
        // Removed rows shift every later row.
        let gone: Vec<usize> = (0..200).filter(|i| i % 5 == 0).collect();
        collection.remove(&gone);
        let docs: Vec<Document> = (0..200)
            .filter(|i| i % 5 != 0)
            .map(|i| docs[i].clone())
            .collect();
        check(&collection, &docs);
    }

    #[test]
    fn a_reference_keeps_its_index_past_the_limit_through_changes_and_upkeep() {
        let job = |i: usize| format!("job-{}", i / 4);
        let mut docs: Vec<Document> = (0..8 * super::MOST_VALUES)
            .map(|i| doc! {"job_id": job(i), "status": (["PENDING", "FAILURE"][i % 2])})
            .collect();
        let mut collection = Collection::from_documents(docs.clone()).expect("documents");
        let indexed = |c: &Collection| {
            c.columns()
                .column("job_id")
                .and_then(|c| c.index())
                .is_some()
        };
        assert!(
            !indexed(&collection),
            "ids past the limit drop an ordinary index"
        );
        collection.index_every_value("job_id");
        assert!(indexed(&collection));
        let filter = |j: usize| Filter {
            all: vec![eq("job_id", &format!("job-{j}"))],
            any: vec![eq("status", "FAILURE")],
        };
        let check = |collection: &Collection, docs: &[Document]| {
            for j in [0, 7, 511, 2047, 5000] {
                let got = collection
                    .matching(&filter(j), &Default::default())
                    .expect("matching");
                assert_eq!(got, expected(docs, &filter(j)), "job-{j}");
            }
        };
        check(&collection, &docs);
        for i in (0..docs.len()).step_by(5) {
            let moved = doc! {"job_id": job(i + 4), "status": "FAILURE"};
            collection.replace(i, crate::stored::encode(&moved).expect("encode"));
            docs[i] = moved;
        }
        collection
            .push(&doc! {"job_id": "job-5000", "status": "FAILURE"})
            .expect("push");
        docs.push(doc! {"job_id": "job-5000", "status": "FAILURE"});
        check(&collection, &docs);
        let gone: Vec<usize> = (0..docs.len()).filter(|i| i % 3 == 0).collect();
        collection.remove(&gone);
        let docs: Vec<Document> = (0..docs.len())
            .filter(|i| i % 3 != 0)
            .map(|i| docs[i].clone())
            .collect();
        assert!(indexed(&collection), "kept through removals");
        check(&collection, &docs);
        if let Some(upkeep) = collection.upkeep() {
            assert!(collection.install(upkeep).0);
        }
        assert!(indexed(&collection), "kept through upkeep");
        check(&collection, &docs);
    }
}
