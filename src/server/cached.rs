//! The path most requests take: a reader polling a topic's feed (`GET /feeds/<topic>.<ext>`,
//! no query) whose form is already in the feed cache. It is answered here, in the listener,
//! straight from the cached bytes and validators, without the router, its extractors and its
//! middleware: a poll that ends in `304` costs little more than hyper's own work (the
//! serving benchmark's `304` row). Whatever is not exactly that (another path or method, a
//! query, a feed not rendered yet, a request the router would refuse) goes to the router,
//! which answers it the same way and fills the cache for the next poll.

use axum::http::{Method, Request};
use axum::response::Response;

use super::encoding::{self, Coding};
use super::{conditional, feed_headers, feed_not_modified, feed_ok, one_host, AppState};
use super::{FeedOf, Form, FormKey};
use crate::pipeline::render::Format;

/// The response to `request` from the feed cache, or `None` when the router must answer it.
pub(super) fn answer<B>(app: &AppState, request: &Request<B>) -> Option<Response> {
    if request.method() != Method::GET || request.uri().query().is_some() {
        return None;
    }
    let file = request.uri().path().strip_prefix("/feeds/")?;
    // The router refuses a request without exactly one Host (HTTP/1.1): leave it to it.
    if !one_host(request.headers()) {
        return None;
    }
    let (topic_id, format) = Format::split_file_name(file)?;
    let coding = encoding::negotiate_for(request.headers())?;
    // Only a feed the router rendered is in the cache, under the config's epoch: an unknown
    // topic, or a name that needs percent-decoding (topic ids are plain ASCII), is not found
    // here and goes to the router.
    let feed = (FeedOf::Topic(topic_id.to_string()), format, None, None);
    let key = FormKey::rendered(app, app.live.peek().epoch, feed);
    let Form::Rendered(rendered) = app.cache.forms.get(&key)? else {
        return None;
    };
    let (etag, headers) = feed_headers(app, &rendered, coding);
    if conditional::not_modified(request.headers(), etag, rendered.last_modified) {
        return Some(feed_not_modified(app, headers));
    }
    let body = match coding {
        Coding::Identity => rendered.body.clone(),
        coding => match app.cache.forms.get(&FormKey { coding, ..key })? {
            Form::Compressed(bytes) => bytes,
            Form::Rendered(_) => return None,
        },
    };
    Some(feed_ok(app, headers, format, coding, body))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
    use hyper_util::service::TowerToHyperService;

    use super::*;
    use crate::store::MemoryStore;

    fn get(path: &str, headers: &[(&'static str, &str)]) -> Request<Body> {
        let mut request = Request::get(path).header(header::HOST, "localhost");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::empty()).expect("a request")
    }

    /// What the router answers, as the listener asks it.
    async fn routed(app: &AppState, request: Request<Body>) -> Response {
        let router = TowerToHyperService::new(super::super::router(app.clone()));
        let Ok(response) = hyper::service::Service::call(&router, request).await;
        response
    }

    /// Status, headers and body. `Content-Length` is left out: the router sets it, hyper
    /// sets it from the body's exact size otherwise, which is checked here.
    async fn parts(response: Response) -> (StatusCode, HeaderMap, Vec<u8>) {
        use axum::body::HttpBody;
        let (mut head, body) = response.into_parts();
        let exact = body.size_hint().exact();
        let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        assert_eq!(exact, Some(body.len() as u64), "hyper can tell the length");
        head.headers.remove(header::CONTENT_LENGTH);
        (head.status, head.headers, body.to_vec())
    }

    #[tokio::test]
    async fn a_cached_feed_is_answered_as_the_router_answers_it() {
        let (app, _dir) = super::super::tests::state_over(Arc::new(MemoryStore::default()));
        let plain = || get("/feeds/t.atom", &[]);
        assert!(answer(&app, &plain()).is_none(), "not rendered yet");
        let first = parts(routed(&app, plain()).await).await;
        assert_eq!(first.0, StatusCode::OK);
        let cached = parts(answer(&app, &plain()).expect("rendered now")).await;
        assert_eq!(cached, first, "the same status, headers and bytes");

        // A compressed form is answered here once the router has made it.
        let gzip = || get("/feeds/t.atom", &[("accept-encoding", "gzip")]);
        assert!(answer(&app, &gzip()).is_none(), "gzip form not made yet");
        let made = parts(routed(&app, gzip()).await).await;
        assert_eq!(made.1.get(header::CONTENT_ENCODING).unwrap(), "gzip");
        assert_eq!(parts(answer(&app, &gzip()).expect("made")).await, made);

        // Conditional polls: 304 with the form's validators, as from the router.
        let etag = made
            .1
            .get(header::ETAG)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let poll = || {
            get(
                "/feeds/t.atom",
                &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
            )
        };
        let not_modified = parts(answer(&app, &poll()).expect("cached")).await;
        assert_eq!(not_modified.0, StatusCode::NOT_MODIFIED);
        assert_eq!(not_modified, parts(routed(&app, poll()).await).await);

        // A reload (like a change of the store) is a new generation: rendered again.
        app.live.replace(app.live.get().config.clone());
        assert!(answer(&app, &plain()).is_none(), "stale after a reload");
    }

    #[tokio::test]
    async fn what_the_router_must_decide_is_left_to_it() {
        let (app, _dir) = super::super::tests::state_over(Arc::new(MemoryStore::default()));
        routed(&app, get("/feeds/t.atom", &[])).await;
        assert!(answer(&app, &get("/feeds/t.atom", &[])).is_some());
        let mut head = get("/feeds/t.atom", &[]);
        *head.method_mut() = Method::HEAD;
        let mut hostless = get("/feeds/t.atom", &[]);
        hostless.headers_mut().remove(header::HOST);
        let mut two_hosts = get("/feeds/t.atom", &[]);
        two_hosts
            .headers_mut()
            .append(header::HOST, HeaderValue::from_static("other"));
        for (what, request) in [
            ("HEAD", head),
            ("a query", get("/feeds/t.atom?limit=50", &[])),
            ("no Host", hostless),
            ("two Hosts", two_hosts),
            ("an unknown topic", get("/feeds/u.atom", &[])),
            ("a percent-encoded name", get("/feeds/%74.atom", &[])),
            ("another format", get("/feeds/t.rss", &[])),
            ("another path", get("/topics/t", &[])),
            (
                "no coding it may send",
                get("/feeds/t.atom", &[("accept-encoding", "identity;q=0")]),
            ),
        ] {
            assert!(answer(&app, &request).is_none(), "{what}");
        }
        let refused = routed(
            &app,
            get("/feeds/t.atom", &[("accept-encoding", "identity;q=0")]),
        );
        assert_eq!(refused.await.status(), StatusCode::NOT_ACCEPTABLE);
    }
}
