//! The HTTP server (axum on hyper): topic feeds with conditional GET, the index page, a health
//! check; and `serve`, which runs the server beside one background poller per source. This is
//! the only async edge that faces readers; everything it renders comes from the pure core.

mod cached;
mod conditional;
mod encoding;
mod forwarded;
mod listener;
mod pages;
mod pollers;
mod reload;
mod websub;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use self::encoding::Coding;
use crate::config::MIN_ENTRIES;
use crate::index::{Cursor, SearchIndex};
use crate::ingest::Ingestor;
use crate::live::{Live, Setup};
use crate::pipeline::digest::hex;
use crate::pipeline::query::Query;
use crate::pipeline::render::{self, FeedMeta, Format};
use crate::store::{PaperStore, StoreError};

/// Entries in a feed when the request does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most entries one feed request may ask for.
pub const MAX_LIMIT: usize = 500;

/// What every handler shares, behind one `Arc`: a request clones it once (one atomic count on
/// one cache line, not one per field, which both cores would fight over at 100,000 polls a
/// second).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state of a server.
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// The config now (replaced on reload); a request takes one snapshot and keeps it.
    pub live: Arc<Live>,
    /// The store feeds are read from.
    pub store: Arc<PaperStore>,
    /// The search index query feeds and previews are answered from.
    pub index: Arc<SearchIndex>,
    /// Rendered feeds and their compressed forms, by topic, format, page and coding.
    pub cache: FeedCache,
    /// The counters `/metrics` shows.
    pub stats: Stats,
    /// `Cache-Control` of feed responses, built once from `server.max_age`.
    pub cache_control: HeaderValue,
    /// `server.request_timeout`: how long rendering or compressing a feed may take (`503`
    /// past it). A feed sent from the cache needs no timer.
    pub request_timeout: Duration,
    /// The WebSub hub: its client, and the pushes under way.
    hub: websub::Hub,
    /// The HTML pages' `Content-Security-Policy`, built once from `server.base_url`.
    page_policy: HeaderValue,
    /// Feeds rendered or compressed at once (two per core): a flood of uncached URLs costs
    /// CPU at a bounded rate, and the async threads stay free for everyone else.
    renders: tokio::sync::Semaphore,
}

/// Counters an operator (or a test) reads at `/metrics`.
#[derive(Default)]
pub struct Stats {
    feeds_ok: std::sync::atomic::AtomicU64,
    feeds_not_modified: std::sync::atomic::AtomicU64,
    renders: std::sync::atomic::AtomicU64,
    compressions: std::sync::atomic::AtomicU64,
    pushes: std::sync::atomic::AtomicU64,
    push_failures: std::sync::atomic::AtomicU64,
    verified: std::sync::atomic::AtomicU64,
}

impl Stats {
    fn count(counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The counters in Prometheus' text format, with the bytes the feed cache holds.
    fn render(&self, cache_bytes: u64) -> String {
        let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        format!(
            "# HELP paperboy_feed_responses_total Feed responses by status code.\n\
             # TYPE paperboy_feed_responses_total counter\n\
             paperboy_feed_responses_total{{code=\"200\"}} {}\n\
             paperboy_feed_responses_total{{code=\"304\"}} {}\n\
             # HELP paperboy_feed_renders_total Feeds rendered (the rest come from the cache).\n\
             # TYPE paperboy_feed_renders_total counter\n\
             paperboy_feed_renders_total {}\n\
             # HELP paperboy_feed_compressions_total Compressed forms of feeds made (gzip, br).\n\
             # TYPE paperboy_feed_compressions_total counter\n\
             paperboy_feed_compressions_total {}\n\
             # HELP paperboy_feed_cache_bytes Bytes the cached feeds and their forms take.\n\
             # TYPE paperboy_feed_cache_bytes gauge\n\
             paperboy_feed_cache_bytes {}\n\
             # HELP paperboy_websub_pushes_total Feeds pushed to WebSub subscribers.\n\
             # TYPE paperboy_websub_pushes_total counter\n\
             paperboy_websub_pushes_total {}\n\
             # HELP paperboy_websub_push_failures_total Pushes that failed (each try).\n\
             # TYPE paperboy_websub_push_failures_total counter\n\
             paperboy_websub_push_failures_total {}\n\
             # HELP paperboy_websub_verified_total WebSub (un)subscriptions verified and recorded.\n\
             # TYPE paperboy_websub_verified_total counter\n\
             paperboy_websub_verified_total {}\n",
            get(&self.feeds_ok),
            get(&self.feeds_not_modified),
            get(&self.renders),
            get(&self.compressions),
            cache_bytes,
            get(&self.pushes),
            get(&self.push_failures),
            get(&self.verified)
        )
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    // Feeds carry their own compressed forms, made once per change ([`serve_feed`]), and time
    // only their rendering (a feed from the cache needs no timer); the pages are compressed
    // and timed per request by the layers.
    let feeds = Router::new()
        .route("/feeds/{file}", get(feed))
        .route(
            "/search.atom",
            get(|app, request| search_feed(app, request, Format::Atom)),
        )
        .route(
            "/search.rss",
            get(|app, request| search_feed(app, request, Format::Rss)),
        )
        .route(
            "/search.json",
            get(|app, request| search_feed(app, request, Format::Json)),
        )
        .route("/papers/{*rest}", get(similar_feed));
    let pages = Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/search", get(search_page))
        .route("/feeds.opml", get(opml))
        .route(
            "/metrics",
            get(|State(app): State<AppState>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    app.stats.render(app.cache.weight()),
                )
            }),
        )
        .route("/topics/{topic}", get(topic_page))
        .route("/groups/{group}", get(group))
        .route(
            "/websub",
            axum::routing::post(websub::request).layer(axum::extract::DefaultBodyLimit::max(
                websub::MAX_REQUEST_BYTES,
            )),
        )
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        )
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            // `[server]` is bound at start: a reload keeps it.
            state.request_timeout,
        ));
    feeds
        .merge(pages)
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: use GET or HEAD",
            )
        })
        .layer(axum::middleware::from_fn(require_host))
        .with_state(state)
}

