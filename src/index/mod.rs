//! The search index beside the store: a tantivy index of every stored paper's title, abstract,
//! authors, categories and sources, which answers "which papers does this query match" at any
//! store size. The store stays the store of record; the index follows it:
//!
//! - every batch records the papers it wrote or removed as numbered changes in the store, in
//!   the same commit ([`PaperStore::changes_after`]);
//! - [`SearchIndex::catch_up`] takes those changes in and commits, recording the last change it
//!   holds in the commit itself, then lets the store forget them; after a crash between the two
//!   commits, the next catch-up redoes what was lost;
//! - an index that is missing, from another schema version, or that never finished being
//!   built is rebuilt from the store ([`SearchIndex::rebuild`], also `paperboy reindex`).
//!
//! Queries are compiled from paperboy's own parsed [`Query`] (`compile`), over paperboy's own
//! words (`tokenizer`), so the index and the reference evaluator agree exactly.

mod compile;
mod directory;
mod merges;
mod tokenizer;

use std::collections::HashSet;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, Occur, RangeQuery, TermQuery};
use tantivy::schema::{
    Field as IndexField, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST,
    INDEXED, STORED, STRING,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

use crate::model::StoredPaper;
use crate::pipeline::query::Query;
use crate::pipeline::text::{fold, fold_token};
use crate::store::{PaperStore, StoreError, Written};

/// The layout of the index this paperboy writes; an index of another version is rebuilt.
/// Version 3 stores no date (a hit's date comes from the date column) and compresses what it
/// stores with zstd ([`settings`]).
pub const INDEX_VERSION: u32 = 3;
/// How much memory the index writer may buffer before it writes a segment.
const WRITER_MEMORY: usize = 50 << 20;
/// The most words of a paper a "more like this" query is made of.
pub const SIMILAR_TERMS: usize = 25;
/// The settings of a new index: the stored fields (a hit's key, id and title) compressed with
/// zstd in blocks of [`DOCSTORE_BLOCK`] bytes. On 100,000 papers they take 45 bytes a paper;
/// tantivy's default (lz4, 16 KiB blocks, and the date stored too) took 77. Reading a hit
/// decompresses one block: tens of microseconds.
fn settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(DOCSTORE_LEVEL),
        }),
        docstore_blocksize: DOCSTORE_BLOCK,
        ..IndexSettings::default()
    }
}
/// zstd's level for the stored fields (its default).
const DOCSTORE_LEVEL: i32 = 3;
/// How many bytes of stored fields are compressed together.
const DOCSTORE_BLOCK: usize = 64 << 10;

/// How many changes (or papers, when rebuilding) are read from the store at once, and taken
/// in per commit by [`SearchIndex::catch_up`].
const CATCH_UP_CHUNK: usize = 5000;
/// How many papers [`SearchIndex::take_in`] lets wait before it commits.
const COMMIT_PAPERS: usize = 100_000;

/// Why the index could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// tantivy failed: opening, reading, writing or committing the index.
    #[error("search index at {path}: {source}")]
    Index {
        /// The index's folder.
        path: String,
        /// tantivy's error.
        #[source]
        source: tantivy::TantivyError,
    },
    /// The index folder could not be made or cleared.
    #[error("search index at {path}: {source}")]
    Io {
        /// The index's folder.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store, which the index follows, failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index is being built (by a running `serve`) and has no complete version yet.
    #[error("search index at {path} is still being built; try again in a moment")]
    Building {
        /// The index's folder.
        path: String,
    },
    /// A read-only index was asked to change.
    #[error("search index at {path} is open read-only")]
    ReadOnly {
        /// The index's folder.
        path: String,
    },
    /// The index was asked to change after [`SearchIndex::finish`].
    #[error("search index at {path} has finished writing")]
    Finished {
        /// The index's folder.
        path: String,
    },
}

