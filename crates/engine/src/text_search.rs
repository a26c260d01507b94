//! Literal searches over a collection's interned strings in one pass: the needles of a
//! `contain`-like condition sought through the whole string arena at once (SIMD literal
//! search, in parallel chunks), instead of one search per row. The answer is a memo by
//! string id that the row scan reads.

use super::memo::{Memo, MATCH, NO_MATCH, UNTRIED};
use super::strings::Strings;
use aho_corasick::{packed, AhoCorasick, Input, Span};
use rayon::prelude::*;

/// Arena bytes a chunk of the parallel search covers, about (small in tests, so that
/// small collections take the parallel path too).
const CHUNK: usize = if cfg!(test) { 1 << 10 } else { 1 << 20 };

/// For each interned string: [`MATCH`] when one of `needles` (lowercase ASCII) occurs in it
/// ignoring ASCII case, [`UNTRIED`] when it has non-ASCII text and no such occurrence (the
/// regex's Unicode case folding must decide), else [`NO_MATCH`]. `None` when the needles
/// cannot be searched this way.
pub fn search(strings: &Strings, needles: &[&[u8]]) -> Option<Memo> {
    if needles.iter().any(|n| n.is_empty() || !n.is_ascii()) {
        return None;
    }
    let finder = Finder::new(needles)?;
    let (text, ends) = strings.arena();
    let memo = Memo::new(ends.len(), NO_MATCH);
    let text = text.as_bytes();
    let chunk = |(start, end): (usize, usize)| {
        mark_non_ascii(text, ends, start, end, &memo);
        let mut from = start;
        while from < end {
            let Some(at) = finder.candidate(text, from, end) else {
                break;
            };
            let id = ends.partition_point(|&e| (e as usize) <= at);
            let Some(&string_end) = ends.get(id) else {
                break;
            };
            let string_end = string_end as usize;
            let hit = needles.iter().any(|needle| {
                at + needle.len() <= string_end
                    && text
                        .get(at..at + needle.len())
                        .is_some_and(|t| t.eq_ignore_ascii_case(needle))
            });
            if hit {
                memo.set(id, MATCH);
                from = string_end; // the string is decided
            } else {
                from = at + 1;
            }
        }
    };
    let ranges = chunks(text.len(), ends);
    if ranges.len() > 1 {
        ranges.into_par_iter().for_each(chunk);
    } else {
        ranges.into_iter().for_each(chunk);
    }
    Some(memo)
}

/// Byte ranges of about [`CHUNK`] bytes that start and end at string boundaries (no string
/// is split), covering `0..len`.
fn chunks(len: usize, ends: &[u32]) -> Vec<(usize, usize)> {
    let mut bounds = vec![0usize];
    let mut next = CHUNK;
    while next < len {
        let id = ends.partition_point(|&end| (end as usize) < next);
        match ends.get(id) {
            Some(&end) if end as usize > *bounds.last().unwrap_or(&0) => {
                bounds.push(end as usize);
                next = end as usize + CHUNK;
            }
            _ => break,
        }
    }
    if bounds.last() != Some(&len) {
        bounds.push(len);
    }
    bounds.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Where the needles may start: a SIMD search (Teddy) for every ASCII case variant of the
/// needles' first bytes, or, with too many variants, an Aho-Corasick automaton that folds
/// ASCII case itself. Candidates are verified by the caller.
enum Finder {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

/// Bytes of each needle whose case variants the packed search looks for.
const PREFIX: usize = 4;
/// Most case variants given to the packed search.
const MOST_VARIANTS: usize = 64;

impl Finder {
    fn new(needles: &[&[u8]]) -> Option<Self> {
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for needle in needles {
            let mut forms = vec![Vec::new()];
            for &b in needle.iter().take(PREFIX) {
                let cases = [b.to_ascii_lowercase(), b.to_ascii_uppercase()];
                let cases = if cases[0] == cases[1] {
                    &cases[..1]
                } else {
                    &cases[..]
                };
                forms = forms
                    .into_iter()
                    .flat_map(|form| {
                        cases.iter().map(move |&c| {
                            let mut longer = form.clone();
                            longer.push(c);
                            longer
                        })
                    })
                    .collect();
            }
            variants.extend(forms);
        }
        variants.sort();
        variants.dedup();
        if variants.len() <= MOST_VARIANTS {
            let searcher = packed::Config::new()
                .only_teddy(true)
                .builder()
                .extend(&variants)
                .build();
            if let Some(searcher) = searcher {
                return Some(Finder::Packed(searcher));
            }
        }
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(needles)
            .ok()
            .map(Finder::Automaton)
    }

    /// The first candidate start in `text[from..end]`.
    fn candidate(&self, text: &[u8], from: usize, end: usize) -> Option<usize> {
        if from >= end || end > text.len() {
            return None;
        }
        match self {
            Finder::Packed(searcher) => searcher
                .find_in(text, Span { start: from, end })
                .map(|m| m.start()),
            Finder::Automaton(automaton) => automaton
                .find(Input::new(text).range(from..end))
                .map(|m| m.start()),
        }
    }
}

/// Bytes checked at once for non-ASCII text.
const ASCII_BLOCK: usize = 4096;

/// Marks [`UNTRIED`] the strings of `text[start..end]` holding a non-ASCII byte.
fn mark_non_ascii(text: &[u8], ends: &[u32], start: usize, end: usize, memo: &Memo) {
    let Some(span) = text.get(start..end) else {
        return;
    };
    for (block_no, block) in span.chunks(ASCII_BLOCK).enumerate() {
        if block.is_ascii() {
            continue;
        }
        let base = start + block_no * ASCII_BLOCK;
        for (at, _) in block.iter().enumerate().filter(|(_, b)| !b.is_ascii()) {
            let id = ends.partition_point(|&e| (e as usize) <= base + at);
            memo.set(id, UNTRIED);
        }
    }
}