/// Serves HTTP on `listener` and polls every source in the background (first poll at once,
/// then when each source's schedule says) until `shutdown` completes; with `config_path`, each
/// `SIGHUP` reloads the config from it ([`reload`]). Then it stops accepting, lets requests
/// in flight finish (for up to `server.shutdown_timeout`), lets a poller that is writing
/// finish its write (a poller that is waiting, fetching or parsing stops at once with nothing
/// written), and flushes the store.
pub async fn serve(
    store: Arc<PaperStore>,
    index: Arc<SearchIndex>,
    ingestor: Ingestor,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    config_path: Option<std::path::PathBuf>,
) -> Result<(), ServeError> {
    let config = ingestor.live().get().config.clone();
    // Listen for SIGHUP before anything else, so that one sent early reloads rather than ends
    // the process.
    let hangups = config_path.and_then(|path| reload::hangups().map(|h| (path, h)));
    let pollers = Arc::new(tokio::sync::Mutex::new(pollers::Pollers::start(
        ingestor.clone(),
        &config.sources,
    )));
    let reloading = hangups.map(|(path, hangups)| {
        tokio::spawn(reload::run(
            path,
            ingestor.clone(),
            pollers.clone(),
            hangups,
        ))
    });
    let hub = websub::Hub::new(listener.local_addr().ok(), config.websub.deliveries)
        .map_err(ServeError::WebSub)?;
    let state = AppState::new(Shared {
        live: ingestor.live().clone(),
        store: store.clone(),
        index,
        cache: FeedCache::new(config.server.cache_bytes),
        stats: Stats::default(),
        cache_control: HeaderValue::from_str(&format!("public, max-age={}", config.server.max_age))
            .expect("`public, max-age=` and a number is a valid header value"),
        request_timeout: config.server.request_timeout,
        hub,
        page_policy: page_policy(&config.server.base_url),
        renders: tokio::sync::Semaphore::new(render_slots()),
    });
    // Pushes changed feeds to WebSub subscribers, beside serving and polling.
    let distributing = tokio::spawn(websub::distribute(state.clone()));
    let app = router(state.clone());
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "serving");
    let stopping_at = Arc::new(std::sync::OnceLock::new());
    let signal = {
        let stopping_at = stopping_at.clone();
        let pollers = pollers.clone();
        let store = store.clone();
        async move {
            shutdown.await;
            stopping_at.get_or_init(tokio::time::Instant::now);
            // A compaction under way is abandoned (its copy removed) rather than waited for.
            store.stop_compacting();
            tracing::info!("shutting down: no new connections; finishing requests and writes");
            if let Some(reloading) = reloading {
                // A reload in progress stops where it is: what it wrote is whole, and a topic
                // whose re-tagging it did not finish is re-tagged at the next start.
                reloading.abort();
            }
            distributing.abort();
            pollers.lock().await.stop_all()
        }
    };
    // Connections drain here while the pollers stop, both within `shutdown_timeout`.
    // As many connections as the open-file limit (raised to its hard limit) leaves room for.
    let mut limits = config.server.clone();
    if let Some(room) = listener::open_files() {
        if limits.max_connections > room {
            tracing::warn!(
                max_connections = limits.max_connections,
                room,
                "server.max_connections is more than the open-file limit allows; serving at \
                 most {room} connections at once"
            );
            limits.max_connections = room.max(1);
        }
    }
    let mut tasks = listener::run(listener, app, state, &limits, signal)
        .await
        .unwrap_or_default();
    let deadline = stopping_at
        .get()
        .copied()
        .unwrap_or_else(tokio::time::Instant::now)
        + config.server.shutdown_timeout;
    let drained = tokio::time::timeout_at(deadline, async {
        while let Some(task) = tasks.last_mut() {
            let _ = task.await;
            tasks.pop();
        }
    })
    .await;
    if drained.is_err() {
        // A poller left now is writing a batch: that write is finished, never cut short, so
        // that what a source reported is what the store holds.
        tracing::warn!(
            "a source's papers are still being written after {:?}; waiting for that write",
            config.server.shutdown_timeout
        );
        for task in tasks {
            let _ = task.await;
        }
    }
    // Every write has finished; make them durable.
    store.flush()?;
    tracing::info!("store flushed; stopped");
    Ok(())
}

/// Binds the listening socket.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    /// The listening socket could not be bound.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        #[source]
        /// Why binding failed.
        source: std::io::Error,
    },
    #[error(transparent)]
    /// The store failed (while flushing at shutdown).
    Store(#[from] StoreError),
    /// The WebSub hub could not start (its HTTP client).
    #[error("{0}")]
    WebSub(String),
}

/// A short plain-text response.
fn plain(status: StatusCode, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{body}\n"),
    )
        .into_response()
}

/// An HTML page, with the headers that keep it to what it is: a `Content-Security-Policy` that
/// allows only what the pages use (their inline style sheet, and the search form sent to this
/// server), no framing, no referrer sent elsewhere (`nosniff` comes from the pages' layer).
fn html_page(app: &AppState, page: String) -> Response {
    (
        [
            (header::CONTENT_SECURITY_POLICY, app.page_policy.clone()),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("strict-origin-when-cross-origin"),
            ),
        ],
        Html(page),
    )
        .into_response()
}

/// The `Content-Security-Policy` of the HTML pages: nothing but their inline style sheet, the
/// search form sent to this server (at the address it was reached by, or its public one), and
/// no framing.
fn page_policy(base_url: &str) -> HeaderValue {
    let public = url::Url::parse(base_url)
        .map(|u| u.origin().ascii_serialization())
        .ok()
        .filter(|o| o != "null");
    let policy = |form: &str| {
        format!(
            "default-src 'none'; style-src 'unsafe-inline'; form-action {form}; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    };
    let with_public = public.map(|origin| policy(&format!("'self' {origin}")));
    with_public
        .and_then(|p| HeaderValue::from_str(&p).ok())
        .or_else(|| HeaderValue::from_str(&policy("'self'")).ok())
        .unwrap_or(HeaderValue::from_static("default-src 'none'"))
}

/// HTTP/1.1 requires exactly one `Host` (RFC 9112 §3.2): without one, or with two, the
/// request is `400`, so no page or link is built from a guessed or ambiguous address.
async fn require_host(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.version() == axum::http::Version::HTTP_11 && !one_host(request.headers()) {
        return plain(
            StatusCode::BAD_REQUEST,
            "bad request: an HTTP/1.1 request needs exactly one Host header",
        );
    }
    next.run(request).await
}

/// Whether the request carries exactly one `Host`.
fn one_host(headers: &HeaderMap) -> bool {
    let mut hosts = headers.get_all(header::HOST).iter();
    hosts.next().is_some() && hosts.next().is_none()
}

/// Why a request failed, as the one type handlers return with `?`; it becomes a response in
/// one place ([`IntoResponse`]).
#[derive(Debug)]
enum AppError {
    /// The store could not be read: 500, logged.
    Store(StoreError),
    /// A store read on the blocking pool panicked or was cancelled: 500, logged.
    Task(tokio::task::JoinError),
    /// The search index failed: 500, logged.
    Index(crate::index::IndexError),
    /// The request names something that does not exist: 404 with this message.
    NotFound(String),
    /// The request is malformed: 400 with this message.
    BadRequest(String),
    /// Rendering or compressing took longer than `server.request_timeout`: 503.
    Timeout,
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        AppError::Store(error)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Store(error) => {
                tracing::error!("store error while serving: {error}");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: the store could not be read",
                )
            }
            AppError::Task(error) => {
                tracing::error!("store read failed while serving: {error}");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: the store could not be read",
                )
            }
            AppError::Index(error) => {
                tracing::error!("search index error while serving: {error}");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: the search index could not be read",
                )
            }
            AppError::NotFound(message) => plain(StatusCode::NOT_FOUND, &message),
            AppError::BadRequest(message) => plain(StatusCode::BAD_REQUEST, &message),
            AppError::Timeout => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the feed took too long to prepare; try again shortly",
            ),
        }
    }
}

