//! The WebSub hub's server side: `POST /websub` (a subscription request, checked, answered
//! `202`, then verified with the subscriber in the background), and the distributor, which
//! pushes each subscribed feed to its subscribers whenever it changes: it looks after every
//! change of the store, the index or the config (and at least every few minutes, for leases),
//! renders each subscribed feed once (from the feed cache) and pushes it to every subscriber
//! whose copy has another ETag, a few at a time, with retries and backoff, never in the way
//! of serving or polling. What a subscriber last got is stored with its subscription, so a
//! change made while paperboy was down is pushed after a restart.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use tokio::sync::Semaphore;

use super::{blocking, cached_feed, plain, AppError, AppState, CacheKey, FeedOf, Stats};
use crate::config::ServerConfig;
use crate::live::Setup;
use crate::model::Subscription;
use crate::pipeline::query::Query;
use crate::pipeline::render::Format;
use crate::websub::{self as hub, HubRequest, Mode, Pushed};

/// How often the distributor looks for a change.
const TICK: Duration = Duration::from_millis(250);
/// How often it looks at every subscription even without a change (leases end).
const SWEEP: Duration = Duration::from_secs(300);
/// The largest subscription request body.
pub(super) const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// The hub's state in the server.
pub(super) struct Hub {
    client: reqwest::Client,
    /// Where this server listens, so that it never calls back itself.
    listen: Option<SocketAddr>,
    /// Set when a push ends, so that the feed is looked at again (it may have changed while
    /// the push was under way).
    again: AtomicBool,
    /// Subscriptions (feed, callback) being pushed to now.
    in_flight: Mutex<HashSet<(String, String)>>,
    /// Pushes under way at once.
    slots: Arc<Semaphore>,
    /// Verifications under way at once: each is a request to a URL a client chose.
    verifying: Arc<Semaphore>,
    /// Held while a subscription is read and written back, so that a renewal, an
    /// unsubscription and a push's outcome never overwrite one another.
    writes: tokio::sync::Mutex<()>,
}

/// How many verifications may be under way at once; more requests are `503`.
const VERIFICATIONS: usize = 16;

impl Hub {
    /// The hub of a server listening at `listen`, pushing `deliveries` feeds at once.
    pub(super) fn new(listen: Option<SocketAddr>, deliveries: usize) -> Result<Self, String> {
        Ok(Hub {
            client: hub::client()?,
            listen,
            again: AtomicBool::new(true),
            in_flight: Mutex::default(),
            slots: Arc::new(Semaphore::new(deliveries.max(1))),
            verifying: Arc::new(Semaphore::new(VERIFICATIONS)),
            writes: tokio::sync::Mutex::new(()),
        })
    }
}

/// The feed a `hub.topic` names: a topic's feed (`BASE/feeds/<topic>.<ext>`) or a query's
/// (`BASE/search.<ext>?q=…`), in its canonical form (no `limit` or `before`).
pub(super) fn feed_of_url(setup: &Setup, url: &str) -> Result<CacheKey, String> {
    let base = &setup.config.server.base_url;
    let not_ours = || {
        format!(
            "hub.topic {url:?} is not a feed of this server: use a feed's own URL, \
             {base}/feeds/<topic>.atom (or .rss, .json) or {base}/search.atom?q=QUERY"
        )
    };
    let rest = url.strip_prefix(base.as_str()).ok_or_else(not_ours)?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if let Some(file) = path.strip_prefix("/feeds/") {
        let (topic, format) = Format::split_file_name(file).ok_or_else(not_ours)?;
        if !query.is_empty() {
            return Err(format!(
                "hub.topic {url:?}: subscribe to the feed itself, without a query string"
            ));
        }
        setup
            .config
            .topic(topic)
            .ok_or_else(|| format!("hub.topic {url:?}: no topic {topic:?}"))?;
        return Ok((FeedOf::Topic(topic.to_string()), format, None, None));
    }
    let format = match path {
        "/search.atom" => Format::Atom,
        "/search.rss" => Format::Rss,
        "/search.json" => Format::Json,
        _ => return Err(not_ours()),
    };
    let mut q = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "q" if q.is_none() => q = Some(value.into_owned()),
            "limit" | "before" => {
                return Err(format!(
                    "hub.topic {url:?}: subscribe to the feed itself, without {key}"
                ))
            }
            _ => {}
        }
    }
    let q = q.filter(|q| !q.trim().is_empty()).ok_or_else(not_ours)?;
    Query::parse(&q).map_err(|e| format!("hub.topic {url:?}: bad q: {e}"))?;
    Ok((FeedOf::Search(q), format, None, None))
}

