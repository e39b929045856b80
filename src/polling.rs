//! How a poll of a source went ([`Outcome`], with a typed [`PollError`]; [`SourceReport`] once
//! recorded), and when to poll it next, as a good citizen: the source's interval, lengthened (never
//! shortened) by the server's `Cache-Control: max-age`; after failures, backed off
//! exponentially up to a cap and pushed back by `Retry-After`; after `410 Gone`, never; and
//! spread by jitter so sources do not fire together. Pure: the time and the jitter come in.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::fetch::{FetchError, FetchMeta, Validators};
use crate::model::PollResult;
use crate::sources::ParseError;

/// The longest a failing source is left alone before the next try.
pub const BACKOFF_CAP: Duration = Duration::from_secs(24 * 3600);
/// The longest a server's `max-age` may stretch the interval.
pub const MAX_AGE_CAP: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest a server's `Retry-After` may push the next try back (a server asking for more is
/// asked again after a week).
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Jitter added to every interval, as a fraction of it (never taken off: polls are never
/// sooner than the interval).
pub const JITTER: f64 = 0.1;

/// Why a poll of a source brought no papers. It stays typed through ingestion and becomes
/// text only when it is stored as the source's last result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The fetch failed (the message names the URL).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The bytes are not what the source's kind reads.
    #[error("{source} (from {url})")]
    Parse {
        /// The URL the bytes came from.
        url: String,
        #[source]
        /// What the adapter found wrong.
        source: ParseError,
    },
    /// The kind's adapter panicked on the bytes (or its task was cancelled): a parser bug on
    /// hostile input costs this poll of this source, nothing else.
    #[error("the {kind} parser failed on this input ({}) (from {url})", if *panicked { "it panicked" } else { "it was cancelled" })]
    Adapter {
        /// The source kind's name.
        kind: &'static str,
        /// The source's URL.
        url: String,
        /// Whether it panicked (else its task was cancelled).
        panicked: bool,
    },
    /// The source answered `410 Gone` before; it is not fetched until its URL changes.
    #[error("gone: {url} answered 410 Gone; not polled until the source's URL changes")]
    StillGone {
        /// The source's URL.
        url: String,
    },
}

impl PollError {
    /// The server's `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PollError::Fetch(FetchError::Status { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }

    /// Whether the source is gone for good (`410 Gone`, now or before).
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            PollError::Fetch(FetchError::Gone { .. }) | PollError::StillGone { .. }
        )
    }
}

/// How one poll of a source went, from the fetch until it is recorded.
#[derive(Debug)]
pub enum Outcome {
    /// `304 Not Modified`.
    NotModified(FetchMeta),
    /// Papers, from a body or from a paged source's pages, with the validators to send next
    /// time.
    Papers {
        /// The papers read, cleaned, with the marks of their entries and how many entries
        /// were left out as stored before, unchanged.
        page: crate::sources::Parsed,
        /// The validators to send next time.
        validators: Validators,
        /// What the server said besides the body.
        meta: FetchMeta,
    },
    /// No papers, and why.
    Failed(PollError),
}

/// What a poll of a source came to, once recorded: as `ingest` prints it and `serve` logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The source's id.
    pub source_id: String,
    /// How the poll went, as stored in the source's state.
    pub result: PollResult,
    /// When to poll it next; `None`: never (it is gone).
    pub next_poll: Option<DateTime<Utc>>,
}

impl std::fmt::Display for SourceReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source_id, self.result)
    }
}

/// When to poll next after `outcome`, or `None` never: after a body or a 304, the interval,
/// stretched by the server's `max-age`; after a failure (the `failures`-th in a row), backed
/// off and pushed back by `Retry-After`; after `410 Gone`, never. `jitter` is a number in
/// `[0, 1)`, different per source.
pub fn next_poll(
    every: Duration,
    outcome: &Outcome,
    failures: u32,
    now: DateTime<Utc>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let base = match outcome {
        Outcome::Failed(error) if error.is_gone() => return None,
        Outcome::NotModified(meta) | Outcome::Papers { meta, .. } => {
            every.max(meta.max_age.unwrap_or(Duration::ZERO).min(MAX_AGE_CAP))
        }
        Outcome::Failed(error) => {
            let doublings = failures.saturating_sub(1).min(20);
            let backoff = every
                .saturating_mul(1 << doublings)
                .min(every.max(BACKOFF_CAP));
            backoff.max(
                error
                    .retry_after()
                    .unwrap_or(Duration::ZERO)
                    .min(RETRY_AFTER_CAP),
            )
        }
    };
    let spread = base.mul_f64(1.0 + JITTER * jitter.clamp(0.0, 1.0));
    let spread = chrono::Duration::from_std(spread).unwrap_or(chrono::Duration::days(365));
    Some(now + spread)
}