/// Runs store reads (and what is built from them) on tokio's blocking pool, as ingest does:
/// sled reads may wait on the disk, which must not stall the threads serving other readers.
async fn blocking<T: Send + 'static>(
    app: &AppState,
    work: impl FnOnce(&AppState) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || work(&app))
        .await
        .map_err(AppError::Task)?
}

/// What a feed request asks for, from its query string.
struct FeedParams {
    /// `None`: the feed's default (a topic's window, or [`DEFAULT_LIMIT`]).
    limit: Option<usize>,
    before: Option<Vec<u8>>,
    /// `sort=relevance`: best first (a topic learned from examples).
    by_relevance: bool,
}

/// `limit` (1..=MAX, default DEFAULT) and `before` (a cursor from a `next` link); anything
/// else malformed is a 400. Unknown parameters are ignored, as caches and readers add some.
fn parse_params(query: Option<&str>) -> Result<FeedParams, String> {
    let mut params = FeedParams {
        limit: None,
        before: None,
        by_relevance: false,
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "limit" => {
                params.limit = Some(
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            format!(
                            "bad limit {value:?}: expected a whole number from 1 to {MAX_LIMIT}"
                        )
                        })?,
                );
            }
            "sort" => {
                params.by_relevance = match value.as_ref() {
                    "relevance" => true,
                    "date" => false,
                    other => return Err(format!("bad sort {other:?}: expected relevance or date")),
                };
            }
            "before" => {
                params.before = Some(decode_cursor(&value).ok_or_else(|| {
                    format!("bad before {value:?}: use the cursor of a feed's next link")
                })?);
            }
            _ => {}
        }
    }
    Ok(params)
}

/// A `before` cursor's bytes, when they have the shape of a position in a feed: a date (8
/// bytes) and a paper key (text). Anything else is refused before it reaches the cache.
fn decode_cursor(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) || text.len() > 2048 {
        return None;
    }
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let (_, key) = bytes.split_at_checked(8)?;
    (!key.is_empty() && std::str::from_utf8(key).is_ok()).then_some(bytes)
}

/// What a feed lists: a configured topic's papers (by its id), or a query's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FeedOf {
    Topic(String),
    /// A topic learned from examples, best first (`?sort=relevance`).
    Ranked(String),
    /// The query's text, as the request gave it (it parses).
    Search(String),
    /// The stored papers most like the paper with this key.
    Similar(String),
}

/// A feed's papers, format, limit (`None`: the feed's default) and page cursor.
type CacheKey = (FeedOf, Format, Option<usize>, Option<Vec<u8>>);

/// The store's (or index's) generation and the config's epoch a feed was rendered at.
type Generation = (u64, u64);

/// What one form of a rendered feed is cached under. The generation is part of the key: a
/// change of the store makes new keys, and the forms of the old ones age out of the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FormKey {
    feed: CacheKey,
    generation: Generation,
    coding: Coding,
}

impl FormKey {
    /// The key of `feed` as rendered (identity coding), at the current generation of what it
    /// is read from under config epoch `epoch`.
    fn rendered(app: &Shared, epoch: u64, feed: CacheKey) -> Self {
        // A query feed comes from the index, which commits after the store.
        let data = match feed.0 {
            FeedOf::Topic(_) | FeedOf::Ranked(_) => app.store.generation(),
            FeedOf::Search(_) | FeedOf::Similar(_) => app.index.generation(),
        };
        FormKey {
            feed,
            generation: (data, epoch),
            coding: Coding::Identity,
        }
    }
}

/// A rendered feed, ready to send: the body and its validators as header values, built once.
struct CachedFeed {
    body: axum::body::Bytes,
    /// The strong ETag of each form (by [`Coding::index`]): the rendered bytes' digest, with
    /// the coding in it for a compressed form, as RFC 9110 §8.8.3.3 asks.
    etags: [(String, HeaderValue); 3],
    last_modified: chrono::DateTime<chrono::Utc>,
    last_modified_header: HeaderValue,
    /// `Link` to the WebSub hub and the feed itself, when they make a valid header.
    links: Option<HeaderValue>,
    /// Whether the feed is in the cache (so its compressed forms may be too).
    cached: bool,
}

impl CachedFeed {
    fn new(rendered: render::Rendered, links: Option<HeaderValue>) -> Self {
        // An ETag is a quoted hex digest and an HTTP date is ASCII letters, digits, spaces,
        // commas and colons: both are always valid header values.
        let header = |text: &str| {
            HeaderValue::from_str(text).expect("ETags and HTTP dates are visible ASCII")
        };
        let etag = |coding: Coding| {
            let tag = match coding {
                Coding::Identity => rendered.etag.clone(),
                coding => format!(
                    "{}-{}\"",
                    rendered.etag.trim_end_matches('"'),
                    coding.token()
                ),
            };
            let value = header(&tag);
            (tag, value)
        };
        CachedFeed {
            etags: [
                etag(Coding::Identity),
                etag(Coding::Gzip),
                etag(Coding::Brotli),
            ],
            last_modified_header: header(&conditional::http_date(rendered.last_modified)),
            last_modified: rendered.last_modified,
            body: exact(rendered.bytes),
            links,
            cached: true,
        }
    }
}

