//! [`Memo`]: what a pattern test gave for each interned string (untried, a match, no match),
//! two bits a string, shared by the threads of a parallel scan. Small enough that making one
//! for every string of a large collection costs little (a quarter of a byte a string).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A string not tried yet.
pub const UNTRIED: u8 = 0;
/// A string some pattern matches.
pub const MATCH: u8 = 1;
/// A string no pattern matches.
pub const NO_MATCH: u8 = 2;

/// Strings a word holds.
const PER_WORD: usize = 32;

/// One state ([`UNTRIED`], [`MATCH`], [`NO_MATCH`]) per string id.
#[derive(Debug, Default)]
pub struct Memo {
    words: Vec<AtomicU64>,
    len: usize,
}

impl Memo {
    /// `len` strings, each in `state`.
    pub fn new(len: usize, state: u8) -> Self {
        let fill = (0..PER_WORD).fold(0u64, |w, k| w | (u64::from(state & 3) << (2 * k)));
        Memo {
            words: (0..len.div_ceil(PER_WORD))
                .map(|_| AtomicU64::new(fill))
                .collect(),
            len,
        }
    }

    /// True when the memo has no strings (the test tries every row's string).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The state of string `id` (`None` past the end).
    pub fn get(&self, id: usize) -> Option<u8> {
        if id >= self.len {
            return None;
        }
        let word = self.words.get(id / PER_WORD)?.load(Relaxed);
        Some(((word >> (2 * (id % PER_WORD))) & 3) as u8)
    }

    /// Sets the state of string `id` (nothing past the end).
    pub fn set(&self, id: usize, state: u8) {
        let (Some(word), true) = (self.words.get(id / PER_WORD), id < self.len) else {
            return;
        };
        let shift = 2 * (id % PER_WORD);
        let (mask, bits) = (3u64 << shift, u64::from(state & 3) << shift);
        // Other threads set other strings of the same word: update it whole.
        let _ = word.fetch_update(Relaxed, Relaxed, |w| Some((w & !mask) | bits));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_strings_state_apart() {
        let memo = Memo::new(70, NO_MATCH);
        assert_eq!(
            (memo.get(0), memo.get(69), memo.get(70)),
            (Some(2), Some(2), None)
        );
        memo.set(33, MATCH);
        memo.set(34, UNTRIED);
        memo.set(70, MATCH);
        let states: Vec<u8> = (31..36).filter_map(|id| memo.get(id)).collect();
        assert_eq!(states, [NO_MATCH, NO_MATCH, MATCH, UNTRIED, NO_MATCH]);
        assert!(Memo::default().is_empty() && !memo.is_empty());
    }
}
