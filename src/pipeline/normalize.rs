//! Normalization helpers every source adapter uses: author lists, arXiv listing descriptions,
//! titles. Pure functions only; the adapters in `sources/` map their formats onto these.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, Utc};
use regex::Regex;

use super::identity::{parse_arxiv_id, ArxivRef};
use super::text::{collapse_whitespace, html_to_text};
use crate::model::{Author, Paper};

/// The prefix arXiv's 2024 listing feeds put before the abstract:
/// `arXiv:2604.21952v1 Announce Type: new \nAbstract: …`.
static ARXIV_LISTING_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)^\s*arXiv:(\S+)\s+Announce Type:\s*([A-Za-z-]+)\s*Abstract:\s*")
        .expect("static regex")
});

/// What an arXiv listing description carries besides the abstract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArxivListing {
    pub arxiv: ArxivRef,
    /// `new`, `cross`, `replace` or `replace-cross`.
    pub announce_type: String,
}

/// How far in the future a date may lie before it is taken for a mistake (time zones put
/// arXiv's listing dates a few hours ahead).
const FUTURE_SLACK_DAYS: i64 = 2;

/// The last step of every adapter's output, whatever the source: dates outside years
/// 1000-9999 or more than two days ahead of `now` are dropped (they cannot be rendered, or would
/// pin a paper to the top of every feed), and links that are not http(s) URLs are dropped, the
/// rest written in their canonical, percent-encoded form, with a declared type only when it
/// looks like a media type.
pub(crate) fn clean(mut paper: Paper, now: DateTime<Utc>) -> Paper {
    let plausible = |d: Option<DateTime<Utc>>| {
        d.filter(|d| {
            (1000..=9999).contains(&d.year()) && *d <= now + Duration::days(FUTURE_SLACK_DAYS)
        })
    };
    paper.published = plausible(paper.published);
    paper.updated = plausible(paper.updated);
    // Text stays text: a title, an author or a category that a source wrote as HTML (or that
    // carries markup, escaped or not) is reduced to its text, as an abstract is, so no output
    // carries a sequence a reader could take for a tag.
    paper.title = html_to_text(&paper.title);
    for author in &mut paper.authors {
        author.name = html_to_text(&author.name);
        if let Some(affiliation) = author.affiliation.as_mut() {
            *affiliation = html_to_text(affiliation);
        }
    }
    paper.authors.retain(|a| !a.name.is_empty());
    for category in &mut paper.categories {
        *category = html_to_text(category);
    }
    paper.categories.retain(|c| !c.is_empty());
    paper
        .links
        .retain_mut(|link| match url::Url::parse(&link.href) {
            Ok(url) if url.scheme() == "http" || url.scheme() == "https" => {
                link.href = url.into();
                link.media_type = link.media_type.take().filter(|m| plausible_media_type(m));
                true
            }
            _ => false,
        });
    paper
}

/// Whether a link's declared type is a media type as RFC 6838 §4.2 writes one (`type/subtype`
/// of restricted names, then `; name=value` parameters, values a token or a quoted string):
/// feed parsers pass attribute values through as they are, control characters, quotes and
/// all (the adapters fuzzer found one; a hostile feed can try `application/pdf" onmouseover=`).
fn plausible_media_type(text: &str) -> bool {
    /// `restricted-name` (RFC 6838 §4.2).
    fn restricted_name(name: &str) -> bool {
        let mut bytes = name.bytes();
        name.len() <= 127
            && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    }
    /// A parameter value: a `token` or a `quoted-string` without escapes (RFC 9110 §5.6).
    fn value(text: &str) -> bool {
        let token = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let quoted = text.len() >= 2
            && text.starts_with('"')
            && text.ends_with('"')
            && text[1..text.len() - 1]
                .bytes()
                .all(|b| (b.is_ascii_graphic() || b == b' ') && b != b'"' && b != b'\\');
        token || quoted
    }
    if text.len() > 200 {
        return false;
    }
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    restricted_name(kind)
        && restricted_name(subtype)
        && parts.all(|parameter| {
            parameter
                .trim()
                .split_once('=')
                .is_some_and(|(name, v)| restricted_name(name.trim()) && value(v.trim()))
        })
}

