//! What compiling needs besides the query ([`Options`]), and the checks of names every part
//! of a query uses: field paths, output columns, required strings.

use super::patterns::REGEX_SIZE_LIMIT;
use crate::error::{Error, Result};
use crate::model;
use crate::plan::{Slice, SortSpec};
use crate::value::FieldPath;
use chrono::{DateTime, Utc};
use spacejobs_exec::Deadline;

/// What compilation needs besides the query.
#[derive(Debug, Clone)]
pub struct Options {
    /// "now", for `timediff_*`.
    pub now: DateTime<Utc>,
    /// Compiled-size bound of each regex (and of its lazy DFA cache), in bytes.
    pub regex_size_limit: usize,
    /// Checked before each pattern is compiled: compiling stops once it has passed.
    pub deadline: Option<Deadline>,
}

impl Options {
    /// Options at `now` with the default regex size bound and no deadline.
    pub fn new(now: DateTime<Utc>) -> Self {
        Options {
            now,
            regex_size_limit: REGEX_SIZE_LIMIT,
            deadline: None,
        }
    }

    pub(super) fn check(&self) -> Result<()> {
        Ok(self.deadline.as_ref().map_or(Ok(()), Deadline::check)?)
    }
}

/// Checks a dotted key: no empty segment, no `$` operator injection.
pub fn field_path(key: &str, what: &str) -> Result<FieldPath> {
    let bad = key.is_empty()
        || key.split('.').any(|s| s.is_empty() || s.starts_with('$'))
        || key.contains('\0');
    if bad {
        return Err(Error::query(format!(
            "invalid {what} '{key}': a dotted field path without empty segments or '$'"
        )));
    }
    Ok(FieldPath::new(key))
}

/// Checks an output column name: not empty, no dot, no leading `$`.
pub(super) fn column_name(name: &str, what: &str) -> Result<String> {
    if name.is_empty() || name.contains('.') || name.starts_with('$') || name.contains('\0') {
        return Err(Error::query(format!(
            "invalid {what} '{name}': a name without '.' that does not start with '$'"
        )));
    }
    Ok(name.to_string())
}

pub(super) fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str> {
    present(value).ok_or_else(|| Error::required(key))
}

/// [`required`] for field `field` of an element of list `param` (the name written only when
/// it is missing).
pub(super) fn required_in<'a>(
    value: &'a Option<String>,
    param: &str,
    field: &str,
) -> Result<&'a str> {
    present(value).ok_or_else(|| Error::required(format!("{param}.{field}")))
}

/// A string parameter that is given and not empty.
pub(super) fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

pub(super) fn sort_specs(sort: &model::Sort, param: &str) -> Result<Vec<SortSpec>> {
    if !sort.keys.is_empty() {
        return sort
            .keys
            .iter()
            .map(|k| {
                let key = required_in(&k.key, param, "keys.key")?;
                Ok(SortSpec {
                    path: field_path(key, "sort key")?,
                    desc: k.desc,
                })
            })
            .collect();
    }
    let key = required_in(&sort.key, param, "key")?;
    Ok(vec![SortSpec {
        path: field_path(key, "sort key")?,
        desc: sort.desc,
    }])
}

pub(super) fn slice(page: &model::Page) -> Slice {
    Slice {
        skip: u64::from(page.start.max(1) - 1),
        limit: (page.limit > 0).then_some(u64::from(page.limit)),
    }
}
