//! WebSub (W3C Recommendation, 2018) with paperboy as the hub of its own feeds. The pure core:
//! a subscription request's form checked into a [`HubRequest`], the lease it gets, and a push's
//! signature. The IO edges: verifying a subscriber's intent (a `GET` of its callback that must
//! echo a challenge) and pushing a feed to a callback. Which feeds changed, and when to push,
//! is the server's part (`server::websub`).

use std::time::Duration;

use hmac::{Hmac, Mac};

use crate::config::{WebSubConfig, MIN_LEASE};
use crate::model::Subscription;
use crate::pipeline::digest::hex;

/// What a subscriber asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `hub.mode=subscribe`: start, or renew, a subscription.
    Subscribe,
    /// `hub.mode=unsubscribe`: end one.
    Unsubscribe,
}

impl Mode {
    /// The mode's `hub.mode` value.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A checked subscription request (`POST /websub`). (`Debug` leaves the secret out.)
#[derive(Clone, PartialEq, Eq)]
pub struct HubRequest {
    /// Subscribe or unsubscribe.
    pub mode: Mode,
    /// `hub.topic`: the feed URL, as given (the server checks that it is one of its feeds).
    pub topic: String,
    /// `hub.callback`: where the feed is pushed.
    pub callback: url::Url,
    /// The lease granted: `hub.lease_seconds` within the config's bounds, or its default.
    pub lease: Duration,
    /// `hub.secret`, the key of each push's signature.
    pub secret: Option<String>,
}

impl std::fmt::Debug for HubRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubRequest")
            .field("mode", &self.mode)
            .field("topic", &self.topic)
            .field("callback", &self.callback.host_str())
            .field("lease", &self.lease)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Whether a callback names a host no public hub should call: a loopback, private, link-local,
/// shared, documentation or unspecified address written as such, or `localhost`. (A name that
/// resolves to such an address is not caught here.)
pub fn is_private_host(callback: &url::Url) -> bool {
    fn v4(ip: std::net::Ipv4Addr) -> bool {
        ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_documentation()
            // 100.64.0.0/10, carrier-grade NAT.
            || (ip.octets()[0] == 100 && ip.octets()[1] & 0xc0 == 64)
    }
    match callback.host() {
        Some(url::Host::Ipv4(ip)) => v4(ip),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.to_ipv4_mapped().is_some_and(v4)
                // fc00::/7 (unique local) and fe80::/10 (link-local).
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => true,
    }
}

/// The longest callback or topic URL accepted.
pub const MAX_URL_BYTES: usize = 2048;
/// The longest `hub.secret` (the Recommendation: less than 200 bytes).
pub const MAX_SECRET_BYTES: usize = 199;

/// Checks a subscription request's form body (`application/x-www-form-urlencoded`). The error
/// says what is wrong, for a `400`.
pub fn parse_request(body: &[u8], config: &WebSubConfig) -> Result<HubRequest, String> {
    let mut mode = None;
    let mut topic = None;
    let mut callback = None;
    let mut lease = None;
    let mut secret = None;
    for (key, value) in url::form_urlencoded::parse(body) {
        let slot = match key.as_ref() {
            "hub.mode" => &mut mode,
            "hub.topic" => &mut topic,
            "hub.callback" => &mut callback,
            "hub.lease_seconds" => &mut lease,
            "hub.secret" => &mut secret,
            _ => continue,
        };
        // The first of a repeated parameter counts.
        slot.get_or_insert(value.into_owned());
    }
    let mode = match mode.as_deref() {
        Some("subscribe") => Mode::Subscribe,
        Some("unsubscribe") => Mode::Unsubscribe,
        Some(other) => {
            return Err(format!(
                "hub.mode {other:?}: expected subscribe or unsubscribe"
            ))
        }
        None => return Err("missing hub.mode: subscribe or unsubscribe".into()),
    };
    let topic = topic
        .filter(|t| !t.is_empty())
        .ok_or("missing hub.topic: the URL of one of this server's feeds")?;
    if topic.len() > MAX_URL_BYTES {
        return Err(format!("hub.topic is longer than {MAX_URL_BYTES} bytes"));
    }
    let callback_text = callback
        .filter(|c| !c.is_empty())
        .ok_or("missing hub.callback: the URL the feed is pushed to")?;
    if callback_text.len() > MAX_URL_BYTES {
        return Err(format!("hub.callback is longer than {MAX_URL_BYTES} bytes"));
    }
    let callback = url::Url::parse(&callback_text)
        .map_err(|e| format!("hub.callback {callback_text:?} is not a URL: {e}"))?;
    if !matches!(callback.scheme(), "http" | "https") || callback.host().is_none() {
        return Err(format!(
            "hub.callback {callback_text:?} is not an http:// or https:// URL"
        ));
    }
    let lease = match lease.as_deref() {
        None | Some("") => config.lease,
        Some(text) => {
            let seconds: u64 = text.parse().map_err(|_| {
                format!("hub.lease_seconds {text:?} is not a whole number of seconds")
            })?;
            Duration::from_secs(seconds).clamp(MIN_LEASE, config.max_lease)
        }
    };
    if secret.as_ref().is_some_and(|s| s.len() > MAX_SECRET_BYTES) {
        return Err(format!(
            "hub.secret is longer than {MAX_SECRET_BYTES} bytes"
        ));
    }
    Ok(HubRequest {
        mode,
        topic,
        callback,
        lease,
        secret: secret.filter(|s| !s.is_empty()),
    })
}

/// The `X-Hub-Signature` of a push: `sha256=` and the HMAC-SHA256 of the body under the
/// subscriber's secret, in hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// A fresh challenge for verifying intent: 32 hex digits from the system's random source.
pub fn challenge() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes for a challenge: {e}"))?;
    Ok(hex(&bytes))
}