/// The canonical URL of a feed (what its documents and `Link` headers call `self`), which
/// subscriptions are stored and pushed under.
fn canonical_url(setup: &Setup, (of, format, _, _): &CacheKey) -> String {
    let base = &setup.config.server.base_url;
    match of {
        FeedOf::Topic(id) => format!("{base}/feeds/{id}.{}", format.extension()),
        // Not subscribable either: a ranking, not a stream of new papers.
        FeedOf::Ranked(id) => format!("{base}/feeds/{id}.{}?sort=relevance", format.extension()),
        FeedOf::Search(q) => {
            let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
            format!("{base}/search.{}?q={q}", format.extension())
        }
        // Not subscribable (feed_of_url never names one): its own URL, by the paper's key.
        FeedOf::Similar(key) => {
            let key: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
            format!("{base}/papers/{key}/similar.{}", format.extension())
        }
    }
}

/// Whether `callback` would reach this server itself: its public address, or its listening
/// port on a loopback or unspecified address.
fn is_this_server(callback: &url::Url, server: &ServerConfig, listen: Option<SocketAddr>) -> bool {
    let port = callback.port_or_known_default();
    if let Ok(base) = url::Url::parse(&server.base_url) {
        if base.host_str() == callback.host_str() && base.port_or_known_default() == port {
            return true;
        }
    }
    let local = match callback.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => false,
    };
    let ports = [Some(server.listen.port()), listen.map(|l| l.port())];
    local && ports.contains(&port)
}

/// `POST /websub`: a subscription request. Checked at once (`400` with the reason), answered
/// `202 Accepted`, then verified with the subscriber in the background: the subscription
/// exists only once its callback has echoed the challenge.
pub(super) async fn request(
    State(app): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let setup = app.live.get();
    let config = &setup.config;
    let mut request = hub::parse_request(&body, &config.websub).map_err(AppError::BadRequest)?;
    let feed = feed_of_url(&setup, &request.topic).map_err(AppError::BadRequest)?;
    request.topic = canonical_url(&setup, &feed);
    if is_this_server(&request.callback, &config.server, app.hub.listen) {
        return Err(AppError::BadRequest(format!(
            "hub.callback {} is this server",
            request.callback
        )));
    }
    if !config.websub.allow_private_callbacks && hub::is_private_host(&request.callback) {
        return Err(AppError::BadRequest(format!(
            "hub.callback {} is a loopback, private or link-local address; this hub pushes \
             to public addresses only (websub.allow_private_callbacks)",
            request.callback
        )));
    }
    let (topic, callback) = (request.topic.clone(), request.callback.to_string());
    let mode = request.mode;
    let websub = config.websub.clone();
    blocking(&app, move |app| match mode {
        Mode::Subscribe => within_limits(app, &topic, &callback, &websub),
        Mode::Unsubscribe => match app.store.subscription(&topic, &callback)? {
            Some(_) => Ok(()),
            None => Err(AppError::BadRequest(
                "no such subscription: this callback is not subscribed to this feed".into(),
            )),
        },
    })
    .await?;
    let Ok(slot) = app.hub.verifying.clone().try_acquire_owned() else {
        return Ok(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many subscription requests are being verified; try again shortly",
        ));
    };
    tokio::spawn(async move {
        verify(app.clone(), request, feed).await;
        drop(slot);
    });
    Ok(plain(
        StatusCode::ACCEPTED,
        "accepted: the callback will be asked to confirm with hub.challenge",
    ))
}

