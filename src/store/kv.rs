//! The key-value layer under [`super::PaperStore`]: the [`Tree`]s, the [`Store`] trait (an
//! ordered key-value store with atomic multi-key commits) that sled and memory implement, and
//! [`StoreError`], which names no backend's types.

/// An error from a store backend (sled's, or an I/O error), kept as its message and source
/// chain without tying [`StoreError`] to the backend's types.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The trees of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tree {
    /// Paper key → JSON stored paper.
    Papers,
    /// Every identifier a paper is known by → its key.
    Aliases,
    /// Topic, date and key → nothing: a topic's papers by date.
    TopicIndex,
    /// Topic → how many papers it holds.
    TopicCounts,
    /// Source id → JSON source state.
    Sources,
    /// Named values: the schema version, the topics' fingerprint, the last change's number.
    Meta,
    /// Change number (u64 BE) → the keys of the papers one batch wrote or removed, until the
    /// search index has taken them in.
    Changes,
    /// Paper key → the date its topic index entries are filed under and its topics, so a
    /// topic's papers change without reading or writing the papers themselves.
    Memberships,
    /// Feed URL, 0 and callback URL → JSON WebSub subscription.
    Subscriptions,
    /// The writes of a large commit while it is applied ([`super::journal`]): numbered chunks,
    /// and the marker that says they are whole.
    Journal,
    /// Source, NUL and an entry's identity there but its last two bytes → those two bytes and
    /// the digest of each such entry as last stored ([`crate::model::EntryMark`], grouped by
    /// `marks`): an entry that comes back the same is not read again.
    Marks,
}

impl Tree {
    /// Every tree.
    pub const ALL: [Tree; 11] = [
        Tree::Papers,
        Tree::Aliases,
        Tree::TopicIndex,
        Tree::TopicCounts,
        Tree::Sources,
        Tree::Meta,
        Tree::Changes,
        Tree::Memberships,
        Tree::Subscriptions,
        Tree::Journal,
        Tree::Marks,
    ];

    /// The tree's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Papers => "papers",
            Tree::Aliases => "aliases",
            Tree::TopicIndex => "topic_index",
            Tree::TopicCounts => "topic_counts",
            Tree::Sources => "sources",
            Tree::Meta => "meta",
            Tree::Changes => "changes",
            Tree::Memberships => "memberships",
            Tree::Subscriptions => "subscriptions",
            Tree::Journal => "journal",
            Tree::Marks => "entry_marks",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// One write in an atomic commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Writes a value under a key.
    Put(Tree, Vec<u8>, Vec<u8>),
    /// Removes a key.
    Delete(Tree, Vec<u8>),
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store at this path could not be opened (missing permissions, locked by another
    /// paperboy process, or not a sled database).
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The store's folder.
        path: String,
        #[source]
        /// The backend's error.
        source: BackendError,
    },
    /// Another process (a running `paperboy serve`, most likely) holds the store.
    #[error("the store at {path} is in use by another paperboy process")]
    Locked {
        /// The store's folder.
        path: String,
    },
    /// A read, write or flush failed.
    #[error("store {op} failed: {source}")]
    Io {
        /// What was being done: read, scan, commit, flush.
        op: &'static str,
        #[source]
        /// The backend's error.
        source: BackendError,
    },
    /// A record could not be encoded for writing (nothing was written).
    #[error("cannot encode a record for tree {tree}, key {key:?}: {reason}")]
    Encode {
        /// The tree the record was for.
        tree: &'static str,
        /// The record's key.
        key: String,
        /// Why it could not be encoded.
        reason: String,
    },
    /// The store was written by a newer paperboy, whose layout this one cannot read.
    #[error(
        "the store at {store} has schema version {found}, written by a newer paperboy; this one \
         reads version {supported}: upgrade paperboy, or point store.path at another folder"
    )]
    Schema {
        /// The store's folder.
        store: String,
        /// The store's schema version.
        found: u32,
        /// The newest version this paperboy reads.
        supported: u32,
    },
    /// Stored bytes did not decode.
    #[error("corrupt record in tree {tree}, key {key:?}: {reason}")]
    Corrupt {
        /// The tree the record is in.
        tree: &'static str,
        /// The record's key.
        key: String,
        /// What did not decode.
        reason: String,
    },
}

/// A key and its value.
pub type Row = (Vec<u8>, Vec<u8>);

/// An ordered key-value store with atomic multi-key commits.
pub trait Store: Send + Sync {
    /// The value under `key`.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether a value is stored under `key` (a backend that can tell without copying the
    /// value out should).
    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(tree, key)?.is_some())
    }
    /// Up to `limit` entries whose key starts with `prefix`, in key order (or reverse key
    /// order), strictly after (or before, when reversed) `from` when given.
    fn scan(
        &self,
        tree: Tree,
        prefix: &[u8],
        from: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError>;
    /// Applies every op or none.
    fn commit(&self, ops: &[Op]) -> Result<(), StoreError>;
    /// Applies `ops` in order, each on its own rather than all in one transaction: for records
    /// whose intent is already committed elsewhere, so that a crash part way through is redone
    /// from that record ([`super::journal`]). A backend whose transactions cost nothing beyond
    /// their writes may commit them at once, as this default does.
    fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        self.commit(ops)
    }
    /// Makes everything committed so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Bytes the store takes on disk; `None` for one that is not on disk.
    fn disk_bytes(&self) -> Option<u64> {
        None
    }
    /// Rewrites the store in place with only its live records, for a backend that keeps the
    /// bytes of replaced records (sled); readers go on meanwhile and writers wait.
    /// `Ok(None)`: nothing was done (nothing to give back, another compaction is under way,
    /// or the store is stopping).
    fn compact(&self) -> Result<Option<super::Compacted>, StoreError> {
        Ok(None)
    }
    /// Abandons a compaction under way and refuses new ones: the process is stopping.
    fn stop_compacting(&self) {}
}

/// The key range [`Store::scan`] covers, shared by the implementations.
pub(crate) fn scan_bounds(
    prefix: &[u8],
    from: Option<&[u8]>,
    reverse: bool,
) -> (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>) {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let end = prefix_end(prefix).map_or(Unbounded, Excluded);
    match (from, reverse) {
        (Some(f), false) => (Excluded(f.to_vec()), end),
        (Some(f), true) => (Included(prefix.to_vec()), Excluded(f.to_vec())),
        (None, _) => (Included(prefix.to_vec()), end),
    }
}

/// The exclusive upper bound of keys starting with `prefix` (`None`: no bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
