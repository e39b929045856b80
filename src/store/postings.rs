//! Topics' posting lists. A topic's papers are the entries of its posting records in the
//! `topic_index` tree: an entry is a paper's position in the topic (its date as 8 bytes whose
//! byte order is time order, then its key) with a value (empty, or the paper's relevance to a
//! topic learned from examples), and a record holds up to [`MAX_ENTRIES`] entries in position
//! order under the key `topic \0 position` of its first entry (or of an entry since removed).
//! Every entry of a record sorts at or after its record's key and before the next record's, so
//! the record holding a position is the last one keyed at or before it, and a topic's newest
//! papers are its last record read backwards.
//!
//! One record per few dozen papers rather than one entry each: with 10,000 topics a batch of
//! 5,000 papers made 300,000 index entries, one sled write each, and those writes were most of
//! an ingest's time once the tree outgrew sled's cache. A batch now rewrites the few records
//! its papers fall in, mostly each topic's last, or starts a record after it once the last
//! holds [`APPEND_AFTER`] entries.
//!
//! Writes are gathered as [`Postings`] (each position's new value, or its removal) while a
//! commit is planned, then turned into record writes by [`Postings::into_ops`], which reads the
//! records they fall in. Under the store's write lock, so no other writer changes them between.
//! Pure apart from those reads.

use std::collections::HashMap;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};

use super::keys::{index_prefix, ordered_millis};
use super::kv::{Op, Row, Store, StoreError, Tree};

/// The most entries a record holds; a record that would hold more is split.
pub(super) const MAX_ENTRIES: usize = 64;
/// A topic's last record that holds at least this many entries is left as it is when a batch
/// only adds papers after it: they start a record of their own. Rewriting the last record with
/// every batch was half of what a batch wrote to the topic index (at 10,000 topics, about 7 of
/// 14 MB a batch of 5,000 papers), written twice (journal and tree). Records still fill to
/// [`MAX_ENTRIES`] while they are small: a record is followed by another only once it holds
/// this many (removals aside).
pub(super) const APPEND_AFTER: usize = 16;
/// The first byte of a posting record. Index values of stores before posting records (one
/// entry per key) are empty or a 2-byte relevance, so they never start a record's bytes.
const RECORD: u8 = 0xB7;
/// How many records a walk over a topic reads at once.
const RECORDS_AT_ONCE: usize = 8;

/// A paper's position in a topic: its date, in 8 bytes whose byte order is time order, then its key.
pub(super) fn position(date: DateTime<Utc>, paper_key: &str) -> Vec<u8> {
    let mut position = Vec::with_capacity(8 + paper_key.len());
    position.extend_from_slice(&ordered_millis(date));
    position.extend_from_slice(paper_key.as_bytes());
    position
}

/// The paper key at the end of a position, or an error naming the topic's record.
pub(super) fn paper_key_of<'a>(topic: &str, position: &'a [u8]) -> Result<&'a str, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree: Tree::TopicIndex.name(),
        key: format!("{topic}: {}", String::from_utf8_lossy(position)),
        reason,
    };
    let key = position
        .get(8..)
        .ok_or_else(|| corrupt("a position shorter than a date".into()))?;
    std::str::from_utf8(key).map_err(|e| corrupt(e.to_string()))
}

/// A record's key: the topic's prefix and a position.
fn record_key(prefix: &[u8], position: &[u8]) -> Vec<u8> {
    [prefix, position].concat()
}

/// An entry of a record: a position and its value.
type Entry = (Vec<u8>, Vec<u8>);
/// An entry borrowed from a record's bytes.
type EntryRef<'a> = (&'a [u8], &'a [u8]);

/// Whether `bytes` are a posting record (rather than a per-entry value of an older store).
fn is_record(bytes: &[u8]) -> bool {
    bytes.first() == Some(&RECORD)
}

