//! Large commits, journalled. A batch of 5,000 papers writes about 20,000 records (papers,
//! aliases, memberships), and against 10,000 topics another 10,000 posting records and 10,000
//! counts. In one sled transaction sled keeps every version of every page it touches until the
//! end: that took 2.0 GB and most of the batch's time (10,000 papers, 10,000 topics), and is
//! most of an ingest's peak memory with few topics. So a commit of more than [`INLINE_OPS`]
//! writes is done in three steps:
//!
//! 1. the journal, every write of the commit (the last one of each key), is written to the
//!    `journal` tree in chunks of about [`CHUNK_BYTES`] (never all of it in one value: sled
//!    would hold several copies of a value of tens of megabytes), then the marker that says how
//!    many chunks there are: from the marker on, the commit has happened;
//! 2. the writes are applied one by one ([`super::Store::apply`]), a tree at a time in an order
//!    that keeps what readers follow whole (a paper before the index entries that lead to it,
//!    the entries gone before the paper), each tree's writes sorted by key and split by key
//!    range over the cores;
//! 3. the marker and the chunks are removed, in one commit.
//!
//! A crash (or a failed write) between 1 and 3 leaves the marker, and its writes are applied
//! again before anything else reads or writes (at open, and at the start of every batch and
//! re-tag: [`finish`]); they are idempotent (puts of whole values, and deletes), so a batch is
//! stored whole or not at all, as a transaction would have it. Chunks without a marker are
//! what a crash during step 1 left: the commit did not happen, and they are removed. Stores
//! written before chunked journals kept the whole journal as one `meta` record (`journal`);
//! [`finish`] still applies one.
//!
//! A chunk: for each write, `P` or `D`, the tree's number, the key's length (u32 BE) and the
//! key, and for a put the value's length and the value.

use std::collections::HashMap;

use super::kv::{Op, Store, StoreError, Tree};

/// The most writes committed as one transaction; more are journalled.
pub(super) const INLINE_OPS: usize = 4096;

/// The `meta` key of the one-record journal of stores before chunked journals.
const JOURNAL: &[u8] = b"journal";
/// The `journal` key of the marker: the number of chunks (u32 BE).
const MARKER: &[u8] = b"m";
/// About how many bytes of writes a journal chunk holds.
const CHUNK_BYTES: usize = 1 << 20;

/// The `journal` key of chunk `n`.
fn chunk_key(n: u32) -> Vec<u8> {
    let mut key = b"c".to_vec();
    key.extend_from_slice(&n.to_be_bytes());
    key
}

/// The order puts are applied in: what a reader follows first (an index entry, an alias, a
/// membership) is written after what it leads to (the paper).
const PUT_ORDER: [Tree; 10] = [
    Tree::Papers,
    Tree::Memberships,
    Tree::Aliases,
    Tree::TopicIndex,
    Tree::TopicCounts,
    Tree::Changes,
    Tree::Sources,
    Tree::Meta,
    Tree::Subscriptions,
    Tree::Journal,
];

/// The order deletes are applied in, after every put: what leads to a paper goes first.
const DELETE_ORDER: [Tree; 10] = [
    Tree::TopicIndex,
    Tree::TopicCounts,
    Tree::Aliases,
    Tree::Memberships,
    Tree::Papers,
    Tree::Changes,
    Tree::Sources,
    Tree::Meta,
    Tree::Subscriptions,
    Tree::Journal,
];

/// Commits `ops` (every one or none, as [`Store::commit`]), journalled when there are many.
/// The caller holds the store's write lock and has [`finish`]ed any earlier journal under it,
/// so that writes land in the order they were made.
pub(super) fn commit(kv: &dyn Store, ops: Vec<Op>) -> Result<(), StoreError> {
    if ops.len() <= INLINE_OPS {
        return kv.commit(&ops);
    }
    let ops = last_of_each_key(ops);
    let mut chunks = 0u32;
    let mut start = 0;
    while start < ops.len() {
        let mut end = start;
        let mut size = 0;
        while end < ops.len() && (end == start || size < CHUNK_BYTES) {
            size += encoded_len(&ops[end]);
            end += 1;
        }
        let chunk = encode(&ops[start..end]);
        kv.commit(&[Op::Put(Tree::Journal, chunk_key(chunks), chunk)])?;
        chunks += 1;
        start = end;
    }
    kv.commit(&[Op::Put(
        Tree::Journal,
        MARKER.to_vec(),
        chunks.to_be_bytes().to_vec(),
    )])?;
    apply(kv, ops)?;
    clear(kv, chunks)
}

