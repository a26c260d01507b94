//! Compiled patterns kept across requests. Dashboards and scripts send the same filters again
//! and again, and compiling a case-insensitive regex (its Unicode case classes, its DFA) takes
//! longer than running it over thousands of strings. Entries are found by source text and
//! size limit; the cache holds at most [`BUDGET`] bytes, each entry counted at its size
//! limit (what its compiled form may take at most), and forgets the least recently used.

use super::plan::Pattern;
use crate::error::Result;
use std::sync::Mutex;

/// Compiled bytes the cache may hold, each entry counted at its size limit.
const BUDGET: usize = 32 << 20;

struct Entry {
    source: String,
    size_limit: usize,
    pattern: Pattern,
    used: u64,
}

#[derive(Default)]
struct Cache {
    entries: Vec<Entry>,
    clock: u64,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    entries: Vec::new(),
    clock: 0,
});

/// The pattern of `source` under `size_limit`: a copy of the cached one, or `build`'s (kept
/// when it compiled). Errors are not kept.
pub(super) fn cached(
    source: &str,
    size_limit: usize,
    build: impl FnOnce() -> Result<Pattern>,
) -> Result<Pattern> {
    if let Ok(mut cache) = CACHE.lock() {
        cache.clock += 1;
        let now = cache.clock;
        let found = cache
            .entries
            .iter_mut()
            .find(|e| e.size_limit == size_limit && e.source == source);
        if let Some(entry) = found {
            entry.used = now;
            return Ok(entry.pattern.clone());
        }
    }
    let pattern = build()?;
    if size_limit <= BUDGET {
        if let Ok(mut cache) = CACHE.lock() {
            let mut held: usize = cache.entries.iter().map(|e| e.size_limit).sum();
            while held + size_limit > BUDGET {
                let Some(oldest) = (0..cache.entries.len()).min_by_key(|&i| cache.entries[i].used)
                else {
                    break;
                };
                held -= cache.entries.swap_remove(oldest).size_limit;
            }
            let used = cache.clock;
            cache.entries.push(Entry {
                source: source.to_string(),
                size_limit,
                pattern: pattern.clone(),
                used,
            });
        }
    }
    Ok(pattern)
}

#[cfg(test)]
mod tests {
    use super::{BUDGET, CACHE};
    use crate::compile::bounded_pattern;

    #[test]
    fn a_pattern_is_kept_per_size_limit_and_the_cache_stays_within_its_budget() {
        // Compiles under 1 MiB, not under 4 KiB: the kept copy does not lift the small limit.
        let source = r"\w{3}-cache-test";
        let big = bounded_pattern(source, 1 << 20).expect("compiles under 1 MiB");
        assert!(bounded_pattern(source, 4 << 10).is_err());
        let again = bounded_pattern(source, 1 << 20).expect("kept");
        let text = format!("{}-CACHE-TEST", "é".repeat(3));
        assert!(big.is_match(&text) && again.is_match(&text));
        // Many distinct patterns: the least recently used go, the budget holds.
        for i in 0..3 * BUDGET / (1 << 20) {
            let pattern = bounded_pattern(&format!("^budget-{i}$"), 1 << 20).expect("pattern");
            assert!(pattern.is_match(&format!("BUDGET-{i}")));
        }
        let cache = CACHE.lock().expect("cache");
        let held: usize = cache.entries.iter().map(|e| e.size_limit).sum();
        assert!(held <= BUDGET, "{held} bytes held");
        assert!(!cache.entries.is_empty());
    }
}
