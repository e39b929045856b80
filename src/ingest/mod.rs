//! The ingest orchestrator: for each source, fetch (IO), parse and normalize (pure, on a
//! blocking thread), then merge, tag and store as one atomic batch. A failing source is
//! recorded in its state and never stops the others.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};

mod harvest;

use crate::config::{Config, Location, SourceConfig};
use crate::fetch::{Fetched, Fetcher, Validators};
use crate::index::{IndexError, SearchIndex};
use crate::live::{Live, Setup};
use crate::model::{EntryMark, PollResult, SourceState};
use crate::pipeline::tag::{topic_changes, TopicChange};
use crate::polling::{self, Outcome, PollError, SourceReport};
use crate::sources::{Parsed, SourceContext};
use crate::store::{BatchCounts, PaperStore, StoreError, TopicRetag};

/// Polls sources into a store.
#[derive(Clone)]
pub struct Ingestor {
    /// The config and tagger now; `serve` replaces them on reload.
    live: Arc<Live>,
    store: Arc<PaperStore>,
    /// The search index, which follows every batch.
    index: Arc<SearchIndex>,
    fetcher: Fetcher,
    /// At most `fetch.concurrency` polls at once, whoever starts them (a pass, or the
    /// background pollers of `serve`).
    slots: Arc<tokio::sync::Semaphore>,
    /// At most one parsed batch per core between its parse and its store. Batches are stored
    /// one at a time, so more would only wait in memory (a 5,000-entry page is tens of
    /// megabytes parsed), while fetches go on up to `fetch.concurrency`.
    parsed: Arc<tokio::sync::Semaphore>,
    /// One re-tagging at a time (at start-up, and after each reload).
    retagging: Arc<tokio::sync::Mutex<()>>,
    /// Told of each harvested page (a progress bar on a terminal); `None`: progress is logged.
    progress: Option<Arc<dyn Progress>>,
    /// Whether each batch's papers wait in the search index for a later commit
    /// ([`SearchIndex::take_in`]) rather than being committed at once.
    deferred_commits: bool,
    /// When the last compaction of `serve` failed: the next waits [`COMPACTION_RETRY`], not
    /// the next poll (each attempt holds every write back for a whole copy).
    compaction_failed: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// How long `serve` waits after a failed compaction before it tries again.
const COMPACTION_RETRY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Follows long harvests as they go, a page at a time: `ingest` on a terminal draws a progress
/// bar per source from it.
pub trait Progress: Send + Sync {
    /// `source` has read `records` records so far, of `total` when the server says.
    fn harvested(&self, source: &str, records: u64, total: Option<u64>);
    /// `source`'s poll is over (finished, failed or stopped).
    fn done(&self, source: &str);
}

/// What [`Ingestor::retag_topics`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retagged {
    /// The store was tagged for the current topics already.
    Nothing,
    /// The store did not know which topics it was tagged for: every paper was tagged again.
    All {
        /// Papers whose topics changed.
        changed: usize,
    },
    /// Each added, edited or removed topic had its papers set again from one index query.
    Topics(Vec<(TopicChange, TopicRetag)>),
}

impl std::fmt::Display for Retagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Retagged::Nothing => write!(f, "topics unchanged"),
            Retagged::All { changed } => {
                write!(f, "re-tagged every paper ({changed} changed topics)")
            }
            Retagged::Topics(topics) => {
                let parts: Vec<String> = topics
                    .iter()
                    .map(|(change, retag)| {
                        let what = if change.fingerprint.is_some() {
                            "set"
                        } else {
                            "removed"
                        };
                        format!("{} {what} (+{} -{})", change.id, retag.added, retag.removed)
                    })
                    .collect();
                write!(f, "re-tagged {}", parts.join(", "))
            }
        }
    }
}

