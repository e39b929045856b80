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
}

impl Hub {
    /// The hub of a server listening at `listen`, pushing `deliveries` feeds at once.
    pub(super) fn new(listen: Option<SocketAddr>, deliveries: usize) -> Result<Self, String> {
        Ok(Hub {
            client: hub::client()?,
            listen,
            again: AtomicBool::new(true),
            in_flight: Mutex::default(),
            slots: Arc::new(Semaphore::new(deliveries.max(1))),
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
    let request = hub::parse_request(&body, &config.websub).map_err(AppError::BadRequest)?;
    let feed = feed_of_url(&setup, &request.topic).map_err(AppError::BadRequest)?;
    if is_this_server(&request.callback, &config.server, app.hub.listen) {
        return Err(AppError::BadRequest(format!(
            "hub.callback {} is this server",
            request.callback
        )));
    }
    if request.mode == Mode::Subscribe {
        let (topic, callback) = (request.topic.clone(), request.callback.to_string());
        let (max_total, max_feed) = (config.websub.max_subscriptions, config.websub.max_per_feed);
        blocking(&app, move |app| {
            let all = app.store.subscriptions()?;
            if all
                .iter()
                .any(|s| s.topic == topic && s.callback == callback)
            {
                return Ok(());
            }
            if all.len() >= max_total {
                return Err(AppError::BadRequest(format!(
                    "this hub holds its limit of {max_total} subscriptions"
                )));
            }
            if all.iter().filter(|s| s.topic == topic).count() >= max_feed {
                return Err(AppError::BadRequest(format!(
                    "this feed has its limit of {max_feed} subscribers"
                )));
            }
            Ok(())
        })
        .await?;
    }
    tokio::spawn(verify(app.clone(), request, feed));
    Ok(plain(
        StatusCode::ACCEPTED,
        "accepted: the callback will be asked to confirm with hub.challenge",
    ))
}

/// Verifies a request with its subscriber, then records (or ends) the subscription.
async fn verify(app: AppState, request: HubRequest, feed: CacheKey) {
    let challenge = match hub::challenge() {
        Ok(challenge) => challenge,
        Err(error) => {
            tracing::error!(%error, "cannot verify a WebSub request");
            return;
        }
    };
    if let Err(reason) = hub::verify(&app.hub.client, &request, &challenge).await {
        tracing::info!(callback = %request.callback, topic = %request.topic, %reason, "WebSub {} not verified", request.mode.name());
        return;
    }
    let callback = request.callback.to_string();
    let done = match request.mode {
        Mode::Unsubscribe => {
            let topic = request.topic.clone();
            blocking(&app, move |app| {
                Ok(app.store.remove_subscription(&topic, &callback)?)
            })
            .await
            .map(|_| ())
        }
        Mode::Subscribe => {
            // The subscriber has the feed as it is now: only a change is pushed.
            match cached_feed(&app, app.live.get(), feed).await {
                Ok((_, now)) => {
                    let etag = now.etags[0].0.clone();
                    let topic = request.topic.clone();
                    blocking(&app, move |app| {
                        let before = app.store.subscription(&topic, &callback)?;
                        let subscription = Subscription {
                            topic,
                            callback,
                            secret: request.secret,
                            expires: Utc::now()
                                + chrono::TimeDelta::from_std(request.lease)
                                    .unwrap_or(chrono::TimeDelta::MAX),
                            delivered: before.and_then(|b| b.delivered).or(Some(etag)),
                        };
                        Ok(app.store.put_subscription(&subscription)?)
                    })
                    .await
                }
                Err(error) => Err(error),
            }
        }
    };
    match done {
        Ok(()) => {
            Stats::count(&app.stats.verified);
            tracing::info!(callback = %request.callback, topic = %request.topic, "WebSub {} verified", request.mode.name());
        }
        Err(error) => tracing::error!(?error, "a verified WebSub request could not be recorded"),
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
/// every subscriber whose copy of its feed is not the current one is pushed the feed.
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
    for (url, subscribers) in by_feed {
        let feed = match feed_of_url(setup, &url) {
            Ok(feed) => feed,
            Err(reason) => {
                ended.extend(subscribers.into_iter().map(|s| (s, reason.clone())));
                continue;
            }
        };
        let format = feed.1;
        let (_, current) = cached_feed(app, setup.clone(), feed).await?;
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
                subscriber,
                current.body.clone(),
                format,
                etag.clone(),
                links.clone(),
                key,
            ));
        }
    }
    for (subscription, reason) in ended {
        tracing::info!(callback = %subscription.callback, topic = %subscription.topic, %reason, "WebSub subscription dropped");
        blocking(app, move |app| {
            Ok(app
                .store
                .remove_subscription(&subscription.topic, &subscription.callback)?)
        })
        .await?;
    }
    Ok(())
}

/// Pushes one feed to one subscriber, trying again after `websub.retry_delay`, doubled each
/// time, up to `websub.retries` times; then (or on `410 Gone`) the subscription is dropped.
async fn deliver(
    app: AppState,
    subscriber: Subscription,
    body: axum::body::Bytes,
    format: Format,
    etag: String,
    links: String,
    key: (String, String),
) {
    let config = app.live.get().config.websub.clone();
    let mut delay = config.retry_delay;
    let mut attempt = 0;
    let outcome = loop {
        let pushed = {
            let Ok(_slot) = app.hub.slots.clone().acquire_owned().await else {
                return;
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
                tracing::info!(callback = %subscriber.callback, %reason, "WebSub push failed; trying again in {delay:?}");
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            other => break other,
        }
    };
    let (topic, callback) = (subscriber.topic.clone(), subscriber.callback.clone());
    let recorded = match outcome {
        Pushed::Taken => {
            Stats::count(&app.stats.pushes);
            blocking(&app, move |app| {
                // The subscription as it is now (renewed, maybe), with what was pushed.
                if let Some(mut now) = app.store.subscription(&topic, &callback)? {
                    now.delivered = Some(etag);
                    app.store.put_subscription(&now)?;
                }
                Ok(())
            })
            .await
        }
        Pushed::Gone | Pushed::Failed(_) => {
            if let Pushed::Failed(reason) = &outcome {
                Stats::count(&app.stats.push_failures);
                tracing::warn!(callback = %subscriber.callback, topic = %subscriber.topic, %reason, "WebSub push failed {} times; subscription dropped", attempt + 1);
            } else {
                tracing::info!(callback = %subscriber.callback, topic = %subscriber.topic, "WebSub callback is gone; subscription dropped");
            }
            blocking(&app, move |app| {
                Ok(app
                    .store
                    .remove_subscription(&topic, &callback)
                    .map(|_| ())?)
            })
            .await
        }
    };
    if let Err(error) = recorded {
        tracing::error!(?error, "WebSub: a push's outcome could not be recorded");
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
