//! Large commits of topic index entries, journalled. A batch of 5,000 papers against 10,000
//! topics writes about 300,000 `topic_index` entries and 10,000 `topic_counts`; in one sled
//! transaction they cost 1.6 GB and most of the batch's time (sled keeps every version of
//! every page a transaction touches until it ends). So when a commit holds more than
//! [`INLINE_INDEX_OPS`] of them, the papers, memberships and a journal record listing those
//! writes are committed together, atomically; then the writes are applied one by one
//! ([`super::Store::apply`], sorted by key, on every core), and the journal record is removed.
//! A crash in between leaves the record, and the writes are applied again (they are
//! idempotent: puts of whole values, and deletes) before anything else writes: at open, and
//! before every batch ([`finish`]).
//!
//! The journal record (`meta` key `pending-topic-index`): for each op, `P` or `D`, the tree
//! (`i` for `topic_index`, `c` for `topic_counts`), the key's length (u32 BE) and the key, and
//! for a put the value's length and the value.

use super::kv::{Op, Store, StoreError, Tree};

/// The most topic index and count writes committed in the same transaction as their papers.
pub(super) const INLINE_INDEX_OPS: usize = 4096;

/// The `meta` key of the journal record.
const PENDING: &[u8] = b"pending-topic-index";

/// Whether writes to `tree` may be journalled: records derived from the papers' memberships.
fn is_derived(tree: Tree) -> bool {
    matches!(tree, Tree::TopicIndex | Tree::TopicCounts)
}

/// Commits `ops`, the topic index and count writes among them journalled when there are many.
pub(super) fn commit(kv: &dyn Store, ops: Vec<Op>) -> Result<(), StoreError> {
    let index_ops = ops.iter().filter(|op| is_derived(op_tree(op))).count();
    if index_ops <= INLINE_INDEX_OPS {
        return kv.commit(&ops);
    }
    // Any earlier journal first, so the index writes land in the order they were made.
    finish(kv)?;
    let (mut index, mut rest): (Vec<Op>, Vec<Op>) =
        ops.into_iter().partition(|op| is_derived(op_tree(op)));
    // Stable: the writes to one key keep their order.
    index.sort_by(|a, b| (op_tree(a).index(), op_key(a)).cmp(&(op_tree(b).index(), op_key(b))));
    rest.push(Op::Put(Tree::Meta, PENDING.to_vec(), encode(&index)));
    kv.commit(&rest)?;
    apply_parallel(kv, &index)?;
    kv.commit(&[Op::Delete(Tree::Meta, PENDING.to_vec())])
}

/// Applies the writes of a journalled commit that a crash (or a failed write) interrupted, if
/// there is one; returns how many it applied. Batches call it first: the counts they read
/// must be the ones the last batch left.
pub(super) fn finish(kv: &dyn Store) -> Result<usize, StoreError> {
    let Some(record) = kv.get(Tree::Meta, PENDING)? else {
        return Ok(0);
    };
    let index = decode(&record)?;
    apply_parallel(kv, &index)?;
    kv.commit(&[Op::Delete(Tree::Meta, PENDING.to_vec())])?;
    Ok(index.len())
}

/// Applies `ops`, sorted by key, on every core: each thread takes a run of keys of its own,
/// so the writes to one key stay in order.
fn apply_parallel(kv: &dyn Store, ops: &[Op]) -> Result<(), StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || ops.len() < 2 * INLINE_INDEX_OPS {
        return kv.apply(ops);
    }
    let mut runs = Vec::with_capacity(threads);
    let mut rest = ops;
    for left in (1..=threads).rev() {
        let mut cut = (rest.len() / left).max(1).min(rest.len());
        // Not between two writes of the same key.
        while cut < rest.len() && same_key(&rest[cut], &rest[cut - 1]) {
            cut += 1;
        }
        let (run, after) = rest.split_at(cut);
        runs.push(run);
        rest = after;
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| scope.spawn(move || kv.apply(run)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Result<Vec<()>, StoreError>>()
    })?;
    Ok(())
}