impl Ingestor {
    /// An ingestor over `store` for the sources and topics of `config`, fetching with `fetcher`.
    pub fn new(
        config: Arc<Config>,
        store: Arc<PaperStore>,
        index: Arc<SearchIndex>,
        fetcher: Fetcher,
    ) -> Self {
        let slots = Arc::new(tokio::sync::Semaphore::new(config.fetch.concurrency));
        let trainer: crate::live::Trainer = {
            let (store, index) = (store.clone(), index.clone());
            Arc::new(move |config: &Config| crate::examples::train(config, &store, &index))
        };
        Ingestor {
            live: Arc::new(Live::with_trainer(config, trainer)),
            store,
            index,
            fetcher,
            slots,
            parsed: Arc::new(tokio::sync::Semaphore::new(crate::cores().max(2))),
            retagging: Arc::default(),
            progress: None,
            deferred_commits: false,
            compaction_failed: Arc::default(),
        }
    }

    /// This ingestor, letting each batch's papers wait in the search index until enough have
    /// for a commit ([`SearchIndex::take_in`]), for `paperboy ingest`: nothing searches while
    /// it runs, and it commits everything ([`Ingestor::catch_up_index`]) before it ends.
    #[must_use]
    pub fn deferring_index_commits(mut self) -> Self {
        self.deferred_commits = true;
        self
    }

    /// This ingestor, telling `progress` of every harvested page instead of logging it.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The config and tagger this ingestor works with now, which `serve` shares and replaces.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// Brings the search index up to date with the store (rebuilding it when it never finished
    /// a build), on the blocking pool. Returns how many papers it took in.
    pub async fn catch_up_index(&self) -> Result<usize, IndexError> {
        let store = self.store.clone();
        let index = self.index.clone();
        blocking(move || index.catch_up(&store)).await
    }

    /// Brings the stored papers' topics in line with the current topics. Each topic added,
    /// edited or removed since the store was last tagged has its papers set from one query of
    /// the search index (brought up to date first); a store that does not know what it was
    /// tagged for (new, or from before per-topic fingerprints), or whose index fails, has every
    /// paper tagged again.
    pub async fn retag_topics(&self) -> Result<Retagged, StoreError> {
        let _one = self.retagging.lock().await;
        let setup = self.live.get();
        let now = setup.fingerprints();
        let store = self.store.clone();
        let Some(tagged) = blocking(move || store.tagged_topics()).await? else {
            return self.retag_all(&setup).await;
        };
        let changes = topic_changes(&tagged, &now);
        if changes.is_empty() {
            return Ok(Retagged::Nothing);
        }
        let mut done = Vec::with_capacity(changes.len());
        for change in changes {
            let query = setup
                .config
                .topic(&change.id)
                .filter(|_| change.fingerprint.is_some())
                .map(|t| t.query.clone());
            let store = self.store.clone();
            let index = self.index.clone();
            let topic = change.clone();
            let tagger = setup.tagger.clone();
            let set = blocking(move || {
                let (id, fingerprint) = (&topic.id, topic.fingerprint.as_deref());
                match (&query, tagger.min_score(id)) {
                    (Some(query), Some(_)) => store.set_scored_topic(id, fingerprint, || {
                        // Under the store's write lock: the index sees every paper there is.
                        index.catch_up(&store)?;
                        score_candidates(&store, &index, &tagger, id, query)
                    }),
                    (query, _) => store.set_topic(id, fingerprint, || {
                        index.catch_up(&store)?;
                        match query {
                            Some(query) => index.keys_matching(query),
                            None => Ok(HashSet::new()),
                        }
                    }),
                }
            })
            .await;
            match set {
                Ok(retag) => done.push((change, retag)),
                Err(IndexError::Store(error)) => return Err(error),
                Err(error) => {
                    tracing::warn!(topic = %change.id, %error, "the search index cannot re-tag; re-tagging every paper");
                    return self.retag_all(&setup).await;
                }
            }
        }
        Ok(Retagged::Topics(done))
    }