/// The most bytes read of a callback's answer to a verification.
const MAX_ANSWER_BYTES: usize = 4096;

/// Verifies the subscriber's intent: a `GET` of the callback with `hub.mode`, `hub.topic`,
/// `hub.challenge` (and `hub.lease_seconds` when subscribing) must be answered `2xx` with the
/// challenge as the whole body.
pub async fn verify(
    client: &reqwest::Client,
    request: &HubRequest,
    challenge: &str,
) -> Result<(), String> {
    let mut url = request.callback.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("hub.mode", request.mode.name())
            .append_pair("hub.topic", &request.topic)
            .append_pair("hub.challenge", challenge);
        if request.mode == Mode::Subscribe {
            query.append_pair("hub.lease_seconds", &request.lease.as_secs().to_string());
        }
    }
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("the callback could not be reached: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("the callback answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("the callback's answer broke off: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER_BYTES {
            return Err("the callback's answer is not the challenge".into());
        }
    }
    if body == challenge.as_bytes() {
        Ok(())
    } else {
        Err("the callback did not echo the challenge".into())
    }
}

/// How a push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The callback took it (`2xx`).
    Taken,
    /// The callback said `410 Gone`: the subscription is over.
    Gone,
    /// It failed; worth trying again.
    Failed(String),
}

/// Pushes a feed's body to a subscriber: `Content-Type` of the feed, `Link` to the hub and the
/// feed (`links`), and `X-Hub-Signature` when the subscriber gave a secret.
pub async fn push(
    client: &reqwest::Client,
    subscription: &Subscription,
    body: axum::body::Bytes,
    content_type: &'static str,
    links: &str,
) -> Pushed {
    let mut request = client
        .post(&subscription.callback)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::LINK, links);
    if let Some(secret) = subscription.secret.clone() {
        // Hashing a large feed is CPU work: off the async threads.
        let signed = body.clone();
        match tokio::task::spawn_blocking(move || signature(&secret, &signed)).await {
            Ok(signature) => request = request.header("X-Hub-Signature", signature),
            Err(e) => return Pushed::Failed(format!("signing the push failed: {e}")),
        }
    }
    match request.body(body).send().await {
        Ok(response) if response.status().is_success() => Pushed::Taken,
        Ok(response) if response.status() == reqwest::StatusCode::GONE => Pushed::Gone,
        Ok(response) => Pushed::Failed(format!("the callback answered {}", response.status())),
        Err(e) => Pushed::Failed(format!("the callback could not be reached: {e}")),
    }
}

