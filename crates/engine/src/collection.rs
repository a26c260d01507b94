//! [`Collection`]: documents in insertion order, each kept once as its BSON bytes, plus their
//! column cells: appends, replacements, removals and their upkeep, and the rows matching a
//! filter. How it answers list and stat plans is [`super::access`] and [`super::answer`].

use super::columns::Columns;
use super::packed::PackedDocs;
use super::scan::{self, Bound};
pub use super::stored::{encode, validate};
use super::stored::{field_value, parse};
use bson::{Document, RawDocument, RawDocumentBuf};
use rayon::prelude::*;
use spacejobs_core::error::{Error, Result};
use spacejobs_exec::{Deadline, CHECK_EVERY};
use spacejobs_query::plan::{Condition, Filter, Op};

/// The column cells and packed bytes of a bulk insert, made ahead of its collection
/// ([`Collection::prefill`]).
#[derive(Debug)]
pub struct Prefilled(Columns, PackedDocs);

/// Documents in insertion order, each kept once as its BSON bytes, with column cells for
/// fast scans. Each document has a sequence number, given in insertion order and never
/// reused, that a durable store uses as its key.
#[derive(Debug, Default, Clone)]
pub struct Collection {
    raws: PackedDocs,
    seqs: Vec<u64>,
    next_seq: u64,
    columns: Columns,
    /// Distinct strings the columns held when last built whole (a load, or an [`Upkeep`]
    /// reclaiming the strings of removed documents).
    strings_when_built: usize,
    /// Counts changes, so an [`Upkeep`] built before one is not installed after it.
    version: u64,
}

/// A collection's upkeep, built beside it from a shared borrow ([`Collection::upkeep`]),
/// where readers go on reading, then swapped in ([`Collection::install`]): its documents'
/// bytes packed again without garbage, and its columns built again without the strings
/// only removed documents held.
#[derive(Debug)]
pub struct Upkeep {
    version: u64,
    raws: Option<PackedDocs>,
    columns: Option<Columns>,
    /// The strings' hash table grown ahead of the inserts ([`super::strings::Strings::grown_table`]).
    strings_table: Option<hashbrown::HashTable<u32>>,
}

impl Upkeep {
    /// The columns built again, when they were (their strings are numbered anew).
    pub fn columns(&self) -> Option<&Columns> {
        self.columns.as_ref()
    }
}

/// Interned strings below which removed documents' strings are not worth reclaiming.
const RECLAIM_STRINGS_FROM: usize = 1 << 16;

/// Stored documents in ascending order of their sequence numbers (the numbers, and the
/// documents' BSON bytes), each checked with [`validate`]; or the first bad one, with its
/// sequence number.
pub type CheckedChunk = std::result::Result<(Vec<u64>, PackedDocs), (u64, Error)>;

impl Collection {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a document under the next sequence number.
    pub fn push(&mut self, doc: &Document) -> Result<()> {
        let raw = encode(doc)?;
        self.push_trusted(self.next_seq, raw);
        Ok(())
    }

    /// Appends a document's BSON bytes under sequence number `seq` (loading a durable store,
    /// whose keys ascend); refused, changing nothing, when the bytes are not a well-formed
    /// document.
    pub fn push_raw_at(&mut self, seq: u64, raw: Box<[u8]>) -> Result<()> {
        validate(&raw)?;
        self.push_trusted(seq, raw);
        Ok(())
    }

    /// Appends bytes known to be well-formed (from [`encode`] or [`validate`]).
    pub fn push_trusted(&mut self, seq: u64, raw: Box<[u8]>) {
        self.version += 1;
        self.columns.push(&raw);
        self.raws.push(&raw);
        self.seqs.push(seq);
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
    }

    /// A collection of stored documents `(sequence number, BSON bytes)` in ascending order,
    /// each checked with [`validate`]; the first bad document, in order, is refused with its
    /// sequence number. See [`Self::load_chunks`].
    pub fn load(stored: Vec<(u64, Box<[u8]>)>) -> std::result::Result<Self, (u64, Error)> {
        let bad = stored
            .par_iter()
            .filter_map(|(seq, raw)| validate(raw).err().map(|e| (*seq, e)))
            .min_by_key(|(seq, _)| *seq);
        if let Some(bad) = bad {
            return Err(bad);
        }
        let mut docs = PackedDocs::default();
        docs.reserve(stored.len());
        let mut seqs = Vec::with_capacity(stored.len());
        for (seq, raw) in stored {
            docs.push(&raw);
            seqs.push(seq);
        }
        Self::load_chunks(seqs.len(), std::iter::once(Ok((seqs, docs))))
    }