    /// Trains the topics learned from examples again when some of their examples were
    /// missing and have since arrived (a source fetched them), and scores those topics again.
    /// Returns what re-tagging did, or `None` when nothing had arrived.
    pub async fn retrain_if_examples_arrived(&self) -> Result<Option<Retagged>, StoreError> {
        let setup = self.live.get();
        if setup.trained.missing.is_empty() {
            return Ok(None);
        }
        let (store, config) = (self.store.clone(), setup.config.clone());
        let missing =
            blocking(move || Ok::<_, StoreError>(crate::examples::missing(&config, &store)))
                .await?;
        if missing == setup.trained.missing {
            return Ok(None);
        }
        if let Err(error) = self.catch_up_index().await {
            tracing::warn!(%error, "the search index could not catch up before training");
        }
        let (live, config, seen) = (self.live.clone(), setup.config.clone(), setup.epoch);
        // A reload since `setup` was read has trained its own view: it stands.
        if blocking(move || Ok::<_, StoreError>(live.retrain(config, seen)))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.retag_topics().await.map(Some)
    }

    /// Tags every stored paper again with `setup`'s topics.
    async fn retag_all(&self, setup: &Arc<Setup>) -> Result<Retagged, StoreError> {
        let store = self.store.clone();
        let setup = setup.clone();
        let changed =
            blocking(move || store.retag_all(&setup.tagger, &setup.fingerprints())).await?;
        Ok(Retagged::All { changed })
    }

    /// One pass over every source, a few at a time; reports come in config order. Fails only
    /// when the store does.
    pub async fn ingest_all(&self) -> Result<Vec<SourceReport>, StoreError> {
        let setup = self.live.get();
        let reports: Vec<Result<SourceReport, StoreError>> =
            stream::iter(setup.config.sources.iter())
                .map(|source| self.poll(source))
                .buffered(setup.config.fetch.concurrency)
                .collect()
                .await;
        reports.into_iter().collect()
    }

    /// Fetches, parses and stores one source, recording the outcome in its state.
    pub async fn poll(&self, source: &SourceConfig) -> Result<SourceReport, StoreError> {
        match self.poll_unless(source, std::future::pending()).await? {
            Some(report) => Ok(report),
            None => unreachable!("a poll never told to stop always reports"),
        }
    }

