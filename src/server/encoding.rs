//! Content codings of feed responses (RFC 9110 §8.4 and §12.5.3): which form of a feed a
//! request accepts (`Accept-Encoding`, with its q-values, `identity;q=0` and `*`), and making
//! the gzip and brotli forms. A feed is compressed once per change at the best compression the
//! format has, then sent many times, so the slow best level costs nothing per request. Pure.

use std::io::Write;

/// A form of a feed's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Coding {
    /// The bytes as rendered.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// Brotli (RFC 7932).
    Brotli,
}

impl Coding {
    /// Every coding, in the order preferred when a request accepts several equally: the
    /// smallest form first.
    pub(super) const PREFERRED: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Identity];

    /// The coding's token in `Accept-Encoding` and `Content-Encoding`.
    pub(super) fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }

    /// The coding's place in per-coding tables such as a cached feed's ETags (identity,
    /// gzip, br).
    pub(super) fn index(self) -> usize {
        match self {
            Coding::Identity => 0,
            Coding::Gzip => 1,
            Coding::Brotli => 2,
        }
    }

    /// `bytes` in this coding, at the best compression the coding has.
    pub(super) fn encode(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Coding::Identity => bytes.to_vec(),
            Coding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(bytes.len() / 4),
                    flate2::Compression::best(),
                );
                encoder
                    .write_all(bytes)
                    .and_then(|()| encoder.finish())
                    .expect("writing to a Vec cannot fail")
            }
            Coding::Brotli => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 11,
                    lgwin: 22,
                    size_hint: bytes.len(),
                    mode: brotli::enc::backward_references::BrotliEncoderMode::BROTLI_MODE_TEXT,
                    ..Default::default()
                };
                let mut out = Vec::with_capacity(bytes.len() / 5);
                brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)
                    .expect("compressing from a slice into a Vec cannot fail");
                out
            }
        }
    }
}

/// The coding to answer a request with these headers with ([`negotiate`] of its
/// `Accept-Encoding` lines).
pub(super) fn negotiate_for(headers: &axum::http::HeaderMap) -> Option<Coding> {
    negotiate(
        headers
            .get_all(axum::http::header::ACCEPT_ENCODING)
            .iter()
            .map(axum::http::HeaderValue::as_bytes),
    )
}