/// The HTTP client of the hub: short timeouts, no redirects (a callback is where it says).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(crate::fetch::USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the WebSub client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WebSubConfig {
        crate::config::Config::parse("", std::path::Path::new("/"), "test")
            .expect("the empty config is valid")
            .websub
    }

    #[test]
    fn subscription_requests_are_checked_with_reasons() {
        let config = config();
        let ok = parse_request(
            b"hub.mode=subscribe&hub.topic=http%3A%2F%2Fh%2Ffeeds%2Ft.atom&hub.callback=http%3A%2F%2Fc.example%2Fcb%3Fx%3D1&hub.lease_seconds=3600&hub.secret=s3cret",
            &config,
        )
        .expect("a whole request");
        assert_eq!(ok.mode, Mode::Subscribe);
        assert_eq!(ok.topic, "http://h/feeds/t.atom");
        assert_eq!(ok.callback.as_str(), "http://c.example/cb?x=1");
        assert_eq!(ok.lease, Duration::from_secs(3600));
        assert_eq!(ok.secret.as_deref(), Some("s3cret"));

        let lease = |text: &str| {
            parse_request(
                format!("hub.mode=subscribe&hub.topic=t&hub.callback=http://c/{text}").as_bytes(),
                &config,
            )
            .map(|r| r.lease)
        };
        assert_eq!(lease(""), Ok(config.lease), "no lease asked: the default");
        assert_eq!(lease("&hub.lease_seconds=1"), Ok(MIN_LEASE));
        assert_eq!(lease("&hub.lease_seconds=999999999"), Ok(config.max_lease));

        let cases: &[(&str, &str)] = &[
            ("", "missing hub.mode"),
            (
                "hub.mode=publish&hub.topic=t&hub.callback=http://c/",
                "expected subscribe or unsubscribe",
            ),
            (
                "hub.mode=subscribe&hub.callback=http://c/",
                "missing hub.topic",
            ),
            ("hub.mode=subscribe&hub.topic=t", "missing hub.callback"),
            (
                "hub.mode=subscribe&hub.topic=t&hub.callback=ftp://c/",
                "not an http",
            ),
            (
                "hub.mode=subscribe&hub.topic=t&hub.callback=nonsense",
                "not a URL",
            ),
            (
                "hub.mode=subscribe&hub.topic=t&hub.callback=http://c/&hub.lease_seconds=-5",
                "whole number",
            ),
        ];
        for (body, reason) in cases {
            let err = parse_request(body.as_bytes(), &config).expect_err(body);
            assert!(err.contains(reason), "{body}: {err}");
        }
        let long_secret = format!(
            "hub.mode=subscribe&hub.topic=t&hub.callback=http://c/&hub.secret={}",
            "s".repeat(200)
        );
        assert!(parse_request(long_secret.as_bytes(), &config)
            .unwrap_err()
            .contains("hub.secret"));
        let unsubscribe = parse_request(
            b"hub.mode=unsubscribe&hub.topic=t&hub.callback=http://c/",
            &config,
        )
        .unwrap();
        assert_eq!(unsubscribe.mode, Mode::Unsubscribe);
        assert_eq!(unsubscribe.secret, None);
    }

    #[test]
    fn private_callbacks_are_recognized() {
        for private in [
            "http://127.0.0.1/cb",
            "http://10.1.2.3/cb",
            "http://192.168.0.1:8080/cb",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/cb",
            "http://[::1]/cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://[fd00::1]/cb",
            "http://[fe80::1]/cb",
            "http://localhost./cb",
            "http://api.localhost/cb",
            "http://0.0.0.0/cb",
        ] {
            assert!(
                is_private_host(&url::Url::parse(private).unwrap()),
                "{private}"
            );
        }
        for public in [
            "https://reader.example.net/cb",
            "http://93.184.216.34/cb",
            "http://[2606:4700::1]/cb",
        ] {
            assert!(
                !is_private_host(&url::Url::parse(public).unwrap()),
                "{public}"
            );
        }
    }

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let a = challenge().unwrap();
        let b = challenge().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