    /// [`Self::load`] of documents given chunk after chunk (`expected` of them in all, for
    /// the room to reserve), so that reading and checking the next chunk can go on
    /// meanwhile on another thread: every document of a chunk was checked with
    /// [`validate`] by the sender, which sends the first bad one instead (and the load
    /// stops there).
    pub fn load_chunks(
        expected: usize,
        chunks: impl IntoIterator<Item = CheckedChunk>,
    ) -> std::result::Result<Self, (u64, Error)> {
        let mut collection = Collection::new();
        collection.raws.reserve(expected);
        collection.seqs.reserve_exact(expected);
        collection.columns.reserve(expected);
        collection.columns.pause_indexes();
        for chunk in chunks {
            let (seqs, docs) = chunk?;
            for raw in docs.iter() {
                collection.columns.push(raw);
            }
            collection.raws.append(docs);
            if let Some(&last) = seqs.iter().max() {
                collection.next_seq = collection.next_seq.max(last.saturating_add(1));
            }
            collection.seqs.extend(seqs);
        }
        collection.columns.resume_indexes();
        collection.strings_when_built = collection.columns.strings().len();
        collection.shrink_to_fit();
        Ok(collection)
    }

    /// The column cells and packed bytes of well-formed documents (from [`encode`]), made
    /// from borrowed bytes, so that a bulk insert makes them while another thread writes the
    /// same bytes to disk; [`Self::from_prefilled`] then makes the collection.
    pub fn prefill(raws: &[Box<[u8]>]) -> Prefilled {
        let mut columns = Columns::default();
        columns.reserve(raws.len());
        columns.pause_indexes();
        let mut packed = PackedDocs::default();
        packed.reserve(raws.len());
        for raw in raws {
            columns.push(raw);
            packed.push(raw);
        }
        columns.resume_indexes();
        Prefilled(columns, packed)
    }

    /// The collection [`Self::prefill`] made, numbered from `first_seq`.
    pub fn from_prefilled(prefilled: Prefilled, first_seq: u64) -> Self {
        let Prefilled(columns, raws) = prefilled;
        let n = raws.len() as u64;
        let mut collection = Collection {
            raws,
            seqs: (first_seq..first_seq + n).collect(),
            next_seq: first_seq + n,
            strings_when_built: columns.strings().len(),
            version: 0,
            columns,
        };
        collection.shrink_to_fit();
        collection
    }