    /// Like [`Ingestor::poll`], unless `stop` completes first: while the source is waiting for
    /// a slot, being fetched or being parsed, `stop` abandons the poll (`None`); once writing
    /// has begun, the write and the source's state are finished first. A paged source stores
    /// each page as it comes ([`harvest`]): the pages stored before `stop` are kept, and the
    /// next poll goes on after them.
    pub async fn poll_unless(
        &self,
        source: &SourceConfig,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Option<SourceReport>, StoreError> {
        let mut stop = std::pin::pin!(stop);
        if let (Location::Http(base), Some(pager), Some(max_results)) =
            (&source.location, source.kind.pager(), source.max_results)
        {
            return self
                .harvest(source, pager, base, max_results, stop.as_mut())
                .await;
        }
        let fetching = async {
            let slot = self.slots.acquire().await.ok();
            (slot, self.fetch_source(source).await)
        };
        let (_slot, poll) = tokio::select! {
            biased;
            () = &mut stop => return Ok(None),
            fetched = fetching => fetched,
        };
        self.record(source, poll?).await.map(Some)
    }

    /// The reading half of a poll: the source's state, then its fetch and parse. Writes
    /// nothing, so it may be abandoned at any await.
    async fn fetch_source(&self, source: &SourceConfig) -> Result<Poll, StoreError> {
        let mut state = self.starting_state(source).await?;
        let now = Utc::now();
        if state.gone {
            let outcome = Outcome::Failed(PollError::StillGone {
                url: source.url.clone(),
            });
            return Ok(Poll {
                state,
                outcome,
                now,
                parsed: None,
            });
        }
        state.last_fetch = Some(now);
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        // (Paged kinds read one page per poll from a file.)
        let (outcome, parsed) = self.fetch_one(source, &validators).await;
        Ok(Poll {
            state,
            outcome,
            now,
            parsed,
        })
    }

    /// The source's state as stored, or a fresh one when its URL changed (the old validators,
    /// redirect, gone mark and harvest belong to another document).
    async fn starting_state(&self, source: &SourceConfig) -> Result<SourceState, StoreError> {
        let state = {
            let store = self.store.clone();
            let id = source.id.clone();
            blocking(move || store.source_state(&id)).await?
        };
        if state.url.as_deref() == Some(source.url.as_str()) {
            return Ok(state);
        }
        Ok(SourceState {
            url: Some(source.url.clone()),
            ..SourceState::default()
        })
    }

    /// The writing half of a poll: stores the papers and the source's new state, and reports.
    async fn record(&self, source: &SourceConfig, poll: Poll) -> Result<SourceReport, StoreError> {
        // The batch's place among the parsed ones is given up when this returns.
        let Poll {
            mut state,
            outcome,
            now,
            parsed: _parsed,
        } = poll;
        if let Outcome::Failed(error @ PollError::StillGone { .. }) = &outcome {
            // Not fetched: nothing changed, nothing to write.
            return Ok(SourceReport {
                source_id: source.id.clone(),
                result: PollResult::Failed {
                    error: error.to_string(),
                },
                next_poll: None,
            });
        }
        let jitter = polling::jitter_for(&source.id, now);
        match &outcome {
            Outcome::NotModified(meta) | Outcome::Papers { meta, .. } => {
                state.failures_in_row = 0;
                if let Some(moved) = &meta.moved_to {
                    state.moved_to = Some(moved.to_string());
                }
            }
            Outcome::Failed(error) => {
                let text = error.to_string();
                let shown = crate::pipeline::redact::in_text(&text, &source.url);
                tracing::warn!(source = %source.id, error = %shown, "fetch failed");
                state.failures_in_row = state.failures_in_row.saturating_add(1);
                state.gone = error.is_gone();
            }
        }
        state.next_poll =
            polling::next_poll(source.every, &outcome, state.failures_in_row, now, jitter);
        let result = match outcome {
            Outcome::NotModified(_) => {
                state.last_result = Some(PollResult::NotModified);
                self.save_state(&source.id, state.clone()).await?;
                PollResult::NotModified
            }
            Outcome::Papers {
                page, validators, ..
            } => {
                state.etag = validators.etag;
                state.last_modified = validators.last_modified;
                let counts = self
                    .store_papers(&source.id, page, state.clone(), BatchCounts::default())
                    .await?;
                PollResult::from(counts)
            }
            Outcome::Failed(error) => {
                let result = PollResult::Failed {
                    error: error.to_string(),
                };
                state.last_result = Some(result.clone());
                self.save_state(&source.id, state.clone()).await?;
                result
            }
        };
        Ok(SourceReport {
            source_id: source.id.clone(),
            result,
            next_poll: state.next_poll,
        })
    }

    /// Stores a page's papers (and the marks of their entries) with the source's state, in
    /// one commit (the state's result counts this page, its known entries as unchanged, added
    /// to `before`), then brings the search index up to date. Returns the counts with this
    /// page added.
    async fn store_papers(
        &self,
        source_id: &str,
        page: Parsed,
        state: SourceState,
        before: BatchCounts,
    ) -> Result<BatchCounts, StoreError> {
        let Parsed {
            papers,
            marks,
            known,
        } = page;
        let before = before
            + BatchCounts {
                unchanged: known,
                ..BatchCounts::default()
            };
        let store = self.store.clone();
        let live = self.live.clone();
        let id = source_id.to_string();
        tracing::debug!(source = %id, papers = papers.len(), "storing papers");
        let index = self.index.clone();
        let deferred = self.deferred_commits;
        blocking(move || {
            // The new papers tagged while the batch before is written (the writer is one
            // thread); checked against the topics of the moment below.
            let ahead = live.get();
            let pretagged = store.pretag(&papers, &ahead.tagger)?;
            // Tagged with the topics now, which a reload waits for.
            let counts = live.hold(|setup| {
                store.apply_batch_pretagged(
                    &id,
                    papers,
                    &marks,
                    &setup.tagger,
                    Some(pretagged),
                    |counts| SourceState {
                        last_result: Some(PollResult::from(before + counts)),
                        ..state
                    },
                    Utc::now(),
                )
            })?;
            // The store is the record: an index that fails now catches up later.
            let taken = if deferred {
                // Durable before the next page is asked for, as a commit of the index would
                // have made it: a harvest killed now resumes after this page.
                store.flush_committed()?;
                index.take_in(&store)
            } else {
                index.catch_up(&store)
            };
            if let Err(error) = taken {
                tracing::warn!(source = %id, %error, "the search index is behind the store");
            }
            Ok(before + counts)
        })
        .await
    }

    /// One request (conditional when validators are known), parsed, with the batch's place
    /// among the parsed ones ([`Ingestor::parsed`]) when it has a body.
    async fn fetch_one(
        &self,
        source: &SourceConfig,
        validators: &Validators,
    ) -> (Outcome, Option<tokio::sync::OwnedSemaphorePermit>) {
        match self.fetcher.fetch(&source.location, validators).await {
            Ok(Fetched::NotModified(meta)) => (Outcome::NotModified(meta), None),
            Ok(Fetched::Body {
                bytes,
                validators,
                meta,
            }) => {
                // The semaphore is never closed.
                let place = self.parsed.clone().acquire_owned().await.ok();
                let outcome = match parse(&self.store, source, &source.url, bytes).await {
                    Ok((page, _)) => Outcome::Papers {
                        page,
                        validators,
                        meta,
                    },
                    Err(error) => Outcome::Failed(error),
                };
                (outcome, place)
            }
            Err(e) => (Outcome::Failed(e.into()), None),
        }
    }

    async fn save_state(&self, source_id: &str, state: SourceState) -> Result<(), StoreError> {
        let store = self.store.clone();
        let id = source_id.to_string();
        blocking(move || store.put_source_state(&id, &state)).await
    }

    /// Makes everything stored so far durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let store = self.store.clone();
        blocking(move || store.flush()).await
    }

