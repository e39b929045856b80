//! Fetching a source's bytes over HTTP(S) or from a file: timeouts, a cap on the body, gzip,
//! a `User-Agent` naming paperboy, and conditional requests with the validators the server
//! sent last time. IO only; parsing is the adapters' job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use std::time::SystemTime;

use reqwest::header::{
    CACHE_CONTROL, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION, RETRY_AFTER,
};
use reqwest::StatusCode;

use crate::config::Location;

/// Who paperboy says it is.
pub const USER_AGENT: &str = concat!(
    "paperboy/",
    env!("CARGO_PKG_VERSION"),
    " (research paper feed aggregator; +https://crates.io/crates/paperboy)"
);

/// The validators from the last successful fetch, sent back exactly as received.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    /// The `ETag` the server sent, exactly.
    pub etag: Option<String>,
    /// The `Last-Modified` the server sent, exactly.
    pub last_modified: Option<String>,
}

/// What a server said about the fetch besides the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchMeta {
    /// `Cache-Control: max-age`, which may lengthen (never shorten) the next poll.
    pub max_age: Option<Duration>,
    /// Where the source now lives, when every redirect on the way was permanent (301, 308).
    pub moved_to: Option<url::Url>,
}

/// What a fetch brought back.
#[derive(Debug)]
pub enum Fetched {
    /// `304 Not Modified`: nothing to do.
    NotModified(FetchMeta),
    /// A body, with the validators to send next time.
    Body {
        /// The body, decompressed.
        bytes: Vec<u8>,
        /// The validators to send with the next request.
        validators: Validators,
        /// What the server said besides the body.
        meta: FetchMeta,
    },
}

/// Why a fetch failed. Messages name the URL or path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with a status other than 2xx or 304 (with `Retry-After`, when it
    /// gave one with a 429 or 503).
    #[error("HTTP {status} from {url}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        /// The URL that answered.
        url: String,
        /// The status it answered with.
        status: StatusCode,
        /// How long the server asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// `410 Gone`: the source has been removed for good.
    #[error("HTTP 410 Gone from {url}: the source is gone; polling stops until its URL changes")]
    Gone {
        /// The URL that answered.
        url: String,
    },
    /// More redirects than allowed (a loop, most likely).
    #[error("more than {limit} redirects from {url}")]
    TooManyRedirects {
        /// The URL asked for.
        url: String,
        /// How many redirects a fetch follows.
        limit: usize,
    },
    /// The request failed: DNS, connection, TLS, timeout, or a broken body.
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The URL asked for.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The body was larger than the cap.
    #[error("body from {url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL that answered.
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// A `file://` source could not be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The file's path.
        path: PathBuf,
        #[source]
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The HTTP client could not be built (no TLS roots, for instance).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// The most redirects one fetch follows.
pub const MAX_REDIRECTS: usize = 5;

/// `Retry-After`: seconds, or an HTTP date (then the time from `now` until it).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `max-age` from a `Cache-Control` header.
pub fn max_age(value: &str) -> Option<Duration> {
    value.split(',').find_map(|directive| {
        let (name, seconds) = directive.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| {
                seconds
                    .trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            })
            .flatten()
    })
}

/// Spaces out requests to hosts that ask for a minimum gap, across every source and task that
/// shares the fetcher.
#[derive(Debug, Default)]
struct HostGate {
    gaps: HashMap<String, Duration>,
    next_slot: Mutex<HashMap<String, Instant>>,
    /// One request at a time per host.
    busy: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl HostGate {
    /// Waits until this request may go to `host`: the host's previous request is done and its
    /// gap has passed. Hold the returned guard for the whole request.
    async fn take_turn(&self, host: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(host.to_string())
            .or_default()
            .clone();
        let guard = lock.lock_owned().await;
        if let Some(&gap) = self.gaps.get(host) {
            let slot = {
                let mut next = self
                    .next_slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                reserve(&mut next, host, Instant::now(), gap)
            };
            tokio::time::sleep_until(slot).await;
        }
        guard
    }
}

/// Reserves the next free slot for `host`: now, or `gap` after the last reserved slot.
fn reserve(
    next: &mut HashMap<String, Instant>,
    host: &str,
    now: Instant,
    gap: Duration,
) -> Instant {
    let slot = next.get(host).map_or(now, |&free| free.max(now));
    next.insert(host.to_string(), slot + gap);
    slot
}

/// Fetches sources; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: usize,
    gate: Arc<HostGate>,
}