/// A record's bytes: [`RECORD`], then per entry the position's length (LEB128), the position,
/// the value's length (one byte) and the value.
fn encode<P: AsRef<[u8]>, V: AsRef<[u8]>>(entries: &[(P, V)]) -> Vec<u8> {
    let size: usize = entries
        .iter()
        .map(|(p, v)| p.as_ref().len() + v.as_ref().len() + 4)
        .sum();
    let mut bytes = Vec::with_capacity(1 + size);
    bytes.push(RECORD);
    for (position, value) in entries {
        let (position, value) = (position.as_ref(), value.as_ref());
        let mut len = position.len();
        while len >= 0x80 {
            bytes.push((len as u8) | 0x80);
            len >>= 7;
        }
        bytes.push(len as u8);
        bytes.extend_from_slice(position);
        // Values are relevances (two bytes); nothing longer is ever written.
        bytes.push(value.len().min(255) as u8);
        bytes.extend_from_slice(&value[..value.len().min(255)]);
    }
    bytes
}

/// A record's entries, borrowed from its bytes, or an error naming the record.
fn decode<'a>(key: &[u8], bytes: &'a [u8]) -> Result<Vec<EntryRef<'a>>, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: Tree::TopicIndex.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    };
    let Some((&RECORD, mut rest)) = bytes.split_first() else {
        return Err(corrupt("not a posting record"));
    };
    let mut entries = Vec::with_capacity(MAX_ENTRIES);
    while !rest.is_empty() {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let (&byte, tail) = rest
                .split_first()
                .ok_or_else(|| corrupt("an entry's length cut short"))?;
            rest = tail;
            if shift > 28 {
                return Err(corrupt("an entry's length too long"));
            }
            len |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let (position, tail) = rest
            .split_at_checked(len)
            .ok_or_else(|| corrupt("an entry's position cut short"))?;
        let (&value_len, tail) = tail
            .split_first()
            .ok_or_else(|| corrupt("an entry's value length missing"))?;
        let (value, tail) = tail
            .split_at_checked(value_len.into())
            .ok_or_else(|| corrupt("an entry's value cut short"))?;
        if position.len() < 8 {
            return Err(corrupt("a position shorter than a date"));
        }
        if entries.last().is_some_and(|(last, _)| *last >= position) {
            return Err(corrupt("entries out of order"));
        }
        entries.push((position, value));
        rest = tail;
    }
    Ok(entries)
}

/// The record holding `position` in the topic with this prefix: the last keyed at or before it.
fn record_at(kv: &dyn Store, prefix: &[u8], position: &[u8]) -> Result<Option<Row>, StoreError> {
    // Keys before `position` followed by a zero byte: every key up to and with `position`.
    let mut upto = record_key(prefix, position);
    upto.push(0);
    Ok(kv
        .scan(Tree::TopicIndex, prefix, Some(&upto), true, 1)?
        .pop())
}

/// The value of the entry at `position` in `topic` (`None`: the topic holds no such entry).
pub(super) fn get(
    kv: &dyn Store,
    topic: &str,
    position: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    let prefix = index_prefix(topic);
    let Some((key, bytes)) = record_at(kv, &prefix, position)? else {
        return Ok(None);
    };
    let entries = decode(&key, &bytes)?;
    Ok(entries
        .binary_search_by(|(p, _)| (*p).cmp(position))
        .ok()
        .map(|at| entries[at].1.to_vec()))
}

