//! WebSub through the real binary: subscribers on 127.0.0.1 subscribe to a topic's feed, are
//! verified with a challenge, and are pushed the new feed (signed with their secret) after a
//! poll adds papers, also after a restart between subscribing and the poll; an unsubscribed
//! callback, or one that did not echo the challenge, is pushed nothing; a failing callback is
//! tried again and then dropped.

mod common;

use std::net::SocketAddr;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use hmac::Mac;

use common::{generated_feed, metric, run, wait_for, Serve};

/// What a subscriber's callback was sent.
#[derive(Debug, Clone)]
enum Event {
    /// A verification `GET`, with its `hub.mode`.
    Verify(String),
    /// A push: its headers and body.
    Push(HeaderMap, Vec<u8>),
}

type Events = Arc<Mutex<Vec<(String, Event)>>>;

/// Callbacks: `/echo/<name>` echoes the challenge and takes pushes; `/silent/<name>` answers
/// verifications without the challenge; `/failing/<name>` echoes but answers pushes with 500.
fn subscriber() -> (SocketAddr, Events) {
    let events: Events = Arc::default();
    let app = Router::new()
        .route(
            "/{kind}/{name}",
            get(
                |State(events): State<Events>,
                 UrlPath((kind, name)): UrlPath<(String, String)>,
                 Query(query): Query<std::collections::HashMap<String, String>>| async move {
                    let mode = query.get("hub.mode").cloned().unwrap_or_default();
                    events.lock().unwrap().push((name, Event::Verify(mode)));
                    let challenge = query.get("hub.challenge").cloned().unwrap_or_default();
                    if kind == "silent" {
                        "I did not ask for this".to_string()
                    } else {
                        challenge
                    }
                },
            )
            .post(
                |State(events): State<Events>,
                 UrlPath((kind, name)): UrlPath<(String, String)>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    events
                        .lock()
                        .unwrap()
                        .push((name, Event::Push(headers, body.to_vec())));
                    if kind == "failing" {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                },
            ),
        )
        .with_state(events.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
    });
    (addr, events)
}

fn pushes(events: &Events, name: &str) -> Vec<(HeaderMap, Vec<u8>)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == name)
        .filter_map(|(_, e)| match e {
            Event::Push(h, b) => Some((h.clone(), b.clone())),
            Event::Verify(_) => None,
        })
        .collect()
}

fn verifications(events: &Events, name: &str) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == name)
        .filter_map(|(_, e)| match e {
            Event::Verify(mode) => Some(mode.clone()),
            Event::Push(..) => None,
        })
        .collect()
}

/// The test's paperboy: file sources (one per day so far), one topic, quick retries.
struct Instance {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    days: Vec<String>,
}

