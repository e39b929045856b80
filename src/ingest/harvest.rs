//! Harvesting a paged source (the arXiv API by offset, OAI-PMH by resumption token) a page at
//! a time, however long the list: each page's papers are stored with the source's state in
//! one commit, and the state says where the harvest goes on (the next page's URL), how far it
//! is (records so far, of how many) and the server's date on its first page. So:
//!
//! - a harvest cut short, by a failure, a shutdown or `kill -9`, goes on at the next poll from
//!   the page after the last one stored (for kinds whose next-page URLs stay valid from one
//!   poll to the next: OAI-PMH), never from the beginning, and stores no paper twice;
//! - a next-page URL the server no longer accepts (an expired token) starts the harvest again;
//! - a complete harvest leaves its date, and the next asks only for records changed since
//!   (OAI-PMH's `from=`);
//! - a `429` or `503` with a short `Retry-After` mid-harvest is waited out and the page asked
//!   again (arXiv answers so under load); the gap to the host holds across pages and restarts.
//!
//! Memory holds one page at a time, so `max_results` can be a whole archive.

use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{parse, Ingestor, Poll};
use crate::config::{Location, SourceConfig};
use crate::fetch::{FetchError, Fetched, Validators};
use crate::model::{Harvest, PollResult};
use crate::polling::{self, Outcome, PollError, SourceReport};
use crate::sources::{Pager, Parsed};
use crate::store::{BatchCounts, StoreError};