/// Calls `f` with `topic`'s entries (position and value) strictly after `from` in position
/// order, or strictly before it newest first when `reverse` (all of them when `from` is
/// `None`), until `f` breaks. Reads [`RECORDS_AT_ONCE`] records at a time.
pub(super) fn walk(
    kv: &dyn Store,
    topic: &str,
    from: Option<&[u8]>,
    reverse: bool,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>, StoreError>,
) -> Result<(), StoreError> {
    let prefix = index_prefix(topic);
    // The last position given (at first `from`): each next one lies strictly beyond it in the
    // walk's direction. While a large commit is being applied a record and the one split from
    // it may both hold an entry for a moment; the walk gives it once, in order.
    let mut last: Option<Vec<u8>> = from.map(<[u8]>::to_vec);
    let mut beyond = |position: &[u8]| {
        let ahead = match &last {
            None => true,
            Some(last) if reverse => position < last.as_slice(),
            Some(last) => position > last.as_slice(),
        };
        if ahead {
            let last = last.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(position);
        }
        ahead
    };
    // Gives a record's entries beyond the last one given, in the walk's direction; true once
    // `f` breaks.
    let mut visit = |key: &[u8], bytes: &[u8]| -> Result<bool, StoreError> {
        let mut entries = decode(key, bytes)?;
        if reverse {
            entries.reverse();
        }
        for (position, value) in entries {
            if beyond(position) && f(position, value)?.is_break() {
                return Ok(true);
            }
        }
        Ok(false)
    };
    let mut scan_from = match (from, reverse) {
        // Every entry before `from` is in a record keyed before it.
        (Some(from), true) => Some(record_key(&prefix, from)),
        // The record holding `from` may hold entries after it: start with that one.
        (Some(from), false) => match record_at(kv, &prefix, from)? {
            Some((key, bytes)) => {
                if visit(&key, &bytes)? {
                    return Ok(());
                }
                Some(key)
            }
            None => None,
        },
        (None, _) => None,
    };
    loop {
        let rows = kv.scan(
            Tree::TopicIndex,
            &prefix,
            scan_from.as_deref(),
            reverse,
            RECORDS_AT_ONCE,
        )?;
        for (key, bytes) in &rows {
            if visit(key, bytes)? {
                return Ok(());
            }
        }
        if rows.len() < RECORDS_AT_ONCE {
            return Ok(());
        }
        scan_from = rows.into_iter().last().map(|(key, _)| key);
    }
}

/// Changes to topics' posting lists gathered while a commit is planned: per topic, each
/// position's new value (`None`: removed), the last change of a position winning. Kept as
/// lists in the order they were made (a batch against 10,000 topics makes 300,000), sorted
/// when they are written; a paper's position is kept once however many topics it is in.
#[derive(Default)]
pub(super) struct Postings {
    /// Each topic's place in `changes`.
    topics: HashMap<String, usize>,
    changes: Vec<(String, Vec<Change>)>,
    positions: Vec<Vec<u8>>,
}

/// A position kept by [`Postings::position`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos(u32);

/// A position in a topic, and its new value (`None`: removed).
type Change = (Pos, Option<Vec<u8>>);

impl Postings {
    /// Keeps a paper's position (its date and key), for the changes of each of its topics.
    pub(super) fn position(&mut self, date: DateTime<Utc>, paper_key: &str) -> Pos {
        self.keep(position(date, paper_key))
    }

    /// Keeps a position as read from a record.
    pub(super) fn raw_position(&mut self, position: &[u8]) -> Pos {
        self.keep(position.to_vec())
    }

    fn keep(&mut self, position: Vec<u8>) -> Pos {
        self.positions.push(position);
        Pos((self.positions.len() - 1) as u32)
    }

    fn topic(&mut self, topic: &str) -> &mut Vec<Change> {
        let at = match self.topics.get(topic) {
            Some(&at) => at,
            None => {
                self.topics.insert(topic.to_string(), self.changes.len());
                self.changes.push((topic.to_string(), Vec::new()));
                self.changes.len() - 1
            }
        };
        &mut self.changes[at].1
    }

    /// Puts the entry at `position` in `topic` with `value`.
    pub(super) fn put(&mut self, topic: &str, position: Pos, value: Vec<u8>) {
        self.topic(topic).push((position, Some(value)));
    }

    /// Removes the entry at `position` from `topic`.
    pub(super) fn delete(&mut self, topic: &str, position: Pos) {
        self.topic(topic).push((position, None));
    }