/// Applies the writes of a journalled commit that a crash (or a failed write) interrupted, if
/// there is one, and removes what a commit cut short before its marker left; returns how many
/// writes it applied.
pub(super) fn finish(kv: &dyn Store) -> Result<usize, StoreError> {
    if let Some(record) = kv.get(Tree::Meta, JOURNAL)? {
        let ops = decode(&record, JOURNAL)?;
        let count = ops.len();
        apply(kv, ops)?;
        kv.commit(&[Op::Delete(Tree::Meta, JOURNAL.to_vec())])?;
        return Ok(count);
    }
    let Some(marker) = kv.get(Tree::Journal, MARKER)? else {
        // Chunks of a commit that never happened, if any.
        let leftovers: Vec<Op> = kv
            .scan(Tree::Journal, b"", None, false, usize::MAX)?
            .into_iter()
            .map(|(key, _)| Op::Delete(Tree::Journal, key))
            .collect();
        kv.commit(&leftovers)?;
        return Ok(0);
    };
    let chunks =
        u32::from_be_bytes(
            marker
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    tree: Tree::Journal.name(),
                    key: "m".into(),
                    reason: format!("{} bytes, not a number of chunks", marker.len()),
                })?,
        );
    let mut ops = Vec::new();
    for n in 0..chunks {
        let key = chunk_key(n);
        let chunk = kv
            .get(Tree::Journal, &key)?
            .ok_or_else(|| StoreError::Corrupt {
                tree: Tree::Journal.name(),
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: format!("chunk {n} of {chunks} missing"),
            })?;
        ops.extend(decode(&chunk, &key)?);
    }
    let count = ops.len();
    apply(kv, ops)?;
    clear(kv, chunks)?;
    Ok(count)
}

/// Removes the marker and its `chunks` chunks, in one commit (without reading them back).
fn clear(kv: &dyn Store, chunks: u32) -> Result<(), StoreError> {
    let mut ops = vec![Op::Delete(Tree::Journal, MARKER.to_vec())];
    ops.extend((0..chunks).map(|n| Op::Delete(Tree::Journal, chunk_key(n))));
    kv.commit(&ops)
}

/// The last write of each key, in the order of the commit: what the commit leaves.
fn last_of_each_key(ops: Vec<Op>) -> Vec<Op> {
    let mut last: HashMap<(Tree, &[u8]), usize> = HashMap::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        last.insert((op_tree(op), op_key(op)), i);
    }
    let keep: Vec<bool> = (0..ops.len())
        .map(|i| last.get(&(op_tree(&ops[i]), op_key(&ops[i]))) == Some(&i))
        .collect();
    drop(last);
    ops.into_iter()
        .zip(keep)
        .filter_map(|(op, keep)| keep.then_some(op))
        .collect()
}

/// Applies `ops` (one write per key) in [`PUT_ORDER`], then [`DELETE_ORDER`].
fn apply(kv: &dyn Store, ops: Vec<Op>) -> Result<(), StoreError> {
    let mut groups: Vec<Vec<Op>> = vec![Vec::new(); 2 * Tree::ALL.len()];
    let rank = |op: &Op| match op {
        Op::Put(tree, _, _) => PUT_ORDER.iter().position(|t| t == tree),
        Op::Delete(tree, _) => DELETE_ORDER
            .iter()
            .position(|t| t == tree)
            .map(|r| r + Tree::ALL.len()),
    };
    for op in ops {
        // Every tree is in both orders.
        let group = rank(&op).unwrap_or(groups.len() - 1);
        groups[group].push(op);
    }
    for mut group in groups {
        group.sort_unstable_by(|a, b| op_key(a).cmp(op_key(b)));
        apply_parallel(kv, &group)?;
    }
    Ok(())
}