/// The coding to answer with, from the request's `Accept-Encoding` header lines (none: the
/// header was not sent). The acceptable coding with the highest q-value wins; at equal q, the
/// smallest form. Without the header, or with an empty one, the bytes go as they are.
/// `identity` is acceptable unless `identity;q=0`, or `*;q=0` with no `identity` entry, rules
/// it out. `None` when the request accepts none of the three (`406`).
pub(super) fn negotiate<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Option<Coding> {
    let mut seen = false;
    // q-values in thousandths (RFC 9110's qvalue has three decimals), by Coding::index.
    let mut explicit: [Option<u16>; 3] = [None; 3];
    let mut star: Option<u16> = None;
    for line in lines {
        seen = true;
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        for element in line.split(',') {
            let mut parts = element.split(';');
            let name = parts.next().unwrap_or_default().trim();
            if name.is_empty() {
                continue;
            }
            let mut q = Some(1000);
            for param in parts {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("q") {
                    q = qvalue(value.trim());
                }
            }
            // An element with a malformed q-value says nothing reliable: it is left out.
            let Some(q) = q else { continue };
            let slot = if name == "*" {
                &mut star
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                &mut explicit[Coding::Gzip.index()]
            } else if name.eq_ignore_ascii_case("br") {
                &mut explicit[Coding::Brotli.index()]
            } else if name.eq_ignore_ascii_case("identity") {
                &mut explicit[Coding::Identity.index()]
            } else {
                continue;
            };
            // Listed twice: the more favourable entry counts.
            *slot = Some(slot.map_or(q, |before| before.max(q)));
        }
    }
    if !seen {
        return Some(Coding::Identity);
    }
    let weight = |coding: Coding| -> u16 {
        match (explicit[coding.index()], coding) {
            (Some(q), _) => q,
            (None, Coding::Identity) => match star {
                Some(0) => 0,
                // Acceptable by default, but any coding the request names comes first.
                _ => 1,
            },
            (None, _) => star.unwrap_or(0),
        }
    };
    // Higher q wins; PREFERRED's order breaks ties (max_by_key keeps the last maximum).
    Coding::PREFERRED
        .iter()
        .rev()
        .map(|&c| (c, weight(c)))
        .filter(|&(_, q)| q > 0)
        .max_by_key(|&(_, q)| q)
        .map(|(c, _)| c)
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn pick(header: Option<&str>) -> Option<Coding> {
        negotiate(header.map(str::as_bytes))
    }

    #[test]
    fn accept_encoding_is_negotiated_by_q_value() {
        use Coding::{Brotli, Gzip, Identity};
        let cases: &[(Option<&str>, Option<Coding>)] = &[
            (None, Some(Identity)),
            (Some(""), Some(Identity)),
            (Some("gzip"), Some(Gzip)),
            (Some("x-gzip"), Some(Gzip)),
            (Some("GZIP"), Some(Gzip)),
            (Some("gzip, deflate"), Some(Gzip)),
            (Some("gzip, deflate, br"), Some(Brotli)),
            (Some("gzip, deflate, br, zstd"), Some(Brotli)),
            (Some("br;q=0.5, gzip"), Some(Gzip)),
            (Some("br;q=1.0, gzip;q=0.9"), Some(Brotli)),
            (Some("gzip;q=0"), Some(Identity)),
            (Some("gzip;q=0.001"), Some(Gzip)),
            (Some("deflate"), Some(Identity)),
            (Some("*"), Some(Brotli)),
            (Some("*;q=0.5, br;q=0"), Some(Gzip)),
            (Some("identity;q=0"), None),
            (Some("identity;q=0, gzip"), Some(Gzip)),
            (Some("*;q=0"), None),
            (Some("*;q=0, identity"), Some(Identity)),
            (Some("*;q=0, gzip;q=0.2"), Some(Gzip)),
            (Some("identity, gzip;q=0.5"), Some(Identity)),
            (Some("gzip ; q=0.5 , br ; Q=0.7"), Some(Brotli)),
            // A malformed q-value leaves its element out.
            (Some("br;q=2, gzip;q=0.5"), Some(Gzip)),
            (Some("br;q=abc"), Some(Identity)),
            (Some("br;q=0.1234"), Some(Identity)),
            (Some(",,gzip,,"), Some(Gzip)),
        ];
        for (header, expected) in cases {
            assert_eq!(pick(*header), *expected, "{header:?}");
        }
        // Several header lines are one list.
        assert_eq!(
            negotiate([b"identity;q=0".as_slice(), b"gzip".as_slice()]),
            Some(Gzip)
        );
        // Bytes that are not text are skipped, not a panic.
        assert_eq!(negotiate([b"\xff\xfe".as_slice()]), Some(Identity));
    }

    #[test]
    fn every_coding_round_trips() {
        let text = "<feed>".repeat(2000) + "é, ü and 数学";
        let gzip = Coding::Gzip.encode(text.as_bytes());
        let mut back = String::new();
        flate2::read::GzDecoder::new(gzip.as_slice())
            .read_to_string(&mut back)
            .expect("gzip decodes");
        assert_eq!(back, text);
        assert!(gzip.len() < text.len() / 10, "{} bytes", gzip.len());

        let br = Coding::Brotli.encode(text.as_bytes());
        let mut back = String::new();
        brotli::Decompressor::new(br.as_slice(), 4096)
            .read_to_string(&mut back)
            .expect("brotli decodes");
        assert_eq!(back, text);
        assert!(br.len() < text.len() / 10, "{} bytes", br.len());

        assert_eq!(Coding::Identity.encode(text.as_bytes()), text.as_bytes());
        assert!(!Coding::Gzip.encode(b"").is_empty());
    }
}