/// The index's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    key: IndexField,
    display_id: IndexField,
    updated: IndexField,
    title: IndexField,
    abstract_text: IndexField,
    authors: IndexField,
    categories: IndexField,
    sources: IndexField,
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let words = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer::NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            key: builder.add_text_field("key", STRING | STORED | FAST),
            display_id: builder.add_text_field("display_id", STORED),
            updated: builder.add_i64_field("updated", INDEXED | FAST),
            title: builder.add_text_field("title", words.clone() | STORED),
            abstract_text: builder.add_text_field("abstract", words.clone()),
            authors: builder.add_text_field("authors", words),
            categories: builder.add_text_field("categories", STRING),
            sources: builder.add_text_field("sources", STRING),
        };
        (builder.build(), fields)
    }

    /// The index document of a stored paper.
    fn document(&self, stored: &StoredPaper) -> TantivyDocument {
        let paper = &stored.paper;
        let mut doc = TantivyDocument::default();
        doc.add_text(self.key, &stored.key);
        doc.add_text(self.display_id, crate::inspect::display_id(stored));
        doc.add_i64(self.updated, stored.updated().timestamp_millis());
        doc.add_text(self.title, &paper.title);
        doc.add_text(self.abstract_text, &paper.abstract_text);
        for author in &paper.authors {
            doc.add_text(self.authors, &author.name);
        }
        for category in &paper.categories {
            doc.add_text(self.categories, fold_token(category));
        }
        for source in &paper.sources {
            doc.add_text(self.sources, fold(source));
        }
        doc
    }
}

/// A paper a search found, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The paper's key in the store.
    pub key: String,
    /// How listings name it: its arXiv id, else its DOI, else its key.
    pub display_id: String,
    /// The date feeds sort it by.
    pub updated: DateTime<Utc>,
    /// Its title.
    pub title: String,
}

/// Where a page of a query's results ends: the date (milliseconds) and key of its last paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last paper's date, in milliseconds since the epoch.
    pub millis: i64,
    /// The last paper's key.
    pub key: String,
}

/// What the index records in each commit: its layout version and the last store change it
/// holds. An index without it never finished its first build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    version: u32,
    change: u64,
}

/// Whether, and how, an index may be written.
enum Writer {
    /// Opened read-only (`search` while `serve` runs).
    ReadOnly,
    /// The one writer (boxed: a large value beside two empty ones).
    Open(Box<Open>),
    /// [`SearchIndex::finish`] has let the writer go.
    Finished,
}

/// The writer, and what it took in since its last commit.
struct Open {
    writer: IndexWriter,
    /// Changes taken in but not committed ([`SearchIndex::take_in`]): the checkpoint the
    /// next commit records, and how many papers are waiting for it.
    pending: Option<(Checkpoint, usize)>,
}

/// When a catch-up commits what it took in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// Every chunk, and anything taken in before: searches see every stored paper.
    Now,
    /// Once this many papers wait ([`COMMIT_PAPERS`]): for a long ingest that no one
    /// searches meanwhile.
    After(usize),
}

/// How an index's posting lists are read (see [`directory`]).
#[derive(Debug, Clone, Copy)]
enum Postings {
    /// Mapped, as the writer's merges want them: a merge reads every term of a segment in
    /// turn, and a read call per term cost an ingest of three million papers 15 % more CPU
    /// (user 588 s against 513).
    Mapped,
    /// Read into buffers, as searches want them.
    Read,
}

/// The search index: read-only (for `search` while `serve` runs), or with the one writer.
pub struct SearchIndex {
    path: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Writer>,
    /// Bumped after every commit, for caches of what was rendered from the index.
    generation: AtomicU64,
    /// The last change a rebuild's scan of the store may have seen (0: none since opening):
    /// a paper such a change made new may be indexed already, so its catch-up replaces it
    /// like any other.
    scanned_through: AtomicU64,
}

