//! When to poll a source next, as a good citizen: the source's interval, lengthened (never
//! shortened) by the server's `Cache-Control: max-age`; after failures, backed off
//! exponentially up to a cap and pushed back by `Retry-After`; after `410 Gone`, never; and
//! spread by jitter so sources do not fire together. Pure: the time and the jitter come in.

use std::time::Duration;

use chrono::{DateTime, Utc};

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

/// How a poll ended, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// A body or a 304, with the server's `max-age` if it gave one.
    Ok { max_age: Option<Duration> },
    /// A failure, the `failures`-th in a row, with the server's `Retry-After` if it gave one.
    Failed {
        failures: u32,
        retry_after: Option<Duration>,
    },
    /// `410 Gone`: no more polls until the source's URL changes.
    Gone,
}

/// When to poll next, or `None` never. `jitter` is a number in `[0, 1)`, different per source.
pub fn next_poll(
    every: Duration,
    polled: Polled,
    now: DateTime<Utc>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let base = match polled {
        Polled::Gone => return None,
        Polled::Ok { max_age } => every.max(max_age.unwrap_or(Duration::ZERO).min(MAX_AGE_CAP)),
        Polled::Failed {
            failures,
            retry_after,
        } => {
            let doublings = failures.saturating_sub(1).min(20);
            let backoff = every
                .saturating_mul(1 << doublings)
                .min(every.max(BACKOFF_CAP));
            backoff.max(retry_after.unwrap_or(Duration::ZERO).min(RETRY_AFTER_CAP))
        }
    };
    let spread = base.mul_f64(1.0 + JITTER * jitter.clamp(0.0, 1.0));
    let spread = chrono::Duration::from_std(spread).unwrap_or(chrono::Duration::days(365));
    Some(now + spread)
}

/// A jitter in `[0, 1)` that differs per source and per poll, from their names and the time.
pub fn jitter_for(source_id: &str, now: DateTime<Utc>) -> f64 {
    let digest = crate::pipeline::identity::short_hash(format!(
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

    #[test]
    fn an_absurd_retry_after_is_capped_not_a_panic() {
        let failed = Polled::Failed {
            failures: 1,
            retry_after: Some(Duration::from_secs(u64::MAX)),
        };
        assert_eq!(
            at(failed, HOUR, 0.0),
            Some(RETRY_AFTER_CAP.as_secs() as i64)
        );
    }

    fn at(polled: Polled, every: Duration, jitter: f64) -> Option<i64> {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        next_poll(every, polled, now, jitter).map(|t| (t - now).num_seconds())
    }

    #[test]
    fn schedule_table() {
        let ok = Polled::Ok { max_age: None };
        let failed = |failures: u32, retry: Option<u64>| Polled::Failed {
            failures,
            retry_after: retry.map(Duration::from_secs),
        };
        let cases: &[(Polled, Duration, f64, Option<i64>)] = &[
            (ok, HOUR, 0.0, Some(3600)),
            // jitter only ever adds, up to 10%
            (ok, HOUR, 0.5, Some(3780)),
            // max-age lengthens, never shortens, and is capped at a week
            (
                Polled::Ok {
                    max_age: Some(2 * HOUR),
                },
                HOUR,
                0.0,
                Some(7200),
            ),
            (
                Polled::Ok {
                    max_age: Some(HOUR / 2),
                },
                HOUR,
                0.0,
                Some(3600),
            ),
            (
                Polled::Ok {
                    max_age: Some(1000 * HOUR),
                },
                HOUR,
                0.0,
                Some(7 * 24 * 3600),
            ),
            // failures double the interval, up to a day
            (failed(1, None), HOUR, 0.0, Some(3600)),
            (failed(2, None), HOUR, 0.0, Some(7200)),
            (failed(4, None), HOUR, 0.0, Some(8 * 3600)),
            (failed(10, None), HOUR, 0.0, Some(24 * 3600)),
            (failed(u32::MAX, None), HOUR, 0.0, Some(24 * 3600)),
            // a source polled less often than daily backs off from its own interval
            (failed(3, None), 48 * HOUR, 0.0, Some(48 * 3600)),
            // Retry-After pushes back, never forward
            (failed(1, Some(7200)), HOUR, 0.0, Some(7200)),
            (failed(3, Some(60)), HOUR, 0.0, Some(4 * 3600)),
            (Polled::Gone, HOUR, 0.0, None),
        ];
        for (polled, every, jitter, expected) in cases {
            assert_eq!(
                at(*polled, *every, *jitter),
                *expected,
                "{polled:?} every {every:?}"
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