/// Applies `ops`, of one tree and sorted by key (one write per key), on every core: each
/// thread takes a run of keys of its own.
fn apply_parallel(kv: &dyn Store, ops: &[Op]) -> Result<(), StoreError> {
    if ops.len() < INLINE_OPS {
        return kv.apply(ops);
    }
    crate::in_parallel(ops, |run: &[Op]| vec![kv.apply(run)])
        .into_iter()
        .collect()
}

fn op_key(op: &Op) -> &[u8] {
    match op {
        Op::Put(_, key, _) | Op::Delete(_, key) => key,
    }
}

fn op_tree(op: &Op) -> Tree {
    match op {
        Op::Put(tree, _, _) | Op::Delete(tree, _) => *tree,
    }
}

/// How many bytes a write takes in a chunk.
fn encoded_len(op: &Op) -> usize {
    match op {
        Op::Put(_, k, v) => 10 + k.len() + v.len(),
        Op::Delete(_, k) => 6 + k.len(),
    }
}

fn encode(ops: &[Op]) -> Vec<u8> {
    // Keys and values are ids, dates, paper records or counts: far below 4 GiB.
    fn bytes(out: &mut Vec<u8>, part: &[u8]) {
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(part);
    }
    let mut out = Vec::with_capacity(ops.iter().map(encoded_len).sum());
    for op in ops {
        // A handful of trees.
        let tree = op_tree(op).index() as u8;
        match op {
            Op::Put(_, key, value) => {
                out.extend_from_slice(&[b'P', tree]);
                bytes(&mut out, key);
                bytes(&mut out, value);
            }
            Op::Delete(_, key) => {
                out.extend_from_slice(&[b'D', tree]);
                bytes(&mut out, key);
            }
        }
    }
    out
}

/// The writes of a chunk (or of an old one-record journal) stored under `key`.
fn decode(mut bytes: &[u8], key: &[u8]) -> Result<Vec<Op>, StoreError> {
    fn part<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (length, rest) = bytes.split_first_chunk::<4>()?;
        let length = u32::from_be_bytes(*length) as usize;
        if rest.len() < length {
            return None;
        }
        let (part, rest) = rest.split_at(length);
        *bytes = rest;
        Some(part)
    }
    let tree = if key == JOURNAL {
        Tree::Meta
    } else {
        Tree::Journal
    };
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: tree.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    };
    let mut ops = Vec::new();
    while let [op, tree, rest @ ..] = bytes {
        bytes = rest;
        let tree = *Tree::ALL
            .get(usize::from(*tree))
            .ok_or_else(|| corrupt("a write names no tree"))?;
        let key = part(&mut bytes).ok_or_else(|| corrupt("a key is cut short"))?;
        ops.push(match op {
            b'P' => {
                let value = part(&mut bytes).ok_or_else(|| corrupt("a value is cut short"))?;
                Op::Put(tree, key.to_vec(), value.to_vec())
            }
            b'D' => Op::Delete(tree, key.to_vec()),
            _ => return Err(corrupt("a write is neither a put nor a delete")),
        });
    }
    if !bytes.is_empty() {
        return Err(corrupt("the record ends in the middle of a write"));
    }
    Ok(ops)
}