/// `bytes` in an allocation of exactly their length, as a cached form keeps them. A document
/// is written into a buffer that grows by doubling, so up to half of it can be unused, which
/// the cache's weight (the length) would not count: a cache of 64 MiB of feeds held about
/// 100 MB of heap. Copying a feed is far cheaper than rendering or compressing it.
fn exact(bytes: Vec<u8>) -> axum::body::Bytes {
    if bytes.capacity() - bytes.len() <= bytes.len() / 16 {
        bytes.into()
    } else {
        axum::body::Bytes::copy_from_slice(&bytes)
    }
}

/// One cached form of a feed.
#[derive(Clone)]
enum Form {
    /// The feed as rendered, with the validators of every form.
    Rendered(Arc<CachedFeed>),
    /// A compressed form's bytes.
    Compressed(axum::body::Bytes),
}

/// Weighs a cached form by the bytes it holds.
#[derive(Clone)]
struct FormWeight;

/// What an entry costs beside its bodies: its key, headers and the cache's bookkeeping.
const ENTRY_OVERHEAD: u64 = 512;

impl quick_cache::Weighter<FormKey, Form> for FormWeight {
    fn weight(&self, key: &FormKey, form: &Form) -> u64 {
        let (feed, _, _, cursor) = &key.feed;
        let key_bytes = match feed {
            FeedOf::Topic(text)
            | FeedOf::Ranked(text)
            | FeedOf::Search(text)
            | FeedOf::Similar(text) => text.len(),
        } + cursor.as_ref().map_or(0, Vec::len);
        let body = match form {
            Form::Rendered(feed) => {
                feed.body.len() + feed.etags.iter().map(|(t, _)| 2 * t.len()).sum::<usize>()
            }
            Form::Compressed(bytes) => bytes.len(),
        };
        (key_bytes + body) as u64 + ENTRY_OVERHEAD
    }
}

/// Rendered feeds and their compressed forms, bounded in bytes (`server.cache_mib`), the
/// least recently used out first: rendering and compressing happen once per feed, page and
/// change of the store; requests are answered from the cached bytes. A form asked for by many
/// requests at once is made once, the others wait for it.
pub struct FeedCache {
    forms: quick_cache::sync::Cache<FormKey, Form, FormWeight>,
}

impl FeedCache {
    /// A cache holding at most `bytes` of feeds.
    pub fn new(bytes: u64) -> Self {
        // quick_cache sizes its tables from an estimate of the entries (say 16 KB each), and
        // splits the budget into shards that each refuse an entry near their own size: two
        // shards, so that a feed of up to half the budget is kept (its default would be four
        // per core: a few MiB each on a large machine, less than a long window's feed).
        let estimated = usize::try_from(bytes / 16_384)
            .unwrap_or(usize::MAX)
            .max(64);
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(estimated)
            .weight_capacity(bytes)
            .shards(2)
            .build()
            .expect("a capacity and a shard count are all the options there are");
        FeedCache {
            forms: quick_cache::sync::Cache::with_options(
                options,
                FormWeight,
                quick_cache::DefaultHashBuilder::default(),
                quick_cache::sync::DefaultLifecycle::default(),
            ),
        }
    }

    /// The bytes the cached forms take now.
    pub fn weight(&self) -> u64 {
        self.forms.weight()
    }
}

async fn feed(
    State(app): State<AppState>,
    Path(file): Path<String>,
    // The request itself, read by reference: extracting the query and headers separately
    // would copy them on every poll.
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let (topic_id, format) = Format::split_file_name(&file).ok_or_else(|| {
        AppError::NotFound("not found: feeds are /feeds/<topic>.atom, .rss or .json".into())
    })?;
    let setup = app.live.get();
    let Some(topic) = setup.config.topic(topic_id) else {
        return Err(AppError::NotFound(format!("no topic {topic_id:?}")));
    };
    let params = parse_params(request.uri().query()).map_err(AppError::BadRequest)?;
    let of = if params.by_relevance {
        if topic.examples.is_none() {
            return Err(AppError::BadRequest(format!(
                "sort=relevance: topic {topic_id:?} has no example papers, so its papers have no relevance"
            )));
        }
        FeedOf::Ranked(topic_id.to_string())
    } else {
        FeedOf::Topic(topic_id.to_string())
    };
    let key = (of, format, params.limit, params.before);
    serve_feed(&app, setup, key, request.headers()).await
}

/// `/papers/<paper>/similar.atom` (and `.rss`, `.json`): the stored papers most like one
/// paper (an arXiv id, a DOI, a link or an entry id), best first; `?limit=N` as for any feed,
/// one page only. `404` for a paper that is not stored.
async fn similar_feed(
    State(app): State<AppState>,
    Path(rest): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let not_found = || {
        AppError::NotFound(
            "not found: papers like one are /papers/<paper>/similar.atom, .rss or .json".into(),
        )
    };
    let (name, file) = rest.rsplit_once('/').ok_or_else(not_found)?;
    let format = match file {
        "similar.atom" => Format::Atom,
        "similar.rss" => Format::Rss,
        "similar.json" => Format::Json,
        _ => return Err(not_found()),
    };
    let params = parse_params(request.uri().query()).map_err(AppError::BadRequest)?;
    if params.before.is_some() {
        return Err(AppError::BadRequest(
            "a feed of similar papers has one page: no before".into(),
        ));
    }
    let name = name.to_string();
    let key = blocking(&app, move |app| match app.store.lookup(&name)? {
        Some(paper) => Ok(paper.key),
        None => Err(AppError::NotFound(format!("no stored paper {name:?}"))),
    })
    .await?;
    let key = (FeedOf::Similar(key), format, params.limit, None);
    serve_feed(&app, app.live.get(), key, request.headers()).await
}

/// `/search.atom?q=QUERY` (and `.rss`, `.json`): any query as a feed, with the same entries,
/// paging and caching as a topic's. A query that does not parse is a 400 with the parser's
/// message.
async fn search_feed(
    State(app): State<AppState>,
    request: axum::extract::Request,
    format: Format,
) -> Result<Response, AppError> {
    let query = request.uri().query();
    let text = search_text(query)?.ok_or_else(|| {
        AppError::BadRequest(format!(
            "missing q: ask for /search.{}?q=QUERY",
            format.extension()
        ))
    })?;
    Query::parse(&text).map_err(|e| AppError::BadRequest(format!("bad q {text:?}: {e}")))?;
    let params = parse_params(query).map_err(AppError::BadRequest)?;
    let key = (FeedOf::Search(text), format, params.limit, params.before);
    serve_feed(&app, app.live.get(), key, request.headers()).await
}

