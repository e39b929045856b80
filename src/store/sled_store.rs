//! The sled implementation of [`Store`]: one sled tree per [`Tree`], multi-tree transactions
//! for atomic commits.

use std::path::Path;
use std::time::{Duration, Instant};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::kv::{scan_bounds, Op, Row, Store, StoreError, Tree};

/// A [`Store`] on disk, in a sled database.
pub struct SledStore {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl SledStore {
    /// Opens (or creates) the database at `path`, creating parent folders, after finishing or
    /// undoing a compaction a crash cut short ([`super::compact::recover`]). The lock beside
    /// the store is held meanwhile: a compaction under way is waited for, never undone.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let lock = super::compact::lock(path)?;
        super::compact::recover(path)?;
        let db = open_db(path, cache_bytes)?;
        // sled's own lock on its files keeps other processes out from here on.
        drop(lock);
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| open_error(path, source))?;
        Ok(SledStore { db, trees })
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.trees[tree.index()]
    }
}

fn open_error(path: &Path, source: sled::Error) -> StoreError {
    StoreError::Open {
        path: path.display().to_string(),
        source: source.into(),
    }
}

/// The sled database at `path` (created, with its parent folders, when missing), as paperboy
/// configures it; [`StoreError::Locked`] when another process holds it.
pub(super) fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| open_error(path, sled::Error::Io(e)))?;
    }
    open_waiting_for_lock(path, cache_bytes).map_err(|e| match e {
        sled::Error::Io(e) if is_lock_error(&e) => StoreError::Locked {
            path: path.display().to_string(),
        },
        e => open_error(path, e),
    })
}

/// How long opening waits for another holder of the database's lock to let go (a process
/// still shutting down, or sled's flusher thread of a handle just dropped).
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Runs `attempt` again every 50 ms while it fails because something is `locked`, for up to
/// [`LOCK_WAIT`]; returns its last result.
pub(super) fn waiting_for_lock<T, E>(
    mut attempt: impl FnMut() -> Result<T, E>,
    locked: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match attempt() {
            Err(e) if locked(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn open_waiting_for_lock(path: &Path, cache_bytes: u64) -> sled::Result<sled::Db> {
    waiting_for_lock(
        || {
            sled::Config::new()
                .path(path)
                .cache_capacity(cache_bytes)
                .mode(sled::Mode::LowSpace)
                .open()
        },
        |e| matches!(e, sled::Error::Io(e) if is_lock_error(e)),
    )
}

/// Whether sled could not open the database because another process holds its lock.
fn is_lock_error(e: &std::io::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

pub(super) fn io(op: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |source| StoreError::Io {
        op,
        source: source.into(),
    }
}

impl Store for SledStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree(tree)
            .get(key)
            .map_err(io("read"))?
            .map(|v| v.to_vec()))
    }

    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        self.tree(tree).contains_key(key).map_err(io("read"))
    }

    fn scan(
        &self,
        tree: Tree,
        prefix: &[u8],
        from: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let t = self.tree(tree);
        let bounds = scan_bounds(prefix, from, reverse);
        let range = t.range::<Vec<u8>, _>(bounds);
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if reverse {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut out = Vec::new();
        for item in iter.take(limit) {
            let (k, v) = item.map_err(io("scan"))?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let trees: Vec<&sled::Tree> = self.trees.iter().collect();
        trees
            .as_slice()
            .transaction(|tx| {
                for op in ops {
                    match op {
                        Op::Put(tree, k, v) => {
                            tx[tree.index()].insert(k.as_slice(), v.as_slice())?;
                        }
                        Op::Delete(tree, k) => {
                            tx[tree.index()].remove(k.as_slice())?;
                        }
                    }
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(source) => io("commit")(source),
                // The transaction above never aborts itself.
                TransactionError::Abort(()) => StoreError::Io {
                    op: "commit",
                    source: "transaction aborted".into(),
                },
            })
    }

    /// One write at a time: a sled transaction keeps every version of every page it touches
    /// until it ends, so one of 300,000 topic index entries (a batch of 5,000 papers and 10,000
    /// topics) took 1.6 GB and most of the batch's time; written one by one, they take what
    /// sled's cache allows.
    fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        for op in ops {
            match op {
                Op::Put(tree, k, v) => {
                    self.tree(*tree)
                        .insert(k.as_slice(), v.as_slice())
                        .map_err(io("write"))?;
                }
                Op::Delete(tree, k) => {
                    self.tree(*tree).remove(k.as_slice()).map_err(io("write"))?;
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(io("flush"))?;
        Ok(())
    }
}
