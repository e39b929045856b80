//! The HTTP server (axum on hyper): topic feeds with conditional GET, the index page, a health
//! check; and `serve`, which runs the server beside one background poller per source. This is
//! the only async edge that faces readers; everything it renders comes from the pure core.

mod conditional;
mod listener;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::ingest::Ingestor;
use crate::pipeline::identity::hex;
use crate::pipeline::render::{self, FeedMeta, Format};
use crate::store::{PaperStore, StoreError};

/// Entries in a feed when the request does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most entries one feed request may ask for.
pub const MAX_LIMIT: usize = 500;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<PaperStore>,
    pub cache: Arc<FeedCache>,
    pub stats: Arc<Stats>,
    /// `Cache-Control` of feed responses, built once from `server.max_age`.
    pub cache_control: HeaderValue,
}

/// Counters an operator (or a test) reads at `/metrics`.
#[derive(Default)]
pub struct Stats {
    feeds_ok: std::sync::atomic::AtomicU64,
    feeds_not_modified: std::sync::atomic::AtomicU64,
    renders: std::sync::atomic::AtomicU64,
}

impl Stats {
    fn count(counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The counters in Prometheus' text format.
    fn render(&self) -> String {
        let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        format!(
            "# HELP paperboy_feed_responses_total Feed responses by status code.\n\
             # TYPE paperboy_feed_responses_total counter\n\
             paperboy_feed_responses_total{{code=\"200\"}} {}\n\
             paperboy_feed_responses_total{{code=\"304\"}} {}\n\
             # HELP paperboy_feed_renders_total Feeds rendered (the rest come from the cache).\n\
             # TYPE paperboy_feed_renders_total counter\n\
             paperboy_feed_renders_total {}\n",
            get(&self.feeds_ok),
            get(&self.feeds_not_modified),
            get(&self.renders)
        )
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    let request_timeout = state.config.server.request_timeout;
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/feeds/{file}", get(feed))
        .route("/feeds.opml", get(opml))
        .route(
            "/metrics",
            get(|State(app): State<AppState>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    app.stats.render(),
                )
            }),
        )
        .route("/topics/{topic}", get(topic_page))
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: use GET or HEAD",
            )
        })
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .with_state(state)
}

/// Serves HTTP on `listener` and polls every source in the background (first poll at once,
/// then when each source's schedule says) until `shutdown` completes. Then it stops accepting,
/// lets requests in flight finish (for up to `server.shutdown_timeout`), lets a poller that is
/// writing finish its write (a poller that is waiting, fetching or parsing stops at once with
/// nothing written), and flushes the store.
pub async fn serve(
    config: Arc<Config>,
    store: Arc<PaperStore>,
    ingestor: Ingestor,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop, stop_seen) = tokio::sync::watch::channel(false);
    let mut pollers = tokio::task::JoinSet::new();
    for source in config.sources.clone() {
        pollers.spawn(poll_forever(ingestor.clone(), source, stop_seen.clone()));
    }
    let app = router(AppState {
        config: config.clone(),
        store: store.clone(),
        cache: Arc::default(),
        stats: Arc::default(),
        cache_control: HeaderValue::from_str(&format!("public, max-age={}", config.server.max_age))
            .unwrap_or(HeaderValue::from_static("public, max-age=900")),
    });
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "serving");
    let stopping_at = Arc::new(std::sync::OnceLock::new());
    let signal = {
        let stopping_at = stopping_at.clone();
        async move {
            shutdown.await;
            stopping_at.get_or_init(tokio::time::Instant::now);
            tracing::info!("shutting down: no new connections; finishing requests and writes");
            // The pollers hold receivers until they end; with none left there is no one to tell.
            let _ = stop.send(true);
        }
    };
    // Connections drain here while the pollers stop, both within `shutdown_timeout`.
    listener::run(listener, app, &config.server, signal).await;
    let deadline = stopping_at
        .get()
        .copied()
        .unwrap_or_else(tokio::time::Instant::now)
        + config.server.shutdown_timeout;
    let drained = tokio::time::timeout_at(deadline, async {
        while pollers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // A poller left now is writing a batch: that write is finished, never cut short, so
        // that what a source reported is what the store holds.
        tracing::warn!(
            "a source's papers are still being written after {:?}; waiting for that write",
            config.server.shutdown_timeout
        );
        while pollers.join_next().await.is_some() {}
    }
    // Every write has finished; make them durable.
    store.flush()?;
    tracing::info!("store flushed; stopped");
    Ok(())
}

