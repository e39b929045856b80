//! The sled implementation of [`Store`]: one sled tree per [`Tree`], multi-tree transactions
//! for atomic commits, and compaction in place ([`SledStore::compact`]): a running `serve`
//! gives back the bytes of replaced records without closing the store to its readers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::compact::{self, Compacted};
use super::kv::{scan_bounds, Op, Row, Store, StoreError, Tree};

/// A [`Store`] on disk, in a sled database.
pub struct SledStore {
    path: PathBuf,
    cache_bytes: u64,
    /// The database, replaced by its compacted copy; `None` only when a compaction could not
    /// open the store again (every call then fails, naming the store).
    open: RwLock<Option<Open>>,
    /// Writes hold it shared; a compaction holds it alone while it copies, so that nothing is
    /// written to the old database after the copy has passed it. Reads never take it.
    writes: RwLock<()>,
    /// One compaction at a time.
    compacting: Mutex<()>,
    /// Set when the process is stopping: a compaction under way is abandoned, none starts.
    stopped: AtomicBool,
}

/// An open database and its trees, in [`Tree::ALL`] order.
struct Open {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl Open {
    fn at(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = open_db(path, cache_bytes)?;
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| open_error(path, source))?;
        Ok(Open { db, trees })
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.trees[tree.index()]
    }
}

