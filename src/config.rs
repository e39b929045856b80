//! Configuration: a raw, input-shaped layer read from TOML with unknown keys refused, validated
//! into the typed [`Config`] the program uses. Validation collects every problem, each with its
//! key path, so `paperboy check` reports them all at once. [`Config::parse`] is pure;
//! [`Config::from_file`] adds the file read.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::pipeline::identity::short_hash;
use crate::pipeline::query::Query;
use crate::pipeline::tag::{CompiledTopic, Tagger};
use crate::sources::SourceKind;

/// Where `serve` listens when the config does not say.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// How long readers and caches may keep a feed before asking again, in seconds.
pub const DEFAULT_MAX_AGE: u64 = 900;
/// `fetch.connect_timeout` when the config does not say.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `fetch.timeout` (a whole fetch, body included) when the config does not say.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// `fetch.max_body_mib` (after decompression) when the config does not say.
pub const DEFAULT_MAX_BODY_MIB: usize = 20;
/// `fetch.concurrency`, sources fetched at once, when the config does not say.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// arXiv's API host, which asks for 3 s between requests (its terms of use); a default
/// `fetch.host_gap`.
pub const ARXIV_API_HOST: &str = "export.arxiv.org";
/// The least time between two requests to [`ARXIV_API_HOST`].
pub const ARXIV_API_GAP: Duration = Duration::from_secs(3);
/// `server.header_timeout` when the config does not say.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// `server.request_timeout` when the config does not say.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `server.write_timeout` when the config does not say.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// `server.max_header_kib` when the config does not say.
pub const DEFAULT_MAX_HEADER_KIB: usize = 16;
/// `server.max_connections` when the config does not say.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// `server.shutdown_timeout` when the config does not say.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);
/// Where the store lives when the config does not say (relative to the config file's folder).
pub const DEFAULT_STORE_PATH: &str = "data/paperboy.sled";
/// How often a source is polled when it does not say.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(3600);
/// The shortest poll interval accepted: polling faster is impolite to any source.
pub const MIN_EVERY: Duration = Duration::from_secs(60);
/// The longest poll interval accepted (a year); longer ones overflow date arithmetic.
pub const MAX_EVERY: Duration = Duration::from_secs(365 * 24 * 3600);
/// The longest timeout or gap accepted (a week); longer ones overflow timer arithmetic.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most connections `server.max_connections` may allow.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// The largest `server.max_header_kib`.
pub const MAX_HEADER_KIB: usize = 1024;
/// How many results an `arxiv-api` source reads per poll when it does not say.
pub const DEFAULT_MAX_RESULTS: usize = 100;
/// How many records an `arxiv-oai` source reads per poll when it does not say (one page).
pub const DEFAULT_OAI_MAX_RESULTS: usize = 1000;
/// The most results a paged source may read per poll.
pub const MAX_MAX_RESULTS: usize = 10_000;
/// Hugging Face's daily papers, the `hf-daily` kind's URL when none is given.
pub const HF_DAILY_URL: &str = "https://huggingface.co/api/daily_papers";
/// Bumped whenever matching changes (word splitting, the query language), so stored papers
/// are re-tagged under the new rules.
pub const MATCHER_VERSION: u32 = 1;
/// The config path when neither `--config` nor `PAPERBOY_CONFIG` gives one.
pub const DEFAULT_CONFIG_PATH: &str = "config/paperboy.toml";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub fetch: FetchConfig,
    pub sources: Vec<SourceConfig>,
    pub topics: Vec<TopicConfig>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The public address, without a trailing slash, used in self links.
    pub base_url: String,
    /// `Cache-Control: max-age` of feed responses, in seconds.
    pub max_age: u64,
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may sit idle between requests.
    pub header_timeout: Duration,
    /// How long a request may take to be answered once its headers are in.
    pub request_timeout: Duration,
    /// How long writing a response may make no progress (a client that stops reading).
    pub write_timeout: Duration,
    /// The largest request head (request line and headers) accepted, in bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// How many connections are served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight and for the write in progress.
    pub shutdown_timeout: Duration,
}

/// How paperboy fetches: limits and politeness.
#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The sled database folder, resolved against the config file's folder.
    pub path: PathBuf,
}

