//! [`EdgeBytes`]: the first and last bytes the matches of anchored patterns (`^abc…`, `…xyz$`)
//! can have, tested on a block of string cells with the interned strings' edge bytes and two
//! table lookups a row: most strings of an id column fail them, and then neither their text,
//! their memo slot nor the regex is touched.

use super::cell::TAG_STR;
use super::strings::Strings;
use spacejobs_query::plan::Pattern;

/// The first and last bytes each pattern allows: bit `k` of `first[b]` is set when pattern
/// `k` allows first byte `b` (so a string may match when `first[f] & last[l] != 0`).
#[derive(Debug, Clone)]
pub(super) struct EdgeBytes {
    first: [u64; 256],
    last: [u64; 256],
}

impl EdgeBytes {
    /// The edge bytes of `patterns`; `None` when a pattern has no known start or end (every
    /// string may match it) or there are more than 64 patterns.
    pub(super) fn of(patterns: &[Pattern]) -> Option<Self> {
        if patterns.len() > 64 {
            return None;
        }
        let mut edges = EdgeBytes {
            first: [0; 256],
            last: [0; 256],
        };
        for (k, pattern) in patterns.iter().enumerate() {
            let anchors = &pattern.anchors;
            if anchors.is_empty() {
                return None;
            }
            let bit = 1u64 << k;
            let firsts = anchors.prefixes.iter().filter_map(|p| p.first());
            let lasts = anchors.suffixes.iter().filter_map(|p| p.last());
            allow(&mut edges.first, bit, firsts, anchors.prefixes.is_empty());
            allow(&mut edges.last, bit, lasts, anchors.suffixes.is_empty());
        }
        Some(edges)
    }

    /// `out[j]` = cell `j` is a string, `wanted(j)`, and its edge bytes are allowed by some
    /// pattern (it may match; the others cannot).
    pub(super) fn mark(
        &self,
        strings: &Strings,
        tags: &[u8],
        bits: &[u64],
        wanted: impl Fn(usize) -> bool,
        out: &mut [bool],
    ) {
        let edges = strings.edges();
        let cells = tags.iter().zip(bits).zip(out.iter_mut()).enumerate();
        for (j, ((&tag, &bits), o)) in cells {
            *o = tag == TAG_STR
                && wanted(j)
                && edges.get(bits as usize).is_some_and(|&[first, last]| {
                    self.last[usize::from(last)] & self.first[usize::from(first)] != 0
                });
        }
    }
}

/// Sets `bit` at `bytes` (both ASCII cases) in `table`, or at every byte when `any`.
fn allow<'a>(table: &mut [u64; 256], bit: u64, bytes: impl Iterator<Item = &'a u8>, any: bool) {
    if any {
        table.iter_mut().for_each(|t| *t |= bit);
        return;
    }
    for &b in bytes {
        table[usize::from(b.to_ascii_lowercase())] |= bit;
        table[usize::from(b.to_ascii_uppercase())] |= bit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spacejobs_query::compile::pattern;

    fn marked(sources: &[&str], texts: &[&str]) -> Vec<bool> {
        let patterns: Vec<Pattern> = sources.iter().map(|s| pattern(s).unwrap()).collect();
        let edges = EdgeBytes::of(&patterns).unwrap();
        let mut strings = Strings::default();
        let ids: Vec<u64> = texts
            .iter()
            .map(|t| u64::from(strings.intern(t).unwrap()))
            .collect();
        let mut tags = vec![TAG_STR; texts.len()];
        tags[0] = 0; // a missing cell is never marked
        let mut out = vec![true; texts.len()];
        edges.mark(&strings, &tags, &ids, |j| j != 1, &mut out);
        out
    }

    #[test]
    fn marks_strings_whose_edges_an_anchored_pattern_allows() {
        let texts = [
            "secret-1f",
            "secret-2f",
            "Secret-3F",
            "secret-4e",
            "xecret-5f",
            "",
            "ſecret-6f",
        ];
        assert_eq!(
            marked(&["^secret-[0-7].*f$"], &texts),
            [false, false, true, false, false, false, true]
        );
        // Only a start known: any last byte.
        assert_eq!(
            marked(&["^secret"], &texts),
            [false, false, true, true, false, false, true]
        );
        // Either pattern.
        assert_eq!(
            marked(&["e$", "^x"], &texts),
            [false, false, false, true, true, false, false]
        );
        // Many rows.
        let many: Vec<String> = (0..1000).map(|i| format!("s{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let out = marked(&["^s.*5$"], &many);
        let expected: Vec<bool> = (0..many.len()).map(|i| i > 1 && i % 10 == 5).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn unanchored_patterns_have_no_edges() {
        let patterns = [pattern("^a").unwrap(), pattern("b").unwrap()];
        assert!(EdgeBytes::of(&patterns).is_none());
    }
}
