//! HTTP conditional requests (RFC 9110 §13): whether a request's validators match the
//! representation, so the server may answer `304 Not Modified`. Pure.

use axum::http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};

/// Whether the request may be answered `304 Not Modified` for a representation with this
/// strong `etag` (quoted) and `last_modified`. `If-None-Match` (every header line of it) takes
/// precedence; without it, an `If-Modified-Since` at or after `last_modified` (to the second)
/// matches, unless it lies in the future (RFC 9110 §13.1.3: then it is not a valid date).
pub(super) fn not_modified(headers: &HeaderMap, etag: &str, last_modified: DateTime<Utc>) -> bool {
    not_modified_at(headers, etag, last_modified, Utc::now)
}

/// [`not_modified`] with the clock given (read only for an `If-Modified-Since`).
fn not_modified_at(
    headers: &HeaderMap,
    etag: &str,
    last_modified: DateTime<Utc>,
    now: impl FnOnce() -> DateTime<Utc>,
) -> bool {
    let mut if_none_match = headers.get_all(IF_NONE_MATCH).iter().peekable();
    if if_none_match.peek().is_some() {
        // Weak comparison (§13.1.2): a W/ prefix on the client's tag does not matter.
        return if_none_match
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    }
    let Some(since) = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    let since: DateTime<Utc> = since.into();
    since <= now() && since.timestamp() >= last_modified.timestamp()
}

/// A date as an HTTP date, clamped to what HTTP dates can say (1970 to 9999).
pub(super) fn http_date(date: DateTime<Utc>) -> String {
    let latest = DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(date);
    let system: std::time::SystemTime = date.clamp(DateTime::<Utc>::UNIX_EPOCH, latest).into();
    httpdate::fmt_http_date(system)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use chrono::TimeZone;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn validators_decide_304() {
        let lm = Utc.with_ymd_and_hms(2026, 4, 27, 4, 0, 0).unwrap();
        let etag = "\"abc\"";
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("if-none-match", "\"abc\"")], true),
            (&[("if-none-match", "W/\"abc\"")], true),
            (&[("if-none-match", "\"x\", \"abc\"")], true),
            (&[("if-none-match", "*")], true),
            (&[("if-none-match", "\"other\"")], false),
            (
                &[("if-modified-since", "Mon, 27 Apr 2026 04:00:00 GMT")],
                true,
            ),
            (
                &[("if-modified-since", "Tue, 28 Apr 2026 00:00:00 GMT")],
                true,
            ),
            (
                &[("if-modified-since", "Mon, 27 Apr 2026 03:59:59 GMT")],
                false,
            ),
            (&[("if-modified-since", "garbage")], false),
            // If-None-Match wins over a matching If-Modified-Since.
            (
                &[
                    ("if-none-match", "\"other\""),
                    ("if-modified-since", "Tue, 28 Apr 2026 00:00:00 GMT"),
                ],
                false,
            ),
        ];
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        for (pairs, expected) in cases {
            assert_eq!(
                not_modified_at(&headers(pairs), etag, lm, || now),
                *expected,
                "{pairs:?}"
            );
        }
        // A date in the future is not a valid If-Modified-Since.
        let future = headers(&[("if-modified-since", "Tue, 01 Jan 2030 00:00:00 GMT")]);
        assert!(!not_modified_at(&future, etag, lm, || now));
        // If-None-Match over several header lines.
        let mut two = HeaderMap::new();
        two.append("if-none-match", HeaderValue::from_static("\"x\""));
        two.append("if-none-match", HeaderValue::from_static("\"abc\""));
        assert!(not_modified_at(&two, etag, lm, || now));

        assert_eq!(http_date(lm), "Mon, 27 Apr 2026 04:00:00 GMT");
        let ancient = Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(http_date(ancient), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