/// Where a source's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Http(url::Url),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub id: String,
    pub kind: SourceKind,
    /// The URL as written in the config (or built from `categories` / `query`), for display
    /// and error messages.
    pub url: String,
    pub location: Location,
    pub every: Duration,
    /// For paged kinds (`arxiv-api`, `arxiv-oai`): how many results one poll reads at most,
    /// a page at a time.
    pub max_results: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub id: String,
    pub title: String,
    /// The query as written.
    pub query_text: String,
    pub query: Query,
}

/// One thing wrong with a config, at a key path such as `sources[1].url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML of the expected shape (bad syntax, unknown key, wrong type).
    #[error("config {origin}: {message}")]
    Syntax { origin: String, message: String },
    /// The text parsed but some values are wrong.
    #[error("config {origin} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: Option<RawServer>,
    store: Option<RawStore>,
    fetch: Option<RawFetch>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    topics: Vec<RawTopic>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    base_url: Option<String>,
    max_age: Option<u64>,
    header_timeout: Option<String>,
    request_timeout: Option<String>,
    write_timeout: Option<String>,
    max_header_kib: Option<usize>,
    max_connections: Option<usize>,
    shutdown_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    connect_timeout: Option<String>,
    timeout: Option<String>,
    max_body_mib: Option<usize>,
    concurrency: Option<usize>,
    #[serde(default)]
    host_gap: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: Option<String>,
    kind: Option<String>,
    url: Option<String>,
    every: Option<String>,
    /// `arxiv` only: categories instead of a URL.
    categories: Option<Vec<String>>,
    /// `arxiv-api` only: a search query instead of a URL.
    query: Option<String>,
    /// Paged kinds only: results per poll.
    max_results: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    id: Option<String>,
    title: Option<String>,
    query: Option<String>,
}

impl Config {
    /// Reads and validates the config file at `path`. Relative paths inside it resolve against
    /// the folder the file is in.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, &base_dir, &path.display().to_string())
    }

    /// Validates config text. `base_dir` is what relative paths resolve against; `origin`
    /// names the input in error messages.
    pub fn parse(text: &str, base_dir: &Path, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut problems = Vec::new();
        let server = validate_server(raw.server, &mut problems);
        let store_path = raw
            .store
            .and_then(|s| s.path)
            .unwrap_or_else(|| DEFAULT_STORE_PATH.to_string());
        if store_path.trim().is_empty() {
            problems.push(Problem {
                path: "store.path".into(),
                message: "is empty; name a folder for the database".into(),
            });
        }
        let store = StoreConfig {
            path: base_dir.join(store_path),
        };
        let fetch = validate_fetch(raw.fetch, &mut problems);
        let sources = validate_sources(raw.sources, base_dir, &mut problems);
        let topics = validate_topics(raw.topics, &mut problems);
        if problems.is_empty() {
            Ok(Config {
                server,
                store,
                fetch,
                sources,
                topics,
            })
        } else {
            Err(ConfigError::Invalid {
                origin: origin.to_string(),
                problems,
            })
        }
    }

    /// The topic with this id.
    pub fn topic(&self, id: &str) -> Option<&TopicConfig> {
        self.topics.iter().find(|t| t.id == id)
    }

    /// The compiled topics.
    pub fn tagger(&self) -> Tagger {
        Tagger::new(
            self.topics
                .iter()
                .map(|t| CompiledTopic {
                    id: t.id.clone(),
                    query: t.query.clone(),
                })
                .collect(),
        )
    }

    /// Identifies the set of topics and their queries, and the matcher's version: it changes
    /// exactly when re-tagging is needed.
    pub fn topics_fingerprint(&self) -> String {
        let mut parts: Vec<String> = std::iter::once(format!("matcher {MATCHER_VERSION}"))
            .chain(
                self.topics
                    .iter()
                    .map(|t| format!("{}\u{0}{}", t.id, t.query_text)),
            )
            .collect();
        parts.sort();
        short_hash(parts.join("\u{1}"))
    }
}