/// The one `meta` record a store before chunked journals kept for a commit cut short (for
/// tests of what opening such a store does).
#[cfg(test)]
pub(super) fn old_record(ops: &[Op]) -> Op {
    Op::Put(Tree::Meta, JOURNAL.to_vec(), encode(ops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    /// A store in memory that records every write committed to it, in order.
    #[derive(Default)]
    struct Recording(MemoryStore, std::sync::Mutex<Vec<Op>>);

    impl Recording {
        fn written(&self) -> Vec<Op> {
            self.1.lock().unwrap().clone()
        }
    }

    impl Store for Recording {
        fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.get(tree, key)
        }
        fn scan(
            &self,
            tree: Tree,
            prefix: &[u8],
            from: Option<&[u8]>,
            reverse: bool,
            limit: usize,
        ) -> Result<Vec<crate::store::Row>, StoreError> {
            self.0.scan(tree, prefix, from, reverse, limit)
        }
        fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
            self.1.lock().unwrap().extend_from_slice(ops);
            self.0.commit(ops)
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    fn index_put(key: &str) -> Op {
        Op::Put(Tree::TopicIndex, key.as_bytes().to_vec(), Vec::new())
    }

    #[test]
    fn records_decode_to_what_was_encoded_and_damage_is_named() {
        let ops = vec![
            Op::Put(Tree::Papers, b"k".to_vec(), b"{}".to_vec()),
            index_put("a\0x"),
            Op::Delete(Tree::TopicIndex, b"b\0y".to_vec()),
            index_put(""),
            Op::Put(
                Tree::TopicCounts,
                b"a".to_vec(),
                7u64.to_be_bytes().to_vec(),
            ),
            Op::Delete(Tree::TopicCounts, b"b".to_vec()),
        ];
        assert_eq!(decode(&encode(&ops), b"c").unwrap(), ops);
        assert!(decode(&[], b"c").unwrap().is_empty());
        let bytes = encode(&ops);
        for cut in [1, 3, 9, bytes.len() - 1] {
            let err = decode(&bytes[..cut], &chunk_key(3)).expect_err("cut short");
            assert!(err.to_string().contains("tree journal"), "{err}");
        }
        assert!(decode(b"X\x02\0\0\0\0", b"c").is_err());
        // A tree past the last.
        let mut no_tree = vec![b'P', Tree::ALL.len() as u8];
        no_tree.extend([0; 8]);
        assert!(decode(&no_tree, b"c").is_err());
    }

    #[test]
    fn a_large_commit_lands_whole_and_an_interrupted_one_is_finished() {
        let kv = MemoryStore::default();
        kv.commit(&[Op::Put(Tree::Aliases, b"arxiv:1".to_vec(), b"old".to_vec())])
            .unwrap();
        let mut ops: Vec<Op> = (0..INLINE_OPS + 10)
            .map(|i| index_put(&format!("t\0{i:06}")))
            .collect();
        ops.push(Op::Put(Tree::Papers, b"p".to_vec(), b"{}".to_vec()));
        // A key written twice in one commit keeps its last write, whatever the kinds.
        ops.push(Op::Delete(Tree::Aliases, b"arxiv:1".to_vec()));
        ops.push(Op::Put(Tree::Aliases, b"arxiv:1".to_vec(), b"p".to_vec()));
        ops.push(Op::Put(Tree::Aliases, b"arxiv:2".to_vec(), b"p".to_vec()));
        ops.push(Op::Delete(Tree::Aliases, b"arxiv:2".to_vec()));
        commit(&kv, ops).unwrap();
        let index = kv
            .scan(Tree::TopicIndex, b"", None, false, usize::MAX)
            .unwrap();
        assert_eq!(index.len(), INLINE_OPS + 10);
        assert!(kv.get(Tree::Papers, b"p").unwrap().is_some());
        assert_eq!(
            kv.get(Tree::Aliases, b"arxiv:1").unwrap(),
            Some(b"p".to_vec())
        );
        assert_eq!(kv.get(Tree::Aliases, b"arxiv:2").unwrap(), None);
        assert!(
            kv.scan(Tree::Journal, b"", None, false, 10)
                .unwrap()
                .is_empty(),
            "journal removed"
        );

        // A crash after the marker's commit: the chunks are there, their writes are not.
        let pending = [
            Op::Delete(Tree::TopicIndex, b"t\x00000000".to_vec()),
            index_put("u\0new"),
            Op::Put(Tree::Papers, b"q".to_vec(), b"{}".to_vec()),
        ];
        kv.commit(&[
            Op::Put(Tree::Journal, chunk_key(0), encode(&pending[..2])),
            Op::Put(Tree::Journal, chunk_key(1), encode(&pending[2..])),
            Op::Put(Tree::Journal, MARKER.to_vec(), 2u32.to_be_bytes().to_vec()),
        ])
        .unwrap();
        assert_eq!(finish(&kv).unwrap(), 3);
        assert!(kv.get(Tree::TopicIndex, b"t\x00000000").unwrap().is_none());
        assert!(kv.get(Tree::TopicIndex, b"u\0new").unwrap().is_some());
        assert!(kv.get(Tree::Papers, b"q").unwrap().is_some());
        assert!(kv
            .scan(Tree::Journal, b"", None, false, 10)
            .unwrap()
            .is_empty());
        assert_eq!(finish(&kv).unwrap(), 0, "nothing left to finish");

        // A crash before the marker: the commit did not happen, and its chunks go.
        kv.commit(&[Op::Put(
            Tree::Journal,
            chunk_key(0),
            encode(&[index_put("v\0never")]),
        )])
        .unwrap();
        assert_eq!(finish(&kv).unwrap(), 0);
        assert!(kv.get(Tree::TopicIndex, b"v\0never").unwrap().is_none());
        assert!(kv.get(Tree::Journal, &chunk_key(0)).unwrap().is_none());

        // A marker naming a chunk that is not there is an error naming it, not a panic.
        kv.commit(&[Op::Put(
            Tree::Journal,
            MARKER.to_vec(),
            1u32.to_be_bytes().to_vec(),
        )])
        .unwrap();
        let err = finish(&kv).unwrap_err();
        assert!(err.to_string().contains("chunk 0 of 1 missing"), "{err}");
        kv.commit(&[Op::Delete(Tree::Journal, MARKER.to_vec())])
            .unwrap();

        // A store from before chunked journals, cut short: its one record is applied.
        kv.commit(&[Op::Put(
            Tree::Meta,
            JOURNAL.to_vec(),
            encode(&[index_put("w\0old")]),
        )])
        .unwrap();
        assert_eq!(finish(&kv).unwrap(), 1);
        assert!(kv.get(Tree::TopicIndex, b"w\0old").unwrap().is_some());
        assert!(kv.get(Tree::Meta, JOURNAL).unwrap().is_none());
    }

    #[test]
    fn a_journal_larger_than_a_chunk_is_written_in_several() {
        let kv = Recording::default();
        // 8,192 writes of 274 bytes each: 3,827 fill a chunk, so three chunks.
        let value = vec![7u8; 256];
        let ops: Vec<Op> = (0..8192)
            .map(|i| Op::Put(Tree::Papers, format!("{i:08}").into_bytes(), value.clone()))
            .collect();
        assert_eq!(encoded_len(&ops[0]), 274);
        commit(&kv, ops).unwrap();
        let chunks = kv
            .written()
            .iter()
            .filter(|op| matches!(op, Op::Put(Tree::Journal, k, _) if k.starts_with(b"c")))
            .count();
        assert_eq!(chunks, 3);
        assert_eq!(
            kv.0.scan(Tree::Papers, b"", None, false, usize::MAX)
                .unwrap()
                .len(),
            8192
        );
        assert!(kv
            .0
            .scan(Tree::Journal, b"", None, false, 1)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn puts_lead_with_papers_and_deletes_end_with_them() {
        let ops = vec![
            Op::Delete(Tree::Papers, b"gone".to_vec()),
            index_put("t\0new"),
            Op::Delete(Tree::TopicIndex, b"t\0gone".to_vec()),
            Op::Put(Tree::Papers, b"new".to_vec(), Vec::new()),
        ];
        // The order apply takes them in, as a recording store sees it.
        let recording = Recording::default();
        apply(&recording, ops).unwrap();
        let order: Vec<(Tree, bool)> = recording
            .written()
            .iter()
            .map(|op| (op_tree(op), matches!(op, Op::Put(..))))
            .collect();
        assert_eq!(
            order,
            [
                (Tree::Papers, true),
                (Tree::TopicIndex, true),
                (Tree::TopicIndex, false),
                (Tree::Papers, false)
            ]
        );
    }
}