fn same_key(a: &Op, b: &Op) -> bool {
    op_tree(a) == op_tree(b) && op_key(a) == op_key(b)
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

fn encode(ops: &[Op]) -> Vec<u8> {
    // Keys and values are a topic id, a date, a paper key or a count: far below 4 GiB.
    fn bytes(out: &mut Vec<u8>, part: &[u8]) {
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(part);
    }
    let mut out = Vec::with_capacity(ops.len() * 48);
    for op in ops {
        let tree = if op_tree(op) == Tree::TopicCounts {
            b'c'
        } else {
            b'i'
        };
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

fn decode(mut bytes: &[u8]) -> Result<Vec<Op>, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: Tree::Meta.name(),
        key: String::from_utf8_lossy(PENDING).into_owned(),
        reason: reason.to_string(),
    };
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
    let mut ops = Vec::new();
    while let [op, tree, rest @ ..] = bytes {
        bytes = rest;
        let tree = match tree {
            b'i' => Tree::TopicIndex,
            b'c' => Tree::TopicCounts,
            _ => return Err(corrupt("an op names no journalled tree")),
        };
        let key = part(&mut bytes).ok_or_else(|| corrupt("a key is cut short"))?;
        ops.push(match op {
            b'P' => {
                let value = part(&mut bytes).ok_or_else(|| corrupt("a value is cut short"))?;
                Op::Put(tree, key.to_vec(), value.to_vec())
            }
            b'D' => Op::Delete(tree, key.to_vec()),
            _ => return Err(corrupt("an op is neither a put nor a delete")),
        });
    }
    if !bytes.is_empty() {
        return Err(corrupt("the record ends in the middle of an op"));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn index_put(key: &str) -> Op {
        Op::Put(Tree::TopicIndex, key.as_bytes().to_vec(), Vec::new())
    }

    #[test]
    fn records_decode_to_what_was_encoded_and_damage_is_named() {
        let ops = vec![
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
        assert_eq!(decode(&encode(&ops)).unwrap(), ops);
        assert!(decode(&[]).unwrap().is_empty());
        let bytes = encode(&ops);
        for cut in [1, 3, 9, bytes.len() - 1] {
            let err = decode(&bytes[..cut]).expect_err("cut short");
            assert!(err.to_string().contains("pending-topic-index"), "{err}");
        }
        assert!(decode(b"Xi\0\0\0\0").is_err());
        assert!(decode(b"Px\0\0\0\0\0\0\0\0").is_err());
    }

    #[test]
    fn a_large_commit_lands_whole_and_an_interrupted_one_is_finished() {
        let kv = MemoryStore::default();
        let mut ops: Vec<Op> = (0..INLINE_INDEX_OPS + 10)
            .map(|i| index_put(&format!("t\0{i:06}")))
            .collect();
        ops.push(Op::Put(Tree::Papers, b"p".to_vec(), b"{}".to_vec()));
        commit(&kv, ops).unwrap();
        let index = kv
            .scan(Tree::TopicIndex, b"", None, false, usize::MAX)
            .unwrap();
        assert_eq!(index.len(), INLINE_INDEX_OPS + 10);
        assert!(kv.get(Tree::Papers, b"p").unwrap().is_some());
        assert!(
            kv.get(Tree::Meta, PENDING).unwrap().is_none(),
            "journal removed"
        );

        // A crash after the papers' commit: the record is there, the index writes are not.
        let pending = vec![
            Op::Delete(Tree::TopicIndex, b"t\x00000000".to_vec()),
            index_put("u\0new"),
        ];
        kv.commit(&[Op::Put(Tree::Meta, PENDING.to_vec(), encode(&pending))])
            .unwrap();
        assert_eq!(finish(&kv).unwrap(), 2);
        assert!(kv.get(Tree::TopicIndex, b"t\x00000000").unwrap().is_none());
        assert!(kv.get(Tree::TopicIndex, b"u\0new").unwrap().is_some());
        assert!(kv.get(Tree::Meta, PENDING).unwrap().is_none());
        assert_eq!(finish(&kv).unwrap(), 0, "nothing left to finish");
    }
}