fn validate_server(raw: Option<RawServer>, problems: &mut Vec<Problem>) -> ServerConfig {
    let raw = raw.unwrap_or_default();
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text.parse().unwrap_or_else(|_| {
        problems.push(Problem {
            path: "server.listen".into(),
            message: format!("{listen_text:?} is not an address such as \"127.0.0.1:8080\""),
        });
        ([127, 0, 0, 1], 8080).into()
    });
    // Listening on every interface (0.0.0.0) is no address to link to; say localhost.
    let base_url = raw.base_url.unwrap_or_else(|| {
        if listen.ip().is_unspecified() {
            format!("http://localhost:{}", listen.port())
        } else {
            format!("http://{listen}")
        }
    });
    match url::Url::parse(&base_url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
        _ => problems.push(Problem {
            path: "server.base_url".into(),
            message: format!("{base_url:?} is not an http:// or https:// URL"),
        }),
    }
    let mut timeout = |key: &str, text: Option<String>, default: Duration| {
        let path = format!("server.{key}");
        match duration(&path, text.as_deref(), default, problems) {
            Duration::ZERO => {
                problems.push(Problem {
                    path,
                    message: "must be longer than zero".into(),
                });
                default
            }
            d => d,
        }
    };
    let header_timeout = timeout("header_timeout", raw.header_timeout, DEFAULT_HEADER_TIMEOUT);
    let request_timeout = timeout(
        "request_timeout",
        raw.request_timeout,
        DEFAULT_REQUEST_TIMEOUT,
    );
    let write_timeout = timeout("write_timeout", raw.write_timeout, DEFAULT_WRITE_TIMEOUT);
    let shutdown_timeout = timeout(
        "shutdown_timeout",
        raw.shutdown_timeout,
        DEFAULT_SHUTDOWN_TIMEOUT,
    );
    let max_header_kib = count_in(
        "server.max_header_kib",
        raw.max_header_kib,
        DEFAULT_MAX_HEADER_KIB,
        1..=MAX_HEADER_KIB,
        problems,
    );
    ServerConfig {
        listen,
        base_url: base_url.trim_end_matches('/').to_string(),
        max_age: raw.max_age.unwrap_or(DEFAULT_MAX_AGE),
        header_timeout,
        request_timeout,
        write_timeout,
        max_header_bytes: max_header_kib.saturating_mul(1024),
        max_connections: count_in(
            "server.max_connections",
            raw.max_connections,
            DEFAULT_MAX_CONNECTIONS,
            1..=MAX_CONNECTIONS,
            problems,
        ),
        shutdown_timeout,
    }
}

/// A humantime duration (`"10s"`, `"2m"`) of at most [`MAX_TIMEOUT`] at `path`, or `default`
/// when absent or invalid (the problem is recorded).
fn duration(
    path: &str,
    text: Option<&str>,
    default: Duration,
    problems: &mut Vec<Problem>,
) -> Duration {
    let Some(text) = text else { return default };
    let message = match humantime::parse_duration(text) {
        Ok(d) if d <= MAX_TIMEOUT => return d,
        Ok(_) => format!("{text:?} is longer than the maximum of 7 days"),
        Err(e) => format!("{text:?} is not a duration such as \"10s\": {e}"),
    };
    problems.push(Problem {
        path: path.into(),
        message,
    });
    default
}

/// A count at `path` within `range`, or `default` when absent or outside it (the problem is
/// recorded).
fn count_in(
    path: &str,
    value: Option<usize>,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
    problems: &mut Vec<Problem>,
) -> usize {
    match value {
        Some(n) if !range.contains(&n) => {
            problems.push(Problem {
                path: path.into(),
                message: format!("must be from {} to {}", range.start(), range.end()),
            });
            default
        }
        Some(n) => n,
        None => default,
    }
}

fn validate_fetch(raw: Option<RawFetch>, problems: &mut Vec<Problem>) -> FetchConfig {
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
    let mut host_gaps: Vec<(String, Duration)> = vec![(ARXIV_API_HOST.to_string(), ARXIV_API_GAP)];
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

/// Whether an id is `[a-z0-9-]+`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_id(
    id: Option<String>,
    path: &str,
    seen: &mut HashSet<String>,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let Some(id) = id else {
        problems.push(Problem {
            path: format!("{path}.id"),
            message: "missing; every entry needs an id".into(),
        });
        return None;
    };
    if !valid_id(&id) {
        problems.push(Problem {
            path: format!("{path}.id"),
            message: format!("{id:?} must be lower-case letters, digits and '-' only"),
        });
        return None;
    }
    if !seen.insert(id.clone()) {
        problems.push(Problem {
            path: format!("{path}.id"),
            message: format!("{id:?} is used twice"),
        });
        return None;
    }
    Some(id)
}