    /// What `serve` does after each poll: compacts the store in place when it has outgrown its
    /// leanest size a paper ([`PaperStore::outgrown`]) and `[store] auto_compact` allows;
    /// not judged while the search index, which counts the papers, is behind the store.
    /// Feeds and searches are served meanwhile; the pollers' writes wait for the copy. Logs
    /// what it did; `Ok(None)` when it did nothing.
    pub async fn compact_if_outgrown(&self) -> Result<Option<crate::store::Compacted>, StoreError> {
        if !self.live.get().config.store.auto_compact {
            return Ok(None);
        }
        let failed_at = *self
            .compaction_failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failed_at.is_some_and(|at| at.elapsed() < COMPACTION_RETRY) {
            return Ok(None);
        }
        let (store, index) = (self.store.clone(), self.index.clone());
        let outgrown = blocking(move || {
            // Judged only by a count of the store's papers: while the index catches up
            // (after a start, or with another source's batch under way) it counts fewer, and
            // each paper would seem to take more room than it does.
            Ok(match index.papers_if_caught_up(&store) {
                Ok(Some(papers)) => store.outgrown(papers),
                Ok(None) => {
                    tracing::debug!("the store's size is judged later: the index is behind");
                    None
                }
                Err(e) => {
                    tracing::warn!("the store's size was not judged: {e}");
                    None
                }
            })
        })
        .await?;
        let Some(outgrown) = outgrown else {
            return Ok(None);
        };
        tracing::info!("{outgrown}: compacting");
        let store = self.store.clone();
        let done = blocking(move || store.compact()).await.inspect_err(|e| {
            // A compaction that found the store's lock taken (another command opening the
            // store, such as `status`) never began: the next poll tries again.
            if !matches!(e, StoreError::Locked { .. }) {
                *self
                    .compaction_failed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(std::time::Instant::now());
            }
        })?;
        match done {
            Some(done) if done.replaced => tracing::info!(
                before = done.before,
                after = done.after,
                "store compacted: {} MiB -> {} MiB on disk",
                done.before >> 20,
                done.after >> 20
            ),
            Some(done) => tracing::info!(
                bytes = done.after,
                "store kept as it was: a copy was no smaller"
            ),
            None => {}
        }
        Ok(done)
    }
}

