//! The HTTP server (axum on hyper): topic feeds with conditional GET, the index page, a health
//! check; and `serve`, which runs the server beside one background poller per source. This is
//! the only async edge that faces readers; everything it renders comes from the pure core.

mod conditional;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::ingest::Ingestor;
use crate::pipeline::render::{self, FeedMeta};
use crate::store::{PaperStore, StoreError};

/// Entries in a feed when the request does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most entries one feed request may ask for.
pub const MAX_LIMIT: usize = 500;
/// `Cache-Control: max-age` for feeds, in seconds.
pub const MAX_AGE: u64 = 900;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<PaperStore>,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/feeds/{file}", get(feed))
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

/// Serves HTTP on `listener` and polls every source in the background (first poll at once,
/// then every source's `every`) until `shutdown` completes; then flushes the store.
pub async fn serve(
    config: Arc<Config>,
    store: Arc<PaperStore>,
    ingestor: Ingestor,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut pollers = tokio::task::JoinSet::new();
    for source in config.sources.clone() {
        let ingestor = ingestor.clone();
        pollers.spawn(async move {
            loop {
                match ingestor.poll(&source).await {
                    Ok(report) => tracing::info!("{report}"),
                    Err(e) => {
                        tracing::error!(source = %source.id, "store error while polling: {e}")
                    }
                }
                tokio::time::sleep(source.every).await;
            }
        });
    }
    let app = router(AppState {
        config: config.clone(),
        store: store.clone(),
    });
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "serving");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    pollers.abort_all();
    while pollers.join_next().await.is_some() {}
    store.flush()?;
    served.map_err(ServeError::Io)
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
    #[error("server error: {0}")]
    Io(#[source] std::io::Error),
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

/// `limit` from the query string: absent means the default; anything but 1..=MAX is a 400.
fn parse_limit(query: Option<&str>) -> Result<usize, String> {
    let mut limit = DEFAULT_LIMIT;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key == "limit" {
            limit = value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    format!("bad limit {value:?}: expected a whole number from 1 to {MAX_LIMIT}")
                })?;
        }
    }
    Ok(limit)
}

async fn feed(
    State(app): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(topic_id) = file.strip_suffix(".atom") else {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: feeds are /feeds/<topic>.atom",
        );
    };
    let Some(topic) = app.config.topic(topic_id) else {
        return plain(StatusCode::NOT_FOUND, &format!("no topic {topic_id:?}"));
    };
    let limit = match parse_limit(query.as_deref()) {
        Ok(limit) => limit,
        Err(message) => return plain(StatusCode::BAD_REQUEST, &message),
    };
    let papers = match app.store.topic_papers(&topic.id, limit) {
        Ok(papers) => papers,
        Err(e) => return store_failure(e),
    };
    let base = &app.config.server.base_url;
    let self_url = format!("{base}/feeds/{}.atom", topic.id);
    let page_url = format!("{base}/");
    let rendered = render::atom(
        &FeedMeta {
            topic_id: &topic.id,
            title: &topic.title,
            query: &topic.query_text,
            self_url: &self_url,
            page_url: &page_url,
        },
        &papers,
    );
    let mut response_headers = HeaderMap::new();
    let mut set = |name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            response_headers.insert(name, v);
        }
    };
    set(header::ETAG, &rendered.etag);
    set(
        header::LAST_MODIFIED,
        &conditional::http_date(rendered.last_modified),
    );
    set(header::CACHE_CONTROL, &format!("public, max-age={MAX_AGE}"));
    if conditional::not_modified(
        &headers,
        &rendered.etag,
        rendered.last_modified,
        chrono::Utc::now(),
    ) {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    set(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8");
    (StatusCode::OK, response_headers, rendered.bytes).into_response()
}

async fn index(State(app): State<AppState>) -> Response {
    let config = &app.config;
    let mut topics = Vec::with_capacity(config.topics.len());
    for t in &config.topics {
        let count = match app.store.topic_count(&t.id) {
            Ok(c) => c,
            Err(e) => return store_failure(e),
        };
        let newest = match app.store.topic_papers(&t.id, 1) {
            Ok(p) => p.first().map(|p| p.updated()),
            Err(e) => return store_failure(e),
        };
        topics.push(pages::TopicRow {
            id: &t.id,
            title: &t.title,
            query: &t.query_text,
            count,
            newest,
        });
    }
    let mut sources = Vec::with_capacity(config.sources.len());
    for s in &config.sources {
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
    Html(pages::index(&config.server.base_url, &topics, &sources)).into_response()
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