/// Splits an arXiv listing description into its id, announce type and the bare abstract.
/// Text without the prefix comes back unchanged with `None`.
pub(crate) fn split_arxiv_listing(description: &str) -> (Option<ArxivListing>, &str) {
    let Some(caps) = ARXIV_LISTING_PREFIX.captures(description) else {
        return (None, description);
    };
    let whole = caps.get(0).map_or(0, |m| m.end());
    let listing = parse_arxiv_id(&caps[1]).map(|arxiv| ArxivListing {
        arxiv,
        announce_type: caps[2].to_ascii_lowercase(),
    });
    match listing {
        Some(listing) => (Some(listing), &description[whole..]),
        None => (None, description),
    }
}

/// Splits an author string into names. Handles arXiv's comma-joined lists (`A, B, C`), a final
/// `and`, affiliations in parentheses that themselves contain commas, and bioRxiv's
/// `Last, F., Last, F. M.` form, where each surname is followed by its initials.
pub(crate) fn split_authors(text: &str) -> Vec<String> {
    let text = collapse_whitespace(text);
    let pieces: Vec<String> = split_top_level(&text)
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    // bioRxiv: every second piece is a run of initials.
    if pieces.len() >= 2
        && pieces.len().is_multiple_of(2)
        && pieces.iter().skip(1).step_by(2).all(|p| is_initials(p))
    {
        return pieces
            .chunks(2)
            .map(|pair| format!("{}, {}", pair[0], pair[1]))
            .collect();
    }
    pieces
}

/// `Ann Lee (MIT, Cambridge)` → name `Ann Lee`, affiliation `MIT, Cambridge`.
pub(crate) fn with_affiliation(name: &str) -> Author {
    if let (Some(open), true) = (name.find('('), name.ends_with(')')) {
        let person = name[..open].trim();
        let affiliation = name[open + 1..name.len() - 1].trim();
        if !person.is_empty() && !affiliation.is_empty() {
            return Author {
                name: person.to_string(),
                affiliation: Some(affiliation.to_string()),
            };
        }
    }
    Author::named(name)
}