impl SearchIndex {
    /// Opens the index at `path` to read and write, creating it if there is none and
    /// starting afresh if it is of another layout version. Only one process may hold the
    /// writer (the one that holds the store).
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let index = match Self::open_index(path, true, Postings::Mapped)? {
            Some(index) => index,
            None => {
                // Another layout: start afresh; catch_up rebuilds it from the store.
                std::fs::remove_dir_all(path).map_err(|source| io(path, source))?;
                Self::open_index(path, true, Postings::Mapped)?.ok_or_else(|| {
                    IndexError::Index {
                        path: path.display().to_string(),
                        source: tantivy::TantivyError::SchemaError("schema mismatch".into()),
                    }
                })?
            }
        };
        let writer: IndexWriter = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(|source| tantivy_error(path, source))?;
        writer.set_merge_policy(Box::new(merges::BoundedMerges::new(merges::MAX_MERGE_DOCS)));
        // Searches go through an index of their own over the same files, which reads posting
        // lists rather than mapping them; the writer's merges keep them mapped.
        let searching =
            Self::open_index(path, false, Postings::Read)?.ok_or_else(|| IndexError::Index {
                path: path.display().to_string(),
                source: tantivy::TantivyError::SchemaError("schema mismatch".into()),
            })?;
        Self::with(path, searching, Some(writer))
    }

    /// Opens an existing index read-only: any number of readers may, beside the writer.
    pub fn open_read_only(path: &Path) -> Result<Self, IndexError> {
        let index =
            Self::open_index(path, false, Postings::Read)?.ok_or_else(|| IndexError::Index {
                path: path.display().to_string(),
                source: tantivy::TantivyError::SchemaError(format!(
                "written by another version of paperboy (this one writes version {INDEX_VERSION}); \
                 stop serve and run `paperboy reindex`"
            )),
            })?;
        let index = Self::with(path, index, None)?;
        if index.checkpoint()?.is_none() {
            return Err(IndexError::Building {
                path: path.display().to_string(),
            });
        }
        Ok(index)
    }

    /// The index at `path`, or `None` when the one there has another schema.
    fn open_index(
        path: &Path,
        create: bool,
        postings: Postings,
    ) -> Result<Option<Index>, IndexError> {
        if create {
            std::fs::create_dir_all(path).map_err(|source| io(path, source))?;
        }
        let (schema, _) = Fields::schema();
        let failed = |e: tantivy::directory::error::OpenDirectoryError| IndexError::Index {
            path: path.display().to_string(),
            source: e.into(),
        };
        let directory: Box<dyn tantivy::directory::Directory> = match postings {
            Postings::Mapped => Box::new(MmapDirectory::open(path).map_err(failed)?),
            Postings::Read => Box::new(directory::IndexDirectory::open(path).map_err(failed)?),
        };
        let index = if create {
            Index::builder()
                .schema(schema.clone())
                .settings(settings())
                .open_or_create(directory)
        } else {
            Index::open(directory)
        };
        match index {
            Ok(index) if index.schema() == schema => {
                index
                    .tokenizers()
                    .register(tokenizer::NAME, tokenizer::WordsTokenizer);
                Ok(Some(index))
            }
            Ok(_) | Err(tantivy::TantivyError::SchemaError(_)) => Ok(None),
            Err(source) => Err(tantivy_error(path, source)),
        }
    }

    fn with(path: &Path, index: Index, writer: Option<IndexWriter>) -> Result<Self, IndexError> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|source| tantivy_error(path, source))?;
        let (_, fields) = Fields::schema();
        Ok(SearchIndex {
            path: path.to_path_buf(),
            index,
            reader,
            fields,
            writer: Mutex::new(writer.map_or(Writer::ReadOnly, |writer| {
                Writer::Open(Box::new(Open {
                    writer,
                    pending: None,
                }))
            })),
            generation: AtomicU64::new(0),
            scanned_through: AtomicU64::new(0),
        })
    }

    /// The checkpoint of the last commit, if the index ever finished a build of this version.
    fn checkpoint(&self) -> Result<Option<Checkpoint>, IndexError> {
        let metas = self
            .index
            .load_metas()
            .map_err(|source| tantivy_error(&self.path, source))?;
        Ok(metas
            .payload
            .and_then(|p| serde_json::from_str::<Checkpoint>(&p).ok())
            .filter(|c| c.version == INDEX_VERSION))
    }

    /// Takes in every store change the index does not hold yet, a chunk per commit; rebuilds
    /// the index from the store when it never finished a build. Returns how many papers it
    /// (re)indexed.
    pub fn catch_up(&self, store: &PaperStore) -> Result<usize, IndexError> {
        self.with_writer(|open| self.catch_up_locked(store, open, Commit::Now))
    }

    /// [`SearchIndex::catch_up`], committing only once [`COMMIT_PAPERS`] papers wait (a
    /// commit waits for the indexing under way and writes a segment: after every batch of a
    /// long ingest it made many small segments to merge). What waits is not searchable until
    /// the next commit; [`SearchIndex::catch_up`] commits it, and a crash loses nothing (the
    /// store keeps the changes until a commit records them).
    pub fn take_in(&self, store: &PaperStore) -> Result<usize, IndexError> {
        self.with_writer(|open| self.catch_up_locked(store, open, Commit::After(COMMIT_PAPERS)))
    }

    /// Runs `work` with the writer, rolling back what it queued when it fails, so nothing
    /// half-done is committed by the next commit.
    fn with_writer(
        &self,
        work: impl FnOnce(&mut Open) -> Result<usize, IndexError>,
    ) -> Result<usize, IndexError> {
        let mut writer = self.writer();
        let path = || self.path.display().to_string();
        let open = match &mut *writer {
            Writer::Open(open) => open,
            Writer::ReadOnly => return Err(IndexError::ReadOnly { path: path() }),
            Writer::Finished => return Err(IndexError::Finished { path: path() }),
        };
        let result = work(open);
        if result.is_err() {
            // What was taken in since the last commit goes too: the next catch-up takes it
            // in again from the store.
            let _ = open.writer.rollback();
            open.pending = None;
        }
        result
    }

    /// Ends the writing: waits for the merges under way (a process that exits without waiting
    /// drops them, and with them the dropping of replaced papers' documents: an index re-fed
    /// ten versions of 100,000 papers was left at twice its size), then lets the writer go.
    /// For commands that exit when done; later writes fail with [`IndexError::Finished`].
    /// Does nothing on a read-only or already finished index.
    pub fn finish(&self) -> Result<(), IndexError> {
        let taken = {
            let mut writer = self.writer();
            if !matches!(*writer, Writer::Open(_)) {
                return Ok(());
            }
            std::mem::replace(&mut *writer, Writer::Finished)
        };
        if let Writer::Open(open) = taken {
            // Anything taken in and not committed is dropped, and taken in again from the
            // store by the next catch-up.
            open.writer
                .wait_merging_threads()
                .map_err(|source| tantivy_error(&self.path, source))?;
        }
        Ok(())
    }

    fn catch_up_locked(
        &self,
        store: &PaperStore,
        open: &mut Open,
        commit: Commit,
    ) -> Result<usize, IndexError> {
        let committed = match self.checkpoint()? {
            // An index ahead of the store (a store replaced, or one that lost its last
            // writes in a crash) would skip the changes the store numbers again: rebuild.
            Some(checkpoint) if checkpoint.change <= store.last_change()? => checkpoint,
            _ => {
                // What waited for a commit goes with everything else.
                open.pending = None;
                return self.rebuild_locked(store, &mut open.writer);
            }
        };
        // Taken in since the last commit: not again.
        let (mut checkpoint, mut waiting) = open
            .pending
            .take()
            .filter(|(pending, _)| pending.change >= committed.change)
            .unwrap_or((committed, 0));
        let writer = &mut open.writer;
        let mut done = 0;
        loop {
            let changes = store.changes_after(checkpoint.change, CATCH_UP_CHUNK)?;
            let Some(&(last, _)) = changes.last() else {
                break;
            };
            // The papers of the change at hand as its batch wrote them, when the store still
            // has them: decoding them again took 7% of a new paper's ingest.
            // (Change numbers start at 1.)
            let mut written: (u64, Written) = (0, Written::new());
            for (number, key) in &changes {
                if written.0 != *number {
                    written = (*number, store.take_written(*number).unwrap_or_default());
                }
                let kept = written.1.remove(key);
                // A delete is looked up in every segment at the commit: a paper new to the
                // store has nothing to delete (at a million papers, most of a commit's work).
                let new = kept.as_ref().is_some_and(|k| k.new)
                    && *number > self.scanned_through.load(Ordering::Acquire);
                if !new {
                    writer.delete_term(Term::from_field_text(self.fields.key, key));
                }
                let paper = match kept {
                    Some(kept) => Some(kept.paper),
                    None => store.get(key)?,
                };
                if let Some(paper) = paper {
                    writer
                        .add_document(self.fields.document(&paper))
                        .map_err(|source| tantivy_error(&self.path, source))?;
                }
            }
            done += changes.len();
            waiting += changes.len();
            checkpoint.change = last;
            if matches!(commit, Commit::After(due) if waiting < due) {
                continue;
            }
            self.commit_through(store, writer, checkpoint)?;
            waiting = 0;
        }
        if waiting > 0 {
            match commit {
                Commit::Now => self.commit_through(store, writer, checkpoint)?,
                Commit::After(_) => open.pending = Some((checkpoint, waiting)),
            }
        }
        Ok(done)
    }

    /// Commits what the writer took in, recording `checkpoint`, once the store is flushed
    /// (the index must never record a change the store could lose); the store then forgets
    /// the changes the index holds.
    fn commit_through(
        &self,
        store: &PaperStore,
        writer: &mut IndexWriter,
        checkpoint: Checkpoint,
    ) -> Result<(), IndexError> {
        store.flush_committed()?;
        self.commit(writer, checkpoint)?;
        store.forget_changes_through(checkpoint.change)?;
        Ok(())
    }

    /// Rebuilds the index from every paper in the store (`paperboy reindex`). Returns how many
    /// papers it indexed.
    pub fn rebuild(&self, store: &PaperStore) -> Result<usize, IndexError> {
        self.with_writer(|open| {
            open.pending = None;
            self.rebuild_locked(store, &mut open.writer)
        })
    }

    fn rebuild_locked(
        &self,
        store: &PaperStore,
        writer: &mut IndexWriter,
    ) -> Result<usize, IndexError> {
        // Changes after this point are taken in by the next catch-up; indexing a paper twice
        // replaces it, so a batch written during the scan is never lost.
        let through = store.last_change()?;
        writer
            .delete_all_documents()
            .map_err(|source| tantivy_error(&self.path, source))?;
        let mut count = 0;
        let mut failed = None;
        store.for_each_paper(|paper| {
            if failed.is_some() {
                return;
            }
            match writer.add_document(self.fields.document(&paper)) {
                Ok(_) => count += 1,
                Err(e) => failed = Some(e),
            }
        })?;
        if let Some(source) = failed {
            return Err(tantivy_error(&self.path, source));
        }
        // A batch being applied writes its papers before the change number that names it:
        // the scan may have seen some of the change after the last one recorded (only one
        // batch writes at a time).
        self.scanned_through
            .fetch_max(store.last_change()? + 1, Ordering::AcqRel);
        let checkpoint = Checkpoint {
            version: INDEX_VERSION,
            change: through,
        };
        store.flush_committed()?;
        self.commit(writer, checkpoint)?;
        store.forget_changes_through(through)?;
        Ok(count)
    }

    fn commit(&self, writer: &mut IndexWriter, checkpoint: Checkpoint) -> Result<(), IndexError> {
        // The store is flushed; the index is not yet committed.
        crash_point("index-commit");
        let payload =
            serde_json::to_string(&checkpoint).expect("a checkpoint of two numbers serializes");
        let mut prepared = writer
            .prepare_commit()
            .map_err(|source| tantivy_error(&self.path, source))?;
        prepared.set_payload(&payload);
        prepared
            .commit()
            .map_err(|source| tantivy_error(&self.path, source))?;
        self.reader
            .reload()
            .map_err(|source| tantivy_error(&self.path, source))?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// A number that changes whenever a commit may have changed what a query returns.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sees the latest commit (another process's, for a read-only index).
    pub fn refresh(&self) -> Result<(), IndexError> {
        self.reader
            .reload()
            .map_err(|source| tantivy_error(&self.path, source))
    }

    /// The papers `query` matches, newest first (at most `limit`), and how many match in all.
    /// Papers of the same date come in the order topic feeds give them (by key, descending).
    pub fn search(&self, query: &Query, limit: usize) -> Result<(Vec<Hit>, usize), IndexError> {
        let compiled = compile::compile(query, &self.fields)
            .map_err(|source| tantivy_error(&self.path, source))?;
        let searcher = self.reader.searcher();
        let total = searcher
            .search(&compiled, &Count)
            .map_err(|source| tantivy_error(&self.path, source))?;
        if limit == 0 {
            return Ok((Vec::new(), total));
        }
        let (hits, _) = self.newest(&searcher, compiled, limit)?;
        Ok((hits, total))
    }

    /// The keys of every paper `query` matches, read from the key column (no stored document
    /// is opened): how a changed topic finds its papers.
    pub fn keys_matching(&self, query: &Query) -> Result<HashSet<String>, IndexError> {
        let fail = |source| tantivy_error(&self.path, source);
        let compiled = compile::compile(query, &self.fields).map_err(fail)?;
        let searcher = self.reader.searcher();
        let matching = searcher.search(&compiled, &DocSetCollector).map_err(fail)?;
        self.keys_of(&searcher, matching.into_iter())
    }

    /// The keys of these documents, read from the key column (no stored document is opened).
    fn keys_of(
        &self,
        searcher: &tantivy::Searcher,
        addresses: impl Iterator<Item = tantivy::DocAddress>,
    ) -> Result<HashSet<String>, IndexError> {
        let fail = |source| tantivy_error(&self.path, source);
        let mut docs: std::collections::HashMap<u32, Vec<u32>> = Default::default();
        for address in addresses {
            docs.entry(address.segment_ord)
                .or_default()
                .push(address.doc_id);
        }
        let mut keys = HashSet::with_capacity(docs.values().map(Vec::len).sum());
        for (segment, docs) in docs {
            // The keys' ordinals in the segment's key column, sorted: the column's dictionary
            // then reads each of its blocks once, rather than once per paper.
            let column = self.key_column(searcher, segment)?;
            let mut ords: Vec<u64> = docs
                .iter()
                .filter_map(|&doc| column.term_ords(doc).next())
                .collect();
            ords.sort_unstable();
            ords.dedup();
            column
                .dictionary()
                .sorted_ords_to_term_cb(ords.into_iter(), |bytes| {
                    keys.insert(String::from_utf8_lossy(bytes).into_owned());
                    Ok(())
                })
                .map_err(|e| fail(e.into()))?;
        }
        Ok(keys)
    }

    /// The keys of about `n` papers spread evenly over the index (every paper when it holds
    /// fewer): the sample topics learned from examples take their word statistics from.
    pub fn sample_keys(&self, n: usize) -> Result<HashSet<String>, IndexError> {
        let searcher = self.reader.searcher();
        let total = searcher.num_docs().max(1);
        let step = (total / n.max(1) as u64).max(1);
        let mut addresses = Vec::new();
        let mut seen = 0u64;
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                if seen.is_multiple_of(step) {
                    addresses.push(tantivy::DocAddress::new(ord as u32, doc));
                }
                seen += 1;
            }
        }
        self.keys_of(&searcher, addresses.into_iter())
    }

    /// The keys of the (at most `limit`) papers whose titles and abstracts weigh highest on
    /// these words, each word's BM25 score scaled by its weight: the candidates of a topic
    /// learned from examples when it is scored again.
    ///
    /// The words are taken heaviest first while the papers their lists hold (a word's count
    /// in the title and in the abstract, added up) come to at most `max_postings`; a word
    /// whose lists would go past it is left out whole, and lighter, rarer ones may still fit.
    /// Searches read each list into a buffer of its own (see [`directory`]), so this bounds
    /// what the ranking holds at any store size, whatever the profile: in a store of real
    /// arXiv papers a word such as "model" is in a third of them.
    pub fn ranked_by_words(
        &self,
        words: &[(&str, f32)],
        limit: usize,
        max_postings: u64,
    ) -> Result<HashSet<String>, IndexError> {
        if limit == 0 {
            return Ok(HashSet::new());
        }
        let fail = |source| tantivy_error(&self.path, source);
        let searcher = self.reader.searcher();
        let mut heaviest_first = words.to_vec();
        heaviest_first.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut left = max_postings;
        let mut clauses: Vec<(Occur, Box<dyn tantivy::query::Query>)> = Vec::new();
        for (word, weight) in heaviest_first {
            let mut terms = Vec::new();
            let mut postings = 0;
            for field in [self.fields.title, self.fields.abstract_text] {
                let term = Term::from_field_text(field, word);
                let count = searcher.doc_freq(&term).map_err(fail)?;
                if count > 0 {
                    postings += count;
                    terms.push(term);
                }
            }
            if terms.is_empty() || postings > left {
                continue;
            }
            left -= postings;
            for term in terms {
                let term = TermQuery::new(term, IndexRecordOption::WithFreqs);
                clauses.push((
                    Occur::Should,
                    Box::new(tantivy::query::BoostQuery::new(Box::new(term), weight)),
                ));
            }
        }
        tracing::debug!(
            lists = clauses.len(),
            postings = max_postings - left,
            "ranking papers on a profile's words"
        );
        if clauses.is_empty() {
            return Ok(HashSet::new());
        }
        let found = searcher
            .search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit))
            .map_err(fail)?;
        self.keys_of(&searcher, found.into_iter().map(|(_, address)| address))
    }

    /// One page of the papers `query` matches, newest first: up to `limit` papers that come
    /// after `before` (from the start when `None`), and the cursor of the next page when there
    /// are more. Papers of the same date are ordered by key, descending, so pages never skip
    /// or repeat a paper, however many share a date.
    pub fn page(
        &self,
        query: &Query,
        before: Option<&Cursor>,
        limit: usize,
    ) -> Result<(Vec<Hit>, Option<Cursor>), IndexError> {
        let mut compiled = compile::compile(query, &self.fields)
            .map_err(|source| tantivy_error(&self.path, source))?;
        if let Some(cursor) = before {
            let key = |bound| RangeQuery::new(Bound::Unbounded, bound);
            let same_date_earlier_key = BooleanQuery::new(vec![
                (Occur::Must, self.on_date(cursor.millis)),
                (
                    Occur::Must,
                    Box::new(key(Bound::Excluded(Term::from_field_text(
                        self.fields.key,
                        &cursor.key,
                    )))) as Box<dyn tantivy::query::Query>,
                ),
            ]);
            let older = RangeQuery::new(
                Bound::Unbounded,
                Bound::Excluded(Term::from_field_i64(self.fields.updated, cursor.millis)),
            );
            compiled = Box::new(BooleanQuery::new(vec![
                (Occur::Must, compiled),
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(vec![
                        (
                            Occur::Should,
                            Box::new(older) as Box<dyn tantivy::query::Query>,
                        ),
                        (Occur::Should, Box::new(same_date_earlier_key)),
                    ])),
                ),
            ]));
        }
        let searcher = self.reader.searcher();
        self.newest(&searcher, compiled, limit)
    }

    /// The newest `limit` papers `query` matches, in feed order, and the cursor after them
    /// when more match. The date at the edge of the page may be shared by papers beyond it
    /// (thousands, for a source that dates by day): the keys of every paper of that date are
    /// read from the key column, so that the order by key decides which are in, and only those
    /// papers' stored fields are read.
    fn newest(
        &self,
        searcher: &tantivy::Searcher,
        query: Box<dyn tantivy::query::Query>,
        limit: usize,
    ) -> Result<(Vec<Hit>, Option<Cursor>), IndexError> {
        let fail = |source| tantivy_error(&self.path, source);
        let newest = TopDocs::with_limit(limit.max(1) + 1)
            .order_by_fast_field::<i64>("updated", Order::Desc);
        let top = searcher.search(&query, &newest).map_err(fail)?;
        let Some(&(edge, _)) = top.last() else {
            return Ok((Vec::new(), None));
        };
        let mut hits = Vec::with_capacity(top.len());
        for (millis, address) in top {
            if millis > edge {
                hits.push(self.hit(searcher, address, millis)?);
            }
        }
        let edge_query = BooleanQuery::new(vec![
            (Occur::Must, query),
            (Occur::Must, self.on_date(edge)),
        ]);
        let mut on_edge = self.keyed(
            searcher,
            searcher
                .search(&edge_query, &DocSetCollector)
                .map_err(fail)?,
        )?;
        // Feed order within a date: by key, descending. One beyond the page tells if there
        // are more.
        on_edge.sort_by(|a, b| b.0.cmp(&a.0));
        on_edge.truncate((limit + 1).saturating_sub(hits.len()));
        for (_, address) in on_edge {
            hits.push(self.hit(searcher, address, edge)?);
        }
        hits.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| b.key.cmp(&a.key)));
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next = more.then(|| hits.last()).flatten().map(|last| Cursor {
            millis: last.updated.timestamp_millis(),
            key: last.key.clone(),
        });
        Ok((hits, next))
    }

    /// Each document's key, read from the key column, with its address.
    fn keyed(
        &self,
        searcher: &tantivy::Searcher,
        addresses: impl IntoIterator<Item = tantivy::DocAddress>,
    ) -> Result<Vec<(String, tantivy::DocAddress)>, IndexError> {
        let fail = |source| tantivy_error(&self.path, source);
        let mut columns = std::collections::HashMap::new();
        let mut keyed = Vec::new();
        for address in addresses {
            let column = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(column) => column.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(self.key_column(searcher, address.segment_ord)?)
                }
            };
            let mut key = String::new();
            if let Some(ord) = column.term_ords(address.doc_id).next() {
                column
                    .ord_to_str(ord, &mut key)
                    .map_err(|e| fail(e.into()))?;
            }
            keyed.push((key, address));
        }
        Ok(keyed)
    }

    /// The key column of one segment.
    fn key_column(
        &self,
        searcher: &tantivy::Searcher,
        segment: u32,
    ) -> Result<tantivy::columnar::StrColumn, IndexError> {
        let fail = |source| tantivy_error(&self.path, source);
        searcher
            .segment_reader(segment)
            .fast_fields()
            .str("key")
            .map_err(fail)?
            .ok_or_else(|| {
                fail(tantivy::TantivyError::SchemaError(
                    "the key field has no column".into(),
                ))
            })
    }

    /// Papers whose date is exactly `millis`.
    fn on_date(&self, millis: i64) -> Box<dyn tantivy::query::Query> {
        Box::new(TermQuery::new(
            Term::from_field_i64(self.fields.updated, millis),
            IndexRecordOption::Basic,
        ))
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        address: tantivy::DocAddress,
        millis: i64,
    ) -> Result<Hit, IndexError> {
        let doc: TantivyDocument = searcher
            .doc(address)
            .map_err(|source| tantivy_error(&self.path, source))?;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Ok(Hit {
            key: text(self.fields.key),
            display_id: text(self.fields.display_id),
            updated: DateTime::from_timestamp_millis(millis).unwrap_or_default(),
            title: text(self.fields.title),
        })
    }

    /// The stored papers most like `paper` by their words (title and abstract), best first, at
    /// most `limit`, each with its relevance in (0, 1]: its score over the score `paper` would
    /// have against itself. `paper` itself is left out. Only the words count: categories,
    /// authors and sources do not, so an evaluation by category is fair
    /// (`benches/similar_quality.rs`).
    ///
    /// The method is tantivy's "more like this": the paper's most distinctive words (by tf-idf
    /// over the index, at most [`SIMILAR_TERMS`]) as one BM25 query.
    pub fn similar(
        &self,
        paper: &StoredPaper,
        limit: usize,
    ) -> Result<Vec<(Hit, f32)>, IndexError> {
        let fail = |source| tantivy_error(&self.path, source);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let text = |value: &str| vec![tantivy::schema::OwnedValue::Str(value.to_string())];
        let like = tantivy::query::MoreLikeThisQuery::builder()
            .with_min_doc_frequency(2)
            .with_min_term_frequency(1)
            .with_min_word_length(3)
            .with_max_query_terms(SIMILAR_TERMS)
            .with_document_fields(vec![
                (self.fields.title, text(&paper.paper.title)),
                (self.fields.abstract_text, text(&paper.paper.abstract_text)),
            ]);
        let searcher = self.reader.searcher();
        // One more than asked: the paper itself is usually among them.
        let found = searcher
            .search(&like, &TopDocs::with_limit(limit.saturating_add(1)))
            .map_err(fail)?;
        let mut hits = Vec::with_capacity(found.len());
        let mut own_score = None;
        for (score, address) in found {
            let millis = self.updated_of(&searcher, address)?;
            let hit = self.hit(&searcher, address, millis)?;
            if hit.key == paper.key {
                own_score = Some(score);
            } else {
                hits.push((hit, score));
            }
        }
        hits.truncate(limit);
        // A paper not in the index yet: relative to the best match.
        let top = own_score
            .or_else(|| hits.first().map(|(_, score)| *score))
            .unwrap_or(1.0)
            .max(f32::MIN_POSITIVE);
        Ok(hits
            .into_iter()
            .map(|(hit, score)| (hit, (score / top).clamp(0.0, 1.0)))
            .collect())
    }

    /// A document's date, from its fast field.
    fn updated_of(
        &self,
        searcher: &tantivy::Searcher,
        address: tantivy::DocAddress,
    ) -> Result<i64, IndexError> {
        let column = searcher
            .segment_reader(address.segment_ord)
            .fast_fields()
            .i64("updated")
            .map_err(|source| tantivy_error(&self.path, source))?;
        Ok(column.first(address.doc_id).unwrap_or_default())
    }

    /// How many papers the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// How many papers the store holds, counted by the index when it holds every change of
    /// `store`, committed and searchable; `None` while it is behind (catching up after a
    /// start, or a batch not yet committed), when its count is not the store's.
    pub fn papers_if_caught_up(&self, store: &PaperStore) -> Result<Option<u64>, IndexError> {
        match self.checkpoint()? {
            Some(checkpoint) if checkpoint.change == store.last_change()? => {
                self.refresh()?;
                Ok(Some(self.len()))
            }
            _ => Ok(None),
        }
    }

    /// Whether the index holds no paper.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The environment variable naming a point where the process kills itself, for the crash
/// tests.
pub const CRASH_AT: &str = "PAPERBOY_CRASH_AT";

/// Fault injection for the crash tests: when `PAPERBOY_CRASH_AT` names this point, the
/// process sends itself SIGKILL (as `kill -9` does: no destructor runs, nothing more is
/// written). Points: `index-commit`, after the store's flush and before the index's commit.
fn crash_point(name: &str) {
    if std::env::var_os(CRASH_AT).is_some_and(|at| at == name) {
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(std::process::id().to_string())
            .status();
        // SIGKILL is delivered before `kill` returns; without it, end as abruptly.
        std::process::abort();
    }
}

/// Where the index of the store at `store_path` lives: beside it, `<store>.index`.
pub fn path_for(store_path: &Path) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(".index");
    PathBuf::from(name)
}

fn tantivy_error(path: &Path, source: tantivy::TantivyError) -> IndexError {
    IndexError::Index {
        path: path.display().to_string(),
        source,
    }
}

fn io(path: &Path, source: std::io::Error) -> IndexError {
    IndexError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests;