/// Whether one more subscription, of `callback` to `topic`, fits the limits (renewing one
/// that exists always does).
fn within_limits(
    app: &AppState,
    topic: &str,
    callback: &str,
    websub: &crate::config::WebSubConfig,
) -> Result<(), AppError> {
    let all = app.store.subscriptions()?;
    if all
        .iter()
        .any(|s| s.topic == topic && s.callback == callback)
    {
        return Ok(());
    }
    if all.len() >= websub.max_subscriptions {
        return Err(AppError::BadRequest(format!(
            "this hub holds its limit of {} subscriptions",
            websub.max_subscriptions
        )));
    }
    if all.iter().filter(|s| s.topic == topic).count() >= websub.max_per_feed {
        return Err(AppError::BadRequest(format!(
            "this feed has its limit of {} subscribers",
            websub.max_per_feed
        )));
    }
    Ok(())
}

/// Where a callback points, for logs: its host only (the rest may be a capability).
fn host_of(callback: &str) -> String {
    url::Url::parse(callback)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// Verifies a request with its subscriber, then records (or ends) the subscription.
async fn verify(app: AppState, request: HubRequest, feed: CacheKey) {
    let host = request.callback.host_str().unwrap_or_default().to_string();
    let challenge = match hub::challenge() {
        Ok(challenge) => challenge,
        Err(error) => {
            tracing::error!(%error, "cannot verify a WebSub request");
            return;
        }
    };
    if let Err(reason) = hub::verify(&app.hub.client, &request, &challenge).await {
        // The reason may quote the callback URL (and the challenge): not logged whole.
        let reason = reason.replace(request.callback.as_str(), &host);
        tracing::info!(callback = %host, topic = %request.topic, %reason, "WebSub {} not verified", request.mode.name());
        return;
    }
    // What the subscriber has now: only a change is pushed. Without it (the feed could not be
    // rendered just now), the next look pushes the feed once.
    let current = match request.mode {
        Mode::Subscribe => cached_feed(&app, app.live.get(), feed)
            .await
            .ok()
            .map(|(_, now)| now.etags[0].0.clone()),
        Mode::Unsubscribe => None,
    };
    let websub = app.live.get().config.websub.clone();
    let _writing = app.hub.writes.lock().await;
    let (topic, callback) = (request.topic.clone(), request.callback.to_string());
    let mode = request.mode;
    let done = blocking(&app, move |app| match mode {
        Mode::Unsubscribe => Ok(app
            .store
            .remove_subscription(&topic, &callback)
            .map(|_| ())?),
        Mode::Subscribe => {
            // The limits again: other requests may have been verified meanwhile.
            within_limits(app, &topic, &callback, &websub)?;
            let before = app.store.subscription(&topic, &callback)?;
            let subscription = Subscription {
                topic,
                callback,
                secret: request.secret,
                expires: Utc::now()
                    + chrono::TimeDelta::from_std(request.lease).unwrap_or(chrono::TimeDelta::MAX),
                delivered: before.and_then(|b| b.delivered).or(current),
            };
            Ok(app.store.put_subscription(&subscription)?)
        }
    })
    .await;
    match done {
        Ok(()) => {
            Stats::count(&app.stats.verified);
            tracing::info!(callback = %host, topic = %request.topic, "WebSub {} verified", mode.name());
        }
        Err(error) => {
            tracing::warn!(?error, callback = %host, "a verified WebSub request could not be recorded");
        }
    }
}

/// Pushes every subscribed feed to its subscribers when it changes, until the task is
/// aborted.
pub(super) async fn distribute(app: AppState) {
    let mut seen = None;
    let mut swept = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(TICK).await;
        let setup = app.live.get();
        let now = (app.store.generation(), app.index.generation(), setup.epoch);
        let again = app.hub.again.swap(false, Ordering::AcqRel);
        if seen == Some(now) && !again && swept.elapsed() < SWEEP {
            continue;
        }
        seen = Some(now);
        swept = tokio::time::Instant::now();
        if let Err(error) = round(&app, &setup).await {
            tracing::warn!(
                ?error,
                "WebSub: looking for changed feeds failed; trying again"
            );
            app.hub.again.store(true, Ordering::Release);
        }
    }
}

