//! [`PaperStore`], the typed store over any [`Store`]: papers merged under every identifier they
//! are known by, per-topic indexes and counts kept in step in the same commit, source state,
//! and the reads feeds and pages make.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use std::ops::ControlFlow;

use super::keys::{
    decode, decode_changed, decode_count, decode_membership, decode_paper, decode_u64, encode,
    encode_changed, encode_membership, encode_paper, StoredMembership, LAST_CHANGE, SCAN_CHUNK,
    SCHEMA_VERSION, SCHEMA_VERSION_KEY,
};
use super::kv::{Op, Row, Store, StoreError, Tree};
use super::plan::{diff_paper, relevance_ops, remove_paper, Plan, Writes};
use super::postings;
use super::{MemoryStore, SledStore};
use crate::model::{EntryMark, Paper, Relevance, SourceState, StoredPaper};
use crate::pipeline::identity::{arxiv_identifier, entry_arxiv, first_seen, identifiers, named};
use crate::pipeline::merge::merge;
use crate::pipeline::tag::{Tagger, Tags};

/// A batch's papers tagged before the batch is planned ([`PaperStore::pretag`]), by `tagger`.
pub struct Pretagged<'a> {
    tagger: &'a Tagger,
    /// By the paper's place in the batch: its topics, for the papers that looked new.
    pub(super) tags: Vec<Option<Tags>>,
}

/// How a batch of papers changed the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Papers stored for the first time.
    pub new: usize,
    /// Papers stored before that changed.
    pub updated: usize,
    /// Papers stored before that did not change.
    pub unchanged: usize,
}

impl std::ops::Add for BatchCounts {
    type Output = BatchCounts;

    fn add(self, other: BatchCounts) -> BatchCounts {
        BatchCounts {
            new: self.new + other.new,
            updated: self.updated + other.updated,
            unchanged: self.unchanged + other.unchanged,
        }
    }
}

/// Typed access to papers, topic indexes and source state over any [`Store`].
pub struct PaperStore {
    pub(super) kv: Arc<dyn Store>,
    /// Bumped after every commit that writes papers or the index.
    generation: std::sync::atomic::AtomicU64,
    /// Writers read, merge and commit under this lock so that concurrent batches cannot lose
    /// each other's updates.
    pub(super) write: Mutex<()>,
    /// The papers the last batches wrote, with the number of the change that wrote them, for
    /// the search index to take in as they are instead of reading them back
    /// ([`PaperStore::take_written`]); at most [`WRITTEN_KEPT`] changes.
    written: Mutex<std::collections::VecDeque<(u64, Written)>>,
    /// Where a copy of the sources' states is written after each commit of one
    /// ([`super::states`]); `None` for a store not on disk.
    states_file: Option<std::path::PathBuf>,
}

/// Why a store is to be compacted ([`PaperStore::outgrown`]), in bytes a paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgrown {
    /// What it takes now.
    pub per_paper: u64,
    /// What it took at its leanest; `None`: it was never compacted.
    pub leanest: Option<u64>,
}

impl std::fmt::Display for Outgrown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.leanest {
            Some(leanest) => write!(
                f,
                "the store has grown to {} bytes a paper, from {leanest} at its leanest",
                self.per_paper
            ),
            None => write!(
                f,
                "the store takes {} bytes a paper and was never compacted",
                self.per_paper
            ),
        }
    }
}

/// The papers one change wrote, by key.
pub type Written = HashMap<String, WrittenPaper>;

/// A paper as a batch wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenPaper {
    /// The paper, with its topics.
    pub paper: StoredPaper,
    /// Whether the store had no paper under its key before: nothing under that key is in the
    /// search index to replace (an index never runs ahead of the store's changes).
    pub new: bool,
}

/// How many changes' papers are kept for the search index: it takes in each batch right after
/// the batch is stored, so one is enough but for a batch stored while another is indexed.
const WRITTEN_KEPT: usize = 2;

/// How long before a feed's window [`PaperStore::topic_window`] looks for papers that entered
/// it: a paper enters a topic within days of its date (arXiv announces a submission one to four
/// days after it, more over holidays).
pub(crate) const ANNOUNCEMENT_LAG: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// A relevance-order cursor's index position and relevance (`None` when it carries none).
pub(crate) fn split_ranked_cursor(cursor: &[u8]) -> (&[u8], Option<Relevance>) {
    let Some(nul) = cursor.iter().rposition(|&b| b == 0) else {
        return (cursor, None);
    };
    let relevance = std::str::from_utf8(&cursor[nul + 1..])
        .ok()
        .and_then(|digits| digits.parse::<u16>().ok())
        .and_then(|n| Relevance::from_bytes(&n.to_be_bytes()));
    match relevance {
        Some(relevance) => (&cursor[..nul], Some(relevance)),
        None => (cursor, None),
    }
}

impl PaperStore {
    /// Wraps a key-value store.
    pub fn new(kv: Arc<dyn Store>) -> Self {
        PaperStore {
            kv,
            generation: std::sync::atomic::AtomicU64::new(0),
            write: Mutex::new(()),
            written: Mutex::default(),
            states_file: None,
        }
    }