/// A jitter in `[0, 1)` that differs per source and per poll, from their names and the time.
pub fn jitter_for(source_id: &str, now: DateTime<Utc>) -> f64 {
    let digest = crate::pipeline::digest::short_hash(format!(
        "{source_id}@{}",
        now.timestamp_nanos_opt().unwrap_or(0)
    ));
    let n = u32::from_str_radix(&digest[..8], 16).unwrap_or(0);
    f64::from(n) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A successful poll whose server sent this `max-age`.
    fn ok(max_age: Option<Duration>) -> Outcome {
        Outcome::NotModified(FetchMeta {
            max_age,
            moved_to: None,
        })
    }

    /// A failed poll, with the server's `Retry-After` in seconds.
    fn failed(retry_after: Option<u64>) -> Outcome {
        Outcome::Failed(PollError::Fetch(FetchError::Status {
            url: "http://x/".into(),
            status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
            retry_after: retry_after.map(Duration::from_secs),
        }))
    }

    fn gone() -> Outcome {
        Outcome::Failed(PollError::Fetch(FetchError::Gone {
            url: "http://x/".into(),
        }))
    }

    fn at(outcome: &Outcome, failures: u32, every: Duration, jitter: f64) -> Option<i64> {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        next_poll(every, outcome, failures, now, jitter).map(|t| (t - now).num_seconds())
    }

    #[test]
    fn an_absurd_retry_after_is_capped_not_a_panic() {
        assert_eq!(
            at(&failed(Some(u64::MAX)), 1, HOUR, 0.0),
            Some(RETRY_AFTER_CAP.as_secs() as i64)
        );
    }

    #[test]
    fn schedule_table() {
        let cases: &[(Outcome, u32, Duration, f64, Option<i64>)] = &[
            (ok(None), 0, HOUR, 0.0, Some(3600)),
            // jitter only ever adds, up to 10%
            (ok(None), 0, HOUR, 0.5, Some(3780)),
            // max-age lengthens, never shortens, and is capped at a week
            (ok(Some(2 * HOUR)), 0, HOUR, 0.0, Some(7200)),
            (ok(Some(HOUR / 2)), 0, HOUR, 0.0, Some(3600)),
            (ok(Some(1000 * HOUR)), 0, HOUR, 0.0, Some(7 * 24 * 3600)),
            // failures double the interval, up to a day
            (failed(None), 1, HOUR, 0.0, Some(3600)),
            (failed(None), 2, HOUR, 0.0, Some(7200)),
            (failed(None), 4, HOUR, 0.0, Some(8 * 3600)),
            (failed(None), 10, HOUR, 0.0, Some(24 * 3600)),
            (failed(None), u32::MAX, HOUR, 0.0, Some(24 * 3600)),
            // a source polled less often than daily backs off from its own interval
            (failed(None), 3, 48 * HOUR, 0.0, Some(48 * 3600)),
            // Retry-After pushes back, never forward
            (failed(Some(7200)), 1, HOUR, 0.0, Some(7200)),
            (failed(Some(60)), 3, HOUR, 0.0, Some(4 * 3600)),
            (gone(), 1, HOUR, 0.0, None),
            (
                Outcome::Failed(PollError::StillGone { url: "x".into() }),
                1,
                HOUR,
                0.0,
                None,
            ),
        ];
        for (outcome, failures, every, jitter, expected) in cases {
            assert_eq!(
                at(outcome, *failures, *every, *jitter),
                *expected,
                "{outcome:?} ({failures} failures) every {every:?}"
            );
        }
    }

    #[test]
    fn jitter_differs_per_source_and_stays_in_range() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        let a = jitter_for("arxiv-cs-lg", now);
        let b = jitter_for("arxiv-cs-cl", now);
        assert_ne!(a, b);
        for j in [a, b] {
            assert!((0.0..1.0).contains(&j));
        }
        assert_eq!(a, jitter_for("arxiv-cs-lg", now));
    }
}