    /// The record writes that make these changes: each topic's records they fall in are read,
    /// changed, and written back (split when they outgrow [`MAX_ENTRIES`], removed when
    /// empty); an unchanged record is not written. Topics are spread over the cores.
    pub(super) fn into_ops(self, kv: &dyn Store, ops: &mut Vec<Op>) -> Result<(), StoreError> {
        let Postings {
            mut changes,
            positions,
            ..
        } = self;
        // In key order, so that neighbouring topics' records are read and written together.
        changes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let written = crate::in_parallel(&changes, |part| {
            part.iter()
                .map(|(topic, changes)| topic_ops(kv, topic, &last_of_each(changes, &positions)))
                .collect()
        });
        for topic_ops in written {
            ops.extend(topic_ops?);
        }
        Ok(())
    }
}

/// A change with its position's bytes.
type Placed<'a> = (&'a [u8], &'a Option<Vec<u8>>);

/// The last change of each position, in position order.
fn last_of_each<'a>(changes: &'a [Change], positions: &'a [Vec<u8>]) -> Vec<Placed<'a>> {
    let mut sorted: Vec<Placed<'a>> = changes
        .iter()
        .map(|(at, value)| (positions[at.0 as usize].as_slice(), value))
        .collect();
    // Stable: changes of one position stay in the order they were made.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<Placed<'a>> = Vec::with_capacity(sorted.len());
    for change in sorted {
        match out.last_mut() {
            Some(last) if last.0 == change.0 => *last = change,
            _ => out.push(change),
        }
    }
    out
}

