//! Patterns (`contain`, `regex` and their lists, `keyword`): regex sources checked for length
//! and compiled size, case-insensitive, anchors noted, and kept across requests.

use crate::error::{Error, Result};
use crate::plan::*;

/// Longest regex source accepted (characters).
pub const MAX_REGEX_LEN: usize = 1024;
/// Compiled-size bound of one regex (and of its lazy DFA cache) when none is given.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Builds a case-insensitive pattern from regex source, with the length and default size bounds.
pub fn pattern(source: &str) -> Result<Pattern> {
    bounded_pattern(source, REGEX_SIZE_LIMIT)
}

/// A case-insensitive pattern whose compiled form and DFA cache stay under `size_limit` bytes.
pub fn bounded_pattern(source: &str, size_limit: usize) -> Result<Pattern> {
    crate::pattern_cache::cached(source, size_limit, || build_pattern(source, size_limit))
}

/// [`bounded_pattern`], compiled anew.
fn build_pattern(source: &str, size_limit: usize) -> Result<Pattern> {
    if source.chars().count() > MAX_REGEX_LEN {
        return Err(Error::query(format!(
            "regex is longer than {MAX_REGEX_LEN} characters"
        )));
    }
    let regex = regex::RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(size_limit)
        .dfa_size_limit(size_limit)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => Error::query(format!(
                "regex '{source}' compiles to more than {limit} bytes, its share of the \
                 request's max_regex_compiled_bytes"
            )),
            e => Error::query(format!("invalid regex '{source}': {e}")),
        })?;
    Ok(Pattern {
        source: source.to_string(),
        regex,
        ascii_literal: None,
        anchors: anchors(source),
    })
}

/// The literal starts and ends an anchored regex's matches must have (none known: empty).
fn anchors(source: &str) -> Anchors {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    use regex_syntax::hir::Look;
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(source)
    else {
        return Anchors::default();
    };
    let props = hir.properties();
    let ends = |kind: ExtractKind, anchored: bool| -> Vec<Box<[u8]>> {
        if !anchored {
            return Vec::new();
        }
        let seq = Extractor::new().kind(kind).extract(&hir);
        let Some(literals) = seq.literals() else {
            return Vec::new();
        };
        let mut folded: Vec<Box<[u8]>> = literals
            .iter()
            .map(|l| l.as_bytes().to_ascii_lowercase().into())
            .collect();
        if folded.is_empty() || folded.iter().any(|l| l.is_empty()) {
            return Vec::new();
        }
        folded.sort();
        folded.dedup();
        folded
    };
    Anchors {
        prefixes: ends(
            ExtractKind::Prefix,
            props.look_set_prefix().contains(Look::Start),
        ),
        suffixes: ends(
            ExtractKind::Suffix,
            props.look_set_suffix().contains(Look::End),
        ),
    }
}

/// A pattern matching `text` literally, case-insensitively.
pub fn literal_pattern(text: &str, size_limit: usize) -> Result<Pattern> {
    let mut pattern = bounded_pattern(&regex::escape(text), size_limit)?;
    if text.is_ascii() {
        pattern.ascii_literal = Some(text.to_ascii_lowercase().into_bytes().into());
    }
    Ok(pattern)
}
