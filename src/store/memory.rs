//! An in-memory [`Store`] for tests: the same semantics as sled, nothing on disk.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::kv::{scan_bounds, Op, Row, Store, StoreError, Tree};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A [`Store`] held in memory.
#[derive(Default)]
pub struct MemoryStore {
    trees: Mutex<[Map; Tree::ALL.len()]>,
}

impl Store for MemoryStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let trees = self
            .trees
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(trees[tree.index()].get(key).cloned())
    }

    fn scan(
        &self,
        tree: Tree,
        prefix: &[u8],
        from: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let trees = self
            .trees
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bounds = scan_bounds(prefix, from, reverse);
        let range = trees[tree.index()].range::<Vec<u8>, _>(bounds);
        let pairs = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
        Ok(if reverse {
            range.rev().take(limit).map(pairs).collect()
        } else {
            range.take(limit).map(pairs).collect()
        })
    }

    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        let mut trees = self
            .trees
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for op in ops {
            match op {
                Op::Put(tree, k, v) => {
                    trees[tree.index()].insert(k.clone(), v.clone());
                }
                Op::Delete(tree, k) => {
                    trees[tree.index()].remove(k);
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