/// The record writes that make `changes` (one per position, in position order) in one topic.
fn topic_ops(kv: &dyn Store, topic: &str, changes: &[Placed<'_>]) -> Result<Vec<Op>, StoreError> {
    let prefix = index_prefix(topic);
    let mut ops = Vec::new();
    let mut rest = changes;
    while let Some((first, _)) = rest.first() {
        let (key, entries, end, last) = match record_at(kv, &prefix, first)? {
            Some((key, bytes)) => {
                // The changes up to the next record's key fall in this one.
                let next = kv.scan(Tree::TopicIndex, &prefix, Some(&key), false, 1)?;
                let end = next.first().map_or(rest.len(), |(next, _)| {
                    rest.partition_point(|(p, _)| *p < &next[prefix.len()..])
                });
                (Some(key), Some(bytes), end, next.is_empty())
            }
            None => {
                // Before the topic's first record (or in a topic with none): new records.
                let first = kv.scan(Tree::TopicIndex, &prefix, None, false, 1)?;
                let end = first.first().map_or(rest.len(), |(first, _)| {
                    rest.partition_point(|(p, _)| *p < &first[prefix.len()..])
                });
                (None, None, end, false)
            }
        };
        let entries = match (&key, &entries) {
            (Some(key), Some(bytes)) => decode(key, bytes)?,
            _ => Vec::new(),
        };
        let (now, later) = rest.split_at(end.max(1));
        if last && only_added_after(&entries, now) {
            // The topic's last record, large enough, and papers only added after it.
            let added: Vec<EntryRef<'_>> = now
                .iter()
                .filter_map(|(p, v)| v.as_ref().map(|v| (*p, v.as_slice())))
                .collect();
            write_record(&prefix, None, &added, &mut ops);
        } else if let Some(entries) = merge(entries, now) {
            write_record(&prefix, key, &entries, &mut ops);
        }
        rest = later;
    }
    Ok(ops)
}

/// Whether `changes` only add entries after the last of `entries`, a record holding at least
/// [`APPEND_AFTER`] of them (so they may start a record of their own).
fn only_added_after(entries: &[EntryRef<'_>], changes: &[Placed<'_>]) -> bool {
    entries.len() >= APPEND_AFTER
        && entries
            .last()
            .is_some_and(|(last, _)| changes.iter().all(|(p, v)| v.is_some() && *p > *last))
}

/// `entries` with `changes` made (both in position order), or `None` when nothing changed.
fn merge<'a>(entries: Vec<EntryRef<'a>>, changes: &[Placed<'a>]) -> Option<Vec<EntryRef<'a>>> {
    let mut out = Vec::with_capacity(entries.len() + changes.len());
    let mut changed = false;
    let mut changes = changes.iter().copied().peekable();
    for (position, value) in entries {
        while let Some((p, change)) = changes.next_if(|(p, _)| *p < position) {
            if let Some(v) = change {
                out.push((p, v.as_slice()));
                changed = true;
            }
        }
        match changes.next_if(|(p, _)| *p == position) {
            Some((_, Some(v))) => {
                changed |= v.as_slice() != value;
                out.push((position, v.as_slice()));
            }
            Some((_, None)) => changed = true,
            None => out.push((position, value)),
        }
    }
    for (p, change) in changes {
        if let Some(v) = change {
            out.push((p, v.as_slice()));
            changed = true;
        }
    }
    changed.then_some(out)
}

/// The writes that store `entries` in place of the record under `key` (`None`: a new record,
/// keyed by its first entry): split into records of [`MAX_ENTRIES`], removed when empty.
fn write_record<P: AsRef<[u8]>, V: AsRef<[u8]>>(
    prefix: &[u8],
    key: Option<Vec<u8>>,
    entries: &[(P, V)],
    ops: &mut Vec<Op>,
) {
    if entries.is_empty() {
        if let Some(key) = key {
            ops.push(Op::Delete(Tree::TopicIndex, key));
        }
        return;
    }
    let mut key = key;
    for chunk in entries.chunks(MAX_ENTRIES) {
        let record = key
            .take()
            .unwrap_or_else(|| record_key(prefix, chunk[0].0.as_ref()));
        ops.push(Op::Put(Tree::TopicIndex, record, encode(chunk)));
    }
}

/// Turns a store's topic index from one entry per key (`topic \0 position` → value, as stores
/// before schema version 3 kept it) into posting records, a topic at a time, each topic in one
/// commit (so a migration cut short leaves every topic whole in one form or the other, and is
/// resumed at the next open). Returns how many entries moved.
pub(super) fn migrate_entries(
    kv: &dyn Store,
    commit: impl Fn(Vec<Op>) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    /// How many keys of the old index are read at once.
    const CHUNK: usize = 4096;
    let mut moved = 0;
    // The topic being gathered: its prefix, its entries, and their old keys.
    let mut topic: Option<(Vec<u8>, Vec<Entry>)> = None;
    let flush = |(prefix, entries): (Vec<u8>, Vec<Entry>)| {
        let mut ops: Vec<Op> = entries
            .iter()
            .map(|(position, _)| Op::Delete(Tree::TopicIndex, record_key(&prefix, position)))
            .collect();
        let count = entries.len();
        write_record(&prefix, None, &entries, &mut ops);
        commit(ops).map(|()| count)
    };
    let mut from: Option<Vec<u8>> = None;
    loop {
        let rows = kv.scan(Tree::TopicIndex, b"", from.as_deref(), false, CHUNK)?;
        let full = rows.len() == CHUNK;
        from = rows.last().map(|(key, _)| key.clone());
        for (key, value) in rows {
            if is_record(&value) {
                continue;
            }
            let Some(nul) = key.iter().position(|&b| b == 0) else {
                return Err(StoreError::Corrupt {
                    tree: Tree::TopicIndex.name(),
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: "an index key without a topic".into(),
                });
            };
            let (prefix, position) = key.split_at(nul + 1);
            if topic.as_ref().is_some_and(|(p, _)| p.as_slice() != prefix) {
                moved += flush(topic.take().expect("checked"))?;
            }
            topic
                .get_or_insert_with(|| (prefix.to_vec(), Vec::new()))
                .1
                .push((position.to_vec(), value));
        }
        if !full {
            break;
        }
    }
    if let Some(last) = topic {
        moved += flush(last)?;
    }
    Ok(moved)
}

/// The ops that turn every posting record back into one entry per key, as stores before
/// version 3 kept their topic index (for tests of the migration).
#[cfg(test)]
pub(super) fn unpost_ops(kv: &dyn Store) -> Vec<Op> {
    let mut ops = Vec::new();
    for (key, bytes) in kv
        .scan(Tree::TopicIndex, b"", None, false, usize::MAX)
        .unwrap()
    {
        let nul = key.iter().position(|&b| b == 0).unwrap();
        ops.push(Op::Delete(Tree::TopicIndex, key.clone()));
        for (position, value) in decode(&key, &bytes).unwrap() {
            ops.push(Op::Put(
                Tree::TopicIndex,
                record_key(&key[..=nul], position),
                value.to_vec(),
            ));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn pos(n: u32, key: &str) -> Vec<u8> {
        position(DateTime::from_timestamp(i64::from(n), 0).unwrap(), key)
    }

    fn put(postings: &mut Postings, topic: &str, position: &[u8], value: Vec<u8>) {
        let at = postings.raw_position(position);
        postings.put(topic, at, value);
    }

    fn delete(postings: &mut Postings, topic: &str, position: &[u8]) {
        let at = postings.raw_position(position);
        postings.delete(topic, at);
    }

    /// Applies `postings` to `kv` in one commit.
    fn apply(kv: &MemoryStore, postings: Postings) {
        let mut ops = Vec::new();
        postings.into_ops(kv, &mut ops).unwrap();
        kv.commit(&ops).unwrap();
    }

    fn all(kv: &MemoryStore, topic: &str, reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        walk(kv, topic, None, reverse, |p, v| {
            out.push((p.to_vec(), v.to_vec()));
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        out
    }

    fn records(kv: &MemoryStore) -> Vec<Row> {
        kv.scan(Tree::TopicIndex, b"", None, false, usize::MAX)
            .unwrap()
    }

    #[test]
    fn records_round_trip_and_damage_is_an_error_naming_the_record() {
        let entries = vec![
            (pos(1, "a"), Vec::new()),
            (pos(2, &"long".repeat(100)), vec![0x27, 0x10]),
        ];
        let bytes = encode(&entries);
        assert!(is_record(&bytes));
        let back: Vec<(Vec<u8>, Vec<u8>)> = decode(b"k", &bytes)
            .unwrap()
            .into_iter()
            .map(|(p, v)| (p.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(back, entries);
        for cut in 1..bytes.len() {
            if let Err(e) = decode(b"t\0k", &bytes[..cut]) {
                assert!(e.to_string().contains("tree topic_index"), "{e}");
            }
        }
        assert!(decode(b"k", &bytes[..bytes.len() - 1]).is_err());
        assert!(decode(b"k", b"").is_err());
        assert!(decode(b"k", &[0x27, 0x10]).is_err(), "an old entry's value");
        let swapped = encode(&[entries[1].clone(), entries[0].clone()]);
        assert!(decode(b"k", &swapped).is_err());
    }

    #[test]
    fn small_appends_fill_the_last_record_until_it_holds_enough() {
        let kv = MemoryStore::default();
        let mut writes = Vec::new();
        for batch in 0..20u32 {
            let mut postings = Postings::default();
            for i in 0..5 {
                let n = batch * 5 + i;
                put(&mut postings, "t", &pos(n, &format!("p{n}")), Vec::new());
            }
            let mut ops = Vec::new();
            postings.into_ops(&kv, &mut ops).unwrap();
            writes.push(ops.len());
            kv.commit(&ops).unwrap();
        }
        let sizes: Vec<usize> = records(&kv)
            .iter()
            .map(|(k, v)| decode(k, v).unwrap().len())
            .collect();
        assert_eq!(sizes, vec![20; 5], "{writes:?}");
        // One record written a batch: the last one, or a new one after it.
        assert_eq!(writes, vec![1; 20]);
        let oldest = all(&kv, "t", false);
        assert_eq!(oldest.len(), 100);
        assert!(oldest.windows(2).all(|w| w[0].0 < w[1].0));
        // A change inside a frozen record (here, a removal) rewrites that record only.
        let mut postings = Postings::default();
        let at = postings.raw_position(&pos(3, "p3"));
        postings.delete("t", at);
        let mut ops = Vec::new();
        postings.into_ops(&kv, &mut ops).unwrap();
        assert_eq!(ops.len(), 1);
        kv.commit(&ops).unwrap();
        assert_eq!(all(&kv, "t", false).len(), 99);
    }

    #[test]
    fn appends_fill_records_and_the_newest_are_read_first() {
        let kv = MemoryStore::default();
        for batch in 0..5u32 {
            let mut postings = Postings::default();
            for i in 0..100 {
                let n = batch * 100 + i;
                put(&mut postings, "t", &pos(n, &format!("p{n}")), Vec::new());
            }
            apply(&kv, postings);
        }
        // 500 entries: each batch's 100 in a full record and the rest, the records before
        // left as they were (each holds at least APPEND_AFTER).
        let sizes: Vec<usize> = records(&kv)
            .iter()
            .map(|(k, v)| decode(k, v).unwrap().len())
            .collect();
        assert_eq!(sizes, [64, 36].repeat(5));
        let newest = all(&kv, "t", true);
        assert_eq!(newest.len(), 500);
        assert_eq!(newest[0].0, pos(499, "p499"));
        assert_eq!(newest[499].0, pos(0, "p0"));
        // Strictly before and after a position.
        let mut before = Vec::new();
        walk(&kv, "t", Some(&pos(300, "p300")), true, |p, _| {
            before.push(p.to_vec());
            Ok(if before.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })
        .unwrap();
        assert_eq!(
            before,
            vec![pos(299, "p299"), pos(298, "p298"), pos(297, "p297")]
        );
        let mut after = Vec::new();
        walk(&kv, "t", Some(&pos(126, "p126")), false, |p, _| {
            after.push(p.to_vec());
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert_eq!(after.len(), 373);
        assert_eq!(after[0], pos(127, "p127"));
        assert_eq!(get(&kv, "t", &pos(7, "p7")).unwrap(), Some(Vec::new()));
        assert_eq!(get(&kv, "t", &pos(7, "p8")).unwrap(), None);
        assert_eq!(get(&kv, "u", &pos(7, "p7")).unwrap(), None);
    }

    #[test]
    fn emptied_records_go_and_older_papers_get_records_of_their_own() {
        let kv = MemoryStore::default();
        let mut postings = Postings::default();
        for n in 100..110 {
            put(&mut postings, "t", &pos(n, "k"), Vec::new());
        }
        put(&mut postings, "u", &pos(1, "k"), Vec::new());
        apply(&kv, postings);
        // Older than every entry: a record before the first.
        let mut postings = Postings::default();
        put(&mut postings, "t", &pos(5, "k"), vec![1, 2]);
        delete(&mut postings, "t", &pos(100, "k"));
        delete(&mut postings, "t", &pos(6, "never there"));
        apply(&kv, postings);
        assert_eq!(records(&kv).len(), 3);
        assert_eq!(all(&kv, "t", false)[0], (pos(5, "k"), vec![1, 2]));
        assert_eq!(all(&kv, "t", false).len(), 10);
        // Removing everything removes the records; the other topic is untouched.
        let mut postings = Postings::default();
        for n in (100..110).chain([5]) {
            delete(&mut postings, "t", &pos(n, "k"));
        }
        apply(&kv, postings);
        assert!(all(&kv, "t", false).is_empty());
        assert_eq!(records(&kv).len(), 1);
        assert_eq!(all(&kv, "u", true).len(), 1);
        // Changing nothing writes nothing.
        let mut postings = Postings::default();
        put(&mut postings, "u", &pos(1, "k"), Vec::new());
        delete(&mut postings, "u", &pos(2, "k"));
        let mut ops = Vec::new();
        postings.into_ops(&kv, &mut ops).unwrap();
        assert!(ops.is_empty(), "{ops:?}");
    }

    #[test]
    fn a_record_and_the_one_split_from_it_give_each_entry_once() {
        // As a large commit's writes land: the part split off is written, the record it came
        // from not yet rewritten.
        let kv = MemoryStore::default();
        let prefix = index_prefix("t");
        let entries: Vec<Entry> = (1..=10).map(|n| (pos(n, "k"), Vec::new())).collect();
        kv.commit(&[
            Op::Put(
                Tree::TopicIndex,
                record_key(&prefix, &entries[0].0),
                encode(&entries),
            ),
            Op::Put(
                Tree::TopicIndex,
                record_key(&prefix, &entries[5].0),
                encode(&entries[5..]),
            ),
        ])
        .unwrap();
        assert_eq!(all(&kv, "t", false), entries);
        let mut reversed = entries.clone();
        reversed.reverse();
        assert_eq!(all(&kv, "t", true), reversed);
    }

    #[test]
    fn an_older_store_s_entries_become_records() {
        let kv = MemoryStore::default();
        let mut ops = Vec::new();
        for n in 0..300u32 {
            for topic in ["a", "b"] {
                let value = if n % 2 == 0 { Vec::new() } else { vec![0, 7] };
                ops.push(Op::Put(
                    Tree::TopicIndex,
                    record_key(&index_prefix(topic), &pos(n, "k")),
                    value,
                ));
            }
        }
        kv.commit(&ops).unwrap();
        let moved = migrate_entries(&kv, |ops| kv.commit(&ops)).unwrap();
        assert_eq!(moved, 600);
        assert_eq!(records(&kv).len(), 2 * 300_usize.div_ceil(MAX_ENTRIES));
        for topic in ["a", "b"] {
            let entries = all(&kv, topic, false);
            assert_eq!(entries.len(), 300);
            assert_eq!(entries[1], (pos(1, "k"), vec![0, 7]));
        }
        // Again: nothing left to move.
        assert_eq!(migrate_entries(&kv, |ops| kv.commit(&ops)).unwrap(), 0);
    }

    proptest! {
        /// Any sequence of batches of puts and removals leaves the topics' entries exactly
        /// as a plain map would hold them, every record within its size and in its range.
        #[test]
        fn postings_hold_what_a_map_holds(
            batches in proptest::collection::vec(
                proptest::collection::vec((0u8..3, 0u32..400, proptest::option::of(0u8..3)), 0..300),
                1..6,
            )
        ) {
            let kv = MemoryStore::default();
            let mut model: BTreeMap<(String, Vec<u8>), Vec<u8>> = BTreeMap::new();
            for batch in batches {
                let mut postings = Postings::default();
                for (topic, n, value) in batch {
                    let topic = format!("t{topic}");
                    let position = pos(n, &format!("k{}", n % 7));
                    match value {
                        Some(v) => {
                            let value = if v == 0 { Vec::new() } else { vec![0, v] };
                            put(&mut postings, &topic, &position.clone(), value.clone());
                            model.insert((topic, position), value);
                        }
                        None => {
                            delete(&mut postings, &topic, &position.clone());
                            model.remove(&(topic, position));
                        }
                    }
                }
                apply(&kv, postings);
            }
            for topic in ["t0", "t1", "t2"] {
                let want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .iter()
                    .filter(|((t, _), _)| t == topic)
                    .map(|((_, p), v)| (p.clone(), v.clone()))
                    .collect();
                prop_assert_eq!(&all(&kv, topic, false), &want);
                let mut reversed = want.clone();
                reversed.reverse();
                prop_assert_eq!(&all(&kv, topic, true), &reversed);
            }
            let rows = records(&kv);
            for (i, (key, bytes)) in rows.iter().enumerate() {
                let entries = decode(key, bytes).unwrap();
                prop_assert!(!entries.is_empty() && entries.len() <= MAX_ENTRIES);
                let nul = key.iter().position(|&b| b == 0).unwrap();
                prop_assert!(&key[nul + 1..] <= entries[0].0);
                if let Some((next, _)) = rows.get(i + 1).filter(|(n, _)| n[..=nul] == key[..=nul]) {
                    prop_assert!(entries.last().unwrap().0 < &next[nul + 1..]);
                }
            }
        }
    }
}
