//! Documents' BSON bytes packed one after another in large blocks, each document found by
//! a 12-byte span. Kept one allocation a document, they cost the allocator's rounding and
//! bookkeeping on top of their bytes (about a tenth of a JobTask's bytes with a size-class
//! allocator) and a 16-byte pointer each; packed, a document costs its bytes and its span.
//!
//! A replaced or removed document leaves its old bytes behind as garbage until the blocks
//! are packed again, once garbage is over half of what the blocks hold ([`PackedDocs::is_sparse`]):
//! the owner makes the packed copy ([`PackedDocs::packed`]) beside the live blocks, where
//! readers go on reading, and swaps it in.

/// The usual size of a block; a document larger than that gets a block of its own.
const BLOCK_BYTES: usize = 1 << 20;

/// Where a document's bytes are.
#[derive(Debug, Clone, Copy)]
struct Span {
    block: u32,
    start: u32,
    len: u32,
}

/// Documents' bytes by position, packed in blocks.
#[derive(Debug, Default, Clone)]
pub struct PackedDocs {
    /// Each block is filled within the capacity it was made with (never moved by growth).
    blocks: Vec<Vec<u8>>,
    spans: Vec<Span>,
    /// Bytes in the blocks, and how many of them no span points at.
    held: usize,
    garbage: usize,
}

impl PackedDocs {
    /// Number of documents.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The bytes of document `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let span = self.spans.get(index)?;
        let start = span.start as usize;
        self.blocks
            .get(span.block as usize)?
            .get(start..start + span.len as usize)
    }

    /// Every document's bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Room for `additional` more documents' spans.
    pub fn reserve(&mut self, additional: usize) {
        self.spans.reserve_exact(additional);
    }

    /// Appends a document's bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        let span = self.store(bytes);
        self.spans.push(span);
    }

    /// Appends `other`'s documents after these, taking its blocks as they are (the tail
    /// of the last block here, never to be filled, is given back first).
    pub fn append(&mut self, other: PackedDocs) {
        if let Some(last) = self.blocks.last_mut() {
            last.shrink_to_fit();
        }
        let offset = u32::try_from(self.blocks.len()).unwrap_or(u32::MAX);
        self.spans.extend(other.spans.into_iter().map(|span| Span {
            block: span.block.saturating_add(offset),
            ..span
        }));
        self.blocks.extend(other.blocks);
        self.held += other.held;
        self.garbage += other.garbage;
    }

    /// Replaces the bytes of document `index` (past the end: nothing).
    pub fn replace(&mut self, index: usize, bytes: &[u8]) {
        let Some(old) = self.spans.get(index).map(|s| s.len as usize) else {
            return;
        };
        let span = self.store(bytes);
        self.spans[index] = span;
        self.garbage += old;
    }

    /// Keeps the documents whose flag in `keep` is true (those past its end too), in order.
    pub fn retain(&mut self, keep: &[bool]) {
        let mut flags = keep.iter();
        let mut dropped = 0;
        self.spans.retain(|span| {
            let kept = flags.next().copied().unwrap_or(true);
            if !kept {
                dropped += span.len as usize;
            }
            kept
        });
        self.garbage += dropped;
    }

    /// Gives back spare capacity: the spans', and the last block's unfilled tail.
    pub fn shrink_to_fit(&mut self) {
        self.spans.shrink_to_fit();
        if let Some(last) = self.blocks.last_mut() {
            last.shrink_to_fit();
        }
        self.blocks.shrink_to_fit();
    }

    /// Copies `bytes` into the last block, or into a new one when they do not fit.
    fn store(&mut self, bytes: &[u8]) -> Span {
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.capacity() - b.len() >= bytes.len());
        if !fits {
            self.blocks
                .push(Vec::with_capacity(BLOCK_BYTES.max(bytes.len())));
        }
        let block = self.blocks.len() - 1;
        let target = &mut self.blocks[block];
        let start = target.len();
        target.extend_from_slice(bytes);
        self.held += bytes.len();
        // A BSON document is at most i32::MAX bytes, and a block holds one large
        // document or documents within BLOCK_BYTES: offsets fit in 32 bits.
        Span {
            block: u32::try_from(block).unwrap_or(u32::MAX),
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        }
    }

    /// True once garbage is over half of what the blocks hold (and they hold a block's
    /// worth): time for [`Self::packed`].
    pub fn is_sparse(&self) -> bool {
        self.garbage * 2 > self.held && self.held >= BLOCK_BYTES
    }

    /// The same documents packed again, without garbage (the blocks as they are stay
    /// readable meanwhile).
    pub fn packed(&self) -> PackedDocs {
        let mut packed = PackedDocs::default();
        packed.reserve(self.len());
        for bytes in self.iter() {
            packed.push(bytes);
        }
        packed.shrink_to_fit();
        packed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|j| (i * 31 + j) as u8).collect()
    }

    #[test]
    fn documents_come_back_as_pushed_replaced_and_retained() {
        let mut packed = PackedDocs::default();
        let mut plain: Vec<Vec<u8>> = Vec::new();
        // Sizes around the block's edge and one larger than a block.
        for i in 0..3000 {
            let len = match i {
                1500 => BLOCK_BYTES + 7,
                _ => 200 + (i * 37) % 900,
            };
            packed.push(&doc(i, len));
            plain.push(doc(i, len));
        }
        for i in (0..3000).step_by(3) {
            packed.replace(i, &doc(i + 1, 50));
            plain[i] = doc(i + 1, 50);
        }
        packed.replace(5000, &doc(1, 10));
        let mut more = PackedDocs::default();
        for i in 3000..3100 {
            more.push(&doc(i, 300));
            plain.push(doc(i, 300));
        }
        packed.append(more);
        packed.push(&doc(3100, 40));
        plain.push(doc(3100, 40));
        let keep: Vec<bool> = (0..3101).map(|i| i % 4 != 1).collect();
        packed.retain(&keep);
        let mut flags = keep.iter();
        plain.retain(|_| *flags.next().unwrap());
        packed.shrink_to_fit();
        assert_eq!(packed.len(), plain.len());
        for (i, want) in plain.iter().enumerate() {
            assert_eq!(packed.get(i), Some(want.as_slice()), "document {i}");
        }
        assert_eq!(packed.iter().count(), plain.len());
        assert!(packed.get(plain.len()).is_none());
    }

    #[test]
    fn replacing_over_and_over_packs_the_blocks_again() {
        let mut packed = PackedDocs::default();
        for i in 0..1000 {
            packed.push(&doc(i, 1000));
        }
        for round in 0..20 {
            for i in 0..1000 {
                packed.replace(i, &doc(i + round, 1000));
                if packed.is_sparse() {
                    packed = packed.packed();
                }
            }
        }
        let held: usize = packed.blocks.iter().map(Vec::len).sum();
        assert_eq!(held, packed.held);
        assert!(held <= 2 * 1000 * 1000 + BLOCK_BYTES, "held {held} bytes");
        assert_eq!(packed.get(999), Some(doc(999 + 19, 1000).as_slice()));
    }
}