/// One look at every subscription: ended leases and feeds that no longer exist are dropped;
/// every subscriber whose copy of its feed is not the current one is pushed the feed. A feed
/// that cannot be rendered now is skipped (and looked at again soon), not the others.
async fn round(app: &AppState, setup: &Arc<Setup>) -> Result<(), AppError> {
    let subscriptions = blocking(app, |app| Ok(app.store.subscriptions()?)).await?;
    let now = Utc::now();
    let mut by_feed: BTreeMap<String, Vec<Subscription>> = BTreeMap::new();
    let mut ended = Vec::new();
    for subscription in subscriptions {
        if subscription.expires <= now {
            ended.push((subscription, "its lease ended".to_string()));
        } else {
            by_feed
                .entry(subscription.topic.clone())
                .or_default()
                .push(subscription);
        }
    }
    for (subscription, reason) in ended {
        drop_subscription(app, &subscription, &reason).await;
    }
    let mut failed = false;
    for (url, subscribers) in by_feed {
        let feed = match feed_of_url(setup, &url) {
            Ok(feed) => feed,
            Err(reason) => {
                for subscription in subscribers {
                    drop_subscription(app, &subscription, &reason).await;
                }
                continue;
            }
        };
        let format = feed.1;
        let current = match cached_feed(app, setup.clone(), feed).await {
            Ok((_, current)) => current,
            Err(error) => {
                tracing::warn!(feed = %url, ?error, "WebSub: the feed could not be rendered; pushing it later");
                failed = true;
                continue;
            }
        };
        let etag = &current.etags[0].0;
        let links = format!(
            "<{}/websub>; rel=\"hub\", <{url}>; rel=\"self\"",
            setup.config.server.base_url
        );
        for subscriber in subscribers {
            if subscriber.delivered.as_deref() == Some(etag.as_str()) {
                continue;
            }
            let key = (subscriber.topic.clone(), subscriber.callback.clone());
            if !app
                .hub
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key.clone())
            {
                continue;
            }
            tokio::spawn(deliver(
                app.clone(),
                key,
                current.body.clone(),
                format,
                etag.clone(),
                links.clone(),
            ));
        }
    }
    if failed {
        app.hub.again.store(true, Ordering::Release);
    }
    Ok(())
}