impl SledStore {
    /// Opens (or creates) the database at `path`, creating parent folders, after finishing or
    /// undoing a compaction a crash cut short ([`super::compact::recover`]). The lock beside
    /// the store is held meanwhile: a compaction under way is waited for, never undone.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let lock = compact::lock(path)?;
        compact::recover(path)?;
        let open = Open::at(path, cache_bytes)?;
        // sled's own lock on its files keeps other processes out from here on.
        drop(lock);
        Ok(SledStore {
            path: path.to_path_buf(),
            cache_bytes,
            open: RwLock::new(Some(open)),
            writes: RwLock::new(()),
            compacting: Mutex::new(()),
            stopped: AtomicBool::new(false),
        })
    }

    /// Runs `f` on the open database; readers of the store hold it only this long.
    fn with<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Open) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let open = self.open.read().unwrap_or_else(PoisonError::into_inner);
        match &*open {
            Some(open) => f(open),
            None => Err(StoreError::Io {
                op,
                source: format!(
                    "the store {} could not be opened again after its compaction; \
                     restart paperboy",
                    self.path.display()
                )
                .into(),
            }),
        }
    }

    /// Runs the write `f` on the open database, after any compaction copying it.
    fn writing<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Open) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _writes = self.writes.read().unwrap_or_else(PoisonError::into_inner);
        self.with(op, f)
    }

    /// Rewrites the open store with only its live records and swaps the copy in when it is
    /// smaller, as [`super::compact()`] does to a closed one. Reads go on against the old
    /// database while it is copied and wait only for the swap (the old database closed, two
    /// renames, the copy opened); writes wait for the copy. A copy that will not open is
    /// dropped and the store put back. `Ok(None)`: nothing was done, because another compaction is
    /// under way or the store is stopping ([`SledStore::stop_compacting`]).
    pub fn compact(&self) -> Result<Option<Compacted>, StoreError> {
        let _one = match self.compacting.try_lock() {
            Ok(one) => one,
            // A compaction that panicked left nothing behind that the next one does not redo.
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
        };
        if self.stopped.load(Ordering::Relaxed) {
            return Ok(None);
        }
        // Held from before the copy to after the swap: an open in another process (`status`)
        // waits, then says the store is held, rather than take the copy for a crash's
        // leftover and remove it.
        let _lock = compact::lock(&self.path)?;
        // [`StoreError::Locked`] says a compaction never began (the lock above was taken by
        // another process, which a caller may try again soon): one from the databases the
        // copy and the swap open is a failure like any other.
        self.compact_holding_lock().map_err(|e| match e {
            StoreError::Locked { path } => StoreError::Io {
                op: "compact",
                source: format!("{path}: its database is still locked").into(),
            },
            other => other,
        })
    }

    /// [`SledStore::compact`] once it holds the lock beside the store.
    fn compact_holding_lock(&self) -> Result<Option<Compacted>, StoreError> {
        let writes = self.writes.write().unwrap_or_else(PoisonError::into_inner);
        let old = self.with("compact", |open| Ok(open.db.clone()))?;
        old.flush().map_err(io("flush"))?;
        let before = compact::disk_bytes(&self.path);
        let copy = compact::copy_aside(
            &old,
            &self.path,
            before,
            compact::copy_cache(self.cache_bytes),
            &|before, copied| copied < before,
            &self.stopped,
        )?;
        if !copy.replacing() {
            let (done, _) = compact::swap_in(&self.path, before, copy, |_| Ok(()))?;
            return Ok(Some(done));
        }
        let done = {
            let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
            // Every handle on the old database goes before its folder is renamed.
            drop(old);
            *open = None;
            let swapped = compact::swap_in(&self.path, before, copy, |path| {
                Open::at(path, self.cache_bytes)
            });
            match swapped {
                Ok((done, reopened)) => {
                    *open = reopened;
                    done
                }
                Err(e) => {
                    // Whatever step failed, `recover` leaves the store whole at its path (as
                    // it was, or the copy) to open again.
                    match compact::recover(&self.path)
                        .and_then(|()| Open::at(&self.path, self.cache_bytes))
                    {
                        Ok(reopened) => *open = Some(reopened),
                        Err(e) => tracing::error!(
                            store = %self.path.display(),
                            "the store could not be opened again after a failed compaction \
                             (restart paperboy): {e}"
                        ),
                    }
                    return Err(e);
                }
            }
            // Readers go on from here.
        };
        // Writers too; the old store is removed without holding anyone.
        drop(writes);
        compact::remove_replaced(&self.path);
        Ok(Some(done))
    }

    /// Abandons a compaction under way (between two batches of its copy, which is removed) and
    /// refuses new ones: the process is stopping.
    pub fn stop_compacting(&self) {
        self.stopped.store(true, Ordering::Relaxed);
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
        self.with("read", |open| {
            Ok(open
                .tree(tree)
                .get(key)
                .map_err(io("read"))?
                .map(|v| v.to_vec()))
        })
    }

    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        self.with("read", |open| {
            open.tree(tree).contains_key(key).map_err(io("read"))
        })
    }

    fn scan(
        &self,
        tree: Tree,
        prefix: &[u8],
        from: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.with("scan", |open| {
            let bounds = scan_bounds(prefix, from, reverse);
            let range = open.tree(tree).range::<Vec<u8>, _>(bounds);
            let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if reverse
            {
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
        })
    }

    fn commit(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.writing("commit", |open| commit(open, ops))
    }

    /// One write at a time: a sled transaction keeps every version of every page it touches
    /// until it ends, so one of 300,000 topic index entries (a batch of 5,000 papers and 10,000
    /// topics) took 1.6 GB and most of the batch's time; written one by one, they take what
    /// sled's cache allows.
    fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        self.writing("write", |open| {
            for op in ops {
                match op {
                    Op::Put(tree, k, v) => {
                        open.tree(*tree)
                            .insert(k.as_slice(), v.as_slice())
                            .map_err(io("write"))?;
                    }
                    Op::Delete(tree, k) => {
                        open.tree(*tree).remove(k.as_slice()).map_err(io("write"))?;
                    }
                }
            }
            Ok(())
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.with("flush", |open| {
            open.db.flush().map_err(io("flush"))?;
            Ok(())
        })
    }

    fn disk_bytes(&self) -> Option<u64> {
        Some(compact::disk_bytes(&self.path))
    }

    fn compact(&self) -> Result<Option<Compacted>, StoreError> {
        SledStore::compact(self)
    }

    fn stop_compacting(&self) {
        SledStore::stop_compacting(self);
    }
}

/// Applies every op of `ops` to `open`'s trees in one transaction.
fn commit(open: &Open, ops: &[Op]) -> Result<(), StoreError> {
    let trees: Vec<&sled::Tree> = open.trees.iter().collect();
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
