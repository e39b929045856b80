//! Keeping credentials out of what paperboy shows: a source URL's userinfo, and the values of
//! its query parameters that look like credentials (`api_key`, `token`, `secret`, `password`,
//! `sig`, …), are taken out before the URL, or a message that quotes it, reaches a page, the
//! `status` output or a log. A URL with nothing to hide is shown exactly as written. Pure.

use std::borrow::Cow;

/// What a query parameter's name contains when its value is a credential.
const SECRET_NAMES: &[&str] = &[
    "key",
    "token",
    "secret",
    "pass",
    "pwd",
    "sig",
    "auth",
    "session",
    "credential",
];

/// What stands for a hidden value.
pub const HIDDEN: &str = "REDACTED";

/// `url` without userinfo and with credential-looking query values replaced by [`HIDDEN`];
/// unchanged (not even re-serialized) when there is nothing to hide, or when it is not a URL.
pub fn url(text: &str) -> Cow<'_, str> {
    let Ok(mut parsed) = url::Url::parse(text) else {
        return Cow::Borrowed(text);
    };
    let mut hidden = false;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Only URLs with a host have userinfo, and for them both calls succeed.
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        hidden = true;
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let lower = key.to_ascii_lowercase();
                if !value.is_empty() && SECRET_NAMES.iter().any(|s| lower.contains(s)) {
                    hidden = true;
                    (key.into_owned(), HIDDEN.to_string())
                } else {
                    (key.into_owned(), value.into_owned())
                }
            })
            .collect();
        if hidden {
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if hidden {
        Cow::Owned(parsed.to_string())
    } else {
        Cow::Borrowed(text)
    }
}

/// `message` with every copy of `source_url` in it (as written, or as a URL library prints it)
/// replaced by [`url`]'s version.
pub fn in_text<'a>(message: &'a str, source_url: &str) -> Cow<'a, str> {
    let shown = url(source_url);
    if shown == source_url {
        return Cow::Borrowed(message);
    }
    let mut out = message.replace(source_url, &shown);
    if let Ok(parsed) = url::Url::parse(source_url) {
        out = out.replace(parsed.as_str(), &shown);
    }
    Cow::Owned(out)
}

/// `message` with every URL in it (a scheme, `://`, and what follows up to a space, a quote or
/// a bracket, less trailing punctuation) shown as [`url`] shows it: for text that may quote
/// URLs other than the source's own, such as the pages of a harvest.
pub fn every_url(message: &str) -> Cow<'_, str> {
    if !message.contains("://") {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("://") {
        let scheme = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
        let start = rest[..at]
            .char_indices()
            .rev()
            .find(|&(_, c)| !scheme(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
            .map_or(rest.len(), |i| at + i);
        let found = &rest[start..end];
        let bare = found.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        out.push_str(&rest[..start]);
        out.push_str(&url(bare));
        out.push_str(&found[bare.len()..]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out_and_nothing_else_changes() {
        let secret =
            "http://alice:s3cretPassw0rd@host.example/feed.xml?api_key=TOPSECRET123&cat=cs.LG";
        let shown = url(secret);
        assert_eq!(
            shown,
            "http://host.example/feed.xml?api_key=REDACTED&cat=cs.LG"
        );
        for case in [
            "https://h/x?token=abc",
            "https://h/x?access_token=abc",
            "https://h/x?Signature=abc",
            "https://h/x?password=abc",
            "https://h/x?sessionid=abc",
            "https://bob@h/x",
        ] {
            let shown = url(case);
            assert!(
                !shown.contains("abc") && !shown.contains("bob"),
                "{case} shown as {shown}"
            );
        }
        // Nothing to hide: exactly as written, whatever a URL library would normalize.
        for plain in [
            "https://rss.arxiv.org/rss/cs.LG",
            "http://HOST.example:80/a b?q=x y",
            "file://../feeds/x.xml",
            "not a url at all",
            "https://h/x?keyword=",
        ] {
            assert_eq!(url(plain), plain);
        }
        let message = format!("HTTP 500 Internal Server Error from {secret}");
        let hidden = in_text(&message, secret);
        assert!(
            !hidden.contains("s3cret") && !hidden.contains("TOPSECRET"),
            "{hidden}"
        );
        assert!(hidden.contains("host.example/feed.xml"), "{hidden}");
        // As a URL library prints it (here: a normalized host).
        let odd = "http://alice:pw@HOST.example/f?token=t1";
        let printed = url::Url::parse(odd).unwrap().to_string();
        let message = format!("error sending request for url ({printed})");
        let hidden = in_text(&message, odd);
        assert!(
            !hidden.contains("pw@") && !hidden.contains("t1"),
            "{hidden}"
        );
        assert_eq!(in_text("no url here", "https://h/x"), "no url here");
    }

    #[test]
    fn every_url_in_a_message_loses_its_credentials_and_nothing_else_changes() {
        let message =
            "request to http://alice:pw@h.example/oai?verb=ListRecords&resumptionToken=5 \
                       failed (see https://h.example/x?token=abc). é://x, plain text";
        let shown = every_url(message);
        assert_eq!(
            shown,
            "request to http://h.example/oai?verb=ListRecords&resumptionToken=REDACTED \
             failed (see https://h.example/x?token=REDACTED). é://x, plain text"
        );
        assert!(matches!(every_url("no address here"), Cow::Borrowed(_)));
        assert_eq!(every_url("ends at http://bob@h/x."), "ends at http://h/x.");
    }
}
