//! [`Strings`]: the interned strings of a collection's cells, kept once in one arena (no
//! allocation per string), found by a hash table of ids.

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Interned strings: id `i` is the `i`-th distinct string seen. Ids are dense `u32`s.
#[derive(Debug, Default, Clone)]
pub struct Strings {
    /// Every string, back to back.
    text: String,
    /// Where string `i` ends in `text` (it starts where string `i - 1` ends).
    ends: Vec<u32>,
    /// The first and last byte of string `i` (zeros for the empty string): what anchored
    /// patterns test first, without reading the text.
    edges: Vec<[u8; 2]>,
    /// Ids, hashed by their string.
    table: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl Strings {
    /// The string of `id` (empty for an id never given).
    pub fn get(&self, id: u32) -> &str {
        if id as usize >= self.ends.len() {
            return "";
        }
        string_of(&self.text, &self.ends, id)
    }

    /// The arena: every string back to back, and where each ends (string `i` spans
    /// `ends[i - 1]..ends[i]`, the first from 0).
    pub fn arena(&self) -> (&str, &[u32]) {
        (&self.text, &self.ends)
    }

    /// The first and last byte of each string, by id (zeros for the empty string).
    pub fn edges(&self) -> &[[u8; 2]] {
        &self.edges
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The id of `s`, if interned.
    pub fn find(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.table.find(hash, |&id| self.get(id) == s).copied()
    }

    /// The id of `s`, interning it when new; `None` once the arena is full (4 GiB of text or
    /// 2³² − 1 strings).
    pub fn intern(&mut self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.intern_hashed(s, hash)
    }

    /// [`Self::intern`], trying first the strings `recent` saw (the values one column
    /// repeats, found without a probe of the whole table).
    pub fn intern_recent(&mut self, s: &str, recent: &mut Recent) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        let slot = (hash >> 56) as usize % RECENT_SLOTS;
        if let Some(&(seen, id)) = recent.slots.get(slot) {
            if seen == hash && id != u32::MAX && self.get(id) == s {
                return Some(id);
            }
        }
        let id = self.intern_hashed(s, hash)?;
        if let Some(entry) = recent.slots.get_mut(slot) {
            *entry = (hash, id);
        }
        Some(id)
    }

    fn intern_hashed(&mut self, s: &str, hash: u64) -> Option<u32> {
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        let entry = self.table.entry(
            hash,
            |&id| string_of(text, ends, id) == s,
            |&id| hasher.hash_one(string_of(text, ends, id)),
        );
        let vacant = match entry {
            hashbrown::hash_table::Entry::Occupied(found) => return Some(*found.get()),
            hashbrown::hash_table::Entry::Vacant(vacant) => vacant,
        };
        let end = u32::try_from(self.text.len() + s.len()).ok()?;
        let id = u32::try_from(self.ends.len())
            .ok()
            .filter(|&id| id < u32::MAX)?;
        vacant.insert(id);
        self.text.push_str(s);
        self.ends.push(end);
        let bytes = s.as_bytes();
        let edge = |b: Option<&u8>| b.copied().unwrap_or(0);
        self.edges.push([edge(bytes.first()), edge(bytes.last())]);
        Some(id)
    }

    /// A table of the same ids with room for as many strings again, when fewer than
    /// [`ROOM_AHEAD`] (or an eighth of the strings) can still be added without the table
    /// growing: the growth rehashes every string (reading each from the arena: about 14 ms
    /// at 115 000 strings), so it is done here, from `&self` (under a read lock), and swapped
    /// in by [`Self::install_table`], rather than inside an insert under the write lock.
    pub fn grown_table(&self) -> Option<HashTable<u32>> {
        let room = self.table.capacity() - self.table.len();
        if room >= ROOM_AHEAD.max(self.len() / 8) {
            return None;
        }
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        let mut table = HashTable::with_capacity((self.len() * 2).max(2 * ROOM_AHEAD));
        for id in 0..self.len() as u32 {
            let hash = hasher.hash_one(string_of(text, ends, id));
            table.insert_unique(hash, id, |&id| hasher.hash_one(string_of(text, ends, id)));
        }
        Some(table)
    }

    /// Puts in place a table made by [`Self::grown_table`] if no string was added since;
    /// answers the table no longer used (the old one, or else the one given), for the
    /// caller to free once it holds no lock.
    pub fn install_table(&mut self, mut table: HashTable<u32>) -> HashTable<u32> {
        if table.len() == self.table.len() {
            std::mem::swap(&mut self.table, &mut table);
        }
        table
    }

    /// Makes room for `strings` more strings in the table (before a bulk load).
    pub fn reserve(&mut self, strings: usize) {
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table
            .reserve(strings, |&id| hasher.hash_one(string_of(text, ends, id)));
    }

    /// Gives back the spare capacity of the arena (after a bulk load), keeping the table's
    /// room ahead.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.edges.shrink_to_fit();
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        // Keep the room [`Self::grown_table`] wants, so that the first inserts after a load
        // do not grow the table under the write lock.
        let room = ROOM_AHEAD.max(ends.len() / 4);
        self.table.shrink_to(ends.len() + room, |&id| {
            hasher.hash_one(string_of(text, ends, id))
        });
    }
}

