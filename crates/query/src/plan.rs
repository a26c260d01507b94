//! Validated, compiled queries: what every storage backend receives.
//!
//! A plan holds no raw JSON: values are BSON, regexes are compiled, dates are resolved
//! (including `timediff_*`, against the clock given to the compiler), so the in-memory engine
//! and the MongoDB translation work from the same facts.

use crate::time::DateFormat;
use crate::value::FieldPath;
use bson::Bson;

/// A case-insensitive regular expression, kept with the source sent to other engines.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Regex source, without the case-insensitive flag (literal text is already escaped).
    pub source: String,
    /// The compiled linear-time regex (case-insensitive).
    pub regex: regex::Regex,
    /// For a literal of ASCII text (`contain` and friends): the text lowercased, matched
    /// without the regex on ASCII strings (where ASCII case folding is the regex's folding).
    pub ascii_literal: Option<Box<[u8]>>,
    /// Texts every match of an anchored regex must start or end with (a string failing
    /// them is rejected without running the regex).
    pub anchors: Anchors,
}

impl Pattern {
    /// True when the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        match &self.ascii_literal {
            Some(needle) if text.is_ascii() => contains_ignoring_case(text.as_bytes(), needle),
            _ => self.anchors.admit(text.as_bytes()) && self.regex.is_match(text),
        }
    }
}

/// Literal starts and ends that every match of a regex anchored at the start (`^…`) or end
/// (`…$`) has, lowercased, compared ignoring ASCII case: a necessary condition only.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    /// A matching text starts with one of these (no condition when empty).
    pub prefixes: Vec<Box<[u8]>>,
    /// A matching text ends with one of these (no condition when empty).
    pub suffixes: Vec<Box<[u8]>>,
}

impl Anchors {
    /// True when no start or end is known (every text is admitted).
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty() && self.suffixes.is_empty()
    }

    /// False when `text` cannot match.
    pub fn admit(&self, text: &[u8]) -> bool {
        let starts = |p: &[u8]| {
            text.get(..p.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(p))
        };
        let ends = |p: &[u8]| {
            text.len()
                .checked_sub(p.len())
                .and_then(|at| text.get(at..))
                .is_some_and(|t| t.eq_ignore_ascii_case(p))
        };
        // Ends first: ids and names share their starts more often than their ends.
        (self.suffixes.is_empty() || self.suffixes.iter().any(|p| ends(p)))
            && (self.prefixes.is_empty() || self.prefixes.iter().any(|p| starts(p)))
    }
}

/// True when `needle` (ASCII, lowercase) occurs in `haystack` ignoring ASCII case.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else {
        return false;
    };
    // Short strings (ids, names) and needles: compare 8-byte windows of a lowercased copy.
    if haystack.len() <= SHORT && needle.len() <= 8 && !needle.contains(&0) {
        return contains_short(haystack, needle);
    }
    let upper = first.to_ascii_uppercase();
    let matches_at =
        |start: usize| haystack[start..start + needle.len()].eq_ignore_ascii_case(needle);
    let mut from = 0;
    while let Some(at) = haystack
        .get(from..=last_start)
        .and_then(|h| memchr::memchr2(first, upper, h))
    {
        let start = from + at;
        if matches_at(start) {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Longest haystack [`contains_short`] takes.
const SHORT: usize = 64;

/// [`contains_ignoring_case`] of an ASCII haystack of at most [`SHORT`] bytes and a needle
/// of one to eight bytes: the haystack as lowercased 8-byte words, every window start
/// compared as a masked word (no branch per candidate byte). Windows running past the end
/// see zero bytes, which a needle without a zero byte never matches.
fn contains_short(haystack: &[u8], needle: &[u8]) -> bool {
    // Words built in registers (a byte copy into a buffer read back as words stalls).
    let word_of = |bytes: &[u8]| {
        bytes
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b))
    };
    let mut words = [0u64; SHORT / 8 + 1];
    for (word, chunk) in words.iter_mut().zip(haystack.chunks(8)) {
        *word = lowercase_ascii_word(match <[u8; 8]>::try_from(chunk) {
            Ok(full) => u64::from_le_bytes(full),
            Err(_) => word_of(chunk),
        });
    }
    let key = word_of(needle);
    let mask = u64::MAX >> (8 * (8 - needle.len()));
    words
        .windows(2)
        .take(haystack.len().div_ceil(8))
        .any(|pair| {
            let (low, high) = (pair[0], pair[1]);
            let mut found = low & mask == key;
            for shift in (8..64).step_by(8) {
                found |= ((low >> shift) | (high << (64 - shift))) & mask == key;
            }
            found
        })
}

