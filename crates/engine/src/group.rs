//! The group stage: key columns, accumulators and their MongoDB-like results.

use bson::{Bson, Document};
use spacejobs_core::error::{Error, Result};
use spacejobs_exec::{Deadline, CHECK_EVERY};
use spacejobs_query::plan::{Accumulator, CompareOp, GroupSpec, PushSource, RowCondition};
use spacejobs_query::value::{as_f64, as_i64, compare, compare_optional, equal, FieldPath};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// A group key value: hashed and compared the way `$group` does (1 and 1.0 are one group;
/// a missing key is its own group, apart from null).
#[derive(Debug, Clone)]
struct KeyValue<'a>(Option<Cow<'a, Bson>>);

impl PartialEq for KeyValue<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => equal(a, b),
            _ => false,
        }
    }
}

impl Eq for KeyValue<'_> {}

impl Hash for KeyValue<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            None => state.write_u8(0),
            Some(v) => hash_value(v, state),
        }
    }
}

fn hash_value<H: Hasher>(value: &Bson, state: &mut H) {
    state.write_u8(spacejobs_query::value::type_rank(value));
    match value {
        Bson::String(s) | Bson::Symbol(s) => s.hash(state),
        Bson::Boolean(b) => b.hash(state),
        Bson::DateTime(d) => d.timestamp_millis().hash(state),
        Bson::ObjectId(o) => o.bytes().hash(state),
        Bson::Document(d) => {
            for (k, v) in d {
                k.hash(state);
                hash_value(v, state);
            }
        }
        Bson::Array(items) => items.iter().for_each(|i| hash_value(i, state)),
        other => {
            if let Some(f) = as_f64(other) {
                // Equal numbers of any type hash alike; -0.0 and 0.0 too.
                let f = if f == 0.0 { 0.0 } else { f };
                f.to_bits().hash(state);
            }
        }
    }
}

/// The running state of one accumulator within one group.
enum State {
    Count(i64),
    Sum(Number),
    Average { total: f64, count: u64 },
    Best(Option<Bson>),
    First(Option<Bson>),
    Last(Option<Bson>),
    Push(Vec<Bson>),
    Merge(Document),
}

/// An exact integer sum until a double joins in, like `$sum`.
#[derive(Clone, Copy)]
pub enum Number {
    /// All integers so far.
    Int(i64),
    /// A double (or an integer overflow) was met.
    Float(f64),
}

impl Number {
    /// Adds a BSON number; other values are ignored.
    pub fn plus(self, value: &Bson) -> Number {
        match (as_i64(value), as_f64(value)) {
            (Some(b), _) => self.plus_int(b),
            (None, Some(b)) => self.plus_float(b),
            _ => self,
        }
    }

    /// Adds an integer (promoting to a double on overflow).
    pub fn plus_int(self, b: i64) -> Number {
        match self {
            Number::Int(a) => a
                .checked_add(b)
                .map_or(Number::Float(a as f64 + b as f64), Number::Int),
            Number::Float(a) => Number::Float(a + b as f64),
        }
    }

    /// Adds a double.
    pub fn plus_float(self, b: f64) -> Number {
        match self {
            Number::Int(a) => Number::Float(a as f64 + b),
            Number::Float(a) => Number::Float(a + b),
        }
    }

    /// The BSON result: int32 when it fits, else int64, or a double.
    pub fn to_bson(self) -> Bson {
        match self {
            Number::Int(i) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
            Number::Float(f) => Bson::Double(f),
        }
    }
}

/// Adds a row's value to a sum: a number, or every number of an array.
pub fn add_row_value(sum: Number, value: Option<&Bson>) -> Number {
    match value {
        Some(Bson::Array(items)) => items.iter().fold(sum, |s, v| s.plus(v)),
        Some(v) => sum.plus(v),
        None => sum,
    }
}

/// A row's value for `average`: a number, or the average of an array's numbers.
fn row_average(value: Option<&Bson>) -> Option<f64> {
    match value? {
        Bson::Array(items) => {
            let nums: Vec<f64> = items.iter().filter_map(as_f64).collect();
            (!nums.is_empty()).then(|| nums.iter().sum::<f64>() / nums.len() as f64)
        }
        v => as_f64(v),
    }
}

/// A row's candidate for `max`/`min`: the value, or the best non-null element of an array.
fn row_best(value: Option<&Bson>, want: Ordering) -> Option<Bson> {
    match value? {
        Bson::Null | Bson::Undefined => None,
        Bson::Array(items) => items
            .iter()
            .filter(|v| !matches!(v, Bson::Null | Bson::Undefined))
            .reduce(|a, b| if compare(b, a) == want { b } else { a })
            .cloned(),
        v => Some(v.clone()),
    }
}

/// Whether a row meets all conditions (aggregation-expression comparison).
pub fn row_meets(row: &Document, conditions: &[RowCondition]) -> bool {
    conditions.iter().all(|c| {
        let value = c.path.resolve(row);
        let o = compare_optional(value.as_deref(), Some(&c.value));
        match c.op {
            CompareOp::Eq => o == Ordering::Equal,
            CompareOp::Ne => o != Ordering::Equal,
            CompareOp::Gt => o == Ordering::Greater,
            CompareOp::Gte => o != Ordering::Less,
            CompareOp::Lt => o == Ordering::Less,
            CompareOp::Lte => o != Ordering::Greater,
        }
    })
}