impl From<BatchCounts> for PollResult {
    fn from(counts: BatchCounts) -> Self {
        PollResult::Stored {
            new: counts.new,
            updated: counts.updated,
            unchanged: counts.unchanged,
        }
    }
}

/// A poll read (fetched and parsed, or failed), not yet recorded.
struct Poll {
    /// The source's state as it will be written, before the outcome is applied.
    state: SourceState,
    outcome: Outcome,
    /// When the poll began.
    now: DateTime<Utc>,
    /// The batch's place among the parsed ones, held until it is stored.
    parsed: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Runs a source's adapter on the blocking pool, leaving out the entries `store` has stored
/// as they are written now, and hands back the bytes (a pager reads the next page's address
/// from them).
async fn parse(
    store: &Arc<PaperStore>,
    source: &SourceConfig,
    url: &str,
    bytes: Vec<u8>,
) -> Result<(Parsed, Vec<u8>), PollError> {
    let kind = source.kind;
    let id = source.id.clone();
    let page_url = url.to_string();
    let store = store.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let ctx = SourceContext {
            source_id: &id,
            url: &page_url,
        };
        // A store that cannot say has the entry read again: never a paper missed.
        let known = |mark: &EntryMark| store.is_marked(mark).unwrap_or(false);
        kind.read_unknown(&bytes, &ctx, Utc::now(), &known)
            .map(|page| (page, bytes))
            .map_err(|source| PollError::Parse {
                url: page_url.clone(),
                source,
            })
    })
    .await;
    match parsed {
        Ok(result) => result,
        // A parser bug on hostile bytes costs this fetch of this source, nothing else.
        Err(join) => Err(PollError::Adapter {
            kind: source.kind.name(),
            url: source.url.clone(),
            panicked: join.is_panic(),
        }),
    }
}

/// Runs store work on tokio's blocking pool.
async fn blocking<T: Send + 'static, E: Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

/// The papers that belong to `topic`, learned from examples, with their relevance: the papers
/// its query matches that reach its threshold. With a threshold above 0, only the
/// [`crate::examples::RESCORE_CANDIDATES`] papers the index ranks highest on the profile's words
/// are scored (further down, too little is shared to reach it); with `min_score = 0` every
/// paper the query matches belongs, and each is scored.
fn score_candidates(
    store: &PaperStore,
    index: &SearchIndex,
    tagger: &crate::pipeline::tag::Tagger,
    topic: &str,
    query: &crate::pipeline::query::Query,
) -> Result<HashMap<String, crate::model::Relevance>, IndexError> {
    let Some(min_score) = tagger.min_score(topic) else {
        return Ok(HashMap::new());
    };
    let candidates = if min_score <= 0.0 {
        index.keys_matching(query)?
    } else {
        let words = tagger.profile_words(topic);
        let words: Vec<(&str, f32)> = words.iter().map(|(w, x)| (w.as_str(), *x)).collect();
        let ranked = index.ranked_by_words(
            &words,
            crate::examples::RESCORE_CANDIDATES,
            crate::examples::RESCORE_POSTINGS,
        )?;
        match query {
            // A topic of examples alone need not list every paper.
            crate::pipeline::query::Query::All => ranked,
            query => {
                let matching = index.keys_matching(query)?;
                ranked
                    .into_iter()
                    .filter(|k| matching.contains(k))
                    .collect()
            }
        }
    };
    let mut scores = HashMap::new();
    for key in candidates {
        let Some(paper) = store.get(&key)? else {
            continue;
        };
        // The raw score against the threshold, as batches compare it.
        if let Some(score) = tagger.score(topic, &paper.paper) {
            if score >= min_score {
                scores.insert(key, crate::model::Relevance::new(score));
            }
        }
    }
    Ok(scores)
}
