//! `[fetch]`: how paperboy fetches, its limits and its politeness. The per-host gaps start from
//! those the source kinds ask for ([`crate::sources::Kind::host_gaps`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::validate::{count_in, duration, Problem};
use crate::sources::SourceKind;

/// `fetch.connect_timeout` when the config does not say.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `fetch.timeout` (a whole fetch, body included) when the config does not say.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// `fetch.max_body_mib` (after decompression) when the config does not say.
pub const DEFAULT_MAX_BODY_MIB: usize = 20;
/// `fetch.concurrency`, sources fetched at once, when the config does not say.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// How paperboy fetches: limits and politeness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long a whole fetch may take, body included.
    pub timeout: Duration,
    /// The largest body accepted, after decompression, in bytes.
    pub max_body: usize,
    /// How many sources are fetched at once.
    pub concurrency: usize,
    /// The least time between two requests to a host, per host.
    pub host_gaps: Vec<(String, Duration)>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFetch {
    connect_timeout: Option<String>,
    timeout: Option<String>,
    max_body_mib: Option<usize>,
    concurrency: Option<usize>,
    #[serde(default)]
    host_gap: BTreeMap<String, String>,
}

/// The gaps the source kinds ask for, one per host.
fn default_host_gaps() -> Vec<(String, Duration)> {
    let mut gaps: Vec<(String, Duration)> = Vec::new();
    for kind in SourceKind::ALL {
        for (host, gap) in kind.def().host_gaps() {
            if !gaps.iter().any(|(h, _)| h == host) {
                gaps.push(((*host).to_string(), *gap));
            }
        }
    }
    gaps
}

pub(super) fn validate(raw: Option<RawFetch>, problems: &mut Vec<Problem>) -> FetchConfig {
    let raw = raw.unwrap_or_default();
    let connect_timeout = duration(
        "fetch.connect_timeout",
        raw.connect_timeout.as_deref(),
        DEFAULT_CONNECT_TIMEOUT,
        problems,
    );
    let timeout = duration(
        "fetch.timeout",
        raw.timeout.as_deref(),
        DEFAULT_FETCH_TIMEOUT,
        problems,
    );
    let mut host_gaps = default_host_gaps();
    for (host, gap) in &raw.host_gap {
        let gap = duration(
            &format!("fetch.host_gap.{host:?}"),
            Some(gap),
            Duration::ZERO,
            problems,
        );
        let host = host.to_ascii_lowercase();
        host_gaps.retain(|(h, _)| *h != host);
        host_gaps.push((host, gap));
    }
    let mut positive = |path: &str, value: Option<usize>, default: usize| {
        count_in(path, value, default, 1..=1 << 20, problems)
    };
    FetchConfig {
        connect_timeout,
        timeout,
        max_body: positive("fetch.max_body_mib", raw.max_body_mib, DEFAULT_MAX_BODY_MIB) << 20,
        concurrency: positive("fetch.concurrency", raw.concurrency, DEFAULT_CONCURRENCY),
        host_gaps,
    }
}