    /// Gives back spare capacity (after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.raws.shrink_to_fit();
        self.seqs.shrink_to_fit();
        self.columns.shrink_to_fit();
    }

    /// The sequence number the next pushed document gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The sequence number of the document at `index`.
    pub fn seq(&self, index: usize) -> Option<u64> {
        self.seqs.get(index).copied()
    }

    /// The position of the document with sequence number `seq` (numbers ascend with
    /// position).
    pub fn index_of_seq(&self, seq: u64) -> Option<usize> {
        self.seqs.binary_search(&seq).ok()
    }

    /// Replaces the document at `index` with well-formed bytes (from [`encode`]); an index
    /// past the end changes nothing.
    pub fn replace(&mut self, index: usize, raw: Box<[u8]>) {
        if index < self.raws.len() {
            self.version += 1;
            self.columns.set(index, &raw);
            self.raws.replace(index, &raw);
        }
    }

    /// Removes the documents at `indices` (ascending or not), keeping the others in order.
    /// Their bytes and the strings only they held stay until an [`Upkeep`].
    pub fn remove(&mut self, indices: &[usize]) {
        self.version += 1;
        let mut keep = vec![true; self.raws.len()];
        for &i in indices {
            if let Some(k) = keep.get_mut(i) {
                *k = false;
            }
        }
        self.columns.retain(&keep);
        self.raws.retain(&keep);
        let mut flags = keep.iter();
        self.seqs.retain(|_| flags.next().copied().unwrap_or(true));
    }

    /// The upkeep due, built from `&self` (so under a read lock): the bytes packed again
    /// once garbage is over half the blocks; the columns built again once their strings are
    /// over twice what they were when last built (and at least [`RECLAIM_STRINGS_FROM`]), so
    /// a store that keeps deleting what it inserted (jobs, imports) keeps its memory; the
    /// strings' hash table grown before the inserts fill it. `None` when nothing is due.
    pub fn upkeep(&self) -> Option<Upkeep> {
        let strings = self.columns.strings().len();
        let reclaim = strings >= RECLAIM_STRINGS_FROM && strings > 2 * self.strings_when_built;
        let repack = self.raws.is_sparse();
        let strings_table = if reclaim {
            None
        } else {
            self.columns.strings().grown_table()
        };
        if !reclaim && !repack && strings_table.is_none() {
            return None;
        }
        Some(self.upkeep_of(reclaim, repack, strings_table))
    }

    /// Every part of the upkeep, due or not: the bytes packed again and the columns (value
    /// indexes, sorted rows, strings) built again from them.
    pub fn compaction(&self) -> Upkeep {
        self.upkeep_of(true, true, None)
    }

    fn upkeep_of(
        &self,
        reclaim: bool,
        repack: bool,
        strings_table: Option<hashbrown::HashTable<u32>>,
    ) -> Upkeep {
        let columns = reclaim.then(|| {
            let mut columns = self.columns.empty_like();
            columns.reserve(self.raws.len());
            columns.pause_indexes();
            for raw in self.raws.iter() {
                columns.push(raw);
            }
            columns.resume_indexes();
            columns.shrink_to_fit();
            columns
        });
        Upkeep {
            version: self.version,
            raws: repack.then(|| self.raws.packed()),
            columns,
            strings_table,
        }
    }

    /// Swaps in an upkeep built from this collection: true with what it replaced (to be
    /// freed once no lock is held: freeing a collection's columns takes milliseconds), or
    /// false with the upkeep back, changing nothing, when the collection changed since it
    /// was built.
    pub fn install(&mut self, mut upkeep: Upkeep) -> (bool, Upkeep) {
        if upkeep.version != self.version {
            return (false, upkeep);
        }
        if let Some(raws) = upkeep.raws.as_mut() {
            std::mem::swap(&mut self.raws, raws);
        }
        if let Some(columns) = upkeep.columns.as_mut() {
            self.strings_when_built = columns.strings().len();
            std::mem::swap(&mut self.columns, columns);
        }
        if let Some(table) = upkeep.strings_table.take() {
            upkeep.strings_table = Some(self.columns.install_strings_table(table));
        }
        self.version += 1;
        (true, upkeep)
    }

    /// Keeps a value index of `field` however many distinct strings it holds (see
    /// [`Columns::index_every_value`]).
    pub fn index_every_value(&mut self, field: &str) {
        self.columns.index_every_value(field);
    }

    /// The stored bytes of the document at `index`.
    pub fn raw(&self, index: usize) -> Option<&RawDocument> {
        self.raws
            .get(index)
            .and_then(|r| RawDocument::from_bytes(r).ok())
    }

    /// The stored bytes of the document at `index`, well-formed (checked when stored), as
    /// they are: unlike [`Self::raw`], which checks the length and the last byte, this does
    /// not read the end of the document (another cache line, a miss a row in a scan).
    pub fn raw_bytes(&self, index: usize) -> Option<&[u8]> {
        self.raws.get(index)
    }

    /// The column cells.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The stored bytes of every document, in order.
    pub fn raw_documents(&self) -> impl Iterator<Item = &RawDocument> {
        self.raws
            .iter()
            .filter_map(|r| RawDocument::from_bytes(r).ok())
    }

    /// The document at `index`, parsed.
    pub fn document(&self, index: usize) -> Result<Document> {
        match self.raws.get(index) {
            Some(raw) => parse(raw),
            None => Err(Error::Internal(format!("no document at {index}"))),
        }
    }

    /// A copy of the stored bytes of document `index`.
    pub(super) fn raw_copy(&self, index: usize) -> Result<RawDocumentBuf> {
        let bytes = self
            .raws
            .get(index)
            .ok_or_else(|| Error::Internal(format!("no document at {index}")))?;
        RawDocumentBuf::from_bytes(bytes.to_vec())
            .map_err(|e| Error::Internal(format!("stored document unreadable: {e}")))
    }

    /// The documents at `indices`, parsed whole, or holding only `reads`' fields (those each
    /// has) when given, checking `deadline` as it goes.
    pub(super) fn documents_reading(
        &self,
        indices: &[usize],
        reads: Option<&[String]>,
        deadline: &Deadline,
    ) -> Result<Vec<Document>> {
        let mut out = Vec::with_capacity(indices.len());
        for chunk in indices.chunks(CHECK_EVERY) {
            deadline.check()?;
            for &i in chunk {
                let Some(fields) = reads else {
                    out.push(self.document(i)?);
                    continue;
                };
                let mut doc = Document::new();
                if let Some(raw) = self.raw(i) {
                    for field in fields {
                        if let Some(value) = field_value(raw, field)? {
                            doc.insert(field.clone(), value);
                        }
                    }
                }
                out.push(doc);
            }
        }
        Ok(out)
    }

    /// The documents' bytes, packed.
    pub(super) fn raws(&self) -> &PackedDocs {
        &self.raws
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.raws.len()
    }

    /// True when there are no documents.
    pub fn is_empty(&self) -> bool {
        self.raws.is_empty()
    }

    /// The AND-ed and the OR-ed conditions of `filter`, bound ([`Self::bind`]).
    pub(super) fn bind_filter<'a>(
        &'a self,
        filter: &'a Filter,
    ) -> (Vec<Bound<'a>>, Vec<Bound<'a>>) {
        (self.bind(&filter.all), self.bind(&filter.any))
    }

    pub(super) fn bind<'a>(&'a self, conditions: &'a [Condition]) -> Vec<Bound<'a>> {
        Bound::all(conditions, |condition| {
            let test = self.columns.bind(condition)?;
            let [field] = condition.path.parts() else {
                return None;
            };
            Some((self.columns.column(field)?, test))
        })
    }

    /// True when the value indexes narrow `filter` to at most `most` rows (an AND-ed
    /// `eq`/`in` on an indexed column, such as a job's tasks by `job_id`): answering it then
    /// costs a few rows' work whatever the collection's size.
    ///
    /// Only the AND-ed equalities are looked at, each alone: binding one is a lookup, and the
    /// rows meeting any one of them bound the answer's (the other conditions only take rows
    /// away). Binding a pattern, a range or the OR-ed conditions can cost a pass over the
    /// strings or the rows, and intersecting the equalities' rows is what answering does: the
    /// very work this question, asked of every list, is meant to avoid (it made `contain` and
    /// `keyword` lists search twice).
    pub fn narrows_to(&self, filter: &Filter, most: u64) -> bool {
        let equalities: Vec<Condition> = filter
            .all
            .iter()
            .filter(|c| matches!(c.op, Op::Eq(_) | Op::In(_)))
            .cloned()
            .collect();
        if equalities.is_empty() {
            return false;
        }
        let all = self.bind(&equalities);
        scan::fewest_candidates(self.raws.len(), &all).is_some_and(|n| n <= most)
    }

    /// True when the document at `row` matches `filter`, judged from its cells (without
    /// decoding the document, unlike [`super::filter::matches`], which it agrees with).
    pub fn row_matches(&self, row: usize, filter: &Filter) -> bool {
        let (all, any) = self.bind_filter(filter);
        scan::row_matches(&self.raws, &all, &any, row)
    }

    /// Indices of the documents matching `filter`, in insertion order; stops with an error
    /// once `deadline` has passed or was cancelled.
    pub fn matching(&self, filter: &Filter, deadline: &Deadline) -> Result<Vec<usize>> {
        let (all, any) = self.bind_filter(filter);
        scan::matching(&self.raws, &all, &any, deadline)
    }

    /// The documents matching `filter` after sequence number `after`, at most `limit`, in
    /// insertion order, with the sequence number of the last when more may follow.
    pub fn export_chunk(
        &self,
        filter: &Filter,
        after: Option<u64>,
        limit: usize,
        deadline: &Deadline,
    ) -> Result<spacejobs_core::store::ExportChunk> {
        let matched = self.matching(filter, deadline)?;
        let start = match after {
            Some(seq) => matched.partition_point(|&i| self.seqs[i] <= seq),
            None => 0,
        };
        let chosen = &matched[start..matched.len().min(start.saturating_add(limit))];
        let mut documents = Vec::with_capacity(chosen.len());
        for &i in chosen {
            documents.push(self.raw_copy(i)?);
        }
        let cursor = (chosen.len() == limit)
            .then(|| {
                chosen
                    .last()
                    .map(|&i| bson::Bson::Int64(self.seqs[i] as i64))
            })
            .flatten();
        Ok(spacejobs_core::store::ExportChunk { documents, cursor })
    }

    /// A collection of `documents`, in order; refused when one cannot be stored as BSON.
    pub fn from_documents(documents: impl IntoIterator<Item = Document>) -> Result<Self> {
        let mut collection = Collection::new();
        for doc in documents {
            collection.push(&doc)?;
        }
        Ok(collection)
    }
}