/// The `q` parameter of a query string, when given and not blank.
fn search_text(query: Option<&str>) -> Result<Option<String>, AppError> {
    let q = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(key, _)| key == "q")
        .map(|(_, value)| value.into_owned());
    match q {
        Some(text) if text.len() > MAX_QUERY_BYTES => Err(AppError::BadRequest(format!(
            "q is {} bytes; at most {MAX_QUERY_BYTES} are accepted",
            text.len()
        ))),
        Some(text) if text.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The longest query text a request may give.
const MAX_QUERY_BYTES: usize = 2048;

/// Answers a feed request: in the coding the request accepts (`406` when it accepts none),
/// `304` when its validators still hold for that form, else the form itself; rendered and
/// compressed once per change, then sent from the cache.
async fn serve_feed(
    app: &AppState,
    setup: Arc<Setup>,
    feed: CacheKey,
    request: &HeaderMap,
) -> Result<Response, AppError> {
    let Some(coding) = encoding::negotiate_for(request) else {
        let mut response = plain(
            StatusCode::NOT_ACCEPTABLE,
            "not acceptable: this feed is sent as br, gzip or identity, and the request's \
             Accept-Encoding rules out all three",
        );
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        return Ok(response);
    };
    let format = feed.1;
    let (key, rendered) = cached_feed(app, setup, feed).await?;
    let (etag, headers) = feed_headers(app, &rendered, coding);
    if conditional::not_modified(request, etag, rendered.last_modified) {
        return Ok(feed_not_modified(app, headers));
    }
    let body = match coding {
        Coding::Identity => rendered.body.clone(),
        coding => compressed(app, FormKey { coding, ..key }, rendered).await?,
    };
    Ok(feed_ok(app, headers, format, coding, body))
}

/// The headers of every response with one form of a feed (`200` or `304`), and that form's
/// ETag.
fn feed_headers<'a>(
    app: &Shared,
    rendered: &'a CachedFeed,
    coding: Coding,
) -> (&'a str, HeaderMap) {
    let (etag, etag_header) = &rendered.etags[coding.index()];
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(header::ETAG, own_copy(etag_header));
    headers.insert(
        header::LAST_MODIFIED,
        own_copy(&rendered.last_modified_header),
    );
    headers.insert(header::CACHE_CONTROL, own_copy(&app.cache_control));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(links) = &rendered.links {
        headers.insert(header::LINK, own_copy(links));
    }
    (etag, headers)
}

/// A copy of `value` in memory of its own. Cloning a header value shares its bytes by counting
/// references on one word; when every core answers polls of the same feed, that word moves
/// between the cores' caches on every clone and drop, which costs more than copying a few
/// dozen bytes.
fn own_copy(value: &HeaderValue) -> HeaderValue {
    HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone())
}

/// `304 Not Modified` for a feed's form, counted.
fn feed_not_modified(app: &Shared, headers: HeaderMap) -> Response {
    Stats::count(&app.stats.feeds_not_modified);
    // Built directly: `(StatusCode, HeaderMap).into_response()` would copy the headers into
    // a new map.
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    *response.headers_mut() = headers;
    response
}

/// `200` with a feed's form, `body` being its bytes in `coding`, counted.
fn feed_ok(
    app: &Shared,
    mut headers: HeaderMap,
    format: Format,
    coding: Coding,
    body: axum::body::Bytes,
) -> Response {
    if coding != Coding::Identity {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
    }
    Stats::count(&app.stats.feeds_ok);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let mut response = Response::new(axum::body::Body::from(body));
    *response.headers_mut() = headers;
    response
}

/// The rendered feed for `feed` under `setup`, and the key it is cached under: from the cache
/// when neither the store nor the config has changed since it was rendered, else read and
/// rendered on the blocking pool (once, however many requests ask at the same time).
async fn cached_feed(
    app: &AppState,
    setup: Arc<Setup>,
    feed: CacheKey,
) -> Result<(FormKey, Arc<CachedFeed>), AppError> {
    let key = FormKey::rendered(app, setup.epoch, feed);
    if let Some(form) = app.cache.forms.get(&key) {
        return Ok((key, rendered_form(form)));
    }
    timed(
        app,
        blocking(app, move |app| {
            if !is_canonical(app, &key.feed)? {
                let (rendered, links) = render_feed(app, &setup, &key.feed)?;
                let mut feed = CachedFeed::new(rendered, links);
                feed.cached = false;
                return Ok((key, Arc::new(feed)));
            }
            let form = app.cache.forms.get_or_insert_with(&key, || {
                let (rendered, links) = render_feed(app, &setup, &key.feed)?;
                Ok::<_, AppError>(Form::Rendered(Arc::new(CachedFeed::new(rendered, links))))
            })?;
            Ok((key, rendered_form(form)))
        }),
    )
    .await
}

/// Whether a feed request names a page that exists now, and so may be cached: any first page,
/// and a topic's page whose cursor is a paper's position in the topic's index (query feeds'
/// later pages are not cached). A cursor of
/// the right shape that is not (made up, or left by a paper that has since moved) is still
/// answered, from where it falls in the index, but not cached: requests cannot fill the cache
/// with pages of their own making.
fn is_canonical(app: &AppState, (of, _, _, before): &CacheKey) -> Result<bool, AppError> {
    match (of, before) {
        (FeedOf::Topic(topic), Some(cursor)) => Ok(app.store.is_topic_position(topic, cursor)?),
        // Canonical when its paper is still in the topic with the relevance the cursor says.
        (FeedOf::Ranked(topic), Some(cursor)) => {
            let (position, relevance) = crate::store::split_ranked_cursor(cursor);
            Ok(relevance.is_some() && app.store.topic_relevance(topic, position)? == relevance)
        }
        // A query feed's later pages are rendered for whoever asks, not kept.
        (FeedOf::Search(_) | FeedOf::Similar(_), Some(_)) => Ok(false),
        (_, None) => Ok(true),
    }
}

/// `work` (rendering or compressing) once one of the render slots is free, all within
/// `server.request_timeout` (work that has started goes on, and what it makes is cached for
/// the next request).
async fn timed<T>(
    app: &AppState,
    work: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    let slotted = async {
        let _slot = app.renders.acquire().await.map_err(|_| AppError::Timeout)?;
        work.await
    };
    tokio::time::timeout(app.request_timeout, slotted)
        .await
        .unwrap_or(Err(AppError::Timeout))
}

/// How many feeds are rendered or compressed at once: as many as the serving cores have
/// threads for blocking work.
fn render_slots() -> usize {
    crate::BLOCKING_THREADS_PER_CORE * crate::cores()
}

