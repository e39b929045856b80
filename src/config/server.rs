//! `[server]`: where `serve` listens, the public address, and the limits that protect readers
//! from abusive clients.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::validate::{count_in, duration, Problem};

/// Where `serve` listens when the config does not say.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// How long readers and caches may keep a feed before asking again, in seconds.
pub const DEFAULT_MAX_AGE: u64 = 900;
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
/// `server.cache_mib` when the config does not say.
pub const DEFAULT_FEED_CACHE_MIB: usize = 64;
/// The largest `server.cache_mib`.
pub const MAX_FEED_CACHE_MIB: usize = 1 << 20;
/// `server.window` when the config does not say: a topic feed holds every paper that entered
/// the topic this recently.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(2 * 24 * 3600);
/// `server.max_entries` when the config does not say.
pub const DEFAULT_MAX_ENTRIES: usize = 1000;
/// The largest `server.max_entries`.
pub const MAX_MAX_ENTRIES: usize = 10_000;
/// The fewest entries a topic feed holds, whatever its window (and the smallest
/// `server.max_entries`).
pub const MIN_ENTRIES: usize = 50;
/// `server.max_connections_per_ip` when the config does not say.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;
/// The most connections `server.max_connections` may allow.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// The largest `server.max_header_kib`.
pub const MAX_HEADER_KIB: usize = 1024;

/// How `serve` listens and answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The address to listen on.
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
    /// How many connections one client address may hold at once; more are closed as they
    /// come (0: no limit, for use behind a reverse proxy, where every client is the proxy).
    pub max_connections_per_ip: usize,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the client: their
    /// connections are not held to `max_connections_per_ip`; the requests in flight of each
    /// client they forward are, instead (429 past it).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Whether the index page lists the sources (their URLs, last results and next polls).
    pub show_sources: bool,
    /// How long shutdown waits for requests in flight and for the write in progress.
    pub shutdown_timeout: Duration,
    /// The most bytes the rendered feeds kept in memory may take, every compressed form
    /// included; the least recently used go first.
    pub cache_bytes: u64,
    /// A topic feed without `?limit` holds every paper that entered the topic within this
    /// long (at least [`MIN_ENTRIES`], at most `max_entries`).
    pub window: Duration,
    /// The most entries a topic feed's window holds; older ones are on its `next` pages.
    pub max_entries: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: Option<String>,
    base_url: Option<String>,
    max_age: Option<u64>,
    header_timeout: Option<String>,
    request_timeout: Option<String>,
    write_timeout: Option<String>,
    max_header_kib: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    trusted_proxies: Option<Vec<String>>,
    show_sources: Option<bool>,
    shutdown_timeout: Option<String>,
    cache_mib: Option<usize>,
    window: Option<String>,
    max_entries: Option<usize>,
}

pub(super) fn validate(raw: Option<RawServer>, problems: &mut Vec<Problem>) -> ServerConfig {
    let raw = raw.unwrap_or_default();
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text.parse().unwrap_or_else(|_| {
        problems.push(Problem::new(
            "server.listen",
            format!("{listen_text:?} is not an address such as \"127.0.0.1:8080\""),
        ));
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
        _ => problems.push(Problem::new(
            "server.base_url",
            format!("{base_url:?} is not an http:// or https:// URL"),
        )),
    }
    let mut timeout = |key: &str, text: Option<String>, default: Duration| {
        let path = format!("server.{key}");
        match duration(&path, text.as_deref(), default, problems) {
            Duration::ZERO => {
                problems.push(Problem::new(path, "must be longer than zero"));
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
    // At most 7 days, as every duration of [server].
    let window = timeout("window", raw.window, DEFAULT_WINDOW);
    let max_header_kib = count_in(
        "server.max_header_kib",
        raw.max_header_kib,
        DEFAULT_MAX_HEADER_KIB,
        1..=MAX_HEADER_KIB,
        problems,
    );
    let trusted_proxies = raw
        .trusted_proxies
        .unwrap_or_default()
        .iter()
        .filter_map(|text| match proxy_net(text) {
            Some(net) => Some(net),
            None => {
                problems.push(Problem::new(
                    "server.trusted_proxies",
                    format!(
                        "{text:?} is not an address or a network such as \"10.0.0.0/8\" or \"::1\""
                    ),
                ));
                None
            }
        })
        .collect();
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
        max_connections_per_ip: count_in(
            "server.max_connections_per_ip",
            raw.max_connections_per_ip,
            DEFAULT_MAX_CONNECTIONS_PER_IP,
            0..=MAX_CONNECTIONS,
            problems,
        ),
        trusted_proxies,
        show_sources: raw.show_sources.unwrap_or(true),
        cache_bytes: count_in(
            "server.cache_mib",
            raw.cache_mib,
            DEFAULT_FEED_CACHE_MIB,
            1..=MAX_FEED_CACHE_MIB,
            problems,
        ) as u64
            * 1024
            * 1024,
        window,
        max_entries: count_in(
            "server.max_entries",
            raw.max_entries,
            DEFAULT_MAX_ENTRIES,
            MIN_ENTRIES..=MAX_MAX_ENTRIES,
            problems,
        ),
    }
}

/// A trusted proxy: one address (`"127.0.0.1"`, `"::1"`) or a network (`"10.0.0.0/8"`).
fn proxy_net(text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .ok()
        .map(|net| net.trunc())
        .or_else(|| {
            text.parse::<std::net::IpAddr>()
                .ok()
                .map(ipnet::IpNet::from)
        })
}