/// The ASCII letters of a word of eight ASCII bytes lowercased, all at once.
fn lowercase_ascii_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // A byte below 0x80 plus 0x3f reaches 0x80 from 'A' on, plus 0x25 from past 'Z' on.
    let from_a = word.wrapping_add(0x3f * ONES);
    let past_z = word.wrapping_add(0x25 * ONES);
    let upper = from_a & !past_z & (0x80 * ONES);
    word | (upper >> 2)
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A filter operator with its typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Equal (array field: any element equal, or the array equal); null matches missing.
    Eq(Bson),
    /// Not equal (missing counts as not equal).
    Ne(Bson),
    /// Less than, within the value's type class.
    Lt(Bson),
    /// Less than or equal, within the value's type class.
    Lte(Bson),
    /// Greater than, within the value's type class.
    Gt(Bson),
    /// Greater than or equal, within the value's type class.
    Gte(Bson),
    /// Field present (true) or absent (false).
    Exists(bool),
    /// Equal to any of the values.
    In(Vec<Bson>),
    /// Equal to none of the values.
    NotIn(Vec<Bson>),
    /// Some string value matches any of the patterns (`contain`, `contain_in`, `regex`,
    /// `regex_in`).
    Matches(Vec<Pattern>),
    /// No string value matches any of the patterns (`not_contain`, `not_contain_in`).
    NotMatches(Vec<Pattern>),
    /// Some element of the array has every sub-field equal to the given value.
    ElemMatch(Vec<(FieldPath, Bson)>),
}

/// One compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Field path.
    pub path: FieldPath,
    /// Operator and value.
    pub op: Op,
}

impl Condition {
    /// `path` equals `value`.
    pub fn eq(path: &str, value: impl Into<Bson>) -> Self {
        Condition {
            path: FieldPath::new(path),
            op: Op::Eq(value.into()),
        }
    }

    /// `path` equals one of `values`.
    pub fn one_of<V: Into<Bson>>(path: &str, values: impl IntoIterator<Item = V>) -> Self {
        Condition {
            path: FieldPath::new(path),
            op: Op::In(values.into_iter().map(Into::into).collect()),
        }
    }

    /// `path` is greater than `value` (same type class).
    pub fn gt(path: &str, value: impl Into<Bson>) -> Self {
        Condition {
            path: FieldPath::new(path),
            op: Op::Gt(value.into()),
        }
    }

    /// `path` is less than `value` (same type class).
    pub fn lt(path: &str, value: impl Into<Bson>) -> Self {
        Condition {
            path: FieldPath::new(path),
            op: Op::Lt(value.into()),
        }
    }

    /// `path` is present (or absent, with `false`).
    pub fn exists(path: &str, present: bool) -> Self {
        Condition {
            path: FieldPath::new(path),
            op: Op::Exists(present),
        }
    }
}

/// `AND(all) AND OR(any)`; an empty part is no constraint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// AND-ed conditions.
    pub all: Vec<Condition>,
    /// OR-ed conditions.
    pub any: Vec<Condition>,
}

impl Filter {
    /// Every one of `conditions`.
    pub fn all(conditions: impl IntoIterator<Item = Condition>) -> Self {
        Filter {
            all: conditions.into_iter().collect(),
            any: Vec::new(),
        }
    }

    /// Also at least one of `conditions`.
    pub fn and_any(mut self, conditions: impl IntoIterator<Item = Condition>) -> Self {
        self.any.extend(conditions);
        self
    }
}

/// One sort key of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec {
    /// Path or column.
    pub path: FieldPath,
    /// Descending when true.
    pub desc: bool,
}

/// The slice of rows to return: skip `skip`, then at most `limit` (None = all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slice {
    /// Rows skipped.
    pub skip: u64,
    /// Rows returned at most.
    pub limit: Option<u64>,
}

/// Query `unwind`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnwindSpec {
    /// Array field.
    pub path: FieldPath,
    /// Conditions on the unwound rows.
    pub filter: Vec<Condition>,
}

/// A compiled `list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    /// Which documents.
    pub filter: Filter,
    /// Order (never empty: defaults to `created_at` descending). Ties break on insertion order.
    pub sort: Vec<SortSpec>,
    /// Paging.
    pub slice: Slice,
    /// Fields returned (`only`/`minimal` plus sort keys); None = whole documents.
    pub projection: Option<Vec<FieldPath>>,
    /// Only count.
    pub count_only: bool,
    /// Unwind of an array field.
    pub unwind: Option<UnwindSpec>,
}