/// Strings the table keeps room for ahead of the inserts, at least (see
/// [`Strings::grown_table`]).
const ROOM_AHEAD: usize = 4096;

/// Slots of a [`Recent`].
const RECENT_SLOTS: usize = 128;

/// The strings one column interned lately, by hash (a slot holds `(hash, id)`; id `u32::MAX`
/// is empty).
#[derive(Debug, Clone)]
pub struct Recent {
    slots: Box<[(u64, u32)]>,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            slots: vec![(0, u32::MAX); RECENT_SLOTS].into(),
        }
    }
}

fn string_of<'a>(text: &'a str, ends: &[u32], id: u32) -> &'a str {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    text.get(start..ends[i] as usize).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_grows_beside_and_keeps_room_ahead() {
        let mut s = Strings::default();
        for i in 0..20_000 {
            s.intern(&format!("id-{i}"));
        }
        s.shrink_to_fit();
        let room = |s: &Strings| s.table.capacity() - s.table.len();
        assert!(room(&s) >= ROOM_AHEAD, "a load leaves room ahead");
        assert!(s.grown_table().is_none(), "nothing to grow yet");
        while room(&s) >= ROOM_AHEAD.max(s.len() / 8) {
            s.intern(&format!("more-{}", s.len()));
        }
        let grown = s.grown_table().expect("due");
        // A table built before a string was added is not put in place.
        let mut later = s.clone();
        later.intern("one more");
        let back = later.install_table(grown.clone());
        assert_eq!(
            back.capacity(),
            grown.capacity(),
            "the stale table comes back"
        );
        let old = s.install_table(grown);
        assert!(room(&s) > old.capacity() - old.len(), "room again");
        assert_eq!(s.find("id-7"), Some(7));
        assert_eq!(s.find("nothing"), None);
        let n = s.len() as u32;
        assert_eq!(s.intern("new"), Some(n));
        assert_eq!(s.find("new"), Some(n));
    }

    #[test]
    fn interns_each_distinct_string_once() {
        let mut s = Strings::default();
        let a = s.intern("alpha").unwrap();
        let b = s.intern("").unwrap();
        let c = s.intern("beta").unwrap();
        assert_eq!(s.intern("alpha"), Some(a));
        assert_eq!((s.get(a), s.get(b), s.get(c)), ("alpha", "", "beta"));
        assert_eq!(s.find("beta"), Some(c));
        assert_eq!(s.find("gamma"), None);
        assert_eq!(s.edges(), [*b"aa", [0, 0], *b"ba"]);
        assert_eq!(s.len(), 3);
        s.shrink_to_fit();
        assert_eq!(s.find("alpha"), Some(a));
    }
}
