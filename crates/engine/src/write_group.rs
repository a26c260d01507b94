//! [`Group`]: write batches planned one after another over the same collections, each seeing
//! the changes of the batches before it, before any of them is applied. A store that syncs
//! to disk (the embedded one) plans every batch waiting for the writer into one group, makes
//! the whole group durable with one commit and one disk sync, then applies it to memory and
//! answers each batch: readers see a batch only once it is durable, and never wait on the
//! sync. The memory store plans a group of one batch and applies it at once.
//!
//! Positions in a group are those of the collections as they were when it began (removals
//! are applied last, so they hold until then).

use crate::collection::encode;
use crate::filter::matches;
use crate::Collection;
use crate::Collections;
use bson::Document;
use spacejobs_core::error::{Error, Result};
use spacejobs_core::write::{Update, Write, Written};
use spacejobs_exec::Deadline;
use spacejobs_query::plan::Filter;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A document as a group leaves it, found at `index` with sequence number `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// Position in the collection when the group began.
    pub index: usize,
    /// The document's sequence number (the embedded store's key).
    pub seq: u64,
    /// The document after the change.
    pub document: Document,
    /// Its BSON bytes.
    pub raw: Box<[u8]>,
}

/// What a group does to one document.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// Left as this.
    Changed(Changed),
    /// Removed; its sequence number.
    Removed(u64),
}

/// Batches planned together: for each collection, what becomes of each document touched, by
/// its position when the group began.
#[derive(Debug, Default)]
pub struct Group {
    slots: HashMap<String, BTreeMap<usize, Slot>>,
    batches: usize,
}

impl Group {
    /// A group of no batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no batch changed anything.
    pub fn is_empty(&self) -> bool {
        self.slots.values().all(BTreeMap::is_empty)
    }

    /// Batches planned into the group.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// What the group does, collection by collection.
    pub fn slots(&self) -> impl Iterator<Item = (&str, &BTreeMap<usize, Slot>)> {
        self.slots
            .iter()
            .map(|(name, slots)| (name.as_str(), slots))
    }
}

/// One step's planned change, kept apart until its whole batch is planned.
struct Step {
    collection: String,
    index: usize,
    slot: Slot,
}

impl Collections {
    /// Plans a batch of writes into `group`, as it would apply after the group's earlier
    /// batches: `None` when a [`Write::UpdateOne`] matches nothing (the batch then applies
    /// not at all). The steps of one batch see the group as it was before the batch, and may
    /// not name one document twice. On `None` or an error the group is left as it was.
    /// Runs on the calling thread (a matching scan may be long: not an async worker).
    pub fn plan_into(
        &self,
        group: &mut Group,
        writes: &[Write],
        deadline: &Deadline,
    ) -> Result<Option<Vec<Written>>> {
        for write in writes {
            write.check()?;
        }
        let map = self.read();
        let empty = Collection::new();
        let mut steps: Vec<Step> = Vec::new();
        let mut touched = HashSet::new();
        let mut written = Vec::with_capacity(writes.len());
        for write in writes {
            let name = write.collection().to_string();
            let collection = map.get(&name).unwrap_or(&empty);
            let (filter, update, one) = match write {
                Write::UpdateOne { filter, update, .. } => (filter, Some(update), true),
                Write::UpdateMany { filter, update, .. } => (filter, Some(update), false),
                Write::Delete { filter, .. } => (filter, None, false),
            };
            let slots = group.slots.get(&name);
            let found = map.get(&name);
            let mut rows = self.rows(&name, found, slots, filter, deadline)?;
            if one {
                if rows.is_empty() {
                    return Ok(None);
                }
                rows.truncate(1);
            }
            for &index in &rows {
                if !touched.insert((name.clone(), index)) {
                    return Err(Error::Internal(format!(
                        "a write batch names one document of {name} twice"
                    )));
                }
            }
            match update {
                Some(update) => {
                    let changed = change(collection, slots, &rows, update)?;
                    written.push(match (one, changed.first()) {
                        (true, Some(c)) => Written::One(c.document.clone()),
                        _ => Written::Many(changed.len() as u64),
                    });
                    steps.extend(changed.into_iter().map(|c| Step {
                        collection: name.clone(),
                        index: c.index,
                        slot: Slot::Changed(c),
                    }));
                }
                None => {
                    written.push(Written::Deleted(rows.len() as u64));
                    steps.extend(rows.into_iter().map(|index| Step {
                        collection: name.clone(),
                        index,
                        slot: Slot::Removed(collection.seq(index).unwrap_or_default()),
                    }));
                }
            }
        }
        for step in steps {
            let slots = group.slots.entry(step.collection).or_default();
            slots.insert(step.index, step.slot);
        }
        group.batches += 1;
        Ok(Some(written))
    }

    /// Positions (when the group began) of the documents of collection `name` matching
    /// `filter` as the group leaves them, ascending.
    fn rows(
        &self,
        name: &str,
        collection: Option<&Collection>,
        slots: Option<&BTreeMap<usize, Slot>>,
        filter: &Filter,
        deadline: &Deadline,
    ) -> Result<Vec<usize>> {
        let candidate = self.ids().candidate(name, collection, filter);
        if let Some(row) = candidate {
            // The filter names a public id, which no update changes: the one document that
            // has it (if any) is the only one to judge, as the group leaves it.
            let Some(row) = row else {
                return Ok(Vec::new());
            };
            let fits = match slots.and_then(|s| s.get(&row)) {
                Some(Slot::Changed(c)) => matches(&c.document, filter),
                Some(Slot::Removed(_)) => false,
                None => collection.is_some_and(|c| c.row_matches(row, filter)),
            };
            return Ok(if fits { vec![row] } else { Vec::new() });
        }
        let stored = match collection {
            Some(c) => c.matching(filter, deadline)?,
            None => Vec::new(),
        };
        let Some(slots) = slots.filter(|s| !s.is_empty()) else {
            return Ok(stored);
        };
        // Documents the group changed are judged as it leaves them; removed ones are gone.
        let mut rows: Vec<usize> = stored
            .into_iter()
            .filter(|row| !slots.contains_key(row))
            .collect();
        for (&row, slot) in slots {
            if let Slot::Changed(c) = slot {
                if matches(&c.document, filter) {
                    rows.push(row);
                }
            }
        }
        rows.sort_unstable();
        Ok(rows)
    }

    /// Applies a planned group to memory: changes first, then removals (which shift
    /// positions), then the upkeep they made due ([`Collections::upkeep`]). Called by the
    /// store's single writer.
    pub fn apply_group(&self, group: Group) {
        let mut removals: Vec<(String, Vec<usize>)> = Vec::new();
        let touched: Vec<String> = group.slots.keys().cloned().collect();
        {
            let mut map = self.write();
            for (name, slots) in group.slots {
                let mut removed = Vec::new();
                let mut target = map.get_mut(&name);
                for (index, slot) in slots {
                    match slot {
                        Slot::Changed(c) => {
                            if let Some(t) = target.as_deref_mut() {
                                t.replace(index, c.raw);
                            }
                        }
                        Slot::Removed(_) => removed.push(index),
                    }
                }
                if !removed.is_empty() {
                    removals.push((name, removed));
                }
            }
        }
        for (name, indices) in &removals {
            self.remove(name, indices);
        }
        self.upkeep(touched.iter().map(String::as_str));
    }
}

/// The documents at `rows` changed by `update`, each as the group leaves it before.
fn change(
    collection: &Collection,
    slots: Option<&BTreeMap<usize, Slot>>,
    rows: &[usize],
    update: &Update,
) -> Result<Vec<Changed>> {
    rows.iter()
        .map(|&index| {
            let before = match slots.and_then(|s| s.get(&index)) {
                Some(Slot::Changed(c)) => c.document.clone(),
                _ => collection.document(index)?,
            };
            let document = update.apply(before)?;
            Ok(Changed {
                index,
                seq: collection.seq(index).unwrap_or_default(),
                raw: encode(&document)?,
                document,
            })
        })
        .collect()
}
