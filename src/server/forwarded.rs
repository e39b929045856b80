//! Who a request is from, behind a reverse proxy: the client address that `Forwarded`
//! (RFC 7239) or `X-Forwarded-For` names, believed only when the connection comes from one
//! of `server.trusted_proxies`. Pure: the listener ([`super::listener`]) hands in the peer
//! address and the headers.
//!
//! The addresses a request passed through are read as one chain, client first, then each
//! proxy, then the connection's peer. Walking it from the peer's end, every address that is a
//! trusted proxy is skipped; the first one that is not is the client. Anything a client wrote
//! itself sits to the left of what the trusted proxies appended, so a forged header can make
//! the chain longer but cannot move the client: a client cannot claim another's address.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client a request is from: `peer` itself unless `peer` is a trusted proxy, else the
/// nearest address in the forwarding chain that is not a trusted proxy.
pub(super) fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain = forwarding_chain(headers);
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            // An address the last trusted hop vouched for.
            Some(ip) => {
                client = *ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // `unknown` or an obfuscated name: nothing to go further by; the hop that wrote it
            // is the nearest address known.
            None => break,
        }
    }
    client
}

/// The addresses of the chain, client first; `None` for a hop that gave no address. From
/// `Forwarded` when the request has it (the standard), else from `X-Forwarded-For`; header
/// lines of the same name are one list in order (RFC 9110, 5.3).
fn forwarding_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|line| split_outside_quotes(line, ','))
            .map(|element| {
                split_outside_quotes(element, ';')
                    .into_iter()
                    .find_map(|pair| {
                        let (name, value) = pair.split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| node_address(value.trim()))
                    })
                    .flatten()
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(|hop| node_address(hop.trim()))
        .collect()
}

/// The address of an RFC 7239 node (`192.0.2.43`, `"192.0.2.43:47011"`,
/// `"[2001:db8::17]:4711"`, a bare IPv6 address as `X-Forwarded-For` writes it); `None` for
/// `unknown`, an obfuscated name (`_hidden`) or anything else.
fn node_address(text: &str) -> Option<IpAddr> {
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return ip.parse().ok();
    }
    // IPv4 with a port.
    let (ip, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// `text` split at `separator`, except inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(lines: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn a_peer_that_is_not_trusted_is_the_client_whatever_it_claims() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=198.51.100.1"),
        ]);
        assert_eq!(
            client_address(ip("192.0.2.7"), &h, &nets(&["10.0.0.0/8"])),
            ip("192.0.2.7")
        );
        assert_eq!(client_address(ip("10.0.0.2"), &h, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "::1/128"]);
        let cases: &[(&[(&'static str, &str)], &str)] = &[
            (&[("x-forwarded-for", "203.0.113.9")], "203.0.113.9"),
            // A forged first entry stays to the left of what the proxies appended.
            (
                &[("x-forwarded-for", "198.51.100.1, 203.0.113.9, 10.1.1.1")],
                "203.0.113.9",
            ),
            // Two header lines are one list in order.
            (
                &[
                    ("x-forwarded-for", "198.51.100.1"),
                    ("x-forwarded-for", "203.0.113.9"),
                ],
                "203.0.113.9",
            ),
            // Forwarded wins over X-Forwarded-For; ports, quotes, brackets, other parameters.
            (
                &[
                    ("x-forwarded-for", "198.51.100.1"),
                    (
                        "forwarded",
                        "for=198.51.100.2;proto=https, For=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1",
                    ),
                ],
                "2001:db8:cafe::17",
            ),
            (
                &[("forwarded", "for=\"203.0.113.43:47011\", for=10.0.0.3")],
                "203.0.113.43",
            ),
            // A comma inside a quoted value does not split the element.
            (
                &[("forwarded", "for=203.0.113.5;x=\"a,b\"")],
                "203.0.113.5",
            ),
            // Every hop trusted: the one farthest from us.
            (&[("x-forwarded-for", "10.9.9.9, 10.0.0.3")], "10.9.9.9"),
            // An unknown hop: the trusted proxy that wrote it is as far as we can tell.
            (
                &[("forwarded", "for=203.0.113.1, for=unknown, for=10.0.0.4")],
                "10.0.0.4",
            ),
            (&[("forwarded", "for=_hidden")], "10.0.0.2"),
            // No header at all: the proxy itself.
            (&[], "10.0.0.2"),
            (&[("x-forwarded-for", "not an address")], "10.0.0.2"),
            (&[("x-forwarded-for", "2001:db8::1")], "2001:db8::1"),
        ];
        for (lines, want) in cases {
            assert_eq!(
                client_address(ip("10.0.0.2"), &headers(lines), &trusted),
                ip(want),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn nodes_parse_as_rfc_7239_writes_them() {
        assert_eq!(node_address("192.0.2.43"), Some(ip("192.0.2.43")));
        assert_eq!(node_address("\"192.0.2.43:47011\""), Some(ip("192.0.2.43")));
        assert_eq!(node_address("\"[2001:db8::17]\""), Some(ip("2001:db8::17")));
        assert_eq!(node_address("[2001:db8::17]:80"), Some(ip("2001:db8::17")));
        assert_eq!(node_address("[2001:db8::17]x"), None);
        assert_eq!(node_address("192.0.2.43:port"), None);
        assert_eq!(node_address("unknown"), None);
        assert_eq!(node_address("_gazonk"), None);
        assert_eq!(node_address(""), None);
    }
}