impl Fetcher {
    /// A fetcher with the config's limits and host gaps (which include arXiv's API host).
    pub fn from_config(config: &crate::config::FetchConfig) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .gzip(true)
            // Redirects are followed by hand, to see which are permanent.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        let gate = HostGate {
            gaps: config.host_gaps.iter().cloned().collect(),
            ..Default::default()
        };
        Ok(Fetcher {
            client,
            max_body: config.max_body,
            gate: Arc::new(gate),
        })
    }

    /// The least time between two requests to `host`, when the config or a kind sets one.
    pub fn host_gap(&self, host: &str) -> Option<Duration> {
        self.gate.gaps.get(host).copied()
    }

    /// Fetches a source, conditionally when validators are given.
    pub async fn fetch(
        &self,
        location: &Location,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        match location {
            Location::File(path) => self.read_file(path).await,
            Location::Http(url) => self.get(url, validators).await,
        }
    }

    async fn read_file(&self, path: &std::path::Path) -> Result<Fetched, FetchError> {
        let file_err = |source| FetchError::File {
            path: path.to_path_buf(),
            source,
        };
        let len = tokio::fs::metadata(path).await.map_err(file_err)?.len();
        if len > self.max_body as u64 {
            return Err(FetchError::TooLarge {
                url: format!("file://{}", path.display()),
                limit: self.max_body,
            });
        }
        let bytes = tokio::fs::read(path).await.map_err(file_err)?;
        Ok(Fetched::Body {
            bytes,
            validators: Validators::default(),
            meta: FetchMeta::default(),
        })
    }

    async fn get(&self, url: &url::Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        // The target of the redirects so far, while every one of them was permanent.
        let mut moved_to: Option<url::Url> = None;
        let mut all_permanent = true;
        for hop in 0..=MAX_REDIRECTS {
            let host = current.host_str().unwrap_or("").to_string();
            // One request at a time per host, spaced by the host's gap.
            let _turn = self.gate.take_turn(&host).await;
            let request_err = |e: reqwest::Error| FetchError::Request {
                url: current.to_string(),
                reason: describe(&e),
            };
            let mut request = self.client.get(current.as_str());
            if let Some(etag) = &validators.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(IF_MODIFIED_SINCE, last_modified);
            }
            let mut response = request.send().await.map_err(request_err)?;
            let status = response.status();
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    .map(str::to_string)
            };
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let Some(location) = header(LOCATION).and_then(|l| current.join(&l).ok()) else {
                    return Err(FetchError::Status {
                        url: current.to_string(),
                        status,
                        retry_after: None,
                    });
                };
                if hop == MAX_REDIRECTS {
                    break;
                }
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                if all_permanent {
                    moved_to = Some(location.clone());
                }
                current = location;
                continue;
            }
            let meta = FetchMeta {
                max_age: header(CACHE_CONTROL).as_deref().and_then(max_age),
                moved_to: moved_to.clone(),
            };
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified(meta));
            }
            if status == StatusCode::GONE {
                return Err(FetchError::Gone {
                    url: current.to_string(),
                });
            }
            if !status.is_success() {
                let retry_after = header(RETRY_AFTER)
                    .as_deref()
                    .and_then(|v| retry_after(v, SystemTime::now()));
                return Err(FetchError::Status {
                    url: current.to_string(),
                    status,
                    retry_after,
                });
            }
            let validators = Validators {
                etag: header(ETAG),
                last_modified: header(LAST_MODIFIED),
            };
            let too_large = || FetchError::TooLarge {
                url: current.to_string(),
                limit: self.max_body,
            };
            if response
                .content_length()
                .is_some_and(|n| n > self.max_body as u64)
            {
                return Err(too_large());
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(request_err)? {
                if bytes.len() + chunk.len() > self.max_body {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(Fetched::Body {
                bytes,
                validators,
                meta,
            });
        }
        Err(FetchError::TooManyRedirects {
            url: url.to_string(),
            limit: MAX_REDIRECTS,
        })
    }
}

/// reqwest's top-level message hides the cause ("error sending request"); name it.
fn describe(error: &reqwest::Error) -> String {
    let mut message = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_and_max_age_are_read() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(300));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(300)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(300));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(
            max_age("public, max-age=7200"),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            max_age("no-cache, MAX-AGE=\"60\""),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("s-maxage=10"), None);
        assert_eq!(max_age("max-age=x"), None);
    }

    #[test]
    fn host_slots_are_spaced_by_the_gap() {
        let mut next = HashMap::new();
        let t0 = Instant::now();
        let gap = Duration::from_secs(3);
        // Three requests at the same moment get slots 0 s, 3 s and 6 s later.
        assert_eq!(reserve(&mut next, "h", t0, gap), t0);
        assert_eq!(reserve(&mut next, "h", t0, gap), t0 + gap);
        assert_eq!(reserve(&mut next, "h", t0, gap), t0 + 2 * gap);
        // Another host is independent.
        assert_eq!(reserve(&mut next, "other", t0, gap), t0);
        // Long after the last slot, a request goes at once.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(reserve(&mut next, "h", later, gap), later);
    }
}