/// The rendered feed an identity key holds.
fn rendered_form(form: Form) -> Arc<CachedFeed> {
    match form {
        Form::Rendered(feed) => feed,
        Form::Compressed(_) => unreachable!("an identity key holds the rendered feed"),
    }
}

/// `rendered`'s bytes in `key`'s coding: from the cache, else compressed on the blocking pool
/// (once, however many requests ask at the same time) and cached.
async fn compressed(
    app: &AppState,
    key: FormKey,
    rendered: Arc<CachedFeed>,
) -> Result<axum::body::Bytes, AppError> {
    let bytes = |form: Form| match form {
        Form::Compressed(bytes) => bytes,
        Form::Rendered(_) => unreachable!("a compressed form's key holds its bytes"),
    };
    if let Some(form) = app.cache.forms.get(&key) {
        return Ok(bytes(form));
    }
    timed(
        app,
        blocking(app, move |app| {
            if !rendered.cached {
                Stats::count(&app.stats.compressions);
                return Ok(key.coding.encode(&rendered.body).into());
            }
            let form = app.cache.forms.get_or_insert_with(&key, || {
                Stats::count(&app.stats.compressions);
                Ok::<_, AppError>(Form::Compressed(exact(key.coding.encode(&rendered.body))))
            })?;
            Ok(bytes(form))
        }),
    )
    .await
}

/// Reads a page of a topic's or a query's papers and renders it, with its self and next
/// links.
fn render_feed(
    app: &AppState,
    setup: &Setup,
    (of, format, limit, before): &CacheKey,
) -> Result<(render::Rendered, Option<HeaderValue>), AppError> {
    let base = &setup.config.server.base_url;
    let limit_param = limit.map_or(String::new(), |limit| format!("&limit={limit}"));
    // `next` of a URL that may already carry a query string.
    let with = |url: &str, params: &str| -> String {
        match (url.contains('?'), params.strip_prefix('&')) {
            (_, None) => url.to_string(),
            (true, Some(_)) => format!("{url}{params}"),
            (false, Some(rest)) => format!("{url}?{rest}"),
        }
    };
    #[allow(clippy::type_complexity)]
    let (papers, next, feed_url, page_url, id, title, query): (
        Vec<crate::model::StoredPaper>,
        Option<Vec<u8>>,
        String,
        String,
        String,
        String,
        String,
    ) = match of {
        FeedOf::Topic(id) => {
            let topic = setup
                .config
                .topic(id)
                .ok_or_else(|| AppError::NotFound(format!("no topic {id:?}")))?;
            let (papers, next) = match (limit, before) {
                // The first page without a limit: every paper of the window, so that no
                // reader polling at least that often misses one.
                (None, None) => {
                    let server = &setup.config.server;
                    let since = chrono::Utc::now()
                        - chrono::TimeDelta::from_std(server.window)
                            .unwrap_or(chrono::TimeDelta::MAX);
                    app.store
                        .topic_window(&topic.id, since, MIN_ENTRIES, server.max_entries)?
                }
                (limit, before) => app.store.topic_page(
                    &topic.id,
                    before.as_deref(),
                    limit.unwrap_or(DEFAULT_LIMIT),
                )?,
            };
            (
                papers,
                next,
                format!("{base}/feeds/{}.{}", topic.id, format.extension()),
                format!("{base}/topics/{}", topic.id),
                topic.id.clone(),
                topic.title.clone(),
                topic.query_text.clone(),
            )
        }
        FeedOf::Ranked(id) => {
            let topic = setup
                .config
                .topic(id)
                .ok_or_else(|| AppError::NotFound(format!("no topic {id:?}")))?;
            let (papers, next) = app.store.topic_by_relevance(
                &topic.id,
                before.as_deref(),
                limit.unwrap_or(DEFAULT_LIMIT),
            )?;
            (
                papers,
                next,
                format!(
                    "{base}/feeds/{}.{}?sort=relevance",
                    topic.id,
                    format.extension()
                ),
                format!("{base}/topics/{}", topic.id),
                format!("{}/by-relevance", topic.id),
                format!("{} (by relevance)", topic.title),
                topic.query_text.clone(),
            )
        }
        FeedOf::Search(text) => {
            let query = Query::parse(text)
                .map_err(|e| AppError::BadRequest(format!("bad q {text:?}: {e}")))?;
            let cursor = match before.as_deref() {
                None => None,
                Some(bytes) => Some(decode_search_cursor(bytes).ok_or_else(|| {
                    AppError::BadRequest("bad before: use the cursor of a feed's next link".into())
                })?),
            };
            let (hits, next) = app
                .index
                .page(&query, cursor.as_ref(), limit.unwrap_or(DEFAULT_LIMIT))
                .map_err(AppError::Index)?;
            let mut papers = Vec::with_capacity(hits.len());
            for hit in hits {
                // A paper removed since the index's last commit is left out.
                papers.extend(app.store.get(&hit.key)?);
            }
            let q: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
            (
                papers,
                next.map(|c| encode_search_cursor(&c)),
                format!("{base}/search.{}?q={q}", format.extension()),
                format!("{base}/search?q={q}"),
                format!("search-{}", crate::pipeline::digest::short_hash(text)),
                format!("Search: {text}"),
                text.clone(),
            )
        }
        FeedOf::Similar(key) => {
            let paper = app
                .store
                .get(key)?
                .ok_or_else(|| AppError::NotFound(format!("no stored paper {key:?}")))?;
            let found = app
                .index
                .similar(&paper, limit.unwrap_or(DEFAULT_LIMIT))
                .map_err(AppError::Index)?;
            let mut papers = Vec::with_capacity(found.len());
            for (hit, _) in found {
                papers.extend(app.store.get(&hit.key)?);
            }
            let shown = crate::inspect::display_id(&paper);
            let mut feed_url = url::Url::parse(base)
                .map_err(|e| AppError::BadRequest(format!("server.base_url {base:?}: {e}")))?;
            if let Ok(mut path) = feed_url.path_segments_mut() {
                path.pop_if_empty().extend([
                    "papers",
                    shown.as_str(),
                    &format!("similar.{}", format.extension()),
                ]);
            }
            let page = paper
                .paper
                .link(crate::model::LinkKind::Page)
                .map_or_else(|| format!("{base}/"), |l| l.href.clone());
            (
                papers,
                None,
                feed_url.to_string(),
                page,
                format!("similar-{}", crate::pipeline::digest::short_hash(key)),
                format!("Papers like: {}", paper.paper.title),
                format!("more like {shown}"),
            )
        }
    };
    // A feed of similar papers has no WebSub hub: it changes with every paper indexed; nor
    // has a topic in relevance order: a ranking, not a stream of new papers.
    let hub =
        (!matches!(of, FeedOf::Similar(_) | FeedOf::Ranked(_))).then(|| format!("{base}/websub"));
    let self_url = match before {
        Some(cursor) => with(&feed_url, &format!("&before={}{limit_param}", hex(cursor))),
        None => with(&feed_url, &limit_param),
    };
    let next_url = next
        .map(|cursor: Vec<u8>| with(&feed_url, &format!("&before={}{limit_param}", hex(&cursor))));
    let meta = FeedMeta {
        topic_id: &id,
        title: &title,
        query: &query,
        self_url: &self_url,
        page_url: &page_url,
        next_url: next_url.as_deref(),
        hub_url: hub.as_deref(),
    };
    Stats::count(&app.stats.renders);
    // WebSub discovery (§4): the hub and the feed's own URL, in the document and as headers.
    let links = HeaderValue::from_str(&match &hub {
        Some(hub) => format!("<{hub}>; rel=\"hub\", <{feed_url}>; rel=\"self\""),
        None => format!("<{feed_url}>; rel=\"self\""),
    })
    .ok();
    Ok((format.render(&meta, &papers), links))
}