/// The longest `Retry-After` waited out mid-harvest; a longer one ends the poll, and the next
/// goes on from the same page.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// How many `Retry-After`s in a row one page may get before the poll gives up.
const MAX_WAITS: u32 = 5;
/// How often a long harvest logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl Ingestor {
    /// One poll of a paged source: pages from where the harvest stands, each stored as it
    /// comes, until the list ends or `max_results` records are read. `None` when `stop`
    /// completed first (the pages stored by then are kept).
    pub(super) async fn harvest(
        &self,
        source: &SourceConfig,
        pager: &dyn Pager,
        base: &url::Url,
        max_results: usize,
        stop: Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> Result<Option<SourceReport>, StoreError> {
        let polled = self
            .harvest_pages(source, pager, base, max_results, stop)
            .await;
        if let Some(progress) = &self.progress {
            progress.done(&source.id);
        }
        polled
    }

    async fn harvest_pages(
        &self,
        source: &SourceConfig,
        pager: &dyn Pager,
        base: &url::Url,
        max_results: usize,
        mut stop: Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> Result<Option<SourceReport>, StoreError> {
        let slot = tokio::select! {
            biased;
            () = &mut stop => return Ok(None),
            slot = self.slots.acquire() => slot.ok(),
        };
        let _slot = slot;
        let mut state = self.starting_state(source).await?;
        let now = Utc::now();
        if state.gone {
            let gone = PollError::StillGone {
                url: source.url.clone(),
            };
            return self.failed(source, state, gone, now).await;
        }
        state.last_fetch = Some(now);
        let mut harvest = state.harvest.take().unwrap_or_default();
        let resumed = harvest
            .next
            .as_deref()
            .filter(|_| pager.resumable())
            .and_then(|next| url::Url::parse(next).ok());
        let mut url = if let Some(next) = resumed.clone() {
            tracing::info!(source = %source.id, records = harvest.records, "resuming the harvest");
            next
        } else {
            harvest = Harvest {
                since: harvest.since,
                last_page: harvest.last_page,
                ..Harvest::default()
            };
            pager.first_page(base, max_results, harvest.since.as_deref())
        };
        // The gap to the host holds across restarts, not only within a process.
        if let Some(wait) = self.gap_left(&url, harvest.last_page) {
            tokio::select! {
                biased;
                () = &mut stop => return Ok(None),
                () = tokio::time::sleep(wait) => {}
            }
        }
        let mut read = 0;
        let mut pages = 0;
        let mut counts = BatchCounts::default();
        let mut waits = 0;
        let mut failure = None;
        let mut logged = Instant::now();
        loop {
            let location = Location::Http(url.clone());
            let no_validators = Validators::default();
            let fetched = tokio::select! {
                biased;
                () = &mut stop => return Ok(None),
                fetched = self.fetcher.fetch(&location, &no_validators) => fetched,
            };
            harvest.last_page = Some(Utc::now());
            let bytes = match fetched {
                Ok(Fetched::Body { bytes, .. }) => bytes,
                Ok(Fetched::NotModified(_)) => Vec::new(),
                Err(FetchError::Status {
                    retry_after: Some(wait),
                    status,
                    ..
                }) if wait <= MAX_WAIT && waits < MAX_WAITS => {
                    waits += 1;
                    tracing::warn!(source = %source.id, %status, wait_s = wait.as_secs(), "the server asks to wait; asking for the same page again after");
                    tokio::select! {
                        biased;
                        () = &mut stop => return Ok(None),
                        () = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
                Err(error) => {
                    failure = Some(PollError::from(error));
                    break;
                }
            };
            waits = 0;
            let page = if bytes.is_empty() {
                Ok((Parsed::default(), bytes))
            } else {
                tokio::select! {
                    biased;
                    () = &mut stop => return Ok(None),
                    page = parse(&self.store, source, url.as_str(), bytes) => page,
                }
            };
            let (page, bytes) = match page {
                Ok(page) => page,
                Err(error) => {
                    if pages == 0 && resumed.is_some() {
                        // The server refuses where the harvest stood (an expired token): the
                        // next poll starts it again.
                        tracing::warn!(source = %source.id, %error, "cannot go on from the stored page; the next poll starts the harvest again");
                        harvest.next = None;
                    }
                    failure = Some(error);
                    break;
                }
            };
            // Entries left out as known are read all the same: the pager counts them.
            let got = page.papers.len() + page.known;
            read += got;
            let info = pager.read_page(base, &bytes, got, read, max_results);
            if harvest.stamp.is_none() {
                harvest.stamp = info.stamp;
            }
            harvest.total = info.total.or(harvest.total);
            harvest.records += got as u64;
            harvest.next = info
                .next
                .as_ref()
                .filter(|_| pager.resumable())
                .map(url::Url::to_string);
            if info.next.is_none() {
                // Complete: the next harvest asks for what changed since this one began.
                harvest.since = harvest.stamp.take().or(harvest.since.take());
            }
            state.harvest = Some(harvest.clone());
            state.failures_in_row = 0;
            counts = self
                .store_papers(&source.id, page, state.clone(), counts)
                .await?;
            pages += 1;
            if let Some(progress) = &self.progress {
                progress.harvested(&source.id, harvest.records, harvest.total);
            } else if logged.elapsed() >= PROGRESS_EVERY {
                logged = Instant::now();
                tracing::info!(source = %source.id, records = harvest.records, total = harvest.total, "harvesting");
            }
            match info.next {
                Some(next) if read < max_results => url = next,
                _ => break,
            }
        }
        state.harvest = Some(harvest);
        let failure = match (failure, pages) {
            // Nothing stored: an ordinary failed poll.
            (Some(error), 0) => return self.failed(source, state, error, now).await,
            (failure, _) => failure,
        };
        let jitter = polling::jitter_for(&source.id, now);
        let after = match failure {
            Some(error) => {
                tracing::warn!(source = %source.id, %error, records = read, "stopped harvesting; what was read is stored, the next poll goes on");
                Outcome::Failed(error)
            }
            None => Outcome::NotModified(crate::fetch::FetchMeta::default()),
        };
        let failures = u32::from(matches!(after, Outcome::Failed(_)));
        state.next_poll = polling::next_poll(source.every, &after, failures, now, jitter);
        let result = PollResult::from(counts);
        state.last_result = Some(result.clone());
        self.save_state(&source.id, state.clone()).await?;
        Ok(Some(SourceReport {
            source_id: source.id.clone(),
            result,
            next_poll: state.next_poll,
        }))
    }

    /// Records a poll that stored nothing, as any failed poll is recorded.
    async fn failed(
        &self,
        source: &SourceConfig,
        state: crate::model::SourceState,
        error: PollError,
        now: chrono::DateTime<Utc>,
    ) -> Result<Option<SourceReport>, StoreError> {
        let outcome = Outcome::Failed(error);
        self.record(
            source,
            Poll {
                state,
                outcome,
                now,
                parsed: None,
            },
        )
        .await
        .map(Some)
    }

    /// How long to wait before asking `url`'s host again, given when the last page was asked
    /// for (by this process or an earlier one).
    fn gap_left(&self, url: &url::Url, last: Option<chrono::DateTime<Utc>>) -> Option<Duration> {
        let since = (Utc::now() - last?).to_std().unwrap_or_default();
        let gap = self.fetcher.host_gap(url.host_str()?)?;
        gap.checked_sub(since).filter(|left| !left.is_zero())
    }
}
