//! Which top-level fields an aggregation pipeline reads from its input documents, so a
//! collection kept as BSON bytes hands the document engine small documents holding only
//! those fields instead of parsing every document whole.

use spacejobs_query::plan::{Accumulator, ConcatPart, ProjectExpr, PushSource, Stage};
use spacejobs_query::value::FieldPath;
use std::collections::BTreeSet;

/// The top-level fields `stages` read from their input documents, when a `group`, `project`
/// or `count` replaces the documents before any row is returned; `None` when the rows
/// returned may be the documents themselves (every field is then needed).
pub fn pipeline_reads(stages: &[Stage]) -> Option<Vec<String>> {
    let mut reads = Reads::default();
    for stage in stages {
        match stage {
            Stage::Unwind(path) => reads.add(path),
            Stage::Sort(specs) => specs.iter().for_each(|s| reads.add(&s.path)),
            Stage::Limit(_) | Stage::Skip(_) => {}
            Stage::Count(_) => return reads.done(),
            Stage::Group(spec) => {
                for key in &spec.keys {
                    reads.add(&key.path);
                }
                for (_, accumulator) in &spec.fields {
                    reads.accumulator(accumulator);
                }
                return reads.done();
            }
            Stage::Project(spec) => {
                reads.name("_id");
                spec.keep.iter().for_each(|k| reads.name(k));
                for (_, expr) in &spec.fields {
                    match expr {
                        ProjectExpr::Copy(p)
                        | ProjectExpr::Size(p)
                        | ProjectExpr::Sum(p)
                        | ProjectExpr::ArrayToObject(p)
                        | ProjectExpr::ObjectToArray(p) => reads.add(p),
                        ProjectExpr::Concat(parts) => {
                            for part in parts {
                                if let ConcatPart::Column(p) = part {
                                    reads.add(p);
                                }
                            }
                        }
                    }
                }
                return reads.done();
            }
        }
    }
    None
}

/// Every path an accumulator reads: its input and its conditions.
pub fn accumulator_paths(accumulator: &Accumulator) -> Vec<&FieldPath> {
    match accumulator {
        Accumulator::Count(conditions) => conditions.iter().map(|c| &c.path).collect(),
        Accumulator::Sum(path, conditions) | Accumulator::Average(path, conditions) => {
            std::iter::once(path)
                .chain(conditions.iter().map(|c| &c.path))
                .collect()
        }
        Accumulator::Max(path)
        | Accumulator::Min(path)
        | Accumulator::First(path)
        | Accumulator::Last(path)
        | Accumulator::AddToSet(path)
        | Accumulator::MergeObjects(path)
        | Accumulator::Push(PushSource::Value(path)) => vec![path],
        Accumulator::Push(PushSource::Object(fields)) => fields.iter().map(|(_, p)| p).collect(),
    }
}

/// Fields read so far; `whole` once a path names no field (the whole document).
#[derive(Default)]
struct Reads {
    fields: BTreeSet<String>,
    whole: bool,
}

impl Reads {
    fn add(&mut self, path: &FieldPath) {
        match path.parts().first() {
            Some(field) => self.name(field),
            None => self.whole = true,
        }
    }

    fn name(&mut self, field: &str) {
        self.fields.insert(field.to_string());
    }

    fn accumulator(&mut self, accumulator: &Accumulator) {
        for path in accumulator_paths(accumulator) {
            self.add(path);
        }
    }

    fn done(self) -> Option<Vec<String>> {
        (!self.whole).then(|| self.fields.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spacejobs_query::plan::{GroupKeySpec, GroupSpec};

    #[test]
    fn unwind_then_group_reads_the_array_and_the_keys() {
        let stages = vec![
            Stage::Unwind(FieldPath::new("errors")),
            Stage::Group(GroupSpec {
                keys: vec![GroupKeySpec {
                    path: FieldPath::new("errors.error_code"),
                    name: "code".into(),
                    date_format: None,
                }],
                fields: vec![(
                    "n".into(),
                    Accumulator::Sum(FieldPath::new("created_count"), Vec::new()),
                )],
            }),
        ];
        assert_eq!(
            pipeline_reads(&stages),
            Some(vec!["created_count".to_string(), "errors".to_string()])
        );
        assert_eq!(
            pipeline_reads(&stages[..1]),
            None,
            "unwound rows are returned"
        );
    }
}