    /// Opens (or creates) the sled store at `path` with the default cache, refusing one
    /// written by a newer schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, crate::config::DEFAULT_CACHE_MIB << 20)
    }

    /// Opens the store `[store]` configures: its path, and its cache of at most `cache_bytes`.
    pub fn open_configured(config: &crate::config::StoreConfig) -> Result<Self, StoreError> {
        Self::open_with_cache(&config.path, config.cache_bytes)
    }

    fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let mut store = Self::new(Arc::new(SledStore::open(path, cache_bytes)?));
        store.check_schema(&path.display().to_string())?;
        store.states_file = Some(super::states::path_for(path));
        // The copy a process before this one left may lag the store (it was killed between
        // a commit and the copy): written afresh for whoever reads it while this one holds
        // the store.
        store.publish_states();
        Ok(store)
    }

    /// Applies the writes of a batch a crash cut short, if any: before anything reads the
    /// store, migrations included (they read the layout those writes complete).
    fn finish_journal(&self) -> Result<(), StoreError> {
        let finished = super::journal::finish(&*self.kv)?;
        if finished > 0 {
            tracing::info!(
                writes = finished,
                "finished the writes of a batch cut short by a crash"
            );
        }
        Ok(())
    }

    /// Records the schema version in a new store, migrates an older one, and refuses a store
    /// whose version this paperboy does not know; in a store it reads, first finishes a batch
    /// a crash cut short.
    fn check_schema(&self, name: &str) -> Result<(), StoreError> {
        match self.kv.get(Tree::Meta, SCHEMA_VERSION_KEY)? {
            None => {
                self.finish_journal()?;
                self.record_schema()
            }
            Some(bytes) => {
                let found = bytes
                    .as_slice()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        tree: Tree::Meta.name(),
                        key: "schema_version".into(),
                        reason: format!("{} bytes, not a version number", bytes.len()),
                    })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        store: name.to_string(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                self.finish_journal()?;
                if found < 2 {
                    tracing::info!(
                        store = name,
                        "moving each paper's topics to their own records (store version 1 to 2)"
                    );
                    self.migrate_topics_out_of_papers()?;
                }
                if found < 3 {
                    tracing::info!(
                        store = name,
                        "gathering each topic's index entries into posting records (store \
                         version 2 to 3)"
                    );
                    let moved = postings::migrate_entries(&*self.kv, |ops| {
                        super::journal::commit(&*self.kv, ops)
                    })?;
                    tracing::info!(store = name, entries = moved, "topic index migrated");
                }
                if found < SCHEMA_VERSION {
                    self.record_schema()?;
                }
                Ok(())
            }
        }
    }

    fn record_schema(&self) -> Result<(), StoreError> {
        self.kv.commit(&[Op::Put(
            Tree::Meta,
            SCHEMA_VERSION_KEY.to_vec(),
            SCHEMA_VERSION.to_be_bytes().to_vec(),
        )])
    }

    /// Version 1 to 2: each paper's topics, kept in its record until then, get a membership
    /// record (the records keep the old field, which is no longer read). Idempotent, so a
    /// migration cut short is done again at the next open.
    pub(super) fn migrate_topics_out_of_papers(&self) -> Result<(), StoreError> {
        /// A version-1 record: the paper with its topics.
        #[derive(serde::Deserialize)]
        struct Legacy {
            #[serde(default)]
            topics: Vec<String>,
            #[serde(flatten)]
            paper: StoredPaper,
        }
        self.for_each_chunk(Tree::Papers, |rows| {
            let mut ops = Vec::with_capacity(rows.len());
            for (key, bytes) in rows {
                let legacy: Legacy = decode_paper(key, bytes)?;
                ops.push(Op::Put(
                    Tree::Memberships,
                    key.clone(),
                    encode_membership(legacy.paper.updated(), &legacy.topics),
                ));
            }
            self.kv.commit(&ops)
        })
    }

    /// A store in memory, for tests.
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryStore::default()))
    }

    /// The paper stored under `key`, with its topics.
    pub fn get(&self, key: &str) -> Result<Option<StoredPaper>, StoreError> {
        let Some(bytes) = self.kv.get(Tree::Papers, key.as_bytes())? else {
            return Ok(None);
        };
        let mut paper: StoredPaper = decode_paper(key.as_bytes(), &bytes)?;
        paper.topics = self.membership(key)?.map(|(_, t)| t).unwrap_or_default();
        Ok(Some(paper))
    }

    /// A paper's membership record: the date its index entries are filed under and its
    /// topics (`None`: no such paper, or, from store version 4 on, a paper in no topic).
    pub(super) fn membership(&self, key: &str) -> Result<Option<StoredMembership>, StoreError> {
        self.kv
            .get(Tree::Memberships, key.as_bytes())?
            .map(|bytes| decode_membership(key.as_bytes(), &bytes))
            .transpose()
    }

    /// The stored paper known by any of these identifiers (tried in order).
    pub fn find(&self, identifiers: &[String]) -> Result<Option<StoredPaper>, StoreError> {
        for id in identifiers {
            if let Some(key) = self.resolve(id)? {
                if let Some(paper) = self.get(&key)? {
                    return Ok(Some(paper));
                }
            }
        }
        Ok(None)
    }

    /// The key of the paper an identifier leads to: its own, when a paper is stored under it
    /// (a paper's key is one of its identifiers, and has no alias record of its own from store
    /// version 4 on), or else the one its alias record names, or else, for an entry named by
    /// an arXiv id ([`entry_arxiv`], which has no alias record from version 4 on), the one
    /// that arXiv id leads to.
    fn resolve(&self, identifier: &str) -> Result<Option<String>, StoreError> {
        let direct = |id: &str| -> Result<Option<String>, StoreError> {
            if self.kv.contains(Tree::Papers, id.as_bytes())? {
                return Ok(Some(id.to_string()));
            }
            self.alias(id)
        };
        match (direct(identifier)?, entry_arxiv(identifier)) {
            (Some(key), _) => Ok(Some(key)),
            (None, Some(arxiv)) => direct(&arxiv_identifier(arxiv)),
            (None, None) => Ok(None),
        }
    }

    /// [`PaperStore::resolve`] for every identifier of `papers`, spread over the cores.
    fn resolve_all(&self, papers: &[Paper]) -> Result<HashMap<String, Option<String>>, StoreError> {
        let ids: Vec<String> = papers
            .iter()
            .flat_map(|paper| identifiers(&paper.ids))
            .collect::<std::collections::HashSet<String>>()
            .into_iter()
            .collect();
        crate::in_parallel(&ids, |part: &[String]| {
            part.iter()
                .map(|id| Ok((id.clone(), self.resolve(id)?)))
                .collect()
        })
        .into_iter()
        .collect()
    }

    /// The paper key an alias record leads to.
    fn alias(&self, identifier: &str) -> Result<Option<String>, StoreError> {
        self.kv
            .get(Tree::Aliases, identifier.as_bytes())?
            .map(|key| {
                String::from_utf8(key).map_err(|e| StoreError::Corrupt {
                    tree: Tree::Aliases.name(),
                    key: identifier.to_string(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// A paper as the batch being planned sees it: staged, or else as stored (recorded as the
    /// batch's original for that key).
    fn current(&self, plan: &mut Plan, key: &str) -> Result<Option<StoredPaper>, StoreError> {
        if let Some(staged) = plan.pending.get(key) {
            return Ok(Some(staged.clone()));
        }
        let stored = self.get(key)?;
        plan.originals
            .entry(key.to_string())
            .or_insert_with(|| stored.clone());
        Ok(stored)
    }

    /// Stores a batch of papers from one source atomically, merging each with what is stored
    /// under any of its identifiers and tagging the result; writes the source's state, which
    /// `state` makes from the batch's counts, in the same commit.
    pub fn apply_batch(
        &self,
        source_id: &str,
        papers: &[Paper],
        tagger: &Tagger,
        state: impl FnOnce(BatchCounts) -> SourceState,
        now: DateTime<Utc>,
    ) -> Result<BatchCounts, StoreError> {
        self.apply_batch_pretagged(source_id, papers.to_vec(), &[], tagger, None, state, now)
    }

    /// Whether the entry `mark` stands for was stored exactly as it is written now (its
    /// mark, written with its paper, is the same), so that reading it again would change
    /// nothing. A batch in the journal counts as stored: it is applied before anything else
    /// reads the store.
    pub fn is_marked(&self, mark: &EntryMark) -> Result<bool, StoreError> {
        let (group, _) = super::marks::split(&mark.key);
        let stored = self.kv.get(Tree::Marks, group)?;
        Ok(super::marks::holds(stored.as_deref(), mark))
    }

    /// Tags the papers of a batch that look new (nothing is stored under their first
    /// identifier), before [`PaperStore::apply_batch_pretagged`] takes the write lock: on a
    /// busy ingest, tagging against thousands of topics then runs while the batch before is
    /// written rather than after it. Unchanged papers are not tagged at all.
    pub fn pretag<'a>(
        &self,
        papers: &[Paper],
        tagger: &'a Tagger,
    ) -> Result<Pretagged<'a>, StoreError> {
        // Looked up and tagged on every core: a new paper's lookups miss, which costs as
        // much as a hit.
        let tags = crate::in_parallel(papers, |part: &[Paper]| {
            part.iter()
                .map(|paper| match identifiers(&paper.ids).first() {
                    Some(first) => Ok(self
                        .resolve(first)?
                        .is_none()
                        .then(|| tagger.tag_scored(paper))),
                    None => Ok(None),
                })
                .collect()
        })
        .into_iter()
        .collect::<Result<Vec<Option<Tags>>, StoreError>>()?;
        Ok(Pretagged { tagger, tags })
    }

    /// [`PaperStore::apply_batch`], with the topics of papers tagged ahead ([`PaperStore::pretag`])
    /// taken for those that are new to the store and to the batch, when they were tagged by
    /// this very `tagger` (a reload in between makes them stale: they are tagged again), and
    /// the `marks` of the entries the papers were read from written in the same commit.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_batch_pretagged(
        &self,
        source_id: &str,
        mut papers: Vec<Paper>,
        marks: &[EntryMark],
        tagger: &Tagger,
        pretagged: Option<Pretagged<'_>>,
        state: impl FnOnce(BatchCounts) -> SourceState,
        now: DateTime<Utc>,
    ) -> Result<BatchCounts, StoreError> {
        let mut pretagged = pretagged.filter(|p| std::ptr::eq(p.tagger, tagger));
        // The batch's place of each paper staged new and not merged with another since.
        let mut fresh_from: HashMap<String, usize> = HashMap::new();
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // What is read must be what the last commit left, journalled writes included.
        super::journal::finish(&*self.kv)?;
        let mut plan = Plan::default();
        // What each identifier of the batch leads to in the store, looked up on every core
        // (nothing is written until the commit, and the write lock is held).
        let stored_keys = self.resolve_all(&papers)?;
        // Papers found unchanged, by key.
        let mut unchanged: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (place, incoming) in papers.iter_mut().enumerate() {
            let ids = identifiers(&incoming.ids);
            // Every distinct paper any of the identifiers leads to, as this batch has it so far.
            let mut found: Vec<StoredPaper> = Vec::new();
            for id in &ids {
                let key = match plan.aliases.get(id) {
                    Some(key) => Some(key.clone()),
                    // Every identifier of the batch was looked up.
                    None => stored_keys.get(id).cloned().flatten(),
                };
                let Some(key) = key.map(|k| plan.survivor_of(k)) else {
                    continue;
                };
                if found.iter().any(|p| p.key == key) {
                    continue;
                }
                if let Some(paper) = self.current(&mut plan, &key)? {
                    found.push(paper);
                }
            }
            // One stored paper, not staged by this batch yet: if it comes back unchanged it
            // need not be kept at all (a copy later in the batch reads it again).
            let only_stored = found.len() == 1 && !plan.pending.contains_key(&found[0].key);
            let next = if found.is_empty() {
                // Its aliases are already all of its identifiers.
                // Taken, not copied: the batch is this call's, and nothing reads a paper's
                // place again once it is staged.
                let fresh = first_seen(std::mem::take(incoming), now);
                plan.originals.entry(fresh.key.clone()).or_insert(None);
                fresh_from.insert(fresh.key.clone(), place);
                fresh
            } else {
                // Identifiers that lead to several papers (a journal paper stored under its DOI,
                // the same paper stored from arXiv) join them: the paper seen first survives,
                // with its entry id; the others are folded into it.
                found.sort_by_key(|p| p.first_seen);
                let mut survivor = found.remove(0);
                for other in found {
                    survivor.paper = merge(&survivor.paper, &other.paper);
                    survivor.aliases.extend(other.aliases);
                    plan.retire(&other.key, &survivor.key);
                }
                survivor.paper = merge(&survivor.paper, incoming);
                fresh_from.remove(&survivor.key);
                survivor.aliases.extend(ids);
                survivor.aliases.extend(identifiers(&survivor.paper.ids));
                survivor
            };
            if only_stored
                && matches!(plan.originals.get(&next.key), Some(Some(original)) if *original == next)
            {
                // The same record (read with its topics, which are current: a topic change
                // re-tags the store): neither tagged nor written, nor held until the batch
                // ends. Most papers of a re-poll are these.
                plan.originals.remove(&next.key);
                unchanged.insert(next.key);
                continue;
            }
            plan.stage(next);
        }
        let mut counts = BatchCounts {
            // Unless a later copy in the batch changed the paper or folded it into another.
            unchanged: unchanged
                .iter()
                .filter(|key| !plan.pending.contains_key(*key) && !plan.retired.contains_key(*key))
                .count(),
            ..BatchCounts::default()
        };
        let mut writes = Writes::default();
        // Every paper written or removed, for the search index to take in.
        let mut changed: Vec<String> = Vec::new();
        for key in plan.retired.keys() {
            if let Some(Some(original)) = plan.originals.get(key) {
                remove_paper(original, &mut writes);
                changed.push(key.clone());
            }
        }
        let mut to_write = Vec::new();
        for (key, next) in std::mem::take(&mut plan.pending) {
            match plan.originals.get(&key).and_then(Option::as_ref) {
                None => counts.new += 1,
                // The same record (it was read with its topics, which are current: a topic
                // change re-tags the store), so it is neither tagged nor written again.
                Some(o) if *o == next => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.updated += 1,
            }
            let ahead = match (&mut pretagged, fresh_from.get(&key)) {
                (Some(pretagged), Some(&place)) => {
                    pretagged.tags.get_mut(place).and_then(Option::take)
                }
                _ => None,
            };
            to_write.push((key, next, ahead));
        }
        // Tagging against thousands of topics, and compressing the records, is most of a
        // batch's CPU: on every core. (A paper's record holds no topics.)
        type ToWrite = (String, StoredPaper, Option<Tags>);
        let done = crate::in_parallel(&to_write, |part: &[ToWrite]| {
            part.iter()
                .map(|(key, next, ahead)| {
                    let tagged = ahead.is_none().then(|| tagger.tag_scored(&next.paper));
                    (tagged, encode_paper(key.as_bytes(), next))
                })
                .collect()
        });
        let mut written = Written::with_capacity(to_write.len());
        for ((key, mut next, ahead), (tagged, record)) in to_write.into_iter().zip(done) {
            let (topics, relevance) = match (ahead, tagged) {
                (Some(tags), _) | (None, Some(tags)) => tags,
                (None, None) => tagger.tag_scored(&next.paper),
            };
            next.topics = topics;
            let original = plan.originals.get(&key).and_then(Option::as_ref);
            diff_paper(original, &next, record?, &mut writes);
            relevance_ops(&key, next.updated(), &relevance, &mut writes);
            changed.push(key.clone());
            let new = original.is_none();
            written.insert(key, WrittenPaper { paper: next, new });
        }
        let mut ops = self.writes_ops(writes)?;
        let change = self.change_ops(&changed, &mut ops)?;
        // Only papers are in feeds: a batch that changes none leaves cached feeds valid.
        let papers_changed = !ops.is_empty();
        for (group, record) in super::marks::updated_groups(marks, |g| self.kv.get(Tree::Marks, g))?
        {
            ops.push(Op::Put(Tree::Marks, group, record));
        }
        ops.push(Op::Put(
            Tree::Sources,
            source_id.as_bytes().to_vec(),
            encode(Tree::Sources, source_id.as_bytes(), &state(counts))?,
        ));
        super::journal::commit(&*self.kv, ops)?;
        self.publish_states();
        if papers_changed {
            self.bump();
        }
        if let Some(change) = change {
            let mut kept = self
                .written
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if kept.len() == WRITTEN_KEPT {
                kept.pop_front();
            }
            kept.push_back((change, written));
        }
        Ok(counts)
    }

    /// The papers change `number` wrote, as they were written, when they are still kept: the
    /// search index takes them in without reading them back. Given out once; `None` when not
    /// kept (the index reads each paper from the store, as after a restart). Any other kept
    /// change numbered before `number` is dropped: the index has gone past it.
    pub fn take_written(&self, number: u64) -> Option<Written> {
        let mut kept = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.retain(|(change, _)| *change >= number);
        match kept.front() {
            Some((change, _)) if *change == number => kept.pop_front().map(|(_, papers)| papers),
            _ => None,
        }
    }

    /// Calls `f` with every stored paper, in key order, without its topics (they are in
    /// their own records: reading them would double the reads of a whole-store scan, and no
    /// scan needs them; [`PaperStore::get`] has them).
    pub fn for_each_paper(&self, mut f: impl FnMut(StoredPaper)) -> Result<(), StoreError> {
        self.for_each_chunk(Tree::Papers, |rows| {
            for (key, bytes) in rows {
                f(decode_paper(key, bytes)?);
            }
            Ok(())
        })
    }

    /// Calls `f` with every raw row of `tree`, in key order, [`SCAN_CHUNK`] rows at a time, so
    /// that no more than a chunk is in memory at once.
    pub(super) fn for_each_chunk(
        &self,
        tree: Tree,
        mut f: impl FnMut(&[Row]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut from: Option<Vec<u8>> = None;
        loop {
            let rows = self
                .kv
                .scan(tree, b"", from.as_deref(), false, SCAN_CHUNK)?;
            let Some((last, _)) = rows.last() else {
                return Ok(());
            };
            from = Some(last.clone());
            f(&rows)?;
        }
    }

    /// The paper a person names: an arXiv id (`2604.21952`, `arXiv:2604.21952v2`, an arXiv
    /// URL), a DOI (bare, `doi:` or a resolver URL), a link, an entry id, or a store key.
    pub fn lookup(&self, name: &str) -> Result<Option<StoredPaper>, StoreError> {
        let name = name.trim();
        let named = named(name);
        let mut candidates = vec![name.to_string()];
        candidates.extend(identifiers(&named));
        for candidate in &candidates {
            if let Some(paper) = self.get(candidate)? {
                return Ok(Some(paper));
            }
        }
        self.find(&candidates)
    }

    /// The newest papers of a topic, newest first.
    pub fn topic_papers(&self, topic: &str, limit: usize) -> Result<Vec<StoredPaper>, StoreError> {
        Ok(self.topic_page(topic, None, limit)?.0)
    }

    /// One page of a topic, newest first: up to `limit` papers older than the `before` cursor
    /// (from the start when `None`), and the cursor of the next page when there are more.
    /// Cursors are opaque bytes; a cursor from elsewhere just starts at that point of the index.
    pub fn topic_page(
        &self,
        topic: &str,
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<StoredPaper>, Option<Vec<u8>>), StoreError> {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let want = limit.saturating_add(1);
        postings::walk(&*self.kv, topic, before, true, |position, value| {
            entries.push((position.to_vec(), value.to_vec()));
            Ok(if entries.len() == want {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next = entries
            .last()
            .filter(|_| more)
            .map(|(position, _)| position.clone());
        let out = entries
            .iter()
            .map(|(position, value)| self.paper_at(topic, position, value))
            .collect::<Result<_, _>>()?;
        Ok((out, next))
    }

    /// One page of a topic learned from examples in relevance order (best first; equal
    /// relevance, newest first): up to `limit` papers after `after` (from the start when
    /// `None`), and the cursor of the next page when there are more. A cursor is a paper's
    /// position in the topic's index (as [`PaperStore::topic_page`] gives them) followed by a
    /// NUL and its relevance in ten-thousandths, so a page resumes at the right place even when
    /// that paper has since left the topic or been scored again. Reads the topic's whole index
    /// (its keys and scores, not its papers).
    pub fn topic_by_relevance(
        &self,
        topic: &str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<StoredPaper>, Option<Vec<u8>>), StoreError> {
        // (relevance, position in the index, the entry's value)
        let mut entries: Vec<(Option<Relevance>, Vec<u8>, Vec<u8>)> = Vec::new();
        self.for_each_topic_entry(topic, |position, value| {
            entries.push((
                Relevance::from_bytes(value),
                position.to_vec(),
                value.to_vec(),
            ));
            Ok(())
        })?;
        let order = |a: &(Option<Relevance>, &[u8]), b: &(Option<Relevance>, &[u8])| {
            b.0.cmp(&a.0).then_with(|| b.1.cmp(a.1))
        };
        entries.sort_unstable_by(|a, b| order(&(a.0, &a.1), &(b.0, &b.1)));
        let start = match after.map(split_ranked_cursor) {
            None => 0,
            Some((position, relevance)) => {
                // The paper's relevance now, when it is still in the topic; else the cursor's.
                let relevance = entries
                    .iter()
                    .find(|(_, p, _)| p.as_slice() == position)
                    .map_or(relevance, |(r, _, _)| *r);
                entries.partition_point(|(r, p, _)| {
                    order(&(*r, p), &(relevance, position)) != std::cmp::Ordering::Greater
                })
            }
        };
        let page = entries.get(start..).unwrap_or_default();
        let more = page.len() > limit;
        let page = &page[..page.len().min(limit)];
        let papers = page
            .iter()
            .map(|(_, position, value)| self.paper_at(topic, position, value))
            .collect::<Result<Vec<_>, _>>()?;
        let next = page
            .last()
            .filter(|_| more)
            .map(|(relevance, position, _)| {
                let mut cursor = position.clone();
                if let Some(relevance) = relevance {
                    cursor.push(0);
                    cursor.extend_from_slice(relevance.ten_thousandths().to_string().as_bytes());
                }
                cursor
            });
        Ok((papers, next))
    }

    /// Calls `f` with every entry of `topic`'s index (its position and value), oldest first.
    pub(super) fn for_each_topic_entry(
        &self,
        topic: &str,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        postings::walk(&*self.kv, topic, None, false, |position, value| {
            f(position, value).map(|()| ControlFlow::Continue(()))
        })
    }

    /// The first page of a topic's feed that no reader polling at least every `window`
    /// misses a paper from: newest first, every paper down to the oldest-dated one that
    /// entered the topic since `since` (first seen by paperboy then, or dated then), at least
    /// `min` papers and at most `max`, and the cursor of the next page when there are more.
    /// The page is a run of the topic's date order, so its `next` pages skip nothing. Papers
    /// dated more than [`ANNOUNCEMENT_LAG`] before `since` are not looked at: a paper enters a
    /// topic within days of its date (arXiv announces a submission a few days after it).
    pub fn topic_window(
        &self,
        topic: &str,
        since: DateTime<Utc>,
        min: usize,
        max: usize,
    ) -> Result<(Vec<StoredPaper>, Option<Vec<u8>>), StoreError> {
        let horizon = since - ANNOUNCEMENT_LAG;
        let mut papers = Vec::new();
        // Each paper's position in the index: the cursor of the page after it.
        let mut positions: Vec<Vec<u8>> = Vec::new();
        // How many of the papers read the page holds: up to the last one that entered.
        let mut take = 0;
        let mut more = false;
        postings::walk(&*self.kv, topic, None, true, |position, value| {
            if papers.len() == max {
                more = true;
                return Ok(ControlFlow::Break(()));
            }
            let paper = self.paper_at(topic, position, value)?;
            let date = paper.updated();
            if date < horizon && papers.len() >= min {
                more = true;
                return Ok(ControlFlow::Break(()));
            }
            if date >= since || paper.first_seen >= since {
                take = papers.len() + 1;
            }
            positions.push(position.to_vec());
            papers.push(paper);
            Ok(ControlFlow::Continue(()))
        })?;
        let take = take.max(min).min(papers.len());
        more |= take < papers.len();
        papers.truncate(take);
        positions.truncate(take);
        Ok((papers, positions.pop().filter(|_| more)))
    }

    /// The relevance held at `position` in the topic's index (`None`: no such entry, or one
    /// without a score).
    pub fn topic_relevance(
        &self,
        topic: &str,
        position: &[u8],
    ) -> Result<Option<Relevance>, StoreError> {
        Ok(postings::get(&*self.kv, topic, position)?.and_then(|v| Relevance::from_bytes(&v)))
    }

    /// Whether `cursor` (from a `next` link of the topic's feed) is a position in the topic's
    /// index: a paper of the topic at that date.
    pub fn is_topic_position(&self, topic: &str, cursor: &[u8]) -> Result<bool, StoreError> {
        Ok(postings::get(&*self.kv, topic, cursor)?.is_some())
    }

    /// The paper at `position` in `topic`'s index, with the relevance its entry holds (entries
    /// of topics learned from examples hold one).
    pub(super) fn paper_at(
        &self,
        topic: &str,
        position: &[u8],
        value: &[u8],
    ) -> Result<StoredPaper, StoreError> {
        let key = postings::paper_key_of(topic, position)?;
        let mut paper = self.get(key)?.ok_or_else(|| StoreError::Corrupt {
            tree: Tree::TopicIndex.name(),
            key: format!("{topic}: {}", String::from_utf8_lossy(position)),
            reason: format!("points at missing paper {key:?}"),
        })?;
        paper.relevance = Relevance::from_bytes(value);
        Ok(paper)
    }

    /// A number that changes whenever any topic's papers may have changed, for caches of
    /// rendered feeds.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How many papers a topic holds.
    pub fn topic_count(&self, topic: &str) -> Result<u64, StoreError> {
        Ok(self
            .kv
            .get(Tree::TopicCounts, topic.as_bytes())?
            .map_or(0, |b| decode_count(&b)))
    }

    /// What is remembered about a source.
    pub fn source_state(&self, source_id: &str) -> Result<SourceState, StoreError> {
        Ok(self
            .kv
            .get(Tree::Sources, source_id.as_bytes())?
            .map(|bytes| decode(Tree::Sources, source_id.as_bytes(), &bytes))
            .transpose()?
            .unwrap_or_default())
    }

    /// Records a source's state (after a failed or not-modified fetch).
    pub fn put_source_state(&self, source_id: &str, state: &SourceState) -> Result<(), StoreError> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let record = encode(Tree::Sources, source_id.as_bytes(), state)?;
        self.kv.commit(&[Op::Put(
            Tree::Sources,
            source_id.as_bytes().to_vec(),
            record,
        )])?;
        self.publish_states();
        Ok(())
    }

    /// Every source's state the store holds, by source id.
    pub fn source_states(
        &self,
    ) -> Result<std::collections::BTreeMap<String, SourceState>, StoreError> {
        let mut states = std::collections::BTreeMap::new();
        self.for_each_chunk(Tree::Sources, |rows| {
            for (key, bytes) in rows {
                let state: SourceState = decode(Tree::Sources, key, bytes)?;
                states.insert(String::from_utf8_lossy(key).into_owned(), state);
            }
            Ok(())
        })?;
        Ok(states)
    }

    /// Writes the copy of the sources' states beside the store ([`super::states`]), as they
    /// are committed now. Called by writers of a state under the write lock (or before anyone
    /// else has the store), so copies are written in the order of their commits. A copy that
    /// cannot be made only warns.
    fn publish_states(&self) {
        let Some(file) = &self.states_file else {
            return;
        };
        let written = self.source_states().and_then(|states| {
            let snapshot = super::states::Snapshot {
                pid: std::process::id(),
                written: Utc::now(),
                sources: states
                    .into_iter()
                    .map(|(id, state)| (id, super::states::shown(state)))
                    .collect(),
            };
            super::states::write(file, &snapshot)
                .map_err(|e| super::compact::io_error("write", file, &e))
        });
        if let Err(e) = written {
            tracing::warn!("the copy of the sources' states for `status` is not up to date: {e}");
        }
    }

    pub(super) fn bump(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Makes every commit made so far durable, without waiting for a write in progress (the
    /// search index flushes what it is about to record this way: it may be called while
    /// another thread holds the write lock and waits for the index).
    pub fn flush_committed(&self) -> Result<(), StoreError> {
        self.kv.flush()
    }

    /// Makes every commit so far durable, waiting for a write in progress to finish first.
    pub fn flush(&self) -> Result<(), StoreError> {
        // A batch being written holds this lock: wait for it, so what it writes is flushed too
        // (at shutdown, a poller may be stopped while its write runs on the blocking pool).
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.kv.flush()
    }

    /// Adds the ops that record papers as changed under the next change number (one record
    /// for the batch: one write, and one delete once indexed, rather than one per paper), for
    /// the search index to take in ([`PaperStore::changes_after`]). Returns the change's
    /// number, `None` when no paper changed.
    fn change_ops(&self, keys: &[String], ops: &mut Vec<Op>) -> Result<Option<u64>, StoreError> {
        if keys.is_empty() {
            return Ok(None);
        }
        let number = self.last_change()? + 1;
        ops.push(Op::Put(
            Tree::Changes,
            number.to_be_bytes().to_vec(),
            encode_changed(keys),
        ));
        ops.push(Op::Put(
            Tree::Meta,
            LAST_CHANGE.to_vec(),
            number.to_be_bytes().to_vec(),
        ));
        Ok(Some(number))
    }

    /// The store's size and paper count at its leanest, as a compaction or
    /// [`PaperStore::set_compaction_baseline`] recorded it; `None` for a store that has neither.
    pub fn compaction_baseline(&self) -> Result<Option<super::Baseline>, StoreError> {
        self.kv
            .get(Tree::Meta, super::keys::COMPACTED)?
            .map(|bytes| super::keys::decode(Tree::Meta, super::keys::COMPACTED, &bytes))
            .transpose()
    }

    /// Records `baseline` as what the store's growth is judged against.
    pub fn set_compaction_baseline(&self, baseline: super::Baseline) -> Result<(), StoreError> {
        let record = super::keys::encode(Tree::Meta, super::keys::COMPACTED, &baseline)?;
        self.kv
            .commit(&[Op::Put(Tree::Meta, super::keys::COMPACTED.to_vec(), record)])
    }

    /// Whether the store, holding `papers`, has grown per paper well past its leanest or was
    /// never compacted ([`super::judge`]); records it as the new baseline when it is leaner
    /// now. `None` (keep it as it is) for a store not on disk. Its record unreadable or
    /// unwritable, it only warns: nothing depends on it but the next judgement.
    pub fn outgrown(&self, papers: u64) -> Option<Outgrown> {
        use super::{Baseline, Judgement};
        let now = Baseline {
            bytes: self.kv.disk_bytes()?,
            papers,
        };
        let baseline = match self.compaction_baseline() {
            Ok(baseline) => baseline,
            Err(e) => {
                tracing::warn!(
                    "the store's size at its last compaction is unreadable ({e}); recorded afresh"
                );
                None
            }
        };
        match super::judge(baseline, now) {
            Judgement::Keep => None,
            Judgement::Record => {
                if let Err(e) = self.set_compaction_baseline(now) {
                    tracing::warn!("the store's size could not be recorded: {e}");
                }
                None
            }
            Judgement::Compact => Some(Outgrown {
                per_paper: now.bytes / papers.max(1),
                leanest: baseline
                    .filter(Baseline::is_meaningful)
                    .map(|b| b.bytes / b.papers),
            }),
        }
    }

    /// Rewrites the store in place with only its live records ([`Store::compact`]): readers
    /// go on meanwhile, writers wait. `Ok(None)`: nothing was done.
    pub fn compact(&self) -> Result<Option<super::Compacted>, StoreError> {
        self.kv.compact()
    }

    /// Abandons a compaction under way and refuses new ones: the process is stopping.
    pub fn stop_compacting(&self) {
        self.kv.stop_compacting();
    }

    /// The number of the last change recorded (0: none yet). Change numbers only grow.
    pub fn last_change(&self) -> Result<u64, StoreError> {
        match self.kv.get(Tree::Meta, LAST_CHANGE)? {
            None => Ok(0),
            Some(bytes) => decode_u64(Tree::Meta, LAST_CHANGE, &bytes),
        }
    }

    /// The changes numbered after `after`, in order, whole changes until they name at least
    /// `limit` papers: each change's number with the key of a paper it wrote or removed.
    pub fn changes_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        /// How many change records are read at once (each names a batch's papers).
        const RECORDS: usize = 8;
        let mut out = Vec::new();
        let mut from = after.to_be_bytes().to_vec();
        while out.len() < limit {
            let rows = self
                .kv
                .scan(Tree::Changes, b"", Some(&from), false, RECORDS)?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            from = last.clone();
            for (number, record) in rows {
                let number = decode_u64(Tree::Changes, &number, &number)?;
                out.extend(
                    decode_changed(number, &record)?
                        .into_iter()
                        .map(|key| (number, key)),
                );
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Forgets the changes numbered up to `through`, once the search index holds them.
    pub fn forget_changes_through(&self, through: u64) -> Result<(), StoreError> {
        loop {
            let rows = self.kv.scan(Tree::Changes, b"", None, false, SCAN_CHUNK)?;
            let ops: Vec<Op> = rows
                .into_iter()
                .filter(|(number, _)| number.as_slice() <= through.to_be_bytes().as_slice())
                .map(|(number, _)| Op::Delete(Tree::Changes, number))
                .collect();
            if ops.is_empty() {
                return Ok(());
            }
            let done = ops.len() < SCAN_CHUNK;
            self.kv.commit(&ops)?;
            if done {
                return Ok(());
            }
        }
    }

    /// The ops of planned writes: theirs, the counts their deltas make, and the posting
    /// records their index changes fall in, rewritten. Under the write lock.
    pub(super) fn writes_ops(&self, writes: Writes) -> Result<Vec<Op>, StoreError> {
        let Writes {
            mut ops,
            deltas,
            postings,
        } = writes;
        self.count_ops(&deltas, &mut ops)?;
        postings.into_ops(&*self.kv, &mut ops)?;
        Ok(ops)
    }

    /// Commits planned writes (journalled when there are many: [`super::journal`]), and
    /// tells caches when any were made. Under the write lock.
    pub(super) fn commit_writes(&self, writes: Writes) -> Result<(), StoreError> {
        let ops = self.writes_ops(writes)?;
        if !ops.is_empty() {
            super::journal::commit(&*self.kv, ops)?;
            self.bump();
        }
        Ok(())
    }

    /// Adds the ops that apply per-topic count deltas.
    pub(super) fn count_ops(
        &self,
        deltas: &HashMap<String, i64>,
        ops: &mut Vec<Op>,
    ) -> Result<(), StoreError> {
        for (topic, delta) in deltas {
            if *delta == 0 {
                continue;
            }
            let current = self.topic_count(topic)? as i64;
            let next = (current + delta).max(0) as u64;
            if next == 0 {
                ops.push(Op::Delete(Tree::TopicCounts, topic.as_bytes().to_vec()));
            } else {
                ops.push(Op::Put(
                    Tree::TopicCounts,
                    topic.as_bytes().to_vec(),
                    next.to_be_bytes().to_vec(),
                ));
            }
        }
        Ok(())
    }
}