fn validate_sources(
    raw: Vec<RawSource>,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<SourceConfig> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, source) in raw.into_iter().enumerate() {
        let path = format!("sources[{i}]");
        let id = check_id(source.id.clone(), &path, &mut seen, problems);
        let kind = match source.kind.as_deref() {
            None => {
                problems.push(Problem {
                    path: format!("{path}.kind"),
                    message: "missing".into(),
                });
                None
            }
            Some(name) => SourceKind::from_name(name).or_else(|| {
                let known: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
                problems.push(Problem {
                    path: format!("{path}.kind"),
                    message: format!("unknown kind {name:?}; known kinds: {}", known.join(", ")),
                });
                None
            }),
        };
        let (url, max_results) = match kind {
            Some(kind) => source_url(kind, &source, &path, problems),
            None => (source.url.clone(), None),
        };
        let location = url.as_deref().and_then(|url| {
            parse_location(url, base_dir)
                .map_err(|message| {
                    problems.push(Problem {
                        path: format!("{path}.url"),
                        message,
                    })
                })
                .ok()
        });
        let every = match source.every.as_deref() {
            None => Some(DEFAULT_EVERY),
            Some(text) => match humantime::parse_duration(text) {
                Ok(d) if (MIN_EVERY..=MAX_EVERY).contains(&d) => Some(d),
                Ok(d) => {
                    problems.push(Problem {
                        path: format!("{path}.every"),
                        message: if d < MIN_EVERY {
                            format!("{text:?} is shorter than the minimum of 1m")
                        } else {
                            format!("{text:?} is longer than the maximum of a year")
                        },
                    });
                    None
                }
                Err(e) => {
                    problems.push(Problem {
                        path: format!("{path}.every"),
                        message: format!(
                            "{text:?} is not a duration such as \"30m\" or \"1h\": {e}"
                        ),
                    });
                    None
                }
            },
        };
        if let (Some(id), Some(kind), Some(location), Some(every), Some(url)) =
            (id, kind, location, every, url)
        {
            out.push(SourceConfig {
                id,
                kind,
                url,
                location,
                every,
                max_results,
            });
        }
    }
    out
}