/// A query feed's cursor as bytes: the date (milliseconds, big-endian) and the key.
fn encode_search_cursor(cursor: &Cursor) -> Vec<u8> {
    let mut bytes = cursor.millis.to_be_bytes().to_vec();
    bytes.extend_from_slice(cursor.key.as_bytes());
    bytes
}

fn decode_search_cursor(bytes: &[u8]) -> Option<Cursor> {
    let (millis, key) = bytes.split_at_checked(8)?;
    Some(Cursor {
        millis: i64::from_be_bytes(millis.try_into().ok()?),
        key: std::str::from_utf8(key).ok()?.to_string(),
    })
}

/// A configured topic with its count and newest date.
fn topic_row<'a>(
    app: &AppState,
    topic: &'a crate::config::TopicConfig,
) -> Result<pages::TopicRow<'a>, StoreError> {
    Ok(pages::TopicRow {
        id: &topic.id,
        title: &topic.title,
        query: &topic.query_text,
        count: app.store.topic_count(&topic.id)?,
        newest: app
            .store
            .topic_papers(&topic.id, 1)?
            .first()
            .map(super::model::StoredPaper::updated),
        group: topic.group.as_deref(),
    })
}

/// Each of `topics` with its count and newest date.
fn topic_rows<'a>(
    app: &AppState,
    topics: impl IntoIterator<Item = &'a crate::config::TopicConfig>,
) -> Result<Vec<pages::TopicRow<'a>>, StoreError> {
    topics.into_iter().map(|t| topic_row(app, t)).collect()
}

/// `?filter=TEXT` of the index and group pages: only the groups and topics whose names, titles
/// or queries hold the text (ignoring case).
#[derive(serde::Deserialize, Default)]
struct Filter {
    #[serde(default)]
    filter: String,
}

impl Filter {
    /// The filter as matched: trimmed, lower-cased, at most [`MAX_FILTER_CHARS`] characters.
    fn text(&self) -> String {
        self.filter
            .trim()
            .chars()
            .take(MAX_FILTER_CHARS)
            .collect::<String>()
            .to_lowercase()
    }
}

/// The longest filter of the index and group pages.
const MAX_FILTER_CHARS: usize = 200;

fn topic_filtered(topic: &crate::config::TopicConfig, filter: &str) -> bool {
    pages::filter_matches(filter, &[&topic.id, &topic.title, &topic.query_text])
}