/// Splits on commas, semicolons and the word `and` outside parentheses and brackets, so
/// `A (X and Y), B and C` gives `A (X and Y)`, `B`, `C`.
fn split_top_level(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if depth == 0 && (c == ' ' || current.is_empty()) {
            let word = rest.trim_start();
            if let Some(after) = word.strip_prefix("and ") {
                out.push(std::mem::take(&mut current));
                rest = after;
                continue;
            }
        }
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if (c == ',' || c == ';') && depth == 0 {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push(current);
    out
}

/// `J.`, `A. B.`, `P.-L.`, `M. C.`: initials only.
fn is_initials(piece: &str) -> bool {
    piece.ends_with('.')
        && piece
            .split([' ', '-'])
            .filter(|s| !s.is_empty())
            .all(|part| {
                let letters: Vec<char> = part.trim_end_matches('.').chars().collect();
                !letters.is_empty()
                    && letters.len() <= 2
                    && letters[0].is_uppercase()
                    && part.ends_with('.')
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_strings_split_into_names() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Anamta Khan, Ratna Kandala,  Deepti, Sheza Munir",
                &["Anamta Khan", "Ratna Kandala", "Deepti", "Sheza Munir"],
            ),
            (
                " Kaur, M., Shukla, A., Bhati, K. K., Pandey, A. K. ",
                &["Kaur, M.", "Shukla, A.", "Bhati, K. K.", "Pandey, A. K."],
            ),
            (
                "LAPALU, N., Plaumann, P.-L., O'Connell, R. J.",
                &["LAPALU, N.", "Plaumann, P.-L.", "O'Connell, R. J."],
            ),
            (
                "Ann Lee (MIT, Cambridge), Bo Chen (ETH, Zurich)",
                &["Ann Lee (MIT, Cambridge)", "Bo Chen (ETH, Zurich)"],
            ),
            (
                "Ann Lee, Bo Chen, and Cy Dee",
                &["Ann Lee", "Bo Chen", "Cy Dee"],
            ),
            ("Ann Lee and Bo Chen", &["Ann Lee", "Bo Chen"]),
            (
                "R. Brandenberger (McGill), K. Dasgupta (McGill) and\n  A. Davis (DAMTP, Cambridge)",
                &["R. Brandenberger (McGill)", "K. Dasgupta (McGill)", "A. Davis (DAMTP, Cambridge)"],
            ),
            (
                "Ann Lee (Physics and Astronomy, X), Sandy Anderson",
                &["Ann Lee (Physics and Astronomy, X)", "Sandy Anderson"],
            ),
            ("Solo Author", &["Solo Author"]),
            ("", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(split_authors(text), *expected, "for {text:?}");
        }
    }

    #[test]
    fn titles_authors_and_categories_stay_text() {
        let now = chrono::Utc::now();
        let paper = Paper {
            title: "Generalization bounds <script>alert(1)</script> for <i>XSS</i> &amp; n < m"
                .into(),
            authors: vec![
                Author::named("<b>Eve</b> Example"),
                Author::named("<img src=x onerror=alert(1)>"),
            ],
            categories: vec!["<i>cs.LG</i>".into(), "<br>".into()],
            ..Default::default()
        };
        let cleaned = clean(paper, now);
        assert_eq!(cleaned.title, "Generalization bounds for XSS & n < m");
        let names: Vec<&str> = cleaned.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["Eve Example"],
            "an author that was only markup is gone"
        );
        assert_eq!(cleaned.categories, vec!["cs.LG"]);
    }

    #[test]
    fn media_types_are_what_rfc_6838_allows() {
        for good in [
            "application/pdf",
            "text/html; charset=utf-8",
            "application/atom+xml",
            "application/vnd.ms-excel",
            "text/plain; format=\"flowed\"",
        ] {
            assert!(plausible_media_type(good), "{good}");
        }
        for bad in [
            "application/pdf\" onmouseover=\"alert(1)",
            "text/html; charset=\"a\"b\"",
            "text",
            "/pdf",
            "text/ html",
            "text/html; =x",
            "text/html;charset",
            "\u{1b}text/html",
            "te<xt/html",
        ] {
            assert!(!plausible_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn clean_drops_what_cannot_be_rendered() {
        use crate::model::{Link, LinkKind};
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        let link = |href: &str| Link {
            kind: LinkKind::Related,
            href: href.into(),
            media_type: Some("text/html; charset=utf-8".into()),
        };
        let paper = Paper {
            published: Some(Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap()),
            updated: Some(Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap()),
            links: vec![
                link("https://p.example/\u{1}x y<z>"),
                link("javascript:alert(1)"),
                link("not a url"),
                link("https://ok.example/a"),
                Link {
                    media_type: Some("\u{1b}\u{1b}text/html".into()),
                    ..link("https://odd-type.example/")
                },
            ],
            ..Default::default()
        };
        let cleaned = clean(paper, now);
        assert_eq!(cleaned.published, None);
        assert_eq!(cleaned.updated, None);
        let hrefs: Vec<&str> = cleaned.links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(
            hrefs,
            vec![
                "https://p.example/%01x%20y%3Cz%3E",
                "https://ok.example/a",
                "https://odd-type.example/"
            ]
        );
        let types: Vec<Option<&str>> = cleaned
            .links
            .iter()
            .map(|l| l.media_type.as_deref())
            .collect();
        assert_eq!(
            types,
            vec![
                Some("text/html; charset=utf-8"),
                Some("text/html; charset=utf-8"),
                None
            ]
        );
        let soon = Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap();
        let kept = clean(
            Paper {
                updated: Some(soon),
                ..Default::default()
            },
            now,
        );
        assert_eq!(kept.updated, Some(soon), "a few hours ahead is fine");
    }

    #[test]
    fn arxiv_listing_prefix_is_removed() {
        let (listing, rest) = split_arxiv_listing(
            "arXiv:2604.21952v1 Announce Type: new \nAbstract: This work presents",
        );
        let listing = listing.expect("listing");
        assert_eq!(listing.arxiv.id, "2604.21952");
        assert_eq!(listing.arxiv.version, Some(1));
        assert_eq!(listing.announce_type, "new");
        assert_eq!(rest, "This work presents");

        let (listing, rest) =
            split_arxiv_listing("arXiv:2401.00001v2 Announce Type: replace-cross Abstract: X");
        assert_eq!(
            listing.map(|l| l.announce_type).as_deref(),
            Some("replace-cross")
        );
        assert_eq!(rest, "X");

        assert_eq!(
            split_arxiv_listing("Plain abstract."),
            (None, "Plain abstract.")
        );
    }
}