/// Removes `seen` for `reason`, unless it changed since it was read (renewed, say).
async fn drop_subscription(app: &AppState, seen: &Subscription, reason: &str) {
    let _writing = app.hub.writes.lock().await;
    let seen_now = seen.clone();
    let dropped = blocking(app, move |app| {
        let now = app
            .store
            .subscription(&seen_now.topic, &seen_now.callback)?;
        if now.as_ref().map(|s| s.expires) == Some(seen_now.expires) {
            app.store
                .remove_subscription(&seen_now.topic, &seen_now.callback)?;
            return Ok(true);
        }
        Ok(false)
    })
    .await;
    match dropped {
        Ok(true) => {
            tracing::info!(callback = %host_of(&seen.callback), topic = %seen.topic, %reason, "WebSub subscription dropped");
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(?error, "WebSub: a subscription could not be dropped"),
    }
}

/// Pushes one feed to one subscriber, trying again after `websub.retry_delay`, doubled each
/// time, up to `websub.retries` times; then (or on `410 Gone`) the subscription is dropped.
/// Before each try the subscription is read again: one that ended, or that already has this
/// version of the feed, gets nothing, and a renewed one is signed with its new secret.
async fn deliver(
    app: AppState,
    key: (String, String),
    body: axum::body::Bytes,
    format: Format,
    etag: String,
    links: String,
) {
    let config = app.live.get().config.websub.clone();
    let host = host_of(&key.1);
    let mut delay = config.retry_delay;
    let mut attempt = 0;
    let outcome = loop {
        let (topic, callback) = key.clone();
        let now = blocking(&app, move |app| {
            Ok(app.store.subscription(&topic, &callback)?)
        })
        .await;
        let subscriber = match now {
            Ok(Some(s)) if s.delivered.as_deref() != Some(etag.as_str()) => s,
            Ok(_) => break None,
            Err(error) => {
                tracing::warn!(?error, "WebSub: a subscription could not be read");
                break None;
            }
        };
        let pushed = {
            let Ok(_slot) = app.hub.slots.clone().acquire_owned().await else {
                break None;
            };
            hub::push(
                &app.hub.client,
                &subscriber,
                body.clone(),
                format.content_type(),
                &links,
            )
            .await
        };
        match pushed {
            Pushed::Failed(reason) if attempt < config.retries => {
                Stats::count(&app.stats.push_failures);
                let reason = reason.replace(&subscriber.callback, &host);
                tracing::info!(callback = %host, %reason, "WebSub push failed; trying again in {delay:?}");
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            other => break Some((subscriber, other)),
        }
    };
    match outcome {
        None => {}
        Some((_, Pushed::Taken)) => {
            Stats::count(&app.stats.pushes);
            let _writing = app.hub.writes.lock().await;
            let (topic, callback) = key.clone();
            let recorded = blocking(&app, move |app| {
                // The subscription as it is now (renewed, maybe), with what was pushed.
                if let Some(mut now) = app.store.subscription(&topic, &callback)? {
                    now.delivered = Some(etag);
                    app.store.put_subscription(&now)?;
                }
                Ok(())
            })
            .await;
            if let Err(error) = recorded {
                tracing::warn!(?error, "WebSub: a push's outcome could not be recorded");
            }
        }
        Some((subscriber, Pushed::Gone)) => {
            drop_subscription(&app, &subscriber, "the callback answered 410 Gone").await;
        }
        Some((subscriber, Pushed::Failed(reason))) => {
            Stats::count(&app.stats.push_failures);
            let reason = format!(
                "{} tries failed, the last: {}",
                attempt + 1,
                reason.replace(&subscriber.callback, &host)
            );
            drop_subscription(&app, &subscriber, &reason).await;
        }
    }
    app.hub
        .in_flight
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&key);
    app.hub.again.store(true, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_topic_must_be_one_of_this_servers_feeds() {
        let config = crate::config::Config::parse(
            "[server]\nbase_url = \"http://feeds.example.org\"\nlisten = \"127.0.0.1:8080\"\n\
             [[topics]]\nid = \"graphs\"\nquery = \"graph*\"\n",
            std::path::Path::new("/"),
            "test",
        )
        .unwrap();
        let live = crate::live::Live::new(Arc::new(config.clone()));
        let setup = live.get();
        let ok = |url: &str| feed_of_url(&setup, url).map(|k| (k.0, k.1));
        assert_eq!(
            ok("http://feeds.example.org/feeds/graphs.rss"),
            Ok((FeedOf::Topic("graphs".into()), Format::Rss))
        );
        assert_eq!(
            ok("http://feeds.example.org/search.json?q=ti%3Agraph"),
            Ok((FeedOf::Search("ti:graph".into()), Format::Json))
        );
        for (url, reason) in [
            (
                "http://elsewhere.org/feeds/graphs.atom",
                "not a feed of this server",
            ),
            ("http://feeds.example.org/feeds/nope.atom", "no topic"),
            (
                "http://feeds.example.org/feeds/graphs.atom?limit=5",
                "without a query string",
            ),
            (
                "http://feeds.example.org/search.atom?q=a&limit=5",
                "without limit",
            ),
            ("http://feeds.example.org/search.atom?q=(a", "bad q"),
            (
                "http://feeds.example.org/search.atom",
                "not a feed of this server",
            ),
            (
                "http://feeds.example.org/topics/graphs",
                "not a feed of this server",
            ),
        ] {
            let err = ok(url).expect_err(url);
            assert!(err.contains(reason), "{url}: {err}");
        }

        let this = |callback: &str, listen: Option<SocketAddr>| {
            is_this_server(&url::Url::parse(callback).unwrap(), &config.server, listen)
        };
        assert!(this("http://feeds.example.org/cb", None));
        assert!(this("http://127.0.0.1:8080/cb", None));
        assert!(this("http://localhost:8080/cb", None));
        assert!(this(
            "http://[::1]:9000/cb",
            Some("0.0.0.0:9000".parse().unwrap())
        ));
        assert!(!this(
            "http://127.0.0.1:9001/cb",
            Some("0.0.0.0:9000".parse().unwrap())
        ));
        assert!(!this("https://reader.example.net/cb", None));
    }
}