/// Polls one source on its schedule until told to stop or the source is gone.
async fn poll_forever(
    ingestor: Ingestor,
    source: crate::config::SourceConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let next = match ingestor.poll_unless(&source, stopped(stop.clone())).await {
            Ok(Some(report)) => {
                tracing::info!("{report}");
                report.next_poll
            }
            Ok(None) => return,
            Err(e) => {
                tracing::error!(source = %source.id, "store error while polling: {e}");
                Some(
                    chrono::Utc::now()
                        + chrono::Duration::from_std(source.every)
                            .unwrap_or(chrono::Duration::hours(1)),
                )
            }
        };
        // None: the source is gone; its poller stops until the config changes.
        let Some(next) = next else { return };
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = stopped(stop.clone()) => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Completes once shutdown has begun.
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens once shutdown has begun.
    let _ = stop.wait_for(|stopping| *stopping).await;
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
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A short plain-text response.
fn plain(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{body}\n"),
    )
        .into_response()
}

/// The one place store errors become HTTP responses.
fn store_failure(error: StoreError) -> Response {
    tracing::error!("store error while serving: {error}");
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: the store could not be read",
    )
}

/// What a feed request asks for, from its query string.
struct FeedParams {
    limit: usize,
    before: Option<Vec<u8>>,
}

/// `limit` (1..=MAX, default DEFAULT) and `before` (a cursor from a `next` link); anything
/// else malformed is a 400. Unknown parameters are ignored, as caches and readers add some.
fn parse_params(query: Option<&str>) -> Result<FeedParams, String> {
    let mut params = FeedParams {
        limit: DEFAULT_LIMIT,
        before: None,
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "limit" => {
                params.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "bad limit {value:?}: expected a whole number from 1 to {MAX_LIMIT}"
                        )
                    })?;
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

fn decode_cursor(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || text.len() % 2 != 0 || text.len() > 2048 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A cached feed's topic, format, limit and page cursor.
type CacheKey = (usize, Format, usize, Option<Vec<u8>>);

/// A rendered feed, ready to send: the body and its validators as header values, built once.
#[derive(Clone)]
struct CachedFeed {
    generation: u64,
    body: axum::body::Bytes,
    etag: String,
    last_modified: chrono::DateTime<chrono::Utc>,
    etag_header: HeaderValue,
    last_modified_header: HeaderValue,
}

impl CachedFeed {
    fn new(generation: u64, rendered: render::Rendered) -> Self {
        let header =
            |text: &str| HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""));
        CachedFeed {
            generation,
            etag_header: header(&rendered.etag),
            last_modified_header: header(&conditional::http_date(rendered.last_modified)),
            etag: rendered.etag,
            last_modified: rendered.last_modified,
            body: rendered.bytes.into(),
        }
    }
}

/// Rendered feeds by (topic, format, limit, cursor): rendering happens once per topic, format
/// and page per change of the store; requests are answered from the cached bytes.
#[derive(Default)]
pub struct FeedCache {
    entries: std::sync::Mutex<std::collections::HashMap<CacheKey, CachedFeed>>,
}

/// How many rendered feeds the cache keeps before it starts afresh.
const CACHE_ENTRIES: usize = 4096;