impl ListPlan {
    /// Every document matching `filter`, whole, in insertion order (`_id` ascending).
    pub fn matching(filter: Filter) -> Self {
        ListPlan {
            filter,
            sort: vec![SortSpec {
                path: FieldPath::new("_id"),
                desc: false,
            }],
            slice: Slice::default(),
            projection: None,
            count_only: false,
            unwind: None,
        }
    }

    /// Only the number of documents matching `filter`.
    pub fn count(filter: Filter) -> Self {
        ListPlan {
            count_only: true,
            ..ListPlan::matching(filter)
        }
    }
}

/// Comparison of a group field condition (aggregation-expression semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `$eq`
    Eq,
    /// `$ne`
    Ne,
    /// `$gt`
    Gt,
    /// `$gte`
    Gte,
    /// `$lt`
    Lt,
    /// `$lte`
    Lte,
}

/// A condition of `count`/`sum`/`average` in a group stage.
#[derive(Debug, Clone, PartialEq)]
pub struct RowCondition {
    /// Column or path.
    pub path: FieldPath,
    /// Comparison.
    pub op: CompareOp,
    /// Compared value.
    pub value: Bson,
}

/// What a `push` collects.
#[derive(Debug, Clone, PartialEq)]
pub enum PushSource {
    /// The value at a path.
    Value(FieldPath),
    /// An object of `(name, path)` sub-fields.
    Object(Vec<(String, FieldPath)>),
}

/// A group accumulator.
#[derive(Debug, Clone, PartialEq)]
pub enum Accumulator {
    /// Rows (meeting the conditions).
    Count(Vec<RowCondition>),
    /// Sum of numbers; rows failing the conditions add 0.
    Sum(FieldPath, Vec<RowCondition>),
    /// Average; rows failing the conditions count as 0.
    Average(FieldPath, Vec<RowCondition>),
    /// Greatest value (MongoDB order).
    Max(FieldPath),
    /// Smallest value (MongoDB order).
    Min(FieldPath),
    /// Value of the first row.
    First(FieldPath),
    /// Value of the last row.
    Last(FieldPath),
    /// All values, in row order.
    Push(PushSource),
    /// Distinct values.
    AddToSet(FieldPath),
    /// Documents merged, later rows winning.
    MergeObjects(FieldPath),
}

/// A group key column.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKeySpec {
    /// Path or column grouped by.
    pub path: FieldPath,
    /// Output column.
    pub name: String,
    /// Date rendering, if any.
    pub date_format: Option<DateFormat>,
}

/// A group stage.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// Key columns.
    pub keys: Vec<GroupKeySpec>,
    /// `(output column, accumulator)`.
    pub fields: Vec<(String, Accumulator)>,
}

/// An item of `concat`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConcatPart {
    /// Literal text.
    Text(String),
    /// A column reference (`$name`).
    Column(FieldPath),
}

/// The expression of one project field.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectExpr {
    /// Copy of a column.
    Copy(FieldPath),
    /// Array length (null when not an array).
    Size(FieldPath),
    /// Sum of an array (a number: itself; anything else: 0).
    Sum(FieldPath),
    /// `$arrayToObject`.
    ArrayToObject(FieldPath),
    /// `$objectToArray`.
    ObjectToArray(FieldPath),
    /// `$concat` of text and columns.
    Concat(Vec<ConcatPart>),
}

/// A project stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSpec {
    /// `(output column, expression)`.
    pub fields: Vec<(String, ProjectExpr)>,
    /// Group key columns kept as they are.
    pub keep: Vec<String>,
}

/// One aggregate stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// One row per array element; rows without elements are dropped.
    Unwind(FieldPath),
    /// Group rows.
    Group(GroupSpec),
    /// A single row `{name: count}`, none when there are no rows.
    Count(String),
    /// Order rows.
    Sort(Vec<SortSpec>),
    /// Reshape rows.
    Project(ProjectSpec),
    /// First N rows.
    Limit(u64),
    /// Drop N rows.
    Skip(u64),
}

/// What a `stat` computes.
#[derive(Debug, Clone, PartialEq)]
pub enum StatKind {
    /// Distinct values of a field, ascending.
    Distinct(FieldPath),
    /// An aggregation pipeline.
    Aggregate(Vec<Stage>),
}

/// A compiled `stat`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatPlan {
    /// Which documents.
    pub filter: Filter,
    /// Distinct or pipeline.
    pub kind: StatKind,
    /// With `page.limit` > 0: the slice, and `total_count` is reported.
    pub page: Option<Slice>,
}