/// The URL a source reads, from `url` or from its kind's own keys (`categories` for `arxiv`,
/// `query` for `arxiv-api`), and the `arxiv-api` result cap. Keys that belong to another kind
/// are problems.
fn source_url(
    kind: SourceKind,
    source: &RawSource,
    path: &str,
    problems: &mut Vec<Problem>,
) -> (Option<String>, Option<usize>) {
    let mut problem = |key: &str, message: String| {
        problems.push(Problem {
            path: format!("{path}.{key}"),
            message,
        })
    };
    if source.categories.is_some() && kind != SourceKind::Arxiv {
        problem(
            "categories",
            format!(
                "only `arxiv` sources take categories, not `{}`",
                kind.name()
            ),
        );
    }
    if source.query.is_some() && kind != SourceKind::ArxivApi {
        problem(
            "query",
            format!(
                "only `arxiv-api` sources take a query, not `{}`",
                kind.name()
            ),
        );
    }
    if source.max_results.is_some() && kind.paging().is_none() {
        problem(
            "max_results",
            format!(
                "only paged sources (arxiv-api, arxiv-oai) take max_results, not `{}`",
                kind.name()
            ),
        );
    }
    let url = match (kind, &source.url, &source.categories, &source.query) {
        (SourceKind::Arxiv, Some(_), Some(_), _) => {
            problem(
                "categories",
                "give either url or categories, not both".into(),
            );
            None
        }
        (SourceKind::Arxiv, None, Some(categories), _) => {
            let bad: Vec<&String> = categories.iter().filter(|c| !valid_category(c)).collect();
            if categories.is_empty() {
                problem(
                    "categories",
                    "is empty; name at least one, such as \"cs.LG\"".into(),
                );
                None
            } else if !bad.is_empty() {
                problem(
                    "categories",
                    format!("{bad:?} are not arXiv categories such as \"cs.LG\" or \"hep-th\""),
                );
                None
            } else {
                Some(crate::sources::arxiv::listing_url(categories))
            }
        }
        (SourceKind::ArxivApi, Some(_), _, Some(_)) => {
            problem("query", "give either url or query, not both".into());
            None
        }
        (SourceKind::ArxivApi, None, _, Some(query)) if query.trim().is_empty() => {
            problem("query", "is empty".into());
            None
        }
        (SourceKind::ArxivApi, None, _, Some(query)) => {
            Some(crate::sources::arxiv_api::query_url(query).to_string())
        }
        (SourceKind::HfDaily, None, _, _) => Some(HF_DAILY_URL.to_string()),
        (_, Some(url), _, _) => Some(url.clone()),
        (kind, None, _, _) => {
            let also = match kind {
                SourceKind::Arxiv => " (or categories)",
                SourceKind::ArxivApi => " (or query)",
                _ => "",
            };
            problem("url", format!("missing{also}"));
            None
        }
    };
    let default = match kind {
        SourceKind::ArxivOai => DEFAULT_OAI_MAX_RESULTS,
        _ => DEFAULT_MAX_RESULTS,
    };
    let max_results = kind.paging().map(|_| match source.max_results {
        None => default,
        Some(n) if (1..=MAX_MAX_RESULTS).contains(&n) => n,
        Some(n) => {
            problem(
                "max_results",
                format!("{n} is not between 1 and {MAX_MAX_RESULTS}"),
            );
            default
        }
    });
    (url, max_results)
}

/// `cs.LG`, `stat.ML`, `hep-th`, `math.AG`, `q-bio.NC`.
fn valid_category(c: &str) -> bool {
    let (archive, sub) = c.split_once('.').unwrap_or((c, "x"));
    !archive.is_empty()
        && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !sub.is_empty()
        && sub.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
}

/// `http://` and `https://` URLs, or `file://` paths: `file:///abs/path` is absolute,
/// `file://rel/path` resolves against the config file's folder.
fn parse_location(text: &str, base_dir: &Path) -> Result<Location, String> {
    if let Some(path) = text.strip_prefix("file://") {
        if path.is_empty() {
            return Err(format!("{text:?} names no file"));
        }
        let path = Path::new(path);
        return Ok(Location::File(if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        }));
    }
    match url::Url::parse(text) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Ok(Location::Http(u))
        }
        Ok(u) => Err(format!(
            "{text:?}: scheme {:?} is not http, https or file",
            u.scheme()
        )),
        Err(e) => Err(format!("{text:?} is not a URL: {e}")),
    }
}