async fn feed(
    State(app): State<AppState>,
    Path(file): Path<String>,
    // The request itself, read by reference: extracting the query and headers separately
    // would copy them on every poll.
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers();
    let Some((topic_id, format)) = Format::split_file_name(&file) else {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: feeds are /feeds/<topic>.atom, .rss or .json",
        );
    };
    let Some(topic_index) = app.config.topics.iter().position(|t| t.id == topic_id) else {
        return plain(StatusCode::NOT_FOUND, &format!("no topic {topic_id:?}"));
    };
    let topic = &app.config.topics[topic_index];
    let params = match parse_params(request.uri().query()) {
        Ok(params) => params,
        Err(message) => return plain(StatusCode::BAD_REQUEST, &message),
    };
    let key = (topic_index, format, params.limit, params.before.clone());
    let generation = app.store.generation();
    let cached = app
        .cache
        .entries
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .filter(|c| c.generation == generation)
        .cloned();
    let feed = match cached {
        Some(c) => c,
        None => {
            let (papers, next) =
                match app
                    .store
                    .topic_page(&topic.id, params.before.as_deref(), params.limit)
                {
                    Ok(page) => page,
                    Err(e) => return store_failure(e),
                };
            let base = &app.config.server.base_url;
            let feed_url = format!("{base}/feeds/{}.{}", topic.id, format.extension());
            let limit = if params.limit == DEFAULT_LIMIT {
                String::new()
            } else {
                format!("&limit={}", params.limit)
            };
            let self_url = match &params.before {
                Some(cursor) => format!("{feed_url}?before={}{limit}", hex(cursor)),
                None if limit.is_empty() => feed_url.clone(),
                None => format!("{feed_url}?{}", &limit[1..]),
            };
            let next_url = next.map(|cursor| format!("{feed_url}?before={}{limit}", hex(&cursor)));
            let page_url = format!("{base}/topics/{}", topic.id);
            let meta = FeedMeta {
                topic_id: &topic.id,
                title: &topic.title,
                query: &topic.query_text,
                self_url: &self_url,
                page_url: &page_url,
                next_url: next_url.as_deref(),
            };
            Stats::count(&app.stats.renders);
            let rendered = format.render(&meta, &papers);
            let feed = CachedFeed::new(generation, rendered);
            let mut entries = app.cache.entries.lock().unwrap_or_else(|p| p.into_inner());
            if entries.len() >= CACHE_ENTRIES {
                entries.clear();
            }
            entries.insert(key, feed.clone());
            feed
        }
    };
    let mut response_headers = HeaderMap::with_capacity(5);
    response_headers.insert(header::ETAG, feed.etag_header.clone());
    response_headers.insert(header::LAST_MODIFIED, feed.last_modified_header.clone());
    response_headers.insert(header::CACHE_CONTROL, app.cache_control.clone());
    if conditional::not_modified(headers, &feed.etag, feed.last_modified, chrono::Utc::now()) {
        Stats::count(&app.stats.feeds_not_modified);
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    Stats::count(&app.stats.feeds_ok);
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    (StatusCode::OK, response_headers, feed.body).into_response()
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
            .map(|p| p.updated()),
    })
}

/// Every configured topic with its count and newest date.
fn topic_rows(app: &AppState) -> Result<Vec<pages::TopicRow<'_>>, StoreError> {
    app.config
        .topics
        .iter()
        .map(|t| topic_row(app, t))
        .collect()
}

async fn index(State(app): State<AppState>) -> Response {
    let topics = match topic_rows(&app) {
        Ok(rows) => rows,
        Err(e) => return store_failure(e),
    };
    let mut sources = Vec::with_capacity(app.config.sources.len());
    for s in &app.config.sources {
        let state = match app.store.source_state(&s.id) {
            Ok(state) => state,
            Err(e) => return store_failure(e),
        };
        sources.push(pages::SourceRow {
            id: &s.id,
            kind: s.kind.name(),
            url: &s.url,
            state,
        });
    }
    Html(pages::index(&app.config.server.base_url, &topics, &sources)).into_response()
}

/// How many papers a topic's page shows.
const TOPIC_PAGE_PAPERS: usize = 50;

async fn topic_page(State(app): State<AppState>, Path(topic_id): Path<String>) -> Response {
    let Some(topic) = app.config.topic(&topic_id) else {
        return plain(StatusCode::NOT_FOUND, &format!("no topic {topic_id:?}"));
    };
    let row = match topic_row(&app, topic) {
        Ok(row) => row,
        Err(e) => return store_failure(e),
    };
    let papers = match app.store.topic_papers(row.id, TOPIC_PAGE_PAPERS) {
        Ok(papers) => papers,
        Err(e) => return store_failure(e),
    };
    Html(pages::topic(&app.config.server.base_url, &row, &papers)).into_response()
}

async fn opml(State(app): State<AppState>) -> Response {
    let rows = match topic_rows(&app) {
        Ok(rows) => rows,
        Err(e) => return store_failure(e),
    };
    let created = rows
        .iter()
        .filter_map(|r| r.newest)
        .max()
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    (
        [(header::CONTENT_TYPE, "text/x-opml; charset=utf-8")],
        pages::opml(&app.config.server.base_url, &rows, created),
    )
        .into_response()
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