async fn index(
    State(app): State<AppState>,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Response, AppError> {
    let page = blocking(&app, move |app| {
        let setup = app.live.get();
        let filter = filter.text();
        // Topics in a group are on the group's page; the index lists the groups.
        let topics = topic_rows(
            app,
            setup
                .config
                .topics
                .iter()
                .filter(|t| t.group.is_none() && topic_filtered(t, &filter)),
        )?;
        let groups: Vec<pages::GroupRow<'_>> = setup
            .config
            .groups()
            .filter(|(name, _)| {
                pages::filter_matches(&filter, &[name])
                    || setup
                        .config
                        .group(name)
                        .is_some_and(|topics| topics.iter().any(|t| topic_filtered(t, &filter)))
            })
            .map(|(name, topics)| pages::GroupRow { name, topics })
            .collect();
        let shown = if setup.config.server.show_sources {
            setup.config.sources.as_slice()
        } else {
            &[]
        };
        let sources = shown
            .iter()
            .map(|s| {
                Ok(pages::SourceRow {
                    id: &s.id,
                    kind: s.kind.name(),
                    url: &s.url,
                    state: app.store.source_state(&s.id)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(pages::index(
            &setup.config.server.base_url,
            &topics,
            &groups,
            &sources,
            &filter,
        ))
    })
    .await?;
    Ok(html_page(&app, page))
}

/// `/search?q=QUERY`: how many papers a query matches, the newest of them, its feeds and the
/// TOML of a topic with it; the parser's message when it does not parse. A form leads here
/// from the index page.
async fn search_page(
    State(app): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let text = search_text(request.uri().query())?;
    let page = blocking(&app, move |app| {
        let setup = app.live.get();
        let base = &setup.config.server.base_url;
        let Some(text) = text else {
            return Ok(pages::search(base, "", Ok(None)));
        };
        let query = match Query::parse(&text) {
            Ok(query) => query,
            Err(e) => return Ok(pages::search(base, &text, Err(e.to_string()))),
        };
        let (hits, total) = app
            .index
            .search(&query, TOPIC_PAGE_PAPERS)
            .map_err(AppError::Index)?;
        let mut papers = Vec::with_capacity(hits.len());
        for hit in hits {
            papers.extend(app.store.get(&hit.key)?);
        }
        Ok(pages::search(base, &text, Ok(Some((total, papers)))))
    })
    .await?;
    Ok(html_page(&app, page))
}

/// How many papers a topic's page shows.
const TOPIC_PAGE_PAPERS: usize = 50;

async fn topic_page(
    State(app): State<AppState>,
    Path(topic_id): Path<String>,
) -> Result<Response, AppError> {
    let page = blocking(&app, move |app| {
        let setup = app.live.get();
        let topic = setup
            .config
            .topic(&topic_id)
            .ok_or_else(|| AppError::NotFound(format!("no topic {topic_id:?}")))?;
        let row = topic_row(app, topic)?;
        let papers = app.store.topic_papers(row.id, TOPIC_PAGE_PAPERS)?;
        let learned = topic.examples.as_ref().map(|examples| pages::Learned {
            liked: examples.like.len(),
            min_score: setup.tagger.min_score(&topic.id).unwrap_or(1.0),
        });
        Ok(pages::topic(
            &setup.config.server.base_url,
            &row,
            learned.as_ref(),
            &papers,
        ))
    })
    .await?;
    Ok(html_page(&app, page))
}

async fn opml(State(app): State<AppState>) -> Result<Response, AppError> {
    let body = blocking(&app, |app| {
        let setup = app.live.get();
        let rows = topic_rows(app, &setup.config.topics)?;
        Ok(opml_of(
            &setup.config.server.base_url,
            "paperboy topics",
            &rows,
        ))
    })
    .await?;
    Ok(opml_response(body))
}

/// The OPML of `rows`, dated by the newest paper among them.
fn opml_of(base_url: &str, title: &str, rows: &[pages::TopicRow<'_>]) -> String {
    let created = rows
        .iter()
        .filter_map(|r| r.newest)
        .max()
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    pages::opml(base_url, title, rows, created)
}

fn opml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/x-opml; charset=utf-8")], body).into_response()
}

/// `/groups/<group>`: the group's topics; `/groups/<group>.opml`: their feeds, to subscribe a
/// reader to exactly those. `404` for a group no topic is in.
async fn group(
    State(app): State<AppState>,
    Path(file): Path<String>,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Response, AppError> {
    // Group names are `[a-z0-9-]+`, so a dot can only be the OPML's.
    let (name, is_opml) = match file.strip_suffix(".opml") {
        Some(name) => (name.to_string(), true),
        None => (file, false),
    };
    let body = blocking(&app, move |app| {
        let setup = app.live.get();
        let topics = setup
            .config
            .group(&name)
            .ok_or_else(|| AppError::NotFound(format!("no group {name:?}")))?;
        let base = &setup.config.server.base_url;
        if is_opml {
            let rows = topic_rows(app, topics)?;
            return Ok(opml_of(base, &format!("paperboy topics: {name}"), &rows));
        }
        let filter = filter.text();
        let rows = topic_rows(
            app,
            topics.into_iter().filter(|t| topic_filtered(t, &filter)),
        )?;
        Ok(pages::group(base, &name, &rows, &filter))
    })
    .await?;
    Ok(if is_opml {
        opml_response(body)
    } else {
        html_page(&app, body)
    })
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
    // Give in-flight responses a moment; axum's graceful shutdown waits for them.
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::store::{Op, Row, Store, Tree};

    /// A store whose every read fails, as a store on a failing disk would.
    struct FailingStore;

    impl Store for FailingStore {
        fn get(&self, _: Tree, _: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            Err(StoreError::Io {
                op: "read",
                source: "the disk is gone".into(),
            })
        }
        fn scan(
            &self,
            _: Tree,
            _: &[u8],
            _: Option<&[u8]>,
            _: bool,
            _: usize,
        ) -> Result<Vec<Row>, StoreError> {
            self.get(Tree::Papers, b"").map(|_| Vec::new())
        }
        fn commit(&self, _: &[Op]) -> Result<(), StoreError> {
            Ok(())
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    /// A server's state over `store`, with one topic `t` that takes every paper, and the
    /// directory its index lives in.
    pub(super) fn state_over(store: Arc<dyn Store>) -> (AppState, tempfile::TempDir) {
        let config = crate::config::Config::parse(
            "[[topics]]\nid = \"t\"\nquery = \"*\"\n",
            std::path::Path::new("/"),
            "test",
        )
        .expect("valid config");
        let dir = tempfile::tempdir().expect("temp dir");
        let state = AppState::new(Shared {
            cache_control: HeaderValue::from_static("public, max-age=1"),
            live: Arc::new(Live::new(Arc::new(config))),
            store: Arc::new(PaperStore::new(store)),
            index: Arc::new(SearchIndex::open(&dir.path().join("index")).expect("index")),
            cache: FeedCache::new(1 << 20),
            stats: Stats::default(),
            request_timeout: Duration::from_secs(5),
            hub: websub::Hub::new(None, 1).expect("the hub's client"),
            page_policy: page_policy("http://localhost"),
            renders: tokio::sync::Semaphore::new(2),
        });
        (state, dir)
    }

    /// The status line and body of a GET of `path` from the router over a failing store.
    fn get_from_failing_store(path: &str) -> (String, String) {
        let (state, _dir) = state_over(Arc::new(FailingStore));
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        runtime.spawn(async move { axum::serve(listener, router(state)).await });
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        (
            head.lines().next().unwrap_or_default().to_string(),
            body.to_string(),
        )
    }

    #[test]
    fn the_feed_cache_keeps_a_feed_of_up_to_half_its_budget() {
        let cache = FeedCache::new(64 << 20);
        let key = |n: usize| FormKey {
            feed: (FeedOf::Topic(format!("t{n}")), Format::Atom, None, None),
            generation: (1, 0),
            coding: Coding::Gzip,
        };
        let big = axum::body::Bytes::from(vec![b'x'; 20 << 20]);
        cache.forms.insert(key(0), Form::Compressed(big));
        assert!(cache.forms.get(&key(0)).is_some(), "a 20 MiB form is kept");
        assert!(cache.weight() >= 20 << 20);
        // Past the budget, the least recently used go.
        for n in 1..=8 {
            let form = axum::body::Bytes::from(vec![b'y'; 10 << 20]);
            cache.forms.insert(key(n), Form::Compressed(form));
        }
        assert!(cache.weight() <= 64 << 20, "{} bytes", cache.weight());
    }

    #[test]
    fn a_failing_store_is_a_500_on_every_page_that_reads_it() {
        for path in ["/feeds/t.atom", "/", "/topics/t", "/feeds.opml"] {
            let (status, body) = get_from_failing_store(path);
            assert_eq!(status, "HTTP/1.1 500 Internal Server Error", "{path}");
            assert!(
                body.contains("the store could not be read"),
                "{path}: {body}"
            );
        }
        // Requests that never reach the store keep their own answers.
        let (status, _) = get_from_failing_store("/feeds/nope.atom");
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        let (status, body) = get_from_failing_store("/feeds/t.atom?limit=0");
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        assert!(body.contains("bad limit"), "{body}");
    }
}