fn validate_topics(raw: Vec<RawTopic>, problems: &mut Vec<Problem>) -> Vec<TopicConfig> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, topic) in raw.into_iter().enumerate() {
        let path = format!("topics[{i}]");
        let id = check_id(topic.id, &path, &mut seen, problems);
        let label = id
            .as_deref()
            .map(|id| format!("{path} ({id})"))
            .unwrap_or(path.clone());
        let query = match topic.query {
            None => {
                problems.push(Problem {
                    path: format!("{label}.query"),
                    message: "missing; write `*` to match every paper".into(),
                });
                None
            }
            Some(text) => match Query::parse(&text) {
                Ok(q) => Some((text, q)),
                Err(e) => {
                    problems.push(Problem {
                        path: format!("{label}.query"),
                        message: format!("{e} in {text:?}"),
                    });
                    None
                }
            },
        };
        if let (Some(id), Some((query_text, query))) = (id, query) {
            out.push(TopicConfig {
                title: topic
                    .title
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| id.clone()),
                id,
                query_text,
                query,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/paperboy"), "test.toml")
    }

    #[test]
    fn a_full_config_validates() {
        let config = parse(
            r#"
            [server]
            listen = "127.0.0.1:9000"
            base_url = "https://papers.example.org/"
            [store]
            path = "data/x.sled"
            [[sources]]
            id = "arxiv-cs-lg"
            kind = "feed"
            url = "https://rss.arxiv.org/rss/cs.LG"
            every = "30m"
            [[sources]]
            id = "local"
            kind = "feed"
            url = "file://../feeds/x.xml"
            [[topics]]
            id = "generalization"
            title = "Generalization"
            query = 'generaliz* OR "out-of-distribution"'
            "#,
        )
        .expect("valid");
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.server.base_url, "https://papers.example.org");
        assert_eq!(config.store.path, Path::new("/etc/paperboy/data/x.sled"));
        assert_eq!(config.sources[0].every, Duration::from_secs(1800));
        assert_eq!(config.sources[1].every, DEFAULT_EVERY);
        assert_eq!(
            config.sources[1].location,
            Location::File(PathBuf::from("/etc/paperboy/../feeds/x.xml"))
        );
        assert_eq!(config.topics[0].title, "Generalization");
    }

    /// The problems validation finds in `text`, which must be invalid.
    fn problems_of(text: &str) -> Vec<Problem> {
        match parse(text) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("expected problems, got {e}"),
            Ok(_) => panic!("expected problems, got a valid config"),
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let problems = problems_of(
            r#"
            [server]
            listen = "nope"
            [[sources]]
            id = "Bad_Id"
            kind = "gopher"
            url = "ftp://x"
            every = "5s"
            [[sources]]
            id = "dup"
            kind = "feed"
            url = "https://a.example/feed"
            [[sources]]
            id = "dup"
            kind = "feed"
            [[topics]]
            id = "t"
            query = "a OR"
            "#,
        );
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "server.listen",
                "sources[0].id",
                "sources[0].kind",
                "sources[0].url",
                "sources[0].every",
                "sources[2].id",
                "sources[2].url",
                "topics[0] (t).query"
            ]
        );
        assert!(
            problems[7].message.contains("at position 5"),
            "{}",
            problems[7]
        );
    }

    #[test]
    fn server_limits_have_defaults_and_bounds() {
        let config = parse("").unwrap();
        assert_eq!(config.server.header_timeout, DEFAULT_HEADER_TIMEOUT);
        assert_eq!(config.server.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(
            config.server.max_header_bytes,
            DEFAULT_MAX_HEADER_KIB * 1024
        );
        let config = parse(
            "[server]\nheader_timeout = \"2s\"\nwrite_timeout = \"1m\"\nmax_header_kib = 8\n\
             max_connections = 10\nshutdown_timeout = \"5s\"\nrequest_timeout = \"3s\"\n",
        )
        .unwrap();
        assert_eq!(config.server.header_timeout, Duration::from_secs(2));
        assert_eq!(config.server.write_timeout, Duration::from_secs(60));
        assert_eq!(config.server.request_timeout, Duration::from_secs(3));
        assert_eq!(config.server.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(config.server.max_header_bytes, 8192);
        assert_eq!(config.server.max_connections, 10);
        // Zero, absurdly long (they would overflow timers) and out-of-range values are errors.
        let problems = problems_of(
            "[server]\nheader_timeout = \"0s\"\nwrite_timeout = \"30days\"\n\
             max_connections = 0\nmax_header_kib = 4096\n\
             [[sources]]\nid = \"s\"\nkind = \"feed\"\nurl = \"https://a.example/\"\nevery = \"2years\"\n",
        );
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "server.header_timeout",
                "server.write_timeout",
                "server.max_header_kib",
                "server.max_connections",
                "sources[0].every"
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = parse("[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n").expect_err("unknown key");
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn fingerprint_changes_with_queries_only() {
        let a = parse("[[topics]]\nid = \"a\"\nquery = \"x\"\n").unwrap();
        let b = parse("[[topics]]\nid = \"a\"\ntitle = \"A\"\nquery = \"x\"\n").unwrap();
        let c = parse("[[topics]]\nid = \"a\"\nquery = \"y\"\n").unwrap();
        assert_eq!(a.topics_fingerprint(), b.topics_fingerprint());
        assert_ne!(a.topics_fingerprint(), c.topics_fingerprint());
    }
}