impl Instance {
    fn new() -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("paperboy.toml");
        let log = dir.path().join("serve.log");
        let mut instance = Instance {
            dir,
            config,
            log,
            days: Vec::new(),
        };
        instance.add_day(20);
        let out = run(&instance.config, &["ingest"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        instance
    }

    /// A new source with `count` new papers; a running serve polls it after a SIGHUP.
    fn add_day(&mut self, count: usize) {
        let day = format!("day{}", self.days.len());
        let first = 1000 * (self.days.len() + 1);
        std::fs::write(
            self.dir.path().join(format!("{day}.xml")),
            generated_feed(first, count),
        )
        .unwrap();
        self.days.push(day);
        let mut text = format!(
            "[server]\nbase_url = \"{PUBLIC}\"\n\n[store]\npath = \"store.sled\"\n\n\
             [websub]\nretries = 2\nretry_delay = \"50ms\"\nallow_private_callbacks = true\n\n"
        );
        for id in &self.days {
            text.push_str(&format!(
                "[[sources]]\nid = \"{id}\"\nkind = \"feed\"\nurl = \"file://{id}.xml\"\n\n"
            ));
        }
        text.push_str("[[topics]]\nid = \"graphs\"\nquery = 'graph*'\n");
        std::fs::write(&self.config, text).unwrap();
    }

    fn serve(&self) -> Serve {
        Serve::start_logged(&self.config, &self.log)
    }
}

/// The instance's public address (`server.base_url`), which feeds' URLs and `hub.topic` use;
/// requests go to where it listens.
const PUBLIC: &str = "http://feeds.example.org";

fn hub_post(serve: &Serve, form: &[(&str, &str)]) -> common::Reply {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    common::post_form(&format!("{}/websub", serve.base), &body)
}

#[test]
fn subscribers_are_verified_pushed_signed_feeds_and_dropped_when_they_fail() {
    let (addr, events) = subscriber();
    let callback = |kind: &str, name: &str| format!("http://{addr}/{kind}/{name}");
    let mut instance = Instance::new();
    let serve = instance.serve();
    // The feed's URL (what subscribers name), and where this test reads it.
    let feed_url = format!("{PUBLIC}/feeds/graphs.atom");
    let served = format!("{}/feeds/graphs.atom", serve.base);

    // Discovery: the hub in the document and in Link headers, in every format.
    let feed = common::get(&served);
    let links = feed.header("link").expect("a Link header");
    assert!(
        links.contains(&format!("<{PUBLIC}/websub>; rel=\"hub\"")),
        "{links}"
    );
    assert!(
        links.contains(&format!("<{feed_url}>; rel=\"self\"")),
        "{links}"
    );
    assert!(feed
        .text()
        .contains(&format!("href=\"{PUBLIC}/websub\" rel=\"hub\"")));
    let rss = common::get(&format!("{}/feeds/graphs.rss", serve.base)).text();
    assert!(
        rss.contains(&format!(
            "<atom:link href=\"{PUBLIC}/websub\" rel=\"hub\"/>"
        )),
        "{rss}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&common::get(&format!("{}/feeds/graphs.json", serve.base)).body)
            .unwrap();
    assert_eq!(json["hubs"][0]["type"], "WebSub");
    let query_feed = common::get(&format!("{}/search.atom?q=graph", serve.base));
    assert!(query_feed
        .header("link")
        .is_some_and(|l| l.contains("rel=\"hub\"")));

    // Bad requests are 400 with the reason.
    for (form, reason) in [
        (
            vec![("hub.mode", "subscribe"), ("hub.topic", feed_url.as_str())],
            "hub.callback",
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", "http://elsewhere/x.atom"),
                ("hub.callback", "http://127.0.0.1:9/cb"),
            ],
            "not a feed of this server",
        ),
        (
            vec![
                ("hub.mode", "watch"),
                ("hub.topic", feed_url.as_str()),
                ("hub.callback", "http://127.0.0.1:9/cb"),
            ],
            "hub.mode",
        ),
    ] {
        let reply = hub_post(&serve, &form);
        assert_eq!(reply.status, 400, "{form:?}");
        assert!(reply.text().contains(reason), "{form:?}: {}", reply.text());
    }
    // The public address, and the listening port on loopback, are this server.
    for own in [format!("{PUBLIC}/cb"), format!("{}/cb", serve.base)] {
        let reply = hub_post(
            &serve,
            &[
                ("hub.mode", "subscribe"),
                ("hub.topic", &feed_url),
                ("hub.callback", &own),
            ],
        );
        assert_eq!(reply.status, 400, "{own}");
        assert!(
            reply.text().contains("is this server"),
            "{own}: {}",
            reply.text()
        );
    }
    assert_eq!(common::get(&format!("{}/websub", serve.base)).status, 405);
    let reply = hub_post(
        &serve,
        &[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", &feed_url),
            ("hub.callback", "http://127.0.0.1:9/nobody"),
        ],
    );
    assert_eq!(reply.status, 400);
    assert!(
        reply.text().contains("no such subscription"),
        "{}",
        reply.text()
    );

    // Three subscribers: one that echoes (with a secret), one that does not, one that fails.
    let verified = |serve: &Serve| metric(&serve.base, "paperboy_websub_verified_total ");
    for (kind, name, secret) in [
        ("echo", "alice", "s3cret"),
        ("silent", "bob", ""),
        ("failing", "carol", ""),
    ] {
        let cb = callback(kind, name);
        let mut form = vec![
            ("hub.mode", "subscribe"),
            ("hub.topic", feed_url.as_str()),
            ("hub.callback", cb.as_str()),
            ("hub.lease_seconds", "3600"),
        ];
        if !secret.is_empty() {
            form.push(("hub.secret", secret));
        }
        let reply = hub_post(&serve, &form);
        assert_eq!(reply.status, 202, "{name}: {}", reply.text());
    }
    wait_for("two subscriptions verified", &instance.log, || {
        verified(&serve) == 2
    });
    assert_eq!(verifications(&events, "bob"), vec!["subscribe"]);
    assert!(
        pushes(&events, "alice").is_empty(),
        "nothing is pushed before a change"
    );

    // A poll adds 30 papers: alice is pushed the new feed, signed; bob gets nothing.
    instance.add_day(30);
    assert!(common::signal(&serve.child, "HUP"));
    wait_for("a push to alice", &instance.log, || {
        !pushes(&events, "alice").is_empty()
    });
    let (headers, body) = pushes(&events, "alice").remove(0);
    assert_eq!(common::entry_ids(&body).len(), 50, "the whole new feed");
    assert_eq!(body, common::get(&served).body, "the feed as served");
    assert_eq!(
        headers["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("rel=\"hub\"") && link.contains(&format!("<{feed_url}>; rel=\"self\"")),
        "{link}"
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(&body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        headers["x-hub-signature"],
        format!("sha256={expected}").as_str()
    );

    // carol's callback fails: one push and two retries, then she is dropped.
    wait_for("carol tried three times", &instance.log, || {
        pushes(&events, "carol").len() == 3
    });
    wait_for("the failures counted", &instance.log, || {
        metric(&serve.base, "paperboy_websub_push_failures_total ") == 3
    });
    assert!(
        pushes(&events, "bob").is_empty(),
        "bob never echoed the challenge"
    );

    // A restart between subscribing and the next poll: nothing is pushed for the restart
    // itself, and the next change is.
    drop(serve);
    let serve = instance.serve();
    let served = format!("{}/feeds/graphs.atom", serve.base);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        pushes(&events, "alice").len(),
        1,
        "a restart alone pushes nothing"
    );
    instance.add_day(5);
    assert!(common::signal(&serve.child, "HUP"));
    wait_for("a push after the restart", &instance.log, || {
        pushes(&events, "alice").len() == 2
    });
    assert_eq!(pushes(&events, "carol").len(), 3, "carol was dropped");

    // alice unsubscribes (verified like a subscription); the next change is pushed to no one.
    let cb = callback("echo", "alice");
    let reply = hub_post(
        &serve,
        &[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", &feed_url),
            ("hub.callback", &cb),
        ],
    );
    assert_eq!(reply.status, 202);
    wait_for("the unsubscription verified", &instance.log, || {
        verified(&serve) == 1
    });
    instance.add_day(5);
    assert!(common::signal(&serve.child, "HUP"));
    wait_for("the new papers served", &instance.log, || {
        common::entry_ids(&common::get(&served).body).len() == 60
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        pushes(&events, "alice").len(),
        2,
        "no push after unsubscribing"
    );
    assert_eq!(pushes(&events, "bob").len(), 0);
}