fn initial(acc: &Accumulator) -> State {
    match acc {
        Accumulator::Count(_) => State::Count(0),
        Accumulator::Sum(..) => State::Sum(Number::Int(0)),
        Accumulator::Average(..) => State::Average {
            total: 0.0,
            count: 0,
        },
        Accumulator::Max(_) | Accumulator::Min(_) => State::Best(None),
        Accumulator::First(_) => State::First(None),
        Accumulator::Last(_) => State::Last(None),
        Accumulator::Push(_) | Accumulator::AddToSet(_) => State::Push(Vec::new()),
        Accumulator::MergeObjects(_) => State::Merge(Document::new()),
    }
}

fn resolve<'r>(path: &FieldPath, row: &'r Document) -> Option<Cow<'r, Bson>> {
    path.resolve(row)
}

fn update(state: &mut State, acc: &Accumulator, row: &Document) -> Result<()> {
    match (state, acc) {
        (State::Count(n), Accumulator::Count(conds)) => {
            if row_meets(row, conds) {
                *n += 1;
            }
        }
        (State::Sum(sum), Accumulator::Sum(path, conds)) => {
            if row_meets(row, conds) {
                *sum = add_row_value(*sum, resolve(path, row).as_deref());
            }
        }
        (State::Average { total, count }, Accumulator::Average(path, conds)) => {
            if !row_meets(row, conds) {
                *count += 1;
            } else if let Some(v) = row_average(resolve(path, row).as_deref()) {
                *total += v;
                *count += 1;
            }
        }
        (State::Best(best), Accumulator::Max(path) | Accumulator::Min(path)) => {
            let want = if matches!(acc, Accumulator::Max(_)) {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            if let Some(v) = row_best(resolve(path, row).as_deref(), want) {
                if best.as_ref().is_none_or(|b| compare(&v, b) == want) {
                    *best = Some(v);
                }
            }
        }
        (State::First(first), Accumulator::First(path)) => {
            if first.is_none() {
                *first = Some(resolve(path, row).map_or(Bson::Null, Cow::into_owned));
            }
        }
        (State::Last(last), Accumulator::Last(path)) => {
            *last = Some(resolve(path, row).map_or(Bson::Null, Cow::into_owned));
        }
        (State::Push(items), Accumulator::Push(PushSource::Value(path))) => {
            if let Some(v) = resolve(path, row) {
                items.push(v.into_owned());
            }
        }
        (State::Push(items), Accumulator::Push(PushSource::Object(fields))) => {
            let mut object = Document::new();
            for (name, path) in fields {
                if let Some(v) = resolve(path, row) {
                    object.insert(name.clone(), v.into_owned());
                }
            }
            items.push(Bson::Document(object));
        }
        (State::Push(items), Accumulator::AddToSet(path)) => {
            if let Some(v) = resolve(path, row) {
                if !items.iter().any(|i| equal(i, &v)) {
                    items.push(v.into_owned());
                }
            }
        }
        (State::Merge(merged), Accumulator::MergeObjects(path)) => {
            match resolve(path, row).as_deref() {
                None | Some(Bson::Null) => {}
                Some(Bson::Document(d)) => merged.extend(d.clone()),
                Some(other) => {
                    return Err(Error::query(format!(
                        "merge_objects needs objects at '{}', found {other}",
                        path.as_str()
                    )))
                }
            }
        }
        _ => return Err(Error::Internal("accumulator state mismatch".into())),
    }
    Ok(())
}

fn finish(state: State) -> Bson {
    match state {
        State::Count(n) => Number::Int(n).to_bson(),
        State::Sum(sum) => sum.to_bson(),
        State::Average { total, count } => {
            if count == 0 {
                Bson::Null
            } else {
                Bson::Double(total / count as f64)
            }
        }
        State::Best(v) | State::First(v) | State::Last(v) => v.unwrap_or(Bson::Null),
        State::Push(items) => Bson::Array(items),
        State::Merge(d) => Bson::Document(d),
    }
}

/// Groups rows: one output row per distinct key tuple, in first-seen order, with the key
/// columns (absent when the key is missing) beside the accumulated fields; stops once
/// `deadline` has passed or was cancelled.
pub fn group(
    rows: &[Cow<'_, Document>],
    spec: &GroupSpec,
    deadline: &Deadline,
) -> Result<Vec<Document>> {
    let mut index: HashMap<Vec<KeyValue<'_>>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<KeyValue<'_>>, Vec<State>)> = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        if n % CHECK_EVERY == 0 {
            deadline.check()?;
        }
        let row: &Document = row;
        let key: Vec<KeyValue<'_>> = spec
            .keys
            .iter()
            .map(|k| {
                let v = k.path.resolve(row);
                KeyValue(match &k.date_format {
                    None => v,
                    Some(format) => Some(Cow::Owned(match v.as_deref() {
                        Some(Bson::DateTime(dt)) => format.apply(*dt),
                        _ => Bson::Null,
                    })),
                })
            })
            .collect();
        let slot = match index.get(&key) {
            Some(i) => *i,
            None => {
                let states = spec.fields.iter().map(|(_, acc)| initial(acc)).collect();
                groups.push((key.clone(), states));
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let states = &mut groups[slot].1;
        for (state, (_, acc)) in states.iter_mut().zip(&spec.fields) {
            update(state, acc, row)?;
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, states)| {
            let mut out = Document::new();
            for (k, v) in spec.keys.iter().zip(key) {
                if let Some(v) = v.0 {
                    out.insert(k.name.clone(), v.into_owned());
                }
            }
            for ((name, _), state) in spec.fields.iter().zip(states) {
                out.insert(name.clone(), finish(state));
            }
            out
        })
        .collect())
}
