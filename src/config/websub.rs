//! `[websub]`: paperboy as the WebSub hub of its own feeds: how long subscriptions last, how many
//! there may be, and how pushes are retried.

use std::time::Duration;

use serde::Deserialize;

use super::validate::{count_in, Problem};

/// `websub.lease` when the config does not say.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10 * 24 * 3600);
/// `websub.max_lease` when the config does not say.
pub const DEFAULT_MAX_LEASE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The shortest lease a subscriber may ask for (shorter asks get this).
pub const MIN_LEASE: Duration = Duration::from_secs(60);
/// `websub.max_subscriptions` when the config does not say.
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 10_000;
/// `websub.max_per_feed` when the config does not say.
pub const DEFAULT_MAX_PER_FEED: usize = 1_000;
/// `websub.retries` when the config does not say.
pub const DEFAULT_RETRIES: usize = 4;
/// `websub.retry_delay` when the config does not say.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(30);
/// `websub.deliveries` when the config does not say.
pub const DEFAULT_DELIVERIES: usize = 4;

/// How the hub treats subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSubConfig {
    /// The lease of a subscription that does not ask for one.
    pub lease: Duration,
    /// The longest lease given, whatever a subscriber asks.
    pub max_lease: Duration,
    /// The most subscriptions in all.
    pub max_subscriptions: usize,
    /// The most subscriptions to one feed.
    pub max_per_feed: usize,
    /// How many times a failed push is tried again before the subscription is dropped.
    pub retries: usize,
    /// The wait before the first retry; each next one waits twice as long.
    pub retry_delay: Duration,
    /// How many pushes are sent at once.
    pub deliveries: usize,
    /// Whether a callback may be a loopback, private, link-local or unspecified address (off:
    /// a public hub is no way into the network it runs in).
    pub allow_private_callbacks: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebSub {
    lease: Option<String>,
    max_lease: Option<String>,
    max_subscriptions: Option<usize>,
    max_per_feed: Option<usize>,
    retries: Option<usize>,
    retry_delay: Option<String>,
    deliveries: Option<usize>,
    allow_private_callbacks: Option<bool>,
}

/// A duration at `path` within `range`, `default` when absent.
fn span(
    path: &str,
    text: Option<&str>,
    default: Duration,
    range: std::ops::RangeInclusive<Duration>,
    problems: &mut Vec<Problem>,
) -> Duration {
    let Some(text) = text else { return default };
    match humantime::parse_duration(text) {
        Ok(d) if range.contains(&d) => d,
        Ok(_) => {
            problems.push(Problem::new(
                path,
                format!(
                    "{text:?} is outside {} to {}",
                    humantime::format_duration(*range.start()),
                    humantime::format_duration(*range.end())
                ),
            ));
            default
        }
        Err(e) => {
            problems.push(Problem::new(
                path,
                format!("{text:?} is not a duration such as \"10d\": {e}"),
            ));
            default
        }
    }
}

pub(super) fn validate(raw: Option<RawWebSub>, problems: &mut Vec<Problem>) -> WebSubConfig {
    let raw = raw.unwrap_or_default();
    let year = Duration::from_secs(366 * 24 * 3600);
    let max_lease = span(
        "websub.max_lease",
        raw.max_lease.as_deref(),
        DEFAULT_MAX_LEASE,
        MIN_LEASE..=year,
        problems,
    );
    let lease = span(
        "websub.lease",
        raw.lease.as_deref(),
        DEFAULT_LEASE.min(max_lease),
        MIN_LEASE..=max_lease,
        problems,
    );
    WebSubConfig {
        lease,
        max_lease,
        max_subscriptions: count_in(
            "websub.max_subscriptions",
            raw.max_subscriptions,
            DEFAULT_MAX_SUBSCRIPTIONS,
            1..=1_000_000,
            problems,
        ),
        max_per_feed: count_in(
            "websub.max_per_feed",
            raw.max_per_feed,
            DEFAULT_MAX_PER_FEED,
            1..=1_000_000,
            problems,
        ),
        retries: count_in(
            "websub.retries",
            raw.retries,
            DEFAULT_RETRIES,
            0..=20,
            problems,
        ),
        retry_delay: span(
            "websub.retry_delay",
            raw.retry_delay.as_deref(),
            DEFAULT_RETRY_DELAY,
            Duration::from_millis(10)..=Duration::from_secs(24 * 3600),
            problems,
        ),
        deliveries: count_in(
            "websub.deliveries",
            raw.deliveries,
            DEFAULT_DELIVERIES,
            1..=64,
            problems,
        ),
        allow_private_callbacks: raw.allow_private_callbacks.unwrap_or(false),
    }
}
